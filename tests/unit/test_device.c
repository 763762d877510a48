/* The device core (msgflo/device.h): its discovery text byte for byte against
 * jansson's dump of the message libmsgflo built before it used this core,
 * buffers too small, and subscribe/announce/re-announce/dispatch/send
 * through a recording fake client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/definition.h"
#include "msgflo/device.h"

/* --- the reference: the message as libmsgflo built it with jansson ----------- */

static json_t *ref_ports(const char *role, const msgflo_device_port *ports)
{
    json_t *arr = json_array();
    for (; ports && ports->id; ports++) {
        if (ports->hidden && !ports->queue)
            continue;
        char *def = definition__default_queue(role, ports->id);
        json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "id", ports->id, "type",
                              ports->type ? ports->type : "any", "queue",
                              ports->queue ? ports->queue : def, "hidden", ports->hidden);
        free(def);
        assert_non_null(p);
        if (ports->description)
            json_object_set_new(p, "description", json_string(ports->description));
        json_array_append_new(arr, p);
    }
    return arr;
}

static char *reference(const msgflo_device_definition *d)
{
    json_t *msg = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:o, s:o}}", "protocol", "discovery", "command",
        "participant", "payload", "id", d->id ? d->id : d->role, "role", d->role, "component",
        d->component, "label", d->label ? d->label : "", "icon", d->icon ? d->icon : "file-word-o",
        "inports", ref_ports(d->role, d->inports), "outports", ref_ports(d->role, d->outports));
    assert_non_null(msg);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return text;
}

static void expect_same(const msgflo_device_definition *d)
{
    char *want = reference(d);
    size_t need = 0;
    assert_int_equal(msgflo_device_discovery(d, NULL, 0, &need), MSGFLO_ENOSPC);
    assert_int_equal(need, strlen(want));
    char *got = malloc(need + 1);
    size_t len = 0;
    assert_int_equal(msgflo_device_discovery(d, got, need + 1, &len), 0);
    assert_int_equal(len, need);
    if (strcmp(got, want) != 0)
        fail_msg("device core:\n%s\njansson:\n%s", got, want);
    free(got);
    free(want);
}

static void noop_receive(msgflo_device *dev, const msgflo_device_port *port, const void *data,
                         size_t len)
{
}

static void test_discovery_as_jansson(void **state)
{
    static const msgflo_device_port repeat_in[] = {{.id = "in", .type = "any"}, {0}};
    static const msgflo_device_port repeat_out[] = {{.id = "out"}, {0}};
    static const msgflo_device_definition repeat = {
        .role = "rep",
        .id = "rep-1",
        .component = "c/Repeat",
        .label = "Repeats in data without changes",
        .icon = "file-word-o",
        .inports = repeat_in,
        .outports = repeat_out,
    };
    expect_same(&repeat);

    static const msgflo_device_port lamp_in[] = {
        {.id = "in", .type = "object", .description = "input", .receive = noop_receive},
        {.id = "secret", .hidden = true},
        {.id = "tap", .hidden = true, .queue = "custom/tap"},
        {.id = "mIxEd_case-9", .description = ""},
        {0},
    };
    static const msgflo_device_definition lamp = {.role = "lamp",
                                                  .component = "iot/Lamp",
                                                  .inports =
                                                      lamp_in}; /* id, label, icon: defaults */
    expect_same(&lamp);

    /* every escape jansson makes, and what it leaves alone: '/', DEL, UTF-8 */
    static const msgflo_device_port esc_out[] = {
        {.id = "o\"ut", .type = "a\\b/c", .description = "\b\f\n\r\t\x01\x1f\x7f end"},
        {.id = "\xc3\xa9t\xc3\xa9", .queue = "t/\xe2\x82\xac/\xf0\x9f\x98\x80"},
        {0},
    };
    static const msgflo_device_definition esc = {
        .role = "r\"o",
        .id = "id\\1",
        .component = "c/\xe2\x82\xac",
        .label = "tab\there \"quoted\" \xef\xbf\xbf",
        .icon = "</script>",
        .outports = esc_out,
    };
    expect_same(&esc);

    static const msgflo_device_definition none = {.role = "r", .component = "x/Y"};
    expect_same(&none);
}

