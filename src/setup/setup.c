/* msgflo-setup's work: a client of the coordinator; see setup.h.
 *
 * The graph file becomes the coordinator's nodes, edges and IIPs (system.h);
 * the coordinator starts the processes, binds the edges, delivers the IIPs
 * and restarts what crashes. This file decides only what to ask for (which
 * roles to start, by convention or by discovery), checks the outcome once
 * the coordinator has settled, and prints it as the original did. */
#include "setup/setup.h"

#include "binding/bindings.h"
#include "coord/coordinator.h"
#include "process/embedded_broker.h"
#include "library/library.h"
#include "coord/registry.h"
#include "core/log.h"
#include "graph/graph_file.h"
#include "msgflo/errors.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:setup"

#define PROGRESS_MS 5000 /* at most one "waiting for" line per this */

struct setup {
    const struct setup_options *o;
    uv_loop_t loop;
    struct graph *g;
    struct library *lib;
    const char **started; /* roles started, in the original's order (NULL-terminated) */
    const char **ignored; /* roles not started (NULL-terminated) */
    bool *starts;         /* per g->processes: started (not a scan of `ignored`) */
    struct bindings roundrobin;
    struct embedded_broker *broker;
    struct coordinator *c;
    struct http_server *metrics; /* --metrics-port, NULL: none */
    /* per g->processes, then per g->connections: the coordinator's status
     * caches for /metrics (no lookup by name per node and edge); NULL until
     * the first request */
    struct system_status_ref *status_refs;
    json_t *bound;      /* {src_role \x1f src_port \x1f tgt_role \x1f tgt_port: [sq, tq]} */
    char refused[1024]; /* the first binding refused */
    size_t n_refused;
    uv_signal_t sigint, sigterm;
    uv_timer_t deadline; /* connecting */
    uv_timer_t progress; /* "waiting for ..." while roles are not seen */
    uint64_t started_at;
    bool handles, reported, finishing;
    bool probing; /* without --forever: connected first, the graph not yet submitted */
    int status;
};

static void say(struct setup *s, enum setup_output where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct setup *s, enum setup_output where, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->o->print)
        s->o->print(where, line, s->o->userdata);
}

static bool in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++) {
        if (strcmp(*list, name) == 0)
            return true;
    }
    return false;
}

/* --- finishing ---------------------------------------------------------------- */

static void on_broker_stopped(struct embedded_broker *b, void *ud)
{
    (void)b;
    (void)ud;
}

static void on_coordinator_closed(void *ud)
{
    struct setup *s = ud;
    s->c = NULL;
    if (s->broker)
        embedded_broker__stop(s->broker, on_broker_stopped, s);
}

static void finish(struct setup *s, int status)
{
    if (s->finishing)
        return;
    s->finishing = true;
    s->status = status;
    if (s->handles) {
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        uv_close((uv_handle_t *)&s->deadline, NULL);
        uv_close((uv_handle_t *)&s->progress, NULL);
        s->handles = false;
    }
    http_server__close(s->metrics, NULL, NULL);
    s->metrics = NULL;
    if (s->c)
        coordinator__close(s->c, on_coordinator_closed, s); /* stops the participants */
    else
        on_coordinator_closed(s);
}

static void on_flushed(void *ud)
{
    finish(ud, 0);
}

/* --- the outcome ---------------------------------------------------------------- */

static char *edge_key(const char *sr, const char *sp, const char *tr, const char *tp)
{
    size_t len = strlen(sr) + strlen(sp) + strlen(tr) + strlen(tp) + 4;
    char *key = malloc(len);
    if (key)
        snprintf(key, len, "%s\x1f%s\x1f%s\x1f%s", sr, sp, tr, tp);
    return key;
}

/* The bindings made, as the original prints them: the graph's edges in
 * order, then the roundrobin bindings. */
static char *binding_lines(struct setup *s)
{
    struct bindings b = {
        .items = calloc(s->g->n_connections + s->roundrobin.count + 1, sizeof *b.items)};
    if (!b.items)
        return NULL;
    for (size_t i = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *x = &s->g->connections[i];
        if (x->data)
            continue;
        char *key = edge_key(x->src.process, x->src.port, x->tgt.process, x->tgt.port);
        json_t *q = key ? json_object_get(s->bound, key) : NULL;
        free(key);
        if (q)
            b.items[b.count++] = (struct binding){
                .type = BINDING_PUBSUB,
                .src = (char *)json_string_value(json_array_get(q, 0)),
                .tgt = (char *)json_string_value(json_array_get(q, 1)),
            };
    }
    for (size_t i = 0; i < s->roundrobin.count; i++)
        b.items[b.count++] = s->roundrobin.items[i];
    char *lines = bindings__format(&b);
    free(b.items); /* the strings are borrowed */
    return lines;
}

