/* The coordinator's state, shared by its files:
 *   coordinator.c             life cycle, broker connection, discovery, reports
 *   coordinator_graph.c       nodes (processes), IIPs, packets: the pump
 *   coordinator_edges.c       edges (bindings), automatic edges found
 *   coordinator_watches.c     watched ports and queues, their data
 *   coordinator_ops.c         the system ops
 *   coordinator_components.c  components, their sources
 *   coordinator_roles.c       the per-role index (what the graph holds about a role)
 * Every system op changes this state and schedules coordinator__pump on the
 * next loop turn, which does the work and the reports (ops never report).
 *
 * Records sit in several lists and indexes at once; the invariants that
 * keep them consistent are written beside each struct ("Invariants:") and
 * asserted after every op, pump and tick by coordinator__check (debug
 * builds, coordinator_check.c). */
#ifndef MSGFLO_COORD_COORDINATOR_INTERNAL_H
#define MSGFLO_COORD_COORDINATOR_INTERNAL_H

#include "binding/binder.h"
#include "coord/coordinator.h"
#include "process/embedded_broker.h"
#include "coord/registry.h"
#include "transport/transport.h"

#include <stdarg.h>
#include <stdint.h>
#include <uthash.h>
#include <utlist.h>

#define COORD_NS "msgflo:coordinator"

enum node_proc {
    PROC_NONE,     /* no process (none wanted, or not started yet) */
    PROC_STARTING, /* supervisor__start called, no ready line yet */
    PROC_RUNNING,
    PROC_STOPPING, /* supervisor__stop called, waiting for it to end */
    PROC_FAILED,   /* did not start or exited; not retried until added again */
};

struct coord_role;

/* Invariants: in c->nodes, and its role's entry points to it (one node per
 * role, kept while its process stops after removal: in_graph false);
 * `pending` iff in c->pending_nodes. */
struct node {
    struct node *prev, *next;   /* c->nodes (utlist DL) */
    struct node *pprev, *pnext; /* c->pending_nodes while `pending` */
    bool pending;
    struct coordinator *c;
    char *role;
    char *component;
    bool in_graph;     /* false: removed, kept until its process is gone */
    bool start;        /* a process is to be started for it */
    bool wait_noticed; /* the wait timeout was reported */
    bool start_failed; /* the process did not start (not: exited after it started) */
    bool takes_iips;   /* its command passes #IIPS: the process has its IIPs, none are sent */
    enum node_proc proc;
    uint64_t since; /* when added (ms, loop time) */
    /* for system_ops.role_status */
    bool restarting; /* exited, to be started again after a backoff */
    bool seen;       /* its role was discovered once */
    bool expired;    /* then forgotten by expiry, not seen since */
    int pid;         /* of the process while it runs */
    unsigned restarts;
};

/* A watched port: data on role's outport `port` is reported.
 * Invariants: in c->port_watches by key and in r->watches (r: its role's
 * entry); refs > 0 (freed at 0); `dirty` iff in c->dirty_watches; qw and
 * queue both NULL (unresolved) or both set, queue being qw's and the watch
 * in qw->ports. */
struct port_watch {
    struct port_watch *rprev, *rnext; /* the role's watches */
    struct port_watch *qprev, *qnext; /* the queue watch's ports, while resolved */
    struct port_watch *dprev, *dnext; /* c->dirty_watches while `dirty` */
    bool dirty;
    struct coord_role *r;
    char *key;               /* role \x1f port: c->port_watches */
    const char *role, *port; /* key and names: in text */
    const char *queue;       /* qw's, once the role is discovered; NULL before */
    struct queue_watch *qw;
    unsigned refs;
    UT_hash_handle hh;
    char text[];
};

/* A watched queue on the transport, counted over the port watches resolved to it.
 * Invariants: in c->queue_watches by queue; refs == the length of `ports`,
 * each of which points back to it; `dirty` iff in c->dirty_queues, and an
 * unused one (refs 0) is dirty until the pump ends it. */
struct queue_watch {
    struct queue_watch *dprev, *dnext; /* c->dirty_queues while `dirty` */
    bool dirty;
    char *queue; /* c->queue_watches, in text */
    struct port_watch *ports;
    unsigned refs;
    bool active;                 /* transport_watch done on this connection */
    uint64_t gen;                /* subscription generation of the watch */
    unsigned long long messages; /* seen on the queue (counted, never parsed for it) */
    unsigned char *last;         /* the last message's bytes (system_ops.latest), owned */
    size_t last_len, last_cap;   /* last_cap 0: none kept */
    bool has_last;
    UT_hash_handle hh;
    char text[];
};

