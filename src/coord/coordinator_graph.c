/* The coordinator's live graph: nodes (processes), IIPs and packets, and the
 * pump that does the graph's work on the loop (edges: coordinator_edges.c,
 * watched ports: coordinator_watches.c). See coordinator_internal.h; the
 * system ops are in coordinator_ops.c. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

bool coordinator_graph__discovered_role(const struct coordinator *c, const char *role)
{
    return registry__role_instances(c->reg, role) > 0;
}

static bool settling(struct coordinator *c, uint64_t now);

/* Whether IIP p is left to its participant: the command of the process
 * started for its role took the role's IIPs (#IIPS). */
static bool iip_by_participant(const struct iip *p)
{
    return p->r->node && p->r->node->takes_iips;
}

/* --- IIPs and packets ------------------------------------------------------------- */

static int send_json(struct coordinator *c, const char *role, const char *port, const char *text)
{
    char *q = NULL;
    int rc = registry__queue(c->reg, role, true, port, &q, NULL);
    if (rc == 0)
        rc = transport_send_to_queue(c->t, q, text, strlen(text));
    if (rc)
        LOG_WARNING(NS, "sending to %s.%s (%s) failed: %s", role, port, q ? q : "?",
                    msgflo_strerror(rc));
    else
        LOG_DEBUG(NS, "sent to %s.%s (%s): %s", role, port, q, text);
    free(q);
    return rc;
}

static void pump_iips(struct coordinator *c)
{
    if (!c->iips_to_send || !c->started || !c->connected)
        return;
    if (settling(c, uv_now(c->loop)))
        return;              /* again on the next pump */
    c->iips_to_send = false; /* set again below when one could not be sent */
    c->iips_waiting = false;
    uint64_t now = uv_now(c->loop);
again:
    for (struct iip *p = c->iips; p && c->started && c->connected; p = p->next) {
        if (p->sent || iip_by_participant(p))
            continue;
        if (!coordinator_graph__discovered_role(c, p->role)) {
            /* the tick looks again until the wait timeout */
            c->iips_waiting = c->iips_waiting || now - p->since < c->wait_timeout_ms;
            continue;
        }
        char *text = json_dumps(p->data, JSON_COMPACT | JSON_ENCODE_ANY);
        int rc = text ? send_json(c, p->role, p->port, text) : MSGFLO_ENOMEM;
        free(text);
        if (rc) {
            c->iips_to_send = true;
            return; /* again on the next pump */
        }
        p->sent = true;
        c->counts.iips_sent++;
        if (c->sys.events.initial_sent && !c->closing) {
            json_t *data = json_incref(p->data);
            char *role = strdup(p->role), *port = strdup(p->port);
            if (role && port)
                c->sys.events.initial_sent(c->sys.ud, role, port, data);
            free(role);
            free(port);
            json_decref(data);
            goto again; /* the callback may have changed the list */
        }
    }
}

void coordinator_graph__iip_free(struct coordinator *c, struct iip *p)
{
    DL_DELETE2(c->iips, p, prev, next);
    DL_DELETE2(p->r->iips, p, rprev, rnext);
    coordinator_roles__release(c, p->r);
    free(p->role);
    free(p->port);
    json_decref(p->data);
    free(p);
}

void coordinator_graph__packet_free(struct packet *p)
{
    free(p->role);
    free(p->port);
    free(p->text);
    free(p);
}

static void pump_packets(struct coordinator *c)
{
    uint64_t now = uv_now(c->loop);
    if (settling(c, now))
        return;
again:
    for (struct packet **pp = &c->packets; *pp && c->connected;) {
        struct packet *p = *pp;
        if (!coordinator_graph__discovered_role(c, p->role)) {
            if (now - p->since < c->wait_timeout_ms) {
                pp = &p->next;
                continue;
            }
            /* the role never came: not kept for ever */
            *pp = p->next;
            coordinator__report_error(
                c, "packet to %s.%s dropped: '%s' was not discovered within %llu s", p->role,
                p->port, p->role, (unsigned long long)(c->wait_timeout_ms / 1000));
            coordinator_graph__packet_free(p);
            goto again; /* the report may have changed the list */
        }
        if (send_json(c, p->role, p->port, p->text) != 0)
            return;
        *pp = p->next;
        coordinator_graph__packet_free(p);
    }
}

