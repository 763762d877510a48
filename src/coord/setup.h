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
#ifndef MSGFLO_COORD_SETUP_H
#define MSGFLO_COORD_SETUP_H

#include "coord/cli.h"

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
    /* Every line the tool prints goes here (without the newline). */
    void (*print)(enum setup_output where, const char *line, void *userdata);
    void *userdata;
};

/* Runs the whole set-up on a private loop; returns the exit status. */
int setup__run(const struct setup_options *options);

/* msgflo-setup's command line (docs/msgflo-setup.md), parsed into options
 * whose strings point into argv and into this struct (which must outlive
 * them). Zeroed by setup__parse_args; release with setup__args_cleanup. */
struct setup_args {
    struct setup_options options; /* print and userdata left NULL */
    struct cli_list only, ignore;
};

enum setup_args_result {
    SETUP_ARGS_RUN,   /* run with a->options */
    SETUP_ARGS_HELP,  /* -h or --help: print the usage, exit 0 */
    SETUP_ARGS_USAGE, /* msg holds the line to print before the usage; exit 2 */
};

/* Parses argv (booleans as cli__flag, --only/--ignore as lists, --forward,
 * --timeout in seconds; the broker resolved through msgflo_url_resolve).
 * Returns an enum setup_args_result; msg (len bytes) gets the reason of a
 * usage error ("ERROR: No graph file specified" without a graph). */
int setup__parse_args(int argc, char **argv, struct setup_args *a, char *msg, size_t len);
void setup__args_cleanup(struct setup_args *a);

#endif
