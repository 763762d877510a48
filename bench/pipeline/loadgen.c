/* Load generator for pipeline benchmarks: keeps N messages in flight into a
 * queue and takes them back from another, then prints throughput and
 * round-trip percentiles as one JSON line.
 *
 *   loadgen --broker URL --in a.IN --out b.OUT [--inflight N] [--count M] [--warmup W]
 *           [--max-seconds S] [--wait-ready S]
 *
 * First it sends probes until one comes back and drains what is left in the
 * pipeline (at most --wait-ready seconds, default 30), so a pipeline still
 * subscribing loses no measured message and an earlier run's leftovers are
 * not counted. *
 * Measures COUNT messages after WARMUP, or what came back within S seconds of
 * measuring when that is fewer (for slow systems); "count" in the output is
 * the number measured. On MQTT the URL's ?qos= applies to the load generator's
 * subscription and publishes too.
 *
 * It talks to the broker directly (libmosquitto / rabbitmq-c, blocking, one
 * thread), not through libmsgflo, so it measures the system under test only.
 * Payloads are JSON arrays [sequence, send time in ns], which both C and Node
 * repeaters pass unchanged. On AMQP the output is read from a private queue
 * bound to the fanout exchange of --out, as a binding would.
 */
#include "msgflo/url.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <getopt.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct run {
    const char *in, *out;
    long inflight, count, warmup;
    double max_seconds, wait_ready;
    int qos;
    bool ready;       /* a probe came back: the pipeline is subscribed end to end */
    bool running;     /* measuring: messages before that are drained, not counted */
    uint64_t last_rx; /* when the last message came back */
    long sent, received;
    uint64_t *latency_ns; /* per measured message */
    long measured;
    uint64_t t_start, t_end;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int payload(char *buf, size_t len, long seq)
{
    return snprintf(buf, len, "[%ld,%" PRIu64 "]", seq, now_ns());
}

/* Records a received payload; returns true when one more should be sent. */
static bool on_received(struct run *r, const char *data, size_t len)
{
    char text[64];
    snprintf(text, sizeof text, "%.*s", (int)(len < 63 ? len : 63), data);
    char *p = strchr(text, ',');
    if (!p)
        return false;
    r->last_rx = now_ns();
    if (!r->running) { /* a probe, or left over from an earlier run */
        if (text[0] == '[' && text[1] == '-')
            r->ready = true;
        return false;
    }
    uint64_t sent_at = strtoull(p + 1, NULL, 10);
    uint64_t now = now_ns();
    r->received++;
    if (r->received == r->warmup)
        r->t_start = now;
    if (r->received > r->warmup && r->measured < r->count)
        r->latency_ns[r->measured++] = now - sent_at;
    if (r->received == r->warmup + r->count)
        r->t_end = now;
    return r->sent < r->warmup + r->count;
}

/* True once measuring has run out of time (then the figures cover what came back). */
static bool timed_out(struct run *r)
{
    if (r->received < r->warmup || r->received >= r->warmup + r->count)
        return false;
    uint64_t now = now_ns();
    if ((double)(now - r->t_start) / 1e9 < r->max_seconds)
        return false;
    r->t_end = now;
    return true;
}

/* Before measuring: probes ([-1,0]) are sent, backing off from 100 ms to 1 s,
 * until one comes back; then whatever is still in the pipeline (late probes,
 * messages left by an earlier run) is drained until it has been quiet for
 * 500 ms. Returns true while the caller should send a probe (p->send) or
 * receive; sets r->running when done, or reports why not. */
struct probing {
    uint64_t next, gap;
    bool send;
};

static bool probe_step(struct run *r, struct probing *p, uint64_t until)
{
    uint64_t now = now_ns();
    p->send = false;
    if (r->ready && now - r->last_rx > 500000000u) {
        r->running = true;
        return false;
    }
    if (now > until) {
        fprintf(stderr, "loadgen: %s within %.0f s\n",
                r->ready ? "the pipeline did not go quiet" : "no answer from the pipeline",
                r->wait_ready);
        return false;
    }
    if (!r->ready && now >= p->next) {
        p->gap = p->gap ? (p->gap * 2 < 1000000000u ? p->gap * 2 : 1000000000u) : 100000000u;
        p->next = now + p->gap;
        p->send = true;
    }
    return true;
}

