/* The live graph store: indexed JSON elements (see live_graph.h). */
#include "runtime/live_graph.h"

#include "core/key.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct live_graph {
    char *id;
    json_t *props;
    json_t *nodes;     /* id -> node */
    json_t *edges;     /* key4 -> edge */
    json_t *by_src;    /* key2(src node, src port) -> {key4 -> edge} */
    json_t *by_node;   /* node -> {key4 -> edge} (as source or target) */
    json_t *iips;      /* key2(tgt node, tgt port) -> IIP */
    json_t *node_iips; /* node -> {key2 -> IIP} */
    json_t *inports, *outports;
    json_t *groups; /* name -> group */
    bool case_sensitive;
};

static char *key2(const char *a, const char *b)
{
    const char *p[2] = {a, b};
    return key__join(p, 2);
}

static char *key4(const char *a, const char *b, const char *c, const char *d)
{
    const char *p[4] = {a, b, c, d};
    return key__join(p, 4);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int live_graph__new(const char *id, struct live_graph **out)
{
    *out = NULL;
    struct live_graph *g = calloc(1, sizeof *g);
    if (!g)
        return MSGFLO_ENOMEM;
    g->id = strdup(id);
    g->props = json_object();
    g->nodes = json_object();
    g->edges = json_object();
    g->by_src = json_object();
    g->by_node = json_object();
    g->iips = json_object();
    g->node_iips = json_object();
    g->inports = json_object();
    g->outports = json_object();
    g->groups = json_object();
    g->case_sensitive = true;
    if (!g->id || !g->props || !g->nodes || !g->edges || !g->by_src || !g->by_node || !g->iips ||
        !g->node_iips || !g->inports || !g->outports || !g->groups) {
        live_graph__free(g);
        return MSGFLO_ENOMEM;
    }
    *out = g;
    return 0;
}

void live_graph__free(struct live_graph *g)
{
    if (!g)
        return;
    free(g->id);
    json_decref(g->props);
    json_decref(g->nodes);
    json_decref(g->edges);
    json_decref(g->by_src);
    json_decref(g->by_node);
    json_decref(g->iips);
    json_decref(g->node_iips);
    json_decref(g->inports);
    json_decref(g->outports);
    json_decref(g->groups);
    free(g);
}

const char *live_graph__id(const struct live_graph *g)
{
    return g->id;
}

json_t *live_graph__properties(struct live_graph *g)
{
    return g->props;
}

void live_graph__set_case_sensitive(struct live_graph *g, bool on)
{
    g->case_sensitive = on;
}

/* ---- nodes ---- */

json_t *live_graph__node(const struct live_graph *g, const char *id)
{
    return json_object_get(g->nodes, id);
}

json_t *live_graph__nodes(const struct live_graph *g)
{
    return g->nodes;
}

int live_graph__add_node(struct live_graph *g, const char *id, const char *component,
                         const json_t *metadata, bool discovered)
{
    if (json_object_get(g->nodes, id))
        return MSGFLO_EINVAL;
    json_t *meta = metadata ? json_deep_copy(metadata) : json_object();
    json_t *node = json_pack("{s:s, s:o}", "component", component, "metadata", meta);
    if (!node)
        return MSGFLO_ENOMEM;
    if (discovered && json_object_set_new(node, "discovered", json_true()) != 0) {
        json_decref(node);
        return MSGFLO_ENOMEM;
    }
    return json_object_set_new(g->nodes, id, node) == 0 ? 0 : MSGFLO_ENOMEM;
}

bool live_graph__node_discovered(const struct live_graph *g, const char *id)
{
    return json_is_true(json_object_get(json_object_get(g->nodes, id), "discovered"));
}

int live_graph__adopt_node(struct live_graph *g, const char *id, const char *component,
                           const json_t *metadata)
{
    json_t *node = json_object_get(g->nodes, id);
    if (!node)
        return MSGFLO_EINVAL;
    json_t *meta = metadata ? json_deep_copy(metadata) : json_object();
    if (json_object_set_new(node, "component", json_string(component)) != 0 ||
        json_object_set_new(node, "metadata", meta) != 0)
        return MSGFLO_ENOMEM;
    json_object_del(node, "discovered");
    return 0;
}

int live_graph__set_node_metadata(struct live_graph *g, const char *id, json_t *metadata)
{
    json_t *node = json_object_get(g->nodes, id);
    if (!node)
        return MSGFLO_EINVAL;
    return json_object_set(node, "metadata", metadata) == 0 ? 0 : MSGFLO_ENOMEM;
}

json_t *live_graph__node_edges(const struct live_graph *g, const char *id)
{
    return json_object_get(g->by_node, id);
}

json_t *live_graph__node_iips(const struct live_graph *g, const char *id)
{
    return json_object_get(g->node_iips, id);
}

/* Adds `elem` under `key` in the object idx[name] (created when missing). */
static int index_add(json_t *idx, const char *name, const char *key, json_t *elem)
{
    json_t *set = json_object_get(idx, name);
    if (!set) {
        set = json_object();
        if (!set || json_object_set_new(idx, name, set) != 0)
            return MSGFLO_ENOMEM;
    }
    return json_object_set(set, key, elem) == 0 ? 0 : MSGFLO_ENOMEM;
}

static void index_del(json_t *idx, const char *name, const char *key)
{
    json_t *set = json_object_get(idx, name);
    json_object_del(set, key);
    if (set && json_object_size(set) == 0)
        json_object_del(idx, name);
}

/* {node, port, index?} of an endpoint, other keys dropped. */
static json_t *endpoint_copy(const json_t *ep)
{
    json_t *c = json_pack("{s:s, s:s}", "node", str(ep, "node"), "port", str(ep, "port"));
    json_t *index = json_object_get(ep, "index");
    if (c && (json_is_string(index) || json_is_number(index)))
        json_object_set(c, "index", index);
    return c;
}

static bool endpoint_ok(const json_t *ep)
{
    return json_is_string(json_object_get(ep, "node")) &&
           json_is_string(json_object_get(ep, "port"));
}

/* ---- edges ---- */

json_t *live_graph__edge(const struct live_graph *g, const char *src_node, const char *src_port,
                         const char *tgt_node, const char *tgt_port)
{
    char *k = key4(src_node, src_port, tgt_node, tgt_port);
    json_t *e = k ? json_object_get(g->edges, k) : NULL;
    free(k);
    return e;
}

json_t *live_graph__edges(const struct live_graph *g)
{
    return g->edges;
}

json_t *live_graph__edges_from(const struct live_graph *g, const char *node, const char *port)
{
    char *k = key2(node, port);
    json_t *e = k ? json_object_get(g->by_src, k) : NULL;
    free(k);
    return e;
}

int live_graph__add_edge(struct live_graph *g, const json_t *src, const json_t *tgt,
                         const json_t *metadata)
{
    if (!endpoint_ok(src) || !endpoint_ok(tgt))
        return MSGFLO_EINVAL;
    const char *sn = str(src, "node"), *sp = str(src, "port");
    const char *tn = str(tgt, "node"), *tp = str(tgt, "port");
    int rc = MSGFLO_ENOMEM;
    char *k = key4(sn, sp, tn, tp);
    char *ks = key2(sn, sp);
    json_t *edge = json_pack("{s:o, s:o}", "src", endpoint_copy(src), "tgt", endpoint_copy(tgt));
    if (!k || !ks || !edge)
        goto out;
    if (metadata && json_object_set_new(edge, "metadata", json_deep_copy(metadata)) != 0)
        goto out;
    rc = MSGFLO_EINVAL;
    if (json_object_get(g->edges, k))
        goto out;
    rc = MSGFLO_ENOMEM;
    if (json_object_set(g->edges, k, edge) != 0)
        goto out;
    if (index_add(g->by_src, ks, k, edge) != 0 || index_add(g->by_node, sn, k, edge) != 0 ||
        index_add(g->by_node, tn, k, edge) != 0) {
        live_graph__remove_edge(g, sn, sp, tn, tp);
        goto out;
    }
    rc = 0;
out:
    free(k);
    free(ks);
    json_decref(edge);
    return rc;
}

int live_graph__remove_edge(struct live_graph *g, const char *src_node, const char *src_port,
                            const char *tgt_node, const char *tgt_port)
{
    char *k = key4(src_node, src_port, tgt_node, tgt_port);
    char *ks = key2(src_node, src_port);
    int rc = MSGFLO_ENOMEM;
    if (!k || !ks)
        goto out;
    rc = MSGFLO_EINVAL;
    if (!json_object_get(g->edges, k))
        goto out;
    index_del(g->by_src, ks, k);
    index_del(g->by_node, src_node, k);
    index_del(g->by_node, tgt_node, k);
    json_object_del(g->edges, k);
    rc = 0;
out:
    free(k);
    free(ks);
    return rc;
}

/* ---- IIPs ---- */

json_t *live_graph__iip(const struct live_graph *g, const char *node, const char *port)
{
    char *k = key2(node, port);
    json_t *e = k ? json_object_get(g->iips, k) : NULL;
    free(k);
    return e;
}

json_t *live_graph__iips(const struct live_graph *g)
{
    return g->iips;
}

int live_graph__add_iip(struct live_graph *g, const json_t *data, const json_t *tgt,
                        const json_t *metadata)
{
    if (!data || !endpoint_ok(tgt))
        return MSGFLO_EINVAL;
    const char *tn = str(tgt, "node"), *tp = str(tgt, "port");
    int rc = MSGFLO_ENOMEM;
    char *k = key2(tn, tp);
    json_t *iip = json_pack("{s:{s:O}, s:o}", "src", "data", data, "tgt", endpoint_copy(tgt));
    if (!k || !iip)
        goto out;
    if (metadata && json_object_set_new(iip, "metadata", json_deep_copy(metadata)) != 0)
        goto out;
    if (json_object_set(g->iips, k, iip) != 0 || index_add(g->node_iips, tn, k, iip) != 0)
        goto out;
    rc = 0;
out:
    free(k);
    json_decref(iip);
    return rc;
}

int live_graph__remove_iip(struct live_graph *g, const char *node, const char *port)
{
    char *k = key2(node, port);
    if (!k)
        return MSGFLO_ENOMEM;
    int rc = MSGFLO_EINVAL;
    if (json_object_get(g->iips, k)) {
        index_del(g->node_iips, node, k);
        json_object_del(g->iips, k);
        rc = 0;
    }
    free(k);
    return rc;
}

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

/* ---- whole nodes ---- */

/* Copies of the elements of set (an object), so the graph may change while
 * they are used. A new array, or NULL. */
static json_t *elements(const json_t *set)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        if (!a || json_array_append_new(a, json_deep_copy(v)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Removes node `id` from every group's node list. */
static void groups_drop(struct live_graph *g, const char *id)
{
    const char *k;
    json_t *grp;
    json_object_foreach(g->groups, k, grp)
    {
        json_t *nodes = json_object_get(grp, "nodes");
        for (size_t i = json_array_size(nodes); i-- > 0;) {
            const char *n = json_string_value(json_array_get(nodes, i));
            if (n && strcmp(n, id) == 0)
                json_array_remove(nodes, i);
        }
    }
}

static void exports_drop(json_t *exports, const char *id)
{
    const char *k;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(exports, tmp, k, e)
    {
        const char *p = str(e, "process");
        if (p && strcmp(p, id) == 0)
            json_object_del(exports, k);
    }
}

/* Removes node id's edges and IIPs from the graph; returns copies of them
 * (owned by the caller) so they can be restored under another name. */
static int detach(struct live_graph *g, const char *id, json_t **edges, json_t **iips)
{
    *edges = elements(json_object_get(g->by_node, id));
    *iips = elements(json_object_get(g->node_iips, id));
    if (!*edges || !*iips) {
        json_decref(*edges);
        json_decref(*iips);
        *edges = *iips = NULL;
        return MSGFLO_ENOMEM;
    }
    size_t i;
    json_t *e;
    json_array_foreach(*edges, i, e)
    {
        json_t *s = json_object_get(e, "src"), *t = json_object_get(e, "tgt");
        live_graph__remove_edge(g, str(s, "node"), str(s, "port"), str(t, "node"), str(t, "port"));
    }
    json_array_foreach(*iips, i, e)
    {
        json_t *t = json_object_get(e, "tgt");
        live_graph__remove_iip(g, str(t, "node"), str(t, "port"));
    }
    return 0;
}

int live_graph__remove_node(struct live_graph *g, const char *id)
{
    if (!json_object_get(g->nodes, id))
        return MSGFLO_EINVAL;
    json_t *edges, *iips;
    if (detach(g, id, &edges, &iips) != 0)
        return MSGFLO_ENOMEM;
    json_decref(edges);
    json_decref(iips);
    exports_drop(g->inports, id);
    exports_drop(g->outports, id);
    groups_drop(g, id);
    json_object_del(g->nodes, id);
    return 0;
}

static void rename_endpoint(json_t *ep, const char *from, const char *to)
{
    const char *n = str(ep, "node");
    if (n && strcmp(n, from) == 0)
        json_object_set_new(ep, "node", json_string(to));
}

int live_graph__rename_node(struct live_graph *g, const char *from, const char *to)
{
    if (!json_object_get(g->nodes, from) || json_object_get(g->nodes, to))
        return MSGFLO_EINVAL;
    int rc = MSGFLO_ENOMEM;
    json_t *edges = NULL, *iips = NULL;
    if (detach(g, from, &edges, &iips) != 0)
        goto out;
    size_t i;
    json_t *e;
    if ((rc = rename_key(g->nodes, from, to)) != 0)
        goto out;
    json_array_foreach(edges, i, e)
    {
        rename_endpoint(json_object_get(e, "src"), from, to);
        rename_endpoint(json_object_get(e, "tgt"), from, to);
        if ((rc = live_graph__add_edge(g, json_object_get(e, "src"), json_object_get(e, "tgt"),
                                       json_object_get(e, "metadata"))) != 0)
            goto out;
    }
    json_array_foreach(iips, i, e)
    {
        rename_endpoint(json_object_get(e, "tgt"), from, to);
        if ((rc = live_graph__add_iip(g, json_object_get(json_object_get(e, "src"), "data"),
                                      json_object_get(e, "tgt"), json_object_get(e, "metadata"))) !=
            0)
            goto out;
    }
    json_t *sets[2] = {g->inports, g->outports};
    for (int s = 0; s < 2; s++) {
        const char *k;
        json_object_foreach(sets[s], k, e)
        {
            const char *p = str(e, "process");
            if (p && strcmp(p, from) == 0)
                json_object_set_new(e, "process", json_string(to));
        }
    }
    const char *k;
    json_t *grp;
    json_object_foreach(g->groups, k, grp)
    {
        json_t *nodes = json_object_get(grp, "nodes");
        json_t *n;
        json_array_foreach(nodes, i, n)
        {
            if (json_is_string(n) && strcmp(json_string_value(n), from) == 0)
                json_array_set_new(nodes, i, json_string(to));
        }
    }
    rc = 0;
out:
    json_decref(edges);
    json_decref(iips);
    return rc;
}

/* ---- FBP JSON ---- */

static json_t *fbp_endpoint(const json_t *ep)
{
    json_t *c = json_pack("{s:s, s:s}", "process", str(ep, "node"), "port", str(ep, "port"));
    json_t *index = json_object_get(ep, "index");
    if (c && json_is_integer(index))
        json_object_set(c, "index", index);
    return c;
}

/* Appends metadata to o when it is a non-empty object (as fbp-graph). */
static int set_metadata_if(json_t *o, const json_t *elem)
{
    json_t *m = json_object_get(elem, "metadata");
    if (!json_is_object(m) || json_object_size(m) == 0)
        return 0;
    return json_object_set_new(o, "metadata", json_deep_copy(m));
}

json_t *live_graph__to_json(const struct live_graph *g)
{
    json_t *doc = json_object(), *props = json_deep_copy(g->props), *in = json_object(),
           *outp = json_object(), *groups = json_array(), *procs = json_object(),
           *conns = json_array();
    int bad = !doc || !props || !in || !outp || !groups || !procs || !conns;
    if (!bad && !json_object_get(props, "name")) {
        const char *slash = strrchr(g->id, '/');
        bad |= json_object_set_new(props, "name", json_string(slash ? slash + 1 : g->id));
    }
    if (!bad && !json_object_get(props, "environment"))
        bad |= json_object_set_new(props, "environment", json_pack("{s:s}", "type", "msgflo"));
    const char *k;
    json_t *v;
    json_t *sets[2] = {g->inports, g->outports}, *dst[2] = {in, outp};
    for (int s = 0; !bad && s < 2; s++) {
        json_object_foreach(sets[s], k, v)
        {
            json_t *e = json_pack("{s:O, s:O}", "process", json_object_get(v, "process"), "port",
                                  json_object_get(v, "port"));
            bad |= !e || set_metadata_if(e, v) != 0 || json_object_set_new(dst[s], k, e) != 0;
        }
    }
    json_object_foreach(g->groups, k, v)
    {
        json_t *e = json_pack("{s:O, s:O}", "name", json_object_get(v, "name"), "nodes",
                              json_object_get(v, "nodes"));
        bad |= !e || set_metadata_if(e, v) != 0 || json_array_append_new(groups, e) != 0;
    }
    json_object_foreach(g->nodes, k, v)
    {
        json_t *e = json_pack("{s:O, s:O}", "component", json_object_get(v, "component"),
                              "metadata", json_object_get(v, "metadata"));
        bad |= !e || json_object_set_new(procs, k, e) != 0;
    }
    json_object_foreach(g->edges, k, v)
    {
        json_t *e = json_pack("{s:o, s:o}", "src", fbp_endpoint(json_object_get(v, "src")), "tgt",
                              fbp_endpoint(json_object_get(v, "tgt")));
        bad |= !e || set_metadata_if(e, v) != 0 || json_array_append_new(conns, e) != 0;
    }
    json_object_foreach(g->iips, k, v)
    {
        json_t *e =
            json_pack("{s:O, s:o}", "data", json_object_get(json_object_get(v, "src"), "data"),
                      "tgt", fbp_endpoint(json_object_get(v, "tgt")));
        bad |= !e || set_metadata_if(e, v) != 0 || json_array_append_new(conns, e) != 0;
    }
    if (!bad)
        bad |= json_object_set_new(doc, "caseSensitive", json_boolean(g->case_sensitive)) ||
               json_object_set(doc, "properties", props) || json_object_set(doc, "inports", in) ||
               json_object_set(doc, "outports", outp) || json_object_set(doc, "groups", groups) ||
               json_object_set(doc, "processes", procs) ||
               json_object_set(doc, "connections", conns);
    json_decref(props);
    json_decref(in);
    json_decref(outp);
    json_decref(groups);
    json_decref(procs);
    json_decref(conns);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
