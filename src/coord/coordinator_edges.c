/* The coordinator's edges: bindings made by the pump once both roles are
 * discovered, removed by the pump unless another edge makes the same one;
 * the automatic edges found between discovered roles are reported.
 * Edges are found by key and by role (coordinator_roles.c); the pump binds
 * only the edges marked dirty. See coordinator_internal.h. */
#include "coord/coordinator_internal.h"
#include "core/key.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

static struct edge *edge_find_key(struct coordinator *c, const char *key)
{
    struct edge *e;
    HASH_FIND_STR(c->edges, key, e);
    return e;
}

struct edge *coordinator_edges__find(struct coordinator *c, const char *sr, const char *sp,
                                     const char *tr, const char *tp)
{
    const char *parts[] = {sr, sp, tr, tp};
    struct edge *e;
    KEY_FIND(c->edges, parts, 4, e);
    return e;
}

void coordinator_edges__dirty(struct coordinator *c, struct edge *e)
{
    if (e->dirty)
        return;
    e->dirty = true;
    DL_APPEND2(c->dirty_edges, e, dprev, dnext);
}

void coordinator_edges__pending(struct coordinator *c, struct edge *e)
{
    if (e->pending)
        return;
    e->pending = true;
    DL_APPEND2(c->pending_edges, e, pprev, pnext);
}

static void edge_settled(struct coordinator *c, struct edge *e)
{
    if (!e->pending)
        return;
    e->pending = false;
    DL_DELETE2(c->pending_edges, e, pprev, pnext);
}

bool coordinator_edges__settling(struct coordinator *c, uint64_t now)
{
    while (c->pending_edges) {
        struct edge *e = c->pending_edges;
        if (!e->src_q && !e->failed && now - e->since < c->wait_timeout_ms)
            return true;
        edge_settled(c, e); /* bound, refused or waited long enough */
    }
    return false;
}

static struct bound *bound_find(struct coordinator *c, const char *src, const char *tgt)
{
    const char *parts[] = {src, tgt};
    struct bound *b;
    KEY_FIND(c->bound, parts, 2, b);
    return b;
}

/* Counts a binding made by an edge; false when out of memory. */
static bool bound_add(struct coordinator *c, const char *src, const char *tgt)
{
    struct bound *b = bound_find(c, src, tgt);
    if (!b) {
        const char *parts[] = {src, tgt};
        size_t len = key__length(parts, 2);
        b = calloc(1, sizeof *b + len);
        if (!b)
            return false;
        b->key = key__write(b->text, parts, 2);
        HASH_ADD_KEYPTR(hh, c->bound, b->key, len - 1, b);
    }
    b->refs++;
    return true;
}

static void bound_release(struct coordinator *c, const char *src, const char *tgt)
{
    struct bound *b = bound_find(c, src, tgt);
    if (!b || --b->refs > 0)
        return;
    HASH_DEL(c->bound, b);
    free(b);
}

bool coordinator_edges__uncounted(const struct coordinator *c, const char *sq, const char *tq)
{
    return binder__needs_nothing(c->binder, sq, tq);
}

/* Frees e's queue names (one string when they are one topic). */
static void edge_forget_queues(struct edge *e)
{
    if (e->tgt_q != e->src_q)
        free(e->tgt_q);
    free(e->src_q);
    e->src_q = e->tgt_q = NULL;
}

