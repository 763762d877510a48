/* What the system reports, turned into FBP protocol messages for every
 * client (docs/runtime-protocol.md). */
#include "runtime/live_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Appends s (uppercased when `upper`) at *at in buf; false when it does not fit. */
static bool put(char *buf, size_t cap, size_t *at, const char *s, bool upper)
{
    size_t n = strlen(s);
    if (*at + n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        buf[*at + i] = upper ? (char)toupper((unsigned char)s[i]) : s[i];
    *at += n;
    buf[*at] = '\0';
    return true;
}

/* The noflo edge id: "A() OUT -> IN B()", or "DATA -> IN B()" without a
 * source. A new JSON string, or NULL. */
static json_t *edge_id(const char *src, const char *src_port, const char *tgt, const char *tgt_port)
{
    size_t cap = 32 + strlen(tgt) + strlen(tgt_port) + (src ? strlen(src) + strlen(src_port) : 0);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t at = 0;
    buf[0] = '\0';
    bool ok = true;
    if (src)
        ok = put(buf, cap, &at, src, false) && put(buf, cap, &at, "() ", false) &&
             put(buf, cap, &at, src_port, true) && put(buf, cap, &at, " -> ", false);
    else
        ok = put(buf, cap, &at, "DATA -> ", false);
    ok = ok && put(buf, cap, &at, tgt_port, true) && put(buf, cap, &at, " ", false) &&
         put(buf, cap, &at, tgt, false) && put(buf, cap, &at, "()", false);
    json_t *id = ok ? json_string(buf) : NULL;
    free(buf);
    return id;
}

struct data_event {
    struct live *l;
    const struct live_edge *e; /* NULL: an IIP */
    const struct live_port *tgt;
    const json_t *data;
};

json_t *live__data_payload(struct live *l, const struct live_edge *e, const struct live_port *tgt,
                           const json_t *data)
{
    if (!e)
        return json_pack("{s:o, s:s, s:o, s:O}", "id", edge_id(NULL, NULL, tgt->node, tgt->port),
                         "graph", live__id(l), "tgt", live_graph__port_json(tgt), "data", data);
    return json_pack("{s:o, s:s, s:o, s:o, s:O}", "id",
                     edge_id(e->src.node, e->src.port, e->tgt.node, e->tgt.port), "graph",
                     live__id(l), "src", live_graph__port_json(&e->src), "tgt",
                     live_graph__port_json(&e->tgt), "data", data);
}

static json_t *data_payload(void *ud)
{
    const struct data_event *d = ud;
    return live__data_payload(d->l, d->e, d->tgt, d->data);
}

static void on_data(void *ud, const char *role, const char *port, const json_t *data)
{
    struct live *l = ud;
    for (const struct live_edge *e = live_graph__node_edge(l->g, role, NULL); e;
         e = live_graph__node_edge(l->g, role, e)) {
        if (strcmp(e->src.node, role) != 0 || strcmp(e->src.port, port) != 0)
            continue;
        struct data_event d = {l, e, &e->tgt, data};
        live_select__send_data(l, e, data_payload, &d);
    }
    const char *k;
    json_t *e;
    json_object_foreach(live_graph__exports(l->g, true), k, e)
    {
        if (strcmp(str(e, "process"), role) == 0 && strcmp(str(e, "port"), port) == 0)
            live__broadcast(l, "runtime", "packet",
                            json_pack("{s:s, s:s, s:O, s:s}", "port", k, "event", "data", "payload",
                                      data, "graph", live__id(l)));
    }
}

/* Data is parsed only for a port whose messages some client reads. */
static bool on_data_wanted(void *ud, const char *role, const char *port)
{
    return live_select__wanted(ud, role, port);
}

static void on_initial_sent(void *ud, const char *role, const char *port, const json_t *data)
{
    struct live *l = ud;
    const struct live_iip *iip = live_graph__iip(l->g, role, port);
    struct live_port p = {role, port, NULL};
    struct data_event d = {l, NULL, iip ? &iip->tgt : &p, data};
    live_select__send_data(l, NULL, data_payload, &d);
}

static void on_participant_added(void *ud, const char *role, const json_t *definition)
{
    struct live *l = ud;
    if (live_graph__node(l->g, role))
        return;
    const char *component = str(definition, "component");
    if (!component)
        component = role;
    if (live_graph__add_node(l->g, role, component, NULL, true) != 0) {
        LOG_WARNING(LIVE_NS, "discovered %s not added to the graph: out of memory", role);
        return;
    }
    if (protocol__broadcasting(l->p))
        live__broadcast(l, "graph", "addnode",
                        json_pack("{s:s, s:s, s:{}, s:s}", "id", role, "component", component,
                                  "metadata", "graph", live__id(l)));
    live__changed(l);
}

static void on_edge_found(void *ud, const char *src_role, const char *src_port,
                          const char *tgt_role, const char *tgt_port)
{
    struct live *l = ud;
    if (!live_graph__node(l->g, src_role) || !live_graph__node(l->g, tgt_role) ||
        live_graph__edge(l->g, src_role, src_port, tgt_role, tgt_port))
        return;
    char err[512] = "";
    /* So its data is watched; binding a queue the two share already is harmless. */
    if (l->sys->ops->add_edge(l->sys->self, src_role, src_port, tgt_role, tgt_port, err,
                              sizeof err) != 0) {
        LOG_WARNING(LIVE_NS, "found edge %s.%s -> %s.%s: %s", src_role, src_port, tgt_role,
                    tgt_port, err);
        return;
    }
    struct live_port src = {src_role, src_port, NULL}, tgt = {tgt_role, tgt_port, NULL};
    if (live_graph__add_edge(l->g, &src, &tgt, NULL) != 0) {
        LOG_WARNING(LIVE_NS, "found edge %s.%s -> %s.%s not added to the graph: out of memory",
                    src_role, src_port, tgt_role, tgt_port);
        return;
    }
    if (protocol__broadcasting(l->p))
        live__broadcast(l, "graph", "addedge",
                        json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:s}", "src", "node", src_role,
                                  "port", src_port, "tgt", "node", tgt_role, "port", tgt_port,
                                  "graph", live__id(l)));
    live__changed(l);
}

