/* msgflo: the runtime. The coordinator (discovery, processes, bindings, IIPs)
 * made live through the FBP network protocol over WebSocket, for Flowhub,
 * fbp-spec and fbp-test. Wiring only: runtime__ (server + protocol), live__
 * (graph/network/component commands), coordinator__ (the system on the
 * broker), autosave__. See docs/msgflo.md. */
#include "tools/common/cli.h"
#include "coord/coordinator.h"
#include "core/log.h"
#include "library/library.h"
#include "process/supervisor.h"
#include "graph/graph_file.h"
#include "msgflo/msgflo.h"
#include "runtime/autosave.h"
#include "runtime/live.h"
#include "runtime/origin.h"
#include "runtime/loop_stats.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>
#include <uv.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

enum {
    OPT_BROKER = 1,
    OPT_GRAPH,
    OPT_AUTO_SAVE,
    OPT_LIBRARY,
    OPT_COMPONENTDIR,
    OPT_ALLOW_COMPONENT_WRITE,
    OPT_IGNORE,
    OPT_FORWARD,
    OPT_SHELL,
    OPT_WAIT_TIMEOUT,
    OPT_EXPIRE_PERIODS,
    OPT_DISCOVERY_MAX_BYTES,
    OPT_MAX_PARTICIPANTS,
    OPT_MAX_COMPONENTS,
    OPT_HOST,
    OPT_PORT,
    OPT_LISTEN,
    OPT_IDE,
    OPT_ALLOW_ORIGIN,
    OPT_RUNTIME_ID,
    OPT_SECRET,
    OPT_NETWORK_RUNNING,
    OPT_PING, /* --ping-url, --ping-method, --ping-interval: accepted, ignored */
};

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL,\n"
     "else a private mosquitto started for this run)"},
    {OPT_GRAPH, "graph", CLI_VALUE, "FILE", "graph (.fbp or .json) to set up at start"},
    {OPT_AUTO_SAVE, "auto-save", CLI_BOOL, NULL,
     "write graph changes back to --graph (atomically)"},
    {OPT_LIBRARY, "library", CLI_VALUE, "FILE.json",
     "component library (default: package.json if present)"},
    {OPT_COMPONENTDIR, "componentdir", CLI_VALUE, "DIR", "component files (default: participants)"},
    {OPT_ALLOW_COMPONENT_WRITE, "allow-component-write", CLI_BOOL, NULL,
     "let clients write component files into --componentdir\n"
     "(component:source); default false: refused"},
    {OPT_IGNORE, "ignore", CLI_VALUE, "a,b,c", "roles not to start (repeatable)"},
    {OPT_FORWARD, "forward", CLI_OPTIONAL, "[stderr,stdout]",
     "participant output to copy, prefixed by role\n(default stderr,stdout; \"\" for none)"},
    {OPT_SHELL, "shell", CLI_OPTIONAL, "[SHELL]",
     "run participant commands as SHELL -c \"command\" (sh)"},
    {OPT_WAIT_TIMEOUT, "wait-timeout", CLI_VALUE, "SECONDS",
     "how long a started participant may take to say it is\nready (default 45)"},
    {OPT_EXPIRE_PERIODS, "expire-periods", CLI_VALUE, "N",
     "forget participants not seen for N discovery periods\n"
     "($MSGFLO_DISCOVERY_PERIOD, default 60 s); 0: never\n"
     "(default 3)"},
    {OPT_DISCOVERY_MAX_BYTES, "discovery-max-bytes", CLI_VALUE, "N",
     "drop discovery messages longer than N bytes, unparsed\n(default 65536)"},
    {OPT_MAX_PARTICIPANTS, "max-participants", CLI_VALUE, "N",
     "refuse new participants past N (default 200000)"},
    {OPT_MAX_COMPONENTS, "max-components", CLI_VALUE, "N",
     "refuse participants of new components past N\n(default 50000)"},
    {OPT_HOST, "host", CLI_VALUE, "HOSTNAME",
     "host advertised in ws://HOST:PORT (default localhost)"},
    {OPT_PORT, "port", CLI_VALUE, "PORT", "HTTP/WebSocket port (default 3569; 0: any free port)"},
    {OPT_LISTEN, "listen", CLI_VALUE, "ADDRESS",
     "address to listen on (default 127.0.0.1; 0.0.0.0 or ::\n"
     "for every interface, as the original)"},
    {OPT_IDE, "ide", CLI_VALUE, "URL",
     "Flowhub base URL (default http://app.flowhub.io); browser\n"
     "pages of its origin may connect"},
    {OPT_ALLOW_ORIGIN, "allow-origin", CLI_VALUE, "ORIGIN",
     "another web page origin (scheme://host[:port]) allowed to\n"
     "open a WebSocket; repeatable; '*' for any page (unsafe).\n"
     "Always allowed: clients that send no Origin (not a\n"
     "browser), the runtime's own page, the --ide origin"},
    {OPT_RUNTIME_ID, "runtime-id", CLI_VALUE, "UUID",
     "runtime id (default $MSGFLO_RUNTIME_ID, else a new uuid4)"},
    {OPT_SECRET, "secret", CLI_VALUE, "SECRET",
     "clients must send it (default $MSGFLO_SECRET, else a\n"
     "random one, shown in the Flowhub link); '' for none (unsafe)"},
    {OPT_NETWORK_RUNNING, "network-running", CLI_VALUE, "started|busy",
     "what network:status says is running: from network:start\n"
     "to network:stop, as the original (started, the default),\n"
     "or only while IIPs or bindings are pending, as the FBP\n"
     "protocol and fbp-test expect (busy)"},
    {OPT_PING, "ping-url", CLI_VALUE, "URL", NULL},
    {OPT_PING, "ping-method", CLI_VALUE, "METHOD", NULL},
    {OPT_PING, "ping-interval", CLI_VALUE, "SECONDS", NULL},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo",
    .usage = "Usage: msgflo [options]\n"
             "Runs the MsgFlo runtime: discovers participants, starts them from the component\n"
             "library, binds their queues as the graph says and delivers its IIPs; and serves\n"
             "the FBP network protocol over WebSocket (subprotocol noflo) so Flowhub, fbp-spec\n"
             "and fbp-test can inspect and edit the running system.\n",
    .options = options,
    .epilog = "BOOL is true/false, yes/no, on/off or 1/0; a flag alone means true.\n"
              "--ping-url, --ping-method and --ping-interval of the original are accepted and\n"
              "ignored: msgflo-c does not report to api.flowhub.io.\n",
};

