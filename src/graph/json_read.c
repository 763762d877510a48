/* FBP JSON -> graph. Accepts the fbp-graph / NoFlo format (every top-level
 * key optional, msgflo's empty-array inports/outports too) and rejects wrong
 * types with the path of the offending field. Port and export names are
 * lowercased unless "caseSensitive" is true, as fbp-graph's loadJSON does.
 * References to unknown processes are kept: graph__validate reports them. */
#include "graph/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    struct graph *g;
    struct graph_error *err;
    bool lower;
};

static int bad(struct reader *r, const char *path, const char *what)
{
    graph__error(r->err, "%s: %s", path, what);
    return MSGFLO_EINVAL;
}

/* A string field without NUL bytes; *out borrowed from the document. */
static int get_string(struct reader *r, const json_t *obj, const char *key, const char *path,
                      const char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        char where[600];
        snprintf(where, sizeof(where), "%s.%s", path, key);
        return bad(r, where, "expected a string");
    }
    *out = json_string_value(v);
    return 0;
}

static char *lowered(struct reader *r, const char *s)
{
    char *copy = graph__strndup(s, strlen(s));
    if (copy && r->lower)
        for (char *c = copy; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    return copy;
}

static json_t *metadata(const json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    return json_is_object(md) ? md : NULL;
}

static int read_exports(struct reader *r, const json_t *doc, bool in)
{
    const char *field = in ? "inports" : "outports";
    const json_t *obj = json_object_get(doc, field);
    if (!obj || (json_is_array(obj) && json_array_size(obj) == 0))
        return 0;
    if (!json_is_object(obj))
        return bad(r, field, "expected an object");
    const char *name;
    size_t name_len;
    json_t *e;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)obj, tmp, name, name_len, e)
    {
        char path[300];
        snprintf(path, sizeof(path), "%s.%s", field, name);
        const char *process, *port;
        if (!json_is_object(e))
            return bad(r, path, "expected an object");
        if (strlen(name) != name_len)
            return bad(r, path, "name contains a NUL character");
        int rc = get_string(r, e, "process", path, &process);
        if (rc == 0)
            rc = get_string(r, e, "port", path, &port);
        if (rc)
            return rc;
        char *n = lowered(r, name), *p = lowered(r, port);
        rc = n && p ? 0 : MSGFLO_ENOMEM;
        if (rc == 0)
            rc = in ? graph__set_inport(r->g, n, process, p, metadata(e))
                    : graph__set_outport(r->g, n, process, p, metadata(e));
        free(n);
        free(p);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_processes(struct reader *r, const json_t *doc)
{
    const json_t *obj = json_object_get(doc, "processes");
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return bad(r, "processes", "expected an object");
    const char *name;
    size_t name_len;
    json_t *p;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)obj, tmp, name, name_len, p)
    {
        char path[300];
        snprintf(path, sizeof(path), "processes.%s", name);
        if (!json_is_object(p))
            return bad(r, path, "expected an object");
        if (strlen(name) != name_len || !*name)
            return bad(r, path, "process names must be non-empty and without NUL characters");
        const json_t *comp = json_object_get(p, "component");
        if (comp && !json_is_string(comp))
            return bad(r, path, "component: expected a string");
        struct graph_process *proc;
        int rc = graph__ensure_process(r->g, name, &proc);
        if (rc == 0 && comp)
            rc = graph__set_component(r->g, proc, json_string_value(comp));
        if (rc)
            return rc;
        graph__set_process_metadata(proc, metadata(p));
    }
    return 0;
}

static int read_endpoint(struct reader *r, const json_t *conn, const char *side, const char *path,
                         struct graph_endpoint *out)
{
    char where[300];
    snprintf(where, sizeof(where), "%s.%s", path, side);
    const json_t *e = json_object_get(conn, side);
    const char *process, *port;
    if (!json_is_object(e))
        return bad(r, where, "expected an object with \"process\" and \"port\"");
    int rc = get_string(r, e, "process", where, &process);
    if (rc == 0)
        rc = get_string(r, e, "port", where, &port);
    if (rc)
        return rc;
    out->process = (char *)process;
    out->port = lowered(r, port);
    if (!out->port)
        return MSGFLO_ENOMEM;
    const json_t *index = json_object_get(e, "index");
    out->index = GRAPH_NO_INDEX;
    if (json_is_integer(index) && json_integer_value(index) >= 0)
        out->index = json_integer_value(index);
    else if (json_is_real(index) && json_real_value(index) >= 0 &&
             json_real_value(index) < 9223372036854775808.0)
        out->index = (int64_t)json_real_value(index);
    return 0;
}

