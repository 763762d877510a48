/* How msgflo-guv reports a decision: one line for people and logs, and a
 * JSON object for dashboards (published with --publish). Pure functions. */
#ifndef MSGFLO_GUV_REPORT_H
#define MSGFLO_GUV_REPORT_H

#include "guv/config.h"
#include "guv/governor.h"
#include "guv/scale.h"

#include <jansson.h>
#include <stddef.h>

/* The line of one role's poll, without newline, in buf (always terminated):
 *   "ROLE: queue=Q length=N consumers=C current=K estimate=E new=M"
 * with "?" for an unknown number and new=- for no change, "queue=Q (missing)"
 * for a queue that does not exist yet; a failed poll:
 *   "ROLE: queue=Q error=TEXT" (TEXT: "no such queue", "not connected to the broker", ...).
 * Returns the length it needed (as snprintf). All pointers are borrowed. */
int guv_report__line(const struct guv_role *role, const struct guv_poll *poll,
                     const struct guv_state *state, char *buf, size_t len);

/* The same as a new JSON object (owned by the caller, json_decref):
 *   {"role", "queue", "worker", "missing", "length", "consumers", "current", "estimate",
 *    "new", "time"} with null for what is unknown (no change: "new": null),
 * or {"role", "queue", "worker", "error", "time"} for a failed poll. `time`
 * is seconds since the epoch. NULL when out of memory. */
json_t *guv_report__json(const struct guv_role *role, const struct guv_poll *poll,
                         const struct guv_state *state, double time);

#endif
