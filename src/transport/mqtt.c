/* MQTT transport on libmosquitto, driven from a libuv loop.
 *
 * libmosquitto's own threads are never used: the socket is watched with a
 * uv_poll handle, mosquitto_loop_read/loop_write run when it is ready, and a
 * one-second timer calls mosquitto_loop_misc for keepalive. Topics are the
 * queue names; discovery goes to topic `fbp`. ack and nack do nothing, as in
 * msgflo-nodejs (QoS 1 messages are acknowledged by libmosquitto on receipt).
 *
 * Batching: libmosquitto reads one packet per mosquitto_loop_read at QoS 0,
 * so a wakeup goes on reading while the last call delivered a packet (one
 * read that finds the socket empty ends a burst: no system call per message
 * to ask whether more is there).
 * Packets published from within a message callback are only queued by
 * libmosquitto; after a read burst they are written together with the socket
 * corked, so one loop turn costs one write segment, not one per message (a
 * single packet is written without corking). Outside callbacks a publish is
 * written at once (low latency).
 *
 * Forwarding (transport_set_forwarding, msgflo-router) speaks MQTT 5 with
 * subscription options that let a republishing client see what a broker
 * plugin sees; everything else speaks MQTT 3.1.1.
 */
#include "transport/transport.h"

#include "transport/mqtt_topics.h"
#include "transport/tls.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NS             "msgflo:mqtt"
#define MAX_SUBS_BURST 1000
/* Packets read per wakeup, at most: bounds a loop turn (a discovery with its
 * reports costs ~0.1 ms of CPU: docs/benchmarks.md, "Distinct components"). */
#define MAX_READ_BURST  128
#define SUBS_PER_PACKET 256 /* topics per batched SUBSCRIBE */

struct mqtt {
    struct transport base;
    struct mosquitto *mosq;
    uv_poll_t *poll;  /* per connection; NULL when no socket */
    uv_timer_t *misc; /* keepalive timer */
    int poll_events;
    int burst;                 /* messages delivered during this read burst */
    unsigned packets;          /* packets libmosquitto reported (read progress) */
    int busy;                  /* nesting depth of our calls into libmosquitto */
    bool close_pending;        /* close asked for while busy */
    struct mqtt_topic *topics; /* subscribed on this connection, and why */
    int pending_subacks;       /* SUBSCRIBEs sent on this connection, not yet acked */
    int refused;               /* MSGFLO_EREFUSED once a CONNACK refused the login */
    char **batch;              /* topics to subscribe once the current call is over */
    int n_batch, cap_batch;
    int pending_publishes;      /* not yet written (QoS 0) or acknowledged (QoS 1) */
    void (*flushed)(void *arg); /* waiting for pending_publishes == 0 */
    void *flushed_arg;
    struct tls_report tls; /* the current TLS handshake's (mqtts) */
    bool tls_reported;     /* its failure is logged */
    bool v5;               /* attempts speak MQTT 5 (forwarding, until a broker refuses it) */
    bool connacked;        /* this attempt got a CONNACK */
    int early_closes;      /* attempts in a row closed by the broker before a CONNACK */
};

static void mqtt_retry(struct transport *base);
static void update_poll(struct mqtt *m);
static void do_close(struct mqtt *m);
static void flush_batch(struct mqtt *m);
static void drop_batch(struct mqtt *m);
static bool refused_v5(struct mqtt *m, bool connack, int rc);

/* libmosquitto is not re-entrant: notifications that may lead to closing the
 * transport or to new I/O run only once our outermost call into it returns. */
static void enter(struct mqtt *m)
{
    m->busy++;
}

