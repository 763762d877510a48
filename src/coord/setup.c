/* msgflo-setup's work; see setup.h. */
#include "coord/setup.h"

#include "coord/binder.h"
#include "coord/bindings.h"
#include "coord/discovery.h"
#include "coord/embedded_broker.h"
#include "coord/library.h"
#include "coord/session.h"
#include "coord/supervisor.h"
#include "core/definition.h"
#include "core/log.h"
#include "graph/graph_file.h"
#include "msgflo/errors.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:setup"

struct role_cmd {
    const char *role; /* owned by the graph */
    char *command;
    bool takes_iips; /* the command template passes #IIPS: the participant delivers them */
    bool started;
};

struct iip {
    const struct graph_connection *c; /* owned by the graph */
    bool sent;
};

struct setup {
    const struct setup_options *o;
    uv_loop_t loop;
    struct graph *g;
    struct library *lib;
    struct role_cmd *cmds;
    size_t n_cmds, n_started;
    struct iip *iips;
    size_t n_iips;
    struct supervisor *sup;
    struct embedded_broker *broker;
    struct session *session;
    struct binder *binder;
    json_t *discovered;    /* {role: payload} */
    size_t n_participants; /* processes of the graph that are participants */
    size_t n_seen;         /* of those, how many are in `discovered` */
    uv_timer_t discovery_timer;
    bool timer_ready;
    bool want_discovery;
    bool participants_done, bound, bindings_reported, finishing, said_forever;
    char *binding_lines; /* printed once the forwarding subscriptions are in place */
    char deployment[64]; /* deployment_id() */
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

/* --- finishing ------------------------------------------------------------- */

static void on_broker_stopped(struct embedded_broker *b, void *ud)
{
    (void)b;
    (void)ud;
}

static void on_participants_stopped(struct supervisor *sup, void *ud)
{
    struct setup *s = ud;
    (void)sup;
    if (s->session)
        session__finish(s->session, s->status);
    if (s->broker)
        embedded_broker__stop(s->broker, on_broker_stopped, s);
}

static void finish(struct setup *s, int status)
{
    if (s->finishing)
        return;
    s->finishing = true;
    s->status = status;
    if (s->timer_ready)
        uv_timer_stop(&s->discovery_timer);
    if (s->sup && supervisor__active(s->sup) > 0)
        supervisor__stop_all(s->sup, on_participants_stopped, s);
    else
        on_participants_stopped(s->sup, s);
}

/* --- IIPs ---------------------------------------------------------------------- */

static bool iip_by_participant(const struct setup *s, const char *role)
{
    for (size_t i = 0; i < s->n_cmds; i++) {
        if (strcmp(s->cmds[i].role, role) == 0)
            return s->cmds[i].takes_iips;
    }
    return false;
}

static void maybe_done(struct setup *s);

static size_t iips_pending(const struct setup *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_iips; i++)
        n += !s->iips[i].sent;
    return n;
}

static void send_iips(struct setup *s)
{
    for (size_t i = 0; i < s->n_iips; i++) {
        struct iip *p = &s->iips[i];
        if (p->sent)
            continue;
        const json_t *def = json_object_get(s->discovered, p->c->tgt.process);
        if (!def)
            continue;
        const char *queue = discovery__queue(def, 1, p->c->tgt.port);
        if (!queue) {
            say(s, SETUP_STDERR, "IIP to %s.%s: the participant announced no such inport",
                p->c->tgt.process, p->c->tgt.port);
            p->sent = true;
            continue;
        }
        char *text = json_dumps(p->c->data, JSON_COMPACT | JSON_ENCODE_ANY);
        int rc = text ? transport_send_to_queue(session__transport(s->session), queue, text,
                                                strlen(text))
                      : MSGFLO_ENOMEM;
        free(text);
        if (rc) {
            LOG_WARNING(NS, "sending IIP to %s failed: %s; will retry", queue, msgflo_strerror(rc));
            continue;
        }
        LOG_DEBUG(NS, "IIP sent to %s", queue);
        p->sent = true;
    }
}

