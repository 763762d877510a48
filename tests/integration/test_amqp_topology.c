/* Pipelined topology on a real RabbitMQ (transport_topology, and the binder's
 * batches on it): many declares and binds in one batch, a failing step that
 * names what failed and leaves the others done, unbinds in a batch, and the
 * binder making many bindings at once on new and on existing queues. Every
 * binding is checked by publishing through it with an independent client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "binding/binder.h"
#include "tools/common/session.h"
#include "msgflo/errors.h"
#include "msgflo/log.h"
#include "support.h"

enum { N = 120 };

struct ctx {
    uv_loop_t loop;
    struct session *s;
    struct transport *t;
    bool connected, lost;
    struct amqp_client ac;
    char src[N][96], tgt[N][96];
};

static char errors[8192]; /* error log lines of the library */

static void on_log(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    (void)ns;
    (void)ud;
    if (level < MSGFLO_LOG_ERROR)
        return;
    size_t used = strlen(errors);
    snprintf(errors + used, sizeof errors - used, "%s\n", message);
}

static void on_connected(struct session *s, void *ud)
{
    ((struct ctx *)ud)->connected = true;
}

static void on_message(struct session *s, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len, void *ud)
{
    transport_ack(session__transport(s), d);
}

static void run_ms(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void open_ctx(struct ctx *c, const char *prefix)
{
    const char *url = support_broker("MSGFLO_TEST_AMQP");
    char err[256], role[64];
    static const struct session_events ev = {.connected = on_connected, .message = on_message};
    memset(c, 0, sizeof *c);
    uv_loop_init(&c->loop);
    assert_int_equal(
        session__new(&c->loop, url, "test-topology", 0, &ev, c, &c->s, err, sizeof err), 0);
    assert_int_equal(session__start(c->s, 10000), 0);
    for (int i = 0; i < 200 && !c->connected; i++)
        run_ms(&c->loop, 50);
    assert_true(c->connected);
    c->t = session__transport(c->s);
    assert_int_equal(amqp_client_open(&c->ac, url), 0);
    support_role(prefix, role, sizeof role);
    for (int i = 0; i < N; i++) {
        snprintf(c->src[i], sizeof c->src[i], "%s-a%d.OUT", role, i);
        snprintf(c->tgt[i], sizeof c->tgt[i], "%s-b%d.IN", role, i);
    }
    errors[0] = '\0';
    msgflo_log_set_handler(on_log, NULL);
}

static void close_ctx(struct ctx *c)
{
    msgflo_log_set_handler(NULL, NULL);
    amqp_client_close(&c->ac);
    session__finish(c->s, 0);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    session__free(c->s);
    uv_loop_close(&c->loop);
}

/* Publishes one message to each exchange src[i] and checks that queue
 * tgt[i] receives it when want[i] (routing is asynchronous: polled until
 * every wanted one is in, then the others are checked); want[i] < 0: skip. */
static void through(struct ctx *c, char (*src)[96], char (*tgt)[96], const int *want, int n)
{
    int before[N + 1];
    assert_true(n <= N + 1);
    for (int i = 0; i < n; i++)
        before[i] = want[i] < 0 ? 0 : amqp_client_count(&c->ac, tgt[i]);
    for (int i = 0; i < n; i++) {
        if (want[i] < 0)
            continue;
        assert_int_equal(amqp_basic_publish(c->ac.conn, 1, amqp_cstring_bytes(src[i]),
                                            amqp_empty_bytes, false, false, NULL,
                                            amqp_cstring_bytes("x")),
                         AMQP_STATUS_OK);
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 500 && want[i] > 0 && amqp_client_count(&c->ac, tgt[i]) == before[i];
             k++)
            usleep(10000);
    }
    usleep(100000); /* time for a message that should not arrive */
    for (int i = 0; i < n; i++) {
        if (want[i] >= 0)
            assert_int_equal(amqp_client_count(&c->ac, tgt[i]) - before[i], want[i]);
    }
}