/* --- nodes and processes ---------------------------------------------------------- */

struct node *coordinator_graph__node(struct coordinator *c, const char *role)
{
    struct coord_role *r = coordinator_roles__find(c, role);
    return r ? r->node : NULL;
}

void coordinator_graph__node_pending(struct coordinator *c, struct node *n)
{
    if (n->pending)
        return;
    n->pending = true;
    DL_APPEND2(c->pending_nodes, n, pprev, pnext);
}

void coordinator_graph__node_free(struct coordinator *c, struct node *n)
{
    DL_DELETE2(c->nodes, n, prev, next);
    if (n->pending)
        DL_DELETE2(c->pending_nodes, n, pprev, pnext);
    struct coord_role *r = coordinator_roles__find(c, n->role);
    if (r && r->node == n) {
        r->node = NULL;
        coordinator_roles__release(c, r);
    }
    free(n->role);
    if (n->component)
        coordinator_components__use(c, n->component, -1);
    free(n->component);
    free(n);
}

static void on_started(const char *role, const char *line, void *ud)
{
    struct coordinator *c = ud;
    struct node *n = coordinator_graph__node(c, role);
    (void)line;
    if (n && n->proc == PROC_STARTING) {
        n->proc = PROC_RUNNING;
        n->restarting = false;
        n->pid = supervisor__pid(c->sup, role);
        coordinator__schedule(c); /* it may be what the graph waited for (else the tick, 1 s) */
    }
}

static void on_exit_cb(const char *role, int status, bool will_restart, void *ud)
{
    struct coordinator *c = ud;
    struct node *n = coordinator_graph__node(c, role);
    if (!n || !n->in_graph)
        return;
    n->proc = will_restart ? PROC_STARTING : PROC_FAILED;
    n->restarting = will_restart;
    n->pid = 0;
    if (will_restart) {
        n->restarts++;
        c->counts.restarts++;
    }
    coordinator_graph__node_pending(c, n);
    char what[64];
    if (status >= 0)
        snprintf(what, sizeof what, "exited with status %d", status);
    else
        snprintf(what, sizeof what, "was killed by signal %d", -status);
    coordinator__report_process_error(c, role, "participant '%s' %s%s", role, what,
                                      will_restart ? "; restarting" : "");
}

static void on_error_cb(const char *role, const char *message, void *ud)
{
    struct coordinator *c = ud;
    struct node *n = coordinator_graph__node(c, role);
    if (!n || !n->in_graph)
        return;
    n->proc = PROC_FAILED;
    n->restarting = false;
    n->pid = 0;
    n->start_failed = true;
    coordinator__report_process_error(c, role, "%s", message);
}

static const struct supervisor_callbacks process_callbacks = {
    .on_started = on_started,
    .on_exit = on_exit_cb,
    .on_error = on_error_cb,
};

/* Starts n's process; true when it reported. */
static bool node_start(struct coordinator *c, struct node *n)
{
    char err[512] = "";
    char *cmd = NULL;
    /* the role's IIPs, for a command that takes them (#IIPS) */
    json_t *iips = json_object();
    struct coord_role *r = coordinator_roles__find(c, n->role);
    struct iip *p;
    DL_FOREACH2(r ? r->iips : NULL, p, rnext)
    {
        json_object_set(iips, p->port, p->data);
    }
    const struct library_component *lc = library__find(c->lib, n->component);
    n->takes_iips = lc && strstr(lc->command, "#IIPS") != NULL;
    int rc = iips ? library__command(c->lib, n->component, n->role, iips, &cmd, err, sizeof err)
                  : MSGFLO_ENOMEM;
    json_decref(iips);
    if (rc == 0)
        rc = supervisor__start(c->sup, n->role, cmd, &process_callbacks, c);
    if (rc == 0) {
        LOG_DEBUG(NS, "starting %s: %s", n->role, cmd);
        n->proc = PROC_STARTING;
        free(cmd);
        return false;
    }
    n->proc = PROC_FAILED;
    n->start_failed = true;
    coordinator__report_process_error(c, n->role, "cannot start participant '%s' (%s): %s", n->role,
                                      cmd ? cmd : n->component, err[0] ? err : msgflo_strerror(rc));
    free(cmd);
    return true;
}

