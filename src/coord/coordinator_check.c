/* The coordinator's invariants, checked in debug builds (coordinator__check):
 * every record that sits in several lists and indexes is where its fields
 * say, and in no list it should have left. The invariants are written beside
 * the structs in coordinator_internal.h; this file asserts them. Release
 * builds (NDEBUG) compile none of it. */
#include "coord/coordinator_internal.h"

#ifndef NDEBUG

#include "core/key.h"

#include <assert.h>
#include <string.h>

/* Above this many roles the whole state is not walked after each operation:
 * a debug build of a scale test would be quadratic. */
#define CHECK_MAX_ROLES 4096

/* Walks the utlist DL list at head (elements of `type`, links prev/next),
 * asserting its links: the head's prev is the tail, each next's prev is the
 * element. Stores the number of elements in n. */
#define CHECK_DL(type, head, prev, next, n)                                                        \
    do {                                                                                           \
        size_t n_ = 0;                                                                             \
        const type *el_ = (head), *last_ = NULL;                                                   \
        for (; el_; last_ = el_, el_ = el_->next, n_++) {                                          \
            if (el_->next)                                                                         \
                assert(el_->next->prev == el_);                                                    \
        }                                                                                          \
        assert(!(head) || (head)->prev == last_);                                                  \
        (n) = n_;                                                                                  \
    } while (0)

/* Whether x is in the list at head (elements of `type`, link next). */
#define IN_LIST(type, head, next, x, found)                                                        \
    do {                                                                                           \
        (found) = false;                                                                           \
        for (const type *el_ = (head); el_ && !(found); el_ = el_->next)                           \
            (found) = el_ == (x);                                                                  \
    } while (0)

static void check_role(const struct coordinator *c, struct coord_role *r)
{
    size_t n;
    assert(r->pins == 0); /* pins last only while an operation iterates */
    assert(r->node || r->out_edges || r->in_edges || r->watches || r->iips || r->found_out ||
           r->found_in); /* released once nothing refers to it */
    if (r->node) {
        assert(strcmp(r->node->role, r->name) == 0);
        bool found;
        IN_LIST(struct node, c->nodes, next, r->node, found);
        assert(found);
    }
    struct edge *e;
    CHECK_DL(struct edge, r->out_edges, sprev, snext, n);
    for (e = r->out_edges; e; e = e->snext)
        assert(e->src == r);
    CHECK_DL(struct edge, r->in_edges, tprev, tnext, n);
    for (e = r->in_edges; e; e = e->tnext)
        assert(e->tgt == r);
    CHECK_DL(struct port_watch, r->watches, rprev, rnext, n);
    for (struct port_watch *w = r->watches; w; w = w->rnext)
        assert(w->r == r);
    CHECK_DL(struct iip, r->iips, rprev, rnext, n);
    for (struct iip *p = r->iips; p; p = p->rnext)
        assert(p->r == r);
    struct found_edge *f;
    CHECK_DL(struct found_edge, r->found_out, sprev, snext, n);
    for (f = r->found_out; f; f = f->snext)
        assert(f->src == r);
    CHECK_DL(struct found_edge, r->found_in, tprev, tnext, n);
    for (f = r->found_in; f; f = f->tnext)
        assert(f->tgt == r);
    (void)n;
}

static void check_nodes(const struct coordinator *c)
{
    size_t n, pending = 0, flagged = 0;
    CHECK_DL(struct node, c->nodes, prev, next, n);
    for (struct node *x = c->nodes; x; x = x->next) {
        assert(x->c == c);
        /* one node per role, and it is the role's */
        struct coord_role *r;
        HASH_FIND_STR(c->roles, x->role, r);
        assert(r && r->node == x);
        flagged += x->pending;
    }
    size_t with_node = 0;
    struct coord_role *r, *tmp;
    HASH_ITER(hh, c->roles, r, tmp)
    {
        with_node += r->node != NULL;
    }
    assert(with_node == n);
    CHECK_DL(struct node, c->pending_nodes, pprev, pnext, pending);
    for (struct node *x = c->pending_nodes; x; x = x->pnext)
        assert(x->pending);
    assert(pending == flagged);
}

