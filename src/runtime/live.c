/* The live layer: its object, shared helpers, loading a graph. */
#include "runtime/live_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct live_command *const tables[] = {
    commands_graph, commands_network, commands_component, commands_runtime, commands_status,
};

static void unregister(struct live *l)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct live_command *c = tables[t]; c->protocol; c++)
            protocol__set_handler(l->p, c->protocol, c->command, NULL, NULL, NULL);
}

/* After runtime:runtime: the exported ports of the main graph, as the
 * protocol asks ("sent after runtime for each running graph"). */
static int send_ports(struct protocol *p, const struct protocol_request *req, void *ud)
{
    if (!req->permitted)
        return 0;
    json_t *ports = live__ports(ud);
    return ports ? protocol__send(p, req->client, "runtime", "ports", ports) : MSGFLO_ENOMEM;
}

static void client_closed(void *client, void *ud)
{
    live_select__drop(ud, client);
}

int live__new(struct protocol *p, struct system *sys, struct live **out)
{
    if (!out)
        return MSGFLO_EINVAL;
    *out = NULL;
    if (!p || !sys || !sys->ops)
        return MSGFLO_EINVAL;
    int rc = MSGFLO_ENOMEM;
    struct live *l = calloc(1, sizeof *l);
    if (!l)
        goto out;
    l->p = p;
    l->sys = sys;
    if ((rc = live_graph__new(PROTOCOL_GRAPH, &l->g)) != 0)
        goto out;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const struct live_command *c = tables[t]; c->protocol; c++) {
            rc = protocol__set_handler(p, c->protocol, c->command, c->capability, c->fn, l);
            if (rc != 0)
                goto out;
        }
    }
    protocol__after_runtime(p, send_ports, l);
    protocol__on_closed(p, client_closed, l);
    *out = l;
    l = NULL;
out:
    live__free(l);
    return rc;
}

void live__set_running(struct live *l, enum live_running means)
{
    l->running_busy = means == LIVE_RUNNING_BUSY;
}

void live__free(struct live *l)
{
    if (!l)
        return;
    unregister(l);
    protocol__after_runtime(l->p, NULL, NULL);
    protocol__on_closed(l->p, NULL, NULL);
    protocol__set_main_graph(l->p, NULL);
    live_select__clear(l);
    live_graph__free(l->g);
    free(l);
}

void live__on_change(struct live *l, void (*fn)(void *ud), void *ud)
{
    l->on_change = fn;
    l->change_ud = ud;
}

void live__on_settled(struct live *l, void (*fn)(void *ud), void *ud)
{
    l->on_settled = fn;
    l->settled_ud = ud;
}

void live__changed(struct live *l)
{
    if (l->on_change)
        l->on_change(l->change_ud);
}

json_t *live__graph_json(struct live *l)
{
    return live_graph__to_json(l->g);
}

void live__broadcast(struct live *l, const char *protocol, const char *command, json_t *payload)
{
    if (!payload) {
        LOG_WARNING(LIVE_NS, "%s:%s not sent: out of memory", protocol, command);
        return;
    }
    if (protocol__send(l->p, NULL, protocol, command, payload) != 0)
        LOG_WARNING(LIVE_NS, "%s:%s not sent: out of memory", protocol, command);
}

const char *live__id(const struct live *l)
{
    return live_graph__id(l->g);
}

bool live__check_graph(struct live *l, const struct protocol_request *req, const char *key)
{
    json_t *g = json_object_get(req->payload, key);
    if (!json_is_string(g)) {
        protocol__error(l->p, req, "No graph specified");
        return false;
    }
    if (strcmp(json_string_value(g), live__id(l)) != 0) {
        protocol__error(l->p, req, "Requested graph not found");
        return false;
    }
    return true;
}

int live__sys_error(struct live *l, const struct protocol_request *req, int rc, const char *err)
{
    protocol__error(l->p, req, err && *err ? err : msgflo_strerror(rc));
    return 0;
}

