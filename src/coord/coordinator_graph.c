/* The coordinator's live graph: nodes (processes), edges (bindings), IIPs,
 * packets and watched ports, and the pump that does their work on the loop.
 * See coordinator_internal.h; the system ops are in coordinator_ops.c. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

bool coordinator_graph__discovered_role(const struct coordinator *c, const char *role)
{
    return registry__role(c->reg, role) != NULL;
}

static bool settling(struct coordinator *c, uint64_t now);

/* --- watched ports and queues ---------------------------------------------------- */

static void queue_watch_acquire(struct coordinator *c, const char *queue)
{
    struct queue_watch *w = c->queue_watches;
    while (w && strcmp(w->queue, queue) != 0)
        w = w->next;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || !(w->queue = strdup(queue))) {
            free(w);
            LOG_ERROR(NS, "out of memory watching %s", queue);
            return;
        }
        w->next = c->queue_watches;
        c->queue_watches = w;
    }
    w->refs++;
}

/* The last release leaves the watch for the pump to end (an op does no RPC). */
static void queue_watch_release(struct coordinator *c, const char *queue)
{
    for (struct queue_watch *w = c->queue_watches; w; w = w->next) {
        if (strcmp(w->queue, queue) == 0) {
            if (w->refs > 0 && --w->refs == 0)
                coordinator__schedule(c);
            return;
        }
    }
}

static struct port_watch *port_watch_find(struct coordinator *c, const char *role, const char *port)
{
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (strcmp(w->role, role) == 0 && strcmp(w->port, port) == 0)
            return w;
    }
    return NULL;
}

int coordinator_graph__watch(struct coordinator *c, const char *role, const char *port)
{
    struct port_watch *w = port_watch_find(c, role, port);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return MSGFLO_ENOMEM;
        w->role = strdup(role);
        w->port = strdup(port);
        if (!w->role || !w->port) {
            free(w->role);
            free(w->port);
            free(w);
            return MSGFLO_ENOMEM;
        }
        w->next = c->port_watches;
        c->port_watches = w;
    }
    w->refs++;
    return 0;
}

static void port_watch_free(struct coordinator *c, struct port_watch *w)
{
    if (w->queue)
        queue_watch_release(c, w->queue);
    free(w->queue);
    free(w->role);
    free(w->port);
    free(w);
}

int coordinator_graph__unwatch(struct coordinator *c, const char *role, const char *port)
{
    for (struct port_watch **p = &c->port_watches; *p; p = &(*p)->next) {
        struct port_watch *w = *p;
        if (strcmp(w->role, role) != 0 || strcmp(w->port, port) != 0)
            continue;
        if (--w->refs == 0) {
            *p = w->next;
            port_watch_free(c, w);
        }
        return 0;
    }
    return MSGFLO_EINVAL;
}

static void pump_watches(struct coordinator *c)
{
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (!coordinator_graph__discovered_role(c, w->role))
            continue;
        char *q = NULL;
        if (registry__queue(c->reg, w->role, false, w->port, &q, NULL) != 0)
            continue;
        if (w->queue && strcmp(w->queue, q) == 0) {
            free(q);
            continue;
        }
        if (w->queue)
            queue_watch_release(c, w->queue);
        free(w->queue);
        w->queue = q;
        queue_watch_acquire(c, q);
    }
    for (struct queue_watch **p = &c->queue_watches; *p;) {
        struct queue_watch *w = *p;
        if (w->refs > 0) {
            p = &w->next;
            continue;
        }
        if (w->active && c->connected)
            transport_unwatch(c->t, w->queue);
        *p = w->next;
        free(w->queue);
        free(w);
    }
    if (!c->connected)
        return;
    for (struct queue_watch *w = c->queue_watches; w; w = w->next) {
        if (w->active)
            continue;
        int rc = transport_watch(c->t, w->queue);
        if (rc == 0) {
            w->active = true;
            w->gen = ++c->sub_gen;
        } else
            LOG_WARNING(NS, "watching %s failed: %s", w->queue, msgflo_strerror(rc));
        if (!c->connected)
            return; /* the failure dropped the connection */
    }
}

/* Bytes that are not UTF-8 as a string, each byte read as Latin-1 (a string
 * of its bytes, as system_events.data promises); NULL when out of memory. */
static json_t *latin1_string(const unsigned char *data, size_t len)
{
    char *text = malloc(len * 2 + 1);
    size_t n = 0;
    if (!text)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (data[i] < 0x80) {
            text[n++] = (char)data[i];
        } else {
            text[n++] = (char)(0xC0 | (data[i] >> 6));
            text[n++] = (char)(0x80 | (data[i] & 0x3F));
        }
    }
    json_t *value = json_stringn(text, n);
    free(text);
    return value;
}