static void leave(struct mqtt *m)
{
    if (--m->busy > 0)
        return;
    if (m->close_pending) {
        m->close_pending = false;
        do_close(m);
        return;
    }
    if (m->base.closing)
        return;
    flush_batch(m);
    struct transport_waiter w;
    if (m->pending_subacks == 0 && transport__next_waiter(&m->base, &w)) {
        m->busy++;
        transport__waiter_done(&w, 0);
        leave(m); /* the next waiter */
        return;
    }
    if (m->flushed && m->pending_publishes == 0) {
        void (*done)(void *) = m->flushed;
        m->flushed = NULL;
        m->busy++;
        done(m->flushed_arg);
        leave(m);
        return;
    }
    if (m->poll)
        update_poll(m);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void drop_poll(struct mqtt *m)
{
    if (!m->poll)
        return;
    uv_poll_stop(m->poll);
    uv_close((uv_handle_t *)m->poll, free_handle);
    m->poll = NULL;
    m->poll_events = 0;
}

static void set_cork(struct mqtt *m, int on)
{
    int fd = mosquitto_socket(m->mosq);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

static void lost(struct mqtt *m, int err)
{
    drop_poll(m);
    drop_batch(m);
    mqtt_topics__clear(&m->topics);
    if (!m->base.closing)
        transport__schedule_reconnect(&m->base, err, mqtt_retry);
}

/* Whether the peer really closed the socket: epoll can report a hang-up for
 * a new connection on a reused descriptor (seen after a broker restart: every
 * reconnect was dropped at once), so look before giving up on it. */
static bool peer_closed(struct mqtt *m)
{
    char byte;
    int fd = mosquitto_socket(m->mosq);
    if (fd < 0)
        return true;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Logs why the TLS handshake of this connection attempt failed, when TLS is
 * to blame (see tls__explain); once per attempt. */
static bool tls_failed(struct mqtt *m)
{
    char why[400];
    if (!m->base.url->tls || m->tls_reported || !tls__explain(&m->tls, why, sizeof why))
        return false;
    transport__failed(&m->base, NS, "%s", why);
    m->tls_reported = true;
    return true;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct mqtt *m = h->data;
    int rc = MOSQ_ERR_SUCCESS;
    enter(m);
    if (status < 0) {
        /* libuv reports POLLERR as EBADF: the socket knows the real error. */
        int err = 0;
        socklen_t len = sizeof err;
        int fd = mosquitto_socket(m->mosq);
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = 0;
        /* A reset (not a refused connect) may be a broker's answer to MQTT 5:
         * one that closes with our CONNECT still unread resets. */
        if (!tls_failed(m) &&
            !refused_v5(m, false, err == ECONNRESET ? MOSQ_ERR_CONN_LOST : MOSQ_ERR_ERRNO))
            transport__failed(&m->base, NS, "connection to %s:%d failed: %s", m->base.url->host,
                              m->base.url->port, err ? strerror(err) : uv_strerror(status));
        lost(m, MSGFLO_ENOTCONN);
        goto out;
    }
    if (events & UV_READABLE) {
        /* libmosquitto reads one packet per call at QoS 0: read on while a
         * call delivered one, so one wakeup serves a whole burst. A call that
         * found the socket empty (or a packet without a callback, e.g. a
         * PINGRESP) ends it; the level-triggered poll reports what is left. */
        m->burst = 0;
        for (int i = 0; i < MAX_READ_BURST; i++) {
            unsigned before = m->packets;
            rc = mosquitto_loop_read(m->mosq, MAX_SUBS_BURST);
            if (rc != MOSQ_ERR_SUCCESS || !m->poll || m->packets == before)
                break;
        }
        flush_batch(m);
        /* Write what the callbacks queued: several packets corked into one
         * segment; a single one at once (two system calls less, same latency);
         * a read that queued nothing costs nothing. */
        if (rc == MOSQ_ERR_SUCCESS && m->poll && mosquitto_want_write(m->mosq)) {
            bool cork = m->burst > 1;
            if (cork)
                set_cork(m, 1);
            rc = mosquitto_loop_write(m->mosq, 1);
            if (cork)
                set_cork(m, 0);
        }
    }
    if (rc == MOSQ_ERR_SUCCESS && m->poll && (events & UV_WRITABLE))
        rc = mosquitto_loop_write(m->mosq, 1);
    /* The peer hung up and libmosquitto did not notice (e.g. a refused
     * connection during a TLS handshake): without this, the poll would report
     * the hang-up again at once, forever. */
    if (rc == MOSQ_ERR_SUCCESS && m->poll && (events & UV_DISCONNECT) && peer_closed(m))
        rc = MOSQ_ERR_CONN_LOST;
    /* When libmosquitto has called on_disconnect the poll is gone already;
     * otherwise (e.g. a failed TLS handshake) handle the loss here. */
    if (rc != MOSQ_ERR_SUCCESS && m->poll && m->refused) {
        lost(m, m->refused); /* said by on_connect */
    } else if (rc != MOSQ_ERR_SUCCESS && m->poll) {
        bool tls = tls_failed(m);
        if (!tls && !refused_v5(m, false, rc))
            transport__failed(&m->base, NS, "connection to %s:%d failed: %s", m->base.url->host,
                              m->base.url->port, mosquitto_strerror(rc));
        lost(m, tls || rc == MOSQ_ERR_TLS ? MSGFLO_ETLS : MSGFLO_ENOTCONN);
    }
out:
    leave(m);
}

static void update_poll(struct mqtt *m)
{
    if (!m->poll)
        return;
    int want = UV_READABLE | UV_DISCONNECT | (mosquitto_want_write(m->mosq) ? UV_WRITABLE : 0);
    if (want != m->poll_events) {
        m->poll_events = want;
        uv_poll_start(m->poll, want, on_poll);
    }
}

static int watch_socket(struct mqtt *m)
{
    int fd = mosquitto_socket(m->mosq);
    if (fd < 0)
        return MSGFLO_ENOTCONN;
    /* libmosquitto opens it without close-on-exec: a process we start (the
     * supervisor's participants) would keep it open. Then closing it here
     * would neither end the connection nor take it out of our epoll set, and
     * its errors would be reported for the next socket of the same number:
     * every reconnect dropped at once (seen after a network partition). */
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC))
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    drop_poll(m);
    m->poll = malloc(sizeof *m->poll);
    if (!m->poll)
        return MSGFLO_ENOMEM;
    if (uv_poll_init_socket(m->base.loop, m->poll, fd) != 0) {
        free(m->poll);
        m->poll = NULL;
        return MSGFLO_ESYS;
    }
    m->poll->data = m;
    m->poll_events = 0;
    update_poll(m);
    return 0;
}

static void on_misc(uv_timer_t *timer)
{
    struct mqtt *m = timer->data;
    if (!m->poll)
        return;
    enter(m);
    mosquitto_loop_misc(m->mosq);
    leave(m);
}

/* The CONNECT properties of every attempt: a kept session (clean=false)
 * lives without expiry on MQTT 5, as on 3.1.1 (MQTT 5's default expiry, 0,
 * would end it with the connection). libmosquitto 2.0 keeps CONNECT
 * properties for its reconnects but takes them only with a blocking
 * connect; given no host, it keeps them and connects nowhere
 * (MOSQ_ERR_INVAL), and mosquitto_connect_async sends them. None on 3.1.1
 * (libmosquitto refuses properties there). */
static int set_connect_properties(struct mqtt *m)
{
    mosquitto_property *props = NULL;
    if (m->v5 && !m->base.url->clean &&
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, UINT32_MAX) !=
            MOSQ_ERR_SUCCESS)
        return MSGFLO_ENOMEM;
    int rc = mosquitto_connect_bind_v5(m->mosq, NULL, 0, 0, NULL, props);
    mosquitto_property_free_all(&props);
    return rc == MOSQ_ERR_INVAL ? 0 : rc == MOSQ_ERR_NOMEM ? MSGFLO_ENOMEM : MSGFLO_EPROTO;
}

