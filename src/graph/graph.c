/* The graph model: ordered processes (with a hash index by name),
 * connections, exported ports and groups, and the reference's validation. */
#include "graph/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *graph__strndup(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* A bump allocator for the graph's strings: parsing a large graph makes
 * tens of thousands of small strings, and malloc/free dominated the time. */
struct graph_arena_block {
    struct graph_arena_block *next;
    size_t used, cap;
    char data[];
};

#define GRAPH_ARENA_BLOCK 65536

static char *graph__alloc(struct graph *g, size_t n)
{
    struct graph_arena_block *b = g->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = GRAPH_ARENA_BLOCK - sizeof(*b);
        if (n > cap / 4) {
            /* a big string gets a block of its own, behind the current one */
            struct graph_arena_block *big = malloc(sizeof(*big) + n);
            if (!big)
                return NULL;
            big->used = big->cap = n;
            if (b) {
                big->next = b->next;
                b->next = big;
            } else {
                big->next = NULL;
                g->arena = big;
            }
            return big->data;
        }
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = g->arena;
        b->used = 0;
        b->cap = cap;
        g->arena = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

static char *graph__strndup_in(struct graph *g, const char *s, size_t n);

char *graph__arena_strndup(struct graph *g, const char *s, size_t n)
{
    return graph__strndup_in(g, s, n);
}

int graph__process_metadata(const struct graph_process *p, json_t **out)
{
    *out = NULL;
    if (p->metadata) {
        *out = json_incref(p->metadata);
        return 0;
    }
    if (!p->metadata_text)
        return 0;
    *out = fbp__metadata(p->metadata_text, p->metadata_len);
    return *out ? 0 : MSGFLO_ENOMEM;
}

static char *graph__strndup_in(struct graph *g, const char *s, size_t n)
{
    char *copy = graph__alloc(g, n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

static char *graph__strdup(struct graph *g, const char *s)
{
    return graph__strndup_in(g, s, strlen(s));
}

void graph__error(struct graph_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->line = 0;
    err->column = 0;
}

int graph__new(struct graph **out)
{
    struct graph *g = calloc(1, sizeof(*g));
    if (!g)
        return MSGFLO_ENOMEM;
    *out = g;
    return 0;
}

static int graph__reserve(void **items, size_t *cap, size_t n, size_t size);

/* An endpoint's process and port share one allocation (process first). */
int graph__endpoint_init(struct graph *g, struct graph_endpoint *e, const char *process,
                         size_t process_len, const char *port, size_t port_len, bool lower,
                         int64_t index)
{
    char *block = graph__alloc(g, process_len + port_len + 2);
    if (!block)
        return MSGFLO_ENOMEM;
    memcpy(block, process, process_len);
    block[process_len] = '\0';
    char *p = block + process_len + 1;
    for (size_t i = 0; i < port_len; i++) {
        char c = port[i];
        p[i] = lower && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    p[port_len] = '\0';
    e->process = block;
    e->port = p;
    e->index = index;
    return 0;
}

int graph__reserve_connections(struct graph *g, size_t n)
{
    if (n <= g->cap_connections)
        return 0;
    void *p = realloc(g->connections, n * sizeof(*g->connections));
    if (!p)
        return MSGFLO_ENOMEM;
    g->connections = p;
    g->cap_connections = n;
    return 0;
}

int graph__push_connection(struct graph *g, struct graph_connection *c)
{
    int rc = graph__reserve((void **)&g->connections, &g->cap_connections, g->n_connections,
                            sizeof(*g->connections));
    if (rc) {
        json_decref(c->data);
        json_decref(c->metadata);
        return rc;
    }
    g->connections[g->n_connections++] = *c;
    return 0;
}

static void graph__free_export(struct graph_export *e)
{
    json_decref(e->metadata);
}

void graph__free(struct graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_processes; i++) {
        json_decref(g->processes[i].metadata);
    }
    for (size_t i = 0; i < g->n_connections; i++) {
        struct graph_connection *c = &g->connections[i];
        json_decref(c->data);
        json_decref(c->metadata);
    }
    for (size_t i = 0; i < g->n_inports; i++)
        graph__free_export(&g->inports[i]);
    for (size_t i = 0; i < g->n_outports; i++)
        graph__free_export(&g->outports[i]);
    for (size_t i = 0; i < g->n_groups; i++) {
        json_decref(g->groups[i].nodes);
        json_decref(g->groups[i].metadata);
    }
    json_decref(g->properties);
    free(g->processes);
    free(g->connections);
    free(g->inports);
    free(g->outports);
    free(g->groups);
    free(g->index);
    while (g->arena) {
        struct graph_arena_block *next = g->arena->next;
        free(g->arena);
        g->arena = next;
    }
    free(g);
}

/* Makes room for one more element of an array. */
static int graph__reserve(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t new_cap = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, new_cap * size);
    if (!p)
        return MSGFLO_ENOMEM;
    *items = p;
    *cap = new_cap;
    return 0;
}

static size_t graph__hash(const char *s, size_t len)
{
    size_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

static void graph__index_put(size_t *index, size_t cap, const char *name, size_t pos)
{
    size_t i = graph__hash(name, strlen(name)) & (cap - 1);
    while (index[i])
        i = (i + 1) & (cap - 1);
    index[i] = pos + 1;
}

static int graph__index_grow(struct graph *g)
{
    if ((g->n_processes + 1) * 2 <= g->index_cap)
        return 0;
    size_t cap = g->index_cap ? g->index_cap * 2 : 16;
    size_t *index = calloc(cap, sizeof(*index));
    if (!index)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < g->n_processes; i++)
        graph__index_put(index, cap, g->processes[i].name, i);
    free(g->index);
    g->index = index;
    g->index_cap = cap;
    return 0;
}

struct graph_process *graph__find_process_n(const struct graph *g, const char *name, size_t len)
{
    if (!g->index_cap)
        return NULL;
    size_t i = graph__hash(name, len) & (g->index_cap - 1);
    while (g->index[i]) {
        struct graph_process *p = &g->processes[g->index[i] - 1];
        if (p->name[0] == name[0] && memcmp(p->name, name, len) == 0 && p->name[len] == '\0')
            return p;
        i = (i + 1) & (g->index_cap - 1);
    }
    return NULL;
}

struct graph_process *graph__find_process(const struct graph *g, const char *name)
{
    return graph__find_process_n(g, name, strlen(name));
}

int graph__ensure_process_n(struct graph *g, const char *name, size_t len,
                            struct graph_process **out)
{
    struct graph_process *p = graph__find_process_n(g, name, len);
    if (!p) {
        int rc = graph__reserve((void **)&g->processes, &g->cap_processes, g->n_processes,
                                sizeof(*g->processes));
        if (rc == 0)
            rc = graph__index_grow(g);
        if (rc)
            return rc;
        p = &g->processes[g->n_processes];
        memset(p, 0, sizeof(*p));
        p->name = graph__strndup_in(g, name, len);
        if (!p->name)
            return MSGFLO_ENOMEM;
        graph__index_put(g->index, g->index_cap, p->name, g->n_processes);
        g->n_processes++;
    }
    if (out)
        *out = p;
    return 0;
}

int graph__ensure_process(struct graph *g, const char *name, struct graph_process **out)
{
    return graph__ensure_process_n(g, name, strlen(name), out);
}

int graph__set_component_n(struct graph *g, struct graph_process *p, const char *component,
                           size_t len)
{
    if (p->component && strncmp(p->component, component, len) == 0 && p->component[len] == '\0')
        return 0;
    char *copy = graph__strndup_in(g, component, len);
    if (!copy)
        return MSGFLO_ENOMEM;
    p->component = copy; /* the old one stays in the arena */
    return 0;
}

void graph__set_process_metadata(struct graph_process *p, json_t *metadata)
{
    json_incref(metadata);
    json_decref(p->metadata);
    p->metadata = metadata;
    p->metadata_text = NULL;
    p->metadata_len = 0;
}

int graph__set_component(struct graph *g, struct graph_process *p, const char *component)
{
    if (!component) {
        p->component = NULL;
        return 0;
    }
    return graph__set_component_n(g, p, component, strlen(component));
}

static int graph__copy_endpoint(struct graph *g, struct graph_endpoint *dst,
                                const struct graph_endpoint *src)
{
    return graph__endpoint_init(g, dst, src->process, strlen(src->process), src->port,
                                strlen(src->port), false, src->index);
}

static int graph__add_connection(struct graph *g, json_t *data, const struct graph_endpoint *src,
                                 const struct graph_endpoint *tgt, json_t *metadata)
{
    struct graph_connection c;
    memset(&c, 0, sizeof(c));
    c.src.index = GRAPH_NO_INDEX;
    int rc = graph__copy_endpoint(g, &c.tgt, tgt);
    if (rc)
        return rc;
    if (src) {
        rc = graph__copy_endpoint(g, &c.src, src);
        if (rc)
            return rc;
    }
    c.data = json_incref(data);
    c.metadata = json_incref(metadata);
    return graph__push_connection(g, &c);
}

int graph__add_edge(struct graph *g, const struct graph_endpoint *src,
                    const struct graph_endpoint *tgt, json_t *metadata)
{
    return graph__add_connection(g, NULL, src, tgt, metadata);
}

int graph__add_iip(struct graph *g, json_t *data, const struct graph_endpoint *tgt,
                   json_t *metadata)
{
    if (!data)
        return MSGFLO_EINVAL;
    return graph__add_connection(g, data, NULL, tgt, metadata);
}

static int graph__set_export(struct graph *g, struct graph_export **items, size_t *n, size_t *cap,
                             const char *name, const char *process, const char *port,
                             json_t *metadata)
{
    struct graph_export e = {graph__strdup(g, name), graph__strdup(g, process),
                             graph__strdup(g, port), json_incref(metadata)};
    if (!e.name || !e.process || !e.port) {
        graph__free_export(&e);
        return MSGFLO_ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*items)[i].name, name) == 0) {
            graph__free_export(&(*items)[i]);
            (*items)[i] = e;
            return 0;
        }
    }
    int rc = graph__reserve((void **)items, cap, *n, sizeof(**items));
    if (rc) {
        graph__free_export(&e);
        return rc;
    }
    (*items)[(*n)++] = e;
    return 0;
}

