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

static const char usage[] =
    "Usage: msgflo-guv [options]\n"
    "Watches the length of each role's queue on RabbitMQ every pollinterval and sets\n"
    "the number of workers of the role so that queued jobs finish within the\n"
    "deadline, as guv does. Decisions are printed one line per role per poll.\n"
    "\n"
    "  --config FILE.guv.yaml   guv configuration (default: $GUV_CONFIG)\n"
    "  --broker URL             AMQP broker (default: the configuration's broker,\n"
    "                           $GUV_BROKER, $CLOUDAMQP_URL, then $MSGFLO_BROKER)\n"
    "  --command TEMPLATE       run TEMPLATE with /bin/sh -c for each change instead\n"
    "                           of starting local workers; markers #ROLE, #WORKER,\n"
    "                           #WORKERS, #APP, #QUEUE, e.g.\n"
    "                           'kubectl scale deployment/#ROLE --replicas=#WORKERS'\n"
    "  --dry-run [BOOL]         print the decisions only\n"
    "  --oneshot [BOOL]         one poll (and its commands), then exit; not with local\n"
    "                           workers, which would end with msgflo-guv\n"
    "  --publish QUEUE          also publish each decision as JSON on this outqueue\n"
    "  --management URL         queue lengths from RabbitMQ's management API at URL\n"
    "                           (e.g. http://localhost:15672; the broker's user and\n"
    "                           password unless URL has its own): ready plus unacked\n"
    "                           messages, as guv; default: passive queue.declare on\n"
    "                           the broker connection (ready messages only)\n"
    "  --library FILE.json      component library for local workers (default:\n"
    "                           package.json if present); a role's component is its\n"
    "                           `worker`, else the role name\n"
    "  --componentdir DIR       component files (default: participants)\n"
    "  --forward [stderr,stdout] copy the local workers' output, prefixed by name\n"
    "  --shell [SHELL]          run worker commands as SHELL -c \"command\" (sh)\n"
    "  --metrics-port PORT      serve GET /metrics (Prometheus text: queues, workers,\n"
    "                           scalings) on PORT (0: any free port, printed)\n"
    "  --metrics-listen ADDRESS address for --metrics-port (default 127.0.0.1)\n"
    "  -h, --help               this text\n"
    "\n"
    "Local workers (the default) run as <role>.<n> under a supervisor that restarts\n"
    "crashed ones; scaling down stops the newest. Exit status: 0 after --oneshot or\n"
    "SIGINT/SIGTERM, 1 when the broker cannot be reached, 2 for bad options or\n"
    "configuration.\n";

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

