/* Queue bindings of a graph, as msgflo's setup extracts them (sans-I/O).
 *
 * - participant -> participant edge: pubsub binding <src role>.<SRCPORT> ->
 *   <tgt role>.<TGTPORT> (definition__default_queue) (msgflo-setup --discover
 *   leaves these to the coordinator, which binds the queues participants announce);
 * - edges into a msgflo/RoundRobin node set its binding's src, edges out of
 *   its `deadletter` port its deadletter queue, out of any other port its
 *   tgt: one roundrobin binding per node;
 * - IIPs and edges through msgflo/PubSub give no binding.
 */
#ifndef MSGFLO_BINDING_BINDINGS_H
#define MSGFLO_BINDING_BINDINGS_H

#include "graph/graph.h"

#include <jansson.h>
#include <stddef.h>

enum binding_type {
    BINDING_PUBSUB,
    BINDING_ROUNDROBIN,
};

struct binding {
    enum binding_type type;
    char *src;        /* owned; NULL when a roundrobin node has no input */
    char *tgt;        /* owned; NULL when a roundrobin node has no output */
    char *deadletter; /* owned; roundrobin only, NULL when none */
};

struct bindings {
    struct binding *items;
    size_t count;
};

/* The bindings of a graph by the naming convention. Pubsub bindings first in
 * edge order, then one roundrobin binding per RoundRobin node in graph order. */
int bindings__from_graph(const struct graph *g, struct bindings *out);

/* The lines msgflo-setup prints, as the original formats them:
 * "PUBSUB: \t a.OUT -> b.IN", "ROUNDROBIN:\t a.OUT -> b.IN",
 * "DEADLETTER:\t b.IN -> c.IN", joined with '\n'. Owned result (free()). */
char *bindings__format(const struct bindings *b);

void bindings__cleanup(struct bindings *b);

#endif