/* --- MQTT ------------------------------------------------------------------- */

static void mqtt_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    struct run *r = ud;
    if (strcmp(msg->topic, r->out) != 0)
        return;
    if (on_received(r, msg->payload, (size_t)msg->payloadlen)) {
        char buf[64];
        int n = payload(buf, sizeof buf, r->sent++);
        mosquitto_publish(m, NULL, r->in, n, buf, r->qos, false);
    }
}

static int run_mqtt(struct run *r, const msgflo_url *u)
{
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, r);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_message_callback_set(m, mqtt_message);
    if (mosquitto_connect(m, msgflo_url_host(u), msgflo_url_port(u), 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d\n", msgflo_url_host(u),
                msgflo_url_port(u));
        return 1;
    }
    mosquitto_subscribe(m, NULL, r->out, r->qos);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
    for (int i = 0; i < 20; i++)
        mosquitto_loop(m, 10, 1);
    uint64_t until = now_ns() + (uint64_t)(r->wait_ready * 1e9);
    for (struct probing p = {0}; probe_step(r, &p, until);)
        if (p.send)
            mosquitto_publish(m, NULL, r->in, 6, "[-1,0]", r->qos, false);
        else
            mosquitto_loop(m, 10, 1);
    if (!r->running)
        return 1;
    if (r->warmup == 0)
        r->t_start = now_ns();
    for (long i = 0; i < r->inflight; i++) {
        char buf[64];
        int n = payload(buf, sizeof buf, r->sent++);
        mosquitto_publish(m, NULL, r->in, n, buf, r->qos, false);
    }
    uint64_t deadline = now_ns() + 120000000000ull;
    while (r->received < r->warmup + r->count && now_ns() < deadline && !timed_out(r)) {
        if (mosquitto_loop(m, 1000, 100) != MOSQ_ERR_SUCCESS)
            break;
    }
    mosquitto_destroy(m);
    return r->received < r->warmup + (r->t_end ? 1 : r->count);
}

/* --- AMQP -------------------------------------------------------------------------- */