/* Participants of the graph that were never discovered, "a, b"; false when none. */
static bool missing_roles(struct setup *s, char *out, size_t len)
{
    const struct registry *reg = coordinator__registry(s->c);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->g->n_processes; i++) {
        const struct graph_process *p = &s->g->processes[i];
        if (!library__is_participant(p->component) || registry__role_instances(reg, p->name) > 0)
            continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", p->name);
        if (n > 0 && (size_t)n < len - used)
            used += (size_t)n;
    }
    return used > 0;
}

/* IIPs whose target never appeared are named; true when there was one. */
static bool undelivered_iips(struct setup *s)
{
    const struct registry *reg = coordinator__registry(s->c);
    bool any = false;
    for (size_t i = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *x = &s->g->connections[i];
        if (!x->data || json_is_null(x->data) || registry__role_instances(reg, x->tgt.process) > 0)
            continue;
        say(s, SETUP_STDERR,
            "msgflo-setup: IIP for %s.%s not delivered: participant '%s' never appeared",
            x->tgt.process, x->tgt.port, x->tgt.process);
        any = true;
    }
    return any;
}

static void print_participants(struct setup *s)
{
    /* console.log('Set up participants', Object.keys(p)) in the original */
    char list[4096] = "[";
    size_t used = 1;
    for (size_t i = 0; s->started[i]; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s'%s'", i ? ", " : " ", s->started[i]);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
    }
    snprintf(list + used, sizeof list - used, "%s]", s->started[0] ? " " : "");
    say(s, SETUP_STDOUT, "Set up participants %s", list);
}

static int submit(struct setup *s);

/* Whether the graph connects participants (edges that become bindings). */
static bool has_edges(const struct setup *s)
{
    for (size_t i = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *x = &s->g->connections[i];
        if (!x->data)
            return true;
    }
    return s->roundrobin.count > 0;
}

static const char needs_forever[] =
    "msgflo-setup: on MQTT the bindings are made by this process forwarding messages; "
    "they end when it exits. Run with --forever to keep them (or load the broker's "
    "router, docs/msgrouter.md).";

/* Without --forever, connected and the router looked for: refuse a graph
 * whose bindings would end with this process before starting anything. */
static void probed(struct setup *s)
{
    s->probing = false;
    if (has_edges(s) && coordinator__forwards(s->c)) {
        say(s, SETUP_STDERR, "%s", needs_forever);
        finish(s, 1);
        return;
    }
    if (submit(s) != 0)
        finish(s, 1);
}

/* The coordinator has done what it could: report, then exit or keep running. */
static void on_settled(void *ud)
{
    struct setup *s = ud;
    if (s->probing && !s->finishing) {
        probed(s);
        return;
    }
    if (s->reported || s->finishing)
        return; /* --forever: restarts settle again, reported by the coordinator */
    s->reported = true;
    uv_timer_stop(&s->progress);
    print_participants(s);
    char missing[1024];
    if (s->o->discover && missing_roles(s, missing, sizeof missing)) {
        say(s, SETUP_STDERR, "msgflo-setup: participant discovery timed out; never seen: %s",
            missing);
        finish(s, 1);
        return;
    }
    if (s->n_refused > 0) {
        say(s, SETUP_STDERR, "msgflo-setup: setting up bindings failed: %zu refused, first %s",
            s->n_refused, s->refused);
        finish(s, 1);
        return;
    }
    if (coordinator__bindings_need_process(s->c) && !s->o->forever) {
        say(s, SETUP_STDERR, "%s", needs_forever);
        finish(s, 1);
        return;
    }
    char *lines = binding_lines(s);
    /* console.log('Set up bindings:\n', lines) in the original */
    say(s, SETUP_STDOUT, "Set up bindings:\n %s", lines ? lines : "");
    free(lines);
    if (undelivered_iips(s) && !s->o->forever) {
        finish(s, 1);
        return;
    }
    if (s->o->forever) {
        say(s, SETUP_STDOUT, "--forever enabled, keeping alive");
        return;
    }
    if (coordinator__when_flushed(s->c, on_flushed, s) != 0) /* the IIPs on the broker */
        finish(s, 1);
}

/* --- the coordinator's reports ---------------------------------------------------- */

