/* msgflo-guv: scales workers by queue length, with guv's configuration and
 * decisions (docs/guv.md). */
#include "tools/common/cli.h"
#include "library/library.h"
#include "tools/common/session.h"
#include "process/supervisor.h"
#include "guv/act_local.h"
#include "guv/config.h"
#include "guv/runner.h"
#include "guv/stats_http.h"
#include "msgflo/msgflo.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_CONFIG = 1,
    OPT_BROKER,
    OPT_COMMAND,
    OPT_DRY_RUN,
    OPT_ONESHOT,
    OPT_PUBLISH,
    OPT_MANAGEMENT,
    OPT_LIBRARY,
    OPT_COMPONENTDIR,
    OPT_FORWARD,
    OPT_SHELL,
    OPT_METRICS_PORT,
    OPT_METRICS_LISTEN,
};

static const struct cli_option options[] = {
    {OPT_CONFIG, "config", CLI_VALUE, "FILE.guv.yaml", "guv configuration (default: $GUV_CONFIG)"},
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "AMQP broker (default: the configuration's broker,\n"
     "$GUV_BROKER, $CLOUDAMQP_URL, then $MSGFLO_BROKER)"},
    {OPT_COMMAND, "command", CLI_VALUE, "TEMPLATE",
     "run TEMPLATE with /bin/sh -c for each change instead\n"
     "of starting local workers; markers #ROLE, #WORKER,\n"
     "#WORKERS, #APP, #QUEUE, e.g.\n"
     "'kubectl scale deployment/#ROLE --replicas=#WORKERS'"},
    {OPT_DRY_RUN, "dry-run", CLI_BOOL, NULL, "print the decisions only"},
    {OPT_ONESHOT, "oneshot", CLI_BOOL, NULL,
     "one poll (and its commands), then exit; not with local\n"
     "workers, which would end with msgflo-guv"},
    {OPT_PUBLISH, "publish", CLI_VALUE, "QUEUE",
     "also publish each decision as JSON on this outqueue"},
    {OPT_MANAGEMENT, "management", CLI_VALUE, "URL",
     "queue lengths from RabbitMQ's management API at URL\n"
     "(e.g. http://localhost:15672; the broker's user and\n"
     "password unless URL has its own): ready plus unacked\n"
     "messages, as guv; default: passive queue.declare on\n"
     "the broker connection (ready messages only)"},
    {OPT_LIBRARY, "library", CLI_VALUE, "FILE.json",
     "component library for local workers (default:\n"
     "package.json if present); a role's component is its\n"
     "`worker`, else the role name"},
    {OPT_COMPONENTDIR, "componentdir", CLI_VALUE, "DIR", "component files (default: participants)"},
    {OPT_FORWARD, "forward", CLI_OPTIONAL, "[stderr,stdout]",
     "copy the local workers' output, prefixed by name"},
    {OPT_SHELL, "shell", CLI_OPTIONAL, "[SHELL]",
     "run worker commands as SHELL -c \"command\" (sh)"},
    {OPT_METRICS_PORT, "metrics-port", CLI_VALUE, "PORT",
     "serve GET /metrics (Prometheus text: queues, workers,\n"
     "scalings) on PORT (0: any free port, printed)"},
    {OPT_METRICS_LISTEN, "metrics-listen", CLI_VALUE, "ADDRESS",
     "address for --metrics-port (default 127.0.0.1)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-guv",
    .usage = "Usage: msgflo-guv [options]\n"
             "Watches the length of each role's queue on RabbitMQ every pollinterval and sets\n"
             "the number of workers of the role so that queued jobs finish within the\n"
             "deadline, as guv does. Decisions are printed one line per role per poll.\n",
    .options = options,
    .epilog = "BOOL is true/false, yes/no, on/off or 1/0; a flag alone means true.\n"
              "Local workers (the default) run as <role>.<n> under a supervisor that restarts\n"
              "crashed ones; scaling down stops the newest. Exit status: 0 after --oneshot or\n"
              "SIGINT/SIGTERM, 1 when the broker cannot be reached, 2 for bad options or\n"
              "configuration.\n",
};

