/* The system ops of the coordinator: each changes the live graph's state and
 * schedules the pump (coordinator_graph.c); none reports from within. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

static bool empty(const char *s)
{
    return !s || !*s;
}

/* --- system ops ----------------------------------------------------------------- */

static bool ignored(const struct coordinator *c, const char *role)
{
    for (char **i = c->ignore; i && *i; i++) {
        if (strcmp(*i, role) == 0)
            return true;
    }
    return false;
}

static int op_add_node(void *sys, const char *role, const char *component, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(component))
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "a node needs a role and a component");
    struct node *n = coordinator_graph__node(c, role);
    if (n && n->in_graph)
        return 0; /* already there */
    if (!n) {
        struct coord_role *r = coordinator_roles__get(c, role);
        n = r ? calloc(1, sizeof *n) : NULL;
        if (!n || !(n->role = strdup(role))) {
            free(n);
            coordinator_roles__release(c, r);
            return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
        }
        n->c = c;
        r->node = n;
        DL_PREPEND2(c->nodes, n, prev, next);
    }
    char *comp = strdup(component);
    if (!comp)
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    if (n->component)
        coordinator_components__use(c, n->component, -1);
    free(n->component);
    n->component = comp;
    coordinator_components__use(c, comp, +1);
    n->in_graph = true;
    n->wait_noticed = false;
    n->start_failed = false;
    n->since = uv_now(c->loop);
    if (n->proc == PROC_FAILED)
        n->proc = PROC_NONE;
    const struct library_component *lc = library__find(c->lib, component);
    /* a role already running (discovered) is not started a second time */
    n->start =
        lc && lc->command[0] && !ignored(c, role) && !coordinator_graph__discovered_role(c, role);
    LOG_DEBUG(NS, "node %s (%s): %s", role, component,
              n->start ? "starting a process" : "expected to run elsewhere");
    c->nodes_to_start = c->nodes_to_start || n->start;
    coordinator_graph__node_pending(c, n);
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_remove_node(void *sys, const char *role, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role))
        return coordinator__failure(err, errlen, MSGFLO_EINVAL, "a node needs a role");
    struct node *n = coordinator_graph__node(c, role);
    if (n && n->in_graph) {
        n->in_graph = false;
        if ((n->proc == PROC_STARTING || n->proc == PROC_RUNNING) && c->sup &&
            supervisor__stop(c->sup, role, coordinator_graph__process_stopped, n) == 0)
            n->proc = PROC_STOPPING;
        else if (n->proc != PROC_STOPPING)
            coordinator_graph__node_free(c, n);
    }
    struct coord_role *r = coordinator_roles__find(c, role);
    if (r) {
        r->pins++; /* stays while its lists empty */
        while (r->out_edges)
            coordinator_edges__free(c, r->out_edges);
        while (r->in_edges)
            coordinator_edges__free(c, r->in_edges);
        while (r->iips)
            coordinator_graph__iip_free(c, r->iips);
        r->pins--;
        coordinator_roles__release(c, r);
    }
    for (struct packet **p = &c->packets; *p;) {
        struct packet *x = *p;
        if (strcmp(x->role, role) == 0) {
            *p = x->next;
            coordinator_graph__packet_free(x);
        } else {
            p = &x->next;
        }
    }
    registry__forget_role(c->reg, role);
    coordinator_edges__forget_found(c, role);
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_add_edge(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                       char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(sr) || empty(sp) || empty(tr) || empty(tp))
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "an edge needs two roles and two ports");
    if (coordinator_edges__find(c, sr, sp, tr, tp))
        return 0;
    if (!coordinator_edges__new(c, sr, sp, tr, tp))
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_remove_edge(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                          char *err, size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    struct edge *e = coordinator_edges__find(c, sr, sp, tr, tp);
    if (e)
        coordinator_edges__free(c, e);
    coordinator__check(c);
    return 0; /* an edge not there (removed with its node) is not an error */
}