struct options {
    struct runtime_options server;
    struct coordinator_options coord;
    struct cli_list ignore;
    struct cli_list allow_origins;
    const char *graph;
    const char *library;
    const char *componentdir;
    bool auto_save;
    enum live_running network_running;
};

struct app {
    uv_loop_t *loop;
    struct runtime *rt;
    struct library *library;
    struct coordinator *coord;
    struct live *live;
    struct autosave *autosave;
    struct loop_stats *stats;
    uv_signal_t sigint, sigterm, sigusr1;
    uv_check_t broker_shown;    /* until the embedded broker's URL is printed */
    uv_timer_t waiting;         /* "waiting for ..." until the --graph is first up */
    uv_prepare_t log_turn;      /* writes the turn's debug lines before the loop waits */
    uint64_t graph_loaded;      /* uv_now() when --graph was loaded */
    bool up;                    /* the first "graph up" line was printed */
    struct live_progress shown; /* what the last "graph" line said */
    int status;
};

/* Adds the comma-separated origins of `csv`, each checked. Returns 0 or -1. */
static int add_origins(struct cli_list *l, const char *csv)
{
    size_t first = l->n;
    if (!*csv || cli__list_add_csv(l, csv) != 0)
        return -1;
    for (size_t i = first; i < l->n; i++) {
        char origin[ORIGIN_MAX];
        if (strcmp(l->items[i], "*") != 0 &&
            origin__normalize(l->items[i], true, origin, sizeof origin) != 0)
            return -1;
    }
    return 0;
}