struct args {
    const char *config_path, *broker, *command, *publish, *library, *componentdir, *shell;
    const char *forward, *management, *metrics_listen;
    long metrics_port;
    bool dry_run, oneshot;
    unsigned forward_bits;
    enum guv_act act;
};

struct tool {
    uv_loop_t loop;
    struct session *session;
    struct supervisor *sup;
    struct guv_local *local;
    struct guv_runner *runner;
    struct guv_http_stats *http;
    struct http_server *metrics;
    bool stopping;
};

static void print_line(const char *line, void *ud)
{
    (void)ud;
    printf("%s\n", line);
    fflush(stdout);
}

static void print_output(const char *name, enum supervisor_stream stream, const char *line,
                         size_t len, void *ud)
{
    (void)ud;
    FILE *f = stream == SUPERVISOR_STDOUT ? stdout : stderr;
    fprintf(f, "%s: %.*s\n", name, (int)len, line);
    fflush(f);
}

static void on_runner_stopped(void *ud)
{
    (void)ud;
}

/* Everything stops; the loop ends once the last handle is closed. */
static void stop_all(struct tool *t, int status)
{
    if (t->stopping)
        return;
    t->stopping = true;
    if (t->runner)
        guv_runner__stop(t->runner, on_runner_stopped, t);
    if (t->sup)
        supervisor__stop_all(t->sup, NULL, NULL);
    http_server__close(t->metrics, NULL, NULL);
    t->metrics = NULL;
    session__finish(t->session, status);
}

static void on_metrics_request(struct http_server *s, const struct http_request *req,
                               struct http_response *resp, void *ud)
{
    struct tool *t = ud;
    (void)s;
    if (strcmp(req->path, "/metrics") != 0 || !t->runner)
        return;
    struct strbuf sb;
    strbuf__init(&sb);
    guv_runner__metrics(t->runner, &sb);
    metrics__respond(resp, &sb);
}

static void on_connected(struct session *s, void *ud)
{
    struct tool *t = ud;
    (void)s;
    fprintf(stderr, "msgflo-guv: connected; polling\n");
    guv_runner__connected(t->runner);
}

static void on_stopping(struct session *s, int status, void *ud)
{
    struct tool *t = ud;
    (void)s;
    stop_all(t, status);
}

static void on_finished(void *ud)
{
    stop_all(ud, 0);
}

static int setup_local(struct tool *t, const struct guv_config *cfg, const char *library,
                       const char *componentdir, const char *shell, unsigned forward,
                       const char *broker)
{
    struct library *lib = NULL;
    char err[512];
    int status = 2;
    int rc = library__load(library, componentdir, &lib, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        goto out;
    }
    struct supervisor_options so = {.broker_url = broker,
                                    .shell = shell,
                                    .forward = forward,
                                    .on_output = print_output,
                                    .forever = true};
    if (supervisor__new(&t->loop, &so, &t->sup) != 0 || guv_local__new(t->sup, &t->local) != 0) {
        fprintf(stderr, "msgflo-guv: out of memory\n");
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        const struct guv_role *role = &cfg->roles[i];
        const char *component = role->worker ? role->worker : role->name;
        char *cmd = NULL;
        rc = library__command(lib, component, role->name, NULL, &cmd, err, sizeof err);
        if (rc == 0)
            rc = guv_local__add_role(t->local, role->name, cmd);
        free(cmd);
        if (rc != 0) {
            fprintf(stderr, "msgflo-guv: %s\n",
                    rc == LIBRARY_ENOCOMMAND ? err : msgflo_strerror(rc));
            goto out;
        }
    }
    status = 0;
out:
    library__free(lib);
    return status;
}

