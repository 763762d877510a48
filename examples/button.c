/* Button: a push button. Every press sends `true` on `pressed` and prints a
 * line. Press it with any message on `press`, or let it press itself (demo
 * mode): BUTTON_PRESS_EVERY=SECONDS presses every so often, BUTTON_PRESSES
 * times (default 3), after which only messages press it.
 * Run: button ROLE [BROKER_URL]
 *
 * A button sends data on its own, not only in reply to a message, so this
 * program runs the participant on its own libuv loop next to a timer, where
 * repeat.c lets msgflo_main own the loop. */
#include <msgflo/msgflo.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct button {
    msgflo_participant *p;
    uv_timer_t demo;
    uv_signal_t sigint, sigterm;
    double every;      /* demo mode: seconds between presses, 0 for none */
    long presses_left; /* demo mode */
    long presses;
    bool announced;
};

static void press(struct button *b, const char *how)
{
    printf("pressed (%s, press %ld)\n", how, ++b->presses);
    int rc = msgflo_participant_send(b->p, "pressed", "true", 4);
    if (rc)
        fprintf(stderr, "press not sent: %s\n", msgflo_strerror(rc));
}

static void on_demo_timer(uv_timer_t *t)
{
    struct button *b = t->data;
    press(b, "demo");
    if (--b->presses_left == 0)
        uv_timer_stop(t);
}

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    press(ud, "message");
    msgflo_message_ack(msg);
}

static void on_ready(msgflo_participant *p, void *ud)
{
    struct button *b = ud;
    if (b->announced)
        return; /* a reconnect, not the start */
    b->announced = true;
    /* The first line on stdout says we are up: supervisors wait for it. */
    char url[512];
    if (msgflo_url_redact(msgflo_participant_broker(p), url, sizeof url) != 0)
        snprintf(url, sizeof url, "broker");
    printf("%s(%s) connected to %s\n", msgflo_participant_role(p), msgflo_participant_component(p),
           url);
    if (b->every > 0 && b->presses_left > 0) {
        uint64_t ms = (uint64_t)(b->every * 1000);
        uv_timer_start(&b->demo, on_demo_timer, ms, ms);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct button *b = s->data;
    uv_close((uv_handle_t *)&b->demo, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    msgflo_participant_stop(b->p, NULL); /* the loop ends when it is done */
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
        {.id = "press", .type = "any", .description = "press the button"},
        {0},
    };
    static const msgflo_port_def outports[] = {
        {.id = "pressed", .type = "boolean", .description = "true on every press"},
        {0},
    };
    const msgflo_definition def = {
        .component = "iot/Button",
        .label = "A push button",
        .icon = "hand-pointer-o",
        .inports = inports,
        .outports = outports,
    };
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: %s ROLE [BROKER_URL]\n", argv[0]);
        return 2;
    }
    struct button b = {0};
    double presses;
    if (!env_number("BUTTON_PRESS_EVERY", 0, &b.every) ||
        !env_number("BUTTON_PRESSES", 3, &presses)) {
        fprintf(stderr, "%s: BUTTON_PRESS_EVERY and BUTTON_PRESSES take numbers\n", argv[0]);
        return 2;
    }
    b.presses_left = (long)presses;
    char err[512];
    int rc = msgflo_participant_new(&b.p, &def, argv[1], argc == 3 ? argv[2] : NULL, process, &b,
                                    err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    msgflo_participant_set_callbacks(b.p, on_ready, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a supervisor reads our output through a pipe */
    signal(SIGPIPE, SIG_IGN);         /* a lost broker (TLS) is an error to recover from */

    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &b.demo);
    uv_signal_init(loop, &b.sigint);
    uv_signal_init(loop, &b.sigterm);
    b.demo.data = b.sigint.data = b.sigterm.data = &b;
    uv_signal_start(&b.sigint, on_signal, SIGINT);
    uv_signal_start(&b.sigterm, on_signal, SIGTERM);
    rc = msgflo_participant_start(b.p, loop);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[0], msgflo_strerror(rc));
        on_signal(&b.sigterm, SIGTERM);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    msgflo_participant_free(b.p);
    return rc ? 1 : 0;
}
