/* router/: MQTT bindings kept by the broker. The /msgrouter protocol
 * (docs/msgrouter.md) over a table of bindings, sans-I/O: the mosquitto plugin
 * (mosquitto_msgflo.c) and the msgflo-router daemon feed it messages and carry
 * out what it answers. Depends on jansson and uthash only (it is loaded into
 * mosquitto).
 *
 *     struct router *r;
 *     router__new("default", &r);
 *     router__load(r, "bindings.json", err, sizeof err);      // optional
 *     // every message the broker takes in:
 *     if (router__is_control(r, topic))
 *         router__control(r, topic, payload, len, &replies);   // publish replies
 *     else
 *         n = router__route(r, topic, len, &targets);          // republish to each
 *     if (router__dirty(r)) router__save(r, path, err, sizeof err);
 *
 * A binding forwards every message published on `src` to `tgt`, byte for
 * byte, with its QoS. Bindings chain (a -> b, b -> c delivers a's messages to
 * b and c): router__route follows the chain itself, since a broker does not
 * show a plugin the messages it republishes. A binding that would close a
 * loop on topics alone is refused.
 */
#ifndef MSGFLO_ROUTER_ROUTER_H
#define MSGFLO_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTER_PROTOCOL_VERSION "1.0"
#define ROUTER_PREFIX           "/msgrouter/"
#define ROUTER_MAX_TOPIC        1024 /* bytes of a bound topic */
#define ROUTER_MAX_BINDINGS     1000000
#define ROUTER_MAX_INSTANCE     128       /* bytes of an instance name */
#define ROUTER_MAX_MESSAGE      268435455 /* bytes of an MQTT payload, at most */

enum router_type { ROUTER_PUBSUB, ROUTER_ROUNDROBIN };

struct router;

/* One binding as listed. Strings valid until the next change of the table. */
struct router_binding_info {
    const char *src, *tgt;
    enum router_type type;
    uint64_t messages, bytes; /* forwarded since the router started */
};

/* A message the router wants published (a reply to a control message). */
struct router_reply {
    char *topic;   /* owned by the replies */
    char *payload; /* JSON text, owned by the replies */
    bool retain;
};

struct router_replies {
    struct router_reply items[4];
    size_t n;
};

/* `instance` names the router in its topics (/msgrouter/<instance>/...);
 * NULL or "": "default". `name` says what it is in its status ("mosquitto_msgflo",
 * "msgflo-router"). Returns 0, -1 on a bad instance name (empty after the
 * default, longer than ROUTER_MAX_INSTANCE, or holding '/', '+', '#'), -2
 * out of memory. */
int router__new(const char *instance, const char *name, struct router **out);
void router__free(struct router *r);

const char *router__instance(const struct router *r);

/* Whether topic is one of this router's control topics (or any /msgrouter/
 * topic: those are never forwarded nor bound). */
bool router__is_control(const struct router *r, const char *topic);

/* Adds src -> tgt (idempotent: the same pair is one binding; another type
 * replaces its type). Returns 0 added, 1 already there, -1 refused (reason in
 * err: a bad topic, a loop, too many), -2 out of memory. */
int router__add(struct router *r, const char *src, const char *tgt, enum router_type type,
                char *err, size_t errlen);

/* Removes src -> tgt. Returns 0 removed, 1 there was none. */
int router__remove(struct router *r, const char *src, const char *tgt);

size_t router__count(const struct router *r);

/* The targets of a message published on topic, following chains, each once;
 * counts the message on every binding it crosses. *targets is valid until
 * the next call into the router. Returns their number (0: not bound). */
size_t router__route(struct router *r, const char *topic, size_t len, const char *const **targets);

/* The direct targets of a message published on topic (its own bindings,
 * chains not followed), counting it on each: for a router that is a broker
 * client and gets its own republished messages back, so that the broker
 * carries them along a chain. *targets as router__route's. */
size_t router__targets(struct router *r, const char *topic, size_t len,
                       const char *const **targets);

/* The type of src -> tgt: 0, or -1 when there is no such binding. */
int router__type_of(const struct router *r, const char *src, const char *tgt,
                    enum router_type *type);

/* Whether topic is the source of a binding. */
bool router__bound(const struct router *r, const char *topic);

/* Calls fn for every binding, sources in the order first bound, targets in
 * the order added. */
void router__each(const struct router *r, void (*fn)(const struct router_binding_info *b, void *ud),
                  void *ud);

/* Handles a control message: fills replies (release with
 * router__replies_cleanup). A malformed message gets an error reply and
 * changes nothing. */
void router__control(struct router *r, const char *topic, const void *payload, size_t len,
                     struct router_replies *replies);
void router__replies_cleanup(struct router_replies *replies);

/* The retained status message's topic and JSON (owned: free both). */
int router__status(const struct router *r, char **topic, char **payload);

/* Whether the table changed since the last router__save or router__load. */
bool router__dirty(const struct router *r);

/* Writes the bindings to path atomically (a temporary file beside it,
 * fsync, rename). Returns 0, or -1 with the reason in err. */
int router__save(struct router *r, const char *path, char *err, size_t errlen);

/* Adds the bindings saved in path. A missing file is no error (nothing
 * saved yet). Returns 0, or -1 with the reason in err (the file and what is
 * wrong; nothing is added then). */
int router__load(struct router *r, const char *path, char *err, size_t errlen);

#endif