/* Whether an attempt's end is the broker's answer to MQTT 5, logged here
 * (debug: the transport's owner tells, see transport_is_mqtt5): a CONNACK
 * "unsupported protocol version" (connack, rc), or an attempt closed by the
 * broker before any CONNACK (RabbitMQ 3.10's MQTT plugin drops a CONNECT it
 * cannot read). After the CONNACK or the second such close in a row (one
 * may be a broker stopping at that moment), the next attempts speak MQTT
 * 3.1.1. */
static bool refused_v5(struct mqtt *m, bool connack, int rc)
{
    if (!m->v5)
        return false;
    if (connack && rc != MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION &&
        rc != CONNACK_REFUSED_PROTOCOL_VERSION)
        return false;
    if (!connack) {
        bool early = !m->connacked && rc == MOSQ_ERR_CONN_LOST;
        m->early_closes = early ? m->early_closes + 1 : 0;
        if (m->early_closes == 0)
            return false;
        if (m->early_closes < 2) {
            LOG_DEBUG(NS, "broker %s:%d closed the connection before its CONNACK to MQTT 5",
                      m->base.url->host, m->base.url->port);
            return true;
        }
    }
    LOG_DEBUG(NS, "broker %s:%d does not take MQTT 5: MQTT 3.1.1 from now on", m->base.url->host,
              m->base.url->port);
    m->v5 = false;
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    set_connect_properties(m); /* drops them: cannot fail */
    return true;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqtt *m = obj;
    (void)mosq;
    m->connacked = true;
    m->early_closes = 0;
    if (rc != 0 && refused_v5(m, true, rc)) {
        mosquitto_disconnect(m->mosq);
        return;
    }
    if (rc != 0) {
        /* 4/5 (MQTT 3.1.1) and 134/135 (MQTT 5): user name or password,
         * or not authorised: another attempt gets the same answer. It is
         * said once, by the transport's owner (the disconnected event). */
        if (rc == 4 || rc == 5 || rc == 134 || rc == 135) {
            m->refused = MSGFLO_EREFUSED;
            snprintf(m->base.last_error, sizeof m->base.last_error, "CONNACK %d %s", rc,
                     mosquitto_connack_string(rc));
        } else {
            LOG_ERROR(NS, "broker %s:%d refused the connection: %s", m->base.url->host,
                      m->base.url->port, mosquitto_connack_string(rc));
        }
        mosquitto_disconnect(m->mosq);
        return;
    }
    LOG_DEBUG(NS, "connected to %s:%d (MQTT %s)", m->base.url->host, m->base.url->port,
              m->v5 ? "5" : "3.1.1");
    m->base.mqtt5 = m->v5;
    transport__on_connected(&m->base);
    /* Always called from mosquitto_loop_read in on_poll, which writes what
     * this queues once the read burst is over. */
    if (m->base.events.connected)
        m->base.events.connected(m->base.ud);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted)
{
    struct mqtt *m = obj;
    (void)mosq;
    (void)mid;
    for (int i = 0; i < qos_count; i++) {
        if (granted[i] >= 0x80) /* 3.1.1: 0x80; MQTT 5: a reason code, e.g. 0x87 not authorised */
            LOG_ERROR(NS, "broker refused a subscription (access control?): 0x%02x", granted[i]);
    }
    m->packets++;
    if (m->pending_subacks > 0)
        m->pending_subacks--; /* leave() tells the waiter */
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqtt *m = obj;
    (void)mosq;
    m->pending_subacks = 0;
    transport__drop_waiters(&m->base);
    drop_batch(m);
    mqtt_topics__clear(&m->topics); /* subscribed again (a kept session has them: harmless) */
    m->pending_publishes = 0;       /* QoS 0 ones are gone; QoS 1 ones are resent */
    m->flushed = NULL;
    if (m->base.closing) {
        drop_poll(m);
        return;
    }
    if (m->refused) {
        lost(m, m->refused); /* said by on_connect */
        return;
    }
    bool tls = tls_failed(m);
    if (!tls && !refused_v5(m, false, rc))
        LOG_WARNING(NS, "connection to %s:%d lost (%s)", m->base.url->host, m->base.url->port,
                    rc == 0 ? "closed" : mosquitto_strerror(rc));
    lost(m, MSGFLO_ENOTCONN);
}

