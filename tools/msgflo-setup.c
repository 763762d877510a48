/* msgflo-setup: bindings, participants and IIPs of a graph. */
#include "coord/cli.h"
#include "coord/setup.h"
#include "coord/supervisor.h"
#include "msgflo/msgflo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int usage_error(const char *before, const char *arg, const char *after)
{
    fprintf(stderr, "msgflo-setup: %s%s%s\n", before, arg, after);
    fputs(usage, stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct setup_options o = {.timeout_ms = 30000, .print = print_line};
    struct cli_list only = {0}, ignore = {0};
    bool only_given = false;
    const char *forward = NULL;
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            status = 0;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o.graph_path) {
                status = usage_error("more than one graph given: ", a, "");
                goto out;
            }
            o.graph_path = a;
            continue;
        }
        char name[64];
        const char *value = cli__split(a, name, sizeof name);
        bool *flag = strcmp(name, "--participants") == 0 ? &o.participants
                     : strcmp(name, "--discover") == 0   ? &o.discover
                     : strcmp(name, "--forever") == 0    ? &o.forever
                                                         : NULL;
        if (flag) {
            if (cli__flag(argc, argv, &i, value, flag) != 0) {
                status = usage_error("", name, " takes true or false");
                goto out;
            }
            continue;
        }
        bool optional = strcmp(name, "--forward") == 0 || strcmp(name, "--shell") == 0;
        if (!value && i + 1 < argc && (!optional || strncmp(argv[i + 1], "--", 2) != 0) &&
            !(optional && strchr(argv[i + 1], '.')))
            value = argv[++i];
        if (strcmp(name, "--forward") == 0) {
            forward = value ? value : "stderr,stdout";
        } else if (strcmp(name, "--shell") == 0) {
            o.shell = value && *value ? value : "sh";
        } else if (!value) {
            status = usage_error("", name, " needs a value");
            goto out;
        } else if (strcmp(name, "--broker") == 0) {
            o.broker = value;
        } else if (strcmp(name, "--only") == 0) {
            only_given = *value != '\0';
            if (cli__list_add_csv(&only, value) != 0) {
                status = usage_error("too many roles in ", name, "");
                goto out;
            }
        } else if (strcmp(name, "--ignore") == 0) {
            if (cli__list_add_csv(&ignore, value) != 0) {
                status = usage_error("too many roles in ", name, "");
                goto out;
            }
        } else if (strcmp(name, "--library") == 0) {
            o.library = value;
        } else if (strcmp(name, "--componentdir") == 0) {
            o.componentdir = *value ? value : NULL;
        } else if (strcmp(name, "--timeout") == 0) {
            char *end;
            double secs = strtod(value, &end);
            if (*end || !(secs > 0) || secs > 86400) {
                status = usage_error("--timeout: '", value, "' is not a number of seconds");
                goto out;
            }
            o.timeout_ms = (unsigned)(secs * 1000);
        } else {
            status = usage_error("unknown option ", name, "");
            goto out;
        }
    }
    if (!o.graph_path) {
        fputs("ERROR: No graph file specified\n", stderr);
        fputs(usage, stderr);
        goto out;
    }
    if (forward && supervisor__parse_forward(forward, &o.forward) != 0) {
        status = usage_error("--forward takes stdout and/or stderr, not '", forward, "'");
        goto out;
    }
    o.only = only_given ? only.items : NULL;
    o.ignore = ignore.items;
    o.broker = msgflo_url_resolve(o.broker);
    status = setup__run(&o);
out:
    cli__list_cleanup(&only);
    cli__list_cleanup(&ignore);
    return status;
}
