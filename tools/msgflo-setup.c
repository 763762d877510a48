/* msgflo-setup: bindings, participants and IIPs of a graph. */
#include "tools/common/setup_args.h"

#include <stdio.h>

static const char usage[] =
    "Usage: msgflo-setup [options] GRAPH.fbp|GRAPH.json\n"
    "Sets up the queue bindings of a graph on the broker, optionally starts its\n"
    "participants, delivers its IIPs, then exits (or keeps running with --forever).\n"
    "\n"
    "  --broker URL             broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL,\n"
    "                           else a private mosquitto started for this run)\n"
    "  --participants [BOOL]    also start the participants from the component library\n"
    "  --only a,b,c             only start these roles\n"
    "  --ignore a,b,c           do not start these roles (repeatable)\n"
    "  --library FILE.json      component library (default: package.json if present)\n"
    "  --componentdir DIR       component files (default: participants)\n"
    "  --forward [stderr,stdout] copy the participants' output, prefixed by role\n"
    "  --discover [BOOL]        take queue names from the participants' discovery\n"
    "                           messages instead of the <role>.<PORT> convention\n"
    "  --timeout SECONDS        how long to wait for discovery (default 30)\n"
    "  --forever [BOOL]         keep running: forward messages (MQTT), restart crashed\n"
    "                           participants, until SIGINT/SIGTERM. Needed on MQTT.\n"
    "  --shell [SHELL]          run participant commands as SHELL -c \"command\" (sh)\n"
    "  -h, --help               this text\n"
    "\n"
    "BOOL is true/false, yes/no, on/off or 1/0; a flag alone means true.\n";

static void print_line(enum setup_output where, const char *line, void *ud)
{
    (void)ud;
    FILE *f = where == SETUP_STDOUT ? stdout : stderr;
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

int main(int argc, char **argv)
{
    struct setup_args args;
    char msg[512];
    int status = 2;
    switch (setup__parse_args(argc, argv, &args, msg, sizeof msg)) {
    case SETUP_ARGS_HELP:
        fputs(usage, stdout);
        status = 0;
        break;
    case SETUP_ARGS_USAGE:
        fprintf(stderr, "%s\n", msg);
        fputs(usage, stderr);
        break;
    default:
        args.options.print = print_line;
        status = setup__run(&args.options);
    }
    setup__args_cleanup(&args);
    return status;
}
