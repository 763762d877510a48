/* The binder on real brokers: a pubsub binding delivers, a removed one
 * delivers nothing (the original transport suite's "binding removed" case),
 * and on MQTT forwarding is byte-exact; a router's late ok stops this
 * process's forwarding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "binding/binder.h"
#include "tools/common/session.h"
#include "support.h"

struct ctx {
    struct binder *binder;
    bool connected;
    char got[256];
    int received;
    char tgt[128]; /* another target topic counted as received */
    int removals;  /* removebinding requests seen */
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
    if (c->binder && binder__on_message(c->binder, queue, d, data, len))
        return;
    if (strcmp(queue, "/msgrouter/default/removebinding") == 0)
        c->removals++;
    if (strcmp(queue, "bt.TGT") == 0 || (c->tgt[0] && strcmp(queue, c->tgt) == 0)) {
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

/* A session to url on a loop of its own, connected, with c->binder on its
 * transport. */
static struct session *open_binder(uv_loop_t *loop, const char *url, struct ctx *c)
{
    uv_loop_init(loop);
    struct session *s;
    char err[256];
    static const struct session_events ev = {.connected = on_connected, .message = on_message};
    assert_int_equal(session__new(loop, url, "test-binder", 0, &ev, c, &s, err, sizeof err), 0);
    assert_int_equal(session__start(s, 10000), 0);
    for (int i = 0; i < 100 && !c->connected; i++)
        run_for(loop, 50);
    assert_true(c->connected);
    assert_int_equal(binder__new(session__transport(s), &c->binder), 0);
    return s;
}

static void close_binder(uv_loop_t *loop, struct session *s, struct ctx *c)
{
    session__finish(s, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    binder__free(c->binder);
    session__free(s);
    uv_loop_close(loop);
}

static void check_binding(const char *url)
{
    uv_loop_t loop;
    struct ctx c = {0};
    struct session *s = open_binder(&loop, url, &c);
    struct transport *t = session__transport(s);
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

    close_binder(&loop, s, &c);
}

static void test_mqtt(void **state)
{
    check_binding(support_broker("MSGFLO_TEST_MQTT"));
}

/* A router's ok that comes after binder__give_up (a slow router): the
 * forwarding begun by the give-up stops again, or every message would
 * arrive twice (the router's copy and this process's). No router runs on
 * the test broker: the test plays the late answer itself. Removing the
 * binding afterwards asks the router to drop it. */
static void test_mqtt_late_router_ok(void **state)
{
    char err[256], role[64], src[128], tgt[128];
    support_role("blate", role, sizeof role);
    snprintf(src, sizeof src, "%s.SRC", role);
    snprintf(tgt, sizeof tgt, "%s.TGT", role);
    uv_loop_t loop;
    struct ctx c = {0};
    struct session *s = open_binder(&loop, support_broker("MSGFLO_TEST_MQTT"), &c);
    struct transport *t = session__transport(s);
    assert_int_equal(binder__set_id(c.binder, "late"), 0);
    snprintf(c.tgt, sizeof c.tgt, "%s", tgt);
    assert_int_equal(transport_subscribe(t, tgt), 0);
    assert_int_equal(transport_subscribe(t, "/msgrouter/default/removebinding"), 0);
    assert_int_equal(binder__set_router(c.binder, BINDER_ROUTER_PRESENT), 0);
    struct binding b = {.type = BINDING_PUBSUB, .src = src, .tgt = tgt};
    assert_int_equal(binder__add(c.binder, &b), 0);
    assert_int_equal(binder__last_request(c.binder), 1);
    assert_true(binder__settling(c.binder));
    /* nobody answers: given up, forwarded by this process */
    assert_int_equal(binder__give_up(c.binder, 1), 1);
    assert_true(binder__needs_process(c.binder));
    run_for(&loop, 300);
    assert_int_equal(transport_publish(t, src, "one", 3), 0);
    for (int i = 0; i < 100 && c.received == 0; i++)
        run_for(&loop, 20);
    assert_int_equal(c.received, 1);
    /* the late ok: the router has it now, this process stops */
    const char *ok = "{\"id\":\"late-1\",\"command\":\"addbinding\",\"ok\":true,\"added\":1,"
                     "\"existing\":0,\"count\":1}";
    assert_int_equal(binder__on_result(c.binder, ok, strlen(ok), err, sizeof err), 0);
    assert_false(binder__needs_process(c.binder));
    run_for(&loop, 300);
    assert_int_equal(transport_publish(t, src, "two", 3), 0);
    run_for(&loop, 500);
    assert_int_equal(c.received, 1); /* no router here: nobody forwarded it */
    /* removed: the router is asked to drop it */
    assert_int_equal(binder__remove(c.binder, &b), 0);
    for (int i = 0; i < 100 && c.removals == 0; i++)
        run_for(&loop, 20);
    assert_int_equal(c.removals, 1);
    close_binder(&loop, s, &c);
}

static void test_amqp(void **state)
{
    check_binding(support_broker("MSGFLO_TEST_AMQP"));
}

/* binder__add_each on RabbitMQ: each binding's own result; a refused one
 * (its target queue exists without the dead-letter argument) does not stop
 * the others, a repeated one shares its first's result. */
static void test_amqp_each_results(void **state)
{
    const char *url = support_broker("MSGFLO_TEST_AMQP");
    char a[64], b[64], plain[128], src_a[128], src_b[128], ok[128];
    support_role("bea", a, sizeof a);
    support_role("beb", b, sizeof b);
    snprintf(plain, sizeof plain, "%s.PLAIN", a);
    snprintf(src_a, sizeof src_a, "%s.OUT", a);
    snprintf(src_b, sizeof src_b, "%s.OUT", b);
    snprintf(ok, sizeof ok, "%s.IN", b);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, plain), 0);
    uv_loop_t loop;
    struct ctx c = {0};
    struct session *s = open_binder(&loop, url, &c);
    const struct binding items[] = {
        {.type = BINDING_PUBSUB, .src = src_a, .tgt = plain},
        {.type = BINDING_PUBSUB, .src = src_b, .tgt = ok},
        {.type = BINDING_PUBSUB, .src = src_b, .tgt = ok},
    };
    int rcs[3] = {1, 1, 1};
    assert_int_not_equal(binder__add_each(c.binder, items, 3, true, rcs), 0);
    assert_int_not_equal(rcs[0], 0);
    assert_int_equal(rcs[1], 0);
    assert_int_equal(rcs[2], 0);
    /* again: the one made is not made twice, the refused one is tried again */
    int again[2] = {1, 1};
    assert_int_not_equal(binder__add_each(c.binder, items, 2, false, again), 0);
    assert_int_not_equal(again[0], 0);
    assert_int_equal(again[1], 0);
    assert_int_equal(amqp_client_count(&ac, ok), 0);
    assert_int_equal(amqp_basic_publish(ac.conn, 1, amqp_cstring_bytes(src_b), amqp_empty_bytes,
                                        false, false, NULL, amqp_cstring_bytes("through")),
                     AMQP_STATUS_OK);
    int got = 0;
    for (int k = 0; k < 500 && (got = amqp_client_count(&ac, ok)) == 0; k++)
        usleep(10000);
    assert_int_equal(got, 1);
    close_binder(&loop, s, &c);
    amqp_client_close(&ac);
}