/* RabbitMQ's MQTT plugin maps an MQTT topic to an AMQP routing key with '/'
 * and '.' swapped, and delivers the routing key back without swapping them
 * again (rabbitmq-mqtt issues #58, #159): a message published on `a.OUT`
 * arrives as `a/OUT`. A topic with a '/' that is not subscribed, whose
 * swapped form is, is taken as that form. `buf` holds it (len bytes). */
static const char *topic_subscribed(const struct mqtt *m, const char *topic, char *buf, size_t len)
{
    if (!strchr(topic, '/') || mqtt_topics__has(&m->topics, topic))
        return topic;
    size_t n = strlen(topic);
    if (n >= len)
        return topic;
    for (size_t i = 0; i <= n; i++)
        buf[i] = topic[i] == '/' ? '.' : topic[i] == '.' ? '/' : topic[i];
    return mqtt_topics__has(&m->topics, buf) ? buf : topic;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct mqtt *m = obj;
    (void)mosq;
    char swapped[256];
    const char *topic = topic_subscribed(m, msg->topic, swapped, sizeof swapped);
    struct transport_delivery d = {.tag = (uint64_t)msg->mid,
                                   .generation = m->base.generation,
                                   .qos = (uint8_t)msg->qos,
                                   .retained = msg->retain,
                                   .forwarding = m->v5,
                                   .props = m->v5 ? props : NULL};
    m->burst++;
    m->packets++;
    if (m->base.events.message)
        m->base.events.message(m->base.ud, topic, &d, msg->payload, (size_t)msg->payloadlen);
}

