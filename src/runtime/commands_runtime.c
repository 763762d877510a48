/* runtime:packet: a packet into an exported inport of the live graph
 * (docs/runtime-protocol.md). runtime:getruntime is protocol.c's. */
#include "runtime/live_internal.h"

#include "msgflo/errors.h"

#include <stdio.h>
#include <string.h>

static int handle_packet(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct live *l = ud;
    if (!live__check_graph(l, req, "graph"))
        return 0;
    const char *port = json_string_value(json_object_get(req->payload, "port"));
    const char *event = json_string_value(json_object_get(req->payload, "event"));
    if (!port || !event)
        return protocol__error(p, req, "Missing 'port' or 'event'");
    static const char *const events[] = {"connect", "begingroup", "data", "endgroup", "disconnect"};
    bool known = false;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        known = known || strcmp(event, events[i]) == 0;
    if (!known)
        return protocol__error(p, req,
                               "'event' must be connect, begingroup, data, endgroup or disconnect");
    json_t *e = live_graph__export(l->g, false, port);
    if (!e) {
        char msg[300];
        snprintf(msg, sizeof msg, "Port %.256s not found", port);
        return protocol__error(p, req, msg);
    }
    json_t *payload = json_object_get(req->payload, "payload");
    /* Only data reaches a participant: queues carry no brackets. */
    if (strcmp(event, "data") == 0) {
        json_t *null = json_null();
        char err[512] = "";
        int rc = l->sys->ops->send(l->sys->self, json_string_value(json_object_get(e, "process")),
                                   json_string_value(json_object_get(e, "port")),
                                   payload ? payload : null, err, sizeof err);
        json_decref(null);
        if (rc != 0)
            return live__sys_error(l, req, rc, err);
    }
    json_t *reply =
        json_pack("{s:s, s:s, s:s}", "port", port, "event", event, "graph", live__id(l));
    static const char *const extra[] = {"payload", "type", "schema"};
    for (size_t i = 0; reply && i < sizeof extra / sizeof extra[0]; i++) {
        json_t *v = json_object_get(req->payload, extra[i]);
        if (v && (i == 0 || json_is_string(v)))
            json_object_set(reply, extra[i], v);
    }
    return protocol__reply(p, req, "packetsent", reply);
}

const struct live_command commands_runtime[] = {
    {"runtime", "packet", "protocol:runtime", handle_packet},
    {NULL, NULL, NULL, NULL},
};
