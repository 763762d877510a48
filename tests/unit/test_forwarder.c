/* The forwarder over a fake transport that records what it is asked: one
 * watch per source topic, unwatched with its last binding, watched again
 * after a reconnect and after the table changed behind its back; messages
 * republished byte for byte with their QoS to the direct targets only;
 * retained ones and unbound topics left alone; loops refused. Deliveries of
 * a forwarding MQTT 5 connection go along the whole chain, each target
 * once, retained ones with their flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgflo/errors.h"
#include "msgflo/url.h"
#include "router/forwarder.h"

#include <stdio.h>
#include <string.h>

struct fake {
    struct transport base;
    char log[4096]; /* "watch a;", "unwatch a;", "pub b 1 5;" */
    char last[64];  /* the payload of the last publish */
    bool refuse;    /* watch fails (MSGFLO_ENOTCONN) */
};

static void note(struct fake *f, const char *text)
{
    size_t at = strlen(f->log);
    snprintf(f->log + at, sizeof f->log - at, "%s", text);
}

static int fake_watch(struct transport *t, const char *queue)
{
    struct fake *f = (struct fake *)t;
    if (f->refuse)
        return MSGFLO_ENOTCONN;
    char text[128];
    snprintf(text, sizeof text, "watch %s;", queue);
    note(f, text);
    return 0;
}

static int fake_unwatch(struct transport *t, const char *queue)
{
    char text[128];
    snprintf(text, sizeof text, "unwatch %s;", queue);
    note((struct fake *)t, text);
    return 0;
}

static int fake_publish_as(struct transport *t, const char *topic, const void *data, size_t len,
                           int qos, bool retain)
{
    struct fake *f = (struct fake *)t;
    assert_false(retain);
    char text[128];
    snprintf(text, sizeof text, "pub %s %d %zu;", topic, qos, len);
    note(f, text);
    assert_true(len <= sizeof f->last);
    memcpy(f->last, data, len);
    return 0;
}

static int fake_forward(struct transport *t, const char *topic, const struct transport_delivery *d,
                        const void *data, size_t len)
{
    struct fake *f = (struct fake *)t;
    assert_true(d->forwarding); /* plain deliveries go through publish_as */
    char text[128];
    snprintf(text, sizeof text, "fwd %s %d%s %zu;", topic, d->qos, d->retained ? " r" : "", len);
    note(f, text);
    (void)data;
    return 0;
}

static const struct transport_ops fake_ops = {.watch = fake_watch,
                                              .unwatch = fake_unwatch,
                                              .publish_as = fake_publish_as,
                                              .forward = fake_forward};

struct fixture {
    struct fake t;
    struct router *table;
    struct forwarder *f;
    char err[256];
};

static int setup(void **state)
{
    static struct fixture x;
    memset(&x, 0, sizeof x);
    x.t.base.ops = &fake_ops;
    x.t.base.connected = true;
    assert_int_equal(msgflo_url_parse("mqtt://127.0.0.1:1883", &x.t.base.url, NULL, 0), 0);
    assert_int_equal(router__new(NULL, "test", &x.table), 0);
    assert_int_equal(forwarder__new(&x.t.base, x.table, &x.f), 0);
    *state = &x;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *x = *state;
    forwarder__free(x->f);
    router__free(x->table);
    msgflo_url_free(x->t.base.url);
    return 0;
}

