/* msgflo_main: the whole main() of a participant program. Parses
 * `ROLE [BROKER_URL]`, runs the participant on the default libuv loop, prints
 * the ready line supervisors wait for, and stops cleanly on SIGINT/SIGTERM. */
#include "msgflo/errors.h"
#include "msgflo/log.h"
#include "msgflo/participant.h"
#include "msgflo/url.h"
#include "msgflo/version.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <uv.h>

struct main_ctx {
    msgflo_participant *p;
    uv_signal_t sigint, sigterm;
    bool announced;
    bool stopping;
    int status; /* the exit status */
    const char *prog;
};

static void usage(FILE *f, const char *prog, const msgflo_definition *def)
{
    fprintf(f,
            "Usage: %s ROLE [BROKER_URL]\n"
            "       %s --help | --version\n"
            "Runs a %s participant (%s) as ROLE.\n"
            "BROKER_URL defaults to $MSGFLO_BROKER, then $CLOUDAMQP_URL;\n"
            "e.g. mqtt://localhost or amqp://guest:guest@localhost/.\n"
            "Set DEBUG=msgflo* for debug logs.\n",
            prog, prog, def->component, def->label ? def->label : "");
}

/* Started by a supervisor (msgflo-setup, the msgflo runtime: they set
 * MSGFLO_SUPERVISOR_PID), end with the parent: the kernel sends SIGTERM when
 * it dies, whatever it dies of. The parent is the supervisor, or a shell it
 * started that could not exec us (`sh -c "a; b"`): that shell gets the same
 * signal from the supervisor's death. Returns false when the supervisor is
 * gone already (it died before the signal was asked for). */
static bool end_with_supervisor(void)
{
    const char *env = getenv("MSGFLO_SUPERVISOR_PID");
    if (!env || !*env)
        return true;
    char *end;
    errno = 0;
    long pid = strtol(env, &end, 10);
    if (errno || *end || pid <= 1)
        return true;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
        return true;
    return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

static void on_ready(msgflo_participant *p, void *userdata)
{
    struct main_ctx *ctx = *(struct main_ctx **)userdata;
    if (ctx->announced)
        return;
    ctx->announced = true;
    char shown[512];
    if (msgflo_url_redact(msgflo_participant_broker(p), shown, sizeof shown) != 0)
        snprintf(shown, sizeof shown, "broker");
    printf("%s(%s) connected to %s\n", msgflo_participant_role(p), msgflo_participant_component(p),
           shown);
    fflush(stdout);
}

static void on_closed_signal(uv_handle_t *h)
{
    (void)h;
}

static void on_stopped(msgflo_participant *p, void *userdata)
{
    (void)p;
    struct main_ctx *ctx = *(struct main_ctx **)userdata;
    uv_close((uv_handle_t *)&ctx->sigint, on_closed_signal);
    uv_close((uv_handle_t *)&ctx->sigterm, on_closed_signal);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct main_ctx *ctx = h->data;
    (void)signum;
    if (ctx->stopping)
        return;
    ctx->stopping = true;
    msgflo_participant_stop(ctx->p, on_stopped);
}

/* A refused login or an unknown host name is not retried: end with the
 * broker's reason instead of waiting for ever. */
static void on_disconnect(msgflo_participant *p, int err, void *userdata)
{
    struct main_ctx *ctx = *(struct main_ctx **)userdata;
    if ((err != MSGFLO_EREFUSED && err != MSGFLO_ENOHOST) || ctx->stopping)
        return;
    char shown[512];
    if (msgflo_url_redact(msgflo_participant_broker(p), shown, sizeof shown) != 0)
        snprintf(shown, sizeof shown, "broker");
    const char *why = msgflo_participant_last_error(p);
    if (!why[0])
        why = msgflo_strerror(err);
    if (err == MSGFLO_EREFUSED)
        fprintf(stderr, "%s: the broker at %s refused the login: %s\n", ctx->prog, shown, why);
    else
        fprintf(stderr, "%s: cannot reach the broker at %s: %s\n", ctx->prog, shown, why);
    ctx->status = 1;
    ctx->stopping = true;
    msgflo_participant_stop(p, on_stopped);
}

/* The participant's userdata must stay the application's; the context is
 * reached through a wrapper that keeps both. */
struct wrapped {
    struct main_ctx *ctx; /* first: on_ready/on_stopped read it */
    msgflo_process_fn process;
    void *userdata;
};

static void process_wrapper(msgflo_participant *p, const char *inport, msgflo_message *msg,
                            void *userdata)
{
    struct wrapped *w = userdata;
    w->process(p, inport, msg, w->userdata);
}

int msgflo_main(int argc, char **argv, const msgflo_definition *def, msgflo_process_fn process,
                void *userdata)
{
    const char *prog = argc > 0 ? argv[0] : "participant";
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout, prog, def);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s (%s, msgflo-c %s)\n", prog, def->component, MSGFLO_VERSION);
        return 0;
    }
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        usage(stderr, prog, def);
        return 2;
    }
    if (!end_with_supervisor()) {
        fprintf(stderr, "%s: the supervisor (MSGFLO_SUPERVISOR_PID) is gone; not starting\n", prog);
        return 1;
    }
    struct main_ctx ctx = {0};
    struct wrapped w = {&ctx, process, userdata};
    char err[512];
    int rc = msgflo_participant_new(&ctx.p, def, argv[1], argc == 3 ? argv[2] : NULL,
                                    process_wrapper, &w, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", prog, err[0] ? err : msgflo_strerror(rc));
        return rc == MSGFLO_ENOMEM ? 1 : 2;
    }
    ctx.prog = prog;
    msgflo_participant_set_callbacks(ctx.p, on_ready, on_disconnect);

    /* A write to a socket the broker closed must be an error, not a kill
     * (OpenSSL writes without MSG_NOSIGNAL). */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uv_signal_init(loop, &ctx.sigint);
    uv_signal_init(loop, &ctx.sigterm);
    ctx.sigint.data = ctx.sigterm.data = &ctx;
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
    uv_unref((uv_handle_t *)&ctx.sigint);
    uv_unref((uv_handle_t *)&ctx.sigterm);

    rc = msgflo_participant_start(ctx.p, loop);
    if (rc) {
        fprintf(stderr, "%s: cannot start: %s\n", prog, msgflo_strerror(rc));
        uv_close((uv_handle_t *)&ctx.sigint, on_closed_signal);
        uv_close((uv_handle_t *)&ctx.sigterm, on_closed_signal);
        uv_run(loop, UV_RUN_DEFAULT);
        msgflo_participant_free(ctx.p);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    msgflo_participant_free(ctx.p);
    uv_loop_close(loop);
    return ctx.status;
}