/* Invariants: in c->edges by key, in src->out_edges and tgt->in_edges (src
 * and tgt: the entries of src_role and tgt_role); `dirty` iff in
 * c->dirty_edges, `pending` iff in c->pending_edges; src_q and tgt_q both
 * NULL or both set, and when set the edge is counted in the `bound` record
 * of the pair (unless coordinator_edges__uncounted); unless edges_unwatched,
 * its source port is watched. */
struct edge {
    struct edge *sprev, *snext; /* the source role's edges */
    struct edge *tprev, *tnext; /* the target role's edges */
    struct edge *dprev, *dnext; /* c->dirty_edges while `dirty`: to (re)bind */
    struct edge *pprev, *pnext; /* c->pending_edges while `pending`: not bound yet */
    bool dirty, pending;
    struct coord_role *src, *tgt;
    char *key; /* src_role \x1f src_port \x1f tgt_role \x1f tgt_port: c->edges */
    const char *src_role, *src_port, *tgt_role, *tgt_port; /* key and names: in text */
    char *src_q, *tgt_q; /* the binding made, NULL when not bound */
    bool failed;         /* the broker refused it (reported once) */
    uint64_t since;
    uint64_t gen; /* subscription generation of the binding (MQTT: SUBACK awaited) */
    /* The watch of the source port this edge holds a reference to (NULL with
     * edges_unwatched), for edge_status without a lookup. */
    struct port_watch *watch;
    UT_hash_handle hh;
    char text[];
};

/* A binding made by bound edges, counted (an unbind waits until none makes it).
 * Invariants: refs > 0 (freed at 0); the refs of all records sum to the
 * number of bound edges. */
struct bound {
    char *key; /* src_q \x1f tgt_q, in text */
    unsigned refs;
    UT_hash_handle hh;
    char text[];
};

/* An automatic edge reported (once, until one of its roles is forgotten).
 * Invariants: in c->found by key, in src->found_out and tgt->found_in. */
struct found_edge {
    struct found_edge *sprev, *snext, *tprev, *tnext;
    struct coord_role *src, *tgt;
    char *key; /* as edge keys, in text */
    UT_hash_handle hh;
    char text[];
};

/* A binding by queue names (coordinator__add_binding), kept until close. */
struct fixed_binding {
    struct fixed_binding *next;
    struct binding b; /* owned strings */
    bool made, failed;
};

/* A binding to remove on the next pump. */
struct unbind {
    struct unbind *next;
    char *src, *tgt;
};

/* Invariants: in c->iips and in r->iips (r: its role's entry), or in neither. */
struct iip {
    struct iip *prev, *next;   /* c->iips (in order of sending) */
    struct iip *rprev, *rnext; /* the role's IIPs */
    struct coord_role *r;
    char *role, *port;
    json_t *data;
    bool sent; /* to the current instance of the role */
    uint64_t since;
};

struct packet {
    struct packet *next;
    char *role, *port;
    char *text;     /* JSON */
    uint64_t since; /* dropped when role is not discovered within the wait timeout */
};

/* What the live graph holds about one role, so a discovery of the role
 * touches only its own entries (coordinator_roles.c). Exists while any list
 * is non-empty. Invariants: in c->roles by name; after an operation pins is
 * 0 and some list is non-empty (else it was released); every record in its
 * lists points back to it. */
struct coord_role {
    char *name;
    struct node *node;
    struct edge *out_edges, *in_edges;
    struct port_watch *watches;
    struct iip *iips;
    struct found_edge *found_out, *found_in;
    unsigned pins; /* kept while a caller iterates it */
    UT_hash_handle hh;
    char text[]; /* name */
};

/* A component the coordinator knows by name: discovered (a definition), or
 * named by nodes of the live graph. Forgotten once no participant announces
 * it, no node names it and the library has none of that name
 * (coordinator_components.c). Invariants: in c->comps by name; `dirty` iff
 * in c->dirty_comps; picked == the lib_picks pointing to it. */
struct coord_component {
    json_t *def;                           /* discovered definition, or NULL */
    const struct library_component *lc;    /* library__find(name) in c->lib */
    unsigned nodes;                        /* nodes naming it */
    unsigned picked;                       /* library components listed with its definition */
    struct coord_component *dprev, *dnext; /* c->dirty_comps while `dirty` */
    bool dirty;                            /* to look at on the next flush */
    bool changed;                          /* a new definition since the last flush */
    UT_hash_handle hh;
    char name[];
};