static void start_connect(struct mqtt *m, bool first)
{
    const msgflo_url *u = m->base.url;
    enter(m);
    tls__begin(&m->tls, u);
    m->tls_reported = false;
    m->connacked = false;
    int rc = first ? mosquitto_connect_async(m->mosq, u->host, u->port, u->keepalive)
                   : mosquitto_reconnect_async(m->mosq);
    /* Only before the first connection: a name that resolved before may
     * come back (a DNS record being replaced). */
    if (rc == MOSQ_ERR_EAI && m->base.generation == 0 && transport__host_unknown(u->host)) {
        snprintf(m->base.last_error, sizeof m->base.last_error, "host name %s not found", u->host);
        lost(m, MSGFLO_ENOHOST);
    } else if (rc != MOSQ_ERR_SUCCESS) {
        m->early_closes = 0;
        if (!tls_failed(m))
            transport__failed(&m->base, NS, "cannot connect to %s:%d: %s", u->host, u->port,
                              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        lost(m, MSGFLO_ECONNECT);
    } else if (watch_socket(m) != 0) {
        lost(m, MSGFLO_ESYS);
    }
    leave(m);
}

static void mqtt_retry(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    start_connect(m, false);
}

static int mqtt_connect(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    if (uv_timer_start(m->misc, on_misc, 1000, 1000) != 0)
        return MSGFLO_ESYS;
    start_connect(m, true);
    return 0;
}

static int mosq_err(int rc, const char *what, const char *topic)
{
    if (rc == MOSQ_ERR_SUCCESS)
        return 0;
    LOG_DEBUG(NS, "%s %s: %s", what, topic, mosquitto_strerror(rc));
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
        return MSGFLO_ENOTCONN;
    if (rc == MOSQ_ERR_NOMEM)
        return MSGFLO_ENOMEM;
    if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8)
        return MSGFLO_EINVAL;
    return MSGFLO_EPROTO;
}

/* Forwarding on MQTT 5: its own publications are not sent back (no-local),
 * a live message keeps its retain flag, retained messages are not handed
 * out on subscribing (a binding forwards what is published after it, as
 * the broker plugin does), and QoS 2 stays QoS 2. */
static int sub_options(const struct mqtt *m)
{
    return m->v5 ? MQTT_SUB_OPT_NO_LOCAL | MQTT_SUB_OPT_RETAIN_AS_PUBLISHED |
                       MQTT_SUB_OPT_SEND_RETAIN_NEVER
                 : 0;
}

static int sub_qos(const struct mqtt *m)
{
    return m->v5 ? 2 : m->base.url->qos;
}

static int mqtt_noop_declare(struct transport *base, const char *queue)
{
    (void)base;
    (void)queue;
    return 0;
}

static void drop_batch(struct mqtt *m)
{
    for (int i = 0; i < m->n_batch; i++)
        free(m->batch[i]);
    m->n_batch = 0;
}

/* Sends the subscriptions batched during a call into libmosquitto (e.g. the
 * watches a burst of discoveries asked for) as SUBSCRIBEs of up to
 * SUBS_PER_PACKET topics: one packet, one write and one SUBACK instead of
 * one each per topic. */
static void flush_batch(struct mqtt *m)
{
    if (m->n_batch == 0)
        return;
    m->busy++;
    for (int at = 0; at < m->n_batch; at += SUBS_PER_PACKET) {
        int n = m->n_batch - at < SUBS_PER_PACKET ? m->n_batch - at : SUBS_PER_PACKET;
        LOG_DEBUG(NS, "subscribe %d topics from %s", n, m->batch[at]);
        m->pending_subacks++;
        int rc = mosq_err(mosquitto_subscribe_multiple(m->mosq, NULL, n, m->batch + at, sub_qos(m),
                                                       sub_options(m), NULL),
                          "subscribe", m->batch[at]);
        if (rc) {
            /* The connection is gone: its loss handler subscribes again. */
            m->pending_subacks--;
            for (int i = at; i < at + n; i++)
                mqtt_topics__forget(&m->topics, m->batch[i]);
        }
    }
    drop_batch(m);
    m->busy--;
}

/* Queues topic for flush_batch. Its errors are those mosquitto_subscribe
 * would give now, so one bad topic never fails a batch. */