/* One option of the table. Returns -1 to go on, else the exit status. */
static int option(const struct cli *c, struct args *a)
{
    const char *value = c->value;
    switch (c->opt->id) {
    case OPT_DRY_RUN:
        a->dry_run = c->flag;
        break;
    case OPT_ONESHOT:
        a->oneshot = c->flag;
        break;
    case OPT_FORWARD:
        a->forward = value ? value : "stderr,stdout";
        break;
    case OPT_SHELL:
        a->shell = value && *value ? value : "sh";
        break;
    case OPT_CONFIG:
        a->config_path = value;
        break;
    case OPT_BROKER:
        a->broker = value;
        break;
    case OPT_COMMAND:
        a->command = value;
        break;
    case OPT_PUBLISH:
        a->publish = *value ? value : NULL;
        break;
    case OPT_MANAGEMENT:
        a->management = *value ? value : NULL;
        break;
    case OPT_LIBRARY:
        a->library = value;
        break;
    case OPT_COMPONENTDIR:
        a->componentdir = *value ? value : NULL;
        break;
    case OPT_METRICS_PORT:
        if (!cli__number(value, 0, 65535, &a->metrics_port))
            return cli__usage_error(&spec, "--metrics-port: '%s' is not a port number", value);
        break;
    case OPT_METRICS_LISTEN:
        a->metrics_listen = value;
        break;
    }
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
        int status = option(&c, a);
        if (status >= 0)
            return status;
    }
    if (!a->config_path || !*a->config_path)
        return cli__usage_error(&spec,
                                "no configuration: use --config FILE.guv.yaml or set GUV_CONFIG");
    if (a->forward && supervisor__parse_forward(a->forward, &a->forward_bits) != 0)
        return cli__usage_error(&spec, "--forward takes stdout and/or stderr, not '%s'",
                                a->forward);
    if (a->command && !*a->command)
        return cli__usage_error(&spec, "--command needs a template");
    a->act = a->dry_run ? GUV_ACT_DRY_RUN : a->command ? GUV_ACT_COMMAND : GUV_ACT_LOCAL;
    if (a->oneshot && a->act == GUV_ACT_LOCAL)
        return cli__usage_error(&spec, "--oneshot needs --command or --dry-run: local workers end "
                                       "with msgflo-guv");
    return -1;
}