double live__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void live__rfc3339(double t, char *buf, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    int ms = (int)((t - (double)secs) * 1000.0);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

json_t *live__node_metadata(const json_t *m)
{
    json_t *c = json_is_object(m) ? json_deep_copy(m) : json_object();
    const char *keys[] = {"x", "y"};
    for (int i = 0; c && i < 2; i++) {
        json_t *v = json_object_get(c, keys[i]);
        /* Beyond the integers' range a value is left as it is. */
        if (json_is_real(v) && json_real_value(v) > -9e18 && json_real_value(v) < 9e18) {
            double d = json_real_value(v);
            json_object_set_new(c, keys[i], json_integer((json_int_t)(d < 0 ? d - 0.5 : d + 0.5)));
        }
    }
    return c;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *pub_graph(struct live *l, const char *pub)
{
    return json_pack("{s:s, s:s}", "public", pub, "graph", live__id(l));
}

int live__remove_node(struct live *l, const char *id, bool notify, char *err, size_t errlen)
{
    const struct system_ops *ops = l->sys->ops;
    void *self = l->sys->self;
    int rc = 0;
    json_t *e;
    const char *k;
    void *tmp;
    /* Exports first: the system stops watching before the node goes. */
    for (int out = 0; out < 2; out++) {
        json_object_foreach_safe(live_graph__exports(l->g, out), tmp, k, e)
        {
            const char *proc = str(e, "process");
            if (!proc || strcmp(proc, id) != 0)
                continue;
            json_t *payload = notify ? pub_graph(l, k) : NULL;
            if ((rc = live__unexport(l, out, k, err, errlen)) != 0) {
                json_decref(payload);
                return rc;
            }
            if (notify)
                live__broadcast(l, "graph", out ? "removeoutport" : "removeinport", payload);
        }
    }
    const struct live_edge *edge;
    while ((edge = live_graph__node_edge(l->g, id, NULL)) != NULL) {
        /* Copies: the system's callbacks may change the graph. */
        json_t *src = live_graph__port_json(&edge->src), *tgt = live_graph__port_json(&edge->tgt);
        const char *sn = str(src, "node"), *sp = str(src, "port");
        const char *tn = str(tgt, "node"), *tp = str(tgt, "port");
        rc = src && tgt ? ops->remove_edge(self, sn, sp, tn, tp, err, errlen) : MSGFLO_ENOMEM;
        if (rc == 0) {
            live_graph__remove_edge(l->g, sn, sp, tn, tp);
            if (notify)
                live__broadcast(
                    l, "graph", "removeedge",
                    json_pack("{s:O, s:O, s:s}", "src", src, "tgt", tgt, "graph", live__id(l)));
        }
        json_decref(src);
        json_decref(tgt);
        if (rc != 0)
            return rc;
    }
    const struct live_iip *iip;
    while ((iip = live_graph__node_iip(l->g, id, NULL)) != NULL) {
        json_t *data = json_incref(iip->data), *tgt = live_graph__port_json(&iip->tgt);
        const char *port = str(tgt, "port");
        rc = tgt ? ops->remove_initial(self, id, port, err, errlen) : MSGFLO_ENOMEM;
        if (rc == 0) {
            live_graph__remove_iip(l->g, id, port);
            if (notify)
                live__broadcast(l, "graph", "removeinitial",
                                json_pack("{s:{s:O}, s:O, s:s}", "src", "data", data, "tgt", tgt,
                                          "graph", live__id(l)));
        }
        json_decref(data);
        json_decref(tgt);
        if (rc != 0)
            return rc;
    }
    if ((rc = ops->remove_node(self, id, err, errlen)) != 0)
        return rc;
    live_graph__remove_node(l->g, id);
    return 0;
}

int live__clear(struct live *l, const char *id)
{
    struct live_graph *fresh;
    int rc = live_graph__new(id, &fresh);
    if (rc != 0)
        return rc;
    char err[256] = "";
    if (l->started) {
        if (l->sys->ops->stop(l->sys->self, err, sizeof err) != 0)
            LOG_WARNING(LIVE_NS, "network:stop: %s", err);
        l->started = false;
    }
    /* Node by node: each removal takes the node's edges, IIPs and exports. */
    const struct live_node *first;
    while ((first = live_graph__next_node(l->g, NULL)) != NULL) {
        char *node = strdup(first->id);
        if (!node) {
            live_graph__free(fresh);
            return MSGFLO_ENOMEM;
        }
        err[0] = '\0';
        if (live__remove_node(l, node, false, err, sizeof err) != 0) {
            /* The system could not take it back; forget it anyway. */
            LOG_WARNING(LIVE_NS, "graph:clear: removing %s: %s", node, err);
            live_graph__remove_node(l->g, node);
        }
        free(node);
    }
    live_graph__free(l->g);
    l->g = fresh;
    return protocol__set_main_graph(l->p, id);
}

json_t *live__ports(struct live *l)
{
    json_t *payload = json_pack("{s:s, s:[], s:[]}", "graph", live__id(l), "inPorts", "outPorts");
    const char *names[2] = {"inPorts", "outPorts"};
    for (int out = 0; payload && out < 2; out++) {
        json_t *list = json_object_get(payload, names[out]);
        const char *k;
        json_t *e;
        json_object_foreach(live_graph__exports(l->g, out), k, e)
        {
            if (json_array_append_new(list, json_pack("{s:s, s:s}", "id", k, "type", "any")) != 0) {
                json_decref(payload);
                return NULL;
            }
        }
    }
    return payload;
}

int live__export(struct live *l, bool out, const char *pub, const char *node, const char *port,
                 const json_t *metadata, char *err, size_t errlen)
{
    int rc;
    json_t *old = live_graph__export(l->g, out, pub);
    if (old && (rc = live__unexport(l, out, pub, err, errlen)) != 0)
        return rc;
    if (out && (rc = l->sys->ops->watch(l->sys->self, node, port, err, errlen)) != 0)
        return rc;
    rc = live_graph__set_export(l->g, out, pub, node, port, metadata);
    if (rc != 0 && out)
        l->sys->ops->unwatch(l->sys->self, node, port, err, errlen);
    return rc;
}

int live__unexport(struct live *l, bool out, const char *pub, char *err, size_t errlen)
{
    json_t *e = live_graph__export(l->g, out, pub);
    if (!e) {
        snprintf(err, errlen, "Exported port %s not found", pub);
        return MSGFLO_EINVAL;
    }
    if (out) {
        int rc = l->sys->ops->unwatch(l->sys->self, str(e, "process"), str(e, "port"), err, errlen);
        if (rc != 0)
            return rc;
    }
    return live_graph__remove_export(l->g, out, pub);
}

/* ---- loading a graph file ---- */

static int load_connection(struct live *l, const struct graph_connection *c, char *err,
                           size_t errlen)
{
    const struct system_ops *ops = l->sys->ops;
    void *self = l->sys->self;
    int rc = MSGFLO_ENOMEM;
    json_t *src_index = c->src.index != GRAPH_NO_INDEX ? json_integer(c->src.index) : NULL;
    json_t *tgt_index = c->tgt.index != GRAPH_NO_INDEX ? json_integer(c->tgt.index) : NULL;
    struct live_port src = {c->src.process, c->src.port, src_index};
    struct live_port tgt = {c->tgt.process, c->tgt.port, tgt_index};
    if ((c->src.index != GRAPH_NO_INDEX && !src_index) ||
        (c->tgt.index != GRAPH_NO_INDEX && !tgt_index))
        goto out;
    if (c->data) {
        rc = ops->add_initial(self, c->tgt.process, c->tgt.port, c->data, err, errlen);
        if (rc == 0)
            rc = live_graph__add_iip(l->g, c->data, &tgt, c->metadata);
    } else if (live_graph__edge(l->g, c->src.process, c->src.port, c->tgt.process, c->tgt.port)) {
        rc = 0; /* a duplicate, ignored as fbp-graph does */
    } else {
        rc = ops->add_edge(self, c->src.process, c->src.port, c->tgt.process, c->tgt.port, err,
                           errlen);
        if (rc == 0)
            rc = live_graph__add_edge(l->g, &src, &tgt, c->metadata);
    }
out:
    json_decref(src_index);
    json_decref(tgt_index);
    return rc;
}

int live__load_graph(struct live *l, const struct graph *g, char *err, size_t errlen)
{
    const struct system_ops *ops = l->sys->ops;
    void *self = l->sys->self;
    int rc = live__clear(l, PROTOCOL_GRAPH);
    if (rc != 0)
        return rc;
    live_graph__set_case_sensitive(l->g, g->case_sensitive);
    if (json_is_object(g->properties) &&
        json_object_update(live_graph__properties(l->g), g->properties) != 0)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < g->n_processes; i++) {
        const struct graph_process *p = &g->processes[i];
        const char *component = p->component ? p->component : "";
        json_t *meta = NULL;
        if ((rc = graph__process_metadata(p, &meta)) != 0)
            return rc;
        json_t *clean = live__node_metadata(meta);
        json_decref(meta);
        if (!clean)
            return MSGFLO_ENOMEM;
        rc = ops->add_node(self, p->name, component, err, errlen);
        if (rc == 0)
            rc = live_graph__add_node(l->g, p->name, component, clean, false);
        json_decref(clean);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < g->n_connections; i++)
        if ((rc = load_connection(l, &g->connections[i], err, errlen)) != 0)
            return rc;
    for (size_t i = 0; i < g->n_inports; i++) {
        const struct graph_export *e = &g->inports[i];
        if ((rc = live__export(l, false, e->name, e->process, e->port, e->metadata, err, errlen)) !=
            0)
            return rc;
    }
    for (size_t i = 0; i < g->n_outports; i++) {
        const struct graph_export *e = &g->outports[i];
        if ((rc = live__export(l, true, e->name, e->process, e->port, e->metadata, err, errlen)) !=
            0)
            return rc;
    }
    for (size_t i = 0; i < g->n_groups; i++) {
        const struct graph_group *gr = &g->groups[i];
        if ((rc = live_graph__add_group(l->g, gr->name, gr->nodes, gr->metadata)) != 0)
            return rc;
    }
    if ((rc = ops->start(self, err, errlen)) != 0)
        return rc;
    l->started = true;
    l->started_at = live__now();
    live__changed(l);
    return 0;
}
