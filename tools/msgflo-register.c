/* msgflo-register: send discovery messages on behalf of foreign (non-MsgFlo)
 * participants described in YAML, once or forever.
 *
 *   msgflo-register [--broker URL] --role ROLE:FILE.yaml [--role ...]
 *                   [--interval SECONDS] [--forever BOOL]
 *
 * Exit codes: 0 ok (or stopped by SIGINT/SIGTERM), 1 a definition is bad or
 * the broker could not be reached, 2 usage error. */
#include "tools/common/cli.h"
#include "foreign/foreign.h"
#include "msgflo/errors.h"
#include "msgflo/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PROG "msgflo-register"

static const char usage[] =
    "Usage: msgflo-register [options]\n"
    "\n"
    "Sends MsgFlo discovery messages on behalf of foreign participants (devices\n"
    "and services that do not speak MsgFlo), each described in a YAML file.\n"
    "\n"
    "Options:\n"
    "  --broker URL            broker address (default: $MSGFLO_BROKER, then\n"
    "                          $CLOUDAMQP_URL), e.g. mqtt://localhost\n"
    "  --role ROLE:FILE.yaml   a participant: its role and its definition;\n"
    "                          repeat for more participants\n"
    "  --interval SECONDS      discovery period; messages are re-sent every\n"
    "                          SECONDS/2.2 s (default 60)\n"
    "  --forever BOOL          keep re-sending until stopped (default true);\n"
    "                          --forever=false sends once and exits\n"
    "  -h, --help              show this help\n"
    "\n"
    "YAML: component (required), label, icon, inports, outports; ports as a map\n"
    "by port id or as a list with id; #ROLE in a queue becomes the role.\n"
    "See docs/msgflo-register.md.\n"
    "\n"
    "Exit status: 0 ok, 1 bad definition or broker not reachable, 2 usage error.\n";

struct role_file {
    char *role;
    const char *path; /* points into argv */
};

struct ctx {
    int status;
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
    (void)ud;
    printf("Sent discovery message for %s\n", id);
    fflush(stdout);
}

static void on_done(void *ud, int status)
{
    struct ctx *ctx = ud;
    if (status) {
        fprintf(stderr, PROG ": could not send the discovery messages to %s: %s\n", ctx->broker,
                msgflo_strerror(status));
        ctx->status = 1;
    }
}

int main(int argc, char **argv)
{
    struct role_file *roles = NULL;
    json_t **payloads = NULL;
    size_t n_roles = 0;
    const char *broker_arg = NULL;
    double interval = 60;
    bool forever = true;
    int status = 2;
    struct ctx ctx = {0};
    char err[1024];

    roles = calloc((size_t)argc, sizeof *roles);
    payloads = calloc((size_t)argc, sizeof *payloads);
    if (!roles || !payloads) {
        fprintf(stderr, PROG ": out of memory\n");
        status = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            status = 0;
            goto out;
        } else if (cli__is_option(arg, "--broker")) {
            if (!(broker_arg = cli__value(argc, argv, &i, "--broker"))) {
                status = usage_error("%s needs a URL", arg);
                goto out;
            }
        } else if (cli__is_option(arg, "--role")) {
            v = cli__value(argc, argv, &i, "--role");
            const char *colon = v ? strchr(v, ':') : NULL;
            if (!colon || colon == v || !colon[1]) {
                status = usage_error("--role needs ROLE:FILE.yaml, not '%s'", v ? v : "");
                goto out;
            }
            size_t k = 0;
            while (k < n_roles && (strlen(roles[k].role) != (size_t)(colon - v) ||
                                   strncmp(roles[k].role, v, (size_t)(colon - v)) != 0))
                k++;
            if (k == n_roles) { /* a role given again takes the later file */
                roles[k].role = strndup(v, (size_t)(colon - v));
                if (!roles[k].role) {
                    status = 1;
                    goto out;
                }
                n_roles++;
            }
            roles[k].path = colon + 1;
        } else if (cli__is_option(arg, "--interval")) {
            v = cli__value(argc, argv, &i, "--interval");
            if (!v || !cli__seconds(v, &interval)) {
                status = usage_error("--interval needs a positive number of seconds, not '%s'",
                                     v ? v : "");
                goto out;
            }
        } else if (cli__is_option(arg, "--forever")) {
            /* "--forever" alone is true; "--forever false" and "--forever=0" are false */
            const char *eq = strchr(arg, '=');
            if (cli__flag(argc, argv, &i, eq ? eq + 1 : NULL, &forever) != 0) {
                status = usage_error("--forever needs true or false, not '%s'", eq + 1);
                goto out;
            }
        } else {
            status = arg[0] == '-' ? usage_error("unknown option %s", arg)
                                   : usage_error("unexpected argument '%s'", arg);
            goto out;
        }
    }
    if (n_roles == 0) {
        status = usage_error("no participant: give --role ROLE:FILE.yaml");
        goto out;
    }
    const char *broker = msgflo_url_resolve(broker_arg);
    if (!broker) {
        status = usage_error("no broker: use --broker URL or set MSGFLO_BROKER "
                             "(e.g. mqtt://localhost)");
        goto out;
    }
    if (msgflo_url_redact(broker, ctx.broker, sizeof ctx.broker) != 0)
        snprintf(ctx.broker, sizeof ctx.broker, "the broker");

    status = 0;
    for (size_t k = 0; k < n_roles; k++) {
        if (foreign__load(roles[k].path, roles[k].role, &payloads[k], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            status = 1;
        }
    }
    if (status)
        goto out;

    msgflo_url *url = NULL;
    if (msgflo_url_parse(broker, &url, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": broker URL %s: %s\n", ctx.broker, err);
        status = 2;
        goto out;
    }
    uv_loop_t *loop = uv_default_loop();
    struct foreign_announcer *a = NULL;
    static const struct foreign_announcer_events events = {
        .sent = on_sent,
        .done = on_done,
    };
    int rc =
        foreign__announcer_new(&a, loop, url, payloads, n_roles, interval, forever, &events, &ctx);
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
    for (size_t k = 0; roles && k < n_roles; k++) {
        free(roles[k].role);
        json_decref(payloads[k]);
    }
    free(roles);
    free(payloads);
    return status;
}