/* An option with a number. Returns -1 to go on, else the exit status. */
static int number_option(const struct cli *c, struct options *o)
{
    const char *value = c->value;
    long n;
    double secs;
    switch (c->opt->id) {
    case OPT_PORT:
        if (!cli__number(value, 0, 65535, &n))
            return cli__usage_error(&spec, "--port: '%s' is not a port number (0-65535)", value);
        o->server.port = (int)n;
        break;
    case OPT_WAIT_TIMEOUT:
        if (!cli__seconds(value, &secs) || secs > 86400)
            return cli__usage_error(&spec, "--wait-timeout: '%s' is not a number of seconds",
                                    value);
        o->coord.start_timeout_ms = (unsigned)(secs * 1000);
        break;
    case OPT_EXPIRE_PERIODS:
        if (!cli__number(value, 0, 1000000, &n))
            return cli__usage_error(&spec, "--expire-periods: '%s' is not a whole number", value);
        o->coord.expire_periods = (unsigned)n;
        o->coord.expire_periods_set = true;
        break;
    default: {
        if (!cli__number(value, 1, 1000000000, &n))
            return cli__usage_error(&spec, "--%s: not a whole number from 1: %s", c->opt->name,
                                    value);
        int id = c->opt->id;
        size_t *limit = id == OPT_DISCOVERY_MAX_BYTES ? &o->coord.max_discovery_bytes
                        : id == OPT_MAX_PARTICIPANTS  ? &o->coord.max_participants
                                                      : &o->coord.max_components;
        *limit = (size_t)n;
    }
    }
    return -1;
}

/* One option of the table. Returns -1 to go on, else the exit status. */
static int option(const struct cli *c, struct options *o)
{
    const char *value = c->value;
    char origin[ORIGIN_MAX];
    switch (c->opt->id) {
    case OPT_AUTO_SAVE:
        o->auto_save = c->flag;
        break;
    case OPT_ALLOW_COMPONENT_WRITE:
        o->coord.allow_component_write = c->flag;
        break;
    case OPT_SHELL:
        o->coord.shell = value && *value ? value : "sh";
        break;
    case OPT_FORWARD:
        if (supervisor__parse_forward(value ? value : "stderr,stdout", &o->coord.forward) != 0)
            return cli__usage_error(&spec, "--forward takes stdout and/or stderr, not '%s'", value);
        break;
    case OPT_HOST:
        o->server.host = value;
        break;
    case OPT_LISTEN:
        o->server.listen = value;
        break;
    case OPT_IDE:
        if (origin__normalize(value, true, origin, sizeof origin) != 0)
            return cli__usage_error(&spec, "--ide: '%s' is not a URL (scheme://host[:port]/...)",
                                    value);
        o->server.ide = value;
        break;
    case OPT_ALLOW_ORIGIN:
        if (add_origins(&o->allow_origins, value) != 0)
            return cli__usage_error(
                &spec, "--allow-origin: '%s' is not an origin (scheme://host[:port]) or '*'",
                value);
        break;
    case OPT_RUNTIME_ID:
        o->server.id = value;
        break;
    case OPT_SECRET:
        o->server.secret = value;
        break;
    case OPT_NETWORK_RUNNING:
        if (strcmp(value, "started") == 0)
            o->network_running = LIVE_RUNNING_STARTED;
        else if (strcmp(value, "busy") == 0)
            o->network_running = LIVE_RUNNING_BUSY;
        else
            return cli__usage_error(&spec, "--network-running takes started or busy, not '%s'",
                                    value);
        break;
    case OPT_BROKER:
        o->coord.broker = value;
        break;
    case OPT_GRAPH:
        o->graph = value;
        break;
    case OPT_LIBRARY:
        o->library = value;
        break;
    case OPT_COMPONENTDIR:
        o->componentdir = *value ? value : NULL;
        break;
    case OPT_IGNORE:
        if (cli__list_add_csv(&o->ignore, value) != 0)
            return cli__usage_error(&spec, "too many roles in --ignore");
        break;
    case OPT_PING:
        fprintf(stderr, "msgflo: --%s is not supported (no reports to Flowhub); ignored\n",
                c->opt->name);
        break;
    default:
        return number_option(c, o);
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it != CLI_OPTION)
            return cli__stop(&c, it);
        int status = option(&c, o);
        if (status >= 0)
            return status;
    }
    if (o->auto_save && !o->graph)
        return cli__usage_error(&spec, "--auto-save needs --graph");
    return -1;
}