/* Leaves e's binding for the pump to remove (an op does no RPC). */
static void edge_unbind(struct coordinator *c, struct edge *e)
{
    if (!e->src_q)
        return;
    if (coordinator_edges__uncounted(c, e->src_q, e->tgt_q)) {
        edge_forget_queues(e); /* nothing was bound */
        return;
    }
    bound_release(c, e->src_q, e->tgt_q);
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

/* One binding of a pump's batch: an edge's (e) or one added by queue names (f). */
struct batch_item {
    struct edge *e;
    struct fixed_binding *f;
    char *sq, *tq; /* the edge's queues, owned until bound */
};

/* A binder call on its thread (AMQP, binder__call_async): the pump's batch,
 * its unbinds or a restore after a reconnect. The edges of a batch may go
 * meanwhile (coordinator_edges__free clears their item's `e`). */
enum call_kind { CALL_ADD, CALL_REMOVE, CALL_RESTORE };
struct bind_call {
    struct coordinator *c;
    enum call_kind kind;
    bool trust;
    size_t n;
    struct batch_item *items; /* CALL_ADD: n */
    struct binding *bs;       /* CALL_ADD: n, the strings owned (copies) */
    int *rcs;                 /* CALL_ADD, CALL_REMOVE: n */
    struct unbind *unbinds;   /* CALL_REMOVE: n, in order */
    int rc;                   /* CALL_RESTORE */
};

static void unbound(const struct unbind *u, int rc)
{
    if (rc)
        LOG_WARNING(NS, "unbinding %s -> %s failed: %s", u->src, u->tgt, msgflo_strerror(rc));
    else
        LOG_DEBUG(NS, "unbound %s -> %s", u->src, u->tgt);
}

static void call_free(void *arg)
{
    struct bind_call *call = arg;
    for (size_t k = 0; call->items && k < call->n; k++) {
        free(call->items[k].sq);
        free(call->items[k].tq);
    }
    for (size_t k = 0; call->bs && k < call->n; k++) {
        free(call->bs[k].src);
        free(call->bs[k].tgt);
        free(call->bs[k].deadletter);
    }
    while (call->unbinds) {
        struct unbind *u = call->unbinds;
        call->unbinds = u->next;
        free(u->src);
        free(u->tgt);
        free(u);
    }
    free(call->items);
    free(call->bs);
    free(call->rcs);
    free(call);
}

/* On the binder's thread. */
static void call_work(struct binder *b, void *arg)
{
    struct bind_call *call = arg;
    size_t k = 0;
    switch (call->kind) {
    case CALL_ADD:
        binder__add_each(b, call->bs, call->n, call->trust, call->rcs);
        break;
    case CALL_REMOVE:
        for (struct unbind *u = call->unbinds; u; u = u->next, k++) {
            struct binding x = {.type = BINDING_PUBSUB, .src = u->src, .tgt = u->tgt};
            call->rcs[k] = binder__remove(b, &x);
        }
        break;
    case CALL_RESTORE:
        call->rc = binder__restore(b);
        break;
    }
}

static void batch_finish(struct coordinator *c, struct batch_item *items, size_t n, const int *rcs);

/* On the loop thread, after call_work. */
static void call_done(struct binder *b, void *arg)
{
    (void)b;
    struct bind_call *call = arg;
    struct coordinator *c = call->c;
    size_t k = 0;
    switch (call->kind) {
    case CALL_ADD:
        batch_finish(c, call->items, call->n, call->rcs);
        free(call->items);
        call->items = NULL;
        break;
    case CALL_REMOVE:
        for (struct unbind *u = call->unbinds; u; u = u->next, k++)
            unbound(u, call->rcs[k]);
        break;
    case CALL_RESTORE:
        if (call->rc)
            coordinator__report_error(c, "restoring the bindings failed: %s",
                                      msgflo_strerror(call->rc));
        break;
    }
    c->bind_call = NULL;
    call_free(call);
    coordinator__schedule(c);
}

static int call_start(struct coordinator *c, struct bind_call *call)
{
    call->c = c;
    int rc = binder__call_async(c->binder, c->loop, call_work, call_done, call_free, call);
    if (rc == 0)
        c->bind_call = call;
    return rc;
}

/* The unbinds to make, on the binder's thread. */
static void unbinds_async(struct coordinator *c)
{
    struct bind_call *call = calloc(1, sizeof *call);
    struct unbind **tail = call ? &call->unbinds : NULL;
    while (call && c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        u->next = NULL;
        if (bound_find(c, u->src, u->tgt)) {
            free(u->src);
            free(u->tgt);
            free(u);
            continue;
        }
        *tail = u;
        tail = &u->next;
        call->n++;
    }
    if (!call) {
        LOG_ERROR(NS, "out of memory unbinding; again on the next pump");
        return;
    }
    if (call->n == 0) {
        call_free(call);
        return;
    }
    call->kind = CALL_REMOVE;
    call->rcs = calloc(call->n, sizeof *call->rcs);
    int rc = call->rcs ? call_start(c, call) : MSGFLO_ENOMEM;
    if (rc) {
        for (struct unbind *u = call->unbinds; u; u = u->next)
            unbound(u, rc);
        call_free(call);
    }
}

void coordinator_edges__pump_restore(struct coordinator *c)
{
    if (!c->restore_pending || binder__busy(c->binder) || !c->connected)
        return;
    c->restore_pending = false;
    struct bind_call *call = calloc(1, sizeof *call);
    int rc = MSGFLO_ENOMEM;
    if (call) {
        call->kind = CALL_RESTORE;
        rc = call_start(c, call);
    }
    if (rc) {
        free(call);
        coordinator__report_error(c, "restoring the bindings failed: %s", msgflo_strerror(rc));
    }
}

/* Removes the bindings left by edge_unbind unless a bound edge makes the same. */
void coordinator_edges__pump_unbinds(struct coordinator *c)
{
    if (binder__busy(c->binder))
        return; /* after the call under way (its end pumps again) */
    if (c->unbinds && c->connected && transport_has_bindings(c->t)) {
        unbinds_async(c);
        return;
    }
    while (c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        if (!bound_find(c, u->src, u->tgt)) {
            struct binding b = {.type = BINDING_PUBSUB, .src = u->src, .tgt = u->tgt};
            unbound(u, binder__remove(c->binder, &b));
        }
        free(u->src);
        free(u->tgt);
        free(u);
    }
}

struct edge *coordinator_edges__new(struct coordinator *c, const char *sr, const char *sp,
                                    const char *tr, const char *tp)
{
    const char *parts[] = {sr, sp, tr, tp};
    const char *names[4];
    /* One allocation: the record, its key, its four names. */
    struct edge *e = calloc(1, sizeof *e + 2 * key__length(parts, 4));
    if (!e)
        return NULL;
    e->key = key__pack(e->text, parts, 4, names);
    e->src_role = names[0];
    e->src_port = names[1];
    e->tgt_role = names[2];
    e->tgt_port = names[3];
    e->src = coordinator_roles__get(c, sr);
    if (e->src)
        DL_APPEND2(e->src->out_edges, e, sprev, snext); /* keeps the entry while e lives */
    e->tgt = coordinator_roles__get(c, tr);
    if (e->tgt)
        DL_APPEND2(e->tgt->in_edges, e, tprev, tnext);
    if (!e->src || !e->tgt || (!c->edges_unwatched && coordinator_watches__add(c, sr, sp) != 0)) {
        if (e->src) {
            DL_DELETE2(e->src->out_edges, e, sprev, snext);
            coordinator_roles__release(c, e->src);
        }
        if (e->tgt) {
            DL_DELETE2(e->tgt->in_edges, e, tprev, tnext);
            coordinator_roles__release(c, e->tgt);
        }
        free(e);
        return NULL;
    }
    if (!c->edges_unwatched)
        e->watch = coordinator_watches__find(c, sr, sp);
    e->since = uv_now(c->loop);
    HASH_ADD_KEYPTR(hh, c->edges, e->key, strlen(e->key), e);
    c->status_records++;
    coordinator_edges__dirty(c, e);
    coordinator_edges__pending(c, e);
    return e;
}

void coordinator_edges__free(struct coordinator *c, struct edge *e)
{
    struct bind_call *call = c->bind_call;
    for (size_t k = 0; call && call->kind == CALL_ADD && call->items && k < call->n; k++) {
        if (call->items[k].e == e)
            call->items[k].e = NULL; /* its binding is removed once made */
    }
    edge_unbind(c, e);
    if (!c->edges_unwatched)
        coordinator_watches__remove(c, e->src_role, e->src_port);
    e->watch = NULL;
    HASH_DEL(c->edges, e);
    c->status_records++;
    if (e->dirty)
        DL_DELETE2(c->dirty_edges, e, dprev, dnext);
    edge_settled(c, e);
    DL_DELETE2(e->src->out_edges, e, sprev, snext);
    DL_DELETE2(e->tgt->in_edges, e, tprev, tnext);
    coordinator_roles__release(c, e->src);
    if (e->tgt != e->src)
        coordinator_roles__release(c, e->tgt);
    free(e);
}

/* What a report of the batch needs once the edge may be gone: the edge's
 * names, its queues and the outcome. */
struct batch_report {
    char *text; /* sr \0 sp \0 tr \0 tp \0 sq \0 tq \0; NULL: roles not named */
    const char *src, *tgt;
    int rc;
};

/* Appends e to the batch when its binding is to be made (new or other
 * queues); false when out of memory. */
static bool batch_edge(struct coordinator *c, struct edge *e, struct batch_item *it, size_t *n)
{
    char *sq = NULL, *tq = NULL;
    if (registry__queue(c->reg, e->src_role, false, e->src_port, &sq, NULL) != 0 ||
        registry__queue(c->reg, e->tgt_role, true, e->tgt_port, &tq, NULL) != 0) {
        free(sq);
        LOG_ERROR(NS, "out of memory binding %s.%s -> %s.%s", e->src_role, e->src_port, e->tgt_role,
                  e->tgt_port);
        return false;
    }
    if (e->src_q && strcmp(e->src_q, sq) == 0 && strcmp(e->tgt_q, tq) == 0) {
        free(sq); /* bound already */
        free(tq);
        return true;
    }
    edge_unbind(c, e); /* rediscovered with other queues */
    it[*n] = (struct batch_item){.e = e, .sq = sq, .tq = tq};
    ++*n;
    return true;
}

static char *report_text(const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *text = malloc(len), *p = text;
    for (size_t i = 0; text && i < n; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(p, parts[i], l);
        p += l;
    }
    return text;
}

/* Records the outcome of item it (the binder's result rc) in the graph's
 * state, and what to report in *r (reported after the whole batch, as a
 * report may change the graph). */
static void batch_done(struct coordinator *c, struct batch_item *it, int rc, struct batch_report *r)
{
    bool want = rc != 0 || c->sys.events.edge_bound;
    r->rc = rc;
    if (it->f) {
        it->f->made = rc == 0;
        it->f->failed = rc != 0;
        if (rc == 0)
            c->gen_max = ++c->sub_gen; /* MQTT: a forwarding subscription */
        r->src = it->f->b.src;
        r->tgt = it->f->b.tgt;
        return;
    }
    struct edge *e = it->e;
    if (want) {
        const char *parts[] = {e->src_role, e->src_port, e->tgt_role, e->tgt_port, it->sq, it->tq};
        r->text = report_text(parts, 6);
    }
    if (rc) {
        e->failed = true;
        goto out;
    }
    LOG_DEBUG(NS, "bound %s.%s -> %s.%s (%s -> %s)", e->src_role, e->src_port, e->tgt_role,
              e->tgt_port, it->sq, it->tq);
    bool uncounted = coordinator_edges__uncounted(c, it->sq, it->tq);
    if (!uncounted && !bound_add(c, it->sq, it->tq)) {
        /* not recorded as bound (every bound edge is counted): again on the
         * next pump, and binding twice is harmless */
        LOG_ERROR(NS, "out of memory recording %s -> %s; again on the next pump", it->sq, it->tq);
        coordinator_edges__dirty(c, e);
        coordinator__schedule(c);
        goto out;
    }
    if (uncounted) {
        free(it->tq); /* one topic: one string */
        it->tq = it->sq;
    }
    e->src_q = it->sq;
    e->tgt_q = it->tq;
    e->gen = ++c->sub_gen;
    c->gen_max = e->gen;
    it->sq = it->tq = NULL;
out:
    free(it->sq);
    free(it->tq);
}

static void batch_report(struct coordinator *c, struct batch_report *r)
{
    const char *f[6] = {NULL};
    for (size_t i = 0, off = 0; r->text && i < 6; i++) {
        f[i] = r->text + off;
        off += strlen(f[i]) + 1;
    }
    const char *sq = r->text ? f[4] : r->src, *tq = r->text ? f[5] : r->tgt;
    const char *why = r->rc ? msgflo_strerror(r->rc) : NULL;
    if (r->rc && r->text)
        coordinator__report_error(c, "binding %s.%s -> %s.%s (%s -> %s) failed: %s", f[0], f[1],
                                  f[2], f[3], sq, tq, why);
    else if (r->rc)
        coordinator__report_error(c, "binding %s -> %s failed: %s", sq ? sq : "?", tq ? tq : "?",
                                  why);
    if (!c->closing && c->sys.events.edge_bound && (r->text || r->rc))
        c->sys.events.edge_bound(c->sys.ud, f[0], f[1], f[2], f[3], sq, tq, why);
}

bool coordinator_edges__fixed_settling(const struct coordinator *c)
{
    for (const struct fixed_binding *f = c->fixed; f; f = f->next) {
        if (!f->made && !f->failed)
            return true;
    }
    return false;
}

/* Out of memory: the batch's edges again on the next pump. */
static void batch_again(struct coordinator *c, struct batch_item *items, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(items[k].sq);
        free(items[k].tq);
        items[k].sq = items[k].tq = NULL;
        if (items[k].e)
            coordinator_edges__dirty(c, items[k].e);
    }
}