static void check_edges(const struct coordinator *c)
{
    size_t n, dirty = 0, pending = 0, bound_edges = 0, refs = 0;
    struct edge *e, *tmp;
    HASH_ITER(hh, c->edges, e, tmp)
    {
        assert(e->src && strcmp(e->src->name, e->src_role) == 0);
        assert(e->tgt && strcmp(e->tgt->name, e->tgt_role) == 0);
        const char *names[] = {e->src_role, e->src_port, e->tgt_role, e->tgt_port};
        struct edge *same;
        KEY_FIND(c->edges, names, 4, same);
        assert(same == e); /* its key is its names */
        bool found;
        IN_LIST(struct edge, e->src->out_edges, snext, e, found);
        assert(found);
        IN_LIST(struct edge, e->tgt->in_edges, tnext, e, found);
        assert(found);
        assert((e->src_q == NULL) == (e->tgt_q == NULL));
        if (e->src_q && !coordinator_edges__uncounted(c, e->src_q, e->tgt_q)) {
            const char *parts[] = {e->src_q, e->tgt_q};
            struct bound *b;
            KEY_FIND(c->bound, parts, 2, b);
            assert(b && b->refs > 0); /* a bound edge is counted */
            bound_edges++;
        }
        if (!c->edges_unwatched) {
            const char *parts[] = {e->src_role, e->src_port};
            struct port_watch *w;
            KEY_FIND(c->port_watches, parts, 2, w);
            assert(w && w->refs > 0); /* an edge watches its source port */
        }
        dirty += e->dirty;
        pending += e->pending;
    }
    CHECK_DL(struct edge, c->dirty_edges, dprev, dnext, n);
    for (e = c->dirty_edges; e; e = e->dnext)
        assert(e->dirty);
    assert(n == dirty);
    CHECK_DL(struct edge, c->pending_edges, pprev, pnext, n);
    for (e = c->pending_edges; e; e = e->pnext)
        assert(e->pending);
    assert(n == pending);
    struct bound *b, *btmp;
    HASH_ITER(hh, c->bound, b, btmp)
    {
        assert(b->refs > 0);
        refs += b->refs;
    }
    assert(refs == bound_edges); /* each binding counts the bound edges making it */
    struct found_edge *f, *ftmp;
    HASH_ITER(hh, c->found, f, ftmp)
    {
        bool found;
        IN_LIST(struct found_edge, f->src->found_out, snext, f, found);
        assert(found);
        IN_LIST(struct found_edge, f->tgt->found_in, tnext, f, found);
        assert(found);
    }
}

static void check_watches(const struct coordinator *c)
{
    size_t n, dirty = 0, dirty_queues = 0;
    struct port_watch *w, *wtmp;
    HASH_ITER(hh, c->port_watches, w, wtmp)
    {
        assert(w->refs > 0);
        assert(w->r && strcmp(w->r->name, w->role) == 0);
        bool found;
        IN_LIST(struct port_watch, w->r->watches, rnext, w, found);
        assert(found);
        assert((w->qw == NULL) == (w->queue == NULL));
        if (w->qw) {
            assert(w->queue == w->qw->queue);
            IN_LIST(struct port_watch, w->qw->ports, qnext, w, found);
            assert(found);
        }
        dirty += w->dirty;
    }
    CHECK_DL(struct port_watch, c->dirty_watches, dprev, dnext, n);
    for (w = c->dirty_watches; w; w = w->dnext)
        assert(w->dirty);
    assert(n == dirty);
    struct queue_watch *q, *qtmp;
    HASH_ITER(hh, c->queue_watches, q, qtmp)
    {
        CHECK_DL(struct port_watch, q->ports, qprev, qnext, n);
        assert(n == q->refs); /* counted over the port watches resolved to it */
        for (w = q->ports; w; w = w->qnext)
            assert(w->qw == q);
        assert(q->refs > 0 || q->dirty); /* an unused one waits for the pump to end it */
        dirty_queues += q->dirty;
    }
    CHECK_DL(struct queue_watch, c->dirty_queues, dprev, dnext, n);
    for (q = c->dirty_queues; q; q = q->dnext)
        assert(q->dirty);
    assert(n == dirty_queues);
}

static void check_iips(const struct coordinator *c)
{
    size_t n, per_role = 0;
    CHECK_DL(struct iip, c->iips, prev, next, n);
    for (struct iip *p = c->iips; p; p = p->next) {
        assert(p->r && strcmp(p->r->name, p->role) == 0);
        bool found;
        IN_LIST(struct iip, p->r->iips, rnext, p, found);
        assert(found);
    }
    struct coord_role *r, *tmp;
    HASH_ITER(hh, c->roles, r, tmp)
    {
        for (struct iip *p = r->iips; p; p = p->rnext)
            per_role++;
    }
    assert(per_role == n); /* in both lists or in neither */
}

static void check_components(const struct coordinator *c)
{
    size_t n, dirty = 0;
    struct coord_component *k, *tmp;
    HASH_ITER(hh, c->comps, k, tmp)
    {
        unsigned picked = 0;
        struct lib_pick *pk, *ptmp;
        HASH_ITER(hh, c->lib_picks, pk, ptmp)
        {
            picked += pk->k == k;
        }
        assert(picked == k->picked);
        dirty += k->dirty;
    }
    CHECK_DL(struct coord_component, c->dirty_comps, dprev, dnext, n);
    for (k = c->dirty_comps; k; k = k->dnext)
        assert(k->dirty);
    assert(n == dirty);
}

void coordinator__check(const struct coordinator *c)
{
    if (HASH_COUNT(c->roles) > CHECK_MAX_ROLES)
        return;
    struct coord_role *r, *tmp;
    HASH_ITER(hh, c->roles, r, tmp)
    {
        check_role(c, r);
    }
    check_nodes(c);
    check_edges(c);
    check_watches(c);
    check_iips(c);
    if (HASH_COUNT(c->comps) <= CHECK_MAX_ROLES)
        check_components(c);
}

#endif