static void pump_nodes(struct coordinator *c)
{
    if (!c->nodes_to_start)
        return;
    if (!c->connected || c->discovery_gen == 0 || c->sub_confirmed < c->discovery_gen)
        return; /* not listening for discovery yet: the announcement would be lost */
    c->nodes_to_start = false;
again:
    for (struct node *n = c->nodes; n && c->sup; n = n->next) {
        if (n->in_graph && n->start && n->proc == PROC_NONE && node_start(c, n))
            goto again;
    }
}

void coordinator_graph__process_stopped(struct supervisor *sup, void *ud)
{
    struct node *n = ud;
    struct coordinator *c = n->c;
    (void)sup;
    n->proc = PROC_NONE;
    if (!n->in_graph) {
        coordinator_graph__node_free(c, n);
    } else {
        c->nodes_to_start = true;
        coordinator_graph__node_pending(c, n);
        coordinator__schedule(c); /* added again meanwhile: a new process */
    }
}

/* --- pump ------------------------------------------------------------------------- */

static void on_subscribed(void *ud)
{
    struct coordinator *c = ud;
    c->sub_confirmed = c->sub_requested;
    coordinator__schedule(c); /* more to confirm, or processes waiting to start */
}

/* Asks the broker to acknowledge the subscriptions made so far (MQTT). */
static void pump_confirm(struct coordinator *c)
{
    if (!c->connected || c->sub_requested == c->sub_gen)
        return;
    c->sub_requested = c->sub_gen;
    if (transport_when_subscribed(c->t, on_subscribed, c) != 0)
        c->sub_requested = c->sub_confirmed;
}

/* events.settled once busy() turned false (looked at only when the client
 * asked for it: busy() looks at every IIP). */
static void report_settled(struct coordinator *c)
{
    if (!c->sys.events.settled || !c->connected || c->closing)
        return;
    if (coordinator_graph__busy(c)) {
        c->settled = false;
        return;
    }
    if (c->settled)
        return;
    c->settled = true;
    c->sys.events.settled(c->sys.ud);
}

void coordinator__pump(struct coordinator *c)
{
    if (c->closing)
        return;
    if (c->components_dirty) {
        c->components_dirty = false;
        if (c->sys.events.components_changed)
            c->sys.events.components_changed(c->sys.ud);
    }
    pump_nodes(c);
    if (c->binder) {
        coordinator_edges__pump_restore(c);
        coordinator_edges__pump_unbinds(c);
    }
    coordinator_watches__pump(c);
    coordinator_edges__pump(c);
    pump_iips(c);
    pump_packets(c);
    pump_confirm(c);
    coordinator_router__pump(c);
    coordinator__arm_tick(c);
    report_settled(c);
    coordinator__check(c);
}

void coordinator_graph__connected(struct coordinator *c)
{
    /* a new connection: the earlier waiter is gone, and binder__restore
     * subscribed the bindings again */
    c->sub_requested = c->sub_confirmed;
    ++c->sub_gen;
    struct edge *e, *tmp;
    HASH_ITER(hh, c->edges, e, tmp)
    {
        e->gen = c->sub_gen;
        c->gen_max = c->sub_gen;
    }
    coordinator_watches__reset(c);
    c->nodes_to_start = c->iips_to_send = true;
    /* A refused binding is not retried here: on AMQP the refusal closes the
     * connection, so retrying on every reconnect would never end. */
}

void coordinator_graph__disconnected(struct coordinator *c)
{
    coordinator_watches__reset(c);
}

void coordinator_graph__discovered(struct coordinator *c, const char *role, unsigned changes)
{
    struct coord_role *r = coordinator_roles__find(c, role);
    if (r && r->node) {
        r->node->seen = true;
        r->node->expired = false;
    }
    if (r && r->iips && (changes & REGISTRY_NEW_INSTANCE)) {
        struct iip *p;
        DL_FOREACH2(r->iips, p, rnext)
        {
            p->sent = false; /* a new process: its IIPs again (the original's #127) */
        }
        c->iips_to_send = true;
    }
    if (changes & (REGISTRY_NEW_ROLE | REGISTRY_QUEUES)) {
        coordinator_roles__touch(c, role); /* its edges bound, its watches resolved again */
        coordinator_edges__find_automatic(c, role);
    }
}