static void on_edge_bound(void *ud, const char *sr, const char *sp, const char *tr, const char *tp,
                          const char *sq, const char *tq, const char *error)
{
    struct setup *s = ud;
    if (error) {
        if (s->n_refused++ == 0)
            snprintf(s->refused, sizeof s->refused, "%s -> %s: %s", sq ? sq : "?", tq ? tq : "?",
                     error);
        return;
    }
    char *key = sr ? edge_key(sr, sp, tr, tp) : NULL;
    if (key)
        json_object_set_new(s->bound, key, json_pack("[ss]", sq, tq));
    free(key);
}

static void on_error(void *ud, const char *message)
{
    struct setup *s = ud;
    say(s, SETUP_STDERR, "msgflo-setup: %s", message); /* each refusal, a lost connection */
}

static void on_process_error(void *ud, const char *role, const char *message)
{
    struct setup *s = ud;
    say(s, SETUP_STDERR, "msgflo-setup: %s", message);
    if (coordinator__start_failed(s->c, role))
        finish(s, 1); /* a participant that did not start */
}

static void on_output(const char *role, enum supervisor_stream stream, const char *line, size_t len,
                      void *ud)
{
    struct setup *s = ud;
    say(s, stream == SUPERVISOR_STDOUT ? SETUP_STDOUT : SETUP_STDERR, "%s: %.*s", role, (int)len,
        line);
}

/* SIGINT/SIGTERM: the normal end of --forever. */
static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    finish(h->data, 0);
}

/* Says which roles it still waits for, so a person waiting knows why. */
static void on_progress(uv_timer_t *t)
{
    struct setup *s = t->data;
    char missing[1024];
    if (s->reported || s->finishing || !coordinator__connected(s->c) ||
        !missing_roles(s, missing, sizeof missing))
        return;
    say(s, SETUP_STDERR, "msgflo-setup: waiting for %s (%llu s)", missing,
        (unsigned long long)((uv_now(&s->loop) - s->started_at) / 1000));
}

static void on_deadline(uv_timer_t *t)
{
    struct setup *s = t->data;
    if (coordinator__connected(s->c))
        return;
    say(s, SETUP_STDERR, "msgflo-setup: could not reach the broker %s within %u s",
        coordinator__broker_url(s->c) ? coordinator__broker_url(s->c) : "",
        s->o->timeout_ms / 1000);
    finish(s, 1);
}

/* --- the graph ------------------------------------------------------------------ */

/* Loads graph and library; decides which roles start; checks their commands. */
static int prepare(struct setup *s)
{
    struct graph_error gerr = {0};
    char err[1024] = "";
    int rc = graph__load_file(s->o->graph_path, false, &s->g, &gerr);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", gerr.message);
        return rc;
    }
    /* without --participants nothing is started: no library to read */
    rc = s->o->participants
             ? library__load(s->o->library, s->o->componentdir, &s->lib, err, sizeof err)
             : library__from_json(NULL, NULL, "/nonexistent", &s->lib, err, sizeof err);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", err);
        return rc;
    }
    size_t n = s->g->n_processes;
    size_t *order = library__process_order(s->g);
    s->started = calloc(n + 1, sizeof *s->started);
    s->ignored = calloc(n + 1, sizeof *s->ignored);
    s->starts = calloc(n + 1, sizeof *s->starts);
    s->bound = json_object();
    if ((n && !order) || !s->started || !s->ignored || !s->starts || !s->bound) {
        free(order);
        return MSGFLO_ENOMEM;
    }
    size_t n_started = 0, n_ignored = 0;
    for (size_t k = 0; k < n; k++) {
        const struct graph_process *p = &s->g->processes[order[k]];
        if (!library__is_participant(p->component))
            continue;
        if (!s->o->participants || (s->o->only && !in_list(s->o->only, p->name)) ||
            in_list(s->o->ignore, p->name)) {
            s->ignored[n_ignored++] = p->name;
            continue;
        }
        /* a component without a command is an error here, not a role
         * expected to run elsewhere (as the coordinator takes it) */
        char *cmd = NULL;
        rc = library__command(s->lib, p->component, p->name, NULL, &cmd, err, sizeof err);
        free(cmd);
        if (rc) {
            say(s, SETUP_STDERR, "msgflo-setup: %s", err[0] ? err : msgflo_strerror(rc));
            free(order);
            return rc;
        }
        s->started[n_started++] = p->name;
        s->starts[order[k]] = true;
    }
    free(order);
    /* the pubsub bindings are the coordinator's edges; the roundrobin ones
     * (msgflo/RoundRobin nodes) go to it by queue names */
    struct bindings all;
    rc = bindings__from_graph(s->g, &all);
    if (rc)
        return rc;
    s->roundrobin.items = calloc(all.count + 1, sizeof *s->roundrobin.items);
    for (size_t i = 0; i < all.count; i++) {
        struct binding *x = &all.items[i];
        if (x->type == BINDING_ROUNDROBIN && s->roundrobin.items) {
            s->roundrobin.items[s->roundrobin.count++] = *x; /* takes its strings */
            continue;
        }
        free(x->src);
        free(x->tgt);
        free(x->deadletter);
    }
    free(all.items);
    return s->roundrobin.items ? 0 : MSGFLO_ENOMEM;
}

