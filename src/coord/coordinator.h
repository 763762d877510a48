/* The coordinator of the msgflo runtime: makes the live graph real on a
 * broker by implementing struct system (coord/system.h). It discovers
 * participants (coord/registry.h), starts and stops their processes from the
 * component library (supervisor), binds and unbinds queues (binder), delivers
 * IIPs and packets, and reports the data on watched ports. Runs on the
 * caller's libuv loop; no threads. See docs/coordinator.md.
 *
 *     struct coordinator *c;
 *     coordinator__new(loop, &options, &c, err, sizeof err);
 *     struct system *sys = coordinator__system(c);
 *     sys->events = my_events;  // read at each report, so set them any time
 *     sys->ud = my_state;
 *     ... uv_run ...
 *     coordinator__close(c, on_closed, ud);  // then run the loop until on_closed
 */
#ifndef MSGFLO_COORD_COORDINATOR_H
#define MSGFLO_COORD_COORDINATOR_H

#include "binding/bindings.h"
#include "library/library.h"
#include "process/supervisor.h"
#include "coord/system.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct coordinator;

/* Options; every string is copied by coordinator__new. Zeroed fields take
 * the defaults. */
struct coordinator_options {
    /* The broker URL; NULL or "": start the embedded broker (embedded_broker.h). */
    const char *broker;
    /* The component library, borrowed (must outlive the coordinator); NULL:
     * loaded by library__load(library_path, componentdir). */
    struct library *library;
    const char *library_path;
    const char *componentdir;
    /* Roles never started (--ignore), NULL-terminated; NULL: none. */
    const char *const *ignore;
    /* Child output (supervisor_options.forward/on_output) and --shell. */
    unsigned forward;
    supervisor_output_fn on_output;
    void *output_userdata;
    const char *shell;
    /* Restart a participant process that exits (supervisor `forever`). */
    bool restart;
    /* How long a role of the live graph may take to be discovered before
     * busy() stops waiting for it (and, for a process the coordinator
     * started, system_events.process_error says so); ms, default 45000
     * (--wait-timeout). */
    unsigned start_timeout_ms;
    /* The participants' discovery period, ms; 0: $MSGFLO_DISCOVERY_PERIOD
     * (seconds) as participants read it, else 60 s. */
    unsigned discovery_period_ms;
    /* Participants not seen for this many discovery periods expire; when
     * expire_periods_set is false: the default 3. 0: never (as the original). */
    unsigned expire_periods;
    bool expire_periods_set;
    /* Names the broker client ("msgflo-coordinator-<id>"); NULL: random. */
    const char *runtime_id;
    /* Whether set_component_source may write component files (into the
     * component directory only); false: it is refused (--allow-component-write). */
    bool allow_component_write;
    /* runtime_id was chosen by the user (--runtime-id, MSGFLO_RUNTIME_ID):
     * stable across runs, so an MQTT session may be kept (clean=false) and
     * orphans of an earlier run found. Otherwise the session is clean. */
    bool runtime_id_stable;
    /* An MQTT session that ends with the connection (clean=true) even with a
     * stable runtime id: for a run that exits once set up, whose kept
     * session would collect the discovery messages for nobody. */
    bool clean_session;
    /* Limits on what discovery messages from the broker may make the
     * coordinator keep (docs/coordinator.md, "Limits"); 0: the default.
     * A discovery message longer than max_discovery_bytes (default
     * COORDINATOR_MAX_DISCOVERY_BYTES) is dropped before it is parsed; a new
     * participant past max_participants (default COORDINATOR_MAX_PARTICIPANTS)
     * or a new component name past max_components (default
     * COORDINATOR_MAX_COMPONENTS) is refused. Each with a warning, at most
     * one line every 10 s per kind (with the count of those not logged). */
    size_t max_discovery_bytes, max_participants, max_components;
    /* The broker client's name is "<client_prefix>-<id>"; NULL:
     * "msgflo-coordinator". */
    const char *client_prefix;
    /* Bind each edge at once, without waiting for its roles to be
     * discovered: to the queues its roles announced when they are known,
     * else role.PORT (msgflo-setup without --discover). false: once both
     * roles are discovered (the runtime). */
    bool bind_by_convention;
    /* Do not watch the source ports of edges (nobody looks at their data:
     * msgflo-setup); false: every edge's source port is watched (the runtime). */
    bool edges_unwatched;
    /* Every add_initial is an IIP of its own, sent in the order added
     * (msgflo-setup: all IIPs of a graph file, as the original sends them);
     * remove_initial removes the port's first. false: one IIP per port, a
     * new one replacing it (the live graph's). */
    bool every_iip;
    /* AMQP: bind an edge whose queue and exchange exist without declaring
     * them (one bind per edge, as the original's setup), declaring only
     * what is missing; false: both ends declared first, so a queue declared
     * before with other arguments is refused (binder.h). */
    bool trust_existing;
};