static void want_all(int *want, int n, int value)
{
    for (int i = 0; i < n; i++)
        want[i] = value;
}

/* Declares and binds every pair in one batch: declarations first in the
 * array, the bindings after them. */
static int bind_pairs(struct ctx *c, struct transport_step *steps, int skip)
{
    int k = 0;
    for (int i = 0; i < N; i++) {
        if (i == skip)
            continue;
        steps[k++] = (struct transport_step){.kind = TRANSPORT_DECLARE_OUTQUEUE, .name = c->src[i]};
        steps[k++] = (struct transport_step){.kind = TRANSPORT_DECLARE_INQUEUE, .name = c->tgt[i]};
    }
    for (int i = 0; i < N; i++) {
        steps[k++] = (struct transport_step){
            .kind = TRANSPORT_BIND_QUEUE, .name = c->tgt[i], .source = c->src[i]};
    }
    return k;
}

static void test_batch_binds_many(void **state)
{
    struct ctx c;
    struct transport_step steps[3 * N];
    open_ctx(&c, "tb");
    int n = bind_pairs(&c, steps, -1);
    assert_int_equal(transport_topology(c.t, steps, (size_t)n), 0);
    for (int k = 0; k < n; k++)
        assert_int_equal(steps[k].rc, 0);
    int want[N];
    want_all(want, N, 1);
    through(&c, c.src, c.tgt, want, N);
    /* declared as msgflo-nodejs does: the queue's own fanout exchange feeds it */
    through(&c, c.tgt, c.tgt, want, N);
    /* again on what exists: nothing changes, nothing fails */
    assert_int_equal(transport_topology(c.t, steps, (size_t)n), 0);
    through(&c, c.src, c.tgt, want, N);
    assert_string_equal(errors, "");
    close_ctx(&c);
}

/* Pair 5's exchange is never declared: its binding fails with
 * MSGFLO_ENOPORT, logged naming the exchange; every other step is done, and
 * the data connection is untouched. */
static void test_batch_one_fails(void **state)
{
    struct ctx c;
    struct transport_step steps[3 * N];
    open_ctx(&c, "tf");
    int n = bind_pairs(&c, steps, 5);
    assert_int_equal(transport_declare_inqueue(c.t, c.tgt[5]), 0);
    assert_int_equal(transport_topology(c.t, steps, (size_t)n), MSGFLO_ENOPORT);
    int failed = 0;
    for (int k = 0; k < n; k++) {
        if (steps[k].rc == 0)
            continue;
        failed++;
        assert_int_equal(steps[k].rc, MSGFLO_ENOPORT);
        assert_int_equal(steps[k].kind, TRANSPORT_BIND_QUEUE);
        assert_string_equal(steps[k].source, c.src[5]);
    }
    assert_int_equal(failed, 1);
    char line[256];
    snprintf(line, sizeof line, "bind queue %s to exchange %s failed: 404", c.tgt[5], c.src[5]);
    assert_non_null(strstr(errors, line));
    int want[N];
    want_all(want, N, 1);
    want[5] = -1; /* (publishing to a missing exchange would close the client's channel) */
    through(&c, c.src, c.tgt, want, N);
    /* a step the caller expects may miss is not an error in the log */
    errors[0] = '\0';
    struct transport_step probe = {
        .kind = TRANSPORT_BIND_QUEUE, .name = c.tgt[5], .source = c.src[5], .may_be_missing = true};
    assert_int_equal(transport_topology(c.t, &probe, 1), MSGFLO_ENOPORT);
    assert_string_equal(errors, "");
    /* the data connection was never closed */
    run_ms(&c.loop, 100);
    assert_true(c.t->connected);
    assert_int_equal(transport_publish(c.t, c.tgt[5], "direct", 6), 0);
    run_ms(&c.loop, 200);
    assert_int_equal(amqp_client_count(&c.ac, c.tgt[5]), 1);
    close_ctx(&c);
}

