/* The coordinator's edges: bindings made by the pump once both roles are
 * discovered, removed by the pump unless another edge makes the same one;
 * the automatic edges found between discovered roles are reported.
 * See coordinator_internal.h. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

struct edge *coordinator_edges__find(struct coordinator *c, const char *sr, const char *sp,
                                     const char *tr, const char *tp)
{
    for (struct edge *e = c->edges; e; e = e->next) {
        if (strcmp(e->src_role, sr) == 0 && strcmp(e->src_port, sp) == 0 &&
            strcmp(e->tgt_role, tr) == 0 && strcmp(e->tgt_port, tp) == 0)
            return e;
    }
    return NULL;
}

/* Leaves e's binding for the pump to remove (an op does no RPC). */
static void edge_unbind(struct coordinator *c, struct edge *e)
{
    if (!e->src_q)
        return;
    struct unbind *u = malloc(sizeof *u);
    if (u) {
        u->src = e->src_q;
        u->tgt = e->tgt_q;
        u->next = c->unbinds;
        c->unbinds = u;
        coordinator__schedule(c);
    } else {
        LOG_ERROR(NS, "out of memory: %s -> %s stays bound", e->src_q, e->tgt_q);
        free(e->src_q);
        free(e->tgt_q);
    }
    e->src_q = e->tgt_q = NULL;
}

/* Removes the bindings left by edge_unbind unless a bound edge makes the same. */
void coordinator_edges__pump_unbinds(struct coordinator *c)
{
    while (c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        bool shared = false;
        for (struct edge *o = c->edges; o && !shared; o = o->next)
            shared = o->src_q && strcmp(o->src_q, u->src) == 0 && strcmp(o->tgt_q, u->tgt) == 0;
        if (!shared) {
            struct binding b = {.type = BINDING_PUBSUB, .src = u->src, .tgt = u->tgt};
            int rc = binder__remove(c->binder, &b);
            if (rc)
                LOG_WARNING(NS, "unbinding %s -> %s failed: %s", u->src, u->tgt,
                            msgflo_strerror(rc));
            else
                LOG_DEBUG(NS, "unbound %s -> %s", u->src, u->tgt);
        }
        free(u->src);
        free(u->tgt);
        free(u);
    }
}

void coordinator_edges__free(struct coordinator *c, struct edge *e)
{
    edge_unbind(c, e);
    coordinator_watches__remove(c, e->src_role, e->src_port);
    free(e->src_role);
    free(e->src_port);
    free(e->tgt_role);
    free(e->tgt_port);
    free(e);
}

/* Binds one edge whose roles are discovered; true when it reported. */
static bool edge_bind(struct coordinator *c, struct edge *e)
{
    char *sq = NULL, *tq = NULL;
    if (registry__queue(c->reg, e->src_role, false, e->src_port, &sq, NULL) != 0 ||
        registry__queue(c->reg, e->tgt_role, true, e->tgt_port, &tq, NULL) != 0) {
        free(sq);
        return false;
    }
    bool reported = false;
    if (e->src_q && strcmp(e->src_q, sq) == 0 && strcmp(e->tgt_q, tq) == 0)
        goto out;      /* bound already */
    edge_unbind(c, e); /* rediscovered with other queues */
    struct binding b = {.type = BINDING_PUBSUB, .src = sq, .tgt = tq};
    int rc = binder__add(c->binder, &b);
    if (rc) {
        e->failed = true;
        coordinator__report_error(c, "binding %s.%s -> %s.%s (%s -> %s) failed: %s", e->src_role,
                                  e->src_port, e->tgt_role, e->tgt_port, sq, tq,
                                  msgflo_strerror(rc));
        reported = true;
        goto out;
    }
    LOG_DEBUG(NS, "bound %s.%s -> %s.%s (%s -> %s)", e->src_role, e->src_port, e->tgt_role,
              e->tgt_port, sq, tq);
    e->src_q = sq;
    e->tgt_q = tq;
    e->gen = ++c->sub_gen;
    sq = tq = NULL;
out:
    free(sq);
    free(tq);
    return reported;
}

void coordinator_edges__pump(struct coordinator *c)
{
again:
    for (struct edge *e = c->edges; e && c->connected; e = e->next) {
        if (e->failed || !coordinator_graph__discovered_role(c, e->src_role) ||
            !coordinator_graph__discovered_role(c, e->tgt_role))
            continue;
        if (edge_bind(c, e))
            goto again; /* the report may have changed the list */
    }
}

void coordinator_edges__forget_found(struct coordinator *c, const char *role)
{
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(c->edges_found, tmp, key, v)
    {
        if (strcmp(json_string_value(json_array_get(v, 0)), role) == 0 ||
            strcmp(json_string_value(json_array_get(v, 2)), role) == 0)
            json_object_del(c->edges_found, key);
    }
}

static void collect_edge(const char *sr, const char *sp, const char *tr, const char *tp,
                         const char *queue, void *ud)
{
    (void)queue;
    json_array_append_new(ud, json_pack("[ssss]", sr, sp, tr, tp));
}

/* Reports the automatic edges of role not reported and not in the graph. */
void coordinator_edges__find_automatic(struct coordinator *c, const char *role)
{
    json_t *found = json_array();
    registry__edges(c->reg, role, collect_edge, found);
    size_t i;
    json_t *f;
    json_array_foreach(found, i, f)
    {
        const char *sr = json_string_value(json_array_get(f, 0));
        const char *sp = json_string_value(json_array_get(f, 1));
        const char *tr = json_string_value(json_array_get(f, 2));
        const char *tp = json_string_value(json_array_get(f, 3));
        char key[1024];
        snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%s", sr, sp, tr, tp);
        if (json_object_get(c->edges_found, key) || coordinator_edges__find(c, sr, sp, tr, tp))
            continue;
        json_object_set(c->edges_found, key, f);
        LOG_DEBUG(NS, "automatic edge %s.%s -> %s.%s", sr, sp, tr, tp);
        if (!c->closing && c->sys.events.edge_found)
            c->sys.events.edge_found(c->sys.ud, sr, sp, tr, tp);
    }
    json_decref(found);
}

void coordinator_edges__clear(struct coordinator *c)
{
    while (c->edges) {
        struct edge *e = c->edges;
        c->edges = e->next;
        free(e->src_q);
        free(e->tgt_q);
        e->src_q = NULL; /* nothing to unbind */
        coordinator_edges__free(c, e);
    }
    while (c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        free(u->src);
        free(u->tgt);
        free(u);
    }
}