/* 128 random bits as hex: the secret when none is given. */
#define SECRET_BYTES 16
static int random_secret(char out[SECRET_BYTES * 2 + 1])
{
    unsigned char bytes[SECRET_BYTES];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "msgflo: cannot make a secret: getrandom: %s\n", strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

/* Ids and secrets from the environment or made up, origins checked, the
 * broker resolved and checked. uuid and secret hold what is made up. Returns
 * 0, or the exit status (1: no secret could be made; 2: a bad broker URL). */
static int complete_options(struct options *o, char uuid[37], char secret[SECRET_BYTES * 2 + 1])
{
    if (!o->server.id || !*o->server.id)
        o->server.id = getenv("MSGFLO_RUNTIME_ID");
    o->coord.runtime_id_stable = o->server.id && *o->server.id;
    if (!o->server.id || !*o->server.id) {
        uuid_t uu;
        uuid_generate_random(uu);
        uuid_unparse_lower(uu, uuid);
        o->server.id = uuid;
    }
    if (!o->server.secret && getenv("MSGFLO_SECRET") && *getenv("MSGFLO_SECRET"))
        o->server.secret = getenv("MSGFLO_SECRET");
    if (!o->server.secret) {
        if (random_secret(secret) != 0)
            return 1;
        o->server.secret = secret;
    } else if (!*o->server.secret) {
        fprintf(stderr, "msgflo: warning: --secret '': no secret, any client that can connect "
                        "may change the graph and start components\n");
        o->server.secret = NULL;
    }
    if (o->allow_origins.n) {
        o->server.allow_origins = o->allow_origins.items;
        for (size_t i = 0; i < o->allow_origins.n; i++) {
            if (strcmp(o->allow_origins.items[i], "*") == 0)
                fprintf(stderr, "msgflo: warning: --allow-origin '*': any web page open in a "
                                "browser that reaches this port may connect\n");
        }
    }
    o->coord.broker = msgflo_url_resolve(o->coord.broker);
    o->server.no_setsource = !o->coord.allow_component_write;
    char why[512];
    const char *broker = o->coord.broker && *o->coord.broker ? o->coord.broker : NULL;
    if (cli__check_broker(broker, why, sizeof why) != 0) {
        fprintf(stderr, "msgflo: %s\n", why);
        return 2;
    }
    return 0;
}

static void print_output(const char *role, enum supervisor_stream stream, const char *line,
                         size_t len, void *ud)
{
    (void)ud;
    FILE *f = stream == SUPERVISOR_STDOUT ? stdout : stderr;
    fprintf(f, "%s: %.*s\n", role, (int)len, line);
    fflush(f);
}

static json_t *graph_snapshot(void *ud)
{
    struct app *app = ud;
    return app->live ? live__graph_json(app->live) : NULL;
}

static void system_metrics(void *ud, struct strbuf *out)
{
    struct app *app = ud;
    if (app->live)
        live__metrics(app->live, out);
}

static void graph_changed(void *ud)
{
    struct app *app = ud;
    if (app->autosave)
        autosave__changed(app->autosave);
}

/* Tears down in order; every part may be missing (a failed start). */
static void shutdown_app(struct app *app)
{
    log__hold_end(&app->log_turn);
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->sigusr1, NULL);
    uv_close((uv_handle_t *)&app->broker_shown, NULL);
    uv_close((uv_handle_t *)&app->waiting, NULL);
    loop_stats__free(app->stats);
    app->stats = NULL;
    /* Save first, while the graph is whole; then no more events reach the
     * live layer, which goes before the protocol it is registered on. */
    autosave__close(app->autosave);
    app->autosave = NULL;
    if (app->coord) {
        struct system *sys = coordinator__system(app->coord);
        memset(&sys->events, 0, sizeof sys->events);
    }
    live__free(app->live);
    app->live = NULL;
    runtime__close(app->rt, NULL, NULL);
    app->rt = NULL;
    coordinator__close(app->coord, NULL, NULL); /* stops what it started */
    app->coord = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *app = h->data;
    log__flush();
    fprintf(stderr, "msgflo: %s, shutting down\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown_app(app);
}

/* Without --broker the coordinator starts a private mosquitto on a free port:
 * say where, once it listens, so that clients can be pointed at it. */
static void show_embedded_broker(uv_check_t *h)
{
    struct app *app = h->data;
    const char *url = app->coord ? coordinator__broker_url(app->coord) : NULL;
    if (!url)
        return;
    fprintf(stderr, "msgflo: started the embedded broker %s\n", url);
    uv_check_stop(h);
}

#define WAITING_EVERY_MS 5000 /* at most one "waiting for" line per this */

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* While --graph is set up, the roles not seen yet, so a person waiting
 * knows why (as msgflo-setup says it). */
static void show_waiting(uv_timer_t *t)
{
    struct app *app = t->data;
    char missing[1024];
    struct live_progress p;
    if (app->up || !app->live || !coordinator__connected(app->coord))
        return;
    live__progress(app->live, &p, missing, sizeof missing);
    if (*missing)
        fprintf(stderr, "msgflo: waiting for %s (%llu s)\n", missing,
                (unsigned long long)((uv_now(app->loop) - app->graph_loaded) / 1000));
}

/* The system settled: one line when --graph is first up, then one only
 * when a later settle leaves a different picture (docs/msgflo.md says why). */
static void show_settled(void *ud)
{
    struct app *app = ud;
    char missing[1024];
    struct live_progress p;
    live__progress(app->live, &p, missing, sizeof missing);
    if (app->up && memcmp(&p, &app->shown, sizeof p) == 0)
        return;
    bool whole = p.running == p.nodes && p.bound == p.edges;
    char counts[128];
    if (whole)
        snprintf(counts, sizeof counts, "%zu %s, %zu %s bound", p.nodes,
                 plural(p.nodes, "participant", "participants"), p.edges,
                 plural(p.edges, "edge", "edges"));
    else
        snprintf(counts, sizeof counts, "%zu of %zu participants, %zu of %zu %s bound", p.running,
                 p.nodes, p.bound, p.edges, plural(p.edges, "edge", "edges"));
    if (!app->up)
        fprintf(stderr, "msgflo: graph %s: %s (%.1f s)%s%s\n", whole ? "up" : "partly up", counts,
                (double)(uv_now(app->loop) - app->graph_loaded) / 1000,
                *missing ? "; not seen: " : "", missing);
    else
        fprintf(stderr, "msgflo: graph now: %s%s%s\n", counts, *missing ? "; not seen: " : "",
                missing);
    app->up = true;
    app->shown = p;
    uv_timer_stop(&app->waiting);
}

/* SIGUSR1: the longest loop turn since the last report (benchmarks). */
static void on_report(uv_signal_t *h, int signum)
{
    struct app *app = h->data;
    (void)signum;
    uint64_t max_ns = 0, max_cpu_ns = 0, turns = 0;
    if (app->stats)
        loop_stats__take(app->stats, &max_ns, &max_cpu_ns, &turns);
    fprintf(stderr,
            "msgflo: loop: longest turn %.3f ms (most CPU in a turn %.3f ms) of %llu turns\n",
            (double)max_ns / 1e6, (double)max_cpu_ns / 1e6, (unsigned long long)turns);
}

/* The app's own handles: signals, loop statistics, the embedded broker's URL. */
static void init_handles(struct app *app)
{
    uv_signal_init(app->loop, &app->sigint);
    uv_signal_init(app->loop, &app->sigterm);
    uv_signal_init(app->loop, &app->sigusr1);
    uv_check_init(app->loop, &app->broker_shown);
    uv_timer_init(app->loop, &app->waiting);
    app->sigint.data = app->sigterm.data = app->sigusr1.data = app->broker_shown.data = app;
    app->waiting.data = app;
    if (loop_stats__new(app->loop, &app->stats) != 0)
        app->stats = NULL;                               /* SIGUSR1 then reports nothing */
    (void)log__hold_per_turn(app->loop, &app->log_turn); /* else lines one by one */
}

static void start_handles(struct app *app, bool embedded_broker, bool graph)
{
    if (graph) {
        uv_update_time(app->loop);
        app->graph_loaded = uv_now(app->loop);
        uv_timer_start(&app->waiting, show_waiting, WAITING_EVERY_MS, WAITING_EVERY_MS);
        live__on_settled(app->live, show_settled, app);
    }
    uv_signal_start(&app->sigint, on_signal, SIGINT);
    uv_signal_start(&app->sigterm, on_signal, SIGTERM);
    uv_signal_start(&app->sigusr1, on_report, SIGUSR1);
    uv_unref((uv_handle_t *)&app->sigusr1);
    if (embedded_broker)
        uv_check_start(&app->broker_shown, show_embedded_broker);
}

static int load_graph(struct app *app, const char *path)
{
    struct graph *g = NULL;
    struct graph_error gerr = {0};
    int rc = graph__load_file(path, false, &g, &gerr);
    if (rc != 0) {
        fprintf(stderr, "msgflo: %s\n", gerr.message);
        return rc;
    }
    char err[512] = "";
    rc = live__load_graph(app->live, g, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "msgflo: %s: %s\n", path, *err ? err : msgflo_strerror(rc));
    graph__free(g);
    return rc;
}

static int start(struct app *app, struct options *o)
{
    char err[512] = "";
    int rc = library__load(o->library, o->componentdir, &app->library, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "msgflo: %s\n", err);
        return rc;
    }
    o->server.namespace_ = library__namespace(app->library);
    o->server.repository = library__repository(app->library);
    rc = runtime__new(app->loop, &o->server, &app->rt);
    if (rc != 0) {
        fprintf(stderr, "msgflo: cannot start the runtime on %s port %d: %s\n", o->server.listen,
                o->server.port, msgflo_strerror(rc));
        return rc;
    }
    o->coord.library = app->library;
    o->coord.ignore = o->ignore.items;
    o->coord.runtime_id = o->server.id;
    o->coord.on_output = print_output;
    rc = coordinator__new(app->loop, &o->coord, &app->coord, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "msgflo: %s\n", *err ? err : msgflo_strerror(rc));
        return rc;
    }
    struct system *sys = coordinator__system(app->coord);
    rc = live__new(runtime__protocol(app->rt), sys, &app->live);
    if (rc != 0)
        return rc;
    sys->events = *live__system_events();
    sys->ud = app->live;
    live__set_running(app->live, o->network_running);
    runtime__set_metrics(app->rt, system_metrics, app);
    if (o->graph && (rc = load_graph(app, o->graph)) != 0)
        return rc;
    if (o->auto_save) {
        rc = autosave__new(app->loop, o->graph, 0, graph_snapshot, app, &app->autosave);
        if (rc != 0)
            return rc;
        live__on_change(app->live, graph_changed, app);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {
        .server = {.host = "localhost",
                   .listen = "127.0.0.1",
                   .port = 3569,
                   .ide = "http://app.flowhub.io"},
        .coord = {.forward = SUPERVISOR_FORWARD_BOTH, .start_timeout_ms = 45000, .restart = true},
    };
    struct app app = {.loop = uv_default_loop(), .status = 1};
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        goto out;
    char uuid[37], secret[SECRET_BYTES * 2 + 1];
    if ((status = complete_options(&o, uuid, secret)) != 0)
        goto out;
    status = 1;

    signal(SIGPIPE, SIG_IGN); /* a client hanging up: EPIPE, not death */
#if defined(__GLIBC__)
    /* Blocks of 128 KiB and more always come from mmap and go back to the
     * system when freed. glibc's default raises this threshold to the size
     * of the biggest block freed (up to 32 MiB), so after a few big messages
     * (a 10 MB discovery message, read whole by the broker client before it
     * is refused) each one would stay in the heap. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    init_handles(&app);
    if (start(&app, &o) != 0) {
        shutdown_app(&app);
        goto out;
    }
    start_handles(&app, !o.coord.broker || !*o.coord.broker, o.graph != NULL);

    printf("msgflo started on %s\n", runtime__address(app.rt));
    printf("Open in Flowhub: %s\n", runtime__flowhub_url(app.rt));
    printf("Live view: %s\n", runtime__live_url(app.rt));
    fflush(stdout); /* fbp-test waits for the first line on a pipe */

    uv_run(app.loop, UV_RUN_DEFAULT);
    status = 0;
out:
    /* Let close callbacks run, then release the loop. */
    uv_run(app.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(app.loop) != 0)
        fprintf(stderr, "msgflo: event loop still had open handles at exit\n");
    library__free(app.library);
    cli__list_cleanup(&o.ignore);
    cli__list_cleanup(&o.allow_origins);
    return status;
}