static void test_one_watch_per_source(void **state)
{
    struct fixture *x = *state;
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_int_equal(forwarder__add(x->f, "a", "c", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_string_equal(x->t.log, "watch a;");
    forwarder__remove(x->f, "a", "b");
    assert_string_equal(x->t.log, "watch a;"); /* a -> c still reads it */
    forwarder__remove(x->f, "a", "c");
    assert_string_equal(x->t.log, "watch a;unwatch a;");
    assert_int_equal(router__count(x->table), 0);
}

static void test_forwards_direct_targets_with_qos(void **state)
{
    struct fixture *x = *state;
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_int_equal(forwarder__add(x->f, "b", "c", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    x->t.log[0] = '\0';
    struct transport_delivery d = {.qos = 1};
    assert_true(forwarder__on_message(x->f, "a", &d, "x\0yz", 4));
    /* b -> c is the broker's business: the forwarder gets b back */
    assert_string_equal(x->t.log, "pub b 1 4;");
    assert_memory_equal(x->t.last, "x\0yz", 4);
    d.qos = 0;
    assert_true(forwarder__on_message(x->f, "b", &d, "x", 1));
    assert_string_equal(x->t.log, "pub b 1 4;pub c 0 1;");
    assert_false(forwarder__on_message(x->f, "c", &d, "x", 1)); /* not bound */
    d.retained = true; /* handed out on subscribing: older than the binding */
    assert_true(forwarder__on_message(x->f, "a", &d, "old", 3));
    assert_string_equal(x->t.log, "pub b 1 4;pub c 0 1;");
}

/* a -> b, a -> c, b -> d, c -> d: its own republications do not come
 * back, so the forwarder carries the chain, d once; a live retained
 * message keeps its flag. */
static void test_forwarding_delivery_whole_chain(void **state)
{
    struct fixture *x = *state;
    static const char *const pairs[][2] = {{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            forwarder__add(x->f, pairs[i][0], pairs[i][1], ROUTER_PUBSUB, x->err, sizeof x->err),
            0);
    x->t.log[0] = '\0';
    struct transport_delivery d = {.qos = 2, .forwarding = true};
    assert_true(forwarder__on_message(x->f, "a", &d, "xy", 2));
    assert_string_equal(x->t.log, "fwd b 2 2;fwd c 2 2;fwd d 2 2;");
    x->t.log[0] = '\0';
    d.retained = true;
    d.qos = 1;
    assert_true(forwarder__on_message(x->f, "b", &d, "z", 1));
    assert_string_equal(x->t.log, "fwd d 1 r 1;");
    assert_false(forwarder__on_message(x->f, "d", &d, "z", 1)); /* not bound */
}

static void test_loop_refused_table_unchanged(void **state)
{
    struct fixture *x = *state;
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_int_equal(forwarder__add(x->f, "b", "a", ROUTER_PUBSUB, x->err, sizeof x->err),
                     MSGFLO_EINVAL);
    assert_non_null(strstr(x->err, "would loop"));
    assert_string_equal(x->t.log, "watch a;");
    assert_int_equal(router__count(x->table), 1);
}

static void test_failed_watch_leaves_nothing(void **state)
{
    struct fixture *x = *state;
    x->t.refuse = true;
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err),
                     MSGFLO_ENOTCONN);
    assert_int_equal(router__count(x->table), 0);
    assert_false(forwarder__on_message(x->f, "a", NULL, "x", 1));
}

static void test_restore_and_sync(void **state)
{
    struct fixture *x = *state;
    assert_int_equal(forwarder__add(x->f, "a", "b", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    /* a reconnect: the old watches are gone */
    assert_int_equal(forwarder__restore(x->f), 0);
    assert_string_equal(x->t.log, "watch a;watch a;");
    /* the table changed behind its back (a /msgrouter request) */
    assert_int_equal(router__add(x->table, "p", "q", ROUTER_PUBSUB, x->err, sizeof x->err), 0);
    assert_int_equal(router__remove(x->table, "a", "b"), 0);
    assert_int_equal(forwarder__sync(x->f), 0);
    assert_string_equal(x->t.log, "watch a;watch a;unwatch a;watch p;");
    assert_false(forwarder__on_message(x->f, "a", NULL, "x", 1));
    assert_true(forwarder__on_message(x->f, "p", NULL, "x", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_watch_per_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwards_direct_targets_with_qos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarding_delivery_whole_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_refused_table_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_watch_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_and_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
