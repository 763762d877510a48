/* The running system as the FBP protocol layer sees it.
 *
 * The protocol layer (graph/network/component handlers) keeps the live graph
 * and speaks to clients; the coordinator (coord/coordinator.h) makes the graph
 * real on the broker: it discovers participants, starts and stops processes
 * from the component library, binds and unbinds queues, delivers IIPs and
 * watches the data on ports. This header is the contract between the two, so
 * each side is tested alone: unit tests drive the protocol layer against a
 * recording fake, integration tests drive the coordinator against real
 * brokers.
 *
 * Roles are graph node ids (a node "a" is the participant with role "a");
 * ports are as the graph names them (case kept; queues use the announced
 * queue, or definition__default_queue's role.PORT when none was announced).
 *
 * Every call returns at once: what needs the broker or a process happens
 * later on the loop, and its outcome comes back through system_events. A
 * call never invokes a system_events callback from within itself.
 */
#ifndef MSGFLO_COORD_SYSTEM_H
#define MSGFLO_COORD_SYSTEM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The largest message system_ops.latest keeps (bytes). */
#define SYSTEM_LATEST_MAX 65536

/* What the system knows of one role now (system_ops.role_status): for the
 * live view and /metrics. Strings are static. */
struct system_role_status {
    /* "running" (a participant of the role is known), "starting" (our process
     * started, not discovered yet), "restarting" (our process exited and is
     * started again after a backoff), "expected" (not started by us, not seen
     * yet), "expired" (was seen, then not for the expiry time), "failed" (our
     * process could not start or exited for good), "stopping" */
    const char *state;
    bool ours;          /* the system started a process for the role */
    int pid;            /* of that process while it runs, else 0 */
    unsigned restarts;  /* times that process was restarted */
    size_t instances;   /* participants of the role known */
    double last_seen_s; /* seconds since the role last announced; < 0: never */
};

/* A caller's cache of where the system keeps what it knows of one role or
 * edge (system_ops.role_status_ref, edge_status_ref). The caller zeroes it
 * when it makes the record of that role or edge (whose names never change)
 * and otherwise leaves it to the system. */
struct system_status_ref {
    void *p[2];
    unsigned long long epoch; /* 0: not filled */
};

/* Counters of the whole system since it started (system_ops.counters). */
struct system_counters {
    unsigned long long discovery_messages; /* discovery messages taken in */
    unsigned long long discovery_dropped;  /* of those, dropped (invalid, too big, limits) */
    unsigned long long data_messages;      /* messages on watched or forwarded queues */
    unsigned long long iips_sent;
    unsigned long long restarts;   /* participant processes restarted */
    unsigned long long reconnects; /* broker connections made again after a loss */
    size_t participants, roles;    /* known now */
    size_t processes;              /* processes running or about to restart */
    size_t bindings;               /* distinct bindings made now */
    bool connected;                /* to the broker now */
};

/* What the protocol layer asks of the system. `sys` is the implementation's
 * own pointer (system.self). Strings are borrowed for the call; JSON values
 * are borrowed (take a reference to keep one). Each returns 0 or a negative
 * MSGFLO_E* code with a one-line reason in err (errlen bytes) that the
 * protocol layer passes on to the client. */