/* --- bindings ------------------------------------------------------------------ */

static bool all_discovered(const struct setup *s, char *missing, size_t len)
{
    bool all = true;
    size_t used = 0;
    missing[0] = '\0';
    for (size_t i = 0; i < s->g->n_processes; i++) {
        const struct graph_process *p = &s->g->processes[i];
        if (!library__is_participant(p->component) || json_object_get(s->discovered, p->name))
            continue;
        all = false;
        int n = snprintf(missing + used, len - used, "%s%s", used ? ", " : "", p->name);
        if (n > 0 && (size_t)n < len - used)
            used += (size_t)n;
    }
    return all;
}

/* Whether `role` is one of the graph's participants. */
static bool is_participant(const struct setup *s, const char *role)
{
    const struct graph_process *p = graph__find_process(s->g, role);
    return p && library__is_participant(p->component);
}

static void on_flushed(void *ud);
static void on_bound(void *ud);

static void bind_all(struct setup *s)
{
    struct bindings b;
    char err[512] = "";
    int rc = s->o->discover ? bindings__from_discovery(s->g, s->discovered, &b, err, sizeof err)
                            : bindings__from_graph(s->g, &b);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", err[0] ? err : msgflo_strerror(rc));
        finish(s, 1);
        return;
    }
    rc = binder__add_all(s->binder, b.items, b.count); /* AMQP: one pipelined batch */
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: setting up bindings failed: %s", msgflo_strerror(rc));
        bindings__cleanup(&b);
        finish(s, 1);
        return;
    }
    s->bound = true;
    if (binder__needs_process(s->binder) && !s->o->forever) {
        say(s, SETUP_STDERR,
            "msgflo-setup: on MQTT the bindings are made by this process forwarding messages; "
            "they end when it exits. Run with --forever to keep them.");
        bindings__cleanup(&b);
        finish(s, 1);
        return;
    }
    char *lines = bindings__format(&b);
    bindings__cleanup(&b);
    s->binding_lines = lines;
    /* Report the bindings once the broker has the forwarding subscriptions
     * (MQTT), so a message sent on seeing the report is not lost. */
    if (transport_when_subscribed(session__transport(s->session), on_bound, s) != 0)
        finish(s, 1);
}

static void on_bound(void *ud)
{
    struct setup *s = ud;
    /* console.log('Set up bindings:\n', lines) in the original */
    say(s, SETUP_STDOUT, "Set up bindings:\n %s", s->binding_lines ? s->binding_lines : "");
    free(s->binding_lines);
    s->binding_lines = NULL;
    s->bindings_reported = true;
    maybe_done(s);
}

static void maybe_bind(struct setup *s)
{
    if (s->bound || !s->participants_done || s->finishing)
        return;
    /* counted, not scanned: a scan per discovery message is quadratic */
    if (s->o->discover && s->n_seen < s->n_participants)
        return; /* more discovery messages to come, or the timeout */
    bind_all(s);
}

static void maybe_done(struct setup *s)
{
    if (!s->bindings_reported || s->finishing)
        return;
    send_iips(s);
    if (iips_pending(s) > 0)
        return; /* waiting for targets to be discovered */
    if (s->o->forever) {
        if (!s->said_forever)
            say(s, SETUP_STDOUT, "--forever enabled, keeping alive");
        s->said_forever = true;
        return;
    }
    if (transport_when_flushed(session__transport(s->session), on_flushed, s) != 0)
        finish(s, 1);
}

static void on_flushed(void *ud)
{
    struct setup *s = ud;
    finish(s, 0);
}

