/* graph:* commands: change the live graph and the system, echo to every
 * client (docs/runtime-protocol.md). */
#include "runtime/live_internal.h"

#include "msgflo/errors.h"

#include <stdio.h>
#include <string.h>

#define ERRLEN 512

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Payload field `key` as a string, or an error reply and NULL. */
static const char *need(struct live *l, const struct protocol_request *req, const char *key)
{
    const char *s = str(req->payload, key);
    if (!s) {
        char msg[128];
        snprintf(msg, sizeof msg, "Missing '%.64s'", key);
        protocol__error(l->p, req, msg);
    }
    return s;
}

/* Optional metadata: an object, or absent (NULL). Its x and y must be
 * numbers (or null, to delete them); they are rounded to integers in the
 * request itself, so echo and store agree with the schema. *ok false after
 * an error reply. */
static json_t *metadata(struct live *l, const struct protocol_request *req, bool *ok)
{
    json_t *m = json_object_get(req->payload, "metadata");
    *ok = false;
    if (!m || json_is_null(m)) {
        *ok = true;
        return NULL;
    }
    if (!json_is_object(m)) {
        protocol__error(l->p, req, "'metadata' must be an object");
        return NULL;
    }
    const char *xy[] = {"x", "y"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(m, xy[i]);
        if (v && !json_is_number(v) && !json_is_null(v)) {
            char msg[64];
            snprintf(msg, sizeof msg, "'metadata.%s' must be a number", xy[i]);
            protocol__error(l->p, req, msg);
            return NULL;
        }
    }
    json_t *clean = live__node_metadata(m);
    if (!clean || json_object_set_new(req->payload, "metadata", clean) != 0)
        return NULL;
    *ok = true;
    return clean;
}

/* The live_port of an endpoint the payload gives (checked by endpoint()). */
static struct live_port port_of(const json_t *ep)
{
    struct live_port p = {str(ep, "node"), str(ep, "port"), json_object_get(ep, "index")};
    return p;
}

/* A port reference {node, port, index?} of the payload, or an error reply. */
static const json_t *endpoint(struct live *l, const struct protocol_request *req, const char *key)
{
    json_t *ep = json_object_get(req->payload, key);
    if (!json_is_string(json_object_get(ep, "node")) ||
        !json_is_string(json_object_get(ep, "port"))) {
        char msg[128];
        snprintf(msg, sizeof msg, "'%s' must be {node, port}", key);
        protocol__error(l->p, req, msg);
        return NULL;
    }
    return ep;
}

static bool node_known(struct live *l, const struct protocol_request *req, const char *id)
{
    if (live_graph__node(l->g, id))
        return true;
    char msg[300];
    snprintf(msg, sizeof msg, "Node %.256s not found", id);
    protocol__error(l->p, req, msg);
    return false;
}

/* Echo of the request with the live graph's id: the given keys (when
 * present) plus graph. */