static struct iip *find_iip(struct coordinator *c, const char *role, const char *port)
{
    struct coord_role *r = coordinator_roles__find(c, role);
    struct iip *p;
    DL_FOREACH2(r ? r->iips : NULL, p, rnext)
    {
        if (strcmp(p->port, port) == 0)
            return p;
    }
    return NULL;
}

static int op_add_initial(void *sys, const char *role, const char *port, const json_t *data,
                          char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port) || !data)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "an IIP needs a role, a port and data");
    struct iip *p = c->every_iip ? NULL : find_iip(c, role, port);
    if (!p) {
        struct coord_role *r = coordinator_roles__get(c, role);
        p = r ? calloc(1, sizeof *p) : NULL;
        if (!p || !(p->role = strdup(role)) || !(p->port = strdup(port))) {
            if (p)
                free(p->role);
            free(p);
            coordinator_roles__release(c, r);
            return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
        }
        p->r = r;
        DL_APPEND2(r->iips, p, rprev, rnext);
        if (c->every_iip)
            DL_APPEND2(c->iips, p, prev, next); /* in the order of the graph file */
        else
            DL_PREPEND2(c->iips, p, prev, next);
    }
    c->iips_to_send = true;
    json_decref(p->data);
    p->data = json_deep_copy(data);
    p->sent = false;
    p->since = uv_now(c->loop);
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_remove_initial(void *sys, const char *role, const char *port, char *err,
                             size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    struct iip *p = find_iip(c, role, port);
    if (p)
        coordinator_graph__iip_free(c, p);
    coordinator__check(c);
    return 0;
}

static int op_start(void *sys, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    c->started = true;
    c->iips_to_send = true;
    c->settled = false; /* a new busy period: events.settled once it ends */
    uint64_t now = uv_now(c->loop);
    for (struct iip *p = c->iips; p; p = p->next) {
        p->sent = false;
        p->since = now;
    }
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_stop(void *sys, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    c->started = false;
    return 0;
}

static bool op_busy(void *sys)
{
    return coordinator_graph__busy(sys);
}

static int op_send(void *sys, const char *role, const char *port, const json_t *data, char *err,
                   size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port) || !data)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "a packet needs a role, a port and data");
    struct packet *p = calloc(1, sizeof *p);
    if (!p || !(p->role = strdup(role)) || !(p->port = strdup(port)) ||
        !(p->text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY))) {
        if (p) {
            free(p->role);
            free(p->port);
        }
        free(p);
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    }
    p->since = uv_now(c->loop);
    struct packet **tail = &c->packets;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p; /* in order */
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_watch(void *sys, const char *role, const char *port, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port))
        return coordinator__failure(err, errlen, MSGFLO_EINVAL, "a watch needs a role and a port");
    if (coordinator_watches__add(c, role, port) != 0)
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    coordinator__schedule(c);
    coordinator__check(c);
    return 0;
}

static int op_unwatch(void *sys, const char *role, const char *port, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port) || coordinator_watches__remove(c, role, port) != 0)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL, "%s.%s is not watched",
                                    role ? role : "", port ? port : "");
    coordinator__check(c);
    return 0;
}

static json_t *op_latest(void *sys, const char *role, const char *port)
{
    return empty(role) || empty(port) ? NULL : coordinator_watches__latest(sys, role, port);
}

const struct system_ops coordinator__ops = {
    .add_node = op_add_node,
    .remove_node = op_remove_node,
    .add_edge = op_add_edge,
    .remove_edge = op_remove_edge,
    .add_initial = op_add_initial,
    .remove_initial = op_remove_initial,
    .start = op_start,
    .stop = op_stop,
    .busy = op_busy,
    .send = op_send,
    .watch = op_watch,
    .unwatch = op_unwatch,
    .latest = op_latest,
    .components = coordinator__components,
    .component = coordinator__component,
    .component_source = coordinator__component_source,
    .set_component_source = coordinator__set_component_source,
    .role_status = coordinator__role_status,
    .edge_status = coordinator__edge_status,
    .counters = coordinator__counters,
    .role_status_ref = coordinator__role_status_ref,
    .edge_status_ref = coordinator__edge_status_ref,
};