static int batch_add(struct mqtt *m, const char *topic)
{
    if (mosquitto_sub_topic_check(topic) != MOSQ_ERR_SUCCESS ||
        mosquitto_validate_utf8(topic, (int)strnlen(topic, 65536)) != MOSQ_ERR_SUCCESS)
        return mosq_err(MOSQ_ERR_INVAL, "subscribe", topic);
    if (m->n_batch == m->cap_batch) {
        int cap = m->cap_batch ? 2 * m->cap_batch : 64;
        char **b = realloc(m->batch, (size_t)cap * sizeof *b);
        if (!b)
            return MSGFLO_ENOMEM;
        m->batch = b;
        m->cap_batch = cap;
    }
    if (!(m->batch[m->n_batch] = strdup(topic)))
        return MSGFLO_ENOMEM;
    m->n_batch++;
    return 0;
}

/* One SUBSCRIBE per topic and connection, whatever the reasons (mqtt_topics.h).
 * Inside a call into libmosquitto (a message's handler) the topic waits for
 * the end of the call and goes out with the others asked for meanwhile. */
static int subscribe_topic(struct mqtt *m, const char *queue, bool watch)
{
    bool send;
    int rc = mqtt_topics__want(&m->topics, queue, watch, &send);
    if (rc || !send)
        return rc;
    if (m->busy > 0 && m->poll) {
        if ((rc = batch_add(m, queue)) != 0)
            mqtt_topics__forget(&m->topics, queue);
        return rc;
    }
    LOG_DEBUG(NS, "subscribe %s", queue);
    enter(m);
    m->pending_subacks++;
    rc = mosq_err(mosquitto_subscribe_v5(m->mosq, NULL, queue, sub_qos(m), sub_options(m), NULL),
                  "subscribe", queue);
    if (rc) {
        m->pending_subacks--;
        mqtt_topics__forget(&m->topics, queue);
    }
    leave(m);
    return rc;
}

static int mqtt_subscribe(struct transport *base, const char *queue)
{
    return subscribe_topic((struct mqtt *)base, queue, false);
}

/* A watch is a subscription: on MQTT every subscriber sees every message. */
static int mqtt_watch(struct transport *base, const char *queue)
{
    return subscribe_topic((struct mqtt *)base, queue, true);
}

/* Unsubscribes only when nothing else reads the topic (e.g. a forwarding). */
static int mqtt_unwatch(struct transport *base, const char *queue)
{
    struct mqtt *m = (struct mqtt *)base;
    bool send;
    mqtt_topics__unwatch(&m->topics, queue, &send);
    if (!send)
        return 0;
    LOG_DEBUG(NS, "unsubscribe %s", queue);
    enter(m);
    flush_batch(m); /* a SUBSCRIBE asked for before goes first */
    int rc = mosq_err(mosquitto_unsubscribe(m->mosq, NULL, queue), "unsubscribe", queue);
    leave(m);
    return rc;
}

static void mqtt_when_subscribed(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    enter(m);
    leave(m); /* fires now when nothing is pending and we are not inside libmosquitto */
}

static int publish(struct mqtt *m, const char *queue, const void *data, size_t len, int qos,
                   bool retain, const mosquitto_property *props)
{
    if (len > INT32_MAX)
        return MSGFLO_EINVAL;
    enter(m);
    flush_batch(m); /* subscriptions asked for before go first */
    /* Counted before the call: a QoS 0 publish may be written (and reported
     * through on_publish) before mosquitto_publish returns. */
    m->pending_publishes++;
    int rc =
        mosq_err(mosquitto_publish_v5(m->mosq, NULL, queue, (int)len, data, qos, retain, props),
                 "publish", queue);
    if (rc)
        m->pending_publishes--;
    leave(m);
    return rc;
}

static int mqtt_publish_as(struct transport *base, const char *queue, const void *data, size_t len,
                           int qos, bool retain)
{
    return publish((struct mqtt *)base, queue, data, len, qos, retain, NULL);
}

/* Copies the properties that describe a message (transport_forward); the
 * others belong to its delivery on this connection (a subscription
 * identifier, a topic alias). Their order is kept. */
