/* The I/O side of msgflo-guv: every pollinterval, the queue statistics of
 * every role from the broker, one governor step (guv/governor.h), one line
 * per role, then the changes applied:
 *   - GUV_ACT_LOCAL: worker processes through guv/act_local.h; the current
 *     number is the pool's live workers;
 *   - GUV_ACT_COMMAND: the command template (guv/act_command.h) once per
 *     change; the current number is what the last successful command set,
 *     unknown before; a role whose command still runs is left alone;
 *   - GUV_ACT_DRY_RUN: nothing; the current number is what would have been
 *     set (unknown at first).
 * Optionally each decision is also published as JSON (guv/report.h) on an
 * outqueue / topic. */
#ifndef MSGFLO_GUV_RUNNER_H
#define MSGFLO_GUV_RUNNER_H

#include "guv/act_local.h"
#include "guv/config.h"
#include "core/strbuf.h"
#include "guv/stats_http.h"
#include "transport/transport.h"

#include <stdbool.h>
#include <uv.h>

enum guv_act { GUV_ACT_LOCAL, GUV_ACT_COMMAND, GUV_ACT_DRY_RUN };

struct guv_runner;

struct guv_runner_options {
    const struct guv_config *cfg; /* borrowed; outlives the runner */
    enum guv_act act;
    struct guv_local *local; /* borrowed; GUV_ACT_LOCAL */
    /* the runner takes ownership once guv_runner__new succeeds (freed with
     * the runner, or after it by a request still under way); statistics
     * from the management API instead of the transport's passive declares,
     * asked on a thread; NULL: the transport */
    struct guv_http_stats *http;
    const char *command; /* copied; GUV_ACT_COMMAND template */
    const char *publish; /* copied; outqueue for JSON decisions, NULL: none */
    bool oneshot;        /* one poll, its changes applied, then `finished` */
    /* A line for the user (decision lines, command results), no newline. */
    void (*print)(const char *line, void *ud);
    /* Oneshot only: the poll and its actions are done. */
    void (*finished)(void *ud);
    void *ud;
};

/* Creates a runner on `loop` (borrowed) using `t` (borrowed: statistics and
 * publishing; must outlive the runner). Nothing happens before
 * guv_runner__connected. Returns 0, MSGFLO_EINVAL or MSGFLO_ENOMEM. */
int guv_runner__new(uv_loop_t *loop, struct transport *t, const struct guv_runner_options *o,
                    struct guv_runner **out);

/* The transport is connected (again): the first time, polls at once and
 * then every pollinterval; declares the --publish outqueue each time. */
void guv_runner__connected(struct guv_runner *r);

/* Stops polling; `done` is called from the loop once running commands have
 * finished (never from within this call). */
void guv_runner__stop(struct guv_runner *r, void (*done)(void *ud), void *ud);

/* Appends the last poll as Prometheus text (msgflo-guv --metrics-port): per
 * role (labels role, queue) the queue's messages and consumers, the workers
 * and the workers wanted (each left out while unknown), the scalings asked
 * and the failed polls; the polls; the process's CPU and memory. */
void guv_runner__metrics(const struct guv_runner *r, struct strbuf *sb);

/* Frees a stopped runner (after its `done`); NULL is a no-op. */
void guv_runner__free(struct guv_runner *r);

#endif