#define COORDINATOR_MAX_DISCOVERY_BYTES 65536
#define COORDINATOR_MAX_PARTICIPANTS    200000
#define COORDINATOR_MAX_COMPONENTS      50000

/* Creates a coordinator on `loop` (borrowed, must outlive it) and starts
 * connecting (after starting the embedded broker when no URL is given).
 * *out is owned: close it with coordinator__close. Returns 0, or
 * MSGFLO_EURL (bad broker URL), MSGFLO_ESYS / MSGFLO_EJSON / MSGFLO_EINVAL
 * (the library cannot be loaded), MSGFLO_ENOMEM, with a one-line reason in
 * err (errlen bytes); then *out is untouched and what was created closes on
 * the loop (run it before uv_loop_close). Later failures (broker not
 * reachable, embedded broker failing) are reported through
 * system_events.error. */
int coordinator__new(uv_loop_t *loop, const struct coordinator_options *options,
                     struct coordinator **out, char *err, size_t errlen);

/* The system the protocol layer drives: owned by the coordinator, valid until
 * coordinator__close's done. Set its events and ud. */
struct system *coordinator__system(struct coordinator *c);

/* The broker URL in use (the embedded broker's once it listens), or NULL.
 * Valid until close. */
const char *coordinator__broker_url(const struct coordinator *c);

/* Whether the coordinator is connected to the broker now. */
bool coordinator__connected(const struct coordinator *c);

/* The registry of discovered participants (read-only use). */
const struct registry *coordinator__registry(const struct coordinator *c);

/* Adds a binding by queue names (borrowed, copied), made on the broker by
 * the pump with the edges' bindings, made again after a reconnect, never
 * removed: msgflo-setup's roundrobin bindings of msgflo/RoundRobin nodes
 * (bindings.h). busy() waits for it; a refusal is reported through
 * system_events.error (and edge_bound with NULL roles). Returns 0 or
 * MSGFLO_ENOMEM. */
int coordinator__add_binding(struct coordinator *c, const struct binding *b);

/* Whether the process started for `role` failed to start (could not be
 * run, exited before its ready line, or did not print one in time); a
 * process that exited after it started is not counted. */
bool coordinator__start_failed(const struct coordinator *c, const char *role);

/* Whether the bindings made exist only while this process runs (MQTT
 * forwarding; binder__needs_process). */
bool coordinator__bindings_need_process(const struct coordinator *c);

/* Whether an edge bound now would need this process to forward it: MQTT,
 * and no router on the broker (known once the coordinator first settled
 * after connecting). */
bool coordinator__forwards(const struct coordinator *c);

/* Calls done(ud) from the loop once everything sent so far is safe with the
 * broker (transport_when_flushed). Returns 0, or MSGFLO_ESTATE when not
 * connected. */
int coordinator__when_flushed(struct coordinator *c, void (*done)(void *ud), void *ud);

/* Stops the processes it started (SIGTERM, then SIGKILL after the grace
 * period), closes the broker connection, stops the embedded broker, frees
 * the coordinator and then calls done(ud) from the loop (never from within
 * this call; done may be NULL). No report is made after this call. */
void coordinator__close(struct coordinator *c, void (*done)(void *ud), void *ud);

#endif