static void process_error(struct live *l, const char *role, const char *message)
{
    live__broadcast(
        l, "network", "processerror",
        json_pack("{s:s, s:s, s:s}", "id", role, "error", message, "graph", live__id(l)));
}

static void on_participant_expired(void *ud, const char *role, const char *message)
{
    struct live *l = ud;
    const struct live_node *node = live_graph__node(l->g, role);
    if (!node)
        return;
    if (!node->discovered) {
        process_error(l, role, message);
        return;
    }
    char err[512] = "";
    int rc = live__remove_node(l, role, true, err, sizeof err);
    if (rc != 0) {
        LOG_WARNING(LIVE_NS, "expired %s: %s", role, err);
        live_graph__remove_node(l->g, role);
    }
    live__broadcast(l, "graph", "removenode",
                    json_pack("{s:s, s:s}", "id", role, "graph", live__id(l)));
    live__changed(l);
}

static void on_process_error(void *ud, const char *role, const char *message)
{
    LOG_WARNING(LIVE_NS, "%s", message);
    process_error(ud, role, message);
}

static void on_error(void *ud, const char *message)
{
    struct live *l = ud;
    LOG_WARNING(LIVE_NS, "%s", message);
    live__broadcast(l, "network", "error",
                    json_pack("{s:s, s:s}", "message", message, "graph", live__id(l)));
}

/* Every component again (the component library changed). */
static void on_components_changed(void *ud)
{
    struct live *l = ud;
    if (!protocol__broadcasting(l->p))
        return;
    json_t *all = l->sys->ops->components(l->sys->self);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        json_t *payload = live__component_payload(c);
        if (payload)
            live__broadcast(l, "component", "component", payload);
    }
    json_decref(all);
}

/* One component: component:component with its definition. A component no
 * longer listed is not announced (FBP protocol 0.7 has no message for it):
 * the next component:list leaves it out. */
static void on_component_changed(void *ud, const char *name)
{
    struct live *l = ud;
    if (!protocol__broadcasting(l->p))
        return;
    if (l->sys->ops->component) {
        json_t *c = l->sys->ops->component(l->sys->self, name);
        if (c)
            live__broadcast(l, "component", "component", live__component_payload(c));
        json_decref(c);
        return;
    }
    json_t *all = l->sys->ops->components(l->sys->self);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            live__broadcast(l, "component", "component", live__component_payload(c));
    }
    json_decref(all);
}

static void on_settled(void *ud)
{
    struct live *l = ud;
    if (l->on_settled)
        l->on_settled(l->settled_ud);
}

static const struct system_events events = {
    .data = on_data,
    .data_wanted = on_data_wanted,
    .initial_sent = on_initial_sent,
    .participant_added = on_participant_added,
    .edge_found = on_edge_found,
    .participant_expired = on_participant_expired,
    .process_error = on_process_error,
    .error = on_error,
    .components_changed = on_components_changed,
    .component_changed = on_component_changed,
    .settled = on_settled,
};

const struct system_events *live__system_events(void)
{
    return &events;
}