/* The graph as the coordinator's nodes, edges and IIPs. */
static int submit(struct setup *s)
{
    struct system *sys = coordinator__system(s->c);
    char err[512] = "";
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->g->n_processes; i++) {
        const struct graph_process *p = &s->g->processes[i];
        /* a role not started is waited for only with --discover */
        if (library__is_participant(p->component) && (s->o->discover || s->starts[i]))
            rc = sys->ops->add_node(sys->self, p->name, p->component, err, sizeof err);
    }
    for (size_t i = 0; rc == 0 && i < s->g->n_connections; i++) {
        const struct graph_connection *x = &s->g->connections[i];
        if (x->data) {
            if (!json_is_null(x->data))
                rc = sys->ops->add_initial(sys->self, x->tgt.process, x->tgt.port, x->data, err,
                                           sizeof err);
            continue;
        }
        const struct graph_process *sp = graph__find_process(s->g, x->src.process),
                                   *tp = graph__find_process(s->g, x->tgt.process);
        if (sp && tp && library__is_participant(sp->component) &&
            library__is_participant(tp->component))
            rc = sys->ops->add_edge(sys->self, x->src.process, x->src.port, x->tgt.process,
                                    x->tgt.port, err, sizeof err);
    }
    for (size_t i = 0; rc == 0 && i < s->roundrobin.count; i++)
        rc = coordinator__add_binding(s->c, &s->roundrobin.items[i]);
    if (rc == 0)
        rc = sys->ops->start(sys->self, err, sizeof err);
    if (rc)
        say(s, SETUP_STDERR, "msgflo-setup: %s", err[0] ? err : msgflo_strerror(rc));
    return rc;
}

/* --- /metrics (--forever --metrics-port) ---------------------------------------- */

/* The graph's participant nodes by state and its edges bound or not, as the
 * coordinator knows them, and its counters. */
static void write_metrics(struct setup *s, struct strbuf *sb)
{
    struct system *sys = coordinator__system(s->c);
    size_t n_nodes = s->g->n_processes;
    if (!s->status_refs)
        s->status_refs = calloc(n_nodes + s->g->n_connections + 1, sizeof *s->status_refs);
    struct system_status_ref *refs = s->status_refs; /* NULL (out of memory): lookups */
    size_t by_state[METRICS_N_STATES] = {0};
    for (size_t i = 0; i < n_nodes; i++) {
        const struct graph_process *p = &s->g->processes[i];
        if (!library__is_participant(p->component))
            continue;
        struct system_role_status st = {.state = "expected"};
        if (refs && sys->ops->role_status_ref)
            sys->ops->role_status_ref(sys->self, p->name, &refs[i], &st);
        else
            sys->ops->role_status(sys->self, p->name, &st);
        metrics__count_state(by_state, st.state);
    }
    metrics__nodes(sb, by_state);
    struct system_counters c;
    sys->ops->counters(sys->self, &c);
    metrics__counters(sb, &c);
    size_t bound = 0, unbound = 0;
    for (size_t i = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *x = &s->g->connections[i];
        if (x->data)
            continue;
        bool b;
        unsigned long long messages;
        if (refs && sys->ops->edge_status_ref)
            sys->ops->edge_status_ref(sys->self, x->src.process, x->src.port, x->tgt.process,
                                      x->tgt.port, &refs[n_nodes + i], &b, &messages);
        else
            sys->ops->edge_status(sys->self, x->src.process, x->src.port, x->tgt.process,
                                  x->tgt.port, &b, &messages);
        bound += b;
        unbound += !b;
    }
    metrics__edges(sb, bound, unbound);
}

static void on_metrics_request(struct http_server *hs, const struct http_request *req,
                               struct http_response *resp, void *ud)
{
    (void)hs;
    struct setup *s = ud;
    if (strcmp(req->path, "/metrics") != 0 || !s->c)
        return; /* 404 */
    struct strbuf sb;
    strbuf__init(&sb);
    metrics__process(&sb);
    write_metrics(s, &sb);
    metrics__respond(resp, &sb);
}