/* The record whose definition a library component is listed with. */
struct lib_pick {
    const struct library_component *lc; /* key */
    struct coord_component *k;
    UT_hash_handle hh;
};

/* A warning logged at most once per period, with the count of those not
 * logged since (discovery from outside must not flood the log). */
struct quiet_warning {
    uint64_t last;    /* loop time of the last line; 0: none yet */
    unsigned dropped; /* not logged since */
};

struct coordinator {
    uv_loop_t *loop;
    struct system sys;
    /* options */
    char *broker_arg, *shell, *runtime_id, *library_path;
    bool allow_component_write;
    bool runtime_id_given; /* stable across runs (coordinator_options.runtime_id_stable) */
    bool clean_session;    /* coordinator_options.clean_session */
    char **ignore;
    bool restart;
    bool bind_by_convention, edges_unwatched, every_iip, trust_existing;
    char *client_prefix;
    unsigned forward;
    supervisor_output_fn on_output;
    void *output_userdata;
    uint64_t wait_timeout_ms, period_ms;
    unsigned expiry_periods; /* 0: never */
    size_t max_discovery_bytes;
    struct quiet_warning warn_size, warn_invalid, warn_cap;
    /* parts */
    struct library *lib;
    bool own_lib;
    struct embedded_broker *broker;
    char *url;
    struct transport *t;
    struct binder *binder;
    struct supervisor *sup;
    struct registry *reg;
    struct coord_component *comps;       /* by name */
    struct coord_component *dirty_comps; /* changed or maybe gone: reported on the next pump */
    struct lib_pick *lib_picks;          /* by library component */
    /* the live graph */
    struct coord_role *roles; /* by name */
    struct node *nodes;
    struct edge *edges; /* by key */
    struct bound *bound;
    struct found_edge *found;
    struct iip *iips;
    struct packet *packets;
    struct port_watch *port_watches;   /* by key */
    struct queue_watch *queue_watches; /* by queue; refs 0: to unwatch on the next pump */
    struct unbind *unbinds;
    /* AMQP: the binder's call under way on its thread (coordinator_edges.c),
     * and a restore to make once it is done (a reconnect meanwhile) */
    struct bind_call *bind_call;
    bool restore_pending;
    struct fixed_binding *fixed; /* in order of adding */
    /* what the pump has to look at (so a discovery costs only its role's work) */
    struct edge *dirty_edges, *pending_edges;
    struct node *pending_nodes;
    struct port_watch *dirty_watches;
    struct queue_watch *dirty_queues;
    bool nodes_to_start; /* a node may need its process started */
    bool iips_to_send;   /* an IIP may be sendable */
    bool iips_waiting;   /* an IIP waits for its role (within the wait timeout) */
    bool settled;        /* events.settled reported for the current quiet period */
    uint64_t gen_max;    /* the highest generation given to a binding or watch */
    bool started;
    /* subscriptions (bindings, watches): each gets the next generation; the
     * broker has acknowledged those up to `confirmed` */
    uint64_t sub_gen, sub_requested, sub_confirmed;
    /* The subscription generation that includes the discovery channel of the
     * current connection: processes start only once it is confirmed, so no
     * participant announces before we listen (the original's issue #94). */
    uint64_t discovery_gen;
    bool components_dirty;         /* report components_changed on the next pump */
    struct system_counters counts; /* the counters of system_ops.counters */
    /* roles, edges and port watches made and freed: a system_status_ref
     * filled while it (and registry__role_records) had its value is right */
    unsigned long long status_records;
    /* loop handles */
    uv_timer_t pump_timer, tick_timer;
    uv_timer_t router_timer;    /* MQTT: the router looked for, then its answers awaited */
    int router_said;            /* binder_router + 1 last logged; 0: none */
    unsigned long router_mark;  /* the last router request when the answer timer was armed */
    uint64_t tick_ms, tick_due; /* tick_due: when the tick timer fires (UINT64_MAX: stopped) */
    int open_handles;
    bool connected, lost_reported, closing;
    uint64_t last_expiry;
    void (*close_done)(void *ud);
    void *close_ud;
    int close_pending;
};

/* Asserts the invariants written beside the structs above (debug builds;
 * nothing with NDEBUG). Walks the whole state, so it is skipped above a few
 * thousand roles. Called at the end of every op, pump and tick. */
#ifndef NDEBUG
void coordinator__check(const struct coordinator *c);
#else
#define coordinator__check(c) ((void)(c))
#endif

