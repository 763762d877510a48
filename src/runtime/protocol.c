/* FBP protocol envelope, permissions and dispatch; runtime:getruntime. */
#include "runtime/protocol.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:protocol"

/* As the original (msgflo src/protocol.coffee). */
static const char *const capabilities[] = {
    "protocol:runtime",
    "protocol:component",
    "protocol:graph",
    "protocol:network",
    "component:getsource",
    "component:setsource",
    NULL,
};

struct command {
    char *protocol;
    char *command;
    char *capability; /* NULL: always permitted */
    protocol_handler_fn fn;
    void *ud;
};

struct protocol {
    char *id, *label, *namespace_, *repository, *secret;
    protocol_emit_fn emit;
    void *emit_ud;
    size_t (*listeners)(void *ud);
    void (*permitted)(void *client, void *ud);
    struct command *commands; /* the dispatch table */
    size_t n_commands;
    char *main_graph; /* NULL: PROTOCOL_GRAPH */
    bool no_setsource;
    protocol_handler_fn after_runtime;
    void *after_runtime_ud;
    /* Clients with a permitted request, until protocol__closed: the ones
     * protocol__send_each reaches (as broadcasts reach the transport's
     * trusted clients). Few (the transport bounds them): an array. */
    void **clients;
    size_t n_clients, cap_clients;
    void (*on_closed)(void *client, void *ud);
    void *closed_ud;
};

static int handle_getruntime(struct protocol *p, const struct protocol_request *req, void *ud);

const char *const *protocol__capabilities(void)
{
    return capabilities;
}

static char *dup_opt(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int protocol__new(const struct protocol_options *opts, protocol_emit_fn emit, void *ud,
                  struct protocol **out)
{
    *out = NULL;
    if (!opts || !opts->id || !*opts->id || !emit)
        return MSGFLO_EINVAL;
    int rc = MSGFLO_ENOMEM;
    struct protocol *p = calloc(1, sizeof *p);
    if (!p)
        goto out;
    p->emit = emit;
    p->emit_ud = ud;
    p->listeners = opts->listeners;
    p->permitted = opts->permitted;
    p->id = strdup(opts->id);
    p->label = dup_opt(opts->label);
    p->namespace_ = dup_opt(opts->namespace_);
    p->repository = dup_opt(opts->repository);
    p->secret = dup_opt(opts->secret);
    p->no_setsource = opts->no_setsource;
    if (!p->id || (opts->label && *opts->label && !p->label) ||
        (opts->namespace_ && *opts->namespace_ && !p->namespace_) ||
        (opts->repository && *opts->repository && !p->repository) ||
        (opts->secret && *opts->secret && !p->secret))
        goto out;
    /* Built-in rows of the dispatch table. */
    rc = protocol__set_handler(p, "runtime", "getruntime", NULL, handle_getruntime, NULL);
    if (rc != 0)
        goto out;
    *out = p;
    p = NULL;
out:
    protocol__free(p);
    return rc;
}

static void command_free(struct command *c)
{
    free(c->protocol);
    free(c->command);
    free(c->capability);
}

void protocol__free(struct protocol *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_commands; i++)
        command_free(&p->commands[i]);
    free(p->commands);
    free(p->id);
    free(p->label);
    free(p->namespace_);
    free(p->repository);
    free(p->main_graph);
    free(p->clients);
    if (p->secret) {
        /* Do not leave the secret in freed memory. */
        volatile char *s = p->secret;
        while (*s)
            *s++ = '\0';
    }
    free(p->secret);
    free(p);
}

static struct command *find_command(struct protocol *p, const char *protocol, const char *command)
{
    for (size_t i = 0; i < p->n_commands; i++) {
        if (strcmp(p->commands[i].protocol, protocol) == 0 &&
            strcmp(p->commands[i].command, command) == 0)
            return &p->commands[i];
    }
    return NULL;
}

int protocol__set_handler(struct protocol *p, const char *protocol, const char *command,
                          const char *capability, protocol_handler_fn fn, void *ud)
{
    if (!p || !protocol || !command)
        return MSGFLO_EINVAL;
    struct command *c = find_command(p, protocol, command);
    if (!fn) {
        if (c) {
            command_free(c);
            *c = p->commands[--p->n_commands];
        }
        return 0;
    }
    struct command row = {0};
    row.protocol = strdup(protocol);
    row.command = strdup(command);
    row.capability = capability ? strdup(capability) : NULL;
    row.fn = fn;
    row.ud = ud;
    if (!row.protocol || !row.command || (capability && !row.capability)) {
        command_free(&row);
        return MSGFLO_ENOMEM;
    }
    if (c) {
        command_free(c);
        *c = row;
        return 0;
    }
    struct command *grown = realloc(p->commands, (p->n_commands + 1) * sizeof *grown);
    if (!grown) {
        command_free(&row);
        return MSGFLO_ENOMEM;
    }
    p->commands = grown;
    p->commands[p->n_commands++] = row;
    return 0;
}

bool protocol__broadcasting(const struct protocol *p)
{
    return !p->listeners || p->listeners(p->emit_ud) > 0;
}

