/* Participants: lifecycle, set-up of queues on every (re)connect, periodic
 * discovery, sending, and the three ways to run (blocking, caller's libuv
 * loop, foreign loop through a file descriptor). */
#include "core/log.h"
#include "core/participant_internal.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS                     "msgflo:participant"
#define DEFAULT_DISCOVERY_SECS 60.0

static double env_discovery_period(void)
{
    const char *env = getenv("MSGFLO_DISCOVERY_PERIOD");
    if (!env || !*env)
        return DEFAULT_DISCOVERY_SECS;
    char *end;
    double v = strtod(env, &end);
    if (*end != '\0' || !(v > 0) || v > 1e7) {
        LOG_WARNING(NS, "ignoring MSGFLO_DISCOVERY_PERIOD='%s': not a positive number of seconds",
                    env);
        return DEFAULT_DISCOVERY_SECS;
    }
    return v;
}

int msgflo_participant_new(msgflo_participant **out, const msgflo_definition *def, const char *role,
                           const char *broker_url, msgflo_process_fn process, void *userdata,
                           char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!process) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "no process function");
        return MSGFLO_EINVAL;
    }
    const char *broker = msgflo_url_resolve(broker_url);
    if (!broker) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen,
                     "no broker URL: pass one, or set MSGFLO_BROKER (e.g. mqtt://localhost)");
        return MSGFLO_ENOBROKER;
    }
    msgflo_url *url = NULL;
    char urlerr[200];
    rc = msgflo_url_parse(broker, &url, urlerr, sizeof urlerr);
    if (rc) {
        char shown[256];
        if (msgflo_url_redact(broker, shown, sizeof shown) != 0)
            snprintf(shown, sizeof shown, "(too long)");
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "broker URL %s: %s", shown, urlerr);
        return rc;
    }
    msgflo_url_free(url);

    msgflo_participant *p = calloc(1, sizeof *p);
    if (!p)
        return MSGFLO_ENOMEM;
    rc = definition__instantiate(def, role, &p->def, errbuf, errlen);
    if (rc)
        goto out;
    rc = definition__discovery_text(p->def, &p->discovery);
    if (rc) {
        if (rc == MSGFLO_EINVAL && errbuf && errlen)
            snprintf(errbuf, errlen, "definition strings must be valid UTF-8");
        goto out;
    }
    p->broker = strdup(broker);
    if (!p->broker) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    p->process = process;
    p->userdata = userdata;
    p->discovery_period = env_discovery_period();
    p->state = PARTICIPANT_IDLE;
    *out = p;
    p = NULL;
out:
    if (p) {
        definition__free(p->def);
        free(p->discovery);
        free(p->broker);
        free(p);
    }
    return rc;
}

void msgflo_participant_set_callbacks(msgflo_participant *p, msgflo_ready_fn on_ready,
                                      msgflo_disconnect_fn on_disconnect)
{
    p->on_ready = on_ready;
    p->on_disconnect = on_disconnect;
}

void msgflo_participant_set_discovery_period(msgflo_participant *p, double seconds)
{
    if (seconds > 0)
        p->discovery_period = seconds;
}

/* --- transport events ----------------------------------------------------- */

static int announce(msgflo_participant *p)
{
    int rc = transport_announce(p->transport, p->discovery, strlen(p->discovery));
    if (rc)
        LOG_WARNING(NS, "could not send discovery message: %s", msgflo_strerror(rc));
    else
        LOG_DEBUG(NS, "announced %s", p->def->id);
    return rc;
}

static void on_announce_timer(uv_timer_t *timer)
{
    msgflo_participant *p = timer->data;
    if (p->transport && p->transport->connected)
        announce(p);
}

static int setup_ports(msgflo_participant *p)
{
    int rc;
    for (size_t i = 0; i < p->def->n_outports; i++) {
        const char *q = p->def->outports[i].queue;
        if (q && (rc = transport_declare_outqueue(p->transport, q)) != 0)
            return rc;
    }
    for (size_t i = 0; i < p->def->n_inports; i++) {
        const char *q = p->def->inports[i].queue;
        if (!q)
            continue;
        if ((rc = transport_declare_inqueue(p->transport, q)) != 0)
            return rc;
        if ((rc = transport_subscribe(p->transport, q)) != 0)
            return rc;
    }
    return 0;
}

/* Announce only once the broker has our subscriptions: whoever reacts to the
 * discovery message can send at once without losing data. */
static void on_subscribed(void *ud)
{
    msgflo_participant *p = ud;
    if (announce(p) != 0)
        return;
    uint64_t period = (uint64_t)(p->discovery_period * 1000.0 / 2.2);
    if (period < 1)
        period = 1;
    uv_timer_start(p->announce_timer, on_announce_timer, period, period);
    if (p->on_ready)
        p->on_ready(p, p->userdata);
}

