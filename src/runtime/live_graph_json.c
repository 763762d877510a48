/* The JSON-shaped parts of the live graph: exported ports, groups, and the
 * whole graph as FBP JSON (see live_graph.h). */
#include "runtime/live_graph_internal.h"

#include "msgflo/errors.h"

#include <string.h>

/* ---- exports ---- */

json_t *live_graph__exports(const struct live_graph *g, bool out)
{
    return out ? g->outports : g->inports;
}

json_t *live_graph__export(const struct live_graph *g, bool out, const char *pub)
{
    return json_object_get(live_graph__exports(g, out), pub);
}

int live_graph__set_export(struct live_graph *g, bool out, const char *pub, const char *node,
                           const char *port, const json_t *metadata)
{
    json_t *e = json_pack("{s:s, s:s}", "process", node, "port", port);
    if (!e)
        return MSGFLO_ENOMEM;
    if (metadata && json_object_set_new(e, "metadata", json_deep_copy(metadata)) != 0) {
        json_decref(e);
        return MSGFLO_ENOMEM;
    }
    return json_object_set_new(live_graph__exports(g, out), pub, e) == 0 ? 0 : MSGFLO_ENOMEM;
}

int live_graph__remove_export(struct live_graph *g, bool out, const char *pub)
{
    return json_object_del(live_graph__exports(g, out), pub) == 0 ? 0 : MSGFLO_EINVAL;
}

/* Renames key `from` of object o to `to` (which must not exist). */
static int rename_key(json_t *o, const char *from, const char *to)
{
    json_t *v = json_object_get(o, from);
    if (!v || json_object_get(o, to))
        return MSGFLO_EINVAL;
    if (strcmp(from, to) == 0)
        return 0;
    if (json_object_set(o, to, v) != 0)
        return MSGFLO_ENOMEM;
    json_object_del(o, from);
    return 0;
}

int live_graph__rename_export(struct live_graph *g, bool out, const char *from, const char *to)
{
    return rename_key(live_graph__exports(g, out), from, to);
}

/* ---- groups ---- */

json_t *live_graph__group(const struct live_graph *g, const char *name)
{
    return json_object_get(g->groups, name);
}

int live_graph__add_group(struct live_graph *g, const char *name, const json_t *nodes,
                          const json_t *metadata)
{
    if (!json_is_array(nodes))
        return MSGFLO_EINVAL;
    json_t *grp = json_pack("{s:s, s:o}", "name", name, "nodes", json_deep_copy(nodes));
    if (!grp)
        return MSGFLO_ENOMEM;
    if (metadata && json_object_set_new(grp, "metadata", json_deep_copy(metadata)) != 0) {
        json_decref(grp);
        return MSGFLO_ENOMEM;
    }
    return json_object_set_new(g->groups, name, grp) == 0 ? 0 : MSGFLO_ENOMEM;
}

int live_graph__remove_group(struct live_graph *g, const char *name)
{
    return json_object_del(g->groups, name) == 0 ? 0 : MSGFLO_EINVAL;
}

int live_graph__rename_group(struct live_graph *g, const char *from, const char *to)
{
    int rc = rename_key(g->groups, from, to);
    if (rc == 0)
        rc = json_object_set_new(json_object_get(g->groups, to), "name", json_string(to)) == 0
                 ? 0
                 : MSGFLO_ENOMEM;
    return rc;
}

