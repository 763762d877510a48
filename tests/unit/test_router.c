/* The /msgrouter core: the binding table, chains, loops, the control
 * messages and their replies, the bindings file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/router.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct router *new_router(void)
{
    struct router *r;
    assert_int_equal(router__new(NULL, "test", &r), 0);
    return r;
}

static int add(struct router *r, const char *src, const char *tgt)
{
    char err[256];
    return router__add(r, src, tgt, ROUTER_PUBSUB, err, sizeof err);
}

/* The targets of a message on topic, joined by spaces. */
static const char *route(struct router *r, const char *topic)
{
    static char buf[512];
    const char *const *t;
    size_t n = router__route(r, topic, 3, &t);
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < sizeof buf; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? " " : "", t[i]);
    return buf;
}

static void test_add_route_remove(void **state)
{
    (void)state;
    struct router *r = new_router();
    assert_int_equal(add(r, "a.OUT", "b.IN"), 0);
    assert_int_equal(add(r, "a.OUT", "b.IN"), 1); /* idempotent */
    assert_int_equal(add(r, "a.OUT", "c.IN"), 0);
    assert_int_equal(router__count(r), 2);
    assert_string_equal(route(r, "a.OUT"), "b.IN c.IN");
    assert_string_equal(route(r, "b.IN"), "");
    assert_int_equal(router__remove(r, "a.OUT", "b.IN"), 0);
    assert_int_equal(router__remove(r, "a.OUT", "b.IN"), 1);
    assert_string_equal(route(r, "a.OUT"), "c.IN");
    assert_int_equal(router__remove(r, "a.OUT", "c.IN"), 0);
    assert_int_equal(router__count(r), 0);
    assert_string_equal(route(r, "a.OUT"), "");
    router__free(r);
}

static void test_chains_each_target_once(void **state)
{
    (void)state;
    struct router *r = new_router();
    /* a -> x, a -> y, x -> z, y -> z: z once */
    assert_int_equal(add(r, "a", "x"), 0);
    assert_int_equal(add(r, "a", "y"), 0);
    assert_int_equal(add(r, "x", "z"), 0);
    assert_int_equal(add(r, "y", "z"), 0);
    const char *got = route(r, "a");
    assert_non_null(strstr(got, "x"));
    assert_non_null(strstr(got, "y"));
    assert_non_null(strstr(got, "z"));
    assert_null(strstr(strstr(got, "z") + 1, "z"));
    router__free(r);
}

static void test_loops_refused(void **state)
{
    (void)state;
    struct router *r = new_router();
    char err[256];
    assert_int_equal(router__add(r, "a", "a", ROUTER_PUBSUB, err, sizeof err), -1);
    assert_non_null(strstr(err, "one topic"));
    assert_int_equal(add(r, "a", "b"), 0);
    assert_int_equal(add(r, "b", "c"), 0);
    assert_int_equal(router__add(r, "c", "a", ROUTER_PUBSUB, err, sizeof err), -1);
    assert_string_equal(err,
                        "binding c -> a would loop: a is already bound (through a chain) to c");
    assert_int_equal(router__count(r), 2);
    router__free(r);
}

static void test_bad_topics_refused(void **state)
{
    (void)state;
    struct router *r = new_router();
    char err[256];
    const char *bad[] = {"", "a/+", "a/#", "$SYS/x", "/msgrouter/default/addbinding"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(router__add(r, bad[i], "t", ROUTER_PUBSUB, err, sizeof err), -1);
        assert_int_equal(router__add(r, "s", bad[i], ROUTER_PUBSUB, err, sizeof err), -1);
    }
    assert_true(router__is_control(r, "/msgrouter/other/x"));
    assert_string_equal(route(r, "/msgrouter/default/addbinding"), "");
    router__free(r);
}

static void test_counters(void **state)
{
    (void)state;
    struct router *r = new_router();
    assert_int_equal(add(r, "a", "b"), 0);
    const char *const *t;
    router__route(r, "a", 10, &t);
    router__route(r, "a", 5, &t);
    struct router_replies rep;
    router__control(r, "/msgrouter/default/listbindings", "", 0, &rep);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.items[0].topic, "/msgrouter/default/bindings");
    assert_string_equal(rep.items[0].payload,
                        "{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\",\"type\":"
                        "\"pubsub\",\"messages\":2,\"bytes\":15}]}");
    router__replies_cleanup(&rep);
    router__free(r);
}

