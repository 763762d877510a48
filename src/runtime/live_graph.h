/* The live graph of the msgflo runtime: the store behind graph:* (sans-I/O).
 *
 * One graph: nodes, edges, IIPs, exported ports, groups and the properties
 * graph:clear gave. Nodes, edges and IIPs are C records (one allocation
 * each, strings inline), so a runtime that discovered 100,000 participants
 * and the edges between them holds them in a few hundred bytes each; JSON is
 * built only when asked for (live_graph__to_json, live_graph__port_json).
 * Exported ports and groups, few in any graph, are JSON objects shaped as
 * the FBP protocol speaks of them:
 *
 *     export  {"process": s, "port": s, "metadata"?}
 *     group   {"name": s, "nodes": [s], "metadata"?}
 *
 * Indexed for graphs of many thousands of elements: nodes, edges (by source
 * and target) and IIPs (by target) are hash tables, and each node lists the
 * edges and IIPs touching it, so data events and node removal never scan
 * all edges. Everything iterates in the order it was added (a renamed node,
 * and the edges and IIPs touching it, count as added again). One IIP per
 * inport: a second one to the same port replaces the first in place, as the
 * system keeps one.
 *
 * The records returned are borrowed from the graph, read-only, and valid
 * until that element is removed or renamed. Functions return 0 or a negative
 * MSGFLO_E* code: MSGFLO_EINVAL (unknown element, or it exists already),
 * MSGFLO_ENOMEM.
 */
#ifndef MSGFLO_RUNTIME_LIVE_GRAPH_H
#define MSGFLO_RUNTIME_LIVE_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct live_graph;
struct graph;
struct system_status_ref;

/* One end of an edge or the target of an IIP. `index` is NULL (none), a
 * string or an integer, as the protocol allows. */
struct live_port {
    const char *node;
    const char *port;
    const json_t *index;
};

struct live_node {
    const char *id;
    const char *component;
    json_t *metadata; /* an object; NULL stands for {} */
    bool discovered;  /* joined because a participant was discovered, not by the user */
};

struct live_edge {
    struct live_port src, tgt;
    json_t *metadata; /* NULL when none was given ({} is kept as given) */
};

struct live_iip {
    json_t *data;
    struct live_port tgt;
    json_t *metadata; /* NULL when none was given */
};

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
const struct live_node *live_graph__node(const struct live_graph *g, const char *id);
/* The node after `prev` (NULL: the first), or NULL after the last. */
const struct live_node *live_graph__next_node(const struct live_graph *g,
                                              const struct live_node *prev);
size_t live_graph__node_count(const struct live_graph *g);
/* metadata borrowed (a reference is taken; NULL = {}). */
int live_graph__add_node(struct live_graph *g, const char *id, const char *component,
                         json_t *metadata, bool discovered);
/* Marks a discovered node as the user's (addnode of a discovered role). */
int live_graph__adopt_node(struct live_graph *g, const char *id, const char *component,
                           json_t *metadata);
/* Removes the node with every edge, IIP and export touching it and its place
 * in groups (the caller has told the clients and the system about those). */
int live_graph__remove_node(struct live_graph *g, const char *id);
/* Renames a node everywhere: edges, IIPs, exports, groups. */
int live_graph__rename_node(struct live_graph *g, const char *from, const char *to);
/* metadata borrowed (a reference is taken; NULL = {}). */
int live_graph__set_node_metadata(struct live_graph *g, const char *id, json_t *metadata);
/* The edges touching node `id` (as source or target) and the IIPs to it,
 * in the order added: the one after `prev` (NULL: the first), or NULL. Do
 * not change the graph while iterating. */
const struct live_edge *live_graph__node_edge(const struct live_graph *g, const char *id,
                                              const struct live_edge *prev);
const struct live_iip *live_graph__node_iip(const struct live_graph *g, const char *id,
                                            const struct live_iip *prev);

/* ---- edges ---- */
const struct live_edge *live_graph__edge(const struct live_graph *g, const char *src_node,
                                         const char *src_port, const char *tgt_node,
                                         const char *tgt_port);
/* The system's status cache (coord/system.h system_status_ref) kept with
 * node n / edge e of g: zero when the node or edge joined (a renamed node
 * and its moved edges are new records). For live_status.c. */
struct system_status_ref *live_graph__node_status_ref(struct live_graph *g,
                                                      const struct live_node *n);
struct system_status_ref *live_graph__edge_status_ref(struct live_graph *g,
                                                      const struct live_edge *e);

/* All edges in the order added: the one after `prev` (NULL: the first). */
const struct live_edge *live_graph__next_edge(const struct live_graph *g,
                                              const struct live_edge *prev);
size_t live_graph__edge_count(const struct live_graph *g);
/* src and tgt copied (both nodes must exist; an index that is neither a
 * string nor an integer is dropped); metadata borrowed (a reference is
 * taken), may be NULL. */
int live_graph__add_edge(struct live_graph *g, const struct live_port *src,
                         const struct live_port *tgt, json_t *metadata);
/* Replaces the edge's metadata (borrowed, a reference is taken; NULL: none). */
void live_graph__set_edge_metadata(struct live_graph *g, const struct live_edge *e,
                                   json_t *metadata);
int live_graph__remove_edge(struct live_graph *g, const char *src_node, const char *src_port,
                            const char *tgt_node, const char *tgt_port);

/* ---- IIPs ---- */
const struct live_iip *live_graph__iip(const struct live_graph *g, const char *node,
                                       const char *port);
const struct live_iip *live_graph__next_iip(const struct live_graph *g,
                                            const struct live_iip *prev);
size_t live_graph__iip_count(const struct live_graph *g);
/* data and metadata borrowed (references are taken; metadata may be NULL);
 * tgt copied, as for edges (its node must exist). */
int live_graph__add_iip(struct live_graph *g, json_t *data, const struct live_port *tgt,
                        json_t *metadata);
int live_graph__remove_iip(struct live_graph *g, const char *node, const char *port);

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

/* ---- JSON ---- */

/* {"node", "port", "index"?} of p: a new reference, or NULL. */
json_t *live_graph__port_json(const struct live_port *p);

/* A copy of the graph in the graph model (graph/graph.h) in *out, owned by
 * the caller (free with graph__free): nodes, exports and groups in the order
 * added, edges then IIPs, properties with "name" (the id's last part) and
 * "environment" ({"type": "msgflo"}) unless set. Returns 0 or MSGFLO_ENOMEM. */
int live_graph__to_graph(const struct live_graph *g, struct graph **out);

/* The graph as FBP JSON: live_graph__to_graph written by graph_json__to_json_style
 * in fbp-graph's shape (GRAPH_JSON_FBP_GRAPH), as the original runtime saves it.
 * A new reference, or NULL when out of memory. */
json_t *live_graph__to_json(const struct live_graph *g);

#endif
