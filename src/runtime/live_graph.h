/* The live graph of the msgflo runtime: the store behind graph:* (sans-I/O).
 *
 * One graph: nodes, edges, IIPs, exported ports, groups and the properties
 * graph:clear gave. Elements are JSON objects shaped as the FBP protocol
 * speaks of them, so the command handlers echo them as they are:
 *
 *     node    {"component": s, "metadata": {...}}       (+ private "discovered": true)
 *     edge    {"src": {node, port, index?}, "tgt": {node, port, index?}, "metadata"?}
 *     IIP     {"src": {"data": any}, "tgt": {node, port, index?}, "metadata"?}
 *     export  {"process": s, "port": s, "metadata"?}
 *     group   {"name": s, "nodes": [s], "metadata"?}
 *
 * Indexed for graphs of many thousands of elements: nodes, edges and IIPs
 * are hash maps (jansson objects, which also keep insertion order), edges
 * are also found by their source (node, port) and by the nodes they touch,
 * so data events and node removal never scan all edges. One IIP per inport
 * (a second one to the same port replaces the first, as the system keeps one).
 *
 * Every returned json_t is borrowed from the graph and valid until the next
 * change of that element. Functions return 0 or a negative MSGFLO_E* code:
 * MSGFLO_EINVAL (unknown element, or it exists already), MSGFLO_ENOMEM.
 */
#ifndef MSGFLO_RUNTIME_LIVE_GRAPH_H
#define MSGFLO_RUNTIME_LIVE_GRAPH_H

#include <jansson.h>
#include <stdbool.h>

struct live_graph;

/* A new empty graph `id` (copied). On success *out is owned by the caller
 * (free with live_graph__free). */
int live_graph__new(const char *id, struct live_graph **out);
void live_graph__free(struct live_graph *g);

const char *live_graph__id(const struct live_graph *g);

/* The graph's properties (name, library, main, icon, description, and what a
 * loaded graph file had); borrowed, may be changed by the caller. */
json_t *live_graph__properties(struct live_graph *g);

/* Whether port names are kept as written when the graph is saved (graphs
 * loaded from a file keep their flag; graphs made over the protocol: true). */
void live_graph__set_case_sensitive(struct live_graph *g, bool on);

/* ---- nodes ---- */
json_t *live_graph__node(const struct live_graph *g, const char *id);
/* metadata borrowed (copied; NULL = {}). `discovered`: the node joined
 * because a participant of that role was discovered, not by the user. */
int live_graph__add_node(struct live_graph *g, const char *id, const char *component,
                         const json_t *metadata, bool discovered);
bool live_graph__node_discovered(const struct live_graph *g, const char *id);
/* Marks a discovered node as the user's (addnode of a discovered role). */
int live_graph__adopt_node(struct live_graph *g, const char *id, const char *component,
                           const json_t *metadata);
/* Removes the node with every edge, IIP and export touching it and its place
 * in groups (the caller has told the clients and the system about those). */
int live_graph__remove_node(struct live_graph *g, const char *id);
/* Renames a node everywhere: edges, IIPs, exports, groups. */
int live_graph__rename_node(struct live_graph *g, const char *from, const char *to);
int live_graph__set_node_metadata(struct live_graph *g, const char *id, json_t *metadata);
/* The nodes: an object id -> node (borrowed). */
json_t *live_graph__nodes(const struct live_graph *g);
/* The edges and IIPs touching node `id`: objects key -> element (borrowed),
 * or NULL when there are none. Do not change the graph while iterating. */
json_t *live_graph__node_edges(const struct live_graph *g, const char *id);
json_t *live_graph__node_iips(const struct live_graph *g, const char *id);

/* ---- edges ---- */
json_t *live_graph__edge(const struct live_graph *g, const char *src_node, const char *src_port,
                         const char *tgt_node, const char *tgt_port);
/* src and tgt: {node, port, index?} (copied; other keys dropped); metadata
 * borrowed (copied), may be NULL. */
int live_graph__add_edge(struct live_graph *g, const json_t *src, const json_t *tgt,
                         const json_t *metadata);
int live_graph__remove_edge(struct live_graph *g, const char *src_node, const char *src_port,
                            const char *tgt_node, const char *tgt_port);
/* The edges leaving (node, port): an object key -> edge, or NULL. */
json_t *live_graph__edges_from(const struct live_graph *g, const char *node, const char *port);
/* All edges: an object key -> edge. */
json_t *live_graph__edges(const struct live_graph *g);

/* ---- IIPs ---- */
json_t *live_graph__iip(const struct live_graph *g, const char *node, const char *port);
/* data and metadata borrowed (copied; metadata may be NULL); tgt as edges. */
int live_graph__add_iip(struct live_graph *g, const json_t *data, const json_t *tgt,
                        const json_t *metadata);
int live_graph__remove_iip(struct live_graph *g, const char *node, const char *port);
json_t *live_graph__iips(const struct live_graph *g);

/* ---- exported ports (inport: `out` false) ---- */
json_t *live_graph__exports(const struct live_graph *g, bool out);
json_t *live_graph__export(const struct live_graph *g, bool out, const char *pub);
/* Adds or replaces the export `pub`. */
int live_graph__set_export(struct live_graph *g, bool out, const char *pub, const char *node,
                           const char *port, const json_t *metadata);
int live_graph__remove_export(struct live_graph *g, bool out, const char *pub);
int live_graph__rename_export(struct live_graph *g, bool out, const char *from, const char *to);

/* ---- groups ---- */
json_t *live_graph__group(const struct live_graph *g, const char *name);
int live_graph__add_group(struct live_graph *g, const char *name, const json_t *nodes,
                          const json_t *metadata);
int live_graph__remove_group(struct live_graph *g, const char *name);
int live_graph__rename_group(struct live_graph *g, const char *from, const char *to);
/* Merges metadata into the group's (a null value deletes a key). */
int live_graph__change_group(struct live_graph *g, const char *name, const json_t *metadata);

/* Merges `changes` into `metadata` (both objects): a null value deletes the
 * key. Returns 0 or MSGFLO_ENOMEM. */
int live_graph__merge_metadata(json_t *metadata, const json_t *changes);

/* The graph as FBP JSON (caseSensitive, properties, inports, outports,
 * groups, processes, connections: edges, then IIPs), as src/graph reads it.
 * A new reference, or NULL when out of memory. */
json_t *live_graph__to_json(const struct live_graph *g);

#endif
