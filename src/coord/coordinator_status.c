/* What the coordinator knows of roles and edges now, and its counters
 * (system_ops role_status, edge_status, counters): read by the live view and
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

void coordinator__role_status(void *sys, const char *role, struct system_role_status *out)
{
    struct coordinator *c = sys;
    memset(out, 0, sizeof *out);
    out->instances = registry__role_instances(c->reg, role);
    uint64_t last;
    out->last_seen_s = registry__role_seen(c->reg, role, &last) == 0
                           ? (double)(uv_now(c->loop) - last) / 1000.0
                           : -1.0;
    struct coord_role *r = coordinator_roles__find(c, role);
    struct node *n = r ? r->node : NULL;
    if (!n) {
        out->state = out->instances > 0 ? "running" : "expected";
        return;
    }
    out->state = node_state(n, out->instances);
    out->ours = n->start;
    out->pid = n->proc == PROC_RUNNING ? n->pid : 0;
    out->restarts = n->restarts;
}

void coordinator__edge_status(void *sys, const char *sr, const char *sp, const char *tr,
                              const char *tp, bool *bound, unsigned long long *messages)
{
    struct coordinator *c = sys;
    struct edge *e = coordinator_edges__find(c, sr, sp, tr, tp);
    *bound = e && e->src_q;
    *messages = 0;
    struct port_watch *w = e ? e->watch : NULL;
    if (!w) {
        const char *parts[] = {sr, sp};
        KEY_FIND(c->port_watches, parts, 2, w);
    }
    if (w && w->qw)
        *messages = w->qw->messages;
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
