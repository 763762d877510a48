/* libFuzzer target: discovery messages as a coordinator receives them.
 * The whole input is one message for discovery__parse; its lines are a
 * sequence of messages announced to a registry (one second apart), queried
 * after each, then expired. Each accepted payload also goes to the
 * coordinator's component definitions (coordinator_components.c, the part
 * of the coordinator's discovery handling that needs no broker), and the
 * component list a client gets is built from them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "coord/coordinator_internal.h"
#include "discovery/discovery.h"
#include "library/library.h"
#include "coord/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_edge(const char *src_role, const char *src_port, const char *tgt_role,
                    const char *tgt_port, const char *queue, void *ud)
{
    (void)ud;
    if (!src_role || !src_port || !tgt_role || !tgt_port || !queue)
        abort();
}

static void query_ports(struct registry *r, const char *role, const json_t *payload, int inport)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(payload, inport ? "inports" : "outports"), i, p)
    {
        const char *port = json_string_value(json_object_get(p, "id"));
        char *queue = NULL;
        bool announced = false;
        size_t n = 0;
        if (!port)
            abort(); /* discovery__parse lets no such port through */
        (void)discovery__queue(payload, inport, port);
        if (registry__queue(r, role, inport, port, &queue, &announced) != 0)
            continue;
        if (!announced)
            abort(); /* the role announced this very port */
        const struct registry_port *users = registry__queue_ports(r, queue, &n);
        for (size_t k = 0; k < n; k++) {
            if (!users[k].role || !users[k].port)
                abort();
        }
        free(queue);
    }
}

static void announce(struct coordinator *c, struct registry *r, const char *msg, size_t len,
                     uint64_t now)
{
    char err[256];
    unsigned changes = 0;
    json_t *payload = NULL;
    int rc = registry__announce(r, msg, len, now, &changes, err, sizeof err);
    if (rc != 0) {
        if (!memchr(err, '\0', sizeof err))
            abort();
        return;
    }
    if (discovery__parse(msg, len, &payload, err, sizeof err) != 0)
        abort(); /* announce accepted it */
    const char *id = json_string_value(json_object_get(payload, "id"));
    const char *role = json_string_value(json_object_get(payload, "role"));
    json_t *stored = NULL, *def = NULL;
    if (registry__participant(r, id, &stored) != 0 || registry__role_instances(r, role) == 0 ||
        registry__role(r, role, &def) != 0)
        abort();
    json_decref(stored);
    json_decref(def);
    uint64_t first, last;
    if (registry__seen(r, id, &first, &last) != 0 || last != now || first > last)
        abort();
    query_ports(r, role, payload, 1);
    query_ports(r, role, payload, 0);
    registry__edges(r, role, on_edge, NULL);
    /* A definition just stored is not changed by the same payload again. */
    (void)coordinator_components__update(c, payload, changes);
    if (coordinator_components__update(c, payload, 0))
        abort();
    json_decref(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *payload = NULL;
    char err[256];
    if (discovery__parse(data, size, &payload, err, sizeof err) == 0) {
        if (!json_is_object(payload))
            abort();
        json_decref(payload);
    }

    const struct registry_options opts = {.period_ms = 1000, .expiry_periods = 3};
    struct registry *r = NULL;
    struct library *lib = NULL;
    char lerr[256];
    struct coordinator c;
    memset(&c, 0, sizeof c);
    if (registry__new(&opts, &r) != 0 ||
        library__from_json(NULL, NULL, "/nonexistent/msgflo-fuzz", &lib, lerr, sizeof lerr) != 0)
        abort();
    c.reg = r;
    c.lib = lib;
    /* an update schedules the pump on the loop: a loop and its timer, never run */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &c.pump_timer);
    c.loop = &loop;
    const char *p = (const char *)data, *end = p + size;
    uint64_t now = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        now += 1000;
        announce(&c, r, p, len, now);
        (void)registry__expire(r, now, NULL, NULL);
        p += len + 1;
    }
    if (registry__role_count(r) > registry__count(r))
        abort();
    json_t *list = coordinator__components(&c);
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        if (!json_is_string(json_object_get(entry, "name")) ||
            !json_is_array(json_object_get(entry, "inports")) ||
            !json_is_array(json_object_get(entry, "outports")))
            abort();
    }
    size_t defined = 0;
    for (const struct coord_component *k = c.comps; k; k = k->hh.next)
        defined += k->def && !k->lc;
    if (!list || json_array_size(list) != defined)
        abort();
    json_decref(list);
    coordinator_components__clear(&c);
    uv_close((uv_handle_t *)&c.pump_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    library__free(lib);
    (void)registry__expire(r, now + 10000, NULL, NULL);
    if (registry__count(r) != 0 || registry__next_expiry(r) != UINT64_MAX)
        abort();
    registry__free(r);
    return 0;
}