/* The single reply to a control message on command. */
static char *control(struct router *r, const char *command, const char *payload)
{
    char topic[128];
    struct router_replies rep;
    snprintf(topic, sizeof topic, "/msgrouter/default/%s", command);
    router__control(r, topic, payload, strlen(payload), &rep);
    if (rep.n == 0)
        return NULL;
    assert_int_equal(rep.n, 1);
    char *text = strdup(rep.items[0].payload);
    router__replies_cleanup(&rep);
    return text;
}

static void expect(struct router *r, const char *command, const char *payload, const char *reply)
{
    char *got = control(r, command, payload);
    if (!reply) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, reply);
    free(got);
}

static void test_control_messages(void **state)
{
    (void)state;
    struct router *r = new_router();
    expect(
        r, "addbinding", "{\"src\":\"a\",\"tgt\":\"b\",\"id\":7}",
        "{\"id\":7,\"command\":\"addbinding\",\"ok\":true,\"added\":1,\"existing\":0,\"count\":1}");
    expect(r, "addbinding", "{\"src\":\"a\",\"tgt\":\"b\"}",
           "{\"command\":\"addbinding\",\"ok\":true,\"added\":0,\"existing\":1,\"count\":1}");
    /* all or nothing: the loop in the batch takes back c -> d */
    expect(
        r, "addbinding",
        "{\"bindings\":[{\"src\":\"c\",\"tgt\":\"d\"},{\"src\":\"b\",\"tgt\":\"a\"}],\"id\":\"x\"}",
        "{\"id\":\"x\",\"command\":\"addbinding\",\"ok\":false,\"error\":\"binding b -> a would "
        "loop: a is already bound (through a chain) to b\"}");
    assert_int_equal(router__count(r), 1);
    expect(r, "addbinding", "[1]",
           "{\"command\":\"addbinding\",\"ok\":false,\"error\":\"the message must be a JSON "
           "object\"}");
    expect(r, "addbinding", "{\"src\":\"a\"}",
           "{\"command\":\"addbinding\",\"ok\":false,\"error\":\"a binding needs \\\"src\\\" and "
           "\\\"tgt\\\" strings\"}");
    expect(r, "addbinding", "{\"src\":\"a\",\"tgt\":\"c\",\"type\":\"fanout\"}",
           "{\"command\":\"addbinding\",\"ok\":false,\"error\":\"unknown binding type 'fanout' "
           "(pubsub or roundrobin)\"}");
    expect(r, "addbinding", "{\"bindings\":[{\"src\":\"a\",\"tgt\":\"c\"},7]}",
           "{\"command\":\"addbinding\",\"ok\":false,\"error\":\"bindings[1]: a binding needs "
           "\\\"src\\\" and \\\"tgt\\\" strings\"}");
    char *text = control(r, "removebinding", "not json");
    assert_non_null(
        strstr(text, "\"ok\":false,\"error\":\"removebinding: the message is not JSON"));
    free(text);
    assert_int_equal(router__count(r), 1);
    expect(r, "removebinding",
           "{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\"},{\"src\":\"a\",\"tgt\":"
           "\"zz\"}]}",
           "{\"command\":\"removebinding\",\"ok\":true,\"removed\":1,\"missing\":1,\"count\":0}");
    /* our own replies, another instance's commands, unknown words: no answer */
    expect(r, "result", "{}", NULL);
    expect(r, "status", "{}", NULL);
    struct router_replies rep;
    router__control(r, "/msgrouter/other/addbinding", "{\"src\":\"a\",\"tgt\":\"b\"}", 22, &rep);
    assert_int_equal(rep.n, 0);
    assert_int_equal(router__count(r), 0);
    router__free(r);
}

/* A wide fan-out behind a chain: each target once, in the walk's order, and
 * fast (sorted, not a scan per target: 20,000 targets would take seconds of
 * comparisons the old way). */
static void test_chain_fan_out_once(void **state)
{
    (void)state;
    struct router *r = new_router();
    enum { N = 20000 };
    assert_int_equal(add(r, "a", "x"), 0);
    assert_int_equal(add(r, "a", "t5"), 0); /* also reached through x */
    char t[32];
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "t%d", i);
        assert_int_equal(add(r, "x", t), 0);
    }
    const char *const *out;
    size_t n = router__route(r, "a", 1, &out);
    assert_int_equal(n, 2 + N - 1);
    assert_string_equal(out[0], "x");
    assert_string_equal(out[1], "t5");
    assert_string_equal(out[2], "t0");
    assert_string_equal(out[n - 1], "t19999");
    for (size_t i = 2; i < n; i++)
        assert_string_not_equal(out[i], "t5");
    router__free(r);
}