static int copy_message_properties(const mosquitto_property *in, mosquitto_property **out)
{
    int rc = MOSQ_ERR_SUCCESS;
    for (const mosquitto_property *p = in; p && rc == MOSQ_ERR_SUCCESS;
         p = mosquitto_property_next(p)) {
        int id = mosquitto_property_identifier(p);
        uint8_t byte;
        uint32_t u32;
        uint16_t n;
        char *name = NULL, *value = NULL;
        void *bin = NULL;
        switch (id) {
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
            rc = mosquitto_property_read_byte(p, id, &byte, false)
                     ? mosquitto_property_add_byte(out, id, byte)
                     : MOSQ_ERR_NOMEM;
            break;
        case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL: /* what is left of it */
            rc = mosquitto_property_read_int32(p, id, &u32, false)
                     ? mosquitto_property_add_int32(out, id, u32)
                     : MOSQ_ERR_NOMEM;
            break;
        case MQTT_PROP_CONTENT_TYPE:
        case MQTT_PROP_RESPONSE_TOPIC:
            rc = mosquitto_property_read_string(p, id, &value, false)
                     ? mosquitto_property_add_string(out, id, value)
                     : MOSQ_ERR_NOMEM;
            break;
        case MQTT_PROP_CORRELATION_DATA:
            rc = mosquitto_property_read_binary(p, id, &bin, &n, false)
                     ? mosquitto_property_add_binary(out, id, bin, n)
                     : MOSQ_ERR_NOMEM;
            break;
        case MQTT_PROP_USER_PROPERTY:
            rc = mosquitto_property_read_string_pair(p, id, &name, &value, false)
                     ? mosquitto_property_add_string_pair(out, id, name, value)
                     : MOSQ_ERR_NOMEM;
            break;
        default:
            break;
        }
        free(name);
        free(value);
        free(bin);
    }
    return rc;
}

static int mqtt_forward(struct transport *base, const char *topic,
                        const struct transport_delivery *d, const void *data, size_t len)
{
    struct mqtt *m = (struct mqtt *)base;
    if (!d->forwarding || !m->v5) /* a plain delivery: as the forwarder always did */
        return publish(m, topic, data, len, d->qos, false, NULL);
    mosquitto_property *props = NULL;
    int rc = mosq_err(copy_message_properties(d->props, &props), "forward", topic);
    if (rc == 0)
        rc = publish(m, topic, data, len, d->qos, d->retained, props);
    mosquitto_property_free_all(&props);
    return rc;
}

static int mqtt_set_forwarding(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    m->v5 = true;
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    int rc = set_connect_properties(m);
    if (rc) {
        m->v5 = false;
        mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    }
    return rc;
}

static int mqtt_publish(struct transport *base, const char *queue, const void *data, size_t len)
{
    return mqtt_publish_as(base, queue, data, len, base->url->qos, false);
}

static int mqtt_set_will(struct transport *base, const char *topic, const void *data, size_t len,
                         bool retain)
{
    struct mqtt *m = (struct mqtt *)base;
    if (len > INT32_MAX)
        return MSGFLO_EINVAL;
    int rc = mosquitto_will_set(m->mosq, topic, (int)len, data, 1, retain);
    return rc == MOSQ_ERR_NOMEM ? MSGFLO_ENOMEM : rc ? MSGFLO_EINVAL : 0;
}

/* libmosquitto reports a QoS 0 publish once written, a QoS 1 one once acknowledged. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct mqtt *m = obj;
    (void)mosq;
    (void)mid;
    m->packets++;
    if (m->pending_publishes > 0)
        m->pending_publishes--;
}

static int mqtt_when_flushed(struct transport *base, void (*done)(void *arg), void *arg)
{
    struct mqtt *m = (struct mqtt *)base;
    m->flushed = done;
    m->flushed_arg = arg;
    enter(m);
    leave(m);
    return 0;
}

static int mqtt_announce(struct transport *base, const void *data, size_t len)
{
    return mqtt_publish(base, "fbp", data, len);
}

static int mqtt_declare_discovery(struct transport *base)
{
    (void)base;
    return 0; /* topics need no declaration */
}

static int mqtt_ack(struct transport *base, const struct transport_delivery *d)
{
    (void)base;
    (void)d;
    return 0;
}

static void mqtt_freed(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    struct transport_events ev = base->events;
    void *ud = base->ud;
    mosquitto_destroy(m->mosq);
    drop_batch(m);
    free(m->batch);
    mqtt_topics__clear(&m->topics);
    free(m);
    if (ev.closed)
        ev.closed(ud);
}

static void on_misc_closed(uv_handle_t *h)
{
    struct mqtt *m = h->data;
    free(h);
    transport__cleanup(&m->base, mqtt_freed);
}

static void do_close(struct mqtt *m)
{
    if (mosquitto_socket(m->mosq) >= 0) {
        mosquitto_disconnect(m->mosq);
        mosquitto_loop_write(m->mosq, 1);
    }
    drop_poll(m);
    uv_timer_stop(m->misc);
    uv_close((uv_handle_t *)m->misc, on_misc_closed);
}

