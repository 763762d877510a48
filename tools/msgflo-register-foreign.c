/* msgflo-register-foreign (deprecated): the single-file form of
 * msgflo-register, kept for scripts written for the original.
 *
 *   msgflo-register-foreign [--broker URL] [--role ROLE] [--interval SECONDS]
 *                           [--forever BOOL] DEFINITION.yaml
 *
 * The role comes from --role, else from the YAML's `role`. Sends once by
 * default (--forever false). Exit codes as msgflo-register. */
#include "tools/common/announce.h"
#include "tools/common/cli.h"
#include "foreign/foreign.h"

#include <stdio.h>

#define PROG "msgflo-register-foreign"

enum { OPT_BROKER = 1, OPT_ROLE, OPT_INTERVAL, OPT_FOREVER };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker address (default: $MSGFLO_BROKER, then\n$CLOUDAMQP_URL), e.g. mqtt://localhost"},
    {OPT_ROLE, "role", CLI_VALUE, "ROLE", "role of the participant (default: `role` in the YAML)"},
    {OPT_INTERVAL, "interval", CLI_VALUE, "SECONDS",
     "discovery period; re-sent every SECONDS/2.2 s (default 60)"},
    {OPT_FOREVER, "forever", CLI_BOOL, "BOOL", "keep re-sending until stopped (default false)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = PROG,
    .usage = "Usage: msgflo-register-foreign [options] DEFINITION.yaml\n"
             "\n"
             "DEPRECATED: use msgflo-register --role ROLE:DEFINITION.yaml, which also\n"
             "takes several participants.\n"
             "\n"
             "Sends the MsgFlo discovery message of one foreign participant.\n",
    .options = options,
    .epilog = "Exit status: 0 ok, 1 bad definition or broker not reachable, 2 usage error.\n",
};

struct args {
    const char *broker, *role, *path;
    double interval;
    bool forever;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it == CLI_ARGUMENT && !a->path) {
            a->path = c.value;
            continue;
        }
        if (it != CLI_OPTION)
            return cli__stop(&c, it);
        switch (c.opt->id) {
        case OPT_BROKER:
            a->broker = c.value;
            break;
        case OPT_ROLE:
            a->role = c.value;
            break;
        case OPT_INTERVAL:
            if (!cli__seconds(c.value, &a->interval))
                return cli__usage_error(
                    &spec, "--interval needs a positive number of seconds, not '%s'", c.value);
            break;
        case OPT_FOREVER:
            a->forever = c.flag;
            break;
        }
    }
    fprintf(stderr, "DEPRECATED: Instead use msgflo-register --role A:./filename.yaml - which "
                    "also supports multiple roles\n");
    if (!a->path)
        return cli__usage_error(&spec, "no definition: give DEFINITION.yaml");
    return cli__need_broker(&spec, &a->broker);
}

int main(int argc, char **argv)
{
    struct args a = {.interval = 60};
    json_t *payload = NULL;
    char err[1024];
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    if (foreign__load(a.path, a.role, &payload, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    status = announce__run(&(struct announce_options){.prog = PROG,
                                                      .what = "discovery message",
                                                      .broker = a.broker,
                                                      .payloads = &payload,
                                                      .n = 1,
                                                      .interval = a.interval,
                                                      .forever = a.forever,
                                                      .say_forever = true});
    json_decref(payload);
    return status;
}