/* The binder's results of a batch: recorded, then reported. An item whose
 * edge went meanwhile (no e, no f) is unbound again when it was made. */
static void batch_finish(struct coordinator *c, struct batch_item *items, size_t n, const int *rcs)
{
    struct batch_report *reports = calloc(n ? n : 1, sizeof *reports);
    if (!reports) {
        batch_again(c, items, n);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (items[k].e || items[k].f) {
            batch_done(c, &items[k], rcs[k], &reports[k]);
            continue;
        }
        struct unbind *u = rcs[k] == 0 ? malloc(sizeof *u) : NULL;
        if (u) {
            *u = (struct unbind){.next = c->unbinds, .src = items[k].sq, .tgt = items[k].tq};
            c->unbinds = u;
            coordinator__schedule(c);
        } else {
            free(items[k].sq);
            free(items[k].tq);
        }
        items[k].sq = items[k].tq = NULL;
    }
    for (size_t k = 0; k < n; k++) {
        if (reports[k].src || reports[k].text || reports[k].rc)
            batch_report(c, &reports[k]);
        free(reports[k].text);
    }
    free(reports);
}

static char *copy_or_null(const char *s, bool *failed)
{
    char *d = s ? strdup(s) : NULL;
    *failed = *failed || (s && !d);
    return d;
}

