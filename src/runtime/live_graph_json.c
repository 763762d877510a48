/* The JSON-shaped parts of the live graph: exported ports, groups, and the
 * whole graph as the graph model (graph/graph.h), which writes it as FBP
 * JSON (see live_graph.h and docs/graph-models.md). */
#include "runtime/live_graph_internal.h"

#include "graph/graph.h"
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

/* The graph model's endpoint of p (strings borrowed; an index that is not
 * an integer is not written in FBP JSON). */
static struct graph_endpoint endpoint(const struct live_port *p)
{
    return (struct graph_endpoint){(char *)p->node, (char *)p->port,
                                   json_is_integer(p->index) ? json_integer_value(p->index)
                                                             : GRAPH_NO_INDEX};
}

/* The properties as saved: name (from the id) and environment unless set. */
static json_t *saved_properties(const struct live_graph *g)
{
    json_t *props = json_deep_copy(g->props);
    bool bad = !props;
    if (!bad && !json_object_get(props, "name")) {
        const char *slash = strrchr(g->id, '/');
        bad = json_object_set_new(props, "name", json_string(slash ? slash + 1 : g->id)) != 0;
    }
    if (!bad && !json_object_get(props, "environment"))
        bad = json_object_set_new(props, "environment", json_pack("{s:s}", "type", "msgflo")) != 0;
    if (bad) {
        json_decref(props);
        return NULL;
    }
    return props;
}

static int put_exports(struct graph *dst, const json_t *set, bool out)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        const char *process = json_string_value(json_object_get(v, "process"));
        const char *port = json_string_value(json_object_get(v, "port"));
        json_t *md = json_object_get(v, "metadata");
        int rc = out ? graph__set_outport(dst, k, process, port, md)
                     : graph__set_inport(dst, k, process, port, md);
        if (rc)
            return rc;
    }
    return 0;
}

static int put_groups(struct graph *dst, const json_t *groups)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)groups, k, v)
    {
        int rc =
            graph__add_group(dst, k, json_object_get(v, "nodes"), json_object_get(v, "metadata"));
        if (rc)
            return rc;
    }
    return 0;
}

static int put_processes(struct graph *dst, const struct live_graph *g)
{
    for (const struct live_node *n = live_graph__next_node(g, NULL); n;
         n = live_graph__next_node(g, n)) {
        struct graph_process *p;
        int rc = graph__ensure_process(dst, n->id, &p);
        if (rc == 0)
            rc = graph__set_component(dst, p, n->component);
        if (rc)
            return rc;
        graph__set_process_metadata(p, n->metadata);
    }
    return 0;
}

/* Edges, then IIPs, each in the order added. */
static int put_connections(struct graph *dst, const struct live_graph *g)
{
    int rc = 0;
    for (const struct live_edge *e = live_graph__next_edge(g, NULL); e && rc == 0;
         e = live_graph__next_edge(g, e)) {
        struct graph_endpoint src = endpoint(&e->src), tgt = endpoint(&e->tgt);
        rc = graph__add_edge(dst, &src, &tgt, e->metadata);
    }
    for (const struct live_iip *i = live_graph__next_iip(g, NULL); i && rc == 0;
         i = live_graph__next_iip(g, i)) {
        struct graph_endpoint tgt = endpoint(&i->tgt);
        rc = graph__add_iip(dst, i->data, &tgt, i->metadata);
    }
    return rc;
}

int live_graph__to_graph(const struct live_graph *g, struct graph **out)
{
    struct graph *dst = NULL;
    int rc = graph__new(&dst);
    if (rc)
        return rc;
    dst->case_sensitive = g->case_sensitive;
    dst->properties = saved_properties(g);
    rc = dst->properties ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = put_exports(dst, g->inports, false);
    if (rc == 0)
        rc = put_exports(dst, g->outports, true);
    if (rc == 0)
        rc = put_groups(dst, g->groups);
    if (rc == 0)
        rc = put_processes(dst, g);
    if (rc == 0)
        rc = put_connections(dst, g);
    if (rc) {
        graph__free(dst);
        return rc;
    }
    *out = dst;
    return 0;
}

json_t *live_graph__to_json(const struct live_graph *g)
{
    struct graph *model = NULL;
    json_t *doc = NULL;
    if (live_graph__to_graph(g, &model) == 0 &&
        graph_json__to_json_style(model, GRAPH_JSON_FBP_GRAPH, &doc) != 0)
        doc = NULL;
    graph__free(model);
    return doc;
}
