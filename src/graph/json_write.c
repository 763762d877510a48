/* Graph -> FBP JSON: the one writer of FBP JSON documents, in the reference
 * parser's shape or in fbp-graph's (enum graph_json_style in graph.h). */
#include "graph/internal.h"

#include <stdlib.h>

/* Sets key to a new value; a NULL value (failed allocation) fails. */
static int set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) ? MSGFLO_ENOMEM : 0;
}

/* Sets o's "metadata" to a copy of md when the style writes it: the parser's
 * wherever the graph has it, fbp-graph's only when a non-empty object. */
static int set_metadata(json_t *o, const json_t *md, enum graph_json_style style)
{
    if (!md || (style == GRAPH_JSON_FBP_GRAPH && (!json_is_object(md) || !json_object_size(md))))
        return 0;
    return set(o, "metadata", json_deep_copy(md));
}

static json_t *endpoint(const struct graph_endpoint *e)
{
    json_t *o = json_pack("{s:s,s:s}", "process", e->process, "port", e->port);
    if (o && e->index != GRAPH_NO_INDEX && set(o, "index", json_integer(e->index))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *exports(const struct graph_export *items, size_t n, enum graph_json_style style)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < n; i++) {
        json_t *e = json_pack("{s:s,s:s}", "process", items[i].process, "port", items[i].port);
        if (e && set_metadata(e, items[i].metadata, style)) {
            json_decref(e);
            e = NULL;
        }
        if (set(obj, items[i].name, e)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *groups(const struct graph *g, enum graph_json_style style)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < g->n_groups; i++) {
        const struct graph_group *grp = &g->groups[i];
        json_t *o = json_pack("{s:s,s:o}", "name", grp->name, "nodes", json_deep_copy(grp->nodes));
        if (o && set_metadata(o, grp->metadata, style)) {
            json_decref(o);
            o = NULL;
        }
        if (json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The parser writes a process's metadata where it was given; fbp-graph
 * always, after the component ({} when none). */
static json_t *processes(const struct graph *g, enum graph_json_style style)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < g->n_processes; i++) {
        const struct graph_process *p = &g->processes[i];
        json_t *o = json_object();
        json_t *md = NULL;
        int rc = o ? graph__process_metadata(p, &md) : MSGFLO_ENOMEM;
        bool first = p->metadata_first && style == GRAPH_JSON_PARSER;
        if (rc == 0 && !md && style == GRAPH_JSON_FBP_GRAPH && !(md = json_object()))
            rc = MSGFLO_ENOMEM;
        if (rc == 0 && md && first)
            rc = set(o, "metadata", json_deep_copy(md));
        if (rc == 0 && p->component)
            rc = set(o, "component", json_string(p->component));
        if (rc == 0 && md && !first)
            rc = set(o, "metadata", json_deep_copy(md));
        json_decref(md);
        if (rc) {
            json_decref(o);
            o = NULL;
        }
        if (set(obj, p->name, o)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *connection(const struct graph_connection *c, enum graph_json_style style)
{
    json_t *o = json_object();
    int rc = o ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = c->data ? set(o, "data", json_deep_copy(c->data)) : set(o, "src", endpoint(&c->src));
    if (rc == 0)
        rc = set(o, "tgt", endpoint(&c->tgt));
    if (rc == 0)
        rc = set_metadata(o, c->metadata, style);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum connection_kind { CONNECTIONS_ALL, CONNECTIONS_EDGES, CONNECTIONS_IIPS };

/* Appends the connections of one kind, in graph order. */
static int append_connections(json_t *arr, const struct graph *g, enum graph_json_style style,
                              enum connection_kind kind)
{
    for (size_t i = 0; i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        if ((kind == CONNECTIONS_EDGES && c->data) || (kind == CONNECTIONS_IIPS && !c->data))
            continue;
        if (json_array_append_new(arr, connection(c, style)))
            return MSGFLO_ENOMEM;
    }
    return 0;
}

/* The connections in graph order; fbp-graph's: the edges, then the IIPs. */
static json_t *connections(const struct graph *g, enum graph_json_style style)
{
    bool parser = style == GRAPH_JSON_PARSER;
    json_t *arr = json_array();
    int rc = arr ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = append_connections(arr, g, style, parser ? CONNECTIONS_ALL : CONNECTIONS_EDGES);
    if (rc == 0 && !parser)
        rc = append_connections(arr, g, style, CONNECTIONS_IIPS);
    if (rc) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int graph_json__to_json_style(const struct graph *g, enum graph_json_style style, json_t **out)
{
    bool parser = style == GRAPH_JSON_PARSER;
    json_t *doc = json_object();
    int rc = doc ? 0 : MSGFLO_ENOMEM;
    if (rc == 0 && !parser)
        rc = set(doc, "caseSensitive", json_boolean(g->case_sensitive));
    if (rc == 0 && !parser)
        rc = set(doc, "properties", g->properties ? json_deep_copy(g->properties) : json_object());
    if (rc == 0)
        rc = set(doc, "inports", exports(g->inports, g->n_inports, style));
    if (rc == 0)
        rc = set(doc, "outports", exports(g->outports, g->n_outports, style));
    if (rc == 0)
        rc = set(doc, "groups", groups(g, style));
    if (rc == 0)
        rc = set(doc, "processes", processes(g, style));
    if (rc == 0)
        rc = set(doc, "connections", connections(g, style));
    if (rc == 0 && parser && g->properties)
        rc = set(doc, "properties", json_deep_copy(g->properties));
    if (rc == 0 && parser)
        rc = set(doc, "caseSensitive", json_boolean(g->case_sensitive));
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int graph_json__to_json(const struct graph *g, json_t **out)
{
    return graph_json__to_json_style(g, GRAPH_JSON_PARSER, out);
}

int graph_json__write(const struct graph *g, char **out)
{
    json_t *doc;
    int rc = graph_json__to_json(g, &doc);
    if (rc)
        return rc;
    rc = graph_json__dump(doc, 2, out);
    json_decref(doc);
    return rc;
}
