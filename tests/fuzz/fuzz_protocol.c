/* libFuzzer target: the FBP protocol handler (runtime/protocol.c) with the
 * runtime's graph, network, component and runtime:packet commands (live.c)
 * registered against the recording fake system (tests/support).
 *
 * Input: one flags byte, then frames separated by '\n'. A frame is the text
 * of one WebSocket message from one of two clients; a frame starting with
 * '@' is instead an event of the system, a JSON array
 * ["participant_added", role, definition], ["data", role, port, value], ...
 * Every message sent must be one JSON object {protocol, command, payload}
 * without a secret in its payload, and the live graph must stay loadable
 * (what auto-save writes, --graph reads). With a secret set, a frame
 * without it changes nothing: no call of the system, no broadcast, and no
 * reply but errors and runtime:runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_system.h"
#include "graph/graph.h"
#include "runtime/live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "s3cret-fuzz"

static const char *const failing[] = {
    NULL,    "add_node", "remove_node",          "add_edge",       "remove_edge",
    "start", "stop",     "add_initial",          "remove_initial", "send",
    "watch", "unwatch",  "set_component_source",
};

struct fixture {
    bool listening;
    bool unpermitted; /* the frame being handled lacks the secret */
    int clients[2];
};

static void emit(struct protocol *p, void *client, const char *text, size_t len, void *ud)
{
    (void)p;
    struct fixture *f = ud;
    json_error_t e;
    if (client && client != &f->clients[0] && client != &f->clients[1])
        abort();
    if (strlen(text) != len)
        abort();
    json_t *msg = json_loadb(text, len, 0, &e);
    if (!msg || json_object_size(msg) != 3 || !json_is_string(json_object_get(msg, "protocol")) ||
        !json_is_string(json_object_get(msg, "command")) ||
        json_object_get(json_object_get(msg, "payload"), "secret"))
        abort();
    if (f->unpermitted) {
        const char *proto = json_string_value(json_object_get(msg, "protocol"));
        const char *cmd = json_string_value(json_object_get(msg, "command"));
        if (!client || (strcmp(cmd, "error") != 0 &&
                        !(strcmp(proto, "runtime") == 0 && strcmp(cmd, "runtime") == 0)))
            abort();
    }
    json_decref(msg);
}

static size_t listeners(void *ud)
{
    return ((struct fixture *)ud)->listening ? 2 : 0;
}

static const char *str(const json_t *a, size_t i)
{
    const char *s = json_string_value(json_array_get(a, i));
    return s ? s : "";
}

static bool is_secret(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), SECRET) == 0;
}

/* Whether the frame carries the secret where protocol.c looks for it. */
static bool carries_secret(const char *text, size_t len)
{
    json_error_t e;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    bool yes = is_secret(json_object_get(msg, "secret")) ||
               is_secret(json_object_get(json_object_get(msg, "payload"), "secret"));
    json_decref(msg);
    return yes;
}

/* ["event", args...]: calls that system event, as the coordinator would. */
static void system_event(struct system *sys, const char *text, size_t len)
{
    json_error_t e;
    json_t *a = json_loadb(text, len, 0, &e);
    const char *ev = json_string_value(json_array_get(a, 0));
    const struct system_events *x = &sys->events;
    json_t *v3 = json_array_get(a, 3), *v2 = json_array_get(a, 2);
    if (!ev) {
        json_decref(a);
        return;
    }
    if (strcmp(ev, "participant_added") == 0 && json_is_object(v2))
        x->participant_added(sys->ud, str(a, 1), v2);
    else if (strcmp(ev, "data") == 0 && v3 &&
             (!x->data_wanted || x->data_wanted(sys->ud, str(a, 1), str(a, 2))))
        x->data(sys->ud, str(a, 1), str(a, 2), v3);
    else if (strcmp(ev, "initial_sent") == 0 && v3)
        x->initial_sent(sys->ud, str(a, 1), str(a, 2), v3);
    else if (strcmp(ev, "edge_found") == 0)
        x->edge_found(sys->ud, str(a, 1), str(a, 2), str(a, 3), str(a, 4));
    else if (strcmp(ev, "participant_expired") == 0)
        x->participant_expired(sys->ud, str(a, 1), str(a, 2));
    else if (strcmp(ev, "process_error") == 0)
        x->process_error(sys->ud, str(a, 1), str(a, 2));
    else if (strcmp(ev, "error") == 0)
        x->error(sys->ud, str(a, 1));
    else if (strcmp(ev, "components_changed") == 0)
        x->components_changed(sys->ud);
    json_decref(a);
}

/* What auto-save writes of the live graph reads back as a graph. */
static void check_graph(struct live *l)
{
    json_t *doc = live__graph_json(l);
    struct graph *g = NULL;
    struct graph_error err;
    if (!doc)
        abort();
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text || graph_json__read(text, strlen(text), &g, &err) != 0)
        abort();
    graph__free(g);
    free(text);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    struct fixture f = {.listening = !(flags & 0x80)};
    static struct fake_system the_fake; /* 64 KiB: not allocated per input */
    struct fake_system *fake = &the_fake;
    struct protocol *p = NULL;
    struct live *l = NULL;
    struct system sys = {.ops = &fake_system_ops, .self = fake};
    const struct protocol_options o = {.id = "5f0d4ba3-2c4e-4d1e-9b7a-0c1d2e3f4a5b",
                                       .label = "fuzz",
                                       .secret = (flags & 1) ? SECRET : NULL,
                                       .listeners = listeners};
    fake->calls[0] = '\0';
    fake->components = json_pack("[{s:s, s:[{s:s}], s:[{s:s}]}]", "name", "core/Repeat", "inports",
                                 "id", "in", "outports", "id", "out");
    fake->fail = failing[((flags >> 1) & 0xf) % (sizeof failing / sizeof failing[0])];
    fake->busy = (flags & 0x40) != 0;
    if (protocol__new(&o, emit, &f, &p) != 0 || live__new(p, &sys, &l) != 0)
        abort();
    sys.events = *live__system_events();
    sys.ud = l;

    const char *s = (const char *)data + 1, *end = (const char *)data + size;
    for (size_t i = 0; s < end; i++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (len > 0 && s[0] == '@') {
            system_event(&sys, s + 1, len - 1);
        } else {
            f.unpermitted = o.secret && !carries_secret(s, len);
            if (protocol__handle(p, &f.clients[i % 2], s, len) != 0)
                abort();
            if (f.unpermitted && fake->calls[0])
                abort();
            f.unpermitted = false;
        }
        fake->calls[0] = '\0';
        s += len + 1;
    }
    check_graph(l);

    live__free(l);
    protocol__free(p);
    json_decref(fake->components);
    return 0;
}
