/* Local workers for msgflo-guv: N processes per role, started and stopped
 * through the process supervisor (process/supervisor.h), all running the same
 * command, so they consume one queue together.
 *
 * Each worker has its own supervisor name "<role>.<n>" (n counts up for the
 * life of the pool and is never reused); the command is the same for all of
 * them (the component library's command for the role, made by the caller).
 * Scaling down stops the newest workers (SIGTERM, then SIGKILL after the
 * grace period). A worker that crashes after starting is restarted with
 * backoff; one that fails to start is dropped (logged), so the next poll
 * sees one worker fewer and starts another. */
#ifndef MSGFLO_GUV_ACT_LOCAL_H
#define MSGFLO_GUV_ACT_LOCAL_H

#include "process/supervisor.h"

#include <stddef.h>
#include <uv.h>

struct guv_local;

/* Creates a pool whose workers run through `sup` (borrowed; must outlive
 * the pool; create it with `forever` for restarts). Returns 0 or
 * MSGFLO_ENOMEM; *out is freed with guv_local__free. */
int guv_local__new(struct supervisor *sup, struct guv_local **out);

/* Declares role `role` with the command of its workers (both copied).
 * Returns 0, MSGFLO_EINVAL (empty, or declared already) or MSGFLO_ENOMEM. */
int guv_local__add_role(struct guv_local *l, const char *role, const char *command);

/* The workers of `role`: running or starting, not being stopped; -1 for an
 * unknown role. */
int guv_local__current(const struct guv_local *l, const char *role);

/* Of those, the workers that have printed their ready line. */
int guv_local__started(const struct guv_local *l, const char *role);

/* Starts or stops workers until `role` has `n` (>= 0). Returns 0, or the
 * first error of supervisor__start / supervisor__stop (workers started
 * before it stay), or MSGFLO_EINVAL for an unknown role. */
int guv_local__set(struct guv_local *l, const char *role, int n);

/* Frees the pool (not the supervisor). Call it after supervisor__stop_all
 * (from then on the supervisor reports nothing about the workers), or after
 * supervisor__free. NULL is a no-op. */
void guv_local__free(struct guv_local *l);

#endif
