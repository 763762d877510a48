/* Steady load for the soak (bench/soak/run): a libmsgflo participant that
 * sends numbered messages at a fixed rate into a pipeline and counts what
 * comes back, for as long as it runs.
 *
 *   soakload BROKER_URL RATE IN_QUEUE OUT_QUEUE ROLE
 *
 * Outport `load` on IN_QUEUE, inport `count` on OUT_QUEUE. Every 100 ms it
 * sends RATE/10 messages (RATE per second, 1..100000); every 10 s, and on
 * SIGTERM/SIGINT, it prints
 *
 *   stats sent=S received=R outstanding=S-R max_gap_ms=G
 *
 * (max_gap_ms: the longest time between two arrivals so far). It is itself a
 * long-running libmsgflo participant, so the soak samples its memory and
 * file descriptors with the others'. Exit status 0 on a signal.
 */
#include "msgflo/msgflo.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct load {
    msgflo_participant *p;
    long per_tick;
    long sent, received;
    bool ready;
    uint64_t last_rx, max_gap;
    uv_timer_t tick, report;
    uv_signal_t sigint, sigterm;
};

static void print_stats(const struct load *l)
{
    printf("stats sent=%ld received=%ld outstanding=%ld max_gap_ms=%llu\n", l->sent, l->received,
           l->sent - l->received, (unsigned long long)l->max_gap);
    fflush(stdout);
}

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    struct load *l = ud;
    (void)p;
    (void)inport;
    uint64_t now = uv_now(uv_default_loop());
    if (l->last_rx && now - l->last_rx > l->max_gap)
        l->max_gap = now - l->last_rx;
    l->last_rx = now;
    l->received++;
    msgflo_message_ack(msg);
}

static void on_tick(uv_timer_t *t)
{
    struct load *l = t->data;
    char text[32];
    for (long i = 0; i < l->per_tick; i++) {
        int len = snprintf(text, sizeof text, "%ld", l->sent + 1);
        if (msgflo_participant_send(l->p, "load", text, (size_t)len) != 0)
            return; /* not connected: the next tick tries again */
        l->sent++;
    }
}

static void on_report(uv_timer_t *t)
{
    print_stats(t->data);
}

static void on_ready(msgflo_participant *p, void *ud)
{
    struct load *l = ud;
    (void)p;
    if (l->ready)
        return; /* a reconnect */
    l->ready = true;
    uv_timer_start(&l->tick, on_tick, 100, 100);
    uv_timer_start(&l->report, on_report, 10000, 10000);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct load *l = s->data;
    (void)signum;
    print_stats(l);
    uv_close((uv_handle_t *)&l->tick, NULL);
    uv_close((uv_handle_t *)&l->report, NULL);
    uv_close((uv_handle_t *)&l->sigint, NULL);
    uv_close((uv_handle_t *)&l->sigterm, NULL);
    msgflo_participant_stop(l->p, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: soakload BROKER_URL RATE IN_QUEUE OUT_QUEUE ROLE\n");
        return 2;
    }
    char *end;
    long rate = strtol(argv[2], &end, 10);
    if (*end || rate < 1 || rate > 100000) {
        fprintf(stderr, "soakload: RATE: '%s' is not a number in 1..100000\n", argv[2]);
        return 2;
    }
    const msgflo_port_def in[] = {{.id = "count", .queue = argv[4]}, {0}};
    const msgflo_port_def out[] = {{.id = "load", .queue = argv[3]}, {0}};
    const msgflo_definition def = {
        .component = "bench/SoakLoad", .role = argv[5], .inports = in, .outports = out};
    struct load l = {.per_tick = rate / 10 > 0 ? rate / 10 : 1};
    char err[256];
    int rc = msgflo_participant_new(&l.p, &def, NULL, argv[1], process, &l, err, sizeof err);
    if (rc) {
        fprintf(stderr, "soakload: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &l.tick);
    uv_timer_init(loop, &l.report);
    uv_signal_init(loop, &l.sigint);
    uv_signal_init(loop, &l.sigterm);
    l.tick.data = l.report.data = l.sigint.data = l.sigterm.data = &l;
    uv_signal_start(&l.sigint, on_signal, SIGINT);
    uv_signal_start(&l.sigterm, on_signal, SIGTERM);
    msgflo_participant_set_callbacks(l.p, on_ready, NULL);
    if ((rc = msgflo_participant_start(l.p, loop)) != 0) {
        fprintf(stderr, "soakload: %s\n", msgflo_strerror(rc));
        return 2;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    msgflo_participant_free(l.p);
    return 0;
}
