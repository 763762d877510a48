/* msgflo-register: send discovery messages on behalf of foreign (non-MsgFlo)
 * participants described in YAML, once or forever.
 *
 *   msgflo-register [--broker URL] --role ROLE:FILE.yaml [--role ...]
 *                   [--interval SECONDS] [--forever BOOL]
 *
 * Exit codes: 0 ok (or stopped by SIGINT/SIGTERM), 1 a definition is bad or
 * the broker could not be reached, 2 usage error. */
#include "tools/common/announce.h"
#include "tools/common/cli.h"
#include "foreign/foreign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "msgflo-register"

enum { OPT_BROKER = 1, OPT_ROLE, OPT_INTERVAL, OPT_FOREVER };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker address (default: $MSGFLO_BROKER, then\n$CLOUDAMQP_URL), e.g. mqtt://localhost"},
    {OPT_ROLE, "role", CLI_VALUE, "ROLE:FILE.yaml",
     "a participant: its role and its definition;\nrepeat for more participants"},
    {OPT_INTERVAL, "interval", CLI_VALUE, "SECONDS",
     "discovery period; messages are re-sent every\nSECONDS/2.2 s (default 60)"},
    {OPT_FOREVER, "forever", CLI_BOOL, "BOOL",
     "keep re-sending until stopped (default true);\n--forever=false sends once and exits"},
    {0},
};

static const struct cli_spec spec = {
    .prog = PROG,
    .usage = "Usage: msgflo-register [options]\n"
             "\n"
             "Sends MsgFlo discovery messages on behalf of foreign participants (devices\n"
             "and services that do not speak MsgFlo), each described in a YAML file.\n",
    .options = options,
    .epilog = "YAML: component (required), label, icon, inports, outports; ports as a map\n"
              "by port id or as a list with id; #ROLE in a queue becomes the role.\n"
              "See docs/msgflo-register.md.\n"
              "\n"
              "Exit status: 0 ok, 1 bad definition or broker not reachable, 2 usage error.\n",
};

struct role_file {
    char *role;
    const char *path; /* points into argv */
};

struct args {
    struct role_file *roles; /* argc entries */
    size_t n_roles;
    const char *broker;
    double interval;
    bool forever;
};

/* --role ROLE:FILE.yaml; a role given again takes the later file.
 * Returns -1 to go on, else the exit status. */
static int add_role(struct args *a, const char *v)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || !colon[1])
        return cli__usage_error(&spec, "--role needs ROLE:FILE.yaml, not '%s'", v);
    size_t len = (size_t)(colon - v), k = 0;
    while (k < a->n_roles &&
           (strlen(a->roles[k].role) != len || strncmp(a->roles[k].role, v, len) != 0))
        k++;
    if (k == a->n_roles) {
        if (!(a->roles[k].role = strndup(v, len)))
            return 1;
        a->n_roles++;
    }
    a->roles[k].path = colon + 1;
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it != CLI_OPTION)
            return cli__stop(&c, it);
        int status = -1;
        switch (c.opt->id) {
        case OPT_BROKER:
            a->broker = c.value;
            break;
        case OPT_ROLE:
            status = add_role(a, c.value);
            break;
        case OPT_INTERVAL:
            if (!cli__seconds(c.value, &a->interval))
                status = cli__usage_error(
                    &spec, "--interval needs a positive number of seconds, not '%s'", c.value);
            break;
        case OPT_FOREVER:
            a->forever = c.flag;
            break;
        }
        if (status >= 0)
            return status;
    }
    if (a->n_roles == 0)
        return cli__usage_error(&spec, "no participant: give --role ROLE:FILE.yaml");
    return cli__need_broker(&spec, &a->broker);
}

int main(int argc, char **argv)
{
    struct args a = {.interval = 60, .forever = true};
    json_t **payloads = NULL;
    char err[1024];
    int status = 1;
    a.roles = calloc((size_t)argc, sizeof *a.roles);
    payloads = calloc((size_t)argc, sizeof *payloads);
    if (!a.roles || !payloads) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if ((status = parse_args(argc, argv, &a)) >= 0)
        goto out;
    status = 0;
    for (size_t k = 0; k < a.n_roles; k++) {
        if (foreign__load(a.roles[k].path, a.roles[k].role, &payloads[k], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            status = 1;
        }
    }
    if (status == 0)
        status = announce__run(&(struct announce_options){.prog = PROG,
                                                          .what = "discovery messages",
                                                          .broker = a.broker,
                                                          .payloads = payloads,
                                                          .n = a.n_roles,
                                                          .interval = a.interval,
                                                          .forever = a.forever});
out:
    for (size_t k = 0; a.roles && k < a.n_roles; k++) {
        free(a.roles[k].role);
        json_decref(payloads[k]);
    }
    free(a.roles);
    free(payloads);
    return status;
}
