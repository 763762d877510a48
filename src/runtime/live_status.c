/* The running system's state for the live view (msgflo:getstatus over the
 * FBP protocol's WebSocket) and for /metrics (live__metrics): what the
 * system says of each node and edge of the live graph (system_ops
 * role_status, edge_status, counters, through the caches of
 * role_status_ref and edge_status_ref), O(1) per node and edge. */
#include "runtime/live_internal.h"

#include "msgflo/errors.h"
#include "runtime/metrics.h"

#include <stdio.h>
#include <string.h>

/* Through the node's and the edge's cache when the system keeps one: a
 * walk of the graph then looks nothing up by name. */
static void role_status(struct live *l, const struct live_node *n, struct system_role_status *st)
{
    memset(st, 0, sizeof *st);
    st->state = "expected";
    st->last_seen_s = -1;
    const struct system_ops *ops = l->sys->ops;
    if (ops->role_status_ref)
        ops->role_status_ref(l->sys->self, n->id, live_graph__node_status_ref(l->g, n), st);
    else if (ops->role_status)
        ops->role_status(l->sys->self, n->id, st);
}

static void edge_status(struct live *l, const struct live_edge *e, bool *bound,
                        unsigned long long *messages)
{
    *bound = false;
    *messages = 0;
    const struct system_ops *ops = l->sys->ops;
    if (ops->edge_status_ref)
        ops->edge_status_ref(l->sys->self, e->src.node, e->src.port, e->tgt.node, e->tgt.port,
                             live_graph__edge_status_ref(l->g, e), bound, messages);
    else if (ops->edge_status)
        ops->edge_status(l->sys->self, e->src.node, e->src.port, e->tgt.node, e->tgt.port, bound,
                         messages);
}

static void counters(struct live *l, struct system_counters *c)
{
    memset(c, 0, sizeof *c);
    if (l->sys->ops->counters)
        l->sys->ops->counters(l->sys->self, c);
}

/* msgflo:getstatus -> msgflo:status {graph, time, connected, nodes: {role:
 * {state, ours, pid?, restarts, instances, lastSeen?}}, edges: [{src, tgt,
 * bound, messages}], counters: {...}}: sent to the requester only, so FBP
 * clients that never ask (Flowhub, fbp-test) never see it. */
static int handle_getstatus(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    json_t *nodes = json_object(), *edges = json_array();
    json_t *payload = json_pack("{s:s, s:f, s:o, s:o}", "graph", live__id(l), "time", live__now(),
                                "nodes", nodes, "edges", edges);
    if (!payload)
        return MSGFLO_ENOMEM;
    for (const struct live_node *n = live_graph__next_node(l->g, NULL); n;
         n = live_graph__next_node(l->g, n)) {
        struct system_role_status st;
        role_status(l, n, &st);
        json_t *o = json_pack("{s:s, s:b, s:i, s:I}", "state", st.state, "ours", st.ours,
                              "restarts", (int)st.restarts, "instances", (json_int_t)st.instances);
        if (o && st.pid > 0)
            json_object_set_new(o, "pid", json_integer(st.pid));
        if (o && st.last_seen_s >= 0)
            json_object_set_new(o, "lastSeen", json_real(st.last_seen_s));
        if (!o || json_object_set_new(nodes, n->id, o) != 0)
            goto nomem;
    }
    for (const struct live_edge *e = live_graph__next_edge(l->g, NULL); e;
         e = live_graph__next_edge(l->g, e)) {
        bool bound;
        unsigned long long messages;
        edge_status(l, e, &bound, &messages);
        json_t *o = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:b, s:I}", "src", "node", e->src.node,
                              "port", e->src.port, "tgt", "node", e->tgt.node, "port", e->tgt.port,
                              "bound", bound, "messages", (json_int_t)messages);
        if (json_array_append_new(edges, o) != 0)
            goto nomem;
    }
    struct system_counters c;
    counters(l, &c);
    json_t *co =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", c.connected,
                  "participants", (json_int_t)c.participants, "roles", (json_int_t)c.roles,
                  "processes", (json_int_t)c.processes, "bindings", (json_int_t)c.bindings,
                  "discoveryMessages", (json_int_t)c.discovery_messages, "dataMessages",
                  (json_int_t)c.data_messages, "iipsSent", (json_int_t)c.iips_sent, "restarts",
                  (json_int_t)c.restarts, "reconnects", (json_int_t)c.reconnects);
    if (!co || json_object_set_new(payload, "counters", co) != 0)
        goto nomem;
    return protocol__reply(p, req, "status", payload);
nomem:
    json_decref(payload);
    return MSGFLO_ENOMEM;
}

/* Appends ", id" (or "id" first) to missing; ", ..." once it is full. */
static void add_missing(char *missing, size_t len, size_t *used, const char *id)
{
    static const char more[] = ", ...";
    if (!missing || *used >= len)
        return;
    const char *sep = *used ? ", " : "";
    size_t need = strlen(sep) + strlen(id);
    if (*used + need + sizeof more <= len) {
        *used += (size_t)snprintf(missing + *used, len - *used, "%s%s", sep, id);
        return;
    }
    if (*used + sizeof more <= len)
        snprintf(missing + *used, len - *used, "%s", *used ? more : more + 2);
    *used = len; /* full: nothing more */
}

void live__progress(struct live *l, struct live_progress *out, char *missing, size_t len)
{
    memset(out, 0, sizeof *out);
    size_t used = 0;
    if (missing && len)
        missing[0] = '\0';
    for (const struct live_node *n = live_graph__next_node(l->g, NULL); n;
         n = live_graph__next_node(l->g, n)) {
        struct system_role_status st;
        role_status(l, n, &st);
        out->nodes++;
        if (st.instances > 0)
            out->running++;
        else
            add_missing(missing, len, &used, n->id);
    }
    for (const struct live_edge *e = live_graph__next_edge(l->g, NULL); e;
         e = live_graph__next_edge(l->g, e)) {
        bool bound;
        unsigned long long messages;
        edge_status(l, e, &bound, &messages);
        out->edges++;
        out->bound += bound;
    }
}

const struct live_command commands_status[] = {
    {"msgflo", "getstatus", "protocol:network", handle_getstatus},
    {NULL, NULL, NULL, NULL},
};

void live__metrics(struct live *l, struct strbuf *sb)
{
    size_t by_state[METRICS_N_STATES] = {0};
    for (const struct live_node *n = live_graph__next_node(l->g, NULL); n;
         n = live_graph__next_node(l->g, n)) {
        struct system_role_status st;
        role_status(l, n, &st);
        metrics__count_state(by_state, st.state);
    }
    metrics__nodes(sb, by_state);
    struct system_counters c;
    counters(l, &c);
    metrics__counters(sb, &c);

    size_t bound_edges = 0, edges = 0;
    metrics__family(sb, "msgflo_edge_messages_total", "counter",
                    "Messages on the source port of each edge of the live graph, counted on "
                    "the runtime's watch of that port.");
    for (const struct live_edge *e = live_graph__next_edge(l->g, NULL); e;
         e = live_graph__next_edge(l->g, e)) {
        bool bound;
        unsigned long long messages;
        edge_status(l, e, &bound, &messages);
        edges++;
        bound_edges += bound;
        const char *labels[] = {"src",       e->src.node, "src_port",  e->src.port, "tgt",
                                e->tgt.node, "tgt_port",  e->tgt.port, NULL};
        metrics__sample(sb, "msgflo_edge_messages_total", labels, (double)messages);
    }
    metrics__edges(sb, bound_edges, edges - bound_edges);
}