static void on_connected(void *ud)
{
    msgflo_participant *p = ud;
    int rc = setup_ports(p);
    if (rc == 0)
        rc = transport_when_subscribed(p->transport, on_subscribed, p);
    if (rc)
        LOG_ERROR(NS, "setting up the queues of %s failed: %s; will retry", p->def->role,
                  msgflo_strerror(rc));
}

static void on_disconnected(void *ud, int err)
{
    msgflo_participant *p = ud;
    uv_timer_stop(p->announce_timer);
    if (p->on_disconnect)
        p->on_disconnect(p, err, p->userdata);
    else if (transport_is_permanent(err)) /* nobody else will say why */
        LOG_ERROR(NS, "%s: not retrying: %s", p->def->role, transport_last_error(p->transport));
}

static const struct definition_port *inport_for_queue(const msgflo_participant *p,
                                                      const char *queue)
{
    for (size_t i = 0; i < p->def->n_inports; i++) {
        const char *q = p->def->inports[i].queue;
        if (q && strcmp(q, queue) == 0)
            return &p->def->inports[i];
    }
    return NULL;
}

static void on_message(void *ud, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len)
{
    msgflo_participant *p = ud;
    const struct definition_port *port = inport_for_queue(p, queue);
    if (!port) {
        LOG_DEBUG(NS, "message on unknown queue %s ignored", queue);
        return;
    }
    LOG_DEBUG(NS, "%zu bytes on %s (%s)", len, port->id, queue);
    message__deliver(p, port->id, d, data, len);
}

static void stopped_one(msgflo_participant *p)
{
    if (--p->open_handles > 0)
        return;
    p->state = PARTICIPANT_STOPPED;
    LOG_DEBUG(NS, "%s stopped", p->def->id);
    if (p->stop_done)
        p->stop_done(p, p->userdata);
    if (p->free_when_stopped)
        msgflo_participant_free(p);
}

