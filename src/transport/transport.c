/* Transport dispatch and the reconnect backoff shared by both transports. */
#include "transport/transport.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000

int transport_new(struct transport **out, uv_loop_t *loop, msgflo_url *url, const char *client_id,
                  const struct transport_events *events, void *ud)
{
    *out = NULL;
    if (url->is_amqp)
        return transport__amqp_new(out, loop, url, client_id, events, ud);
    return transport__mqtt_new(out, loop, url, client_id, events, ud);
}

int transport__init(struct transport *t, const struct transport_ops *ops, uv_loop_t *loop,
                    msgflo_url *url, const char *client_id, const struct transport_events *ev,
                    void *ud)
{
    t->ops = ops;
    t->loop = loop;
    t->events = *ev;
    t->ud = ud;
    t->backoff_ms = BACKOFF_MIN_MS;
    t->client_id = strdup(client_id);
    t->reconnect_timer = malloc(sizeof *t->reconnect_timer);
    if (!t->client_id || !t->reconnect_timer) {
        free(t->client_id);
        free(t->reconnect_timer);
        return MSGFLO_ENOMEM;
    }
    if (uv_timer_init(loop, t->reconnect_timer) != 0) {
        free(t->client_id);
        free(t->reconnect_timer);
        return MSGFLO_ESYS;
    }
    t->reconnect_timer->data = t;
    t->url = url;
    return 0;
}

static void on_cleanup_timer_closed(uv_handle_t *h)
{
    struct transport *t = h->data;
    free(h);
    msgflo_url_free(t->url);
    free(t->client_id);
    t->url = NULL;
    t->client_id = NULL;
    t->cleanup_done(t);
}

void transport__cleanup(struct transport *t, void (*done)(struct transport *t))
{
    uv_timer_t *timer = t->reconnect_timer;
    t->reconnect_timer = NULL;
    t->cleanup_done = done;
    transport__drop_waiters(t); /* each `replied` waiter is told once */
    uv_timer_stop(timer);
    uv_close((uv_handle_t *)timer, on_cleanup_timer_closed);
}

void transport__on_connected(struct transport *t)
{
    t->backoff_ms = BACKOFF_MIN_MS;
    t->connected = true;
    t->generation++;
    t->last_error[0] = '\0';
}

void transport__failed(struct transport *t, const char *ns, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->last_error, sizeof t->last_error, fmt, ap);
    va_end(ap);
    LOG_WARNING(ns, "%s", t->last_error);
}

const char *transport_last_error(const struct transport *t)
{
    return t->last_error;
}

uint64_t transport_refused(const struct transport *t)
{
    return t->refused;
}

static void on_reconnect_timer(uv_timer_t *timer)
{
    struct transport *t = timer->data;
    if (!t->closing && t->retry_fn)
        t->retry_fn(t);
}

void transport__drop_admin(struct transport *t, bool polite)
{
    if (t->admin_drop)
        t->admin_drop(t, polite);
}

bool transport_is_permanent(int err)
{
    return err == MSGFLO_EREFUSED || err == MSGFLO_ENOHOST;
}

bool transport__host_unknown(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    return rc == EAI_NONAME;
}

void transport__schedule_reconnect(struct transport *t, int err, void (*retry)(struct transport *t))
{
    t->connected = false;
    if (transport_is_permanent(err)) {
        /* Another attempt would be refused the same way: stop, and say why once. */
        if (t->closing || t->given_up)
            return;
        t->given_up = true;
        uv_timer_stop(t->reconnect_timer);
        if (t->events.disconnected)
            t->events.disconnected(t->ud, err);
        return;
    }
    if (t->closing || uv_is_active((uv_handle_t *)t->reconnect_timer))
        return; /* closing, or a retry is already scheduled */
    /* Jitter of +-20% keeps a fleet of participants from reconnecting in step. */
    uint64_t delay = t->backoff_ms;
    uint64_t jitter = delay / 5;
    if (jitter > 0)
        delay = delay - jitter + (uint64_t)(rand() % (int)(2 * jitter + 1));
    t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
    t->retry_fn = retry;
    uv_timer_start(t->reconnect_timer, on_reconnect_timer, delay, 0);
    if (t->events.disconnected)
        t->events.disconnected(t->ud, err);
}

int transport_connect(struct transport *t)
{
    return t->ops->connect(t);
}

int transport_declare_inqueue(struct transport *t, const char *queue)
{
    return t->ops->declare_inqueue(t, queue);
}

int transport_declare_outqueue(struct transport *t, const char *queue)
{
    return t->ops->declare_outqueue(t, queue);
}

int transport_subscribe(struct transport *t, const char *queue)
{
    return t->ops->subscribe(t, queue);
}

int transport_watch(struct transport *t, const char *queue)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    return t->ops->watch(t, queue);
}

int transport_unwatch(struct transport *t, const char *queue)
{
    if (!t->connected)
        return 0; /* the watch ended with the connection */
    return t->ops->unwatch(t, queue);
}

