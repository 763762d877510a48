/* msgflo-setup's command line; see setup.h. */
#include "tools/common/setup_args.h"

#include "process/supervisor.h"
#include "msgflo/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(char *msg, size_t len, const char *fmt, ...)
{
    int n = snprintf(msg, len, "msgflo-setup: ");
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < len)
        vsnprintf(msg + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return SETUP_ARGS_USAGE;
}

enum {
    OPT_BROKER = 1,
    OPT_PARTICIPANTS,
    OPT_ONLY,
    OPT_IGNORE,
    OPT_LIBRARY,
    OPT_COMPONENTDIR,
    OPT_FORWARD,
    OPT_DISCOVER,
    OPT_TIMEOUT,
    OPT_FOREVER,
    OPT_SHELL,
    OPT_METRICS_PORT,
    OPT_METRICS_LISTEN,
};

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL,\n"
     "else a private mosquitto started for this run)"},
    {OPT_PARTICIPANTS, "participants", CLI_BOOL, NULL,
     "also start the participants from the component library"},
    {OPT_ONLY, "only", CLI_VALUE, "a,b,c", "only start these roles"},
    {OPT_IGNORE, "ignore", CLI_VALUE, "a,b,c", "do not start these roles (repeatable)"},
    {OPT_LIBRARY, "library", CLI_VALUE, "FILE.json",
     "component library (default: package.json if present)"},
    {OPT_COMPONENTDIR, "componentdir", CLI_VALUE, "DIR", "component files (default: participants)"},
    {OPT_FORWARD, "forward", CLI_OPTIONAL, "[stderr,stdout]",
     "copy the participants' output, prefixed by role"},
    {OPT_DISCOVER, "discover", CLI_BOOL, NULL,
     "take queue names from the participants' discovery\n"
     "messages instead of the <role>.<PORT> convention"},
    {OPT_TIMEOUT, "timeout", CLI_VALUE, "SECONDS", "how long to wait for discovery (default 30)"},
    {OPT_FOREVER, "forever", CLI_BOOL, NULL,
     "keep running: forward messages (MQTT), restart crashed\n"
     "participants, until SIGINT/SIGTERM. Needed on MQTT."},
    {OPT_SHELL, "shell", CLI_OPTIONAL, "[SHELL]",
     "run participant commands as SHELL -c \"command\" (sh)"},
    {OPT_METRICS_PORT, "metrics-port", CLI_VALUE, "PORT",
     "with --forever: serve Prometheus metrics on GET /metrics\n"
     "at this port (0: a free one, printed)"},
    {OPT_METRICS_LISTEN, "metrics-listen", CLI_VALUE, "ADDRESS",
     "address of --metrics-port (default 127.0.0.1)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-setup",
    .usage = "Usage: msgflo-setup [options] GRAPH.fbp|GRAPH.json\n"
             "Sets up the queue bindings of a graph on the broker, optionally starts its\n"
             "participants, delivers its IIPs, then exits (or keeps running with --forever).\n",
    .options = options,
    .epilog = "BOOL is true/false, yes/no, on/off or 1/0; a flag alone means true.\n",
    .file_arguments = true, /* --forward GRAPH.fbp: the graph, not what to forward */
};

const struct cli_spec *setup__args_spec(void)
{
    return &spec;
}

/* One option of the table. */
static int option(const struct cli *c, struct setup_args *a, const char **forward, char *msg,
                  size_t len)
{
    struct setup_options *o = &a->options;
    const char *value = c->value;
    switch (c->opt->id) {
    case OPT_PARTICIPANTS:
        o->participants = c->flag;
        break;
    case OPT_DISCOVER:
        o->discover = c->flag;
        break;
    case OPT_FOREVER:
        o->forever = c->flag;
        break;
    case OPT_FORWARD:
        *forward = value ? value : "stderr,stdout";
        break;
    case OPT_SHELL:
        o->shell = value && *value ? value : "sh";
        break;
    case OPT_BROKER:
        o->broker = value;
        break;
    case OPT_ONLY:
    case OPT_IGNORE:
        if (c->opt->id == OPT_ONLY)
            o->only = *value ? a->only.items : NULL;
        if (cli__list_add_csv(c->opt->id == OPT_ONLY ? &a->only : &a->ignore, value) != 0)
            return usage_error(msg, len, "too many roles in --%s", c->opt->name);
        break;
    case OPT_LIBRARY:
        o->library = value;
        break;
    case OPT_COMPONENTDIR:
        o->componentdir = *value ? value : NULL;
        break;
    case OPT_METRICS_PORT: {
        char *end;
        long port = strtol(value, &end, 10);
        if (!*value || *end || port < 0 || port > 65535)
            return usage_error(msg, len, "--metrics-port: '%s' is not a port (0-65535)", value);
        o->metrics = true;
        o->metrics_port = (int)port;
        break;
    }
    case OPT_METRICS_LISTEN:
        o->metrics_listen = value;
        break;
    case OPT_TIMEOUT: {
        char *end;
        double secs = strtod(value, &end);
        if (*end || !(secs > 0) || secs > 86400)
            return usage_error(msg, len, "--timeout: '%s' is not a number of seconds", value);
        o->timeout_ms = (unsigned)(secs * 1000);
        break;
    }
    }
    return SETUP_ARGS_RUN;
}

int setup__parse_args(int argc, char **argv, struct setup_args *a, char *msg, size_t len)
{
    memset(a, 0, sizeof *a);
    struct setup_options *o = &a->options;
    o->timeout_ms = 30000;
    const char *forward = NULL;
    msg[0] = '\0';
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it == CLI_HELP || it == CLI_VERSION)
            return it == CLI_HELP ? SETUP_ARGS_HELP : SETUP_ARGS_VERSION;
        if (it == CLI_ERROR)
            return usage_error(msg, len, "%s", c.error);
        if (it == CLI_ARGUMENT && o->graph_path)
            return usage_error(msg, len, "more than one graph given: %s", c.value);
        if (it == CLI_ARGUMENT) {
            o->graph_path = c.value;
            continue;
        }
        int rc = option(&c, a, &forward, msg, len);
        if (rc != SETUP_ARGS_RUN)
            return rc;
    }
    if (!o->graph_path) {
        snprintf(msg, len, "ERROR: No graph file specified");
        return SETUP_ARGS_USAGE;
    }
    if (o->metrics && !o->forever)
        return usage_error(msg, len,
                           "--metrics-port needs --forever (without it msgflo-setup "
                           "exits once the graph is set up)");
    if (forward && supervisor__parse_forward(forward, &o->forward) != 0)
        return usage_error(msg, len, "--forward takes stdout and/or stderr, not '%s'", forward);
    o->ignore = a->ignore.items;
    o->broker = msgflo_url_resolve(o->broker);
    char why[512];
    if (cli__check_broker(o->broker && *o->broker ? o->broker : NULL, why, sizeof why) != 0)
        return usage_error(msg, len, "%s", why);
    return SETUP_ARGS_RUN;
}

void setup__args_cleanup(struct setup_args *a)
{
    cli__list_cleanup(&a->only);
    cli__list_cleanup(&a->ignore);
}