static void test_buffer_too_small(void **state)
{
    static const msgflo_device_port in[] = {{.id = "in"}, {0}};
    static const msgflo_device_definition d = {.role = "r", .component = "x/Y", .inports = in};
    char full[512];
    size_t need;
    assert_int_equal(msgflo_device_discovery(&d, full, sizeof full, &need), 0);
    for (size_t cap = 0; cap <= need; cap++) {
        char buf[512];
        size_t len = 0;
        memset(buf, '#', sizeof buf);
        assert_int_equal(msgflo_device_discovery(&d, cap ? buf : NULL, cap, &len), MSGFLO_ENOSPC);
        assert_int_equal(len, need);
        for (size_t i = cap; i < sizeof buf; i++)
            assert_int_equal(buf[i], '#'); /* nothing written past the buffer */
    }
    char q[12];
    size_t qlen;
    assert_int_equal(msgflo_device_default_queue("role", "port", q, 9, &qlen), MSGFLO_ENOSPC);
    assert_int_equal(qlen, 9);
    assert_int_equal(msgflo_device_default_queue("role", "pOrt1", q, 12, &qlen), 0);
    assert_string_equal(q, "role.PORT1");
}

static void test_invalid(void **state)
{
    char buf[256];
    static const msgflo_device_port empty_id[] = {{.id = ""}, {0}};
    msgflo_device_definition d = {.role = "r", .component = "x/Y"};
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), 0);
    d.role = NULL;
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    d.role = "";
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    d.role = "r";
    d.component = NULL;
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    d.component = "x/Y";
    d.id = "";
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    d.id = NULL;
    d.inports = empty_id;
    assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    d.inports = NULL;
    /* not UTF-8: a lone continuation byte, overlong '/', a surrogate, past U+10FFFF, cut short */
    static const char *const bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d.label = bad[i];
        assert_int_equal(msgflo_device_discovery(&d, buf, sizeof buf, NULL), MSGFLO_EINVAL);
    }
}

/* --- the device with a recording fake client ------------------------------- */

struct fake {
    char log[4096]; /* "sub T;" and "pub T <data>;" */
    int fail;
};

static void logf_(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct fake *f, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(f->log);
    va_start(ap, fmt);
    vsnprintf(f->log + n, sizeof f->log - n, fmt, ap);
    va_end(ap);
}

static int fake_publish(void *ctx, const char *topic, const void *data, size_t len)
{
    struct fake *f = ctx;
    if (strcmp(topic, "fbp") == 0)
        logf_(f, "pub fbp;");
    else
        logf_(f, "pub %s %.*s;", topic, (int)len, (const char *)data);
    return f->fail;
}

static int fake_subscribe(void *ctx, const char *topic)
{
    struct fake *f = ctx;
    logf_(f, "sub %s;", topic);
    return f->fail;
}

static char received[256];

static void on_in(msgflo_device *dev, const msgflo_device_port *port, const void *data, size_t len)
{
    size_t n = strlen(port->id);
    memcpy(received, port->id, n);
    received[n] = ':';
    memcpy(received + n + 1, data, len);
    received[n + 1 + len] = '\0';
    /* a handler may send: the repeat */
    assert_int_equal(msgflo_device_send(dev, "out", data, len), 0);
}

static const msgflo_device_port dev_in[] = {
    {.id = "in", .receive = on_in},
    {.id = "ctl", .queue = "custom/ctl", .receive = on_in},
    {.id = "secret", .hidden = true, .receive = on_in},
    {.id = "drop"},
    {0},
};
static const msgflo_device_port dev_out[] = {
    {.id = "out"},
    {.id = "log", .queue = "custom/log"},
    {.id = "void", .hidden = true},
    {0},
};
static const msgflo_device_definition dev_def = {
    .role = "dev", .id = "dev-7", .component = "t/Dev", .inports = dev_in, .outports = dev_out};