static json_t *echo(struct live *l, const struct protocol_request *req, const char *const *keys)
{
    json_t *o = json_pack("{s:s}", "graph", live__id(l));
    for (size_t i = 0; o && keys[i]; i++) {
        json_t *v = json_object_get(req->payload, keys[i]);
        if (v && !json_is_null(v) && json_object_set(o, keys[i], v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static int done(struct live *l, const char *command, json_t *payload)
{
    live__broadcast(l, "graph", command, payload);
    live__changed(l);
    return 0;
}

static void ports_changed(struct live *l)
{
    live__broadcast(l, "runtime", "ports", live__ports(l));
}

static int handle_clear(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    static const char *const keys[] = {"id", "name", "library", "main", "icon", "description"};
    const char *id = str(req->payload, "id");
    if (!id || !*id)
        return protocol__error(l->p, req, "No graph specified");
    bool had_exports = json_object_size(live_graph__exports(l->g, false)) +
                           json_object_size(live_graph__exports(l->g, true)) >
                       0;
    int rc = live__clear(l, id);
    if (rc != 0)
        return rc;
    json_t *reply = json_object();
    json_t *props = live_graph__properties(l->g);
    for (size_t i = 0; reply && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(req->payload, keys[i]);
        if (!v)
            continue;
        json_object_set(reply, keys[i], v);
        if (i > 0)
            json_object_set(props, keys[i], v);
    }
    done(l, "clear", reply);
    if (had_exports)
        ports_changed(l);
    return 0;
}

static int handle_addnode(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok;
    const char *id = need(l, req, "id"), *component = id ? need(l, req, "component") : NULL;
    if (component && (!*id || !*component))
        return protocol__error(l->p, req, "A node needs a name and a component: one is empty");
    json_t *meta = component ? metadata(l, req, &ok) : NULL;
    if (!component || !ok)
        return 0;
    const struct live_node *node = live_graph__node(l->g, id);
    bool exists = node != NULL;
    if (exists && !node->discovered) {
        char msg[300];
        snprintf(msg, sizeof msg, "Node %.256s already exists", id);
        return protocol__error(l->p, req, msg);
    }
    char err[ERRLEN] = "";
    int rc = l->sys->ops->add_node(l->sys->self, id, component, err, sizeof err);
    if (rc != 0)
        return live__sys_error(l, req, rc, err);
    json_t *clean = meta ? live__node_metadata(meta) : NULL;
    rc = exists ? live_graph__adopt_node(l->g, id, component, clean)
                : live_graph__add_node(l->g, id, component, clean, false);
    json_t *reply =
        json_pack("{s:s, s:s, s:s}", "id", id, "component", component, "graph", live__id(l));
    if (reply && clean)
        json_object_set(reply, "metadata", clean);
    json_decref(clean);
    if (rc != 0) {
        json_decref(reply);
        return rc;
    }
    return done(l, "addnode", reply);
}

static int handle_removenode(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *id = need(l, req, "id");
    if (!id || !node_known(l, req, id))
        return 0;
    size_t exports = json_object_size(live_graph__exports(l->g, false)) +
                     json_object_size(live_graph__exports(l->g, true));
    char err[ERRLEN] = "";
    int rc = live__remove_node(l, id, true, err, sizeof err);
    if (exports != json_object_size(live_graph__exports(l->g, false)) +
                       json_object_size(live_graph__exports(l->g, true)))
        ports_changed(l);
    if (rc != 0) {
        live__changed(l); /* what was removed before the error */
        return live__sys_error(l, req, rc, err);
    }
    return done(l, "removenode", json_pack("{s:s, s:s}", "id", id, "graph", live__id(l)));
}

/* Takes role `from` out of the system and puts it back as `to` with its
 * edges, IIPs and watched outports. */
static int sys_rename(struct live *l, const char *from, const char *to, const char *component,
                      char *err, size_t errlen)
{
    const struct system_ops *ops = l->sys->ops;
    void *self = l->sys->self;
    json_t *outs = live_graph__exports(l->g, true);
    const char *k;
    json_t *x;
    int rc;
    json_object_foreach(outs, k, x)
    {
        if (strcmp(str(x, "process"), from) == 0 &&
            (rc = ops->unwatch(self, from, str(x, "port"), err, errlen)) != 0)
            return rc;
    }
    const struct live_edge *e;
    const struct live_iip *i;
    for (e = live_graph__node_edge(l->g, from, NULL); e; e = live_graph__node_edge(l->g, from, e))
        if ((rc = ops->remove_edge(self, e->src.node, e->src.port, e->tgt.node, e->tgt.port, err,
                                   errlen)) != 0)
            return rc;
    for (i = live_graph__node_iip(l->g, from, NULL); i; i = live_graph__node_iip(l->g, from, i))
        if ((rc = ops->remove_initial(self, from, i->tgt.port, err, errlen)) != 0)
            return rc;
    if ((rc = ops->remove_node(self, from, err, errlen)) != 0 ||
        (rc = ops->add_node(self, to, component, err, errlen)) != 0)
        return rc;
    for (e = live_graph__node_edge(l->g, from, NULL); e; e = live_graph__node_edge(l->g, from, e)) {
        const char *sn = e->src.node, *tn = e->tgt.node;
        if ((rc = ops->add_edge(self, strcmp(sn, from) == 0 ? to : sn, e->src.port,
                                strcmp(tn, from) == 0 ? to : tn, e->tgt.port, err, errlen)) != 0)
            return rc;
    }
    for (i = live_graph__node_iip(l->g, from, NULL); i; i = live_graph__node_iip(l->g, from, i))
        if ((rc = ops->add_initial(self, to, i->tgt.port, i->data, err, errlen)) != 0)
            return rc;
    json_object_foreach(outs, k, x)
    {
        if (strcmp(str(x, "process"), from) == 0 &&
            (rc = ops->watch(self, to, str(x, "port"), err, errlen)) != 0)
            return rc;
    }
    return 0;
}

static int handle_renamenode(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *from = need(l, req, "from"), *to = from ? need(l, req, "to") : NULL;
    if (!to || !node_known(l, req, from))
        return 0;
    /* checked before the node is taken out of the system to be renamed */
    if (!*to)
        return protocol__error(l->p, req, "The new name of the node is empty");
    if (strcmp(from, to) != 0) {
        if (live_graph__node(l->g, to)) {
            char msg[300];
            snprintf(msg, sizeof msg, "Node %.256s already exists", to);
            return protocol__error(l->p, req, msg);
        }
        char err[ERRLEN] = "";
        const char *component = live_graph__node(l->g, from)->component;
        int rc = sys_rename(l, from, to, component, err, sizeof err);
        if (rc != 0)
            return live__sys_error(l, req, rc, err);
        if ((rc = live_graph__rename_node(l->g, from, to)) != 0)
            return rc;
    }
    static const char *const keys[] = {"from", "to", NULL};
    return done(l, "renamenode", echo(l, req, keys));
}

static int handle_changenode(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok;
    const char *id = need(l, req, "id");
    json_t *changes = id ? metadata(l, req, &ok) : NULL;
    if (!id || !ok || !node_known(l, req, id))
        return 0;
    const json_t *old = live_graph__node(l->g, id)->metadata;
    json_t *merged = old ? json_deep_copy(old) : json_object();
    if (!merged || (changes && live_graph__merge_metadata(merged, changes) != 0)) {
        json_decref(merged);
        return MSGFLO_ENOMEM;
    }
    json_t *clean = live__node_metadata(merged);
    json_decref(merged);
    if (!clean || live_graph__set_node_metadata(l->g, id, clean) != 0) {
        json_decref(clean);
        return MSGFLO_ENOMEM;
    }
    return done(l, "changenode",
                json_pack("{s:s, s:o, s:s}", "id", id, "metadata", clean, "graph", live__id(l)));
}

/* {src, tgt, graph, metadata?} of an edge or (src NULL) an IIP with data. */
static json_t *reply_of(struct live *l, const struct live_port *src, const json_t *data,
                        const struct live_port *tgt, const json_t *metadata)
{
    json_t *from = src ? live_graph__port_json(src) : json_pack("{s:O}", "data", data);
    json_t *o = json_pack("{s:o, s:o, s:s}", "src", from, "tgt", live_graph__port_json(tgt),
                          "graph", live__id(l));
    if (o && metadata && json_object_set(o, "metadata", (json_t *)metadata) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *edge_reply(struct live *l, const struct live_edge *e, bool with_metadata)
{
    return reply_of(l, &e->src, NULL, &e->tgt, with_metadata ? e->metadata : NULL);
}

static json_t *iip_reply(struct live *l, const struct live_iip *i, bool with_metadata)
{
    return reply_of(l, NULL, i->data, &i->tgt, with_metadata ? i->metadata : NULL);
}

static int handle_addedge(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok = false;
    const json_t *src = endpoint(l, req, "src"), *tgt = src ? endpoint(l, req, "tgt") : NULL;
    json_t *meta = tgt ? metadata(l, req, &ok) : NULL;
    if (!ok || !node_known(l, req, str(src, "node")) || !node_known(l, req, str(tgt, "node")))
        return 0;
    const char *sn = str(src, "node"), *sp = str(src, "port");
    const char *tn = str(tgt, "node"), *tp = str(tgt, "port");
    const struct live_edge *edge = live_graph__edge(l->g, sn, sp, tn, tp);
    if (edge) {
        /* Already there (found by discovery, or sent twice): metadata only. */
        if (meta)
            live_graph__set_edge_metadata(l->g, edge, meta);
    } else {
        char err[ERRLEN] = "";
        int rc = l->sys->ops->add_edge(l->sys->self, sn, sp, tn, tp, err, sizeof err);
        if (rc != 0)
            return live__sys_error(l, req, rc, err);
        struct live_port s = port_of(src), t = port_of(tgt);
        if ((rc = live_graph__add_edge(l->g, &s, &t, meta)) != 0)
            return rc;
        edge = live_graph__edge(l->g, sn, sp, tn, tp);
    }
    return done(l, "addedge", edge_reply(l, edge, true));
}

/* The stored edge named by the payload's src and tgt, or an error reply. */
static const struct live_edge *find_edge(struct live *l, const struct protocol_request *req)
{
    const json_t *src = endpoint(l, req, "src"), *tgt = src ? endpoint(l, req, "tgt") : NULL;
    if (!tgt)
        return NULL;
    const struct live_edge *e = live_graph__edge(l->g, str(src, "node"), str(src, "port"),
                                                 str(tgt, "node"), str(tgt, "port"));
    if (!e)
        protocol__error(l->p, req, "Edge not found");
    return e;
}

static int handle_removeedge(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const struct live_edge *e = find_edge(l, req);
    if (!e)
        return 0;
    json_t *reply = edge_reply(l, e, false);
    if (!reply)
        return MSGFLO_ENOMEM;
    json_t *s = json_object_get(reply, "src"), *t = json_object_get(reply, "tgt");
    char err[ERRLEN] = "";
    int rc = l->sys->ops->remove_edge(l->sys->self, str(s, "node"), str(s, "port"), str(t, "node"),
                                      str(t, "port"), err, sizeof err);
    if (rc != 0) {
        json_decref(reply);
        return live__sys_error(l, req, rc, err);
    }
    live_graph__remove_edge(l->g, str(s, "node"), str(s, "port"), str(t, "node"), str(t, "port"));
    return done(l, "removeedge", reply);
}

static int handle_changeedge(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok = false;
    const struct live_edge *e = find_edge(l, req);
    json_t *changes = e ? metadata(l, req, &ok) : NULL;
    if (!ok)
        return 0;
    json_t *meta = e->metadata ? json_deep_copy(e->metadata) : json_object();
    if (!meta || (changes && live_graph__merge_metadata(meta, changes) != 0)) {
        json_decref(meta);
        return MSGFLO_ENOMEM;
    }
    live_graph__set_edge_metadata(l->g, e, meta);
    json_decref(meta);
    return done(l, "changeedge", edge_reply(l, e, true));
}

static int handle_addinitial(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    json_t *data = json_object_get(json_object_get(req->payload, "src"), "data");
    if (!data)
        return protocol__error(l->p, req, "'src' must be {data}");
    bool ok = false;
    const json_t *tgt = endpoint(l, req, "tgt");
    json_t *meta = tgt ? metadata(l, req, &ok) : NULL;
    if (!ok || !node_known(l, req, str(tgt, "node")))
        return 0;
    char err[ERRLEN] = "";
    int rc = l->sys->ops->add_initial(l->sys->self, str(tgt, "node"), str(tgt, "port"), data, err,
                                      sizeof err);
    if (rc != 0)
        return live__sys_error(l, req, rc, err);
    struct live_port t = port_of(tgt);
    if ((rc = live_graph__add_iip(l->g, data, &t, meta)) != 0)
        return rc;
    return done(l, "addinitial", iip_reply(l, live_graph__iip(l->g, t.node, t.port), true));
}

static int handle_removeinitial(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const json_t *tgt = endpoint(l, req, "tgt");
    if (!tgt)
        return 0;
    const char *node = str(tgt, "node"), *port = str(tgt, "port");
    const struct live_iip *iip = live_graph__iip(l->g, node, port);
    if (!iip)
        return protocol__error(l->p, req, "Initial packet not found");
    json_t *reply = iip_reply(l, iip, false);
    char err[ERRLEN] = "";
    int rc = reply ? l->sys->ops->remove_initial(l->sys->self, node, port, err, sizeof err)
                   : MSGFLO_ENOMEM;
    if (rc != 0) {
        json_decref(reply);
        return rc == MSGFLO_ENOMEM ? rc : live__sys_error(l, req, rc, err);
    }
    live_graph__remove_iip(l->g, node, port);
    return done(l, "removeinitial", reply);
}

static int add_port(struct live *l, const struct protocol_request *req, bool out)
{
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok = false;
    const char *pub = need(l, req, "public"), *node = pub ? need(l, req, "node") : NULL;
    const char *port = node ? need(l, req, "port") : NULL;
    json_t *meta = port ? metadata(l, req, &ok) : NULL;
    if (!ok || !node_known(l, req, node))
        return 0;
    char err[ERRLEN] = "";
    int rc = live__export(l, out, pub, node, port, meta, err, sizeof err);
    if (rc != 0)
        return rc == MSGFLO_ENOMEM ? rc : live__sys_error(l, req, rc, err);
    static const char *const keys[] = {"public", "node", "port", "metadata", NULL};
    done(l, out ? "addoutport" : "addinport", echo(l, req, keys));
    ports_changed(l);
    return 0;
}

static int remove_port(struct live *l, const struct protocol_request *req, bool out)
{
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *pub = need(l, req, "public");
    if (!pub)
        return 0;
    char err[ERRLEN] = "";
    int rc = live__unexport(l, out, pub, err, sizeof err);
    if (rc != 0)
        return rc == MSGFLO_ENOMEM ? rc : live__sys_error(l, req, rc, err);
    static const char *const keys[] = {"public", NULL};
    done(l, out ? "removeoutport" : "removeinport", echo(l, req, keys));
    ports_changed(l);
    return 0;
}

static int rename_port(struct live *l, const struct protocol_request *req, bool out)
{
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *from = need(l, req, "from"), *to = from ? need(l, req, "to") : NULL;
    if (!to)
        return 0;
    if (live_graph__rename_export(l->g, out, from, to) != 0)
        return protocol__error(l->p, req, "Exported port not found, or the new name is taken");
    static const char *const keys[] = {"from", "to", NULL};
    done(l, out ? "renameoutport" : "renameinport", echo(l, req, keys));
    ports_changed(l);
    return 0;
}

#define PORT_HANDLER(name, fn, out)                                                                \
    static int name(struct protocol *p, const struct protocol_request *req, void *ud)              \
    {                                                                                              \
        (void)p;                                                                                   \
        return fn(ud, req, out);                                                                   \
    }
PORT_HANDLER(handle_addinport, add_port, false)
PORT_HANDLER(handle_addoutport, add_port, true)
PORT_HANDLER(handle_removeinport, remove_port, false)
PORT_HANDLER(handle_removeoutport, remove_port, true)
PORT_HANDLER(handle_renameinport, rename_port, false)
PORT_HANDLER(handle_renameoutport, rename_port, true)

static int handle_addgroup(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok = false;
    const char *name = need(l, req, "name");
    json_t *nodes = json_object_get(req->payload, "nodes");
    size_t i;
    json_t *n;
    bool strings = json_is_array(nodes);
    json_array_foreach(nodes, i, n)
    {
        strings = strings && json_is_string(n);
    }
    if (name && !strings)
        return protocol__error(l->p, req, "'nodes' must be an array of node ids");
    json_t *meta = name ? metadata(l, req, &ok) : NULL;
    if (!ok)
        return 0;
    int rc = live_graph__add_group(l->g, name, nodes, meta);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"name", "nodes", "metadata", NULL};
    return done(l, "addgroup", echo(l, req, keys));
}

static int handle_removegroup(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *name = need(l, req, "name");
    if (!name)
        return 0;
    if (live_graph__remove_group(l->g, name) != 0)
        return protocol__error(l->p, req, "Group not found");
    static const char *const keys[] = {"name", NULL};
    return done(l, "removegroup", echo(l, req, keys));
}

static int handle_renamegroup(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *from = need(l, req, "from"), *to = from ? need(l, req, "to") : NULL;
    if (!to)
        return 0;
    if (live_graph__rename_group(l->g, from, to) != 0)
        return protocol__error(l->p, req, "Group not found, or the new name is taken");
    static const char *const keys[] = {"from", "to", NULL};
    return done(l, "renamegroup", echo(l, req, keys));
}

static int handle_changegroup(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    bool ok = false;
    const char *name = need(l, req, "name");
    json_t *meta = name ? metadata(l, req, &ok) : NULL;
    if (!ok)
        return 0;
    if (!live_graph__group(l->g, name))
        return protocol__error(l->p, req, "Group not found");
    json_t *empty = json_object();
    int rc = live_graph__change_group(l->g, name, meta ? meta : empty);
    json_decref(empty);
    if (rc != 0)
        return rc;
    json_t *merged = json_object_get(live_graph__group(l->g, name), "metadata");
    return done(
        l, "changegroup",
        json_pack("{s:s, s:O, s:s}", "name", name, "metadata", merged, "graph", live__id(l)));
}

#define GRAPH(cmd)                                                                                 \
    {                                                                                              \
        "graph", #cmd, "protocol:graph", handle_##cmd                                              \
    }
const struct live_command commands_graph[] = {
    GRAPH(clear),         GRAPH(addnode),       GRAPH(removenode),
    GRAPH(renamenode),    GRAPH(changenode),    GRAPH(addedge),
    GRAPH(removeedge),    GRAPH(changeedge),    GRAPH(addinitial),
    GRAPH(removeinitial), GRAPH(addinport),     GRAPH(addoutport),
    GRAPH(removeinport),  GRAPH(removeoutport), GRAPH(renameinport),
    GRAPH(renameoutport), GRAPH(addgroup),      GRAPH(removegroup),
    GRAPH(renamegroup),   GRAPH(changegroup),   {NULL, NULL, NULL, NULL},
};