int live_graph__merge_metadata(json_t *metadata, const json_t *changes)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)changes, k, v)
    {
        if (json_is_null(v))
            json_object_del(metadata, k);
        else if (json_object_set(metadata, k, v) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

int live_graph__change_group(struct live_graph *g, const char *name, const json_t *metadata)
{
    json_t *grp = json_object_get(g->groups, name);
    if (!grp)
        return MSGFLO_EINVAL;
    json_t *meta = json_object_get(grp, "metadata");
    if (!meta) {
        meta = json_object();
        if (!meta || json_object_set_new(grp, "metadata", meta) != 0)
            return MSGFLO_ENOMEM;
    }
    return live_graph__merge_metadata(meta, metadata);
}

int live_graph__groups_rename(struct live_graph *g, const char *id, const char *to)
{
    const char *k;
    json_t *grp;
    json_object_foreach(g->groups, k, grp)
    {
        json_t *nodes = json_object_get(grp, "nodes");
        for (size_t i = json_array_size(nodes); i-- > 0;) {
            const char *n = json_string_value(json_array_get(nodes, i));
            if (!n || strcmp(n, id) != 0)
                continue;
            if (!to)
                json_array_remove(nodes, i);
            else if (json_array_set_new(nodes, i, json_string(to)) != 0)
                return MSGFLO_ENOMEM;
        }
    }
    return 0;
}

int live_graph__exports_rename(json_t *exports, const char *id, const char *to)
{
    const char *k;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(exports, tmp, k, e)
    {
        const char *p = json_string_value(json_object_get(e, "process"));
        if (!p || strcmp(p, id) != 0)
            continue;
        if (!to)
            json_object_del(exports, k);
        else if (json_object_set_new(e, "process", json_string(to)) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

/* ---- FBP JSON ---- */

json_t *live_graph__port_json(const struct live_port *p)
{
    json_t *o = json_pack("{s:s, s:s}", "node", p->node, "port", p->port);
    if (o && p->index && json_object_set_new(o, "index", json_deep_copy(p->index)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {process, port, index?} as fbp-graph writes it (integer indexes only). */
static json_t *fbp_endpoint(const struct live_port *p)
{
    json_t *o = json_pack("{s:s, s:s}", "process", p->node, "port", p->port);
    if (o && json_is_integer(p->index) &&
        json_object_set_new(o, "index", json_deep_copy(p->index)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Sets o's metadata to m when it is a non-empty object (as fbp-graph);
 * non-zero when out of memory. */
static int set_metadata_if(json_t *o, const json_t *m)
{
    if (!json_is_object(m) || json_object_size(m) == 0)
        return 0;
    return json_object_set_new(o, "metadata", json_deep_copy(m));
}

/* {a, b, metadata?} of an export or group v: a new reference, or NULL. */
static json_t *fbp_element(const json_t *v, const char *a, const char *b)
{
    json_t *e = json_pack("{s:O, s:O}", a, json_object_get(v, a), b, json_object_get(v, b));
    if (e && set_metadata_if(e, json_object_get(v, "metadata")) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static int put_exports(json_t *dst, const json_t *set)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        if (json_object_set_new(dst, k, fbp_element(v, "process", "port")) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

static int put_groups(json_t *dst, const json_t *groups)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)groups, k, v)
    {
        if (json_array_append_new(dst, fbp_element(v, "name", "nodes")) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

static int put_processes(json_t *dst, const struct live_graph *g)
{
    for (const struct live_node *n = live_graph__next_node(g, NULL); n;
         n = live_graph__next_node(g, n)) {
        json_t *e = json_pack("{s:s, s:o}", "component", n->component, "metadata",
                              n->metadata ? json_deep_copy(n->metadata) : json_object());
        if (!e || json_object_set_new(dst, n->id, e) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

/* Edges, then IIPs, each in the order added. */
static int put_connections(json_t *dst, const struct live_graph *g)
{
    for (const struct live_edge *e = live_graph__next_edge(g, NULL); e;
         e = live_graph__next_edge(g, e)) {
        json_t *c =
            json_pack("{s:o, s:o}", "src", fbp_endpoint(&e->src), "tgt", fbp_endpoint(&e->tgt));
        if (!c || set_metadata_if(c, e->metadata) != 0 || json_array_append_new(dst, c) != 0)
            return MSGFLO_ENOMEM;
    }
    for (const struct live_iip *i = live_graph__next_iip(g, NULL); i;
         i = live_graph__next_iip(g, i)) {
        json_t *c = json_pack("{s:O, s:o}", "data", i->data, "tgt", fbp_endpoint(&i->tgt));
        if (!c || set_metadata_if(c, i->metadata) != 0 || json_array_append_new(dst, c) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

json_t *live_graph__to_json(const struct live_graph *g)
{
    json_t *props = json_deep_copy(g->props), *in = json_object(), *outp = json_object(),
           *groups = json_array(), *procs = json_object(), *conns = json_array();
    json_t *doc = json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "caseSensitive",
                            g->case_sensitive, "properties", props, "inports", in, "outports", outp,
                            "groups", groups, "processes", procs, "connections", conns);
    bool bad = !doc;
    if (!bad && !json_object_get(props, "name")) {
        const char *slash = strrchr(g->id, '/');
        bad = json_object_set_new(props, "name", json_string(slash ? slash + 1 : g->id)) != 0;
    }
    if (!bad && !json_object_get(props, "environment"))
        bad = json_object_set_new(props, "environment", json_pack("{s:s}", "type", "msgflo")) != 0;
    if (bad || put_exports(in, g->inports) != 0 || put_exports(outp, g->outports) != 0 ||
        put_groups(groups, g->groups) != 0 || put_processes(procs, g) != 0 ||
        put_connections(conns, g) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
