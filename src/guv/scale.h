/* guv's scaling decision (guv 0.3.1, src/scale.coffee and src/governor.coffee),
 * sans-I/O: queue length and current workers in, the number of workers to set
 * out.
 *
 *   waiting   = ceil(queue_length / concurrency) * processing
 *   available = max(processing, target - processing)
 *   estimate  = clamp(ceil(waiting / available), minimum, maximum)
 *
 * Up at once; down only as far as the largest estimate of the history window
 * allows (see guv_scale__decide). The window is the last
 * floor(history / pollinterval) polls of the '*' role, kept per role in a
 * guv_history ring. */
#ifndef MSGFLO_GUV_SCALE_H
#define MSGFLO_GUV_SCALE_H

#include "guv/config.h"

#include <stddef.h>
#include <stdint.h>

/* "No number": an unknown current count, no change, a poll without estimate. */
#define GUV_NONE (-1)

/* The workers the formula asks for, clamped to [minimum, maximum]. `role` is
 * borrowed, here and below. */
int guv_scale__estimate(const struct guv_role *role, uint64_t queue_length);

/* One poll of one role, as kept in the history. */
struct guv_state {
    uint64_t queue_length; /* messages in the role's queue */
    int consumers;         /* consumers on the queue, GUV_NONE when unknown */
    int current;           /* workers before the decision, GUV_NONE when unknown */
    int estimate;          /* guv_scale__estimate, GUV_NONE when the poll failed */
    int next;              /* workers to set, GUV_NONE for no change */
};

/* The last `capacity` states of a role, oldest first. */
struct guv_history {
    struct guv_state *states; /* owned */
    size_t capacity, count, head;
};

/* floor(history / pollinterval) of `global` (borrowed; the '*' role), as guv's
 * governor. */
size_t guv_history__window(const struct guv_role *global);

/* A ring of `capacity` states (0 is allowed: nothing is kept, so a decision
 * never waits to scale down). Returns 0 or MSGFLO_ENOMEM. */
int guv_history__init(struct guv_history *h, size_t capacity);
/* Frees the states; the ring is empty and of capacity 0 afterwards. */
void guv_history__cleanup(struct guv_history *h);
/* Appends a copy of `s`, dropping the oldest state when full. */
void guv_history__push(struct guv_history *h, const struct guv_state *s);
/* The i-th state, 0 the oldest; NULL when i >= count. Points into the ring,
 * valid until the next push. */
const struct guv_state *guv_history__at(const struct guv_history *h, size_t i);
/* The largest estimate in the window; GUV_NONE when it holds none. */
int guv_history__max_estimate(const struct guv_history *h);

/* The decision for a role whose queue holds `queue_length` messages while
 * `current` workers run (GUV_NONE: unknown), given the estimates of the window
 * `history` (borrowed; NULL is an empty window). Sets out->estimate, and
 * out->next to the workers to set or GUV_NONE for no change:
 *   current unknown, or estimate > current:  next = estimate
 *   estimate == current:                     no change
 *   estimate < current:  H = largest estimate of the window (none: 0);
 *                        estimate >= H -> next = estimate;
 *                        else next = H if H < current, else no change.
 * out->queue_length, ->current are filled in; ->consumers is GUV_NONE. */
void guv_scale__decide(const struct guv_role *role, const struct guv_history *history, int current,
                       uint64_t queue_length, struct guv_state *out);

/* guv_scale__decide, then the state (with `consumers`, GUV_NONE when unknown)
 * appended to `history` (borrowed, updated). */
void guv_scale__step(const struct guv_role *role, struct guv_history *history, int current,
                     uint64_t queue_length, int consumers, struct guv_state *out);

#endif
