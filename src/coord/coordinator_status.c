/* What the coordinator knows of roles and edges now, and its counters
 * (system_ops role_status, edge_status, counters, and the _ref variants that
 * keep the records found in the caller's cache): read by the live view and
 * /metrics, so each answer is O(1) and calls no broker. */
#include "coord/coordinator_internal.h"

#include "core/key.h"

#include <string.h>

static const char *node_state(const struct node *n, size_t instances)
{
    if (n->proc == PROC_STOPPING)
        return "stopping";
    if (instances > 0)
        return "running";
    if (n->proc == PROC_FAILED)
        return "failed";
    if (n->restarting)
        return "restarting";
    if (n->expired)
        return "expired";
    if (n->proc == PROC_STARTING || n->proc == PROC_RUNNING)
        return "starting";
    return "expected";
}

/* The status of a role from its records (either may be NULL). */
static void role_state(struct coordinator *c, const struct coord_role *r,
                       const struct registry_role *ro, struct system_role_status *out)
{
    memset(out, 0, sizeof *out);
    out->instances = registry__record_instances(ro);
    uint64_t last;
    out->last_seen_s =
        registry__record_seen(ro, &last) == 0 ? (double)(uv_now(c->loop) - last) / 1000.0 : -1.0;
    const struct node *n = r ? r->node : NULL;
    if (!n) {
        out->state = out->instances > 0 ? "running" : "expected";
        return;
    }
    out->state = node_state(n, out->instances);
    out->ours = n->start;
    out->pid = n->proc == PROC_RUNNING ? n->pid : 0;
    out->restarts = n->restarts;
}

void coordinator__role_status(void *sys, const char *role, struct system_role_status *out)
{
    struct coordinator *c = sys;
    role_state(c, coordinator_roles__find(c, role), registry__role_record(c->reg, role), out);
}

/* Changes whenever a record a status ref may point to is made or freed
 * (both counts only grow, so their sum never comes back); never 0. */
static unsigned long long status_epoch(const struct coordinator *c)
{
    return 1 + c->status_records + registry__role_records(c->reg);
}

void coordinator__role_status_ref(void *sys, const char *role, struct system_status_ref *ref,
                                  struct system_role_status *out)
{
    struct coordinator *c = sys;
    unsigned long long epoch = status_epoch(c);
    if (ref->epoch != epoch) {
        ref->p[0] = coordinator_roles__find(c, role);
        ref->p[1] = (void *)registry__role_record(c->reg, role);
        ref->epoch = epoch;
    }
    role_state(c, ref->p[0], ref->p[1], out);
}

/* The edge's record and the watch of its source port (either may be NULL). */
static void edge_state(const struct edge *e, const struct port_watch *w, bool *bound,
                       unsigned long long *messages)
{
    *bound = e && e->src_q;
    *messages = w && w->qw ? w->qw->messages : 0;
}

static struct port_watch *edge_watch(struct coordinator *c, const struct edge *e, const char *sr,
                                     const char *sp)
{
    struct port_watch *w = e ? e->watch : NULL;
    if (!w) {
        const char *parts[] = {sr, sp};
        KEY_FIND(c->port_watches, parts, 2, w);
    }
    return w;
}

void coordinator__edge_status(void *sys, const char *sr, const char *sp, const char *tr,
                              const char *tp, bool *bound, unsigned long long *messages)
{
    struct coordinator *c = sys;
    struct edge *e = coordinator_edges__find(c, sr, sp, tr, tp);
    edge_state(e, edge_watch(c, e, sr, sp), bound, messages);
}

void coordinator__edge_status_ref(void *sys, const char *sr, const char *sp, const char *tr,
                                  const char *tp, struct system_status_ref *ref, bool *bound,
                                  unsigned long long *messages)
{
    struct coordinator *c = sys;
    unsigned long long epoch = status_epoch(c);
    if (ref->epoch != epoch) {
        struct edge *e = coordinator_edges__find(c, sr, sp, tr, tp);
        ref->p[0] = e;
        ref->p[1] = edge_watch(c, e, sr, sp);
        ref->epoch = epoch;
    }
    edge_state(ref->p[0], ref->p[1], bound, messages);
}

void coordinator__counters(void *sys, struct system_counters *out)
{
    struct coordinator *c = sys;
    *out = c->counts;
    out->participants = registry__count(c->reg);
    out->roles = registry__role_count(c->reg);
    out->processes = supervisor__active(c->sup);
    out->bindings = HASH_COUNT(c->bound);
    out->connected = c->connected;
}
