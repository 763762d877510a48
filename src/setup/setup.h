/* msgflo-setup's work: participants, bindings and IIPs of a graph on a broker.
 *
 * Order (fixing the original's issue #94): connect; subscribe to discovery
 * when anything will wait for it (--discover, or IIPs to deliver); start the
 * participants and wait for their ready lines; compute the bindings (from the
 * graph's naming convention, or from the announced queues with --discover,
 * waiting up to the timeout and naming every role that never appeared); make
 * them real (binder.h); deliver IIPs to their targets' inport queues once
 * the targets are discovered. Then exit, or with `forever` keep forwarding
 * (MQTT), restarting crashed participants and re-binding after reconnects
 * until SIGINT/SIGTERM.
 *
 * Without a broker URL, a private mosquitto is started (embedded_broker.h),
 * given to the participants and stopped at the end.
 */
#ifndef MSGFLO_SETUP_SETUP_H
#define MSGFLO_SETUP_SETUP_H

#include <stdbool.h>
#include <stddef.h>

enum setup_output {
    SETUP_STDOUT, /* the tool's normal output */
    SETUP_STDERR, /* errors and notices */
};

struct setup_options {
    const char *graph_path;
    const char *broker; /* NULL: start the embedded broker */
    bool participants;
    bool discover;
    bool forever;
    const char *const *only;   /* NULL-terminated role list, or NULL for all */
    const char *const *ignore; /* NULL-terminated, or NULL */
    const char *library;       /* library config; NULL: package.json if present */
    const char *componentdir;  /* NULL: "participants" */
    unsigned forward;          /* enum supervisor_forward bits */
    const char *shell;         /* NULL or "": split commands on spaces */
    unsigned timeout_ms;       /* discovery wait */
    /* With `forever`: serve GET /metrics (Prometheus text, as the runtime's
     * docs/msgflo.md#metrics: the process, the graph's nodes by state, its
     * edges bound or not, the coordinator's counters) on metrics_listen
     * (NULL: 127.0.0.1) port metrics_port (0: a free one; the address is
     * printed). */
    bool metrics;
    int metrics_port;
    const char *metrics_listen;
    /* Every line the tool prints goes here (without the newline). */
    void (*print)(enum setup_output where, const char *line, void *userdata);
    void *userdata;
};

/* Runs the whole set-up on a private loop; returns the exit status. */
int setup__run(const struct setup_options *options);

#endif