struct system_ops {
    /* A node joined the live graph: start a participant of `component` in
     * role `role` when the library has a command for it and the role is not
     * ignored; otherwise the role is expected to run elsewhere (not an
     * error). Returns before the process is up. */
    int (*add_node)(void *sys, const char *role, const char *component, char *err, size_t errlen);
    /* A node left the live graph: stop the process started for it (if any)
     * and forget the participants of the role. */
    int (*remove_node)(void *sys, const char *role, char *err, size_t errlen);
    /* An edge joined the live graph: bind src's outport queue to tgt's
     * inport queue (pubsub) once both roles are discovered, and watch the
     * data on it (system_events.data). */
    int (*add_edge)(void *sys, const char *src_role, const char *src_port, const char *tgt_role,
                    const char *tgt_port, char *err, size_t errlen);
    int (*remove_edge)(void *sys, const char *src_role, const char *src_port, const char *tgt_role,
                       const char *tgt_port, char *err, size_t errlen);
    /* An IIP joined the live graph. While the network is started it is sent
     * to the inport queue as soon as the target role is discovered, and sent
     * again each time the role is discovered anew after its process
     * restarted (system_events.initial_sent each time). */
    int (*add_initial)(void *sys, const char *role, const char *port, const json_t *data, char *err,
                       size_t errlen);
    int (*remove_initial)(void *sys, const char *role, const char *port, char *err, size_t errlen);
    /* network:start / network:stop: start delivers the IIPs (see above);
     * stop stops delivering them. Processes keep running either way. */
    int (*start)(void *sys, char *err, size_t errlen);
    int (*stop)(void *sys, char *err, size_t errlen);
    /* Whether the system is still bringing the started network up: a
     * process of the live graph not yet started, a role not yet discovered,
     * an edge not yet bound or an IIP not yet delivered. */
    bool (*busy)(void *sys);
    /* Sends `data` (serialized as JSON) to role's inport queue, once the role
     * is discovered (runtime:packet on an exported inport). */
    int (*send)(void *sys, const char *role, const char *port, const json_t *data, char *err,
                size_t errlen);
    /* Starts/stops reporting the messages role publishes on outport `port`
     * through system_events.data (exported outports; counted, so watching a
     * port twice needs two unwatch calls). Edges are watched by add_edge. */
    int (*watch)(void *sys, const char *role, const char *port, char *err, size_t errlen);
    int (*unwatch)(void *sys, const char *role, const char *port, char *err, size_t errlen);
    /* The last message role published on outport `port` since the port is
     * watched (the source of a live edge, a watched export), as
     * system_events.data gives it: a new reference owned by the caller, or
     * NULL when none was seen or it was too big to keep (over
     * SYSTEM_LATEST_MAX bytes). Kept as bytes, parsed only here. Optional
     * (NULL: never any). For the payload of an edge on demand. */
    json_t *(*latest)(void *sys, const char *role, const char *port);
    /* Every component known: library components and discovered participants'
     * definitions, merged by name. A new JSON array (owned by the caller) of
     * {name, description?, icon?, inports:[port], outports:[port]} where each
     * port is a discovery port definition ({id, type?, description?,
     * schema?, queue?...}; the protocol layer picks the fields it reports).
     * Names carry the library namespace ("core/Repeat"). */
    json_t *(*components)(void *sys);
    /* One component as components() lists it (a new object owned by the
     * caller), or NULL when no component of that name is listed (any more).
     * Optional (NULL: the caller filters components()). */
    json_t *(*component)(void *sys, const char *name);
    /* component:getsource for a component: a new object {name, library?,
     * language, code} (owned by the caller), or NULL with err set. */
    json_t *(*component_source)(void *sys, const char *name, char *err, size_t errlen);
    /* component:source: stores the code as a component of the library.
     * MSGFLO_ESTATE when writing components is not enabled, MSGFLO_EINVAL
     * for a name that could leave the component directory, with err set. */
    int (*set_component_source)(void *sys, const char *name, const char *language, const char *code,
                                char *err, size_t errlen);
    /* Optional (NULL: not known); for the live view and /metrics, cheap (no
     * broker call, O(1) per role or edge). role_status fills *out for `role`
     * (a role the system never heard of: state "expected"). edge_status
     * tells whether the edge is bound now and how many messages its source
     * port carried (counted on the runtime's watch of that port without
     * parsing them, whether or not a client is connected; every edge from
     * one port has the same count). counters fills *out. */
    void (*role_status)(void *sys, const char *role, struct system_role_status *out);
    void (*edge_status)(void *sys, const char *src_role, const char *src_port, const char *tgt_role,
                        const char *tgt_port, bool *bound, unsigned long long *messages);
    /* Optional (NULL: role_status, edge_status are used): the same answers,
     * for a caller that asks about the same roles and edges again and again
     * (/metrics, the live view's status). `ref` is the caller's cache for
     * that role or edge: while the system made or freed no record it keeps
     * of roles and edges, the answer takes no lookup by name, so a walk of
     * 10,000 nodes and edges costs reading their records, no hashing. */
    void (*role_status_ref)(void *sys, const char *role, struct system_status_ref *ref,
                            struct system_role_status *out);
    void (*edge_status_ref)(void *sys, const char *src_role, const char *src_port,
                            const char *tgt_role, const char *tgt_port,
                            struct system_status_ref *ref, bool *bound,
                            unsigned long long *messages);
    void (*counters)(void *sys, struct system_counters *out);
};

