/* The live graph store: C records for nodes, edges and IIPs, JSON for
 * exports and groups (see live_graph.h). */
#include "runtime/live_graph_internal.h"

#include "core/key.h"
#include "msgflo/errors.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

static struct node *node_find(const struct live_graph *g, const char *id)
{
    struct node *n = NULL;
    HASH_FIND(hh, g->nodes, id, strlen(id), n);
    return n;
}

static struct edge *edge_find(const struct live_graph *g, const char *sn, const char *sp,
                              const char *tn, const char *tp)
{
    const char *parts[4] = {sn, sp, tn, tp};
    struct edge *e;
    KEY_FIND(g->edges, parts, 4, e);
    return e;
}

static struct iip *iip_find(const struct live_graph *g, const char *node, const char *port)
{
    const char *parts[2] = {node, port};
    struct iip *i;
    KEY_FIND(g->iips, parts, 2, i);
    return i;
}

/* Whether an endpoint's index is one the protocol allows (others are dropped). */
static bool index_ok(const json_t *index)
{
    return json_is_string(index) || json_is_number(index);
}

/* Copies index into *dst (NULL when not allowed); false when out of memory. */
static bool index_copy(const json_t *index, const json_t **dst)
{
    *dst = index_ok(index) ? json_deep_copy(index) : NULL;
    return *dst || !index_ok(index);
}

/* ---- the graph ---- */

int live_graph__new(const char *id, struct live_graph **out)
{
    *out = NULL;
    struct live_graph *g = calloc(1, sizeof *g);
    if (!g)
        return MSGFLO_ENOMEM;
    g->id = strdup(id);
    g->props = json_object();
    g->inports = json_object();
    g->outports = json_object();
    g->groups = json_object();
    g->case_sensitive = true;
    if (!g->id || !g->props || !g->inports || !g->outports || !g->groups) {
        live_graph__free(g);
        return MSGFLO_ENOMEM;
    }
    *out = g;
    return 0;
}

static void edge_free(struct edge *e)
{
    json_decref((json_t *)e->pub.src.index);
    json_decref((json_t *)e->pub.tgt.index);
    json_decref(e->pub.metadata);
    free(e);
}

static void iip_free(struct iip *i)
{
    json_decref(i->pub.data);
    json_decref((json_t *)i->pub.tgt.index);
    json_decref(i->pub.metadata);
    free(i);
}

static void node_free(struct node *n)
{
    json_decref(n->pub.metadata);
    free(n->own_component);
    free(n);
}

