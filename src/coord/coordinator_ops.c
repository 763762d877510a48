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
        n = calloc(1, sizeof *n);
        if (!n || !(n->role = strdup(role))) {
            free(n);
            return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
        }
        n->c = c;
        n->next = c->nodes;
        c->nodes = n;
    }
    char *comp = strdup(component);
    if (!comp)
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    free(n->component);
    n->component = comp;
    n->in_graph = true;
    n->wait_noticed = false;
    n->since = uv_now(c->loop);
    if (n->proc == PROC_FAILED)
        n->proc = PROC_NONE;
    const struct library_component *lc = library__find(c->lib, component);
    /* a role already running (discovered) is not started a second time */
    n->start =
        lc && lc->command[0] && !ignored(c, role) && !coordinator_graph__discovered_role(c, role);
    LOG_DEBUG(NS, "node %s (%s): %s", role, component,
              n->start ? "starting a process" : "expected to run elsewhere");
    coordinator__schedule(c);
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
    for (struct edge **p = &c->edges; *p;) {
        struct edge *e = *p;
        if (strcmp(e->src_role, role) == 0 || strcmp(e->tgt_role, role) == 0) {
            *p = e->next;
            coordinator_edges__free(c, e);
        } else {
            p = &e->next;
        }
    }
    for (struct iip **p = &c->iips; *p;) {
        struct iip *x = *p;
        if (strcmp(x->role, role) == 0) {
            *p = x->next;
            coordinator_graph__iip_free(x);
        } else {
            p = &x->next;
        }
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
    struct edge *e = calloc(1, sizeof *e);
    if (!e || !(e->src_role = strdup(sr)) || !(e->src_port = strdup(sp)) ||
        !(e->tgt_role = strdup(tr)) || !(e->tgt_port = strdup(tp)) ||
        coordinator_watches__add(c, sr, sp) != 0) {
        if (e) {
            free(e->src_role);
            free(e->src_port);
            free(e->tgt_role);
            free(e->tgt_port);
        }
        free(e);
        return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    }
    e->since = uv_now(c->loop);
    e->next = c->edges;
    c->edges = e;
    coordinator__schedule(c);
    return 0;
}

static int op_remove_edge(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                          char *err, size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    for (struct edge **p = &c->edges; *p; p = &(*p)->next) {
        struct edge *e = *p;
        if (strcmp(e->src_role, sr) == 0 && strcmp(e->src_port, sp) == 0 &&
            strcmp(e->tgt_role, tr) == 0 && strcmp(e->tgt_port, tp) == 0) {
            *p = e->next;
            coordinator_edges__free(c, e);
            break;
        }
    }
    return 0; /* an edge not there (removed with its node) is not an error */
}

static int op_add_initial(void *sys, const char *role, const char *port, const json_t *data,
                          char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port) || !data)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "an IIP needs a role, a port and data");
    struct iip *p = c->iips;
    while (p && (strcmp(p->role, role) != 0 || strcmp(p->port, port) != 0))
        p = p->next;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p || !(p->role = strdup(role)) || !(p->port = strdup(port))) {
            if (p)
                free(p->role);
            free(p);
            return coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
        }
        p->next = c->iips;
        c->iips = p;
    }
    json_decref(p->data);
    p->data = json_deep_copy(data);
    p->sent = false;
    p->since = uv_now(c->loop);
    coordinator__schedule(c);
    return 0;
}

static int op_remove_initial(void *sys, const char *role, const char *port, char *err,
                             size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    for (struct iip **p = &c->iips; *p; p = &(*p)->next) {
        if (strcmp((*p)->role, role) == 0 && strcmp((*p)->port, port) == 0) {
            struct iip *x = *p;
            *p = x->next;
            coordinator_graph__iip_free(x);
            break;
        }
    }
    return 0;
}

static int op_start(void *sys, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    (void)err;
    (void)errlen;
    c->started = true;
    uint64_t now = uv_now(c->loop);
    for (struct iip *p = c->iips; p; p = p->next) {
        p->sent = false;
        p->since = now;
    }
    coordinator__schedule(c);
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
    return 0;
}

static int op_unwatch(void *sys, const char *role, const char *port, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (empty(role) || empty(port) || coordinator_watches__remove(c, role, port) != 0)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL, "%s.%s is not watched",
                                    role ? role : "", port ? port : "");
    return 0;
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
    .components = coordinator__components,
    .component_source = coordinator__component_source,
    .set_component_source = coordinator__set_component_source,
};
