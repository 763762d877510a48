/* Message accounting for fault cases: loads N numbered messages into a
 * pipeline and counts what comes out, through libmsgflo (so it reconnects
 * and keeps its session like any participant).
 *
 *   faultcount BROKER_URL N [IDLE_SECONDS [IN_QUEUE OUT_QUEUE [ROLE]]]
 *
 * Role "faults" (or ROLE): outport `load` on queue a.IN (IN_QUEUE), inport
 * `count` on queue b.OUT (OUT_QUEUE)
 * (on AMQP a durable queue b.OUT bound to b's fanout exchange b.OUT; on MQTT
 * the topic). Once connected it sends "1".."N" on `load`, then counts the
 * numbers arriving on `count`. While running it prints `progress UNIQUE
 * DUPLICATES` on stdout at most every 100 ms (the fault script waits for it
 * to cause the fault in the middle); it ends when all N arrived, or after
 * IDLE_SECONDS (default 20) without a message, and prints
 *
 *   result sent=N unique=U duplicated=D lost=L max_gap_ms=G
 *
 * max_gap_ms: the longest time between two consecutive arrivals, i.e. how
 * long the flow stopped during the fault. Exit status 0 when nothing was
 * lost, 1 otherwise.
 */
#include "msgflo/msgflo.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct count {
    msgflo_participant *p;
    long n;
    unsigned char *seen;
    long unique, duplicated;
    bool loaded;
    uint64_t last_rx, max_gap, last_print, idle_ms;
    uv_timer_t idle;
};

static void finish(struct count *c)
{
    printf("result sent=%ld unique=%ld duplicated=%ld lost=%ld max_gap_ms=%llu\n", c->n, c->unique,
           c->duplicated, c->n - c->unique, (unsigned long long)c->max_gap);
    fflush(stdout);
    exit(c->unique == c->n ? 0 : 1);
}

static void on_idle(uv_timer_t *t)
{
    finish(t->data);
}

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    struct count *c = ud;
    (void)p;
    (void)inport;
    size_t len;
    const char *data = msgflo_message_data(msg, &len);
    char *end;
    errno = 0;
    long i = strtol(data, &end, 10);
    if (!errno && end != data && i >= 1 && i <= c->n) {
        uint64_t now = uv_now(uv_default_loop());
        if (c->last_rx && now - c->last_rx > c->max_gap)
            c->max_gap = now - c->last_rx;
        c->last_rx = now;
        if (c->seen[i - 1]++)
            c->duplicated++;
        else
            c->unique++;
        if (now - c->last_print >= 100 || c->unique == c->n) {
            printf("progress %ld %ld\n", c->unique, c->duplicated);
            fflush(stdout);
            c->last_print = now;
        }
    }
    msgflo_message_ack(msg);
    if (c->unique == c->n)
        finish(c);
    uv_timer_start(&c->idle, on_idle, c->idle_ms, 0);
}

static void on_ready(msgflo_participant *p, void *ud)
{
    struct count *c = ud;
    if (c->loaded)
        return;
    c->loaded = true;
    char text[32];
    for (long i = 1; i <= c->n; i++) {
        int len = snprintf(text, sizeof text, "%ld", i);
        int rc = msgflo_participant_send(p, "load", text, (size_t)len);
        if (rc) {
            fprintf(stderr, "faultcount: sending %ld failed: %s\n", i, msgflo_strerror(rc));
            exit(2);
        }
    }
    printf("loaded %ld\n", c->n);
    fflush(stdout);
    uv_timer_start(&c->idle, on_idle, c->idle_ms, 0);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 7 || argc == 5) {
        fprintf(stderr,
                "usage: faultcount BROKER_URL N [IDLE_SECONDS [IN_QUEUE OUT_QUEUE [ROLE]]]\n");
        return 2;
    }
    const msgflo_port_def in[] = {{.id = "count", .queue = argc > 5 ? argv[5] : "b.OUT"}, {0}};
    const msgflo_port_def out[] = {{.id = "load", .queue = argc > 5 ? argv[4] : "a.IN"}, {0}};
    const msgflo_definition def = {.component = "bench/FaultCount",
                                   .role = argc > 6 ? argv[6] : "faults",
                                   .inports = in,
                                   .outports = out};
    struct count c = {.n = atol(argv[2])};
    c.idle_ms = (uint64_t)(argc >= 4 ? atof(argv[3]) * 1000 : 20000);
    if (c.n < 1 || !(c.seen = calloc((size_t)c.n, 1)))
        return 2;
    char err[256];
    int rc = msgflo_participant_new(&c.p, &def, NULL, argv[1], process, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "faultcount: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &c.idle);
    c.idle.data = &c;
    msgflo_participant_set_callbacks(c.p, on_ready, NULL);
    if ((rc = msgflo_participant_start(c.p, loop)) != 0) {
        fprintf(stderr, "faultcount: %s\n", msgflo_strerror(rc));
        return 2;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 2;
}
