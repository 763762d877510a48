/* Motor: `true` on `start` starts it; it runs for MOTOR_RUN_SECONDS (default
 * 3) and stops by itself. It sends `true` on `running` when it starts and
 * `false` when it stops, and the opposite on `idle` (for a lamp that is green
 * while the motor stands still). Prints a line per event.
 * Run: motor ROLE [BROKER_URL]
 *
 * Stopping is a timer, so, like button.c, this program runs the participant
 * on its own libuv loop instead of calling msgflo_main. */
#include <msgflo/msgflo.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct motor {
    msgflo_participant *p;
    uv_timer_t run;
    uv_signal_t sigint, sigterm;
    uint64_t run_ms;
    bool announced;
};

static void report(struct motor *m, bool running)
{
    /* In this order a lamp goes dark between green and red, never shows both. */
    const char *first = running ? "idle" : "running", *then = running ? "running" : "idle";
    msgflo_participant_send(m->p, first, "false", 5);
    msgflo_participant_send(m->p, then, "true", 4);
}

static void on_run_over(uv_timer_t *t)
{
    struct motor *m = t->data;
    printf("stopped\n");
    report(m, false);
}

/* true, or "true" as an IIP from a .fbp graph arrives. */
static bool is_true(msgflo_message *msg)
{
    json_t *v = msgflo_message_json(msg);
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    struct motor *m = ud;
    if (!is_true(msg)) {
        /* a button release, say: nothing to do */
    } else if (uv_is_active((uv_handle_t *)&m->run)) {
        printf("already running\n");
    } else {
        printf("starting\n");
        report(m, true);
        uv_timer_start(&m->run, on_run_over, m->run_ms, 0);
    }
    msgflo_message_ack(msg);
}

static void on_ready(msgflo_participant *p, void *ud)
{
    struct motor *m = ud;
    if (m->announced)
        return; /* a reconnect, not the start */
    m->announced = true;
    /* The first line on stdout says we are up: supervisors wait for it. */
    char url[512];
    if (msgflo_url_redact(msgflo_participant_broker(p), url, sizeof url) != 0)
        snprintf(url, sizeof url, "broker");
    printf("%s(%s) connected to %s\n", msgflo_participant_role(p), msgflo_participant_component(p),
           url);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct motor *m = s->data;
    uv_close((uv_handle_t *)&m->run, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    msgflo_participant_stop(m->p, NULL); /* the loop ends when it is done */
}

/* A number from the environment, `fallback` when unset; false when it is
 * not a number (or negative, or huge). */
static bool env_number(const char *name, double fallback, double *out)
{
    const char *text = getenv(name);
    char *end;
    *out = text ? strtod(text, &end) : fallback;
    return !text || (end != text && !*end && *out >= 0 && *out < 1e6);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {
        {.id = "start", .type = "boolean", .description = "true starts the motor"},
        {0},
    };
    static const msgflo_port_def outports[] = {
        {.id = "running", .type = "boolean", .description = "true on start, false on stop"},
        {.id = "idle", .type = "boolean", .description = "false on start, true on stop"},
        {0},
    };
    const msgflo_definition def = {
        .component = "iot/Motor",
        .label = "A motor that runs for a while when started",
        .icon = "cog",
        .inports = inports,
        .outports = outports,
    };
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: %s ROLE [BROKER_URL]\n", argv[0]);
        return 2;
    }
    double run_s;
    if (!env_number("MOTOR_RUN_SECONDS", 3, &run_s)) {
        fprintf(stderr, "%s: MOTOR_RUN_SECONDS takes a number of seconds\n", argv[0]);
        return 2;
    }
    struct motor m = {.run_ms = (uint64_t)(run_s * 1000)};
    char err[512];
    int rc = msgflo_participant_new(&m.p, &def, argv[1], argc == 3 ? argv[2] : NULL, process, &m,
                                    err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    msgflo_participant_set_callbacks(m.p, on_ready, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a supervisor reads our output through a pipe */
    signal(SIGPIPE, SIG_IGN);         /* a lost broker (TLS) is an error to recover from */

    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &m.run);
    uv_signal_init(loop, &m.sigint);
    uv_signal_init(loop, &m.sigterm);
    m.run.data = m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    rc = msgflo_participant_start(m.p, loop);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[0], msgflo_strerror(rc));
        on_signal(&m.sigterm, SIGTERM);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    msgflo_participant_free(m.p);
    return rc ? 1 : 0;
}
