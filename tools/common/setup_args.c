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

/* One "--name[=value]" option at argv[*i] (value: the text after '=' or NULL). */
static int option(int argc, char **argv, int *i, struct setup_args *a, const char **forward,
                  char *msg, size_t len)
{
    struct setup_options *o = &a->options;
    char name[64];
    const char *value = cli__split(argv[*i], name, sizeof name);
    bool *flag = strcmp(name, "--participants") == 0 ? &o->participants
                 : strcmp(name, "--discover") == 0   ? &o->discover
                 : strcmp(name, "--forever") == 0    ? &o->forever
                                                     : NULL;
    if (flag)
        return cli__flag(argc, argv, i, value, flag) == 0
                   ? SETUP_ARGS_RUN
                   : usage_error(msg, len, "%s takes true or false", name);
    bool optional = strcmp(name, "--forward") == 0 || strcmp(name, "--shell") == 0;
    if (!value && *i + 1 < argc && (!optional || strncmp(argv[*i + 1], "--", 2) != 0) &&
        !(optional && strchr(argv[*i + 1], '.')))
        value = argv[++*i];
    if (strcmp(name, "--forward") == 0) {
        *forward = value ? value : "stderr,stdout";
    } else if (strcmp(name, "--shell") == 0) {
        o->shell = value && *value ? value : "sh";
    } else if (!value) {
        return usage_error(msg, len, "%s needs a value", name);
    } else if (strcmp(name, "--broker") == 0) {
        o->broker = value;
    } else if (strcmp(name, "--only") == 0 || strcmp(name, "--ignore") == 0) {
        bool only = strcmp(name, "--only") == 0;
        if (only)
            o->only = *value ? a->only.items : NULL;
        if (cli__list_add_csv(only ? &a->only : &a->ignore, value) != 0)
            return usage_error(msg, len, "too many roles in %s", name);
    } else if (strcmp(name, "--library") == 0) {
        o->library = value;
    } else if (strcmp(name, "--componentdir") == 0) {
        o->componentdir = *value ? value : NULL;
    } else if (strcmp(name, "--timeout") == 0) {
        char *end;
        double secs = strtod(value, &end);
        if (*end || !(secs > 0) || secs > 86400)
            return usage_error(msg, len, "--timeout: '%s' is not a number of seconds", value);
        o->timeout_ms = (unsigned)(secs * 1000);
    } else {
        return usage_error(msg, len, "unknown option %s", name);
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
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return SETUP_ARGS_HELP;
        if (strncmp(arg, "--", 2) != 0) {
            if (o->graph_path)
                return usage_error(msg, len, "more than one graph given: %s", arg);
            o->graph_path = arg;
            continue;
        }
        int rc = option(argc, argv, &i, a, &forward, msg, len);
        if (rc != SETUP_ARGS_RUN)
            return rc;
    }
    if (!o->graph_path) {
        snprintf(msg, len, "ERROR: No graph file specified");
        return SETUP_ARGS_USAGE;
    }
    if (forward && supervisor__parse_forward(forward, &o->forward) != 0)
        return usage_error(msg, len, "--forward takes stdout and/or stderr, not '%s'", forward);
    o->ignore = a->ignore.items;
    o->broker = msgflo_url_resolve(o->broker);
    return SETUP_ARGS_RUN;
}

void setup__args_cleanup(struct setup_args *a)
{
    cli__list_cleanup(&a->only);
    cli__list_cleanup(&a->ignore);
}