/* A refused addbinding also puts back the types it changed. */
static void test_refused_add_keeps_types(void **state)
{
    (void)state;
    struct router *r = new_router();
    expect(r, "addbinding", "{\"src\":\"a\",\"tgt\":\"b\"}",
           "{\"command\":\"addbinding\",\"ok\":true,\"added\":1,\"existing\":0,\"count\":1}");
    char *text = control(r, "addbinding",
                         "{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\",\"type\":\"roundrobin\"},"
                         "{\"src\":\"c\",\"tgt\":\"c\"}]}");
    assert_non_null(strstr(text, "\"ok\":false"));
    free(text);
    enum router_type type;
    assert_int_equal(router__type_of(r, "a", "b", &type), 0);
    assert_int_equal(type, ROUTER_PUBSUB);
    assert_int_equal(router__count(r), 1);
    assert_int_equal(router__type_of(r, "a", "zz", &type), -1);
    router__free(r);
}

/* Error texts cut long topics at a character boundary, so that the reply
 * still carries them (a JSON string must be valid UTF-8). */
static void test_error_cut_keeps_utf8(void **state)
{
    (void)state;
    struct router *r = new_router();
    char src[256] = "a";
    size_t at = 1;
    for (int i = 0; i < 60; i++, at += 2)
        memcpy(src + at, "\xc3\xa9", 2); /* é */
    memcpy(src + at, "#", 2);
    char msg[512];
    snprintf(msg, sizeof msg, "{\"src\":\"%s\",\"tgt\":\"b\"}", src);
    char *text = control(r, "addbinding", msg);
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    const char *error = json_string_value(json_object_get(o, "error"));
    assert_non_null(error);
    assert_non_null(strstr(error, "holds a wildcard"));
    json_decref(o);
    free(text);
    router__free(r);
}

static void test_status(void **state)
{
    (void)state;
    struct router *r;
    assert_int_equal(router__new("line2", "mosquitto_msgflo", &r), 0);
    char *topic, *payload;
    assert_int_equal(router__status(r, &topic, &payload), 0);
    assert_string_equal(topic, "/msgrouter/line2/status");
    json_t *o = json_loads(payload, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "router")), "mosquitto_msgflo");
    assert_string_equal(json_string_value(json_object_get(o, "protocol")), "1.0");
    assert_string_equal(json_string_value(json_object_get(o, "instance")), "line2");
    json_decref(o);
    free(topic);
    free(payload);
    router__free(r);
    assert_int_equal(router__new("a/b", NULL, &r), -1);
    assert_int_equal(router__new("#", NULL, &r), -1);
    char name[ROUTER_MAX_INSTANCE + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(router__new(name, NULL, &r), -1);
    name[ROUTER_MAX_INSTANCE] = '\0';
    assert_int_equal(router__new(name, NULL, &r), 0);
    router__free(r);
}

static void test_save_load(void **state)
{
    (void)state;
    char path[] = "/tmp/test_router_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[512];
    struct router *r = new_router();
    assert_int_equal(add(r, "a", "b"), 0);
    assert_int_equal(router__add(r, "a", "c", ROUTER_ROUNDROBIN, err, sizeof err), 0);
    assert_true(router__dirty(r));
    assert_int_equal(router__save(r, path, err, sizeof err), 0);
    assert_false(router__dirty(r));
    router__free(r);

    r = new_router();
    assert_int_equal(router__load(r, path, err, sizeof err), 0);
    assert_int_equal(router__count(r), 2);
    assert_string_equal(route(r, "a"), "b c");
    router__free(r);

    /* a bad file adds nothing and names what is wrong */
    FILE *f = fopen(path, "w");
    fputs("{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\"},{\"src\":\"b\",\"tgt\":\"a\"}]}", f);
    fclose(f);
    r = new_router();
    assert_int_equal(router__load(r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "bindings[1]: binding b -> a would loop"));
    assert_int_equal(router__count(r), 0);
    f = fopen(path, "w");
    fputs("{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\",\"type\":5}]}", f);
    fclose(f);
    assert_int_equal(router__load(r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "bindings[0]: needs"));
    assert_int_equal(router__count(r), 0);
    unlink(path);
    assert_int_equal(router__load(r, path, err, sizeof err), 0); /* none saved yet */
    router__free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_route_remove),
        cmocka_unit_test(test_chains_each_target_once),
        cmocka_unit_test(test_loops_refused),
        cmocka_unit_test(test_bad_topics_refused),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_control_messages),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_chain_fan_out_once),
        cmocka_unit_test(test_refused_add_keeps_types),
        cmocka_unit_test(test_error_cut_keeps_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