/* The message as compact JSON (free it), or NULL when out of memory. */
static char *serialize(const char *protocol, const char *command, json_t *payload)
{
    char *text = NULL;
    json_t *msg = json_object();
    if (msg && json_object_set_new(msg, "protocol", json_string(protocol)) == 0 &&
        json_object_set_new(msg, "command", json_string(command)) == 0 &&
        json_object_set(msg, "payload", payload) == 0)
        text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(msg);
    return text;
}

int protocol__send(struct protocol *p, void *client, const char *protocol, const char *command,
                   json_t *payload)
{
    int rc = MSGFLO_ENOMEM;
    char *text = NULL;
    if (!payload)
        goto out;
    /* A runtime with nobody connected (the usual state of a production
     * coordinator) does not serialise what nobody would read. */
    if (!client && !protocol__broadcasting(p)) {
        rc = 0;
        goto out;
    }
    if (!(text = serialize(protocol, command, payload)))
        goto out;
    LOG_DEBUG(NS, "%s %s", client ? "send" : "broadcast", text);
    p->emit(p, client, text, strlen(text), p->emit_ud);
    rc = 0;
out:
    free(text);
    json_decref(payload);
    return rc;
}

int protocol__send_each(struct protocol *p, const char *protocol, const char *command,
                        json_t *payload, bool (*want)(void *client, void *ud), void *ud)
{
    int rc = MSGFLO_ENOMEM;
    char *text = NULL;
    size_t len = 0;
    if (!payload)
        goto out;
    rc = 0;
    /* Backwards: emit may end a client (a slow reader), which
     * protocol__closed takes out by moving the last one into its place. */
    for (size_t i = p->n_clients; i-- > 0;) {
        if (i >= p->n_clients || !want(p->clients[i], ud))
            continue;
        if (!text) {
            if (!(text = serialize(protocol, command, payload))) {
                rc = MSGFLO_ENOMEM;
                goto out;
            }
            len = strlen(text);
            LOG_DEBUG(NS, "send to some %s", text);
        }
        p->emit(p, p->clients[i], text, len, p->emit_ud);
    }
out:
    free(text);
    json_decref(payload);
    return rc;
}

int protocol__reply(struct protocol *p, const struct protocol_request *req, const char *command,
                    json_t *payload)
{
    return protocol__send(p, req->client, req->protocol, command, payload);
}

static int send_error(struct protocol *p, void *client, const char *protocol, const char *message)
{
    LOG_DEBUG(NS, "error to client: %s:error %s", protocol, message);
    return protocol__send(p, client, protocol, "error", json_pack("{ss}", "message", message));
}

int protocol__error(struct protocol *p, const struct protocol_request *req, const char *message)
{
    return send_error(p, req->client, req->protocol, message);
}

/* Compares in time independent of where the strings differ. */
static bool secret_equal(const char *expected, const char *given)
{
    size_t n = strlen(expected), m = strlen(given);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(expected[i] ^ given[i < m ? i : 0]);
    return diff == 0;
}

/* Whether the message carries the secret; removes every copy of it. */
static bool take_secret(const struct protocol *p, json_t *msg, json_t *payload)
{
    bool ok = !p->secret;
    json_t *where[2] = {msg, payload};
    for (int i = 0; i < 2; i++) {
        json_t *s = json_object_get(where[i], "secret");
        if (p->secret && json_is_string(s) && secret_equal(p->secret, json_string_value(s)))
            ok = true;
        json_object_del(where[i], "secret");
    }
    return ok;
}

static bool known(const struct protocol *p, const void *client, size_t *at)
{
    for (size_t i = 0; i < p->n_clients; i++) {
        if (p->clients[i] == client) {
            if (at)
                *at = i;
            return true;
        }
    }
    return false;
}

static int remember(struct protocol *p, void *client)
{
    if (known(p, client, NULL))
        return 0;
    if (p->n_clients == p->cap_clients) {
        size_t cap = p->cap_clients ? 2 * p->cap_clients : 8;
        void **grown = realloc(p->clients, cap * sizeof *grown);
        if (!grown)
            return MSGFLO_ENOMEM;
        p->clients = grown;
        p->cap_clients = cap;
    }
    p->clients[p->n_clients++] = client;
    return 0;
}

void protocol__closed(struct protocol *p, void *client)
{
    size_t at;
    if (!p || !known(p, client, &at))
        return;
    p->clients[at] = p->clients[--p->n_clients];
    if (p->on_closed)
        p->on_closed(client, p->closed_ud);
}

void protocol__on_closed(struct protocol *p, void (*fn)(void *client, void *ud), void *ud)
{
    p->on_closed = fn;
    p->closed_ud = ud;
}

size_t protocol__clients(const struct protocol *p)
{
    return p->n_clients;
}

