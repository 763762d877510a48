/* How long the runtime's loop turns take: the longest turn's busy time (the
 * loop not waiting in the kernel), so a benchmark can check that nothing
 * blocks the loop (docs/benchmarks.md, "distinct components").
 *
 *     struct loop_stats *s;
 *     loop_stats__new(loop, &s);   // before uv_run: configures idle-time metrics
 *     loop_stats__take(s, &max_ns, &max_cpu_ns, &turns);  // since the last take
 *     loop_stats__free(s);         // closes its handle on the loop
 *
 * A uv_prepare handle runs once per turn; the busy time of the turn before is
 * the time since the previous prepare minus the time the loop spent waiting
 * in the kernel (uv_metrics_idle_time); its CPU time is the loop thread's
 * (CLOCK_THREAD_CPUTIME_ID) over the turn. On a loaded machine the first
 * includes time the thread waited for a core; the second is the work alone.
 * Costs three clock reads per turn.
 */
#ifndef MSGFLO_RUNTIME_LOOP_STATS_H
#define MSGFLO_RUNTIME_LOOP_STATS_H

#include <stdint.h>
#include <uv.h>

struct loop_stats;

/* Starts measuring `loop` (borrowed; must outlive s). *out is owned (free
 * with loop_stats__free). Returns 0, MSGFLO_ENOMEM or MSGFLO_ESYS. */
int loop_stats__new(uv_loop_t *loop, struct loop_stats **out);

/* The longest busy turn (ns, wall clock), the most CPU time a turn used (ns)
 * and the number of turns since the last call (or since loop_stats__new);
 * starts a new period. */
void loop_stats__take(struct loop_stats *s, uint64_t *max_ns, uint64_t *max_cpu_ns,
                      uint64_t *turns);

/* Stops measuring; the memory goes once libuv closed the handle. NULL: no-op. */
void loop_stats__free(struct loop_stats *s);

#endif