/* The namespace of this transport's debug lines. */
static const char *ns_of(const struct transport *t)
{
    return transport_has_bindings(t) ? "msgflo:amqp" : "msgflo:mqtt";
}

int transport_publish(struct transport *t, const char *queue, const void *data, size_t len)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    LOG_DEBUG(ns_of(t), "publish to %s (%zu bytes)", queue, len);
    return t->ops->publish(t, queue, data, len);
}

int transport_send_to_queue(struct transport *t, const char *queue, const void *data, size_t len)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    LOG_DEBUG(ns_of(t), "send to queue %s (%zu bytes)", queue, len);
    return t->ops->send_to_queue(t, queue, data, len);
}

int transport_publish_as(struct transport *t, const char *topic, const void *data, size_t len,
                         int qos, bool retain)
{
    if (!t->ops->publish_as || qos < 0 || qos > 2)
        return MSGFLO_EINVAL;
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    LOG_DEBUG(ns_of(t), "publish to %s (%zu bytes, QoS %d%s)", topic, len, qos,
              retain ? ", retained" : "");
    return t->ops->publish_as(t, topic, data, len, qos, retain);
}

int transport_set_will(struct transport *t, const char *topic, const void *data, size_t len,
                       bool retain)
{
    if (!t->ops->set_will)
        return MSGFLO_EINVAL;
    return t->ops->set_will(t, topic, data, len, retain);
}

int transport_set_forwarding(struct transport *t)
{
    return t->ops->set_forwarding ? t->ops->set_forwarding(t) : MSGFLO_EINVAL;
}

bool transport_is_mqtt5(const struct transport *t)
{
    return t->connected && t->mqtt5;
}

int transport_forward(struct transport *t, const char *topic, const struct transport_delivery *d,
                      const void *data, size_t len)
{
    if (!t->ops->forward || d->qos > 2)
        return MSGFLO_EINVAL;
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    LOG_DEBUG(ns_of(t), "forward to %s (%zu bytes, QoS %d%s)", topic, len, d->qos,
              d->forwarding && d->retained ? ", retained" : "");
    return t->ops->forward(t, topic, d, data, len);
}

int transport_announce(struct transport *t, const void *data, size_t len)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    return t->ops->announce(t, data, len);
}

static int add_waiter(struct transport *t, const struct transport_waiter *w)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    for (size_t i = 0; i < t->n_waiters; i++) {
        const struct transport_waiter *o = &t->waiters[i];
        if (o->subscribed == w->subscribed && o->replied == w->replied && o->arg == w->arg)
            return 0; /* waiting already */
    }
    if (t->n_waiters == TRANSPORT_MAX_WAITERS)
        return MSGFLO_ENOMEM;
    t->waiters[t->n_waiters++] = *w;
    t->ops->when_subscribed(t);
    return 0;
}

int transport_when_subscribed(struct transport *t, void (*done)(void *arg), void *arg)
{
    return add_waiter(t, &(struct transport_waiter){.subscribed = done, .arg = arg});
}

int transport_when_replied(struct transport *t, void (*done)(void *arg, int rc), void *arg)
{
    return add_waiter(t, &(struct transport_waiter){.replied = done, .arg = arg});
}

bool transport__next_waiter(struct transport *t, struct transport_waiter *w)
{
    if (t->n_waiters == 0)
        return false;
    *w = t->waiters[0];
    t->n_waiters--;
    memmove(t->waiters, t->waiters + 1, t->n_waiters * sizeof *t->waiters);
    return true;
}

void transport__waiter_done(const struct transport_waiter *w, int rc)
{
    if (w->replied)
        w->replied(w->arg, rc);
    else if (rc == 0)
        w->subscribed(w->arg);
}

void transport__drop_waiters(struct transport *t)
{
    struct transport_waiter w;
    while (transport__next_waiter(t, &w))
        transport__waiter_done(&w, MSGFLO_ENOTCONN);
}

int transport_when_flushed(struct transport *t, void (*done)(void *arg), void *arg)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    return t->ops->when_flushed(t, done, arg);
}

bool transport_has_bindings(const struct transport *t)
{
    return t->url->is_amqp;
}

int transport_declare_discovery(struct transport *t)
{
    if (!t->connected)
        return MSGFLO_ENOTCONN;
    return t->ops->declare_discovery(t);
}

int transport_ack(struct transport *t, const struct transport_delivery *d)
{
    if (!t->connected || d->generation != t->generation)
        return 0; /* the broker requeued it when the old connection died */
    return t->ops->ack(t, d);
}

int transport_nack(struct transport *t, const struct transport_delivery *d)
{
    if (!t->connected || d->generation != t->generation)
        return 0;
    return t->ops->nack(t, d);
}

void transport_close(struct transport *t)
{
    if (t->closing)
        return;
    t->closing = true;
    uv_timer_stop(t->reconnect_timer);
    t->ops->close(t);
}