int graph__set_inport(struct graph *g, const char *name, const char *process, const char *port,
                      json_t *metadata)
{
    return graph__set_export(g, &g->inports, &g->n_inports, &g->cap_inports, name, process, port,
                             metadata);
}

int graph__set_outport(struct graph *g, const char *name, const char *process, const char *port,
                       json_t *metadata)
{
    return graph__set_export(g, &g->outports, &g->n_outports, &g->cap_outports, name, process, port,
                             metadata);
}

int graph__add_group(struct graph *g, const char *name, json_t *nodes, json_t *metadata)
{
    int rc = graph__reserve((void **)&g->groups, &g->cap_groups, g->n_groups, sizeof(*g->groups));
    if (rc)
        return rc;
    char *copy = graph__strdup(g, name);
    if (!copy)
        return MSGFLO_ENOMEM;
    struct graph_group *grp = &g->groups[g->n_groups++];
    grp->name = copy;
    grp->nodes = json_incref(nodes);
    grp->metadata = json_incref(metadata);
    return 0;
}

static int graph__bad(enum graph_part *part, size_t *index, enum graph_part what, size_t i)
{
    *part = what;
    *index = i;
    return MSGFLO_EINVAL;
}

/* The reference's validateContents, check for check and message for message. */
int graph__validate_ex(const struct graph *g, struct graph_error *err, enum graph_part *part,
                       size_t *index)
{
    for (size_t i = 0; i < g->n_processes; i++) {
        const char *component = g->processes[i].component;
        if (!component || !*component) {
            graph__error(err, "Node \"%s\" does not have a component defined",
                         g->processes[i].name);
            return graph__bad(part, index, GRAPH_PART_PROCESS, i);
        }
    }
    for (size_t i = 0; i < g->n_inports; i++) {
        if (!graph__find_process(g, g->inports[i].process)) {
            graph__error(err, "Inport \"%s\" is connected to an undefined target node \"%s\"",
                         g->inports[i].name, g->inports[i].process);
            return graph__bad(part, index, GRAPH_PART_INPORT, i);
        }
    }
    for (size_t i = 0; i < g->n_outports; i++) {
        if (!graph__find_process(g, g->outports[i].process)) {
            graph__error(err, "Outport \"%s\" is connected to an undefined source node \"%s\"",
                         g->outports[i].name, g->outports[i].process);
            return graph__bad(part, index, GRAPH_PART_OUTPORT, i);
        }
    }
    for (size_t i = 0; i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        if (!graph__find_process(g, c->tgt.process)) {
            if (c->data) {
                struct strbuf sb;
                strbuf__init(&sb);
                graph_json__js_string(c->data, &sb);
                graph__error(err,
                             "IIP containing \"%s\" is connected to an undefined target node "
                             "\"%s\"",
                             sb.data ? sb.data : "", c->tgt.process);
                strbuf__cleanup(&sb);
                return graph__bad(part, index, GRAPH_PART_CONNECTION_TGT, i);
            }
            graph__error(err,
                         "Edge from \"%s\" port \"%s\" is connected to an undefined target node "
                         "\"%s\"",
                         c->src.process, c->src.port, c->tgt.process);
            return graph__bad(part, index, GRAPH_PART_CONNECTION_TGT, i);
        }
        if (!c->data && !graph__find_process(g, c->src.process)) {
            graph__error(err,
                         "Edge to \"%s\" port \"%s\" is connected to an undefined source node "
                         "\"%s\"",
                         c->tgt.process, c->tgt.port, c->src.process);
            return graph__bad(part, index, GRAPH_PART_CONNECTION_SRC, i);
        }
    }
    return 0;
}

int graph__validate(const struct graph *g, struct graph_error *err)
{
    enum graph_part part;
    size_t index;
    return graph__validate_ex(g, err, &part, &index);
}