int protocol__handle(struct protocol *p, void *client, const char *data, size_t len)
{
    int rc = 0;
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!msg) {
        /* Position only: jansson's text quotes the input near the error,
         * which may be the secret (or bytes that are not UTF-8). */
        char text[128];
        snprintf(text, sizeof text, "Invalid JSON message (line %d, column %d)", jerr.line,
                 jerr.column);
        rc = send_error(p, client, "runtime", text);
        goto out;
    }
    json_t *jproto = json_object_get(msg, "protocol");
    json_t *jcmd = json_object_get(msg, "command");
    const char *protocol = json_is_string(jproto) ? json_string_value(jproto) : NULL;
    const char *command = json_is_string(jcmd) ? json_string_value(jcmd) : NULL;
    const char *err_proto = protocol && *protocol ? protocol : "runtime";
    if (!json_is_object(msg) || !protocol || !*protocol || !command || !*command) {
        rc = send_error(p, client, err_proto,
                        "Invalid message: needs string 'protocol' and 'command'");
        goto out;
    }
    json_t *payload = json_object_get(msg, "payload");
    if (!payload || json_is_null(payload)) {
        payload = json_object();
        if (!payload || json_object_set_new(msg, "payload", payload) != 0) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
    } else if (!json_is_object(payload)) {
        take_secret(p, msg, NULL);
        rc = send_error(p, client, err_proto, "Invalid message: 'payload' must be an object");
        goto out;
    }
    bool permitted = take_secret(p, msg, payload);
    struct command *c = find_command(p, protocol, command);
    /* As noflo-runtime-base: the permission check comes first, so a client
     * without the secret learns nothing about which commands exist. */
    if ((!c || c->capability) && !permitted) {
        /* Whole names (json_sprintf): cutting them could split a UTF-8
         * sequence. */
        json_t *text = json_sprintf("%s:%s is not permitted", protocol, command);
        LOG_DEBUG(NS, "refused %s:%s: no secret", protocol, command);
        rc = protocol__send(p, client, protocol, "error",
                            text ? json_pack("{so}", "message", text) : NULL);
        goto out;
    }
    if (permitted && client && (rc = remember(p, client)) != 0)
        goto out;
    if (permitted && p->permitted)
        p->permitted(client, p->emit_ud);
    if (!c) {
        LOG_DEBUG(NS, "unhandled message %s:%s", protocol, command);
        goto out;
    }
    const struct protocol_request req = {
        .client = client,
        .protocol = protocol,
        .command = command,
        .payload = payload,
        .permitted = permitted,
    };
    int hrc = c->fn(p, &req, c->ud);
    if (hrc != 0)
        LOG_WARNING(NS, "%s:%s failed: %s", protocol, command, msgflo_strerror(hrc));
    rc = hrc == MSGFLO_ENOMEM ? hrc : 0;
out:
    json_decref(msg);
    return rc;
}

/* The strings of items but `skip` (NULL: none). */
static json_t *string_array(const char *const *items, const char *skip)
{
    json_t *a = json_array();
    for (size_t i = 0; a && items[i]; i++) {
        if (skip && strcmp(items[i], skip) == 0)
            continue;
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int set_opt(json_t *o, const char *key, const char *value)
{
    return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

/* runtime:getruntime -> runtime:runtime, as the original; without the secret
 * no capabilities, as noflo-runtime-base. */
static int handle_getruntime(struct protocol *p, const struct protocol_request *req, void *ud)
{
    (void)ud;
    static const char *const none[] = {NULL};
    const char *skip = p->no_setsource ? "component:setsource" : NULL;
    json_t *payload = json_object();
    if (!payload)
        return MSGFLO_ENOMEM;
    if (json_object_set_new(payload, "id", json_string(p->id)) != 0 ||
        json_object_set_new(payload, "type", json_string(PROTOCOL_TYPE)) != 0 ||
        json_object_set_new(payload, "version", json_string(PROTOCOL_VERSION)) != 0 ||
        json_object_set_new(payload, "capabilities",
                            string_array(req->permitted ? capabilities : none, skip)) != 0 ||
        (!req->permitted &&
         json_object_set_new(payload, "allCapabilities", string_array(capabilities, skip)) != 0) ||
        json_object_set_new(payload, "graph",
                            json_string(p->main_graph ? p->main_graph : PROTOCOL_GRAPH)) != 0 ||
        set_opt(payload, "label", p->label) != 0 ||
        set_opt(payload, "namespace", p->namespace_) != 0 ||
        set_opt(payload, "repository", p->repository) != 0) {
        json_decref(payload);
        return MSGFLO_ENOMEM;
    }
    int rc = protocol__reply(p, req, "runtime", payload);
    if (rc == 0 && p->after_runtime)
        rc = p->after_runtime(p, req, p->after_runtime_ud);
    return rc;
}

int protocol__set_main_graph(struct protocol *p, const char *id)
{
    char *copy = NULL;
    if (id && !(copy = strdup(id)))
        return MSGFLO_ENOMEM;
    free(p->main_graph);
    p->main_graph = copy;
    return 0;
}

void protocol__after_runtime(struct protocol *p, protocol_handler_fn fn, void *ud)
{
    p->after_runtime = fn;
    p->after_runtime_ud = ud;
}
