/* The FBP network protocol (0.7) of the msgflo runtime, sans-I/O.
 *
 * Frames in (text of one WebSocket message, with the client it came from),
 * messages out (through the `emit` callback, to one client or to all). No
 * sockets here, so every rule is testable with plain strings:
 *
 *     struct protocol *p;
 *     protocol__new(&opts, emit, ud, &p);
 *     protocol__handle(p, client, text, len);   // emits 0..n messages
 *     protocol__free(p);
 *
 * Envelope {protocol, command, payload}. A frame that is not JSON, or lacks a
 * string protocol/command, or has a non-object payload gets an error reply
 * (`<protocol or "runtime">:error {message}`); unknown commands get no reply,
 * as the original, only a debug log (namespace msgflo:protocol).
 *
 * Secret (permission model of noflo-runtime-base, the protocol's reference
 * runtime): when a secret is set, a request is permitted only if it carries
 * the same secret, top-level (protocol >= 0.8) or in payload.secret (older
 * clients). runtime:getruntime is always answered, but without the secret the
 * reply lists no capabilities (and `allCapabilities` says what the secret
 * would give); any other command, known or not, gets `<protocol>:error
 * {message: "<protocol>:<command> is not permitted"}`. A secret is never echoed: it is
 * removed from the payload before a handler sees it.
 *
 * Extension point: commands are rows of a dispatch table. The runtime's own
 * (runtime:getruntime) are built in; later layers add graph:*, network:*,
 * component:* with protocol__set_handler.
 */
#ifndef MSGFLO_RUNTIME_PROTOCOL_H
#define MSGFLO_RUNTIME_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PROTOCOL_VERSION "0.7"
#define PROTOCOL_TYPE    "msgflo"
#define PROTOCOL_GRAPH   "default/main"

struct protocol;

/* What the runtime reports about itself. Strings are copied by protocol__new;
 * NULL or "" leaves an optional field out. */
struct protocol_options {
    const char *id;         /* runtime id (UUID); required */
    const char *label;      /* optional */
    const char *namespace_; /* optional */
    const char *repository; /* optional */
    const char *secret;     /* NULL or "": no secret, everything permitted */
    /* component:setsource left out of runtime:runtime's capabilities (the
     * runtime does not write components: msgflo --allow-component-write). */
    bool no_setsource;
    /* How many clients a broadcast would reach (called with emit's ud); when
     * it says 0, broadcasts are not even serialised. NULL: always send. */
    size_t (*listeners)(void *ud);
    /* A request of `client` was accepted: a well-formed envelope with the
     * secret (or none is set), known command or not; called with emit's ud
     * before the handler runs (optional). The transport uses it to trust the
     * client (http_server__trust). */
    void (*permitted)(void *client, void *ud);
};

/* Sends one serialized message. `client` is the requester (reply) or NULL
 * (broadcast to every connected client). `text` is valid until the callback
 * returns. */
typedef void (*protocol_emit_fn)(struct protocol *p, void *client, const char *text, size_t len,
                                 void *ud);

/* One request as a handler sees it. Everything is borrowed for the duration
 * of the handler call. */
struct protocol_request {
    void *client;         /* the connection it came from (opaque) */
    const char *protocol; /* e.g. "graph" */
    const char *command;  /* e.g. "addnode" */
    json_t *payload;      /* an object, secret removed; borrowed */
    bool permitted;       /* carried the secret (or none is set) */
};

/* A command handler. Returns 0, or a negative MSGFLO_E* code (logged; the
 * handler has already replied with an error if the client should know). */
typedef int (*protocol_handler_fn)(struct protocol *p, const struct protocol_request *req,
                                   void *ud);

/* Creates a protocol handler. `emit` is required. On success *out is owned by
 * the caller (free with protocol__free). Returns 0, MSGFLO_EINVAL (no id or
 * emit), MSGFLO_ENOMEM. */
int protocol__new(const struct protocol_options *opts, protocol_emit_fn emit, void *ud,
                  struct protocol **out);

/* Frees p; NULL is a no-op. */
void protocol__free(struct protocol *p);

/* Handles one text frame from `client` (opaque, passed back to emit). Never
 * fails on bad input: replies with an error or drops it. Returns 0, or
 * MSGFLO_ENOMEM. */
int protocol__handle(struct protocol *p, void *client, const char *data, size_t len);

/* Adds or replaces the handler of protocol:command (copied); fn NULL removes
 * it. `capability` (copied, may be NULL = always permitted) is the
 * capability a client needs to send the command; commands not permitted are
 * refused before the handler runs. Returns 0, MSGFLO_EINVAL, MSGFLO_ENOMEM. */
int protocol__set_handler(struct protocol *p, const char *protocol, const char *command,
                          const char *capability, protocol_handler_fn fn, void *ud);

/* Sends {protocol, command, payload} to the requester of req. Takes
 * ownership of payload (a reference is stolen, as jansson's _new functions).
 * Returns 0 or MSGFLO_ENOMEM. */
int protocol__reply(struct protocol *p, const struct protocol_request *req, const char *command,
                    json_t *payload);

/* Sends {protocol, command, payload} to one client (NULL: every client).
 * Takes ownership of payload. Returns 0 or MSGFLO_ENOMEM. */
int protocol__send(struct protocol *p, void *client, const char *protocol, const char *command,
                   json_t *payload);

/* Sends {protocol, command, payload} to each client with a permitted
 * request (not yet protocol__closed) for which want(client, ud) says yes,
 * serialised once. For messages only some clients asked for (network:data
 * of selected edges). Takes ownership of payload. Returns 0 or
 * MSGFLO_ENOMEM. */
int protocol__send_each(struct protocol *p, const char *protocol, const char *command,
                        json_t *payload, bool (*want)(void *client, void *ud), void *ud);

/* The transport tells that `client` is gone (it must, for every client that
 * sent a request, before the client's pointer is reused): it is forgotten
 * and the on_closed listener runs. An unknown client is a no-op. */
void protocol__closed(struct protocol *p, void *client);

/* fn(client, ud) (NULL: none) runs for each client protocol__closed takes
 * out, e.g. to drop what it asked for. */
void protocol__on_closed(struct protocol *p, void (*fn)(void *client, void *ud), void *ud);

/* Clients with a permitted request, not yet closed. */
size_t protocol__clients(const struct protocol *p);

/* Whether a broadcast would reach anyone (protocol_options.listeners), so
 * callers need not even build what nobody would read. */
bool protocol__broadcasting(const struct protocol *p);

/* Replies `<req->protocol>:error {message}` to the requester. Returns 0 or
 * MSGFLO_ENOMEM. */
int protocol__error(struct protocol *p, const struct protocol_request *req, const char *message);

/* The main graph id runtime:runtime reports (copied); NULL: PROTOCOL_GRAPH.
 * Returns 0 or MSGFLO_ENOMEM. */
int protocol__set_main_graph(struct protocol *p, const char *id);

/* fn (NULL: none) runs after each runtime:runtime reply, with the
 * getruntime request, e.g. to send runtime:ports to that client. */
void protocol__after_runtime(struct protocol *p, protocol_handler_fn fn, void *ud);

/* The capabilities this runtime reports (NULL-terminated, static). */
const char *const *protocol__capabilities(void);

#endif
