/* The live graph's records, shared by live_graph.c (the store) and
 * live_graph_json.c (its FBP JSON). */
#ifndef MSGFLO_RUNTIME_LIVE_GRAPH_INTERNAL_H
#define MSGFLO_RUNTIME_LIVE_GRAPH_INTERNAL_H

#include "coord/system.h"
#include "runtime/live_graph.h"

#include <uthash.h>

struct edge;

/* An edge's place in the list of a node it touches. */
struct edge_link {
    struct edge *edge;
    struct edge_link *prev, *next; /* utlist DL */
};

struct edge {
    struct live_edge pub;
    struct edge *prev, *next;        /* g->edge_list, in the order added */
    struct edge_link at_src, at_tgt; /* in the source's and the target's lists (a
                                        loop to the same node: at_src only) */
    UT_hash_handle hh;               /* g->edges, by key */
    struct system_status_ref status; /* live_graph__edge_status_ref */
    char *key;                       /* key__join of the four names; key and names: in text */
    char text[];
};

struct iip {
    struct live_iip pub;
    struct iip *prev, *next;   /* g->iip_list */
    struct iip *nprev, *nnext; /* the target node's list */
    UT_hash_handle hh;         /* g->iips, by key */
    char *key;                 /* key__join of node and port; key and names: in text */
    char text[];
};

struct node {
    struct live_node pub;
    struct edge_link *edges;         /* touching it, in the order added */
    struct iip *iips;                /* to it, in the order added */
    char *own_component;             /* when adopted with another component; else inline */
    struct system_status_ref status; /* live_graph__node_status_ref */
    UT_hash_handle hh;               /* g->nodes, by id (uthash keeps the order added) */
    char strings[];                  /* "id\0component\0" */
};

struct live_graph {
    char *id;
    json_t *props;
    struct node *nodes;
    struct edge *edges;     /* hash */
    struct edge *edge_list; /* order */
    struct iip *iips;       /* hash */
    struct iip *iip_list;   /* order */
    json_t *inports, *outports;
    json_t *groups; /* name -> group */
    bool case_sensitive;
};

/* Drops the exports of node `id` (to NULL) or points them to node `to`. */
int live_graph__exports_rename(json_t *exports, const char *id, const char *to);
/* Removes node `id` from every group's node list (to NULL), or renames it. */
int live_graph__groups_rename(struct live_graph *g, const char *id, const char *to);

#endif
