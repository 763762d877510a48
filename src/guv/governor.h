/* One poll of guv's governor (guv 0.3.1, src/governor.coffee runOnce),
 * sans-I/O: for every role of a configuration, what the broker said about its
 * queue and how many workers run now go in; the decisions come out, and each
 * role's history window moves on.
 *
 *   struct guv_governor g;
 *   guv_governor__init(&g, cfg);
 *   every guv_governor__interval_ms(&g):
 *       polls[i] = stats of cfg->roles[i].queue, workers of cfg->roles[i]
 *       guv_governor__step(&g, polls, decisions);
 *       act on decisions[i].next where it is not GUV_NONE
 *   guv_governor__cleanup(&g);
 *
 * The I/O side (queue statistics, workers, the timer) is guv/runner.h. */
#ifndef MSGFLO_GUV_GOVERNOR_H
#define MSGFLO_GUV_GOVERNOR_H

#include "guv/config.h"
#include "guv/scale.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one poll found for one role. */
struct guv_poll {
    int status;            /* 0, or the MSGFLO_E* of a failed statistics query */
    uint64_t queue_length; /* messages in the role's queue (status 0) */
    int consumers;         /* consumers on the queue, GUV_NONE when unknown */
    int current;           /* workers running now, GUV_NONE when unknown */
    bool missing;          /* the queue does not exist (yet): length 0, consumers 0 */
};

struct guv_governor {
    const struct guv_config *cfg;  /* borrowed; must outlive the governor */
    struct guv_history *histories; /* owned, one per cfg->roles[i] */
    size_t n_roles;
    uint64_t polls; /* steps so far */
};

/* Prepares a governor for `cfg` (borrowed): an empty history window of
 * guv_history__window(&cfg->global) polls per role. Returns 0 or
 * MSGFLO_ENOMEM (then there is nothing to clean up). */
int guv_governor__init(struct guv_governor *g, const struct guv_config *cfg);

/* Frees the histories. */
void guv_governor__cleanup(struct guv_governor *g);

/* The time between polls: the pollinterval of '*', in milliseconds (at least 1). */
uint64_t guv_governor__interval_ms(const struct guv_governor *g);

/* One poll: for each role i, polls[i] (borrowed, n_roles entries) in,
 * out[i] (n_roles entries) out: the estimate and the workers to set
 * (out[i].next, GUV_NONE for no change), decided as guv_scale__decide over
 * the role's window, which then takes the new state. A failed poll
 * (status != 0) decides nothing: its state has no estimate (GUV_NONE) and
 * the window skips it. */
void guv_governor__step(struct guv_governor *g, const struct guv_poll *polls,
                        struct guv_state *out);

#endif
