/* network:* commands: start, stop, status, edge selection, debug, persist
 * (docs/runtime-protocol.md). */
#include "runtime/live_internal.h"

#include "msgflo/errors.h"

#include <string.h>

/* The network's `running` (live__set_running): since network:start, or only
 * while the system is busy. */
static bool running(struct live *l)
{
    if (!l->started)
        return false;
    return !l->running_busy || l->sys->ops->busy(l->sys->self);
}

static int handle_start(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    char err[512] = "";
    int rc = l->sys->ops->start(l->sys->self, err, sizeof err);
    if (rc != 0)
        return live__sys_error(l, req, rc, err);
    if (!l->started)
        l->started_at = live__now();
    l->started = true;
    char time[40];
    live__rfc3339(live__now(), time, sizeof time);
    live__broadcast(l, "network", "started",
                    json_pack("{s:s, s:b, s:b, s:s}", "graph", live__id(l), "started", 1, "running",
                              running(l), "time", time));
    return 0;
}

static int handle_stop(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)p;
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    char err[512] = "";
    int rc = l->sys->ops->stop(l->sys->self, err, sizeof err);
    if (rc != 0)
        return live__sys_error(l, req, rc, err);
    double now = live__now();
    double uptime = l->started && now > l->started_at ? now - l->started_at : 0.0;
    l->started = false;
    char time[40];
    live__rfc3339(now, time, sizeof time);
    live__broadcast(l, "network", "stopped",
                    json_pack("{s:s, s:b, s:b, s:s, s:f}", "graph", live__id(l), "started", 0,
                              "running", 0, "time", time, "uptime", uptime));
    return 0;
}

static json_t *status(struct live *l)
{
    return json_pack("{s:s, s:b, s:b}", "graph", live__id(l), "running", running(l), "started",
                     l->started);
}

static int handle_getstatus(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    return protocol__reply(p, req, "status", status(l));
}

/* The requester's selection: from now on it gets network:data of these
 * edges only (live_select.c); acknowledged as the schema asks. */
static int handle_edges(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    json_t *edges = json_object_get(req->payload, "edges");
    bool ok = json_is_array(edges);
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        json_t *s = json_object_get(e, "src"), *t = json_object_get(e, "tgt");
        ok = ok && json_is_string(json_object_get(s, "node")) &&
             json_is_string(json_object_get(s, "port")) &&
             json_is_string(json_object_get(t, "node")) &&
             json_is_string(json_object_get(t, "port"));
    }
    if (!ok)
        return protocol__error(p, req, "'edges' must be an array of {src, tgt}");
    int rc = live_select__set(l, req->client, edges);
    if (rc == 0)
        rc = protocol__reply(p, req, "edges",
                             json_pack("{s:s, s:O}", "graph", live__id(l), "edges", edges));
    if (rc == 0 && req->client)
        live_select__send_latest(l, req->client, edges);
    return rc;
}

/* No debug mode to switch (every edge reports already); the reply is the
 * status with the requested flag, the one schema'd output that carries it. */
static int handle_debug(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    json_t *enable = json_object_get(req->payload, "enable");
    if (!json_is_boolean(enable))
        return protocol__error(p, req, "'enable' must be a boolean");
    json_t *s = status(l);
    if (s)
        json_object_set(s, "debug", enable);
    return protocol__reply(p, req, "status", s);
}

static int handle_persist(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)ud;
    return protocol__error(p, req, "network:persist not supported");
}

#define NETWORK(cmd)                                                                               \
    {                                                                                              \
        "network", #cmd, "protocol:network", handle_##cmd                                          \
    }
const struct live_command commands_network[] = {
    NETWORK(start), NETWORK(stop),    NETWORK(getstatus),       NETWORK(edges),
    NETWORK(debug), NETWORK(persist), {NULL, NULL, NULL, NULL},
};
