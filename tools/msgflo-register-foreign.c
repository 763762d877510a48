/* msgflo-register-foreign (deprecated): the single-file form of
 * msgflo-register, kept for scripts written for the original.
 *
 *   msgflo-register-foreign [--broker URL] [--role ROLE] [--interval SECONDS]
 *                           [--forever BOOL] DEFINITION.yaml
 *
 * The role comes from --role, else from the YAML's `role`. Sends once by
 * default (--forever false). Exit codes as msgflo-register. */
#include "tools/common/cli.h"
#include "foreign/foreign.h"
#include "msgflo/errors.h"
#include "msgflo/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PROG "msgflo-register-foreign"

static const char usage[] =
    "Usage: msgflo-register-foreign [options] DEFINITION.yaml\n"
    "\n"
    "DEPRECATED: use msgflo-register --role ROLE:DEFINITION.yaml, which also\n"
    "takes several participants.\n"
    "\n"
    "Sends the MsgFlo discovery message of one foreign participant.\n"
    "\n"
    "Options:\n"
    "  --broker URL         broker address (default: $MSGFLO_BROKER, then\n"
    "                       $CLOUDAMQP_URL), e.g. mqtt://localhost\n"
    "  --role ROLE          role of the participant (default: `role` in the YAML)\n"
    "  --interval SECONDS   discovery period; re-sent every SECONDS/2.2 s (default 60)\n"
    "  --forever BOOL       keep re-sending until stopped (default false)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad definition or broker not reachable, 2 usage error.\n";

struct ctx {
    int status;
    bool forever;
    char broker[512]; /* redacted, for messages */
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '" PROG " --help'.\n");
    va_end(ap);
    return 2;
}

static void on_sent(void *ud, const char *id)
{
    struct ctx *ctx = ud;
    printf("Sent discovery message for %s\n", id);
    if (ctx->forever)
        printf("--forever enabled\n");
    fflush(stdout);
}

static void on_done(void *ud, int status)
{
    struct ctx *ctx = ud;
    if (status) {
        fprintf(stderr, PROG ": could not send the discovery message to %s: %s\n", ctx->broker,
                msgflo_strerror(status));
        ctx->status = 1;
    }
}

int main(int argc, char **argv)
{
    const char *broker_arg = NULL, *role = NULL, *path = NULL, *v;
    double interval = 60;
    bool forever = false;
    struct ctx ctx = {0};
    json_t *payload = NULL;
    char err[1024];
    int status = 2;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (cli__is_option(arg, "--broker")) {
            if (!(broker_arg = cli__value(argc, argv, &i, "--broker")))
                return usage_error("--broker needs a URL");
        } else if (cli__is_option(arg, "--role")) {
            if (!(role = cli__value(argc, argv, &i, "--role")))
                return usage_error("--role needs a role");
        } else if (cli__is_option(arg, "--interval")) {
            v = cli__value(argc, argv, &i, "--interval");
            if (!v || !cli__seconds(v, &interval))
                return usage_error("--interval needs a positive number of seconds, not '%s'",
                                   v ? v : "");
        } else if (cli__is_option(arg, "--forever")) {
            /* "--forever" alone is true; "--forever false" and "--forever=0" are false */
            const char *eq = strchr(arg, '=');
            if (cli__flag(argc, argv, &i, eq ? eq + 1 : NULL, &forever) != 0)
                return usage_error("--forever needs true or false, not '%s'", eq + 1);
        } else if (arg[0] == '-' && arg[1]) {
            return usage_error("unknown option %s", arg);
        } else if (!path) {
            path = arg;
        } else {
            return usage_error("unexpected argument '%s'", arg);
        }
    }
    fprintf(stderr, "DEPRECATED: Instead use msgflo-register --role A:./filename.yaml - which "
                    "also supports multiple roles\n");
    if (!path)
        return usage_error("no definition: give DEFINITION.yaml");
    const char *broker = msgflo_url_resolve(broker_arg);
    if (!broker)
        return usage_error("no broker: use --broker URL or set MSGFLO_BROKER "
                           "(e.g. mqtt://localhost)");
    if (msgflo_url_redact(broker, ctx.broker, sizeof ctx.broker) != 0)
        snprintf(ctx.broker, sizeof ctx.broker, "the broker");

    if (foreign__load(path, role, &payload, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    msgflo_url *url = NULL;
    if (msgflo_url_parse(broker, &url, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": broker URL %s: %s\n", ctx.broker, err);
        goto out;
    }
    ctx.forever = forever;
    uv_loop_t *loop = uv_default_loop();
    struct foreign_announcer *a = NULL;
    static const struct foreign_announcer_events events = {
        .sent = on_sent,
        .done = on_done,
    };
    int rc = foreign__announcer_new(&a, loop, url, &payload, 1, interval, forever, &events, &ctx);
    if (rc == 0 && (rc = foreign__announcer_stop_on_signals(a)) == 0)
        rc = foreign__announcer_start(a);
    if (rc) {
        fprintf(stderr, PROG ": cannot start: %s\n", msgflo_strerror(rc));
        if (a)
            foreign__announcer_stop(a);
        ctx.status = 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    status = ctx.status;
out:
    json_decref(payload);
    return status;
}
