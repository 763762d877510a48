/* The binder on real brokers: a pubsub binding delivers, a removed one
 * delivers nothing (the original transport suite's "binding removed" case),
 * and on MQTT forwarding is byte-exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "coord/binder.h"
#include "coord/session.h"
#include "support.h"

struct ctx {
    struct binder *binder;
    bool connected;
    char got[256];
    int received;
};

static void on_connected(struct session *s, void *ud)
{
    struct ctx *c = ud;
    c->connected = true;
}

static void on_message(struct session *s, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len, void *ud)
{
    struct ctx *c = ud;
    if (c->binder && binder__on_message(c->binder, queue, data, len))
        return;
    if (strcmp(queue, "bt.TGT") == 0) {
        snprintf(c->got, sizeof c->got, "%.*s", (int)len, (const char *)data);
        c->received++;
    }
    transport_ack(session__transport(s), d);
}

static void run_for(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void check_binding(const char *url)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = {0};
    struct session *s;
    char err[256];
    static const struct session_events ev = {.connected = on_connected, .message = on_message};
    assert_int_equal(session__new(&loop, url, "test-binder", 0, &ev, &c, &s, err, sizeof err), 0);
    assert_int_equal(session__start(s, 10000), 0);
    for (int i = 0; i < 100 && !c.connected; i++)
        run_for(&loop, 50);
    assert_true(c.connected);
    struct transport *t = session__transport(s);
    assert_int_equal(binder__new(t, &c.binder), 0);
    /* the test consumes the target as a participant would */
    assert_int_equal(transport_declare_inqueue(t, "bt.TGT"), 0);
    assert_int_equal(transport_subscribe(t, "bt.TGT"), 0);

    struct binding b = {.type = BINDING_PUBSUB, .src = "bt.SRC", .tgt = "bt.TGT"};
    assert_int_equal(binder__add(c.binder, &b), 0);
    assert_int_equal(binder__add(c.binder, &b), 0); /* twice: ignored */
    assert_int_equal(binder__needs_process(c.binder), !transport_has_bindings(t));
    run_for(&loop, 300); /* subscriptions in place */
    assert_int_equal(transport_publish(t, "bt.SRC", "one \x01", 5), 0);
    for (int i = 0; i < 100 && c.received == 0; i++)
        run_for(&loop, 20);
    assert_int_equal(c.received, 1);
    assert_string_equal(c.got, "one \x01");

    assert_int_equal(binder__remove(c.binder, &b), 0);
    run_for(&loop, 200);
    assert_int_equal(transport_publish(t, "bt.SRC", "two", 3), 0);
    run_for(&loop, 500);
    assert_int_equal(c.received, 1); /* nothing after the removal */

    session__finish(s, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    binder__free(c.binder);
    session__free(s);
    uv_loop_close(&loop);
}

static void test_mqtt(void **state)
{
    check_binding(support_broker("MSGFLO_TEST_MQTT"));
}

static void test_amqp(void **state)
{
    check_binding(support_broker("MSGFLO_TEST_AMQP"));
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_MQTT") || !support_broker("MSGFLO_TEST_AMQP")) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_mqtt),
        SUPPORT_TEST(test_amqp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
