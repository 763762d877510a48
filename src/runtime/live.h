/* The live side of the msgflo runtime: graph:*, network:*, component:* and
 * runtime:packet over the FBP protocol (protocol.h), made real through the
 * running system (coord/system.h). Sans-I/O: requests come in through the
 * protocol's dispatch table, the system is called through its ops, and the
 * system's events come back through live__system_events().
 *
 * Wiring (docs/runtime-protocol.md):
 *
 *     struct live *l;
 *     live__new(runtime__protocol(rt), &sys, &l);  // registers the handlers
 *     sys.events = *live__system_events();
 *     sys.ud = l;
 *     live__on_change(l, autosave_changed, a);      // optional
 *     live__load_graph(l, graph, err, sizeof err);  // optional (--graph)
 *     ...
 *     live__free(l);  // before the protocol and the system
 *
 * One live graph at a time; at start it is "default/main" and empty. What
 * each command does is in docs/runtime-protocol.md.
 */
#ifndef MSGFLO_RUNTIME_LIVE_H
#define MSGFLO_RUNTIME_LIVE_H

#include "coord/system.h"
#include "graph/graph.h"
#include "core/strbuf.h"
#include "runtime/protocol.h"

#include <jansson.h>
#include <stddef.h>

struct live;

/* Registers the graph:*, network:*, component:* and runtime:packet handlers
 * on p (borrowed; must outlive l), using sys (borrowed; must outlive l).
 * Afterwards the caller sets sys->events = *live__system_events() and
 * sys->ud = the new live. On success *out is owned by the caller (free with
 * live__free). Returns 0, MSGFLO_EINVAL (NULL argument), MSGFLO_ENOMEM. */
int live__new(struct protocol *p, struct system *sys, struct live **out);

/* What `running` in network:started and network:status means
 * (docs/runtime-protocol.md#running). LIVE_RUNNING_STARTED (the default, as
 * the original msgflo): from network:start until network:stop.
 * LIVE_RUNNING_BUSY (the FBP protocol's and fbp-test's): while started and
 * the system is busy (IIPs to deliver, bindings being made), so a network
 * whose work drained reports running:false, started:true. */
enum live_running { LIVE_RUNNING_STARTED, LIVE_RUNNING_BUSY };
void live__set_running(struct live *l, enum live_running means);

/* Removes the handlers from the protocol and frees l; NULL is a no-op. Does
 * not call the system (the coordinator tears itself down). */
void live__free(struct live *l);

/* The system events the live layer implements (static; `ud` must be the
 * struct live). */
const struct system_events *live__system_events(void);

/* Replaces the live graph by `g` (borrowed) under the id "default/main":
 * nodes, edges, IIPs, exported ports and groups, each made real through the
 * system, then starts the network. No messages go to clients. Returns 0,
 * MSGFLO_ENOMEM, or the system's error code with its reason in err. */
int live__load_graph(struct live *l, const struct graph *g, char *err, size_t errlen);

/* The live graph as FBP JSON (live_graph__to_json): a new reference (NULL
 * when out of memory), for component:getsource and auto-save. */
json_t *live__graph_json(struct live *l);

/* Appends the system's metrics in the Prometheus text format (nodes of the
 * live graph by state, participants, processes, bindings, edges and the
 * messages on each, discovery messages, IIPs, restarts, reconnects; see
 * docs/msgflo.md#metrics) to sb. */
void live__metrics(struct live *l, struct strbuf *sb);

/* fn(ud) is called after every change of the live graph (fn NULL: none). */
void live__on_change(struct live *l, void (*fn)(void *ud), void *ud);

/* fn(ud) is called each time the system settles (system_events.settled:
 * the live graph is up as far as it will get; fn NULL: none). The caller
 * decides what to tell a person (live__progress). */
void live__on_settled(struct live *l, void (*fn)(void *ud), void *ud);

/* How far the live graph is up now, for progress lines. */
struct live_progress {
    size_t nodes;   /* nodes of the live graph */
    size_t running; /* of those, with a participant known now */
    size_t edges;   /* edges of the live graph */
    size_t bound;   /* of those, bound on the broker now */
};

/* Fills *out, and `missing` (len bytes, may be NULL) with the ids of the
 * nodes without a participant, comma-separated in graph order ("a, b"),
 * ending in ", ..." when they do not all fit. O(nodes + edges). */
void live__progress(struct live *l, struct live_progress *out, char *missing, size_t len);

#endif