void coordinator_graph__data(struct coordinator *c, const char *queue, const void *data, size_t len)
{
    if (!c->sys.events.data)
        return;
    /* what to report first: the callback may unwatch */
    json_t *ports = json_array();
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (w->queue && strcmp(w->queue, queue) == 0)
            json_array_append_new(ports, json_pack("[ss]", w->role, w->port));
    }
    if (json_array_size(ports) == 0) {
        json_decref(ports);
        return;
    }
    json_t *value = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_stringn(data, len);
    if (!value)
        value = latin1_string(data, len); /* not JSON and not UTF-8 */
    if (!value)
        value = json_null();
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        if (!c->closing)
            c->sys.events.data(c->sys.ud, json_string_value(json_array_get(p, 0)),
                               json_string_value(json_array_get(p, 1)), value);
    }
    json_decref(value);
    json_decref(ports);
}

/* --- edges ---------------------------------------------------------------------------- */

struct edge *coordinator_graph__edge(struct coordinator *c, const char *sr, const char *sp,
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
static void pump_unbinds(struct coordinator *c)
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

void coordinator_graph__edge_free(struct coordinator *c, struct edge *e)
{
    edge_unbind(c, e);
    coordinator_graph__unwatch(c, e->src_role, e->src_port);
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

static void pump_edges(struct coordinator *c)
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

void coordinator_graph__forget_found(struct coordinator *c, const char *role)
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
static void find_edges(struct coordinator *c, const char *role)
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
        if (json_object_get(c->edges_found, key) || coordinator_graph__edge(c, sr, sp, tr, tp))
            continue;
        json_object_set(c->edges_found, key, f);
        LOG_DEBUG(NS, "automatic edge %s.%s -> %s.%s", sr, sp, tr, tp);
        if (!c->closing && c->sys.events.edge_found)
            c->sys.events.edge_found(c->sys.ud, sr, sp, tr, tp);
    }
    json_decref(found);
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
    if (settling(c, uv_now(c->loop)))
        return; /* again on the next pump */
again:
    for (struct iip *p = c->iips; p && c->started && c->connected; p = p->next) {
        if (p->sent || !coordinator_graph__discovered_role(c, p->role))
            continue;
        char *text = json_dumps(p->data, JSON_COMPACT | JSON_ENCODE_ANY);
        int rc = text ? send_json(c, p->role, p->port, text) : MSGFLO_ENOMEM;
        free(text);
        if (rc)
            return; /* again on the next pump */
        p->sent = true;
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

void coordinator_graph__iip_free(struct iip *p)
{
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
    if (settling(c, uv_now(c->loop)))
        return;
    for (struct packet **pp = &c->packets; *pp && c->connected;) {
        struct packet *p = *pp;
        if (!coordinator_graph__discovered_role(c, p->role)) {
            pp = &p->next;
            continue;
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
    for (struct node *n = c->nodes; n; n = n->next) {
        if (strcmp(n->role, role) == 0)
            return n;
    }
    return NULL;
}

void coordinator_graph__node_free(struct coordinator *c, struct node *n)
{
    for (struct node **p = &c->nodes; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            break;
        }
    }
    free(n->role);
    free(n->component);
    free(n);
}

static void on_started(const char *role, const char *line, void *ud)
{
    struct coordinator *c = ud;
    struct node *n = coordinator_graph__node(c, role);
    (void)line;
    if (n && n->proc == PROC_STARTING)
        n->proc = PROC_RUNNING;
}

static void on_exit_cb(const char *role, int status, bool will_restart, void *ud)
{
    struct coordinator *c = ud;
    struct node *n = coordinator_graph__node(c, role);
    if (!n || !n->in_graph)
        return;
    n->proc = will_restart ? PROC_STARTING : PROC_FAILED;
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
    int rc = library__command(c->lib, n->component, n->role, NULL, &cmd, err, sizeof err);
    if (rc == 0)
        rc = supervisor__start(c->sup, n->role, cmd, &process_callbacks, c);
    if (rc == 0) {
        LOG_DEBUG(NS, "starting %s: %s", n->role, cmd);
        n->proc = PROC_STARTING;
        free(cmd);
        return false;
    }
    n->proc = PROC_FAILED;
    coordinator__report_process_error(c, n->role, "cannot start participant '%s' (%s): %s", n->role,
                                      cmd ? cmd : n->component, err[0] ? err : msgflo_strerror(rc));
    free(cmd);
    return true;
}

static void pump_nodes(struct coordinator *c)
{
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
    if (!n->in_graph)
        coordinator_graph__node_free(c, n);
    else
        coordinator__schedule(c); /* added again meanwhile: a new process */
}

/* --- pump ------------------------------------------------------------------------- */

static void on_subscribed(void *ud)
{
    struct coordinator *c = ud;
    c->sub_confirmed = c->sub_requested;
    if (c->sub_requested < c->sub_gen)
        coordinator__schedule(c);
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
    if (c->binder)
        pump_unbinds(c);
    pump_watches(c);
    pump_edges(c);
    pump_iips(c);
    pump_packets(c);
    pump_confirm(c);
}

void coordinator_graph__connected(struct coordinator *c)
{
    /* a new connection: the earlier waiter is gone, and binder__restore
     * subscribed the bindings again */
    c->sub_requested = c->sub_confirmed;
    ++c->sub_gen;
    for (struct edge *e = c->edges; e; e = e->next)
        e->gen = c->sub_gen;
    for (struct queue_watch *w = c->queue_watches; w; w = w->next)
        w->active = false;
    /* A refused binding is not retried here: on AMQP the refusal closes the
     * connection, so retrying on every reconnect would never end. */
}

void coordinator_graph__disconnected(struct coordinator *c)
{
    for (struct queue_watch *w = c->queue_watches; w; w = w->next)
        w->active = false;
}

void coordinator_graph__discovered(struct coordinator *c, const char *role, unsigned changes)
{
    if (changes & REGISTRY_NEW_INSTANCE) {
        for (struct iip *p = c->iips; p; p = p->next) {
            if (strcmp(p->role, role) == 0)
                p->sent = false; /* a new process: its IIPs again (the original's #127) */
        }
    }
    if (changes & (REGISTRY_NEW_ROLE | REGISTRY_QUEUES)) {
        for (struct edge *e = c->edges; e; e = e->next) {
            if (strcmp(e->src_role, role) == 0 || strcmp(e->tgt_role, role) == 0)
                e->failed = false; /* other queues: worth another try */
        }
        find_edges(c, role);
    }
}

/* Whether the live graph is still being set up: a process to start, a role
 * not yet discovered (within the wait timeout), an edge not yet bound, a
 * subscription or watch not yet acknowledged, an unbind pending. IIPs and
 * packets wait for this, so what they start flows through bound edges. */
static bool settling(struct coordinator *c, uint64_t now)
{
    if (c->unbinds && c->connected)
        return true; /* a removed or moved edge is still bound */
    for (struct node *n = c->nodes; n; n = n->next) {
        if (!n->in_graph)
            continue;
        if (n->start && (n->proc == PROC_NONE || n->proc == PROC_STARTING))
            return true;
        if (!coordinator_graph__discovered_role(c, n->role) && n->proc != PROC_FAILED &&
            now - n->since < c->wait_timeout_ms)
            return true;
    }
    for (struct edge *e = c->edges; e; e = e->next) {
        if (!e->src_q && !e->failed && now - e->since < c->wait_timeout_ms)
            return true;
        if (e->src_q && e->gen > c->sub_confirmed)
            return true; /* the broker has not acknowledged the subscription yet */
    }
    for (struct queue_watch *w = c->queue_watches; w; w = w->next) {
        if (w->active && w->gen > c->sub_confirmed)
            return true;
    }
    return false;
}

bool coordinator_graph__busy(struct coordinator *c)
{
    uint64_t now = uv_now(c->loop);
    if (settling(c, now))
        return true;
    for (struct iip *p = c->iips; p && c->started; p = p->next) {
        if (!p->sent && now - p->since < c->wait_timeout_ms)
            return true;
    }
    return c->packets != NULL;
}

void coordinator_graph__tick(struct coordinator *c, uint64_t now)
{
again:
    for (struct node *n = c->nodes; n; n = n->next) {
        /* only processes we started: a role expected elsewhere may come any time */
        if (!n->in_graph || !n->start || n->wait_noticed || n->proc == PROC_FAILED ||
            now - n->since < c->wait_timeout_ms || coordinator_graph__discovered_role(c, n->role))
            continue;
        n->wait_noticed = true;
        coordinator__report_process_error(c, n->role,
                                          "participant '%s' was not discovered within %llu s",
                                          n->role, (unsigned long long)(c->wait_timeout_ms / 1000));
        goto again;
    }
}

void coordinator_graph__free(struct coordinator *c)
{
    c->connected = false; /* nothing goes to the broker any more */
    while (c->edges) {
        struct edge *e = c->edges;
        c->edges = e->next;
        free(e->src_q);
        free(e->tgt_q);
        e->src_q = NULL;
        coordinator_graph__edge_free(c, e);
    }
    while (c->port_watches) {
        struct port_watch *w = c->port_watches;
        c->port_watches = w->next;
        free(w->queue);
        w->queue = NULL;
        port_watch_free(c, w);
    }
    while (c->unbinds) {
        struct unbind *u = c->unbinds;
        c->unbinds = u->next;
        free(u->src);
        free(u->tgt);
        free(u);
    }
    while (c->queue_watches) {
        struct queue_watch *w = c->queue_watches;
        c->queue_watches = w->next;
        free(w->queue);
        free(w);
    }
    while (c->iips) {
        struct iip *p = c->iips;
        c->iips = p->next;
        coordinator_graph__iip_free(p);
    }
    while (c->packets) {
        struct packet *p = c->packets;
        c->packets = p->next;
        coordinator_graph__packet_free(p);
    }
    while (c->nodes)
        coordinator_graph__node_free(c, c->nodes);
}