static int run_amqp(struct run *r, const msgflo_url *u)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, msgflo_url_host(u), msgflo_url_port(u)) != AMQP_STATUS_OK ||
        amqp_login(c, msgflo_url_vhost(u), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                   msgflo_url_user(u) ? msgflo_url_user(u) : "guest",
                   msgflo_url_password(u) ? msgflo_url_password(u) : "guest")
                .reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d\n", msgflo_url_host(u),
                msgflo_url_port(u));
        return 1;
    }
    amqp_channel_open(c, 1);
    amqp_queue_declare_ok_t *q =
        amqp_queue_declare(c, 1, amqp_empty_bytes, false, false, true, true, amqp_empty_table);
    amqp_bytes_t tap = amqp_bytes_malloc_dup(q->queue);
    /* The pipeline may not have declared it yet: declare it as msgflo does
     * (durable fanout), or the bind would close the channel. */
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(r->out), amqp_cstring_bytes("fanout"), false,
                          true, false, false, amqp_empty_table);
    if (!amqp_queue_bind(c, 1, tap, amqp_cstring_bytes(r->out), amqp_empty_bytes,
                         amqp_empty_table)) {
        fprintf(stderr, "loadgen: cannot bind to exchange %s\n", r->out);
        return 1;
    }
    amqp_basic_consume(c, 1, tap, amqp_empty_bytes, false, true, true, amqp_empty_table);
    if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "loadgen: cannot consume from exchange %s\n", r->out);
        return 1;
    }
    uint64_t until = now_ns() + (uint64_t)(r->wait_ready * 1e9);
    for (struct probing p = {0}; probe_step(r, &p, until);) {
        if (p.send) {
            amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(r->in), false, false,
                               NULL, amqp_cstring_bytes("[-1,0]"));
            continue;
        }
        amqp_envelope_t env;
        struct timeval tv = {0, 10000};
        amqp_maybe_release_buffers(c);
        if (amqp_consume_message(c, &env, &tv, 0).reply_type == AMQP_RESPONSE_NORMAL) {
            on_received(r, env.message.body.bytes, env.message.body.len);
            amqp_destroy_envelope(&env);
        }
    }
    if (!r->running)
        return 1;
    if (r->warmup == 0)
        r->t_start = now_ns();
    for (long i = 0; i < r->inflight; i++) {
        char buf[64];
        payload(buf, sizeof buf, r->sent++);
        amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(r->in), false, false, NULL,
                           amqp_cstring_bytes(buf));
    }
    uint64_t deadline = now_ns() + 120000000000ull;
    while (r->received < r->warmup + r->count && now_ns() < deadline && !timed_out(r)) {
        amqp_envelope_t env;
        struct timeval tv = {1, 0};
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t rep = amqp_consume_message(c, &env, &tv, 0);
        if (rep.reply_type != AMQP_RESPONSE_NORMAL)
            continue;
        if (on_received(r, env.message.body.bytes, env.message.body.len)) {
            char buf[64];
            payload(buf, sizeof buf, r->sent++);
            amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(r->in), false, false,
                               NULL, amqp_cstring_bytes(buf));
        }
        amqp_destroy_envelope(&env);
    }
    amqp_bytes_free(tap);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
    return r->received < r->warmup + (r->t_end ? 1 : r->count);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"inflight", required_argument, NULL, 'n'},
        {"count", required_argument, NULL, 'c'},
        {"warmup", required_argument, NULL, 'w'},
        {"max-seconds", required_argument, NULL, 's'},
        {"wait-ready", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct run r = {
        .inflight = 100, .count = 20000, .warmup = 1000, .max_seconds = 60, .wait_ready = 30};
    const char *broker = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            broker = optarg;
            break;
        case 'i':
            r.in = optarg;
            break;
        case 'o':
            r.out = optarg;
            break;
        case 'n':
            r.inflight = strtol(optarg, NULL, 10);
            break;
        case 'c':
            r.count = strtol(optarg, NULL, 10);
            break;
        case 'w':
            r.warmup = strtol(optarg, NULL, 10);
            break;
        case 's':
            r.max_seconds = strtod(optarg, NULL);
            break;
        case 'r':
            r.wait_ready = strtod(optarg, NULL);
            break;
        default:
            fprintf(stderr, "usage: loadgen --broker URL --in Q --out Q [--inflight N] "
                            "[--count M] [--warmup W] [--max-seconds S] [--wait-ready S]\n");
            return 2;
        }
    }
    msgflo_url *u = NULL;
    char err[200];
    if (!broker || !r.in || !r.out || r.inflight < 1 || r.count < 1 || r.warmup < 0 ||
        !(r.max_seconds > 0) || msgflo_url_parse(broker, &u, err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: need --broker URL --in Q --out Q with valid numbers\n");
        return 2;
    }
    r.qos = msgflo_url_qos(u);
    r.latency_ns = calloc((size_t)r.count, sizeof *r.latency_ns);
    int rc = msgflo_url_is_amqp(u) ? run_amqp(&r, u) : run_mqtt(&r, u);
    if (rc) {
        fprintf(stderr, "loadgen: only %ld of %ld messages came back\n", r.received,
                r.warmup + r.count);
        return 1;
    }
    qsort(r.latency_ns, (size_t)r.measured, sizeof *r.latency_ns, cmp_u64);
    double secs = (double)(r.t_end - r.t_start) / 1e9;
    printf("{\"inflight\":%ld,\"count\":%ld,\"msgs_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
           r.inflight, r.measured, (double)r.measured / secs,
           (double)r.latency_ns[r.measured / 2] / 1e3,
           (double)r.latency_ns[(size_t)((double)r.measured * 0.99)] / 1e3);
    free(r.latency_ns);
    msgflo_url_free(u);
    return 0;
}