static void test_batch_unbinds(void **state)
{
    struct ctx c;
    struct transport_step steps[3 * N];
    open_ctx(&c, "tu");
    int n = bind_pairs(&c, steps, -1);
    assert_int_equal(transport_topology(c.t, steps, (size_t)n), 0);
    int k = 0;
    for (int i = 0; i < N; i += 2) {
        steps[k++] = (struct transport_step){
            .kind = TRANSPORT_UNBIND_QUEUE, .name = c.tgt[i], .source = c.src[i]};
    }
    /* in one batch, a binding made and then removed stays removed */
    steps[k++] =
        (struct transport_step){.kind = TRANSPORT_BIND_QUEUE, .name = c.tgt[1], .source = c.src[0]};
    steps[k++] = (struct transport_step){
        .kind = TRANSPORT_UNBIND_QUEUE, .name = c.tgt[1], .source = c.src[0]};
    assert_int_equal(transport_topology(c.t, steps, (size_t)k), 0);
    int want[N];
    for (int i = 0; i < N; i++)
        want[i] = i % 2;
    through(&c, c.src, c.tgt, want, N);
    /* src[0] feeds no queue now: tgt[1] got only its own src's message */
    want_all(want, N, -1);
    want[0] = 0;
    through(&c, c.src, &c.tgt[1], want, 1);
    close_ctx(&c);
}

/* The binder: N bindings at once on a fresh broker (all declared), again on
 * existing queues, and one refused among them (a reserved queue name)
 * logged by name while the others are made. */
static void test_binder_add_all(void **state)
{
    struct ctx c;
    struct binder *b;
    struct binding items[N + 1];
    char bad[128];
    open_ctx(&c, "ta");
    assert_int_equal(binder__new(c.t, &b), 0);
    for (int i = 0; i < N; i++)
        items[i] = (struct binding){.type = BINDING_PUBSUB, .src = c.src[i], .tgt = c.tgt[i]};
    assert_int_equal(binder__add_all(b, items, N), 0);
    int want[N];
    want_all(want, N, 1);
    through(&c, c.src, c.tgt, want, N);
    binder__free(b);

    /* existing queues (another process): the binds alone do it */
    assert_int_equal(binder__new(c.t, &b), 0);
    for (int i = 0; i < N; i++)
        items[i].src = c.src[(i + 1) % N]; /* new bindings between existing ends */
    snprintf(bad, sizeof bad, "amq.%s", c.tgt[0]);
    items[N] = items[N / 2];
    items[N / 2] = (struct binding){.type = BINDING_PUBSUB, .src = c.src[0], .tgt = bad};
    assert_int_equal(binder__add_all(b, items, N + 1), MSGFLO_EPROTO);
    /* src[i + 1] now feeds tgt[i] as well as tgt[i + 1]: two each (the
     * binding displaced by the refused one is items[N]) */
    want_all(want, N, 2);
    static char shifted[N][96];
    for (int i = 0; i < N; i++)
        memcpy(shifted[i], c.src[(i + 1) % N], sizeof shifted[i]);
    through(&c, shifted, c.tgt, want, N);
    char line[256];
    snprintf(line, sizeof line, "declare queue %s failed: 403", bad);
    assert_non_null(strstr(errors, line));
    /* the refused one is made again by a later add (and refused again) */
    errors[0] = '\0';
    assert_int_equal(binder__add_all(b, &items[N / 2], 1), MSGFLO_EPROTO);
    assert_non_null(strstr(errors, line));
    binder__free(b);
    close_ctx(&c);
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_AMQP")) {
        fprintf(stderr, "MSGFLO_TEST_AMQP not set: no broker, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_batch_binds_many),
        SUPPORT_TEST(test_batch_one_fails),
        SUPPORT_TEST(test_batch_unbinds),
        SUPPORT_TEST(test_binder_add_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
