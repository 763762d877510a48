/* A slow worker for msgflo-guv's tests: slow_worker ROLE DELAY_MS
 * consumes ROLE.IN on $MSGFLO_BROKER and acks each message DELAY_MS after it
 * arrived (its prefetch, 2 by default, bounds how many it holds). Prints the
 * ready line when connected; stops on SIGTERM/SIGINT. */
#include <msgflo/msgflo.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct pending {
    uv_timer_t timer;
    msgflo_message *msg;
};

static uv_loop_t loop;
static uint64_t delay_ms;
static uv_signal_t sigterm, sigint;

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_timer(uv_timer_t *t)
{
    struct pending *p = t->data;
    msgflo_message_ack(p->msg);
    uv_close((uv_handle_t *)t, on_closed);
}

static void process(msgflo_participant *part, const char *inport, msgflo_message *msg, void *ud)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p) {
        msgflo_message_nack(msg);
        return;
    }
    p->msg = msg;
    uv_timer_init(&loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_timer, delay_ms, 0);
}

static void on_ready(msgflo_participant *p, void *ud)
{
    printf("%s ready\n", msgflo_participant_role(p));
    fflush(stdout);
}

static void on_stopped(msgflo_participant *p, void *ud)
{
    uv_stop(&loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    msgflo_participant_stop(s->data, on_stopped);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {{.id = "in"}, {0}};
    const msgflo_definition def = {.component = "test/SlowWorker", .inports = inports};
    if (argc != 3) {
        fprintf(stderr, "usage: slow_worker ROLE DELAY_MS\n");
        return 2;
    }
    delay_ms = strtoull(argv[2], NULL, 10);
    msgflo_participant *p;
    char err[256];
    uv_loop_init(&loop);
    if (msgflo_participant_new(&p, &def, argv[1], NULL, process, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "slow_worker: %s\n", err);
        return 1;
    }
    msgflo_participant_set_callbacks(p, on_ready, NULL);
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    sigterm.data = sigint.data = p;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    msgflo_participant_start(p, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    msgflo_participant_free(p);
    return 0;
}