static int read_connections(struct reader *r, const json_t *doc)
{
    const json_t *arr = json_object_get(doc, "connections");
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bad(r, "connections", "expected an array");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        char path[64];
        snprintf(path, sizeof(path), "connections[%zu]", i);
        if (!json_is_object(c))
            return bad(r, path, "expected an object");
        struct graph_endpoint src = {NULL, NULL, GRAPH_NO_INDEX};
        struct graph_endpoint tgt = {NULL, NULL, GRAPH_NO_INDEX};
        json_t *data = json_object_get(c, "data");
        int rc = read_endpoint(r, c, "tgt", path, &tgt);
        if (rc == 0 && !data)
            rc = read_endpoint(r, c, "src", path, &src);
        if (rc == 0)
            rc = data ? graph__add_iip(r->g, data, &tgt, metadata(c))
                      : graph__add_edge(r->g, &src, &tgt, metadata(c));
        free(src.port);
        free(tgt.port);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_groups(struct reader *r, const json_t *doc)
{
    const json_t *arr = json_object_get(doc, "groups");
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bad(r, "groups", "expected an array");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *grp = json_array_get(arr, i);
        char path[64];
        snprintf(path, sizeof(path), "groups[%zu]", i);
        const char *name;
        if (!json_is_object(grp))
            return bad(r, path, "expected an object");
        int rc = get_string(r, grp, "name", path, &name);
        if (rc)
            return rc;
        json_t *nodes = json_object_get(grp, "nodes");
        if (!json_is_array(nodes))
            return bad(r, path, "nodes: expected an array of node names");
        for (size_t k = 0; k < json_array_size(nodes); k++)
            if (!json_is_string(json_array_get(nodes, k)))
                return bad(r, path, "nodes: expected an array of node names");
        rc = graph__add_group(r->g, name, nodes, metadata(grp));
        if (rc)
            return rc;
    }
    return 0;
}

int graph_json__from_json(const json_t *doc, struct graph **out, struct graph_error *err)
{
    struct reader r = {NULL, err, true};
    int rc;

    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    if (!json_is_object(doc)) {
        graph__error(err, "a graph must be a JSON object");
        return MSGFLO_EINVAL;
    }
    rc = graph__new(&r.g);
    if (rc)
        return rc;
    const json_t *cs = json_object_get(doc, "caseSensitive");
    if (cs && !json_is_boolean(cs)) {
        rc = bad(&r, "caseSensitive", "expected true or false");
        goto out;
    }
    r.g->case_sensitive = json_is_true(cs);
    r.lower = !r.g->case_sensitive;
    const json_t *props = json_object_get(doc, "properties");
    if (props && !json_is_object(props)) {
        rc = bad(&r, "properties", "expected an object");
        goto out;
    }
    if (props && !(r.g->properties = json_deep_copy(props))) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    rc = read_exports(&r, doc, true);
    if (rc == 0)
        rc = read_exports(&r, doc, false);
    if (rc == 0)
        rc = read_groups(&r, doc);
    if (rc == 0)
        rc = read_processes(&r, doc);
    if (rc == 0)
        rc = read_connections(&r, doc);
out:
    if (rc) {
        graph__free(r.g);
        return rc;
    }
    *out = r.g;
    return 0;
}

/* Numbers as JavaScript holds them (doubles), stored as the .fbp parser
 * stores them: integral values below 2^63 as integers, others as reals. So
 * 11111111111111110000 loads (jansson alone refuses it) and a graph read
 * back from our JSON equals the parsed one. */
void graph_json__normalize_numbers(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *item = json_array_get(v, i);
            if (json_is_real(item) && json_real_value(item) == floor(json_real_value(item)) &&
                fabs(json_real_value(item)) < 9223372036854775808.0)
                json_array_set_new(v, i, json_integer((json_int_t)json_real_value(item)));
            else
                graph_json__normalize_numbers(item);
        }
    } else if (json_is_object(v)) {
        const char *key;
        size_t key_len;
        json_t *item;
        void *tmp;
        json_object_keylen_foreach_safe(v, tmp, key, key_len, item)
        {
            if (json_is_real(item) && json_real_value(item) == floor(json_real_value(item)) &&
                fabs(json_real_value(item)) < 9223372036854775808.0)
                json_object_setn_new(v, key, key_len,
                                     json_integer((json_int_t)json_real_value(item)));
            else
                graph_json__normalize_numbers(item);
        }
    }
}

int graph_json__read(const char *text, size_t len, struct graph **out, struct graph_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    *out = NULL;
    if (!doc) {
        if (err) {
            snprintf(err->message, sizeof(err->message), "%s", jerr.text);
            err->line = jerr.line > 0 ? jerr.line : 0;
            err->column = jerr.column > 0 ? jerr.column : 0;
        }
        return MSGFLO_EJSON;
    }
    graph_json__normalize_numbers(doc);
    int rc = graph_json__from_json(doc, out, err);
    json_decref(doc);
    return rc;
}