static void on_transport_closed(void *ud)
{
    msgflo_participant *p = ud;
    p->transport = NULL;
    stopped_one(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    msgflo_participant *p = h->data;
    free(h);
    p->announce_timer = NULL;
    stopped_one(p);
}

/* --- running ------------------------------------------------------------------ */

/* The broker client id: the participant id (new per process), except for an
 * MQTT session the broker keeps (clean=false), which must be found again by a
 * restarted process: the role, with "-$MSGFLO_INSTANCE" when that is set, so
 * that several participants of one role each have their own. The URL's
 * clientId wins over both. */
static int client_id(const msgflo_participant *p, const msgflo_url *url, char *buf, size_t len)
{
    const char *instance = getenv("MSGFLO_INSTANCE");
    int n;
    if (url->is_amqp || url->clean || url->client_id)
        n = snprintf(buf, len, "%s", p->def->id);
    else if (instance && *instance)
        n = snprintf(buf, len, "%s-%s", p->def->role, instance);
    else
        n = snprintf(buf, len, "%s", p->def->role);
    return n < 0 || (size_t)n >= len ? MSGFLO_EINVAL : 0;
}

int msgflo_participant_start(msgflo_participant *p, uv_loop_t *loop)
{
    if (p->state != PARTICIPANT_IDLE)
        return MSGFLO_ESTATE;
    msgflo_url *url = NULL;
    int rc = msgflo_url_parse(p->broker, &url, NULL, 0);
    if (rc)
        return rc;
    p->loop = loop;
    p->announce_timer = malloc(sizeof *p->announce_timer);
    if (!p->announce_timer) {
        msgflo_url_free(url);
        return MSGFLO_ENOMEM;
    }
    uv_timer_init(loop, p->announce_timer);
    p->announce_timer->data = p;
    static const struct transport_events events = {
        .connected = on_connected,
        .disconnected = on_disconnected,
        .message = on_message,
        .closed = on_transport_closed,
    };
    char cid[256];
    rc = client_id(p, url, cid, sizeof cid);
    if (rc == 0)
        rc = transport_new(&p->transport, loop, url, cid, &events, p);
    else
        msgflo_url_free(url);
    if (rc) {
        p->open_handles = 1;
        p->state = PARTICIPANT_STOPPING;
        uv_close((uv_handle_t *)p->announce_timer, on_timer_closed);
        return rc;
    }
    p->state = PARTICIPANT_RUNNING;
    char shown[256];
    if (msgflo_url_redact(p->broker, shown, sizeof shown) == 0)
        LOG_DEBUG(NS, "starting %s on %s", p->def->id, shown);
    return transport_connect(p->transport);
}

int msgflo_participant_connect(msgflo_participant *p)
{
    if (p->state != PARTICIPANT_IDLE || p->own_loop_used)
        return MSGFLO_ESTATE;
    if (uv_loop_init(&p->own_loop) != 0)
        return MSGFLO_ESYS;
    p->own_loop_used = true;
    return msgflo_participant_start(p, &p->own_loop);
}

int msgflo_participant_fd(const msgflo_participant *p)
{
    return p->own_loop_used ? uv_backend_fd(&p->own_loop) : -1;
}

int msgflo_participant_timeout(const msgflo_participant *p)
{
    return p->own_loop_used ? uv_backend_timeout(&p->own_loop) : -1;
}

int msgflo_participant_step(msgflo_participant *p)
{
    if (!p->own_loop_used)
        return MSGFLO_ESTATE;
    uv_run(&p->own_loop, UV_RUN_NOWAIT);
    return p->state == PARTICIPANT_STOPPED ? MSGFLO_ESTATE : 0;
}

int msgflo_participant_run(msgflo_participant *p)
{
    int rc;
    if (p->state == PARTICIPANT_IDLE) {
        rc = msgflo_participant_connect(p);
        if (rc && p->state == PARTICIPANT_IDLE)
            return rc;
    } else if (!p->own_loop_used) {
        return MSGFLO_ESTATE;
    }
    uv_run(&p->own_loop, UV_RUN_DEFAULT);
    return 0;
}

void msgflo_participant_stop(msgflo_participant *p,
                             void (*done)(msgflo_participant *p, void *userdata))
{
    if (p->state != PARTICIPANT_RUNNING) {
        if (p->state == PARTICIPANT_STOPPING)
            p->stop_done = done;
        return;
    }
    p->state = PARTICIPANT_STOPPING;
    p->stop_done = done;
    p->open_handles = 2;
    message__orphan_all(p);
    uv_timer_stop(p->announce_timer);
    uv_close((uv_handle_t *)p->announce_timer, on_timer_closed);
    transport_close(p->transport);
}

void msgflo_participant_free(msgflo_participant *p)
{
    if (!p)
        return;
    if (p->state == PARTICIPANT_RUNNING || p->state == PARTICIPANT_STOPPING) {
        msgflo_participant_stop(p, p->stop_done);
        if (!p->own_loop_used) {
            /* The caller's loop will finish closing; free at the end. */
            p->free_when_stopped = true;
            return;
        }
        p->free_when_stopped = false;
        while (p->state != PARTICIPANT_STOPPED)
            uv_run(&p->own_loop, UV_RUN_ONCE);
    }
    p->free_when_stopped = false;
    message__orphan_all(p);
    if (p->own_loop_used) {
        uv_run(&p->own_loop, UV_RUN_NOWAIT);
        uv_loop_close(&p->own_loop);
    }
    definition__free(p->def);
    free(p->discovery);
    free(p->broker);
    free(p);
}

/* --- sending ------------------------------------------------------------------- */

int msgflo_participant_send(msgflo_participant *p, const char *outport, const void *data,
                            size_t len)
{
    const struct definition_port *port = definition__port(p->def, false, outport);
    if (!port)
        return MSGFLO_ENOPORT;
    if (!port->queue)
        return 0; /* a port nobody can wire: drop, as msgflo-nodejs */
    if (!p->transport || p->state != PARTICIPANT_RUNNING)
        return MSGFLO_ENOTCONN;
    return transport_publish(p->transport, port->queue, data, len);
}

int msgflo_participant_send_json(msgflo_participant *p, const char *outport, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return MSGFLO_EJSON;
    int rc = msgflo_participant_send(p, outport, text, strlen(text));
    free(text);
    return rc;
}

/* --- introspection ----------------------------------------------------------- */

const char *msgflo_participant_id(const msgflo_participant *p)
{
    return p->def->id;
}

const char *msgflo_participant_role(const msgflo_participant *p)
{
    return p->def->role;
}

const char *msgflo_participant_component(const msgflo_participant *p)
{
    return p->def->component;
}

const char *msgflo_participant_queue(const msgflo_participant *p, bool inport, const char *port)
{
    const struct definition_port *dp = definition__port(p->def, inport, port);
    return dp ? dp->queue : NULL;
}

char *msgflo_participant_discovery(const msgflo_participant *p)
{
    return strdup(p->discovery);
}

const char *msgflo_participant_broker(const msgflo_participant *p)
{
    return p->broker;
}

const char *msgflo_participant_last_error(const msgflo_participant *p)
{
    return p->transport ? transport_last_error(p->transport) : "";
}

void *msgflo_participant_userdata(const msgflo_participant *p)
{
    return p->userdata;
}