/* AMQP: the batch goes to the binder's thread; its end is call_done. */
static void pump_async(struct coordinator *c, struct batch_item *items, size_t n)
{
    if (n == 0) {
        free(items);
        return;
    }
    struct bind_call *call = calloc(1, sizeof *call);
    bool failed = !call;
    if (call) {
        *call = (struct bind_call){
            .kind = CALL_ADD, .trust = c->trust_existing, .n = n, .items = items};
        call->bs = calloc(n, sizeof *call->bs);
        call->rcs = calloc(n, sizeof *call->rcs);
        failed = !call->bs || !call->rcs;
    }
    for (size_t k = 0; !failed && k < n; k++) {
        const struct binding *x =
            items[k].f
                ? &items[k].f->b
                : &(struct binding){.type = BINDING_PUBSUB, .src = items[k].sq, .tgt = items[k].tq};
        call->bs[k].type = x->type;
        call->bs[k].src = copy_or_null(x->src, &failed);
        call->bs[k].tgt = copy_or_null(x->tgt, &failed);
        call->bs[k].deadletter = copy_or_null(x->deadletter, &failed);
    }
    int rc = failed ? MSGFLO_ENOMEM : call_start(c, call);
    if (rc == 0)
        return;
    if (rc == MSGFLO_ENOMEM) {
        batch_again(c, items, n);
        free(items);
    } else {
        for (size_t k = 0; k < n; k++)
            call->rcs[k] = rc; /* as a batch on a connection that failed */
        batch_finish(c, items, n, call->rcs);
        free(items);
    }
    if (call) {
        call->items = NULL; /* freed above */
        call_free(call);
    }
}