/* binder__call_async waits, without blocking the loop, for the broker's
 * replies to what the data connection sent before: its thread starts only
 * once the loop has read them (and after an earlier waiter of the same
 * transport), not while the loop is held. */
struct replies {
    atomic_int replied; /* the test's own waiter, on the loop thread */
    atomic_int started; /* work began, on the binder's thread */
    atomic_int seen;    /* `replied` as work saw it */
    bool done;
    int rcs[1];
    struct binding b;
};

static void on_replies_in(void *arg)
{
    struct replies *r = arg;
    atomic_store(&r->replied, 1);
}

static void replies_work(struct binder *b, void *arg)
{
    struct replies *r = arg;
    atomic_store(&r->seen, atomic_load(&r->replied));
    atomic_store(&r->started, 1);
    binder__add_each(b, &r->b, 1, true, r->rcs);
}

static void replies_done(struct binder *b, void *arg)
{
    (void)b;
    struct replies *r = arg;
    r->done = true;
}

static void test_amqp_after_replies(void **state)
{
    const char *url = support_broker("MSGFLO_TEST_AMQP");
    char role[64], in[128], out[128];
    support_role("bar", role, sizeof role);
    snprintf(in, sizeof in, "%s.IN", role);
    snprintf(out, sizeof out, "%s.OUT", role);
    uv_loop_t loop;
    struct ctx c = {0};
    struct session *s = open_binder(&loop, url, &c);
    struct transport *t = session__transport(s);

    struct replies r = {.rcs = {1}, .b = {.type = BINDING_PUBSUB, .src = out, .tgt = in}};
    /* sent, not answered yet: the loop has not run since */
    assert_int_equal(transport_declare_inqueue(t, in), 0);
    assert_int_equal(transport_when_subscribed(t, on_replies_in, &r), 0);
    assert_int_equal(binder__call_async(c.binder, &loop, replies_work, replies_done, NULL, &r), 0);
    assert_true(binder__busy(c.binder));
    usleep(300000); /* the loop held: no reply read, no thread */
    assert_int_equal(atomic_load(&r.started), 0);
    assert_int_equal(atomic_load(&r.replied), 0);
    for (int i = 0; i < 500 && !r.done; i++)
        run_for(&loop, 20);
    assert_true(r.done);
    assert_int_equal(atomic_load(&r.seen), 1); /* both waiters, oldest first */
    assert_int_equal(r.rcs[0], 0);

    close_binder(&loop, s, &c);
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_MQTT") || !support_broker("MSGFLO_TEST_AMQP")) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_mqtt),
        SUPPORT_TEST(test_mqtt_late_router_ok),
        SUPPORT_TEST(test_amqp),
        SUPPORT_TEST(test_amqp_each_results),
        SUPPORT_TEST(test_amqp_after_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