static void mqtt_close(struct transport *base)
{
    struct mqtt *m = (struct mqtt *)base;
    if (m->busy > 0) {
        m->close_pending = true; /* done when the outermost call returns */
        return;
    }
    do_close(m);
}

static const struct transport_ops mqtt_ops = {
    .connect = mqtt_connect,
    .declare_inqueue = mqtt_noop_declare,
    .declare_outqueue = mqtt_noop_declare,
    .subscribe = mqtt_subscribe,
    .watch = mqtt_watch,
    .unwatch = mqtt_unwatch,
    .publish = mqtt_publish,
    .publish_as = mqtt_publish_as,
    .set_will = mqtt_set_will,
    .set_forwarding = mqtt_set_forwarding,
    .forward = mqtt_forward,
    .send_to_queue = mqtt_publish,
    .announce = mqtt_announce,
    .declare_discovery = mqtt_declare_discovery,
    .when_subscribed = mqtt_when_subscribed,
    .when_flushed = mqtt_when_flushed,
    .ack = mqtt_ack,
    .nack = mqtt_ack,
    .close = mqtt_close,
};

/* Our own SSL_CTX, configured by tls.c, without libmosquitto's defaults: its
 * host check and verify callback would replace ours. */
static int configure_tls(struct mqtt *m)
{
    char err[400];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return MSGFLO_ENOMEM;
    int rc = tls__configure(ctx, m->base.url, &m->tls, err, sizeof err);
    if (rc == 0 && (mosquitto_int_option(m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != 0 ||
                    mosquitto_void_option(m->mosq, MOSQ_OPT_SSL_CTX, ctx) != 0)) {
        snprintf(err, sizeof err, "libmosquitto was built without TLS");
        rc = MSGFLO_ETLS;
    }
    SSL_CTX_free(ctx); /* libmosquitto holds a reference of its own */
    if (rc) {
        LOG_ERROR(NS, "TLS set-up failed: %s", err);
        return rc;
    }
    if (m->base.url->insecure)
        tls__warn_insecure(NS, m->base.url);
    return 0;
}

int transport__mqtt_new(struct transport **out, uv_loop_t *loop, msgflo_url *url,
                        const char *client_id, const struct transport_events *ev, void *ud)
{
    static bool lib_ready;
    int rc;
    if (!lib_ready) {
        mosquitto_lib_init();
        lib_ready = true;
    }
    struct mqtt *m = calloc(1, sizeof *m);
    if (!m) {
        msgflo_url_free(url);
        return MSGFLO_ENOMEM;
    }
    const char *cid = url->client_id ? url->client_id : client_id;
    rc = transport__init(&m->base, &mqtt_ops, loop, url, cid, ev, ud);
    if (rc) {
        msgflo_url_free(url);
        free(m);
        return rc;
    }
    bool misc_ready = false;
    m->misc = malloc(sizeof *m->misc);
    if (!m->misc || uv_timer_init(loop, m->misc) != 0) {
        rc = MSGFLO_ESYS;
        goto fail;
    }
    misc_ready = true;
    /* clean=false: the broker keeps the session under this client id (its
     * subscriptions, and QoS 1 messages for it while it is away) when the
     * connection or the broker restarts. libmosquitto keeps unacknowledged
     * QoS 1 publishes across reconnects and sends them again either way. */
    m->mosq = mosquitto_new(m->base.client_id, url->clean, m);
    if (!m->mosq) {
        rc = MSGFLO_ENOMEM;
        goto fail;
    }
    m->misc->data = m;
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    /* Enough in-flight QoS 1 messages for a full prefetch-like window. */
    mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, 1000);
    if (url->user && mosquitto_username_pw_set(m->mosq, url->user, url->password) != 0) {
        rc = MSGFLO_ENOMEM;
        goto fail;
    }
    if (url->tls && (rc = configure_tls(m)) != 0)
        goto fail;
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(m->mosq, on_message);
    mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    *out = &m->base;
    return 0;
fail:
    m->base.events.closed = NULL;
    if (misc_ready) {
        m->misc->data = m;
        uv_close((uv_handle_t *)m->misc, on_misc_closed);
        return rc;
    }
    free(m->misc);
    transport__cleanup(&m->base, mqtt_freed);
    return rc;
}