/* Schedules coordinator__pump on the next loop turn. */
void coordinator__schedule(struct coordinator *c);
/* Does the pending work (processes, bindings, watches, IIPs, packets). */
void coordinator__pump(struct coordinator *c);
/* Arms the tick (expiry, wait timeouts) for the earliest time it has work:
 * every tick_ms while a node or edge waits or a packet is queued, else at the
 * next expiry; stopped when nothing can time out (an idle runtime sleeps). */
void coordinator__arm_tick(struct coordinator *c);

/* Reports (no-ops while closing); strings borrowed for the call. */
void coordinator__report_error(struct coordinator *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void coordinator__report_process_error(struct coordinator *c, const char *role, const char *fmt,
                                       ...) __attribute__((format(printf, 3, 4)));

/* Formats the message into err (when err and errlen) and returns rc. */
int coordinator__failure(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* coordinator_ops.c */
extern const struct system_ops coordinator__ops;

/* coordinator_roles.c. A discovery of role R marks only R's edges and
 * watches for the pump (dirty lists), and the pump drains those: so taking
 * in N participants costs O(N), not O(N x graph). */
struct coord_role *coordinator_roles__find(struct coordinator *c, const char *name);
/* Finds or creates the entry; NULL when out of memory. */
struct coord_role *coordinator_roles__get(struct coordinator *c, const char *name);
/* Frees r when nothing refers to it any more. */
void coordinator_roles__release(struct coordinator *c, struct coord_role *r);
/* Role was discovered or changed its queues: its edges are to be bound again
 * and its watches resolved again by the next pump. */
void coordinator_roles__touch(struct coordinator *c, const char *role);
/* Frees every entry (the lists they point into are freed by their owners). */
void coordinator_roles__clear(struct coordinator *c);

/* coordinator_graph.c: nodes, IIPs, packets, the pump */
bool coordinator_graph__discovered_role(const struct coordinator *c, const char *role);
/* n may be settling now (added, restarted, its role forgotten): settling() looks at it. */
void coordinator_graph__node_pending(struct coordinator *c, struct node *n);
struct node *coordinator_graph__node(struct coordinator *c, const char *role);
void coordinator_graph__node_free(struct coordinator *c, struct node *n);
/* supervisor__stop's done for node `ud` */
void coordinator_graph__process_stopped(struct supervisor *sup, void *ud);
void coordinator_graph__iip_free(struct coordinator *c, struct iip *p);
void coordinator_graph__packet_free(struct packet *p);
void coordinator_graph__connected(struct coordinator *c);
void coordinator_graph__disconnected(struct coordinator *c);
/* A role was (re)discovered: `changes` as registry__update gives them. */
void coordinator_graph__discovered(struct coordinator *c, const char *role, unsigned changes);
bool coordinator_graph__busy(struct coordinator *c);
/* Checks the wait timeout of the nodes. */
void coordinator_graph__tick(struct coordinator *c, uint64_t now);
/* Stops everything started; calls done once the processes are gone. */
void coordinator_graph__free(struct coordinator *c);

/* coordinator_edges.c */
struct edge *coordinator_edges__find(struct coordinator *c, const char *sr, const char *sp,
                                     const char *tr, const char *tp);
/* Creates the edge (not bound yet; pending and dirty). NULL when out of memory. */
struct edge *coordinator_edges__new(struct coordinator *c, const char *sr, const char *sp,
                                    const char *tr, const char *tp);
/* Unbinds (unless another edge makes the same binding), unwatches, frees. */
void coordinator_edges__free(struct coordinator *c, struct edge *e);
/* e is to be (re)bound by the next pump / may be settling (not bound). */
void coordinator_edges__dirty(struct coordinator *c, struct edge *e);
void coordinator_edges__pending(struct coordinator *c, struct edge *e);
/* Whether an edge is still waiting to be bound (prunes the pending list). */
bool coordinator_edges__settling(struct coordinator *c, uint64_t now);
/* Whether a binding added by queue names is still to be made. */
bool coordinator_edges__fixed_settling(const struct coordinator *c);
/* Binds the edges whose roles are discovered (the pump). */
void coordinator_edges__pump(struct coordinator *c);
/* Removes the bindings of removed or moved edges (the pump). */
void coordinator_edges__pump_unbinds(struct coordinator *c);
/* AMQP: re-creates the bindings after a reconnect (restore_pending) on the
 * binder's thread, once no other call is under way (the pump). */
void coordinator_edges__pump_restore(struct coordinator *c);
/* Reports the automatic edges of role not reported and not in the graph. */
void coordinator_edges__find_automatic(struct coordinator *c, const char *role);
/* Whether a binding sq -> tq is one that is not counted in a `bound` record
 * nor unbound: one the binder needs nothing for (binder__needs_nothing). */
bool coordinator_edges__uncounted(const struct coordinator *c, const char *sq, const char *tq);
/* Forgets the automatic edges reported for role, so they are reported again. */
void coordinator_edges__forget_found(struct coordinator *c, const char *role);
/* Frees all edges and pending unbinds without a broker call. */
void coordinator_edges__clear(struct coordinator *c);

/* coordinator_watches.c: counted watches of role's outport. remove:
 * MSGFLO_EINVAL when not watched. */
int coordinator_watches__add(struct coordinator *c, const char *role, const char *port);
/* The watch of role's outport, or NULL. */
struct port_watch *coordinator_watches__find(struct coordinator *c, const char *role,
                                             const char *port);
int coordinator_watches__remove(struct coordinator *c, const char *role, const char *port);
/* w is to be resolved again by the next pump. */
void coordinator_watches__dirty(struct coordinator *c, struct port_watch *w);
/* Resolves watched ports to queues and (un)watches queues (the pump). */
void coordinator_watches__pump(struct coordinator *c);
/* Every queue watch is to be made again (a new connection). */
void coordinator_watches__reset(struct coordinator *c);
/* A message on a watched queue: reports it for each watching port. */
/* system_ops.latest: the last message on role's watched outport `port`,
 * parsed (a new reference), or NULL. */
json_t *coordinator_watches__latest(struct coordinator *c, const char *role, const char *port);
void coordinator_watches__data(struct coordinator *c, const char *queue, const void *data,
                               size_t len);
/* Frees all watches without a broker call. */
void coordinator_watches__clear(struct coordinator *c);

/* coordinator_router.c: the broker's router (MQTT), looked for on every
 * connection: status and result subscribed on connect (before
 * coordinator_graph__connected, so the discovery generation covers them),
 * PRESENT on a status of protocol 1.x, NONE when none came ROUTER_WAIT_MS
 * after the subscription was acknowledged (armed by the pump). */
void coordinator_router__init(struct coordinator *c);
int coordinator_router__connected(struct coordinator *c);
void coordinator_router__disconnected(struct coordinator *c);
void coordinator_router__pump(struct coordinator *c);
/* true when queue is a /msgrouter/default/ topic (handled). */
bool coordinator_router__message(struct coordinator *c, const char *queue, const void *data,
                                 size_t len);

/* coordinator_status.c: system_ops role_status, edge_status, counters */
void coordinator__role_status(void *sys, const char *role, struct system_role_status *out);
void coordinator__edge_status(void *sys, const char *sr, const char *sp, const char *tr,
                              const char *tp, bool *bound, unsigned long long *messages);
void coordinator__counters(void *sys, struct system_counters *out);
void coordinator__role_status_ref(void *sys, const char *role, struct system_status_ref *ref,
                                  struct system_role_status *out);
void coordinator__edge_status_ref(void *sys, const char *sr, const char *sp, const char *tr,
                                  const char *tp, struct system_status_ref *ref, bool *bound,
                                  unsigned long long *messages);

/* coordinator_components.c */
json_t *coordinator__components(void *sys);
json_t *coordinator__component_source(void *sys, const char *name, char *err, size_t errlen);
int coordinator__set_component_source(void *sys, const char *name, const char *language,
                                      const char *code, char *err, size_t errlen);
json_t *coordinator__component(void *sys, const char *name);
/* Stores the component definition of a discovered payload (`changes` as
 * registry__update gave them: a participant re-announcing the same payload is
 * not compared again); true when it is new or changed, and then it is
 * reported on the next pump. */
bool coordinator_components__update(struct coordinator *c, const json_t *payload, unsigned changes);
/* registry_options.component_gone: the component is forgotten on the next
 * pump unless still needed. */
void coordinator_components__gone(const char *component, void *ud);
/* A node of the live graph names / no longer names `component` (delta +1 / -1). */
void coordinator_components__use(struct coordinator *c, const char *component, int delta);
/* Reports each component changed or forgotten since the last flush once
 * (system_events.component_changed): so a burst of discoveries in one loop
 * turn costs one report per component, not a list of all per discovery. */
void coordinator_components__flush(struct coordinator *c);
/* Frees every record. */
void coordinator_components__clear(struct coordinator *c);

#endif
