/* Queue bindings of a graph; see bindings.h. */
#include "binding/bindings.h"

#include "library/library.h"
#include "core/definition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDROBIN "msgflo/RoundRobin"

static bool is_participant(const struct graph *g, const char *name)
{
    const struct graph_process *p = graph__find_process(g, name);
    return p && library__is_participant(p->component);
}

static bool is_roundrobin(const struct graph *g, const char *name)
{
    const struct graph_process *p = graph__find_process(g, name);
    return p && p->component && strcmp(p->component, ROUNDROBIN) == 0;
}

static struct binding *push(struct bindings *b, enum binding_type type)
{
    struct binding *items = realloc(b->items, (b->count + 1) * sizeof *items);
    if (!items)
        return NULL;
    b->items = items;
    struct binding *n = &items[b->count++];
    memset(n, 0, sizeof *n);
    n->type = type;
    return n;
}

/* Replaces *field with the queue of an endpoint. */
static int set_queue(char **field, const struct graph_endpoint *e)
{
    char *q = definition__default_queue(e->process, e->port);
    if (!q)
        return MSGFLO_ENOMEM;
    free(*field);
    *field = q;
    return 0;
}

int bindings__from_graph(const struct graph *g, struct bindings *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    /* roundrobin bindings, indexed like g->processes */
    struct binding *rr = calloc(g->n_processes ? g->n_processes : 1, sizeof *rr);
    if (!rr)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        if (c->data)
            continue; /* IIP */
        const char *src = c->src.process, *tgt = c->tgt.process;
        if (is_roundrobin(g, src)) {
            struct binding *b = &rr[graph__find_process(g, src) - g->processes];
            rc = set_queue(strcmp(c->src.port, "deadletter") == 0 ? &b->deadletter : &b->tgt,
                           &c->tgt);
        } else if (is_roundrobin(g, tgt)) {
            rc = set_queue(&rr[graph__find_process(g, tgt) - g->processes].src, &c->src);
        } else if (is_participant(g, src) && is_participant(g, tgt)) {
            struct binding *b = push(out, BINDING_PUBSUB);
            rc = b ? set_queue(&b->src, &c->src) : MSGFLO_ENOMEM;
            if (rc == 0)
                rc = set_queue(&b->tgt, &c->tgt);
        }
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < g->n_processes; i++) {
        if (!is_roundrobin(g, g->processes[i].name))
            continue;
        struct binding *b = push(out, BINDING_ROUNDROBIN);
        if (!b) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
        *b = rr[i];
        b->type = BINDING_ROUNDROBIN;
        memset(&rr[i], 0, sizeof rr[i]);
    }
out:
    for (size_t i = 0; i < g->n_processes; i++) {
        free(rr[i].src);
        free(rr[i].tgt);
        free(rr[i].deadletter);
    }
    free(rr);
    if (rc)
        bindings__cleanup(out);
    return rc;
}

static int append(char **buf, size_t *len, const char *label, const char *a, const char *b)
{
    int n = snprintf(NULL, 0, "%s\t %s -> %s", label, a, b);
    char *grown = realloc(*buf, *len + (size_t)n + 2);
    if (!grown)
        return MSGFLO_ENOMEM;
    *buf = grown;
    if (*len > 0)
        (*buf)[(*len)++] = '\n';
    snprintf(*buf + *len, (size_t)n + 1, "%s\t %s -> %s", label, a, b);
    *len += (size_t)n;
    return 0;
}

char *bindings__format(const struct bindings *bs)
{
    char *buf = calloc(1, 1);
    size_t len = 0;
    int rc = 0;
    for (size_t i = 0; buf && rc == 0 && i < bs->count; i++) {
        const struct binding *b = &bs->items[i];
        if (b->type == BINDING_PUBSUB) {
            rc = append(&buf, &len, "PUBSUB: ", b->src, b->tgt);
            continue;
        }
        if (b->tgt && b->deadletter)
            rc = append(&buf, &len, "DEADLETTER:", b->tgt, b->deadletter);
        if (rc == 0 && b->tgt && b->src)
            rc = append(&buf, &len, "ROUNDROBIN:", b->src, b->tgt);
    }
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

void bindings__cleanup(struct bindings *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->items[i].src);
        free(b->items[i].tgt);
        free(b->items[i].deadletter);
    }
    free(b->items);
    b->items = NULL;
    b->count = 0;
}