static int serve_metrics(struct setup *s)
{
    static const struct http_server_events events = {.request = on_metrics_request};
    const char *listen = s->o->metrics_listen ? s->o->metrics_listen : "127.0.0.1";
    const struct http_server_options ho = {
        .listen = listen, .port = s->o->metrics_port, .page = "msgflo-setup: see /metrics\n"};
    if (http_server__new(&s->loop, &ho, &events, s, &s->metrics) != 0) {
        say(s, SETUP_STDERR, "msgflo-setup: cannot serve metrics on %s port %d", listen,
            s->o->metrics_port);
        return MSGFLO_ESYS;
    }
    say(s, SETUP_STDOUT, "Metrics on http://%s:%d/metrics", listen, http_server__port(s->metrics));
    return 0;
}

static void cleanup(struct setup *s)
{
    embedded_broker__free(s->broker);
    library__free(s->lib);
    graph__free(s->g);
    bindings__cleanup(&s->roundrobin);
    json_decref(s->bound);
    free(s->started);
    free(s->ignored);
    free(s->starts);
    free(s->status_refs);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
}

static int start_broker(struct setup *s, const char **url)
{
    char err[1024];
    int rc = embedded_broker__start(&s->loop, NULL, NULL, NULL, &s->broker);
    if (rc == 0)
        rc = embedded_broker__wait(s->broker, err, sizeof err);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: no broker configured and the embedded one failed: %s",
            rc == MSGFLO_ENOMEM ? "out of memory" : err);
        return rc;
    }
    *url = embedded_broker__url(s->broker);
    say(s, SETUP_STDOUT, "Started embedded broker %s", *url);
    return 0;
}

/* The hash of the graph's real path: with the prefix "msgflo-setup" it names
 * this deployment in the broker (a kept MQTT session, clean=false) and among
 * processes (orphans of an earlier run of the same graph are stopped), the
 * same for every run of the same graph file. */
static void deployment_id(const char *graph_path, char *buf, size_t len)
{
    char *real = realpath(graph_path, NULL);
    const char *name = real ? real : graph_path;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    free(real);
    snprintf(buf, len, "%08x", (unsigned)h);
}

int setup__run(const struct setup_options *o)
{
    struct setup st = {.o = o};
    struct setup *s = &st;
    uv_loop_init(&s->loop);
    const char *url = o->broker;
    if (prepare(s) != 0 || (!url && start_broker(s, &url) != 0)) {
        cleanup(s);
        return 1;
    }
    char deployment[16];
    deployment_id(o->graph_path, deployment, sizeof deployment);
    const struct coordinator_options co = {
        .broker = url,
        .runtime_id = deployment,
        .runtime_id_stable = true,
        .clean_session = !o->forever, /* exits once set up: nobody comes back to a session */
        .library = s->lib,
        .ignore = s->ignored,
        .forward = o->forward,
        .on_output = on_output,
        .output_userdata = s,
        .shell = o->shell,
        .restart = o->forever,
        .start_timeout_ms = o->timeout_ms,
        .expire_periods_set = true, /* 0: never, as the original */
        .client_prefix = "msgflo-setup",
        .bind_by_convention = !o->discover,
        .edges_unwatched = true,
        .every_iip = true,
        .trust_existing = true,
    };
    char err[512];
    if (coordinator__new(&s->loop, &co, &s->c, err, sizeof err) != 0) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", err);
        cleanup(s);
        return 1;
    }
    struct system *sys = coordinator__system(s->c);
    sys->events = (struct system_events){
        .error = on_error,
        .process_error = on_process_error,
        .edge_bound = on_edge_bound,
        .settled = on_settled,
    };
    sys->ud = s;
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_timer_init(&s->loop, &s->deadline);
    uv_timer_init(&s->loop, &s->progress);
    s->sigint.data = s->sigterm.data = s->deadline.data = s->progress.data = s;
    s->handles = true;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->deadline, on_deadline, o->timeout_ms, 0);
    s->started_at = uv_now(&s->loop);
    uv_timer_start(&s->progress, on_progress, PROGRESS_MS, PROGRESS_MS);
    s->probing = !o->forever; /* submitted once the router is known (on_settled) */
    if ((o->forever && o->metrics && serve_metrics(s) != 0) || (!s->probing && submit(s) != 0))
        finish(s, 1);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int status = s->status;
    cleanup(s);
    return status;
}