static void on_discovery_timeout(uv_timer_t *t)
{
    struct setup *s = t->data;
    char missing[1024];
    if (s->o->discover && !s->bound && !all_discovered(s, missing, sizeof missing)) {
        say(s, SETUP_STDERR, "msgflo-setup: participant discovery timed out; never seen: %s",
            missing);
        finish(s, 1);
        return;
    }
    if (iips_pending(s) > 0) {
        for (size_t i = 0; i < s->n_iips; i++) {
            if (!s->iips[i].sent)
                say(s, SETUP_STDERR,
                    "msgflo-setup: IIP for %s.%s not delivered: participant '%s' never appeared",
                    s->iips[i].c->tgt.process, s->iips[i].c->tgt.port, s->iips[i].c->tgt.process);
        }
        if (!s->o->forever)
            finish(s, 1);
    }
}

/* --- discovery and forwarding -------------------------------------------------- */

static void on_message(struct session *sess, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len, void *ud)
{
    struct setup *s = ud;
    struct transport *t = session__transport(sess);
    if (binder__on_message(s->binder, queue, data, len))
        return;
    if (strcmp(queue, "fbp") != 0)
        return;
    json_t *payload;
    char err[256];
    if (discovery__parse(data, len, &payload, err, sizeof err) != 0) {
        LOG_WARNING(NS, "%s", err); /* dropped, never fatal */
        transport_ack(t, d);
        return;
    }
    transport_ack(t, d);
    const char *role = json_string_value(json_object_get(payload, "role"));
    LOG_DEBUG(NS, "discovered %s", role);
    if (!json_object_get(s->discovered, role) && is_participant(s, role))
        s->n_seen++;
    json_object_set_new(s->discovered, role, payload);
    maybe_bind(s);
    maybe_done(s);
}

/* SIGINT/SIGTERM (a normal way to end --forever) or no broker in time. */
static void on_stopping(struct session *sess, int status, void *ud)
{
    struct setup *s = ud;
    bool signalled = status > 128;
    if (!signalled)
        say(s, SETUP_STDERR, "msgflo-setup: %s", session__error(sess));
    finish(s, signalled ? 0 : status);
}

/* --- participants ---------------------------------------------------------------- */

static void participants_ready(struct setup *s)
{
    /* console.log('Set up participants', Object.keys(p)) in the original */
    char list[4096] = "[";
    size_t used = 1;
    for (size_t i = 0; i < s->n_cmds; i++) {
        int n =
            snprintf(list + used, sizeof list - used, "%s'%s'", i ? ", " : " ", s->cmds[i].role);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
    }
    snprintf(list + used, sizeof list - used, "%s]", s->n_cmds ? " " : "");
    say(s, SETUP_STDOUT, "Set up participants %s", list);
    s->participants_done = true;
    maybe_bind(s);
}

static struct role_cmd *cmd_of(struct setup *s, const char *role)
{
    for (size_t i = 0; i < s->n_cmds; i++) {
        if (strcmp(s->cmds[i].role, role) == 0)
            return &s->cmds[i];
    }
    return NULL;
}

static void on_started(const char *role, const char *line, void *ud)
{
    struct setup *s = ud;
    struct role_cmd *c = cmd_of(s, role);
    LOG_DEBUG(NS, "%s started: %s", role, line);
    if (!c || c->started) {
        /* a restart under --forever: its IIPs again (issue #127 of the original) */
        for (size_t i = 0; i < s->n_iips; i++) {
            if (strcmp(s->iips[i].c->tgt.process, role) == 0 && !iip_by_participant(s, role))
                s->iips[i].sent = false;
        }
        if (json_object_get(s->discovered, role) && is_participant(s, role))
            s->n_seen--;
        json_object_del(s->discovered, role);
        return;
    }
    c->started = true;
    if (++s->n_started == s->n_cmds)
        participants_ready(s);
}

static void on_exit_cb(const char *role, int status, bool will_restart, void *ud)
{
    struct setup *s = ud;
    if (!will_restart) /* a restart is logged by the supervisor itself */
        say(s, SETUP_STDERR, "participant '%s' exited with status %d", role, status);
}

static void on_error(const char *role, const char *message, void *ud)
{
    struct setup *s = ud;
    (void)role;
    say(s, SETUP_STDERR, "msgflo-setup: %s", message);
    finish(s, 1);
}

