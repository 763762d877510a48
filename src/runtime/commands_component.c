/* component:* commands: list, getsource, source (docs/runtime-protocol.md). */
#include "runtime/live_internal.h"
#include "graph/graph.h"

#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A port definition as the schema allows it: only id, type, description,
 * schema, required, addressable, values, default (never queue, hidden). */
static json_t *port_definition(const json_t *port)
{
    const char *id = json_string_value(json_object_get(port, "id"));
    json_t *type = json_object_get(port, "type");
    if (!id)
        return NULL;
    json_t *d = json_pack("{s:s, s:s}", "id", id, "type",
                          json_is_string(type) ? json_string_value(type) : "any");
    /* In this order: the switch below checks each one's type. */
    static const char *const keep[] = {"description", "schema", "required",
                                       "addressable", "values", "default"};
    for (size_t i = 0; d && i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(port, keep[i]);
        bool fits = false;
        if (!v)
            continue;
        switch (i) {
        case 0:
        case 1:
            fits = json_is_string(v);
            break;
        case 2:
        case 3:
            fits = json_is_boolean(v);
            break;
        case 4:
            fits = json_is_array(v);
            break;
        default:
            fits = !json_is_null(v);
        }
        if (fits && json_object_set(d, keep[i], v) != 0) {
            json_decref(d);
            return NULL;
        }
    }
    return d;
}

static json_t *port_list(const json_t *ports)
{
    json_t *list = json_array();
    size_t i;
    json_t *port;
    json_array_foreach(ports, i, port)
    {
        json_t *d = port_definition(port);
        if (d && json_array_append_new(list, d) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

json_t *live__component_payload(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *description = json_string_value(json_object_get(c, "description"));
    json_t *icon = json_object_get(c, "icon");
    if (!name)
        return NULL;
    json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:o}", "name", name, "description",
                          description ? description : "", "subgraph", 0, "inPorts",
                          port_list(json_object_get(c, "inports")), "outPorts",
                          port_list(json_object_get(c, "outports")));
    if (o && json_is_string(icon))
        json_object_set(o, "icon", icon);
    return o;
}

static int handle_list(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    json_t *all = l->sys->ops->components(l->sys->self);
    if (!all)
        return MSGFLO_ENOMEM;
    int rc = 0, n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        json_t *payload = live__component_payload(c);
        if (!payload)
            continue;
        if ((rc = protocol__reply(p, req, "component", payload)) != 0)
            goto out;
        n++;
    }
    rc = protocol__reply(p, req, "componentsready", json_integer(n));
out:
    json_decref(all);
    return rc;
}

/* Whether `name` asks for the live graph: its id, or "default/main" and
 * "main" (the graph runtime:runtime names, whatever the live graph's id). */
static bool is_live_graph(struct live *l, const char *name)
{
    return strcmp(name, live__id(l)) == 0 || strcmp(name, PROTOCOL_GRAPH) == 0 ||
           strcmp(name, "main") == 0;
}

static int graph_source(struct live *l, const struct protocol_request *req)
{
    json_t *doc = live__graph_json(l);
    char *code = NULL;
    if (doc && graph_json__dump(doc, 2, &code) != 0) /* as auto-save writes it */
        code = NULL;
    json_decref(doc);
    if (!code)
        return MSGFLO_ENOMEM;
    const char *id = live__id(l);
    const char *slash = strrchr(id, '/');
    json_t *payload = json_pack("{s:s, s:s, s:s}", "name", slash ? slash + 1 : id, "language",
                                "json", "code", code);
    free(code);
    if (payload && slash)
        json_object_set_new(payload, "library", json_stringn(id, (size_t)(slash - id)));
    return protocol__reply(l->p, req, "source", payload);
}

/* The keys component:source allows, from o. */
static json_t *source_payload(const json_t *o)
{
    static const char *const keys[] = {"name", "language", "code", "library", "tests"};
    json_t *r = json_object();
    for (size_t i = 0; r && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (json_is_string(v))
            json_object_set(r, keys[i], v);
    }
    return r;
}

static int handle_getsource(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    const char *name = json_string_value(json_object_get(req->payload, "name"));
    if (!name)
        return protocol__error(p, req, "Missing 'name'");
    if (is_live_graph(l, name))
        return graph_source(l, req);
    char err[512] = "";
    json_t *src = l->sys->ops->component_source(l->sys->self, name, err, sizeof err);
    if (!src)
        return live__sys_error(l, req, MSGFLO_EINVAL, err);
    json_t *payload = source_payload(src);
    json_decref(src);
    return protocol__reply(p, req, "source", payload);
}

static int handle_source(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    const char *name = json_string_value(json_object_get(req->payload, "name"));
    const char *language = json_string_value(json_object_get(req->payload, "language"));
    const char *code = json_string_value(json_object_get(req->payload, "code"));
    const char *library = json_string_value(json_object_get(req->payload, "library"));
    if (!name || !language || !code)
        return protocol__error(p, req, "Missing 'name', 'language' or 'code'");
    char full[512];
    if (library && *library)
        snprintf(full, sizeof full, "%s/%s", library, name);
    else
        snprintf(full, sizeof full, "%s", name);
    char err[512] = "";
    int rc = l->sys->ops->set_component_source(l->sys->self, full, language, code, err, sizeof err);
    if (rc != 0)
        return live__sys_error(l, req, rc, err);
    live__broadcast(l, "component", "source", source_payload(req->payload));
    json_t *all = l->sys->ops->components(l->sys->self);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, full) == 0)
            live__broadcast(l, "component", "component", live__component_payload(c));
    }
    json_decref(all);
    return 0;
}

const struct live_command commands_component[] = {
    {"component", "list", "protocol:component", handle_list},
    {"component", "getsource", "component:getsource", handle_getsource},
    {"component", "source", "component:setsource", handle_source},
    {NULL, NULL, NULL, NULL},
};
