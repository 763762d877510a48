/* The router's records, shared by its files (router.c: the table;
 * router_protocol.c: control messages; router_store.c: the bindings file). */
#ifndef MSGFLO_ROUTER_INTERNAL_H
#define MSGFLO_ROUTER_INTERNAL_H

#include "router/router.h"

#include <uthash.h>

struct router_source;

/* One binding: a target of its source. Its target text is inline. */
struct router_binding {
    struct router_source *from;
    const char *tgt;
    enum router_type type;
    uint64_t messages, bytes;
};

/* The bindings of one source topic, in the order added; in the hash by
 * topic (inline text). mark: the generation of the last walk that saw it. */
struct router_source {
    UT_hash_handle hh;
    const char *topic;
    struct router_binding **bindings;
    size_t n, cap;
    unsigned mark;
};

/* A target of router__route with its place in the walk's order. */
struct router_target {
    const char *tgt;
    size_t i;
};

struct router {
    char *instance;
    char *name;
    char *control_prefix; /* "/msgrouter/<instance>/" */
    struct router_source *sources;
    size_t count;
    bool dirty;
    unsigned generation;
    const char **out; /* router__route's targets */
    size_t out_n, out_cap;
    struct router_target *order; /* out sorted by text (drop_repeats) */
    size_t order_cap;
    struct router_source **stack; /* the walk's */
    size_t stack_cap;
};

const char *router__type_name(enum router_type type);
/* "pubsub" / "roundrobin" -> type; NULL: pubsub. Returns -1 for another word. */
int router__type_parse(const char *name, enum router_type *out);

#endif
