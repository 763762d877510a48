/* The library inside a program, on real brokers: the fd/step interface for
 * foreign loops, the caller's libuv loop, the blocking run, asynchronous acks,
 * double acks, JSON access. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include "msgflo/msgflo.h"
#include "support.h"

static const char *mqtt_url, *amqp_url;

struct state {
    int ready;
    int received;
    int double_ack_rc;
    bool stop_after_one;
    bool defer_ack;
    msgflo_message *deferred;
    char last_json_key[64];
    bool stopped;
};

static const msgflo_port_def ins[] = {{.id = "in"}, {0}};
static const msgflo_port_def outs[] = {{.id = "out"}, {0}};
static const msgflo_definition def = {.component = "test/Echo", .inports = ins, .outports = outs};

static void on_ready(msgflo_participant *p, void *ud)
{
    ((struct state *)ud)->ready++;
}

static void on_stopped(msgflo_participant *p, void *ud)
{
    ((struct state *)ud)->stopped = true;
}

static void echo(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    struct state *s = ud;
    s->received++;
    assert_string_equal(inport, "in");
    assert_string_equal(msgflo_message_port(msg), "in");
    json_t *j = msgflo_message_json(msg);
    if (json_is_object(j)) {
        const char *key = json_object_iter_key(json_object_iter(j));
        snprintf(s->last_json_key, sizeof s->last_json_key, "%s", key ? key : "");
    }
    size_t len;
    const void *data = msgflo_message_data(msg, &len);
    assert_int_equal(msgflo_participant_send(p, "out", data, len), 0);
    if (s->defer_ack) {
        s->deferred = msg;
        return;
    }
    assert_int_equal(msgflo_message_ack(msg), 0);
    s->double_ack_rc = msgflo_message_ack(msg);
    if (s->stop_after_one)
        msgflo_participant_stop(p, on_stopped);
}

static void step_for(msgflo_participant *p, int ms)
{
    struct pollfd pfd = {.fd = msgflo_participant_fd(p), .events = POLLIN};
    int t = msgflo_participant_timeout(p);
    poll(&pfd, 1, t < 0 || t > ms ? ms : t);
    msgflo_participant_step(p);
}

static void test_fd_step_interface(void **unused)
{
    char err[200];
    struct names n;
    support_names(&n, "emb");
    struct state s = {0};
    msgflo_participant *p;
    assert_int_equal(msgflo_participant_new(&p, &def, n.role, mqtt_url, echo, &s, err, sizeof err),
                     0);
    msgflo_participant_set_callbacks(p, on_ready, NULL);
    assert_int_equal(msgflo_participant_fd(p), -1);
    assert_int_equal(msgflo_participant_connect(p), 0);
    assert_true(msgflo_participant_fd(p) >= 0);
    for (int i = 0; i < 200 && !s.ready; i++)
        step_for(p, 50);
    assert_int_equal(s.ready, 1);

    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, n.out), 0);
    assert_int_equal(mqtt_client_publish(&mc, n.in, "{\"k\":1}"), 0);
    char *got = NULL;
    for (int i = 0; i < 100 && !got; i++) {
        step_for(p, 20);
        got = mqtt_client_wait(&mc, n.out, 20);
    }
    assert_non_null(got);
    assert_string_equal(got, "{\"k\":1}");
    free(got);
    assert_int_equal(s.received, 1);
    assert_string_equal(s.last_json_key, "k");
    assert_int_equal(s.double_ack_rc, MSGFLO_ESTATE);

    msgflo_participant_stop(p, on_stopped);
    for (int i = 0; i < 100 && !s.stopped; i++)
        step_for(p, 20);
    assert_true(s.stopped);
    assert_int_equal(msgflo_participant_step(p), MSGFLO_ESTATE);
    msgflo_participant_free(p);
    mqtt_client_close(&mc);
}

static void run_uv_for(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void test_libuv_loop_and_async_ack(void **unused)
{
    struct names n;
    support_names(&n, "embuv");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct state s = {.defer_ack = true};
    msgflo_participant *p;
    assert_int_equal(msgflo_participant_new(&p, &def, n.role, amqp_url, echo, &s, NULL, 0), 0);
    msgflo_participant_set_callbacks(p, on_ready, NULL);
    assert_int_equal(msgflo_participant_start(p, &loop), 0);
    for (int i = 0; i < 100 && !s.ready; i++)
        run_uv_for(&loop, 50);
    assert_int_equal(s.ready, 1);

    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "later"), 0);
    for (int i = 0; i < 100 && !s.deferred; i++)
        run_uv_for(&loop, 20);
    assert_non_null(s.deferred);
    char *got = amqp_client_wait(&ac, 3000);
    assert_non_null(got);
    assert_string_equal(got, "later");
    free(got);
    /* not acked yet: the broker still counts it as unacknowledged, so the
     * queue has nothing ready */
    assert_int_equal(amqp_client_count(&ac, n.in), 0);
    /* acked outside the callback, from the loop */
    assert_int_equal(msgflo_message_ack(s.deferred), 0);
    run_uv_for(&loop, 200);

    msgflo_participant_stop(p, on_stopped);
    for (int i = 0; i < 100 && !s.stopped; i++)
        run_uv_for(&loop, 20);
    assert_true(s.stopped);
    msgflo_participant_free(p);
    assert_int_equal(uv_loop_close(&loop), 0); /* every handle was closed */
    /* acked before the stop: it must not come back */
    assert_int_equal(amqp_client_count(&ac, n.in), 0);
    amqp_client_close(&ac);
}

static void test_blocking_run_until_stop(void **unused)
{
    char role[64], in[128];
    support_role("embrun", role, sizeof role);
    snprintf(in, sizeof in, "%s.IN", role);
    /* queue the message first: the participant stops after processing it */
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_inqueue(&ac, in), 0);
    assert_int_equal(amqp_client_send(&ac, in, "{\"only\":true}"), 0);
    struct state s = {.stop_after_one = true};
    msgflo_participant *p;
    assert_int_equal(msgflo_participant_new(&p, &def, role, amqp_url, echo, &s, NULL, 0), 0);
    assert_int_equal(msgflo_participant_run(p), 0);
    assert_int_equal(s.received, 1);
    assert_string_equal(s.last_json_key, "only");
    assert_true(s.stopped);
    msgflo_participant_free(p);
    assert_int_equal(amqp_client_count(&ac, in), 0);
    amqp_client_close(&ac);
}

int main(void)
{
    mqtt_url = support_broker("MSGFLO_TEST_MQTT");
    amqp_url = support_broker("MSGFLO_TEST_AMQP");
    if (!mqtt_url || !amqp_url) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    msgflo_log_set_handler(NULL, NULL);
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_fd_step_interface),
        SUPPORT_TEST(test_libuv_loop_and_async_ack),
        SUPPORT_TEST(test_blocking_run_until_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