/* Every binding to make now goes to the binder as one batch (AMQP: one
 * pipelined round of the broker's RPCs, not one per edge). */
void coordinator_edges__pump(struct coordinator *c)
{
    if (binder__busy(c->binder))
        return; /* after the call under way (its end pumps again) */
    if (!c->connected || (!c->dirty_edges && !coordinator_edges__fixed_settling(c)))
        return;
    size_t cap = 0, n = 0;
    for (struct edge *e = c->dirty_edges; e; e = e->dnext)
        cap++;
    for (struct fixed_binding *f = c->fixed; f; f = f->next)
        cap += !f->made && !f->failed;
    struct batch_item *items = calloc(cap ? cap : 1, sizeof *items);
    if (!items) {
        LOG_ERROR(NS, "out of memory binding edges; again on the next pump");
        return;
    }
    /* each edge taken off the list first: its roles may be undiscovered yet */
    while (c->dirty_edges) {
        struct edge *e = c->dirty_edges;
        DL_DELETE2(c->dirty_edges, e, dprev, dnext);
        e->dirty = false;
        if (e->failed)
            continue;
        if (!c->bind_by_convention && (!coordinator_graph__discovered_role(c, e->src_role) ||
                                       !coordinator_graph__discovered_role(c, e->tgt_role)))
            continue; /* again when its roles are discovered */
        batch_edge(c, e, items, &n);
    }
    for (struct fixed_binding *f = c->fixed; f; f = f->next) {
        if (!f->made && !f->failed)
            items[n++] = (struct batch_item){.f = f};
    }
    if (transport_has_bindings(c->t)) {
        pump_async(c, items, n);
        return;
    }
    struct binding *bs = calloc(n ? n : 1, sizeof *bs);
    int *rcs = calloc(n ? n : 1, sizeof *rcs);
    int rc = bs && rcs ? 0 : MSGFLO_ENOMEM;
    for (size_t k = 0; rc == 0 && k < n; k++)
        bs[k] =
            items[k].f
                ? items[k].f->b
                : (struct binding){.type = BINDING_PUBSUB, .src = items[k].sq, .tgt = items[k].tq};
    if (rc == 0 && n > 0)
        binder__add_each(c->binder, bs, n, c->trust_existing, rcs);
    free(bs);
    if (rc)
        batch_again(c, items, n);
    else
        batch_finish(c, items, n, rcs);
    free(rcs);
    free(items);
}