/* Whether node n holds settling() (strict) or is still to be looked at by
 * the tick (a process not discovered in time, not reported yet). */
static bool node_settling(struct coordinator *c, const struct node *n, uint64_t now, bool strict)
{
    if (!n->in_graph)
        return false;
    if (n->start && (n->proc == PROC_NONE || n->proc == PROC_STARTING))
        return true;
    if (n->proc == PROC_FAILED || coordinator_graph__discovered_role(c, n->role))
        return false;
    return now - n->since < c->wait_timeout_ms || (!strict && !n->wait_noticed);
}

static bool nodes_settling(struct coordinator *c, uint64_t now)
{
    struct node *n, *tmp;
    DL_FOREACH_SAFE2(c->pending_nodes, n, tmp, pnext)
    {
        if (node_settling(c, n, now, true))
            return true;
        if (!node_settling(c, n, now, false)) {
            n->pending = false; /* until something makes it pending again */
            DL_DELETE2(c->pending_nodes, n, pprev, pnext);
        }
    }
    return false;
}

/* Whether the live graph is still being set up: a process to start, a role
 * not yet discovered (within the wait timeout), an edge not yet bound, a
 * subscription or watch not yet acknowledged, an unbind pending. IIPs and
 * packets wait for this, so what they start flows through bound edges.
 * O(1) when nothing is pending: only the pending lists are looked at. */
static bool settling(struct coordinator *c, uint64_t now)
{
    if (c->unbinds && c->connected)
        return true; /* a removed or moved edge is still bound */
    if (c->gen_max > c->sub_confirmed)
        return true; /* the broker has not acknowledged a binding or watch yet */
    if (c->binder && (binder__busy(c->binder) || (c->connected && c->restore_pending)))
        return true; /* AMQP: a batch on the binder's thread, or a restore to make */
    if (c->connected && c->binder && binder__settling(c->binder))
        return true; /* MQTT: the router looked for, or its results awaited */
    if (c->connected && c->binder && !transport_has_bindings(c->t) &&
        binder__router(c->binder) == BINDER_ROUTER_UNKNOWN)
        return true; /* MQTT: whether edges will be forwarded is not known yet */
    return nodes_settling(c, now) || coordinator_edges__settling(c, now) ||
           coordinator_edges__fixed_settling(c);
}

bool coordinator_graph__busy(struct coordinator *c)
{
    uint64_t now = uv_now(c->loop);
    if (settling(c, now))
        return true;
    for (struct iip *p = c->iips; p && c->started; p = p->next) {
        if (!p->sent && !iip_by_participant(p) && now - p->since < c->wait_timeout_ms)
            return true;
    }
    return c->packets != NULL;
}

void coordinator_graph__tick(struct coordinator *c, uint64_t now)
{
    nodes_settling(c, now); /* prune the lists: the tick stops when they are empty */
    coordinator_edges__settling(c, now);
again:
    for (struct node *n = c->pending_nodes; n; n = n->pnext) {
        if (!n->in_graph || n->wait_noticed || n->proc == PROC_FAILED ||
            now - n->since < c->wait_timeout_ms || coordinator_graph__discovered_role(c, n->role))
            continue;
        n->wait_noticed = true;
        if (n->start)
            coordinator__report_process_error(
                c, n->role, "participant '%s' was not discovered within %llu s", n->role,
                (unsigned long long)(c->wait_timeout_ms / 1000));
        else /* a role expected from elsewhere may still come: said once, not a process error */
            coordinator__report_error(c,
                                      "participant '%s' not seen within %llu s (no command starts "
                                      "it here: its component is not in the library)",
                                      n->role, (unsigned long long)(c->wait_timeout_ms / 1000));
        goto again;
    }
}

void coordinator_graph__free(struct coordinator *c)
{
    c->connected = false; /* nothing goes to the broker any more */
    coordinator_edges__clear(c);
    coordinator_watches__clear(c);
    while (c->iips)
        coordinator_graph__iip_free(c, c->iips);
    while (c->packets) {
        struct packet *p = c->packets;
        c->packets = p->next;
        coordinator_graph__packet_free(p);
    }
    while (c->nodes)
        coordinator_graph__node_free(c, c->nodes);
    coordinator_roles__clear(c);
}