static void test_device_lifecycle(void **state)
{
    struct fake f = {{0}, 0};
    const msgflo_device_client client = {fake_publish, fake_subscribe, &f};
    msgflo_device dev;
    char small[64], buf[600];
    assert_int_equal(msgflo_device_init(&dev, &dev_def, &client, small, sizeof small),
                     MSGFLO_ENOSPC);
    const msgflo_device_client half = {fake_publish, NULL, &f};
    assert_int_equal(msgflo_device_init(&dev, &dev_def, &half, buf, sizeof buf), MSGFLO_EINVAL);
    assert_int_equal(msgflo_device_init(&dev, &dev_def, &client, buf, sizeof buf), 0);
    msgflo_device_set_userdata(&dev, &f);
    assert_ptr_equal(msgflo_device_userdata(&dev), &f);

    /* nothing goes out before the connection is up */
    assert_int_equal(msgflo_device_send(&dev, "out", "x", 1), MSGFLO_ENOTCONN);
    assert_int_equal(msgflo_device_tick(&dev, 100000), 0);
    assert_int_equal(msgflo_device_announce(&dev), MSGFLO_ENOTCONN);
    assert_string_equal(f.log, "");

    /* subscriptions first, then the announcement */
    uint32_t t0 = UINT32_MAX - 10000; /* the clock wraps during the test */
    assert_int_equal(msgflo_device_connected(&dev, t0), 0);
    assert_string_equal(f.log, "sub dev.IN;sub custom/ctl;sub dev.DROP;pub fbp;");
    f.log[0] = '\0';

    /* every 60 s / 2.2 = 27272 ms */
    assert_int_equal(msgflo_device_tick(&dev, t0 + 27271), 0);
    assert_string_equal(f.log, "");
    assert_int_equal(msgflo_device_tick(&dev, t0 + 27272), 0);
    assert_string_equal(f.log, "pub fbp;");
    assert_int_equal(msgflo_device_tick(&dev, t0 + 27272 + 27271), 0);
    assert_string_equal(f.log, "pub fbp;");
    msgflo_device_set_discovery_period(&dev, 2200);
    assert_int_equal(msgflo_device_tick(&dev, t0 + 27272 + 1000), 0);
    assert_string_equal(f.log, "pub fbp;pub fbp;");
    f.log[0] = '\0';

    /* dispatch by topic; the topic need not end with a NUL */
    const char topic[] = "dev.INxyz";
    assert_int_equal(msgflo_device_message(&dev, topic, 6, "a\0b", 3), 0);
    assert_int_equal(memcmp(received, "in:a\0b", 7), 0);
    assert_int_equal(msgflo_device_message(&dev, "custom/ctl", 10, "c", 1), 0);
    assert_string_equal(received, "ctl:c");
    assert_int_equal(msgflo_device_message(&dev, "dev.DROP", 8, "d", 1), 0); /* no handler */
    received[0] = '\0';
    static const char *const others[] = {"dev.in", "dev.I", "dev.INN", "dev.SECRET", "dev",
                                         "",       "devIN", "xev.IN",  "custom/ctl2"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(msgflo_device_message(&dev, others[i], strlen(others[i]), "x", 1),
                         MSGFLO_ENOPORT);
    assert_string_equal(received, "");
    assert_string_equal(f.log, "pub dev.OUT a;pub dev.OUT c;");
    f.log[0] = '\0';

    /* send */
    assert_int_equal(msgflo_device_send(&dev, "log", "l", 1), 0);
    assert_int_equal(msgflo_device_send(&dev, "void", "v", 1), 0); /* dropped */
    assert_int_equal(msgflo_device_send(&dev, "nope", "n", 1), MSGFLO_ENOPORT);
    assert_int_equal(msgflo_device_send(&dev, "in", "n", 1), MSGFLO_ENOPORT);
    assert_string_equal(f.log, "pub custom/log l;");
    f.log[0] = '\0';

    /* a failing client */
    f.fail = -1;
    assert_int_equal(msgflo_device_send(&dev, "out", "x", 1), MSGFLO_EPROTO);
    assert_int_equal(msgflo_device_connected(&dev, 5), MSGFLO_EPROTO);
    f.fail = 0;

    /* after a disconnect: silent until connected again */
    msgflo_device_disconnected(&dev);
    f.log[0] = '\0';
    assert_int_equal(msgflo_device_tick(&dev, 1000000), 0);
    assert_int_equal(msgflo_device_send(&dev, "out", "x", 1), MSGFLO_ENOTCONN);
    assert_string_equal(f.log, "");
    assert_int_equal(msgflo_device_connected(&dev, 7), 0);
    assert_string_equal(f.log, "sub dev.IN;sub custom/ctl;sub dev.DROP;pub fbp;");
}

/* The announcement the device publishes is the discovery text. */
static int check_publish(void *ctx, const char *topic, const void *data, size_t len)
{
    char want[600];
    size_t wlen;
    assert_int_equal(msgflo_device_discovery(&dev_def, want, sizeof want, &wlen), 0);
    assert_string_equal(topic, "fbp");
    assert_int_equal(len, wlen);
    assert_memory_equal(data, want, len);
    ++*(int *)ctx;
    return 0;
}

static int ok_subscribe(void *ctx, const char *topic)
{
    return 0;
}

static void test_announcement_text(void **state)
{
    int published = 0;
    const msgflo_device_client client = {check_publish, ok_subscribe, &published};
    msgflo_device dev;
    char buf[600];
    assert_int_equal(msgflo_device_init(&dev, &dev_def, &client, buf, sizeof buf), 0);
    assert_int_equal(msgflo_device_connected(&dev, 0), 0);
    assert_int_equal(published, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_as_jansson),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_device_lifecycle),
        cmocka_unit_test(test_announcement_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
