/* msgflo-setup's command line (docs/msgflo-setup.md) -> setup_options. */
#ifndef MSGFLO_TOOLS_COMMON_SETUP_ARGS_H
#define MSGFLO_TOOLS_COMMON_SETUP_ARGS_H

#include "setup/setup.h"
#include "tools/common/cli.h"

#include <stddef.h>

/* msgflo-setup's command line (docs/msgflo-setup.md), parsed into options
 * whose strings point into argv and into this struct (which must outlive
 * them). Zeroed by setup__parse_args; release with setup__args_cleanup. */
struct setup_args {
    struct setup_options options; /* print and userdata left NULL */
    struct cli_list only, ignore;
};

enum setup_args_result {
    SETUP_ARGS_RUN,     /* run with a->options */
    SETUP_ARGS_HELP,    /* -h or --help: print the help, exit 0 */
    SETUP_ARGS_VERSION, /* --version: print the version, exit 0 */
    SETUP_ARGS_USAGE,   /* msg holds the line to print before the usage; exit 2 */
};

/* The option table, for cli__help and cli__version. */
const struct cli_spec *setup__args_spec(void);

/* Parses argv (booleans as CLI_BOOL, --only/--ignore as lists, --forward,
 * --timeout in seconds; the broker resolved through msgflo_url_resolve).
 * Returns an enum setup_args_result; msg (len bytes) gets the reason of a
 * usage error ("ERROR: No graph file specified" without a graph). */
int setup__parse_args(int argc, char **argv, struct setup_args *a, char *msg, size_t len);
void setup__args_cleanup(struct setup_args *a);

#endif
