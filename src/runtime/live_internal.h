/* Shared by live.c, live_events.c and the commands_*.c handlers. */
#ifndef MSGFLO_RUNTIME_LIVE_INTERNAL_H
#define MSGFLO_RUNTIME_LIVE_INTERNAL_H

#include "runtime/live.h"
#include "runtime/live_graph.h"

#include <stdbool.h>

struct live_selection;
struct live_selected;

#define LIVE_NS "msgflo:live"

struct live {
    struct protocol *p;   /* borrowed */
    struct system *sys;   /* borrowed */
    struct live_graph *g; /* the live graph, owned */
    bool started;         /* network:start seen, no network:stop since */
    bool running_busy;    /* network `running` = work in flight (live__set_running) */
    double started_at;    /* wall-clock seconds of the last start */
    void (*on_change)(void *ud);
    void *change_ud;
    void (*on_settled)(void *ud);
    void *settled_ud;
    /* network:edges (live_select.c): each selecting client's edges, and
     * their union counted by client. A client absent here gets every edge. */
    struct live_selection *selections;
    struct live_selected *selected;
};

/* One row of a dispatch table (NULL protocol ends a table). */
struct live_command {
    const char *protocol;
    const char *command;
    const char *capability;
    protocol_handler_fn fn;
};

extern const struct live_command commands_graph[];
extern const struct live_command commands_network[];
extern const struct live_command commands_component[];
extern const struct live_command commands_runtime[];
extern const struct live_command commands_status[];

/* ---- live_select.c: who gets network:data of which edge ---- */

/* Replaces client's selection by `edges` (an array of {src:{node,port},
 * tgt:{node,port}}, checked by the caller); an empty one selects none.
 * NULL client: nothing. Returns 0 or MSGFLO_ENOMEM (the client then has no
 * selection: it gets every edge). */
int live_select__set(struct live *l, void *client, const json_t *edges);

/* Forgets client's selection (it is gone), or every one. */
void live_select__drop(struct live *l, void *client);
void live_select__clear(struct live *l);

/* Whether someone reads the data of role's outport `port`: a client that
 * selected nothing (so takes every edge), an exported outport on it, or a
 * selected edge from it. False while no client is connected. */
bool live_select__wanted(struct live *l, const char *role, const char *port);

/* Sends `client` network:data of the last message on each edge of `edges`
 * (as live_select__set takes them) that is in the graph and whose source
 * port the system kept a message of (system_ops.latest), once per edge. */
void live_select__send_latest(struct live *l, void *client, const json_t *edges);

/* The network:data payload of `data` on edge e (NULL: an IIP to tgt): a new
 * reference, or NULL. */
json_t *live__data_payload(struct live *l, const struct live_edge *e, const struct live_port *tgt,
                           const json_t *data);

/* Sends network:data of edge e (NULL: an IIP, sent only to clients that
 * take every edge) to the clients that want it; the payload is built
 * (build(ud), a new reference) only when one does. */
void live_select__send_data(struct live *l, const struct live_edge *e, json_t *(*build)(void *ud),
                            void *ud);

/* Tells the on_change listener. */
void live__changed(struct live *l);

/* Sends protocol:command to every client; takes ownership of payload (NULL:
 * out of memory, nothing sent). */
void live__broadcast(struct live *l, const char *protocol, const char *command, json_t *payload);

/* The id of the live graph (owned by l). */
const char *live__id(const struct live *l);

/* Whether req's payload names the live graph in `key` ("graph" or "id");
 * otherwise replies <protocol>:error "No graph specified" / "Requested graph
 * not found" and returns false. */
bool live__check_graph(struct live *l, const struct protocol_request *req, const char *key);

/* Replies <protocol>:error with the system's reason (err, or the code's text). */
int live__sys_error(struct live *l, const struct protocol_request *req, int rc, const char *err);

/* Removes node `id` with its edges, IIPs and exports from the system and the
 * store. With `notify`, removeedge / removeinitial / removeinport /
 * removeoutport are broadcast for each (the caller broadcasts removenode).
 * Stops at the first system error (the store keeps what was not removed). */
int live__remove_node(struct live *l, const char *id, bool notify, char *err, size_t errlen);

/* Removes everything of the live graph from the system, stops the network
 * and replaces the graph by an empty one `id`. */
int live__clear(struct live *l, const char *id);

/* Exports and unexports a port in store and system (outports are watched). */
int live__export(struct live *l, bool out, const char *pub, const char *node, const char *port,
                 const json_t *metadata, char *err, size_t errlen);
int live__unexport(struct live *l, bool out, const char *pub, char *err, size_t errlen);

/* The runtime:ports payload of the live graph (new reference or NULL). */
json_t *live__ports(struct live *l);

/* Wall-clock seconds, and the time as RFC 3339 UTC ("...T...Z"). */
double live__now(void);
void live__rfc3339(double t, char *buf, size_t len);

/* Node metadata as the schema wants it: a copy of m (an object) with
 * numeric x/y made integers. New reference, or NULL. */
json_t *live__node_metadata(const json_t *m);

/* A component:component payload from a system component (borrowed). */
json_t *live__component_payload(const json_t *c);

#endif