void live_graph__free(struct live_graph *g)
{
    if (!g)
        return;
    struct edge *e, *etmp;
    HASH_ITER(hh, g->edges, e, etmp)
    {
        HASH_DEL(g->edges, e);
        edge_free(e);
    }
    struct iip *i, *itmp;
    HASH_ITER(hh, g->iips, i, itmp)
    {
        HASH_DEL(g->iips, i);
        iip_free(i);
    }
    struct node *n, *ntmp;
    HASH_ITER(hh, g->nodes, n, ntmp)
    {
        HASH_DEL(g->nodes, n);
        node_free(n);
    }
    free(g->id);
    json_decref(g->props);
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

const struct live_node *live_graph__node(const struct live_graph *g, const char *id)
{
    struct node *n = node_find(g, id);
    return n ? &n->pub : NULL;
}

const struct live_node *live_graph__next_node(const struct live_graph *g,
                                              const struct live_node *prev)
{
    struct node *n = prev ? ((const struct node *)prev)->hh.next : g->nodes;
    return n ? &n->pub : NULL;
}

size_t live_graph__node_count(const struct live_graph *g)
{
    return HASH_COUNT(g->nodes);
}

static struct node *node_new(const char *id, const char *component, json_t *metadata,
                             bool discovered)
{
    size_t il = strlen(id) + 1, cl = strlen(component) + 1;
    struct node *n = calloc(1, sizeof *n + il + cl);
    if (!n)
        return NULL;
    memcpy(n->strings, id, il);
    memcpy(n->strings + il, component, cl);
    n->pub.id = n->strings;
    n->pub.component = n->strings + il;
    n->pub.metadata = json_incref(metadata);
    n->pub.discovered = discovered;
    return n;
}

int live_graph__add_node(struct live_graph *g, const char *id, const char *component,
                         json_t *metadata, bool discovered)
{
    if (node_find(g, id))
        return MSGFLO_EINVAL;
    struct node *n = node_new(id, component, metadata, discovered);
    if (!n)
        return MSGFLO_ENOMEM;
    HASH_ADD_KEYPTR(hh, g->nodes, n->pub.id, strlen(n->pub.id), n);
    return 0;
}

int live_graph__adopt_node(struct live_graph *g, const char *id, const char *component,
                           json_t *metadata)
{
    struct node *n = node_find(g, id);
    if (!n)
        return MSGFLO_EINVAL;
    if (strcmp(n->pub.component, component) != 0) {
        char *c = strdup(component);
        if (!c)
            return MSGFLO_ENOMEM;
        free(n->own_component);
        n->own_component = c;
        n->pub.component = c;
    }
    json_decref(n->pub.metadata);
    n->pub.metadata = json_incref(metadata);
    n->pub.discovered = false;
    return 0;
}

int live_graph__set_node_metadata(struct live_graph *g, const char *id, json_t *metadata)
{
    struct node *n = node_find(g, id);
    if (!n)
        return MSGFLO_EINVAL;
    json_incref(metadata);
    json_decref(n->pub.metadata);
    n->pub.metadata = metadata;
    return 0;
}

const struct live_edge *live_graph__node_edge(const struct live_graph *g, const char *id,
                                              const struct live_edge *prev)
{
    const struct edge_link *next;
    if (!prev) {
        const struct node *n = node_find(g, id);
        next = n ? n->edges : NULL;
    } else {
        const struct edge *e = (const struct edge *)prev;
        next = strcmp(e->pub.src.node, id) == 0 ? e->at_src.next : e->at_tgt.next;
    }
    return next ? &next->edge->pub : NULL;
}

const struct live_iip *live_graph__node_iip(const struct live_graph *g, const char *id,
                                            const struct live_iip *prev)
{
    const struct iip *next;
    if (!prev) {
        const struct node *n = node_find(g, id);
        next = n ? n->iips : NULL;
    } else {
        next = ((const struct iip *)prev)->nnext;
    }
    return next ? &next->pub : NULL;
}

/* ---- edges ---- */

const struct live_edge *live_graph__edge(const struct live_graph *g, const char *src_node,
                                         const char *src_port, const char *tgt_node,
                                         const char *tgt_port)
{
    struct edge *e = edge_find(g, src_node, src_port, tgt_node, tgt_port);
    return e ? &e->pub : NULL;
}

const struct live_edge *live_graph__next_edge(const struct live_graph *g,
                                              const struct live_edge *prev)
{
    struct edge *e = prev ? ((const struct edge *)prev)->next : g->edge_list;
    return e ? &e->pub : NULL;
}

/* The graph is the caller's (not const): the cache belongs to its records. */
struct system_status_ref *live_graph__node_status_ref(struct live_graph *g,
                                                      const struct live_node *n)
{
    (void)g;
    return &((struct node *)n)->status;
}

struct system_status_ref *live_graph__edge_status_ref(struct live_graph *g,
                                                      const struct live_edge *e)
{
    (void)g;
    return &((struct edge *)e)->status;
}

size_t live_graph__edge_count(const struct live_graph *g)
{
    return HASH_COUNT(g->edges);
}

/* A new edge record (not in the graph), or NULL when out of memory. */
static struct edge *edge_new(const struct live_port *src, const struct live_port *tgt,
                             json_t *metadata)
{
    const char *parts[4] = {src->node, src->port, tgt->node, tgt->port};
    const char *names[4];
    struct edge *e = calloc(1, sizeof *e + 2 * key__length(parts, 4));
    if (!e)
        return NULL;
    e->key = key__pack(e->text, parts, 4, names);
    e->pub.src.node = names[0];
    e->pub.src.port = names[1];
    e->pub.tgt.node = names[2];
    e->pub.tgt.port = names[3];
    e->pub.metadata = json_incref(metadata);
    if (!index_copy(src->index, &e->pub.src.index) || !index_copy(tgt->index, &e->pub.tgt.index)) {
        edge_free(e);
        return NULL;
    }
    return e;
}

/* Puts e into the graph: its key, the order, the lists of its nodes (which
 * exist). */
static void edge_link(struct live_graph *g, struct edge *e)
{
    struct node *s = node_find(g, e->pub.src.node), *t = node_find(g, e->pub.tgt.node);
    HASH_ADD_KEYPTR(hh, g->edges, e->key, strlen(e->key), e);
    DL_APPEND(g->edge_list, e);
    e->at_src.edge = e;
    DL_APPEND(s->edges, &e->at_src);
    if (t != s) {
        e->at_tgt.edge = e;
        DL_APPEND(t->edges, &e->at_tgt);
    }
}

static void edge_unlink(struct live_graph *g, struct edge *e)
{
    struct node *s = node_find(g, e->pub.src.node), *t = node_find(g, e->pub.tgt.node);
    HASH_DEL(g->edges, e);
    DL_DELETE(g->edge_list, e);
    DL_DELETE(s->edges, &e->at_src);
    if (t != s)
        DL_DELETE(t->edges, &e->at_tgt);
}

int live_graph__add_edge(struct live_graph *g, const struct live_port *src,
                         const struct live_port *tgt, json_t *metadata)
{
    if (!src->node || !src->port || !tgt->node || !tgt->port || !node_find(g, src->node) ||
        !node_find(g, tgt->node) || edge_find(g, src->node, src->port, tgt->node, tgt->port))
        return MSGFLO_EINVAL;
    struct edge *e = edge_new(src, tgt, metadata);
    if (!e)
        return MSGFLO_ENOMEM;
    edge_link(g, e);
    return 0;
}

void live_graph__set_edge_metadata(struct live_graph *g, const struct live_edge *e,
                                   json_t *metadata)
{
    (void)g;
    struct edge *rec = (struct edge *)e;
    json_incref(metadata);
    json_decref(rec->pub.metadata);
    rec->pub.metadata = metadata;
}

int live_graph__remove_edge(struct live_graph *g, const char *src_node, const char *src_port,
                            const char *tgt_node, const char *tgt_port)
{
    struct edge *e = edge_find(g, src_node, src_port, tgt_node, tgt_port);
    if (!e)
        return MSGFLO_EINVAL;
    edge_unlink(g, e);
    edge_free(e);
    return 0;
}

/* ---- IIPs ---- */

const struct live_iip *live_graph__iip(const struct live_graph *g, const char *node,
                                       const char *port)
{
    struct iip *i = iip_find(g, node, port);
    return i ? &i->pub : NULL;
}

const struct live_iip *live_graph__next_iip(const struct live_graph *g, const struct live_iip *prev)
{
    struct iip *i = prev ? ((const struct iip *)prev)->next : g->iip_list;
    return i ? &i->pub : NULL;
}

size_t live_graph__iip_count(const struct live_graph *g)
{
    return HASH_COUNT(g->iips);
}

static void iip_link(struct live_graph *g, struct iip *i)
{
    struct node *n = node_find(g, i->pub.tgt.node);
    HASH_ADD_KEYPTR(hh, g->iips, i->key, strlen(i->key), i);
    DL_APPEND(g->iip_list, i);
    DL_APPEND2(n->iips, i, nprev, nnext);
}

static void iip_unlink(struct live_graph *g, struct iip *i)
{
    struct node *n = node_find(g, i->pub.tgt.node);
    HASH_DEL(g->iips, i);
    DL_DELETE(g->iip_list, i);
    DL_DELETE2(n->iips, i, nprev, nnext);
}

static struct iip *iip_new(json_t *data, const struct live_port *tgt, json_t *metadata)
{
    const char *parts[2] = {tgt->node, tgt->port};
    const char *names[2];
    struct iip *i = calloc(1, sizeof *i + 2 * key__length(parts, 2));
    if (!i)
        return NULL;
    i->key = key__pack(i->text, parts, 2, names);
    i->pub.tgt.node = names[0];
    i->pub.tgt.port = names[1];
    i->pub.data = json_incref(data);
    i->pub.metadata = json_incref(metadata);
    if (!index_copy(tgt->index, &i->pub.tgt.index)) {
        iip_free(i);
        return NULL;
    }
    return i;
}

int live_graph__add_iip(struct live_graph *g, json_t *data, const struct live_port *tgt,
                        json_t *metadata)
{
    if (!data || !tgt->node || !tgt->port || !node_find(g, tgt->node))
        return MSGFLO_EINVAL;
    struct iip *old = iip_find(g, tgt->node, tgt->port);
    if (old) {
        /* Replaced where it stands. */
        const json_t *index;
        if (!index_copy(tgt->index, &index))
            return MSGFLO_ENOMEM;
        json_incref(data);
        json_incref(metadata);
        json_decref(old->pub.data);
        json_decref((json_t *)old->pub.tgt.index);
        json_decref(old->pub.metadata);
        old->pub.data = data;
        old->pub.tgt.index = index;
        old->pub.metadata = metadata;
        return 0;
    }
    struct iip *i = iip_new(data, tgt, metadata);
    if (!i)
        return MSGFLO_ENOMEM;
    iip_link(g, i);
    return 0;
}

int live_graph__remove_iip(struct live_graph *g, const char *node, const char *port)
{
    struct iip *i = iip_find(g, node, port);
    if (!i)
        return MSGFLO_EINVAL;
    iip_unlink(g, i);
    iip_free(i);
    return 0;
}

/* ---- whole nodes ---- */

int live_graph__remove_node(struct live_graph *g, const char *id)
{
    struct node *n = node_find(g, id);
    if (!n)
        return MSGFLO_EINVAL;
    while (n->edges) {
        struct edge *e = n->edges->edge;
        edge_unlink(g, e);
        edge_free(e);
    }
    while (n->iips) {
        struct iip *i = n->iips;
        iip_unlink(g, i);
        iip_free(i);
    }
    live_graph__exports_rename(g->inports, id, NULL);
    live_graph__exports_rename(g->outports, id, NULL);
    live_graph__groups_rename(g, id, NULL);
    HASH_DEL(g->nodes, n);
    node_free(n);
    return 0;
}

/* Moves the first edge of node `from` (being renamed) to `to`: a new record
 * added at the end, as addedge would. */
static int move_edge(struct live_graph *g, struct edge *e, const char *from, const char *to)
{
    struct live_port s = e->pub.src, t = e->pub.tgt;
    if (strcmp(s.node, from) == 0)
        s.node = to;
    if (strcmp(t.node, from) == 0)
        t.node = to;
    struct edge *moved = edge_new(&s, &t, e->pub.metadata);
    if (!moved)
        return MSGFLO_ENOMEM;
    edge_unlink(g, e);
    edge_free(e);
    edge_link(g, moved);
    return 0;
}

static int move_iip(struct live_graph *g, struct iip *i, const char *to)
{
    struct live_port t = i->pub.tgt;
    t.node = to;
    struct iip *moved = iip_new(i->pub.data, &t, i->pub.metadata);
    if (!moved)
        return MSGFLO_ENOMEM;
    iip_unlink(g, i);
    iip_free(i);
    iip_link(g, moved);
    return 0;
}

int live_graph__rename_node(struct live_graph *g, const char *from, const char *to)
{
    struct node *n = node_find(g, from);
    if (!n || node_find(g, to))
        return MSGFLO_EINVAL;
    struct node *m = node_new(to, n->pub.component, n->pub.metadata, n->pub.discovered);
    if (!m)
        return MSGFLO_ENOMEM;
    HASH_ADD_KEYPTR(hh, g->nodes, m->pub.id, strlen(m->pub.id), m);
    int rc = 0;
    while (rc == 0 && n->edges)
        rc = move_edge(g, n->edges->edge, from, to);
    while (rc == 0 && n->iips)
        rc = move_iip(g, n->iips, to);
    if (rc == 0 && (rc = live_graph__exports_rename(g->inports, from, to)) == 0 &&
        (rc = live_graph__exports_rename(g->outports, from, to)) == 0)
        rc = live_graph__groups_rename(g, from, to);
    if (rc != 0)
        return rc; /* out of memory: part renamed, both nodes kept */
    HASH_DEL(g->nodes, n);
    node_free(n);
    return 0;
}