/* What the system reports to the protocol layer (all optional). `ud` is
 * system.ud. Strings and JSON are borrowed for the call. */
struct system_events {
    /* A message seen on role's outport `port` (a watched port, or the source
     * of a live edge). `data` is the message parsed as JSON, or a JSON string
     * of its bytes when it is not JSON. */
    void (*data)(void *ud, const char *role, const char *port, const json_t *data);
    /* Whether `data` of role's outport `port` would be used now (NULL:
     * always). While it says no, the messages of that port are not even
     * parsed (they are still counted for edge_status). */
    bool (*data_wanted)(void *ud, const char *role, const char *port);
    /* An IIP was sent to role's inport. */
    void (*initial_sent)(void *ud, const char *role, const char *port, const json_t *data);
    /* A participant was discovered for the first time (or again after it
     * expired or its process restarted). `definition` is its discovery
     * payload. A role that is not in the live graph joins it. */
    void (*participant_added)(void *ud, const char *role, const json_t *definition);
    /* Two participants share a queue (outport of src, inport of tgt): the
     * broker already connects them, so the edge joins the live graph. */
    void (*edge_found)(void *ud, const char *src_role, const char *src_port, const char *tgt_role,
                       const char *tgt_port);
    /* A participant was not seen for the configured number of discovery
     * periods and is forgotten. */
    void (*participant_expired)(void *ud, const char *role, const char *message);
    /* A process of the live graph failed: did not start, exited, crashed.
     * `message` says which and why. */
    void (*process_error)(void *ud, const char *role, const char *message);
    /* Something failed that concerns no single role (a binding the broker
     * refused, the broker connection lost or back). */
    void (*error)(void *ud, const char *message);
    /* Any component may have changed (the component library changed). */
    void (*components_changed)(void *ud);
    /* Component `name` (as components() names it) is new, changed, or no
     * longer listed (ops->component then gives NULL). Reported once per loop
     * turn for all the discovery messages of the turn. */
    void (*component_changed)(void *ud, const char *name);
    /* An edge's binding was made on the broker (`error` NULL; on MQTT the
     * forwarding subscription may still await the broker's acknowledgement,
     * which `settled` waits for), or refused (`error`: why, as the broker
     * said it; each refusal is also reported through `error`). The queues
     * are those bound: announced, or role.PORT. Once per binding made; again
     * when it is made anew (other queues announced, a refused one retried). */
    void (*edge_bound)(void *ud, const char *src_role, const char *src_port, const char *tgt_role,
                       const char *tgt_port, const char *src_queue, const char *tgt_queue,
                       const char *error);
    /* The system stopped being busy (busy() turned false while connected):
     * every node of the graph started and discovered, every edge bound or
     * refused, every subscription acknowledged, every IIP delivered, every
     * packet sent, or what was missing waited the wait timeout. Once per
     * busy period (the first time also when there was nothing to do). */
    void (*settled)(void *ud);
};

/* A system: its operations, its own pointer, and where it reports. */
struct system {
    const struct system_ops *ops;
    void *self;
    struct system_events events;
    void *ud;
};

#endif
