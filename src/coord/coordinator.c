/* The coordinator's life cycle, broker connection, discovery and reports;
 * see coordinator.h and coordinator_internal.h. */
#include "coord/coordinator_internal.h"

#include "discovery/discovery.h"
#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define NS COORD_NS

#define DEFAULT_WAIT_MS        45000
#define DEFAULT_PERIOD_MS      60000
#define DEFAULT_EXPIRY_PERIODS 3
#define WARNING_PERIOD_MS      10000 /* discovery warnings: at most one line per kind */
/* Participants forgotten per tick at most: the live layer removes each from
 * the graph and tells the clients, so a mass expiry is spread over loop
 * turns (the pump re-arms the tick at once while more are due). */
#define EXPIRE_PER_TURN 256

/* --- reports ------------------------------------------------------------------ */

int coordinator__failure(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Reports the message through `error` or, with a role, through
 * `process_error`; the receiver shows it (msgflo-setup prints it, the runtime
 * logs it and tells its clients). Without a receiver it is logged. */
static void report(struct coordinator *c, const char *role, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void report(struct coordinator *c, const char *role, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    void (*with_role)(void *, const char *, const char *) = c->sys.events.process_error;
    void (*without)(void *, const char *) = c->sys.events.error;
    if (c->closing || (role ? !with_role : !without)) {
        LOG_WARNING(NS, "%s", msg); /* nobody listens: the log is where it shows */
        return;
    }
    if (role)
        with_role(c->sys.ud, role, msg);
    else
        without(c->sys.ud, msg);
}

void coordinator__report_error(struct coordinator *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(c, NULL, fmt, ap);
    va_end(ap);
}

void coordinator__report_process_error(struct coordinator *c, const char *role, const char *fmt,
                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(c, role, fmt, ap);
    va_end(ap);
}

/* Logs the warning unless one of its kind was logged in the last
 * WARNING_PERIOD_MS; then says how many were not logged in between. */
static void quiet_warning(struct coordinator *c, struct quiet_warning *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void quiet_warning(struct coordinator *c, struct quiet_warning *w, const char *fmt, ...)
{
    uint64_t now = uv_now(c->loop);
    if (w->last && now - w->last < WARNING_PERIOD_MS) {
        w->dropped++;
        return;
    }
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->dropped)
        LOG_WARNING(NS, "%s (and %u more like it not logged in the last %u s)", msg, w->dropped,
                    (unsigned)((now - w->last) / 1000));
    else
        LOG_WARNING(NS, "%s", msg);
    w->last = now ? now : 1;
    w->dropped = 0;
}

/* --- pump ------------------------------------------------------------------------ */

/* On the loop turn after the work was scheduled: what a burst of discovery
 * messages changed in the component list is reported here once. */
static void on_pump(uv_timer_t *t)
{
    struct coordinator *c = t->data;
    coordinator_components__flush(c);
    coordinator__pump(c);
}

void coordinator__schedule(struct coordinator *c)
{
    if (!c->closing)
        uv_timer_start(&c->pump_timer, on_pump, 0, 0);
}

static void on_expired(const char *role, const char *id, void *ud)
{
    struct coordinator *c = ud;
    char msg[512];
    snprintf(msg, sizeof msg, "participant %s of role %s not seen for %llu s", id, role,
             (unsigned long long)(c->period_ms * (uint64_t)c->expiry_periods / 1000));
    LOG_INFO(NS, "%s: forgotten", msg);
    coordinator_edges__forget_found(c, role); /* found again when it comes back */
    struct node *n = coordinator_graph__node(c, role);
    if (n && registry__role_instances(c->reg, role) == 0)
        n->expired = true;
    if (n)
        coordinator_graph__node_pending(c, n); /* its role may be gone: settling again */
    if (!c->closing && c->sys.events.participant_expired)
        c->sys.events.participant_expired(c->sys.ud, role, msg);
}

static void on_tick(uv_timer_t *t)
{
    struct coordinator *c = t->data;
    uint64_t now = uv_now(c->loop);
    c->tick_due = UINT64_MAX;
    if (c->expiry_periods &&
        registry__expire_max(c->reg, now, EXPIRE_PER_TURN, on_expired, c) > 0) {
        coordinator_components__flush(c); /* forgets their components now */
#if defined(__GLIBC__)
        /* What expired participants freed (many small blocks amid live ones)
         * goes back to the system: otherwise the runtime keeps its peak
         * size after a burst of participants (or an attack) is over. */
        malloc_trim(0);
#endif
    }
    coordinator_graph__tick(c, now);
    if (c->iips_waiting)
        c->iips_to_send = true; /* looked at again: discovered, or waited long enough */
    coordinator__schedule(c);   /* a wait that timed out may release IIPs and packets; re-arms */
    coordinator__check(c);
}

void coordinator__arm_tick(struct coordinator *c)
{
    if (c->closing)
        return;
    uint64_t now = uv_now(c->loop), due = UINT64_MAX;
    if (c->pending_nodes || c->pending_edges || c->packets || c->iips_waiting)
        due = now + c->tick_ms; /* a wait may time out */
    uint64_t expiry = registry__next_expiry(c->reg);
    if (expiry < due)
        due = expiry < now ? now : expiry;
    if (due == UINT64_MAX) {
        uv_timer_stop(&c->tick_timer);
        c->tick_due = UINT64_MAX;
        return;
    }
    if (c->tick_due <= due)
        return; /* armed for earlier: it re-arms when it fires */
    c->tick_due = due;
    uv_timer_start(&c->tick_timer, on_tick, due - now, 0);
}

/* --- broker connection --------------------------------------------------------- */

static void on_connected(void *ud)
{
    struct coordinator *c = ud;
    c->connected = true;
    int rc = transport_declare_discovery(c->t);
    if (rc == 0)
        rc = transport_subscribe(c->t, "fbp");
    if (rc) {
        coordinator__report_error(c, "cannot listen for discovery messages: %s",
                                  msgflo_strerror(rc));
        return; /* the transport reconnects after a loss */
    }
    coordinator_router__connected(c); /* reports its own failure */
    if (transport_has_bindings(c->t)) {
        c->restore_pending = true; /* on the binder's thread, by the pump */
    } else if ((rc = binder__restore(c->binder)) != 0) {
        coordinator__report_error(c, "restoring the bindings failed: %s", msgflo_strerror(rc));
    }
    if (c->lost_reported) {
        c->lost_reported = false;
        c->counts.reconnects++;
        coordinator__report_error(c, "broker connection back");
    }
    LOG_DEBUG(NS, "connected to the broker");
    coordinator_graph__connected(c);
    c->discovery_gen = c->sub_gen; /* covers the discovery subscription above */
    coordinator__schedule(c);
}

static void on_disconnected(void *ud, int err)
{
    struct coordinator *c = ud;
    c->connected = false;
    coordinator_router__disconnected(c);
    coordinator_graph__disconnected(c);
    if (transport_is_permanent(err) && !c->closing) {
        /* The transport gave up (it says so once): no "reconnecting". */
        const char *why = transport_last_error(c->t);
        c->lost_reported = true;
        coordinator__report_error(c, "not retrying: %s: %s",
                                  err == MSGFLO_EREFUSED ? "the broker refused the login"
                                                         : "cannot reach the broker",
                                  why[0] ? why : msgflo_strerror(err));
    } else if (!c->lost_reported && !c->closing) {
        c->lost_reported = true;
        coordinator__report_error(c, "broker connection lost (%s); reconnecting",
                                  msgflo_strerror(err));
    }
}

static void on_discovery(struct coordinator *c, const void *data, size_t len)
{
    json_t *payload = NULL;
    char err[512];
    c->counts.discovery_messages++;
    /* Before parsing: a big message costs nothing more than its reading. */
    if (len > c->max_discovery_bytes) {
        c->counts.discovery_dropped++;
        quiet_warning(c, &c->warn_size,
                      "dropped a discovery message of %zu bytes: over the limit of %zu", len,
                      c->max_discovery_bytes);
        return;
    }
    if (discovery__parse(data, len, &payload, err, sizeof err) != 0) {
        c->counts.discovery_dropped++;
        quiet_warning(c, &c->warn_invalid, "dropped: %s", err);
        return;
    }
    unsigned changes = 0;
    int rc = registry__update(c->reg, payload, uv_now(c->loop), &changes);
    if (rc)
        c->counts.discovery_dropped++;
    if (rc == MSGFLO_ESTATE) {
        quiet_warning(c, &c->warn_cap,
                      "dropped the discovery of %s: %zu participants and %zu components known, "
                      "the limits are %zu and %zu",
                      json_string_value(json_object_get(payload, "id")), registry__count(c->reg),
                      registry__component_count(c->reg), registry__max_participants(c->reg),
                      registry__max_components(c->reg));
        json_decref(payload);
        return;
    }
    if (rc) {
        LOG_WARNING(NS, "dropped a discovery message: %s", msgflo_strerror(rc));
        json_decref(payload);
        return;
    }
    const char *id = json_string_value(json_object_get(payload, "id"));
    const char *role = json_string_value(json_object_get(payload, "role"));
    LOG_DEBUG(NS, "discovered %s (%s), changes 0x%x", role, id, changes);
    coordinator_components__update(c, payload, changes); /* reported on the next turn */
    if ((changes & REGISTRY_NEW_INSTANCE) && c->sys.events.participant_added) {
        /* A participant seen for the first time is stored as it came: no need
         * to parse the stored text again. */
        uint64_t first = 0, last = 1;
        json_t *def = NULL;
        registry__seen(c->reg, id, &first, &last);
        if (first == last)
            def = json_incref(payload);
        else
            registry__participant(c->reg, id, &def);
        if (def)
            c->sys.events.participant_added(c->sys.ud, role, def);
        json_decref(def);
    }
    coordinator_graph__discovered(c, role, changes);
    json_decref(payload);
    coordinator__pump(c);
}

static void on_message(void *ud, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len)
{
    struct coordinator *c = ud;
    if (c->closing)
        return;
    if (strcmp(queue, "fbp") == 0) {
        on_discovery(c, data, len);
        transport_ack(c->t, d);
        return;
    }
    /* MQTT: forward along the edges; then report what the ports carried.
     * Watched queues are consumed without acks. */
    if (coordinator_router__message(c, queue, data, len))
        return;
    c->counts.data_messages++;
    binder__on_message(c->binder, queue, d, data, len);
    coordinator_watches__data(c, queue, data, len);
}

static void finish_close(struct coordinator *c);

static void on_transport_closed(void *ud)
{
    struct coordinator *c = ud;
    c->t = NULL;
    c->connected = false;
    finish_close(c);
}

static int connect_broker(struct coordinator *c, char *err, size_t errlen)
{
    msgflo_url *u = NULL;
    int rc = msgflo_url_parse(c->url, &u, err, errlen);
    if (rc)
        return rc;
    /* The same name as the broker client: a restarted runtime with the same
     * runtime id (--runtime-id) stops what its predecessor left running. */
    char identity[128];
    snprintf(identity, sizeof identity, "%s-%s",
             c->client_prefix ? c->client_prefix : "msgflo-coordinator", c->runtime_id);
    const struct supervisor_options so = {
        .identity = identity,
        .broker_url = c->url,
        .shell = c->shell,
        .forward = c->forward,
        .on_output = c->on_output,
        .output_userdata = c->output_userdata,
        .forever = c->restart,
    };
    rc = supervisor__new(c->loop, &so, &c->sup);
    if (rc) {
        msgflo_url_free(u);
        snprintf(err, errlen, "cannot create the process supervisor: %s", msgflo_strerror(rc));
        return rc;
    }
    char client_id[128];
    snprintf(client_id, sizeof client_id, "%s-%s",
             c->client_prefix ? c->client_prefix : "msgflo-coordinator", c->runtime_id);
    if (!c->runtime_id_given || c->clean_session)
        u->clean = true; /* a new id per run: a kept session could never be found again */
    static const struct transport_events tev = {
        .connected = on_connected,
        .disconnected = on_disconnected,
        .message = on_message,
        .closed = on_transport_closed,
    };
    rc = transport_new(&c->t, c->loop, u, client_id, &tev, c); /* takes u */
    if (rc == 0)
        rc = binder__new(c->t, &c->binder);
    if (rc == 0)
        rc = binder__set_id(c->binder, client_id);
    if (rc == 0)
        rc = transport_connect(c->t);
    if (rc)
        snprintf(err, errlen, "cannot connect to the broker: %s", msgflo_strerror(rc));
    coordinator__schedule(c);
    return rc;
}

static void on_broker_ready(struct embedded_broker *b, int status, const char *text, void *ud)
{
    struct coordinator *c = ud;
    (void)b;
    if (status != 0) {
        coordinator__report_error(c, "no broker configured and the embedded one failed: %s", text);
        return;
    }
    char err[512];
    c->url = strdup(text);
    if (!c->url) {
        coordinator__report_error(c, "out of memory");
        return;
    }
    LOG_INFO(NS, "started the embedded broker %s", c->url);
    if (connect_broker(c, err, sizeof err) != 0)
        coordinator__report_error(c, "%s", err);
}

/* --- creation -------------------------------------------------------------------- */

static uint64_t env_period_ms(void)
{
    const char *env = getenv("MSGFLO_DISCOVERY_PERIOD");
    if (!env || !*env)
        return DEFAULT_PERIOD_MS;
    char *end;
    double v = strtod(env, &end);
    if (*end != '\0' || !(v > 0) || v > 1e7)
        return DEFAULT_PERIOD_MS;
    return (uint64_t)(v * 1000.0);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static int copy_options(struct coordinator *c, const struct coordinator_options *o)
{
    c->broker_arg = dup_or_null(o->broker);
    c->shell = dup_or_null(o->shell);
    c->library_path = dup_or_null(o->library_path);
    c->allow_component_write = o->allow_component_write;
    c->client_prefix = dup_or_null(o->client_prefix);
    if (o->runtime_id && *o->runtime_id) {
        c->runtime_id = strdup(o->runtime_id);
        c->runtime_id_given = o->runtime_id_stable;
        c->clean_session = o->clean_session;
    } else {
        uuid_t uu;
        c->runtime_id = malloc(37);
        if (c->runtime_id) {
            uuid_generate_random(uu);
            uuid_unparse_lower(uu, c->runtime_id);
        }
    }
    size_t n = 0;
    while (o->ignore && o->ignore[n])
        n++;
    c->ignore = calloc(n + 1, sizeof *c->ignore);
    if (!c->ignore || !c->runtime_id || (o->broker && *o->broker && !c->broker_arg) ||
        (o->shell && *o->shell && !c->shell) ||
        (o->library_path && *o->library_path && !c->library_path) ||
        (o->client_prefix && *o->client_prefix && !c->client_prefix))
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(c->ignore[i] = strdup(o->ignore[i])))
            return MSGFLO_ENOMEM;
    }
    c->restart = o->restart;
    c->bind_by_convention = o->bind_by_convention;
    c->edges_unwatched = o->edges_unwatched;
    c->every_iip = o->every_iip;
    c->trust_existing = o->trust_existing;
    c->forward = o->forward;
    c->on_output = o->on_output;
    c->output_userdata = o->output_userdata;
    c->wait_timeout_ms = o->start_timeout_ms ? o->start_timeout_ms : DEFAULT_WAIT_MS;
    c->period_ms = o->discovery_period_ms ? o->discovery_period_ms : env_period_ms();
    c->expiry_periods = o->expire_periods_set ? o->expire_periods : DEFAULT_EXPIRY_PERIODS;
    c->max_discovery_bytes =
        o->max_discovery_bytes ? o->max_discovery_bytes : COORDINATOR_MAX_DISCOVERY_BYTES;
    return 0;
}

static void free_state(struct coordinator *c)
{
    coordinator_graph__free(c);
    binder__free(c->binder);
    supervisor__free(c->sup);
    embedded_broker__free(c->broker);
    registry__free(c->reg);
    if (c->own_lib)
        library__free(c->lib);
    coordinator_components__clear(c);
    for (char **i = c->ignore; i && *i; i++)
        free(*i);
    free(c->ignore);
    free(c->broker_arg);
    free(c->shell);
    free(c->library_path);
    free(c->client_prefix);
    free(c->runtime_id);
    free(c->url);
    free(c);
}

int coordinator__new(uv_loop_t *loop, const struct coordinator_options *options,
                     struct coordinator **out, char *err, size_t errlen)
{
    static const struct coordinator_options defaults = {0};
    const struct coordinator_options *o = options ? options : &defaults;
    struct coordinator *c = calloc(1, sizeof *c);
    if (!c)
        return MSGFLO_ENOMEM;
    c->loop = loop;
    c->sys.ops = &coordinator__ops;
    c->sys.self = c;
    int rc = copy_options(c, o);
    if (rc == 0) {
        struct registry_options ro = {
            .period_ms = c->period_ms,
            .expiry_periods = c->expiry_periods,
            .max_participants =
                o->max_participants ? o->max_participants : COORDINATOR_MAX_PARTICIPANTS,
            .max_components = o->max_components ? o->max_components : COORDINATOR_MAX_COMPONENTS,
            .component_gone = coordinator_components__gone,
            .ud = c,
        };
        rc = registry__new(&ro, &c->reg);
    }
    if (rc) {
        snprintf(err, errlen, "%s", msgflo_strerror(rc));
        goto fail;
    }
    if (o->library) {
        c->lib = o->library;
    } else {
        rc = library__load(o->library_path, o->componentdir, &c->lib, err, errlen);
        if (rc)
            goto fail;
        c->own_lib = true;
    }
    uv_timer_init(loop, &c->pump_timer);
    uv_timer_init(loop, &c->tick_timer);
    c->pump_timer.data = c->tick_timer.data = c;
    coordinator_router__init(c);
    c->open_handles = 3;
    uint64_t tick = c->period_ms / 4;
    c->tick_ms = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    c->tick_due = UINT64_MAX; /* armed by the pump when something can time out */
    if (c->broker_arg) {
        c->url = strdup(c->broker_arg);
        rc = c->url ? connect_broker(c, err, errlen) : MSGFLO_ENOMEM;
    } else {
        rc = embedded_broker__start(loop, NULL, on_broker_ready, c, &c->broker);
        if (rc)
            snprintf(err, errlen, "cannot start the embedded broker: %s", msgflo_strerror(rc));
    }
    if (rc) {
        coordinator__close(c, NULL, NULL); /* its handles close on the loop */
        return rc;
    }
    *out = c;
    return 0;
fail:
    free_state(c);
    return rc;
}

struct system *coordinator__system(struct coordinator *c)
{
    return &c->sys;
}

const char *coordinator__broker_url(const struct coordinator *c)
{
    return c->url;
}

bool coordinator__connected(const struct coordinator *c)
{
    return c->connected;
}

const struct registry *coordinator__registry(const struct coordinator *c)
{
    return c->reg;
}

bool coordinator__start_failed(const struct coordinator *c, const char *role)
{
    const struct node *n = coordinator_graph__node((struct coordinator *)c, role);
    return n && n->start_failed;
}

bool coordinator__bindings_need_process(const struct coordinator *c)
{
    return c->binder && binder__needs_process(c->binder);
}

bool coordinator__forwards(const struct coordinator *c)
{
    return c->connected && c->binder && !transport_has_bindings(c->t) &&
           binder__router(c->binder) != BINDER_ROUTER_PRESENT;
}

int coordinator__when_flushed(struct coordinator *c, void (*done)(void *ud), void *ud)
{
    if (!c->connected || c->closing)
        return MSGFLO_ESTATE;
    return transport_when_flushed(c->t, done, ud);
}

/* --- closing ------------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    struct coordinator *c = h->data;
    if (--c->open_handles > 0)
        return;
    void (*done)(void *) = c->close_done;
    void *ud = c->close_ud;
    free_state(c);
    if (done)
        done(ud);
}

static void on_broker_stopped(struct embedded_broker *b, void *ud)
{
    struct coordinator *c = ud;
    (void)b;
    embedded_broker__free(c->broker);
    c->broker = NULL;
    finish_close(c);
}

/* Each step ends in the next: processes, transport, embedded broker, handles. */
static void finish_close(struct coordinator *c)
{
    if (c->sup && supervisor__active(c->sup) > 0)
        return; /* on_processes_stopped comes back here */
    if (c->t) {
        if (!c->t->closing)
            transport_close(c->t);
        return; /* on_transport_closed */
    }
    if (c->broker) {
        if (embedded_broker__stop(c->broker, on_broker_stopped, c) == 0)
            return;
    }
    if (uv_is_closing((uv_handle_t *)&c->pump_timer))
        return;
    uv_close((uv_handle_t *)&c->pump_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tick_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->router_timer, on_handle_closed);
}

static void on_processes_stopped(struct supervisor *sup, void *ud)
{
    struct coordinator *c = ud;
    (void)sup;
    supervisor__free(c->sup);
    c->sup = NULL;
    finish_close(c);
}

static void on_close_timer(uv_timer_t *t)
{
    finish_close(t->data);
}

void coordinator__close(struct coordinator *c, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->close_done = done;
    c->close_ud = ud;
    uv_timer_stop(&c->pump_timer);
    uv_timer_stop(&c->tick_timer);
    uv_timer_stop(&c->router_timer);
    if (c->sup && supervisor__stop_all(c->sup, on_processes_stopped, c) == 0)
        return;
    /* finish from the loop, never from within this call */
    uv_timer_start(&c->pump_timer, on_close_timer, 0, 0);
}