static void on_output(const char *role, enum supervisor_stream stream, const char *line, size_t len,
                      void *ud)
{
    struct setup *s = ud;
    say(s, stream == SUPERVISOR_STDOUT ? SETUP_STDOUT : SETUP_STDERR, "%s: %.*s", role, (int)len,
        line);
}

static void start_participants(struct setup *s)
{
    if (s->n_cmds == 0) {
        participants_ready(s);
        return;
    }
    static const struct supervisor_callbacks cbs = {
        .on_started = on_started,
        .on_exit = on_exit_cb,
        .on_error = on_error,
    };
    for (size_t i = 0; i < s->n_cmds; i++) {
        int rc = supervisor__start(s->sup, s->cmds[i].role, s->cmds[i].command, &cbs, s);
        if (rc) {
            say(s, SETUP_STDERR, "msgflo-setup: cannot start '%s': %s", s->cmds[i].role,
                msgflo_strerror(rc));
            finish(s, 1);
            return;
        }
    }
}

/* --- connection ------------------------------------------------------------------ */

static void after_subscribed(void *ud)
{
    struct setup *s = ud;
    if (s->participants_done || s->n_started > 0)
        return;
    start_participants(s);
}

static void on_connected(struct session *sess, void *ud)
{
    struct setup *s = ud;
    struct transport *t = session__transport(sess);
    int rc = 0;
    if (s->want_discovery) {
        rc = transport_declare_discovery(t);
        if (rc == 0)
            rc = transport_subscribe(t, "fbp");
    }
    if (rc == 0 && s->bound)
        rc = binder__restore(s->binder); /* a reconnect */
    if (rc == 0)
        rc = transport_when_subscribed(t, after_subscribed, s);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: broker set-up failed: %s", msgflo_strerror(rc));
        finish(s, 1);
    }
}

/* --- preparation ------------------------------------------------------------------ */

/* "msgflo-setup-<hash of the graph's real path>": names this deployment in
 * the broker (a kept MQTT session, clean=false) and among processes, the same
 * for every run of the same graph file. */
static void deployment_id(const char *graph_path, char *buf, size_t len)
{
    char *real = realpath(graph_path, NULL);
    const char *name = real ? real : graph_path;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    free(real);
    snprintf(buf, len, "msgflo-setup-%08x", (unsigned)h);
}

static int prepare(struct setup *s)
{
    struct graph_error gerr = {0};
    int rc = graph__load_file(s->o->graph_path, false, &s->g, &gerr);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", gerr.message);
        return rc;
    }
    s->discovered = json_object();
    for (size_t i = 0; i < s->g->n_processes; i++)
        s->n_participants += library__is_participant(s->g->processes[i].component);
    for (size_t i = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *c = &s->g->connections[i];
        if (c->data && !json_is_null(c->data))
            s->n_iips++;
    }
    s->iips = calloc(s->n_iips ? s->n_iips : 1, sizeof *s->iips);
    if (!s->iips || !s->discovered)
        return MSGFLO_ENOMEM;
    for (size_t i = 0, k = 0; i < s->g->n_connections; i++) {
        const struct graph_connection *c = &s->g->connections[i];
        if (c->data && !json_is_null(c->data))
            s->iips[k++].c = c;
    }
    if (!s->o->participants)
        return 0;
    char err[1024] = "";
    rc = library__load(s->o->library, s->o->componentdir, &s->lib, err, sizeof err);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", err);
        return rc;
    }
    size_t *order = library__process_order(s->g);
    s->cmds = calloc(s->g->n_processes ? s->g->n_processes : 1, sizeof *s->cmds);
    if (!s->cmds || (s->g->n_processes && !order)) {
        free(order);
        return MSGFLO_ENOMEM;
    }
    for (size_t k = 0; k < s->g->n_processes; k++) {
        const struct graph_process *p = &s->g->processes[order[k]];
        if (!library__is_participant(p->component) ||
            (s->o->only && !in_list(s->o->only, p->name)) || in_list(s->o->ignore, p->name))
            continue;
        json_t *iips = NULL;
        rc = library__role_iips(s->g, p->name, &iips);
        char *cmd = NULL;
        if (rc == 0)
            rc = library__command(s->lib, p->component, p->name, iips, &cmd, err, sizeof err);
        json_decref(iips);
        if (rc) {
            say(s, SETUP_STDERR, "msgflo-setup: %s", err[0] ? err : msgflo_strerror(rc));
            free(order);
            return rc;
        }
        const struct library_component *comp = library__find(s->lib, p->component);
        struct role_cmd *c = &s->cmds[s->n_cmds++];
        c->role = p->name;
        c->command = cmd;
        c->takes_iips = comp && strstr(comp->command, "#IIPS") != NULL;
    }
    free(order);
    /* IIPs that spawned participants deliver themselves are not sent again. */
    for (size_t i = 0; i < s->n_iips; i++) {
        if (iip_by_participant(s, s->iips[i].c->tgt.process))
            s->iips[i].sent = true;
    }
    return 0;
}

