/* Graph -> FBP JSON, in the reference parser's shape and key order:
 * inports, outports, groups, processes, connections, properties (when
 * present), caseSensitive. Metadata appears where the graph has it. */
#include "graph/internal.h"

#include <stdlib.h>

/* Sets key to a new value; a NULL value (failed allocation) fails. */
static int set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) ? MSGFLO_ENOMEM : 0;
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

static json_t *exports(const struct graph_export *items, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < n; i++) {
        json_t *e = json_pack("{s:s,s:s}", "process", items[i].process, "port", items[i].port);
        if (e && items[i].metadata && set(e, "metadata", json_deep_copy(items[i].metadata))) {
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

static json_t *groups(const struct graph *g)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < g->n_groups; i++) {
        const struct graph_group *grp = &g->groups[i];
        json_t *o = json_pack("{s:s,s:O}", "name", grp->name, "nodes", grp->nodes);
        if (o && grp->metadata && set(o, "metadata", json_deep_copy(grp->metadata))) {
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

static json_t *processes(const struct graph *g)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < g->n_processes; i++) {
        const struct graph_process *p = &g->processes[i];
        json_t *o = json_object();
        json_t *md = NULL;
        int rc = o ? graph__process_metadata(p, &md) : MSGFLO_ENOMEM;
        if (rc == 0 && md && p->metadata_first)
            rc = set(o, "metadata", json_deep_copy(md));
        if (rc == 0 && p->component)
            rc = set(o, "component", json_string(p->component));
        if (rc == 0 && md && !p->metadata_first)
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

static json_t *connections(const struct graph *g)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        json_t *o = json_object();
        int rc = o ? 0 : MSGFLO_ENOMEM;
        if (rc == 0)
            rc = c->data ? set(o, "data", json_deep_copy(c->data))
                         : set(o, "src", endpoint(&c->src));
        if (rc == 0)
            rc = set(o, "tgt", endpoint(&c->tgt));
        if (rc == 0 && c->metadata)
            rc = set(o, "metadata", json_deep_copy(c->metadata));
        if (rc) {
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

int graph_json__to_json(const struct graph *g, json_t **out)
{
    json_t *doc = json_object();
    int rc = doc ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = set(doc, "inports", exports(g->inports, g->n_inports));
    if (rc == 0)
        rc = set(doc, "outports", exports(g->outports, g->n_outports));
    if (rc == 0)
        rc = set(doc, "groups", groups(g));
    if (rc == 0)
        rc = set(doc, "processes", processes(g));
    if (rc == 0)
        rc = set(doc, "connections", connections(g));
    if (rc == 0 && g->properties)
        rc = set(doc, "properties", json_deep_copy(g->properties));
    if (rc == 0)
        rc = set(doc, "caseSensitive", json_boolean(g->case_sensitive));
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
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