int coordinator__add_binding(struct coordinator *c, const struct binding *b)
{
    struct fixed_binding *f = calloc(1, sizeof *f);
    if (!f)
        return MSGFLO_ENOMEM;
    f->b.type = b->type;
    f->b.src = b->src ? strdup(b->src) : NULL;
    f->b.tgt = b->tgt ? strdup(b->tgt) : NULL;
    f->b.deadletter = b->deadletter ? strdup(b->deadletter) : NULL;
    if ((b->src && !f->b.src) || (b->tgt && !f->b.tgt) || (b->deadletter && !f->b.deadletter)) {
        free(f->b.src);
        free(f->b.tgt);
        free(f->b.deadletter);
        free(f);
        return MSGFLO_ENOMEM;
    }
    struct fixed_binding **tail = &c->fixed;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    coordinator__schedule(c);
    return 0;
}

/* --- automatic edges found ----------------------------------------------------------- */

static void found_free(struct coordinator *c, struct found_edge *f)
{
    HASH_DEL(c->found, f);
    DL_DELETE2(f->src->found_out, f, sprev, snext);
    DL_DELETE2(f->tgt->found_in, f, tprev, tnext);
    coordinator_roles__release(c, f->src);
    if (f->tgt != f->src)
        coordinator_roles__release(c, f->tgt);
    free(f);
}

