/* Announcing foreign participants from a tool; see announce.h. */
#include "tools/common/announce.h"

#include "foreign/foreign.h"
#include "msgflo/errors.h"
#include "msgflo/url.h"

#include <stdio.h>
#include <uv.h>

struct ctx {
    const struct announce_options *o;
    int status;
    char broker[512]; /* redacted, for messages */
};

static void on_sent(void *ud, const char *id)
{
    struct ctx *ctx = ud;
    printf("Sent discovery message for %s\n", id);
    if (ctx->o->say_forever && ctx->o->forever)
        printf("--forever enabled\n");
    fflush(stdout);
}

static void on_done(void *ud, int status, const char *why)
{
    struct ctx *ctx = ud;
    if (status) {
        fprintf(stderr, "%s: could not send the %s to %s: %s\n", ctx->o->prog, ctx->o->what,
                ctx->broker, why[0] ? why : msgflo_strerror(status));
        ctx->status = 1;
    }
}

int announce__run(const struct announce_options *o)
{
    struct ctx ctx = {.o = o};
    if (msgflo_url_redact(o->broker, ctx.broker, sizeof ctx.broker) != 0)
        snprintf(ctx.broker, sizeof ctx.broker, "the broker");
    char err[1024];
    msgflo_url *url = NULL;
    if (msgflo_url_parse(o->broker, &url, err, sizeof err) != 0) {
        fprintf(stderr, "%s: broker URL %s: %s\n", o->prog, ctx.broker, err);
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    struct foreign_announcer *an = NULL;
    static const struct foreign_announcer_events events = {
        .sent = on_sent,
        .done = on_done,
    };
    int rc = foreign__announcer_new(&an, loop, url, o->payloads, o->n, o->interval, o->forever,
                                    &events, &ctx);
    if (rc == 0 && (rc = foreign__announcer_stop_on_signals(an)) == 0)
        rc = foreign__announcer_start(an);
    if (rc) {
        fprintf(stderr, "%s: cannot start: %s\n", o->prog, msgflo_strerror(rc));
        if (an)
            foreign__announcer_stop(an);
        ctx.status = 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return ctx.status;
}