static int usage_error(const char *before, const char *arg, const char *after)
{
    fprintf(stderr, "msgflo-guv: %s%s%s\n", before, arg, after);
    fputs(usage, stderr);
    return 2;
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
    if (sb.err) {
        strbuf__cleanup(&sb);
        resp->status = 500;
        return;
    }
    resp->status = 200;
    resp->content_type = METRICS_CONTENT_TYPE;
    resp->body_len = sb.len;
    resp->body = strbuf__steal(&sb);
    strbuf__cleanup(&sb);
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

int main(int argc, char **argv)
{
    const char *config_path = getenv("GUV_CONFIG"), *broker = NULL, *command = NULL;
    const char *publish = NULL, *library = NULL, *componentdir = NULL, *shell = NULL;
    const char *forward = NULL, *management = NULL, *metrics_listen = "127.0.0.1";
    long metrics_port = -1;
    bool dry_run = false, oneshot = false;
    unsigned forward_bits = 0;
    struct guv_config *cfg = NULL;
    struct tool t = {0};
    int status = 2;
    bool loop_open = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            status = 0;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0) {
            status = usage_error("unexpected argument '", a, "'");
            goto out;
        }
        char name[64];
        const char *value = cli__split(a, name, sizeof name);
        bool *flag = strcmp(name, "--dry-run") == 0   ? &dry_run
                     : strcmp(name, "--oneshot") == 0 ? &oneshot
                                                      : NULL;
        if (flag) {
            if (cli__flag(argc, argv, &i, value, flag) != 0) {
                status = usage_error("", name, " takes true or false");
                goto out;
            }
            continue;
        }
        bool optional = strcmp(name, "--forward") == 0 || strcmp(name, "--shell") == 0;
        if (!value && i + 1 < argc && (!optional || strncmp(argv[i + 1], "--", 2) != 0))
            value = argv[++i];
        if (strcmp(name, "--forward") == 0) {
            forward = value ? value : "stderr,stdout";
        } else if (strcmp(name, "--shell") == 0) {
            shell = value && *value ? value : "sh";
        } else if (!value) {
            status = usage_error("", name, " needs a value");
            goto out;
        } else if (strcmp(name, "--config") == 0) {
            config_path = value;
        } else if (strcmp(name, "--broker") == 0) {
            broker = value;
        } else if (strcmp(name, "--command") == 0) {
            command = value;
        } else if (strcmp(name, "--publish") == 0) {
            publish = *value ? value : NULL;
        } else if (strcmp(name, "--management") == 0) {
            management = *value ? value : NULL;
        } else if (strcmp(name, "--library") == 0) {
            library = value;
        } else if (strcmp(name, "--componentdir") == 0) {
            componentdir = *value ? value : NULL;
        } else if (strcmp(name, "--metrics-port") == 0) {
            if (!cli__number(value, 0, 65535, &metrics_port)) {
                status = usage_error("--metrics-port: '", value, "' is not a port number");
                goto out;
            }
        } else if (strcmp(name, "--metrics-listen") == 0) {
            metrics_listen = value;
        } else {
            status = usage_error("unknown option ", name, "");
            goto out;
        }
    }
    if (!config_path || !*config_path) {
        status =
            usage_error("no configuration: use --config FILE.guv.yaml or set GUV_CONFIG", "", "");
        goto out;
    }
    if (forward && supervisor__parse_forward(forward, &forward_bits) != 0) {
        status = usage_error("--forward takes stdout and/or stderr, not '", forward, "'");
        goto out;
    }
    if (command && !*command) {
        status = usage_error("--command needs a template", "", "");
        goto out;
    }
    enum guv_act act = dry_run ? GUV_ACT_DRY_RUN : command ? GUV_ACT_COMMAND : GUV_ACT_LOCAL;
    if (oneshot && act == GUV_ACT_LOCAL) {
        status = usage_error("--oneshot needs --command or --dry-run: local workers end with "
                             "msgflo-guv",
                             "", "");
        goto out;
    }

    char err[1024];
    if (guv_config__load(config_path, NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        goto out;
    }
    if (cfg->n_errors > 0) {
        for (size_t i = 0; i < cfg->n_errors; i++)
            fprintf(stderr, "%s\n", cfg->errors[i].message);
        fprintf(stderr, "msgflo-guv: %zu error%s in the configuration\n", cfg->n_errors,
                cfg->n_errors == 1 ? "" : "s");
        goto out;
    }
    if (cfg->n_roles == 0) {
        fprintf(stderr, "msgflo-guv: %s: no roles to scale\n", config_path);
        goto out;
    }
    if (!broker)
        broker = cfg->global.broker;
    if (!broker)
        broker = msgflo_url_resolve(NULL);
    if (!broker) {
        fprintf(stderr, "msgflo-guv: no broker: use --broker URL, the configuration's broker, "
                        "GUV_BROKER, CLOUDAMQP_URL or MSGFLO_BROKER\n");
        goto out;
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        if (cfg->roles[i].broker && strcmp(cfg->roles[i].broker, broker) != 0 &&
            (!cfg->global.broker || strcmp(cfg->roles[i].broker, cfg->global.broker) != 0)) {
            fprintf(stderr,
                    "msgflo-guv: %s:%u:%u: role '%s' has a broker of its own; one "
                    "msgflo-guv watches one broker\n",
                    config_path, cfg->roles[i].line, cfg->roles[i].column, cfg->roles[i].name);
            goto out;
        }
    }

    if (management) {
        msgflo_url *u = NULL;
        if (msgflo_url_parse(broker, &u, err, sizeof err) != 0) {
            fprintf(stderr, "msgflo-guv: %s\n", err);
            goto out;
        }
        int rc = guv_http_stats__new(management, u->vhost, u->user, u->password, &t.http, err,
                                     sizeof err);
        msgflo_url_free(u);
        if (rc != 0) {
            fprintf(stderr, "msgflo-guv: %s\n", rc == MSGFLO_EINVAL ? err : msgflo_strerror(rc));
            goto out;
        }
    }
    if (uv_loop_init(&t.loop) != 0) {
        status = 1;
        goto out;
    }
    loop_open = true;
    if (act == GUV_ACT_LOCAL &&
        (status = setup_local(&t, cfg, library, componentdir, shell, forward_bits, broker)) != 0)
        goto out;
    status = 2;
    static const struct session_events ev = {.connected = on_connected, .stopping = on_stopping};
    if (session__new(&t.loop, broker, "msgflo-guv", 0, &ev, &t, &t.session, err, sizeof err) != 0) {
        fprintf(stderr, "msgflo-guv: %s\n", err);
        goto out;
    }
    struct guv_runner_options ro = {.cfg = cfg,
                                    .act = act,
                                    .local = t.local,
                                    .http = t.http,
                                    .command = command,
                                    .publish = publish,
                                    .oneshot = oneshot,
                                    .print = print_line,
                                    .finished = on_finished,
                                    .ud = &t};
    if (guv_runner__new(&t.loop, session__transport(t.session), &ro, &t.runner) != 0) {
        fprintf(stderr, "msgflo-guv: out of memory\n");
        status = 1;
        goto out;
    }
    if (metrics_port >= 0) {
        static const struct http_server_events mev = {.request = on_metrics_request};
        const struct http_server_options mo = {.listen = metrics_listen,
                                               .port = (int)metrics_port,
                                               .page = "msgflo-guv: see /metrics\n"};
        if (http_server__new(&t.loop, &mo, &mev, &t, &t.metrics) != 0) {
            fprintf(stderr, "msgflo-guv: cannot serve metrics on %s port %ld\n", metrics_listen,
                    metrics_port);
            goto out;
        }
        fprintf(stderr, "msgflo-guv: metrics on http://%s:%d/metrics\n", metrics_listen,
                http_server__port(t.metrics));
    }
    session__start(t.session, 30000);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    status = session__status(t.session);
    if (status == 128 + SIGINT || status == 128 + SIGTERM)
        status = 0;
    if (*session__error(t.session) && status != 0)
        fprintf(stderr, "msgflo-guv: %s\n", session__error(t.session));
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