/* Loads and checks the configuration and finds the broker. Returns 0 or 2. */
static int load_config(struct args *a, struct guv_config **cfg)
{
    char err[1024];
    if (guv_config__load(a->config_path, NULL, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        return 2;
    }
    const struct guv_config *c = *cfg;
    if (c->n_errors > 0) {
        for (size_t i = 0; i < c->n_errors; i++)
            fprintf(stderr, "%s\n", c->errors[i].message);
        fprintf(stderr, "msgflo-guv: %zu error%s in the configuration\n", c->n_errors,
                c->n_errors == 1 ? "" : "s");
        return 2;
    }
    if (c->n_roles == 0) {
        fprintf(stderr, "msgflo-guv: %s: no roles to scale\n", a->config_path);
        return 2;
    }
    if (!a->broker)
        a->broker = c->global.broker;
    if (!a->broker)
        a->broker = msgflo_url_resolve(NULL);
    if (!a->broker) {
        fprintf(stderr, "msgflo-guv: no broker: use --broker URL, the configuration's broker, "
                        "GUV_BROKER, CLOUDAMQP_URL or MSGFLO_BROKER\n");
        return 2;
    }
    for (size_t i = 0; i < c->n_roles; i++) {
        if (c->roles[i].broker && strcmp(c->roles[i].broker, a->broker) != 0 &&
            (!c->global.broker || strcmp(c->roles[i].broker, c->global.broker) != 0)) {
            fprintf(stderr,
                    "msgflo-guv: %s:%u:%u: role '%s' has a broker of its own; one "
                    "msgflo-guv watches one broker\n",
                    a->config_path, c->roles[i].line, c->roles[i].column, c->roles[i].name);
            return 2;
        }
    }
    return 0;
}

/* The management API client (--management). Returns 0 or 2. */
static int setup_management(struct tool *t, const struct args *a)
{
    char err[1024];
    msgflo_url *u = NULL;
    if (msgflo_url_parse(a->broker, &u, err, sizeof err) != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        return 2;
    }
    int rc = guv_http_stats__new(a->management, msgflo_url_vhost(u), msgflo_url_user(u),
                                 msgflo_url_password(u), &t->http, err, sizeof err);
    msgflo_url_free(u);
    if (rc != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", rc == MSGFLO_EINVAL ? err : msgflo_strerror(rc));
        return 2;
    }
    return 0;
}

/* GET /metrics on --metrics-port. Returns 0 or 2. */
static int serve_metrics(struct tool *t, const struct args *a)
{
    static const struct http_server_events mev = {.request = on_metrics_request};
    const struct http_server_options mo = {.listen = a->metrics_listen,
                                           .port = (int)a->metrics_port,
                                           .page = "msgflo-guv: see /metrics\n"};
    if (http_server__new(&t->loop, &mo, &mev, t, &t->metrics) != 0) {
        fprintf(stderr, "msgflo-guv: cannot serve metrics on %s port %ld\n", a->metrics_listen,
                a->metrics_port);
        return 2;
    }
    fprintf(stderr, "msgflo-guv: metrics on http://%s:%d/metrics\n", a->metrics_listen,
            http_server__port(t->metrics));
    return 0;
}

/* Session, runner and metrics on t->loop, then runs until the end. Returns the
 * exit status. */
static int run(struct tool *t, const struct args *a, const struct guv_config *cfg)
{
    char err[1024];
    static const struct session_events ev = {.connected = on_connected, .stopping = on_stopping};
    if (session__new(&t->loop, a->broker, "msgflo-guv", 0, &ev, t, &t->session, err, sizeof err) !=
        0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        return 2;
    }
    struct guv_runner_options ro = {.cfg = cfg,
                                    .act = a->act,
                                    .local = t->local,
                                    .http = t->http,
                                    .command = a->command,
                                    .publish = a->publish,
                                    .oneshot = a->oneshot,
                                    .print = print_line,
                                    .finished = on_finished,
                                    .ud = t};
    if (guv_runner__new(&t->loop, session__transport(t->session), &ro, &t->runner) != 0) {
        fprintf(stderr, "msgflo-guv: out of memory\n");
        return 1;
    }
    t->http = NULL; /* the runner's now */
    if (a->metrics_port >= 0 && serve_metrics(t, a) != 0)
        return 2;
    session__start(t->session, 30000);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    int status = session__status(t->session);
    if (status == 128 + SIGINT || status == 128 + SIGTERM)
        status = 0;
    if (*session__error(t->session) && status != 0)
        fprintf(stderr, "msgflo-guv: %s\n", session__error(t->session));
    return status;
}

int main(int argc, char **argv)
{
    struct args a = {
        .config_path = getenv("GUV_CONFIG"), .metrics_listen = "127.0.0.1", .metrics_port = -1};
    struct guv_config *cfg = NULL;
    struct tool t = {0};
    bool loop_open = false;
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    if ((status = load_config(&a, &cfg)) != 0)
        goto out;
    if (a.management && (status = setup_management(&t, &a)) != 0)
        goto out;
    status = 1;
    if (uv_loop_init(&t.loop) != 0)
        goto out;
    loop_open = true;
    if (a.act == GUV_ACT_LOCAL && (status = setup_local(&t, cfg, a.library, a.componentdir, a.shell,
                                                        a.forward_bits, a.broker)) != 0)
        goto out;
    status = run(&t, &a, cfg);
out:
    http_server__close(t.metrics, NULL, NULL);
    if (t.sup && !t.stopping)
        supervisor__stop_all(t.sup, NULL, NULL);
    session__free(t.session);
    supervisor__free(t.sup);
    guv_local__free(t.local);
    guv_runner__free(t.runner);
    guv_http_stats__free(t.http);
    if (loop_open) {
        uv_run(&t.loop, UV_RUN_DEFAULT);
        uv_loop_close(&t.loop);
    }
    guv_config__free(cfg);
    return status;
}