void coordinator_edges__forget_found(struct coordinator *c, const char *role)
{
    struct coord_role *r = coordinator_roles__find(c, role);
    if (!r)
        return;
    r->pins++; /* r stays while its lists empty */
    while (r->found_out || r->found_in)
        found_free(c, r->found_out ? r->found_out : r->found_in);
    r->pins--;
    coordinator_roles__release(c, r);
}

/* Records a reported automatic edge; false when out of memory. */
static bool found_add(struct coordinator *c, const char *const *parts)
{
    const char *sr = parts[0], *tr = parts[2];
    size_t len = key__length(parts, 4);
    struct found_edge *f = calloc(1, sizeof *f + len);
    if (!f)
        return false;
    f->src = coordinator_roles__get(c, sr);
    if (f->src)
        DL_APPEND2(f->src->found_out, f, sprev, snext);
    f->tgt = coordinator_roles__get(c, tr);
    if (!f->src || !f->tgt) {
        if (f->src) {
            DL_DELETE2(f->src->found_out, f, sprev, snext);
            coordinator_roles__release(c, f->src);
        }
        coordinator_roles__release(c, f->tgt);
        free(f);
        return false;
    }
    DL_APPEND2(f->tgt->found_in, f, tprev, tnext);
    f->key = key__write(f->text, parts, 4);
    HASH_ADD_KEYPTR(hh, c->found, f->key, len - 1, f);
    return true;
}

struct found_list {
    char **items; /* sr, sp, tr, tp, ... (borrowed from the registry until it changes) */
    size_t n, cap;
    bool failed;
};

static void collect_edge(const char *sr, const char *sp, const char *tr, const char *tp,
                         const char *queue, void *ud)
{
    struct found_list *l = ud;
    (void)queue;
    if (l->n + 4 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            l->failed = true;
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    const char *parts[] = {sr, sp, tr, tp};
    for (size_t i = 0; i < 4; i++)
        l->items[l->n++] = strdup(parts[i]);
}

/* Reports the automatic edges of role not reported and not in the graph. */
void coordinator_edges__find_automatic(struct coordinator *c, const char *role)
{
    struct found_list l = {0};
    registry__edges(c->reg, role, collect_edge, &l);
    if (l.failed)
        LOG_ERROR(NS, "out of memory finding the automatic edges of %s", role);
    for (size_t i = 0; i + 4 <= l.n; i += 4) {
        char **f = &l.items[i];
        if (!f[0] || !f[1] || !f[2] || !f[3])
            continue;
        char buf[256];
        char *key = key__join_buf(buf, sizeof buf, (const char *const *)f, 4);
        if (!key)
            continue;
        struct found_edge *old = NULL;
        HASH_FIND_STR(c->found, key, old);
        bool known = old || edge_find_key(c, key);
        key__done(key, buf);
        if (known || !found_add(c, (const char *const *)f))
            continue;
        LOG_DEBUG(NS, "automatic edge %s.%s -> %s.%s", f[0], f[1], f[2], f[3]);
        if (!c->closing && c->sys.events.edge_found)
            c->sys.events.edge_found(c->sys.ud, f[0], f[1], f[2], f[3]);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i]);
    free(l.items);
}

void coordinator_edges__clear(struct coordinator *c)
{
    struct edge *e, *etmp;
    HASH_ITER(hh, c->edges, e, etmp)
    {
        edge_forget_queues(e); /* nothing to unbind */
        coordinator_edges__free(c, e);
    }
    struct found_edge *f, *ftmp;
    HASH_ITER(hh, c->found, f, ftmp)
    {
        found_free(c, f);
    }
    struct bound *b, *btmp;
    HASH_ITER(hh, c->bound, b, btmp)
    {
        HASH_DEL(c->bound, b);
        free(b);
    }
    while (c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        free(u->src);
        free(u->tgt);
        free(u);
    }
    while (c->fixed) {
        struct fixed_binding *x = c->fixed;
        c->fixed = x->next;
        free(x->b.src);
        free(x->b.tgt);
        free(x->b.deadletter);
        free(x);
    }
}