static void cleanup(struct setup *s)
{
    for (size_t i = 0; i < s->n_cmds; i++)
        free(s->cmds[i].command);
    free(s->cmds);
    free(s->iips);
    free(s->binding_lines);
    binder__free(s->binder);
    session__free(s->session);
    supervisor__free(s->sup);
    embedded_broker__free(s->broker);
    library__free(s->lib);
    graph__free(s->g);
    json_decref(s->discovered);
    if (s->timer_ready)
        uv_close((uv_handle_t *)&s->discovery_timer, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
}

int setup__run(const struct setup_options *o)
{
    struct setup st = {.o = o};
    struct setup *s = &st;
    uv_loop_init(&s->loop);
    int rc = prepare(s);
    if (rc) {
        cleanup(s);
        return 1;
    }
    s->want_discovery = o->discover || iips_pending(s) > 0;

    const char *url = o->broker;
    if (!url) {
        char err[1024];
        rc = embedded_broker__start(&s->loop, NULL, NULL, NULL, &s->broker);
        if (rc == 0)
            rc = embedded_broker__wait(s->broker, err, sizeof err);
        if (rc) {
            say(s, SETUP_STDERR,
                "msgflo-setup: no broker configured and the embedded one "
                "failed: %s",
                rc == MSGFLO_ENOMEM ? "out of memory" : err);
            cleanup(s);
            return 1;
        }
        url = embedded_broker__url(s->broker);
        say(s, SETUP_STDOUT, "Started embedded broker %s", url);
    }
    deployment_id(o->graph_path, s->deployment, sizeof s->deployment);
    const struct supervisor_options sopts = {
        .broker_url = url,
        .shell = o->shell,
        .forward = o->forward,
        .on_output = on_output,
        .output_userdata = s,
        .forever = o->forever,
        .identity = s->deployment,
    };
    static const struct session_events events = {
        .connected = on_connected, .message = on_message, .stopping = on_stopping};
    char err[512];
    rc = supervisor__new(&s->loop, &sopts, &s->sup);
    if (rc == 0)
        rc = session__new_kept(&s->loop, url, s->deployment, &events, s, &s->session, err,
                               sizeof err);
    else
        snprintf(err, sizeof err, "%s", msgflo_strerror(rc));
    if (rc == 0)
        rc = binder__new(session__transport(s->session), &s->binder);
    if (rc) {
        say(s, SETUP_STDERR, "msgflo-setup: %s", err);
        s->status = 1;
        finish(s, 1);
        cleanup(s);
        return 1;
    }
    uv_timer_init(&s->loop, &s->discovery_timer);
    s->discovery_timer.data = s;
    s->timer_ready = true;
    if (s->want_discovery)
        uv_timer_start(&s->discovery_timer, on_discovery_timeout, o->timeout_ms, 0);
    session__start(s->session, o->timeout_ms);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int status = s->status;
    cleanup(s);
    return status;
}
