/* AMQP 0-9-1 transport on rabbitmq-c, driven from a libuv loop.
 *
 * Topology is declared exactly as msgflo-nodejs (amqplib) declares it, so Node
 * and C participants can share a broker: an inqueue Q is a durable queue with
 * x-dead-letter-exchange=dead-Q plus a durable fanout exchange Q bound to it;
 * an outqueue is a durable fanout exchange; discovery goes to the durable
 * queue `fbp` through the default exchange.
 *
 * rabbitmq-c has no asynchronous API. Connecting, logging in and opening the
 * channel run on a thread of their own per attempt, which hands the connection
 * back to the loop (see "connecting" below), so a broker that never answers
 * does not freeze the loop. Declarations, bindings, consumes and cancels are
 * pipelined on the loop: sent with amqp_send_method without waiting, their
 * replies read by the same drain as deliveries and confirms (see
 * "declarations and subscriptions" below). The data path is non-blocking: a
 * uv_poll handle on the socket drains every buffered frame with zero
 * timeouts, and a timer at half the heartbeat interval services heartbeats
 * while idle. Administration (admin.h: topology batches, queue statistics) is
 * not here: it uses a connection of its own, opened with amqp__open, so
 * nothing of the data connection's traffic is read, or lost, while it runs;
 * amqp_shared.h is all it reaches of this file.
 *
 * No loss: the channel is in confirm mode, and an ack of a received message
 * is held back until the broker has confirmed every message published before
 * it (amqp_acks.c, which also batches acks into multiple acks).
 */
#include "transport/transport.h"

#include "core/log.h"
#include "transport/amqp_acks.h"
#include "transport/amqp_shared.h"
#include "transport/tls.h"
#include "msgflo/errors.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS              "msgflo:amqp"
#define CHANNEL         1
#define CONNECT_TIMEOUT 10 /* seconds */
#define MAX_BURST       1000
#define WATCH_TAG       "msgflo-watch-" /* consumer tag prefix of watches (no acks) */
#define SUB_TAG         "msgflo-sub-"   /* consumer tag prefix of subscriptions */
#define REPLY_TIMEOUT   10000           /* ms without the reply to a declaration: lost */
#define CLOSE_WAIT      1000            /* ms for confirms, then for connection.close-ok */

struct subscription {
    char *queue;
    char *consumer_tag;
};

/* A method sent on CHANNEL whose reply has not come yet. RabbitMQ carries
 * out a channel's methods in order and answers declarations and bindings in
 * that order, but a consume-ok or cancel-ok comes from the queue's process
 * and may come after the replies to methods sent later: a reply is matched
 * with the oldest unanswered entry expecting it (by consumer tag for those
 * two). A refused method closes the channel; the close names it. */
struct pending {
    amqp_method_number_t sent;  /* the method */
    amqp_method_number_t reply; /* the -ok method expected */
    bool answered;              /* (between head and the end: answered out of order) */
    bool watch;                 /* a watch's queue.declare: bind and consume on its reply */
    bool cancelled;             /* that watch was taken back before the reply */
    char name[256];             /* the queue (or exchange) named, for the log and watches */
    char tag[320];              /* consume, cancel: the consumer tag */
    char what[48];              /* "declare queue", ... */
};

struct amqp {
    struct transport base;
    amqp_connection_state_t conn; /* NULL when disconnected */
    uv_poll_t *poll;
    uv_timer_t *heartbeat;
    uv_timer_t *replies;   /* REPLY_TIMEOUT for the oldest unanswered method */
    uv_timer_t *kick;      /* drains, from the loop, frames queued during amqp__settle */
    struct amqp_acks acks; /* publisher confirms and held-back acks on CHANNEL */
    struct subscription *subs;
    size_t n_subs;
    struct pending *pending; /* [head, n_pending): sent, oldest first; head unanswered */
    size_t head, n_pending, cap_pending;
    uint32_t next_tag; /* numbers the consumer tags of subscriptions */
    bool draining;
    /* transport_close under way on the loop: waiting for the confirms that
     * release held-back acks, then for connection.close-ok (`replies` times
     * each out) */
    enum { CLOSE_NONE, CLOSE_FLUSHING, CLOSE_SENT } close_phase;
    int loss;                   /* why handle_frame gave the connection up, when not ENOTCONN */
    void (*flushed)(void *arg); /* waiting for every publish to be confirmed */
    void *flushed_arg;
    struct connect_job *job; /* the attempt under way on its thread; NULL: none */
};

struct connect_job;

static void amqp_retry(struct transport *base);
static void drain(struct amqp *a);

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* Writes "<what> <name> failed: <the broker's or the library's reason>" to
 * `buf` and returns the error for it, or 0 for a normal reply. Does not log:
 * the connecting thread uses it too. */
static int describe_reply(amqp_rpc_reply_t r, const char *what, const char *name, char *buf,
                          size_t len)
{
    char detail[256] = "";
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        snprintf(detail, sizeof detail, "no reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(detail, sizeof detail, "%s", amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            snprintf(detail, sizeof detail, "%d %.*s", m->reply_code, (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            snprintf(detail, sizeof detail, "%d %.*s", m->reply_code, (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
        } else {
            snprintf(detail, sizeof detail, "server method 0x%08x", r.reply.id);
        }
        break;
    }
    snprintf(buf, len, "%s%s%s failed: %s", what, name ? " " : "", name ? name : "", detail);
    return r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? MSGFLO_ECONNECT : MSGFLO_EPROTO;
}

static int check_reply(struct amqp *a, amqp_rpc_reply_t r, const char *what, const char *name)
{
    char text[400];
    int rc = describe_reply(r, what, name, text, sizeof text);
    if (rc)
        LOG_ERROR(NS, "%s", text);
    (void)a;
    return rc;
}

static void drop_connection(struct amqp *a)
{
    transport__drop_admin(&a->base, false); /* it goes with the data connection */
    if (a->poll) {
        uv_poll_stop(a->poll);
        uv_close((uv_handle_t *)a->poll, free_handle);
        a->poll = NULL;
    }
    uv_timer_stop(a->heartbeat);
    uv_timer_stop(a->replies);
    uv_timer_stop(a->kick);
    if (a->conn) {
        amqp_destroy_connection(a->conn);
        a->conn = NULL;
    }
    amqp_acks__reset(&a->acks); /* tags and sequence numbers start again on a new channel */
    a->flushed = NULL;
    transport__drop_waiters(&a->base); /* the caller asks again on `connected` */
    a->head = a->n_pending = 0;
    for (size_t i = 0; i < a->n_subs; i++) {
        free(a->subs[i].queue);
        free(a->subs[i].consumer_tag);
    }
    a->n_subs = 0;
}

/* The URL with host and port of the failover list's current entry (a
 * shallow copy: valid while the transport's URL is). */
static msgflo_url current_url(const struct amqp *a)
{
    msgflo_url u = *a->base.url;
    if (a->base.at < u.n_hosts) {
        u.host = u.hosts[a->base.at].host;
        u.port = u.hosts[a->base.at].port;
    }
    return u;
}

static void finish_close(struct amqp *a);

static void lost(struct amqp *a, int err)
{
    if (a->close_phase != CLOSE_NONE) {
        finish_close(a); /* closing anyway */
        return;
    }
    drop_connection(a);
    /* A failover list: the next attempt goes to the next node of the
     * cluster (a lost node usually takes its connections with it). */
    const msgflo_url *u = a->base.url;
    if (u->n_hosts > 1 && !a->base.closing) {
        a->base.at = (a->base.at + 1) % u->n_hosts;
        LOG_INFO(NS, "next attempt: %s:%d (%zu of %zu)", u->hosts[a->base.at].host,
                 u->hosts[a->base.at].port, a->base.at + 1, u->n_hosts);
    }
    if (!a->base.closing)
        transport__schedule_reconnect(&a->base, err, amqp_retry);
}

/* --- confirms and held-back acks (amqp_acks.c) ----------------------------- */

static int send_ack(void *ud, uint64_t tag, bool multiple)
{
    struct amqp *a = ud;
    if (!a->conn || amqp_basic_ack(a->conn, CHANNEL, tag, multiple) != AMQP_STATUS_OK) {
        LOG_WARNING(NS, "ack of message %llu failed", (unsigned long long)tag);
        return MSGFLO_ENOTCONN;
    }
    return 0;
}

static void on_confirm(struct amqp *a, uint64_t tag, bool multiple, bool nacked)
{
    if (nacked)
        LOG_ERROR(NS, "broker could not take published message %llu%s", (unsigned long long)tag,
                  multiple ? " and earlier ones" : "");
    /* Confirms come one by one while the broker keeps up: the acks they
     * release go out together after the burst (amqp_acks__release at the end
     * of drain), so a batch of them can be one multiple ack. */
    size_t settled = amqp_acks__confirmed(&a->acks, tag, multiple);
    if (nacked)
        a->base.refused += settled;
    if (amqp_acks__all_confirmed(&a->acks) && a->flushed) {
        amqp_acks__release(&a->acks);
        void (*done)(void *) = a->flushed;
        a->flushed = NULL;
        done(a->flushed_arg);
    }
}

/* --- frames ------------------------------------------------------------------ */

static const char *queue_of(const struct amqp *a, amqp_bytes_t consumer_tag)
{
    for (size_t i = 0; i < a->n_subs; i++) {
        const char *t = a->subs[i].consumer_tag;
        if (strlen(t) == consumer_tag.len && memcmp(t, consumer_tag.bytes, consumer_tag.len) == 0)
            return a->subs[i].queue;
    }
    return NULL;
}

static bool on_reply(struct amqp *a, const amqp_frame_t *f);
static const struct pending *refused(const struct amqp *a, const amqp_channel_close_t *m);

/* The broker closed the channel: logs why, and which method of ours it
 * refused; a caller that cannot go on without that method (a tool) reads
 * it in transport_last_error. */
static void channel_closed(struct amqp *a, const amqp_channel_close_t *m)
{
    if (a->head == a->n_pending) {
        LOG_ERROR(NS, "broker closed the channel: %d %.*s", m->reply_code, (int)m->reply_text.len,
                  (const char *)m->reply_text.bytes);
        return;
    }
    const struct pending *p = refused(a, m);
    snprintf(a->base.last_error, sizeof a->base.last_error, "%s %s failed: %d %.*s", p->what,
             p->name, m->reply_code, (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    LOG_ERROR(NS, "%s", a->base.last_error);
    a->loss = MSGFLO_EPROTO;
}

/* Handles a frame that is not a delivery. Returns false when the connection
 * can no longer be used. */
static bool handle_frame(struct amqp *a, const amqp_frame_t *f)
{
    if (f->frame_type != AMQP_FRAME_METHOD)
        return true;
    switch (f->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *m = f->payload.method.decoded;
        on_confirm(a, m->delivery_tag, m->multiple, false);
        return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *m = f->payload.method.decoded;
        /* The broker refused a publish (a quorum queue without a leader
         * while its node is down): the input it came from must not be
         * acked. Reconnecting returns every unacked delivery to its queue,
         * to be processed again. */
        if (a->n_subs > 0 || amqp_acks__held(&a->acks) > 0) {
            LOG_WARNING(NS,
                        "broker could not take published message %llu%s; reconnecting so that "
                        "the messages being processed are delivered again",
                        (unsigned long long)m->delivery_tag,
                        m->multiple ? " and earlier ones" : "");
            return false;
        }
        on_confirm(a, m->delivery_tag, m->multiple, true);
        return true;
    }
    case AMQP_BASIC_RETURN_METHOD:
        return true;
    case AMQP_QUEUE_DECLARE_OK_METHOD:
    case AMQP_EXCHANGE_DECLARE_OK_METHOD:
    case AMQP_QUEUE_BIND_OK_METHOD:
    case AMQP_BASIC_CONSUME_OK_METHOD:
    case AMQP_BASIC_CANCEL_OK_METHOD:
        return on_reply(a, f);
    case AMQP_BASIC_CANCEL_METHOD:
        LOG_WARNING(NS, "broker cancelled a consumer (queue deleted?); reconnecting");
        return false;
    case AMQP_CHANNEL_CLOSE_METHOD:
        channel_closed(a, f->payload.method.decoded);
        return false;
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_t *m = f->payload.method.decoded;
        LOG_WARNING(NS, "broker closed the connection: %d %.*s", m->reply_code,
                    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return false;
    }
    default:
        LOG_DEBUG(NS, "ignoring method 0x%08x", f->payload.method.id);
        return true;
    }
}

static void drain_closing(struct amqp *a);

static void drain(struct amqp *a)
{
    struct timeval zero = {0, 0};
    if (a->draining)
        return; /* re-entered from a message callback */
    if (a->close_phase != CLOSE_NONE) {
        drain_closing(a);
        return;
    }
    a->draining = true;
    for (int n = 0; a->conn && a->close_phase == CLOSE_NONE && n < MAX_BURST; n++) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(a->conn);
        amqp_rpc_reply_t r = amqp_consume_message(a->conn, &env, &zero, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            const char *queue = queue_of(a, env.consumer_tag);
            struct transport_delivery d = {.tag = env.delivery_tag,
                                           .generation = a->base.generation};
            /* A watch consumes without acks: nothing to ack for its tag. */
            if (env.consumer_tag.len >= strlen(WATCH_TAG) &&
                memcmp(env.consumer_tag.bytes, WATCH_TAG, strlen(WATCH_TAG)) == 0 &&
                amqp_acks__settled(&a->acks, env.delivery_tag) != 0)
                LOG_WARNING(NS, "out of memory keeping delivery %llu",
                            (unsigned long long)env.delivery_tag);
            if (queue && a->base.events.message)
                a->base.events.message(a->base.ud, queue, &d, env.message.body.bytes,
                                       env.message.body.len);
            amqp_destroy_envelope(&env);
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            break;
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t frame;
            int rc = amqp_simple_wait_frame_noblock(a->conn, &frame, &zero);
            if (rc == AMQP_STATUS_TIMEOUT)
                break;
            if (rc == AMQP_STATUS_OK && handle_frame(a, &frame))
                continue;
            if (rc != AMQP_STATUS_OK)
                LOG_WARNING(NS, "connection lost: %s", amqp_error_string2(rc));
            int err = a->loss ? a->loss : MSGFLO_ENOTCONN;
            a->loss = 0;
            a->draining = false;
            lost(a, err);
            return;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
            LOG_WARNING(NS, "connection lost: %s", amqp_error_string2(r.library_error));
        else
            check_reply(a, r, "consume", NULL);
        a->draining = false;
        lost(a, MSGFLO_ENOTCONN);
        return;
    }
    a->draining = false;
    if (a->conn)
        amqp_acks__release(&a->acks);
    if (a->close_phase != CLOSE_NONE) /* closed from a message callback */
        drain_closing(a);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct amqp *a = h->data;
    (void)events;
    if (status < 0) {
        /* libuv reports POLLERR (a reset connection: a broker killed) as
         * UV_EBADF, which would read as a bug of ours. */
        msgflo_url one = current_url(a);
        LOG_WARNING(NS, "connection to %s:%d lost: %s", one.host, one.port,
                    status == UV_EBADF ? "socket error (reset?)" : uv_strerror(status));
        lost(a, MSGFLO_ENOTCONN);
        return;
    }
    drain(a);
}

static void on_heartbeat(uv_timer_t *timer)
{
    drain(timer->data);
}

/* --- connecting ---------------------------------------------------------- */

/* Connecting, logging in and opening the channel are blocking rabbitmq-c
 * calls (a broker that accepts TCP and never answers holds them for
 * CONNECT_TIMEOUT), so they run on a thread of their own, one per attempt,
 * and the logged-in connection is handed back to the loop (connect_work,
 * on_connect_done). Until the hand-back only that thread touches the
 * connection; after it, only the loop thread. */

/* Where the connecting thread shows its socket while logging in, so that
 * transport_close can shut it down and end a login that is never answered. */
struct socket_slot {
    uv_mutex_t lock;
    int fd;           /* -1: none (not open yet, or no longer waiting) */
    bool interrupted; /* closing: shut the socket down as soon as it is open */
};

struct connect_job {
    struct amqp *a; /* read by the loop thread only */
    msgflo_url url; /* the host tried: a shallow copy (the transport's URL
                     * outlives the job, the close waits for it) */
    uv_thread_t thread;
    uv_async_t done; /* wakes the loop: on_connect_done */
    struct socket_slot slot;
    /* results, written by the thread before it signals `done` */
    amqp_connection_state_t conn; /* logged in with the channel open, or NULL */
    int rc;
    bool severe;   /* `why` is an error (refused), not a warning (unreachable) */
    char why[400]; /* what failed, when rc != 0 */
};

static void slot_open(struct socket_slot *s, int fd)
{
    if (!s)
        return;
    uv_mutex_lock(&s->lock);
    s->fd = fd;
    if (s->interrupted && fd >= 0)
        shutdown(fd, SHUT_RDWR);
    uv_mutex_unlock(&s->lock);
}

/* Whether the broker closed the connection during the login for a reason
 * that another attempt would meet again: 403 ACCESS_REFUSED (user name or
 * password) or 530 NOT_ALLOWED (no such vhost, or no access to it). Writes
 * the broker's code and text to `why`. */
static bool login_refused(amqp_rpc_reply_t r, char *why, size_t whylen)
{
    if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION ||
        r.reply.id != AMQP_CONNECTION_CLOSE_METHOD)
        return false;
    amqp_connection_close_t *m = r.reply.decoded;
    if (m->reply_code != AMQP_ACCESS_REFUSED && m->reply_code != AMQP_NOT_ALLOWED)
        return false;
    snprintf(why, whylen, "%d %.*s", m->reply_code, (int)m->reply_text.len,
             (const char *)m->reply_text.bytes);
    return true;
}

/* Opens the socket and logs in; on failure writes why to `why` (an error
 * when *severe, else a warning) without logging: it runs on the connecting
 * thread. `slot` (NULL: none) shows the socket while logging in. */
static int open_socket(amqp_connection_state_t conn, const msgflo_url *u, int heartbeat,
                       struct socket_slot *slot, char *why, size_t whylen, bool *severe)
{
    why[0] = '\0';
    *severe = false;
    amqp_socket_t *sock;
    SSL_CTX *ctx = NULL;
    struct tls_report report; /* this connection's; detached from ctx at the end */
    int rc;
    if (u->tls) {
        sock = amqp_ssl_socket_new(conn);
        if (!sock)
            return MSGFLO_ETLS;
        /* OpenSSL checks the host (tls.c); rabbitmq-c 0.11's own check
         * knows DNS names only and refuses a certificate for an IP address. */
        amqp_ssl_socket_set_verify_peer(sock, !u->insecure);
        amqp_ssl_socket_set_verify_hostname(sock, false);
        ctx = amqp_ssl_socket_get_context(sock);
        char err[300];
        if (tls__configure(ctx, u, &report, err, sizeof err) != 0) {
            tls__attach(ctx, NULL);
            snprintf(why, whylen, "TLS set-up failed: %s", err);
            *severe = true;
            return MSGFLO_ETLS;
        }
    } else {
        sock = amqp_tcp_socket_new(conn);
        if (!sock)
            return MSGFLO_ENOMEM;
    }
    struct timeval tv = {CONNECT_TIMEOUT, 0};
    rc = amqp_socket_open_noblock(sock, u->host, u->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        bool tls = ctx && tls__explain(&report, why, whylen);
        bool nohost = !tls && rc == AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED &&
                      transport__host_unknown(u->host);
        if (nohost)
            snprintf(why, whylen, "host name %s not found", u->host);
        else if (!tls)
            snprintf(why, whylen, "cannot connect to %s:%d: %s", u->host, u->port,
                     amqp_error_string2(rc));
        rc = tls ? MSGFLO_ETLS : nohost ? MSGFLO_ENOHOST : MSGFLO_ECONNECT;
        *severe = nohost;
        goto out;
    }
    slot_open(slot, amqp_get_sockfd(conn));
    amqp_set_rpc_timeout(conn, &tv);
    amqp_rpc_reply_t r = amqp_login(conn, u->vhost, u->channel_max,
                                    u->frame_max ? u->frame_max : AMQP_DEFAULT_FRAME_SIZE,
                                    heartbeat, AMQP_SASL_METHOD_PLAIN, u->user ? u->user : "guest",
                                    u->password ? u->password : "guest");
    slot_open(slot, -1); /* before anything may close the socket */
    /* With TLS 1.3 the broker refuses our certificate after the handshake:
     * its alert arrives during the login. */
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && ctx &&
        tls__explain(&report, why, whylen)) {
        rc = MSGFLO_ETLS;
    } else if (login_refused(r, why, whylen)) {
        *severe = true;
        rc = MSGFLO_EREFUSED;
    } else if (describe_reply(r, "login to", u->host, why, whylen) != 0) {
        *severe = true;
        rc = MSGFLO_ECONNECT;
    } else {
        rc = 0;
    }
out:
    if (ctx)
        tls__attach(ctx, NULL);
    return rc;
}

static int open_logged_in(const msgflo_url *u, int heartbeat, struct socket_slot *slot,
                          amqp_connection_state_t *out, char *why, size_t whylen, bool *severe)
{
    amqp_connection_state_t conn = amqp_new_connection();
    *out = NULL;
    *severe = false;
    why[0] = '\0';
    if (!conn)
        return MSGFLO_ENOMEM;
    int rc = open_socket(conn, u, heartbeat, slot, why, whylen, severe);
    if (rc) {
        amqp_destroy_connection(conn);
        return rc;
    }
    *out = conn;
    return 0;
}

/* For administration's connection (amqp_shared.h): blocking, on the
 * caller's thread, which logs here. */
int amqp__open(const msgflo_url *u, int heartbeat, amqp_connection_state_t *out)
{
    char why[400];
    bool severe;
    int rc = open_logged_in(u, heartbeat, NULL, out, why, sizeof why, &severe);
    if (rc && why[0] && severe)
        LOG_ERROR(NS, "%s", why);
    else if (rc && why[0])
        LOG_WARNING(NS, "%s", why);
    return rc;
}

/* The data channel: opened, its prefetch set, in confirm mode. */
static int open_channel(amqp_connection_state_t conn, const msgflo_url *u, char *why, size_t whylen)
{
    amqp_channel_open(conn, CHANNEL);
    int rc = describe_reply(amqp_get_rpc_reply(conn), "channel.open", NULL, why, whylen);
    if (rc)
        return rc;
    amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)u->prefetch, false);
    if ((rc = describe_reply(amqp_get_rpc_reply(conn), "basic.qos", NULL, why, whylen)) != 0)
        return rc;
    amqp_confirm_select(conn, CHANNEL);
    return describe_reply(amqp_get_rpc_reply(conn), "confirm.select", NULL, why, whylen);
}

/* The connecting thread: touches its job only, logs nothing. */
static void connect_work(void *arg)
{
    struct connect_job *j = arg;
    j->rc = open_logged_in(&j->url, j->url.heartbeat, &j->slot, &j->conn, j->why, sizeof j->why,
                           &j->severe);
    if (j->rc == 0 && (j->rc = open_channel(j->conn, &j->url, j->why, sizeof j->why)) != 0)
        j->severe = true;
    uv_async_send(&j->done);
}

static void free_job(uv_handle_t *h)
{
    struct connect_job *j = h->data;
    uv_mutex_destroy(&j->slot.lock);
    free(j);
}

static int watch_socket(struct amqp *a)
{
    a->poll = malloc(sizeof *a->poll);
    if (!a->poll)
        return MSGFLO_ENOMEM;
    if (uv_poll_init_socket(a->base.loop, a->poll, amqp_get_sockfd(a->conn)) != 0) {
        free(a->poll);
        a->poll = NULL;
        return MSGFLO_ESYS;
    }
    a->poll->data = a;
    uv_poll_start(a->poll, UV_READABLE, on_poll);
    int hb = a->base.url->heartbeat;
    if (hb > 0) {
        uint64_t period = (uint64_t)hb * 1000 / 2;
        uv_timer_start(a->heartbeat, on_heartbeat, period, period);
    }
    return 0;
}

static void amqp_close_op(struct transport *base);

/* The loop thread, once the connecting thread is done: the connection is
 * the loop's from here on. */
static void on_connect_done(uv_async_t *h)
{
    struct connect_job *j = h->data;
    struct amqp *a = j->a;
    uv_thread_join(&j->thread);
    a->job = NULL;
    amqp_connection_state_t conn = j->conn;
    int rc = j->rc;
    /* The other nodes of a list may be there; a name that resolved before
     * may come back (a DNS record being replaced). */
    if (rc == MSGFLO_ENOHOST && (a->base.url->n_hosts > 1 || a->base.generation > 0))
        rc = MSGFLO_ECONNECT;
    if (rc && !a->base.closing) {
        snprintf(a->base.last_error, sizeof a->base.last_error, "%s", j->why);
        /* A permanent failure is said once, by the transport's owner (the
         * disconnected event, with last_error): not here as well. */
        if (transport_is_permanent(rc))
            LOG_DEBUG(NS, "%s:%d: %s", j->url.host, j->url.port, j->why);
        else if (j->severe)
            LOG_ERROR(NS, "%s", j->why);
        else if (j->why[0])
            LOG_WARNING(NS, "%s", j->why);
    }
    uv_close((uv_handle_t *)h, free_job);
    if (a->base.closing) {
        if (conn)
            amqp_destroy_connection(conn);
        amqp_close_op(&a->base); /* the close waited for this */
        return;
    }
    if (rc) {
        if (conn)
            amqp_destroy_connection(conn);
        lost(a, rc);
        return;
    }
    a->conn = conn;
    if ((rc = watch_socket(a)) != 0) {
        lost(a, rc);
        return;
    }
    msgflo_url one = current_url(a);
    LOG_DEBUG(NS, "connected to %s:%d vhost %s", one.host, one.port, one.vhost);
    transport__on_connected(&a->base);
    if (a->base.events.connected)
        a->base.events.connected(a->base.ud);
    /* Frames may have arrived during the set-up RPCs. */
    if (a->conn)
        drain(a);
}

/* Starts an attempt on the connecting thread; its end is on_connect_done. */
static void try_connect(struct amqp *a)
{
    if (a->job)
        return; /* an attempt is under way */
    struct connect_job *j = calloc(1, sizeof *j);
    if (!j) {
        lost(a, MSGFLO_ENOMEM);
        return;
    }
    j->a = a;
    j->url = current_url(a);
    j->slot.fd = -1;
    if (uv_mutex_init(&j->slot.lock) != 0) {
        free(j);
        lost(a, MSGFLO_ESYS);
        return;
    }
    if (uv_async_init(a->base.loop, &j->done, on_connect_done) != 0) {
        uv_mutex_destroy(&j->slot.lock);
        free(j);
        lost(a, MSGFLO_ESYS);
        return;
    }
    j->done.data = j;
    if (uv_thread_create(&j->thread, connect_work, j) != 0) {
        uv_close((uv_handle_t *)&j->done, free_job);
        lost(a, MSGFLO_ESYS);
        return;
    }
    a->job = j;
    LOG_DEBUG(NS, "connecting to %s:%d", j->url.host, j->url.port);
}

/* transport_close during an attempt: a login waiting for the broker ends at
 * once (its socket is shut down); a TCP connect still waits for its timeout. */
static void interrupt_connect(struct connect_job *j)
{
    uv_mutex_lock(&j->slot.lock);
    j->slot.interrupted = true;
    if (j->slot.fd >= 0)
        shutdown(j->slot.fd, SHUT_RDWR);
    uv_mutex_unlock(&j->slot.lock);
}

static void amqp_retry(struct transport *base)
{
    try_connect((struct amqp *)base);
}

static int amqp_connect_op(struct transport *base)
{
    try_connect((struct amqp *)base);
    return 0;
}

/* --- declarations and subscriptions --------------------------------------- */

/* Nothing here waits for the broker: each method is sent with
 * amqp_send_method and its reply expected (struct pending); drain reads the
 * replies with the deliveries and confirms (on_reply). A refused method
 * closes the channel (handle_frame logs it with the method's name) and the
 * transport reconnects, as a refused blocking RPC did. A broker that stops
 * answering is given REPLY_TIMEOUT for the oldest unanswered method. */

static void on_no_reply(uv_timer_t *timer)
{
    struct amqp *a = timer->data;
    if (a->head == a->n_pending)
        return;
    const struct pending *p = &a->pending[a->head];
    msgflo_url one = current_url(a);
    transport__failed(&a->base, NS, "no reply from %s:%d to %s %s in %d s; reconnecting", one.host,
                      one.port, p->what, p->name, REPLY_TIMEOUT / 1000);
    lost(a, MSGFLO_ENOTCONN);
}

/* Sends method `m` (its fields `decoded`) on CHANNEL and expects `reply`.
 * A send that fails is a lost connection. */
static int send_expecting(struct amqp *a, amqp_method_number_t m, void *decoded,
                          amqp_method_number_t reply, const char *what, const char *name,
                          const char *tag, bool watch)
{
    if (a->close_phase != CLOSE_NONE)
        return MSGFLO_ENOTCONN;
    if (a->head > 0 && a->n_pending == a->cap_pending) {
        memmove(a->pending, a->pending + a->head, (a->n_pending - a->head) * sizeof *a->pending);
        a->n_pending -= a->head;
        a->head = 0;
    }
    if (a->n_pending == a->cap_pending) {
        size_t cap = a->cap_pending ? a->cap_pending * 2 : 16;
        struct pending *p = realloc(a->pending, cap * sizeof *p);
        if (!p)
            return MSGFLO_ENOMEM;
        a->pending = p;
        a->cap_pending = cap;
    }
    struct pending *p = &a->pending[a->n_pending];
    *p = (struct pending){.sent = m, .reply = reply, .watch = watch};
    snprintf(p->what, sizeof p->what, "%s", what);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->tag, sizeof p->tag, "%s", tag ? tag : "");
    int rc = amqp_send_method(a->conn, CHANNEL, m, decoded);
    if (rc != AMQP_STATUS_OK) {
        LOG_WARNING(NS, "%s %s failed: %s", what, name, amqp_error_string2(rc));
        lost(a, MSGFLO_ENOTCONN);
        return MSGFLO_ENOTCONN;
    }
    if (a->head == a->n_pending++)
        uv_timer_start(a->replies, on_no_reply, REPLY_TIMEOUT, 0);
    return 0;
}

static int declare_fanout(struct amqp *a, const char *name)
{
    amqp_exchange_declare_t m = {.exchange = amqp_cstring_bytes(name),
                                 .type = amqp_cstring_bytes("fanout"),
                                 .durable = true,
                                 .arguments = amqp_empty_table};
    return send_expecting(a, AMQP_EXCHANGE_DECLARE_METHOD, &m, AMQP_EXCHANGE_DECLARE_OK_METHOD,
                          "declare exchange", name, NULL, false);
}

static int bind_queue(struct amqp *a, const char *queue, const char *exchange, const char *what,
                      const char *name)
{
    amqp_queue_bind_t m = {.queue = amqp_cstring_bytes(queue),
                           .exchange = amqp_cstring_bytes(exchange),
                           .routing_key = amqp_empty_bytes,
                           .arguments = amqp_empty_table};
    return send_expecting(a, AMQP_QUEUE_BIND_METHOD, &m, AMQP_QUEUE_BIND_OK_METHOD, what, name,
                          NULL, false);
}

static int add_subscription(struct amqp *a, const char *queue, const char *tag)
{
    struct subscription *subs = realloc(a->subs, (a->n_subs + 1) * sizeof *subs);
    if (!subs)
        return MSGFLO_ENOMEM;
    a->subs = subs;
    struct subscription *s = &a->subs[a->n_subs];
    s->queue = strdup(queue);
    s->consumer_tag = strdup(tag);
    if (!s->queue || !s->consumer_tag) {
        free(s->queue);
        free(s->consumer_tag);
        return MSGFLO_ENOMEM;
    }
    a->n_subs++;
    return 0;
}

/* Consumes `queue` under consumer tag `tag` (the subscription is known
 * before the consume-ok: the broker sends no delivery before it). */
static int consume(struct amqp *a, const char *queue, const char *tag, bool no_ack,
                   const char *what, const char *name)
{
    int rc = add_subscription(a, name, tag);
    if (rc)
        return rc;
    amqp_basic_consume_t m = {.queue = amqp_cstring_bytes(queue),
                              .consumer_tag = amqp_cstring_bytes(tag),
                              .no_ack = no_ack,
                              .exclusive = no_ack,
                              .arguments = amqp_empty_table};
    rc = send_expecting(a, AMQP_BASIC_CONSUME_METHOD, &m, AMQP_BASIC_CONSUME_OK_METHOD, what, name,
                        tag, false);
    if (rc == MSGFLO_ENOMEM) { /* not sent: no subscription (a lost connection drops them all) */
        a->n_subs--;
        free(a->subs[a->n_subs].queue);
        free(a->subs[a->n_subs].consumer_tag);
    }
    return rc;
}

/* The reply to a watch's queue.declare names its private queue: bind it to
 * the outqueue's exchange and consume it. */
static int start_watch(struct amqp *a, const char *queue, const amqp_queue_declare_ok_t *ok)
{
    char private[300];
    char tag[320];
    snprintf(private, sizeof private, "%.*s", (int)ok->queue.len, (const char *)ok->queue.bytes);
    snprintf(tag, sizeof tag, WATCH_TAG "%s", private);
    int rc = bind_queue(a, private, queue, "bind watch queue to", queue);
    if (rc == 0)
        rc = consume(a, private, tag, true, "consume watch queue for", queue);
    if (rc == 0)
        LOG_DEBUG(NS, "watching %s through %s", queue, private);
    return rc;
}

/* The oldest unanswered entry that reply `f` answers, or NULL. */
static struct pending *answered_by(struct amqp *a, const amqp_frame_t *f)
{
    amqp_method_number_t id = f->payload.method.id;
    amqp_bytes_t tag = amqp_empty_bytes;
    if (id == AMQP_BASIC_CONSUME_OK_METHOD)
        tag = ((const amqp_basic_consume_ok_t *)f->payload.method.decoded)->consumer_tag;
    else if (id == AMQP_BASIC_CANCEL_OK_METHOD)
        tag = ((const amqp_basic_cancel_ok_t *)f->payload.method.decoded)->consumer_tag;
    for (size_t i = a->head; i < a->n_pending; i++) {
        struct pending *p = &a->pending[i];
        if (p->answered || p->reply != id)
            continue;
        if (tag.bytes && (strlen(p->tag) != tag.len || memcmp(p->tag, tag.bytes, tag.len) != 0))
            continue;
        return p;
    }
    return NULL;
}

/* The method a channel.close refuses: the oldest unanswered one of the
 * class and method it names (the oldest unanswered one when none). */
static const struct pending *refused(const struct amqp *a, const amqp_channel_close_t *m)
{
    amqp_method_number_t id = ((amqp_method_number_t)m->class_id << 16) | m->method_id;
    for (size_t i = a->head; i < a->n_pending; i++)
        if (!a->pending[i].answered && a->pending[i].sent == id)
            return &a->pending[i];
    return &a->pending[a->head];
}

/* Every method sent is answered: the waiters, one at a time (one may send
 * more, or lose the connection). */
static void fire_waiters(struct amqp *a)
{
    struct transport_waiter w;
    while (a->conn && a->head == a->n_pending && transport__next_waiter(&a->base, &w))
        transport__waiter_done(&w, 0);
}

/* A reply to a method sent by send_expecting. Returns false when the
 * connection can no longer be used. */
static bool on_reply(struct amqp *a, const amqp_frame_t *f)
{
    struct pending *e = answered_by(a, f);
    if (!e) {
        LOG_WARNING(NS, "unexpected reply 0x%08x from the broker; reconnecting",
                    f->payload.method.id);
        return false;
    }
    e->answered = true;
    struct pending p = *e; /* a copy: start_watch may grow the array */
    while (a->head < a->n_pending && a->pending[a->head].answered)
        a->head++;
    if (a->head == a->n_pending)
        a->head = a->n_pending = 0;
    if (p.watch && !p.cancelled && start_watch(a, p.name, f->payload.method.decoded) != 0)
        return a->conn == NULL; /* a failed send has already dropped the connection */
    if (!a->conn)
        return true;
    if (a->head < a->n_pending) {
        uv_timer_start(a->replies, on_no_reply, REPLY_TIMEOUT, 0);
        return true;
    }
    uv_timer_stop(a->replies);
    fire_waiters(a);
    return true;
}

amqp_table_t amqp__queue_args(const msgflo_url *u, const char *dlx, amqp_table_entry_t *entries)
{
    amqp_table_t t = {.num_entries = 0, .entries = entries};
    if (dlx)
        entries[t.num_entries++] = (amqp_table_entry_t){
            .key = amqp_cstring_bytes("x-dead-letter-exchange"),
            .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = amqp_cstring_bytes(dlx)}}};
    /* Replicated on every node of a cluster (durable, not exclusive: as
     * msgflo declares them). msgflo-nodejs cannot declare it so. */
    if (u->queue_type == MSGFLO_QUEUE_QUORUM)
        entries[t.num_entries++] =
            (amqp_table_entry_t){.key = amqp_cstring_bytes("x-queue-type"),
                                 .value = {.kind = AMQP_FIELD_KIND_UTF8,
                                           .value = {.bytes = amqp_cstring_bytes("quorum")}}};
    return t;
}

/* A durable queue with the arguments msgflo-nodejs gives it (dlx NULL: none). */
static int declare_queue(struct amqp *a, const char *queue, const char *dlx)
{
    amqp_table_entry_t entries[2];
    amqp_queue_declare_t m = {.queue = amqp_cstring_bytes(queue),
                              .durable = true,
                              .arguments = amqp__queue_args(a->base.url, dlx, entries)};
    return send_expecting(a, AMQP_QUEUE_DECLARE_METHOD, &m, AMQP_QUEUE_DECLARE_OK_METHOD,
                          "declare queue", queue, NULL, false);
}

static int amqp_declare_inqueue(struct transport *base, const char *queue)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    char dlx[300];
    snprintf(dlx, sizeof dlx, "dead-%s", queue);
    int rc = declare_queue(a, queue, dlx);
    /* As msgflo-nodejs: a fanout exchange of the same name bound to the queue,
     * so publishing to "the queue" as an outqueue also works. */
    if (rc == 0)
        rc = declare_fanout(a, queue);
    if (rc == 0)
        rc = bind_queue(a, queue, queue, "bind queue", queue);
    return rc;
}

static int amqp_declare_outqueue(struct transport *base, const char *queue)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    return declare_fanout(a, queue);
}

static int amqp_subscribe(struct transport *base, const char *queue)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    char tag[64];
    snprintf(tag, sizeof tag, SUB_TAG "%u", ++a->next_tag);
    int rc = consume(a, queue, tag, false, "consume", queue);
    if (rc == 0)
        LOG_DEBUG(NS, "consuming %s", queue);
    return rc;
}

/* A watch: a private exclusive auto-delete server-named queue bound to the
 * outqueue's fanout exchange, consumed without acks. Its subscription
 * reports the outqueue's name; the consumer tag WATCH_TAG "<private queue>"
 * tells it from a plain subscription of the same name. The queue's name
 * comes with the reply to its declaration: start_watch goes on from there. */

static int amqp_watch(struct transport *base, const char *queue)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    int rc = declare_fanout(a, queue);
    if (rc)
        return rc;
    amqp_queue_declare_t m = {.queue = amqp_empty_bytes,
                              .exclusive = true,
                              .auto_delete = true,
                              .arguments = amqp_empty_table};
    return send_expecting(a, AMQP_QUEUE_DECLARE_METHOD, &m, AMQP_QUEUE_DECLARE_OK_METHOD,
                          "declare watch queue for", queue, NULL, true);
}

static int amqp_unwatch(struct transport *base, const char *queue)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return 0;
    for (size_t i = 0; i < a->n_subs; i++) {
        struct subscription s = a->subs[i];
        if (strcmp(s.queue, queue) != 0 ||
            strncmp(s.consumer_tag, WATCH_TAG, sizeof WATCH_TAG - 1) != 0)
            continue;
        a->subs[i] = a->subs[--a->n_subs]; /* before sending: a failure drops every one */
        amqp_basic_cancel_t m = {.consumer_tag = amqp_cstring_bytes(s.consumer_tag)};
        int rc = send_expecting(a, AMQP_BASIC_CANCEL_METHOD, &m, AMQP_BASIC_CANCEL_OK_METHOD,
                                "cancel watch of", queue, s.consumer_tag, false);
        free(s.queue);
        free(s.consumer_tag);
        LOG_DEBUG(NS, "no longer watching %s", queue);
        return rc;
    }
    /* Not started yet: its queue's declaration is unanswered. */
    for (size_t i = a->head; i < a->n_pending; i++) {
        struct pending *p = &a->pending[i];
        if (p->watch && !p->answered && !p->cancelled && strcmp(p->name, queue) == 0) {
            p->cancelled = true;
            LOG_DEBUG(NS, "no longer watching %s", queue);
            break;
        }
    }
    return 0;
}

/* --- data path --------------------------------------------------------------- */

static int publish(struct amqp *a, const char *exchange, const char *key, const void *data,
                   size_t len, bool persistent)
{
    if (!a->conn || a->close_phase != CLOSE_NONE)
        return MSGFLO_ENOTCONN;
    int rc = amqp_acks__published(&a->acks);
    if (rc)
        return rc;
    amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
                                     .delivery_mode = AMQP_DELIVERY_PERSISTENT};
    amqp_bytes_t body = {.len = len, .bytes = (void *)data};
    rc = amqp_basic_publish(a->conn, CHANNEL, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
                            false, false, persistent ? &props : NULL, body);
    if (rc != AMQP_STATUS_OK) {
        LOG_WARNING(NS, "publish to '%s' failed: %s", exchange[0] ? exchange : key,
                    amqp_error_string2(rc));
        lost(a, MSGFLO_ENOTCONN);
        return MSGFLO_ENOTCONN;
    }
    return 0;
}

static int amqp_publish_op(struct transport *base, const char *queue, const void *data, size_t len)
{
    return publish((struct amqp *)base, queue, "", data, len, base->url->persistent);
}

static int amqp_send_to_queue(struct transport *base, const char *queue, const void *data,
                              size_t len)
{
    return publish((struct amqp *)base, "", queue, data, len, base->url->persistent);
}

static int amqp_declare_discovery(struct transport *base)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    return declare_queue(a, "fbp", NULL);
}

static int amqp_announce(struct transport *base, const void *data, size_t len)
{
    int rc = amqp_declare_discovery(base);
    if (rc)
        return rc;
    /* Transient whatever the URL says: discovery is sent again every period
     * and on every reconnect, and nobody may be consuming `fbp`. */
    return publish((struct amqp *)base, "", "fbp", data, len, false);
}

/* Once the broker has answered every declaration, binding and consume sent
 * so far (at once when it has); a lost connection drops the waiters. */
static void amqp_when_subscribed(struct transport *base)
{
    fire_waiters((struct amqp *)base);
}

static int amqp_when_flushed(struct transport *base, void (*done)(void *arg), void *arg)
{
    struct amqp *a = (struct amqp *)base;
    if (amqp_acks__all_confirmed(&a->acks)) {
        done(arg);
        return 0;
    }
    a->flushed = done;
    a->flushed_arg = arg;
    return 0;
}

static int amqp_ack_op(struct transport *base, const struct transport_delivery *d)
{
    struct amqp *a = (struct amqp *)base;
    return a->conn ? amqp_acks__ack(&a->acks, d->tag) : 0;
}

static int amqp_nack_op(struct transport *base, const struct transport_delivery *d)
{
    struct amqp *a = (struct amqp *)base;
    if (!a->conn)
        return 0;
    /* requeue=false: the queue's x-dead-letter-exchange takes it. */
    if (amqp_basic_nack(a->conn, CHANNEL, d->tag, false, false) != AMQP_STATUS_OK)
        return MSGFLO_ENOTCONN;
    return amqp_acks__settled(&a->acks, d->tag);
}

/* --- closing ------------------------------------------------------------------ */

static void amqp_freed(struct transport *base)
{
    struct amqp *a = (struct amqp *)base;
    struct transport_events ev = base->events;
    void *ud = base->ud;
    amqp_acks__free(&a->acks);
    free(a->subs);
    free(a->pending);
    free(a);
    if (ev.closed)
        ev.closed(ud);
}

/* Closing runs on the loop like everything else: held-back acks wait for
 * publisher confirms, so first those (at most CLOSE_WAIT) and the acks they
 * release, so a clean stop does not requeue processed messages; then
 * connection.close (which closes the channel), and its close-ok awaited (at
 * most CLOSE_WAIT) before the socket goes, so the broker reads everything
 * sent before it. Deliveries meanwhile are dropped: the broker requeues
 * them. */

static void close_step(struct amqp *a);
static void on_replies_closed(uv_handle_t *h);

static void finish_close(struct amqp *a)
{
    if (a->conn && amqp_acks__held(&a->acks))
        LOG_WARNING(NS, "closing with %zu acks unconfirmed: those messages will be redelivered",
                    amqp_acks__held(&a->acks));
    a->close_phase = CLOSE_NONE;
    drop_connection(a);
    uv_close((uv_handle_t *)a->replies, on_replies_closed);
}

static void on_close_timer(uv_timer_t *timer)
{
    struct amqp *a = timer->data;
    if (a->close_phase == CLOSE_SENT) {
        LOG_DEBUG(NS, "no connection.close-ok in %d ms; closing the socket", CLOSE_WAIT);
        finish_close(a);
        return;
    }
    if (amqp_acks__held(&a->acks))
        LOG_WARNING(NS, "closing with %zu acks unconfirmed: those messages will be redelivered",
                    amqp_acks__held(&a->acks));
    a->close_phase = CLOSE_SENT; /* without them */
    amqp_connection_close_t m = {.reply_code = AMQP_REPLY_SUCCESS,
                                 .reply_text = amqp_cstring_bytes("closing")};
    if (amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_METHOD, &m) != AMQP_STATUS_OK) {
        finish_close(a);
        return;
    }
    uv_timer_start(a->replies, on_close_timer, CLOSE_WAIT, 0);
}

/* Sends connection.close once no ack is held back any more. */
static void close_step(struct amqp *a)
{
    if (a->close_phase != CLOSE_FLUSHING || amqp_acks__held(&a->acks) > 0)
        return;
    uv_timer_stop(a->replies);
    on_close_timer(a->replies);
}

/* The frames of a closing connection: confirms (releasing held acks) and
 * the close-ok; the rest is dropped. */
static void drain_closing(struct amqp *a)
{
    struct timeval zero = {0, 0};
    a->draining = true;
    while (a->conn) {
        amqp_frame_t f;
        amqp_maybe_release_buffers(a->conn);
        int rc = amqp_simple_wait_frame_noblock(a->conn, &f, &zero);
        if (rc == AMQP_STATUS_TIMEOUT)
            break;
        amqp_method_number_t id = f.frame_type == AMQP_FRAME_METHOD ? f.payload.method.id : 0;
        if (rc != AMQP_STATUS_OK || id == AMQP_CONNECTION_CLOSE_OK_METHOD ||
            id == AMQP_CONNECTION_CLOSE_METHOD || id == AMQP_CHANNEL_CLOSE_METHOD ||
            ((id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD) &&
             !handle_frame(a, &f))) {
            a->draining = false;
            finish_close(a);
            return;
        }
        if (id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD)
            amqp_acks__release(&a->acks); /* before connection.close */
    }
    a->draining = false;
    if (a->conn)
        close_step(a);
}

static void on_heartbeat_closed(uv_handle_t *h);

static void on_kick_closed(uv_handle_t *h)
{
    struct amqp *a = h->data;
    free(h);
    uv_close((uv_handle_t *)a->heartbeat, on_heartbeat_closed);
}

static void on_replies_closed(uv_handle_t *h)
{
    struct amqp *a = h->data;
    free(h);
    uv_close((uv_handle_t *)a->kick, on_kick_closed);
}

static void on_heartbeat_closed(uv_handle_t *h)
{
    struct amqp *a = h->data;
    free(h);
    transport__cleanup(&a->base, amqp_freed);
}

static void amqp_close_op(struct transport *base)
{
    struct amqp *a = (struct amqp *)base;
    if (a->job) {
        interrupt_connect(a->job);
        return; /* on_connect_done closes once the connecting thread is done */
    }
    transport__drop_admin(&a->base, a->conn != NULL);
    transport__drop_waiters(&a->base); /* no callback of a closing transport but `replied` */
    if (!a->conn) {
        finish_close(a);
        return;
    }
    a->close_phase = CLOSE_FLUSHING;
    uv_timer_stop(a->replies); /* no reply awaited any more but the close-ok */
    uv_timer_start(a->replies, on_close_timer, CLOSE_WAIT, 0);
    if (!a->draining)
        drain_closing(a); /* frames rabbitmq-c has read already; else the poll */
}

/* For administration (amqp_shared.h) --------------------------------------- */

int amqp__node(const struct transport *t, msgflo_url *out)
{
    const struct amqp *a = (const struct amqp *)t;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    *out = current_url(a);
    return 0;
}

static void on_kick(uv_timer_t *timer)
{
    drain(timer->data);
}

/* One blocking RPC, for administration only (which blocks anyway): RabbitMQ
 * answers basic.qos (the prefetch the channel has) once it has carried out
 * every method sent before it. The frames read meanwhile (replies,
 * deliveries, confirms) are kept by rabbitmq-c, and the socket will not
 * signal them again: drained on the next loop turn (a drain in progress
 * sees them). */
int amqp__settle(struct transport *t)
{
    struct amqp *a = (struct amqp *)t;
    if (!a->conn)
        return MSGFLO_ENOTCONN;
    if (a->head == a->n_pending)
        return 0;
    amqp_basic_qos(a->conn, CHANNEL, 0, (uint16_t)a->base.url->prefetch, false);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(a->conn);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        channel_closed(a, r.reply.decoded);
        int err = a->loss;
        a->loss = 0;
        lost(a, err ? err : MSGFLO_ENOTCONN);
        return MSGFLO_ENOTCONN;
    }
    if (check_reply(a, r, "basic.qos", NULL) != 0) {
        lost(a, MSGFLO_ENOTCONN);
        return MSGFLO_ENOTCONN;
    }
    if (!a->draining && (amqp_frames_enqueued(a->conn) || amqp_data_in_buffer(a->conn)))
        uv_timer_start(a->kick, on_kick, 0, 0);
    return 0;
}

void amqp__keep_alive(struct transport *t)
{
    struct amqp *a = (struct amqp *)t;
    amqp_frame_t hb = {.frame_type = AMQP_FRAME_HEARTBEAT, .channel = 0};
    if (a->conn && a->base.url->heartbeat > 0)
        amqp_send_frame(a->conn, &hb);
}

static const struct transport_ops amqp_ops = {
    .connect = amqp_connect_op,
    .declare_inqueue = amqp_declare_inqueue,
    .declare_outqueue = amqp_declare_outqueue,
    .subscribe = amqp_subscribe,
    .watch = amqp_watch,
    .unwatch = amqp_unwatch,
    .publish = amqp_publish_op,
    .send_to_queue = amqp_send_to_queue,
    .announce = amqp_announce,
    .declare_discovery = amqp_declare_discovery,
    .when_subscribed = amqp_when_subscribed,
    .when_flushed = amqp_when_flushed,
    .ack = amqp_ack_op,
    .nack = amqp_nack_op,
    .close = amqp_close_op,
};

int transport__amqp_new(struct transport **out, uv_loop_t *loop, msgflo_url *url,
                        const char *client_id, const struct transport_events *ev, void *ud)
{
    struct amqp *a = calloc(1, sizeof *a);
    if (!a) {
        msgflo_url_free(url);
        return MSGFLO_ENOMEM;
    }
    a->acks.send = send_ack;
    a->acks.ud = a;
    int rc = transport__init(&a->base, &amqp_ops, loop, url, client_id, ev, ud);
    if (rc) {
        msgflo_url_free(url);
        free(a);
        return rc;
    }
    a->heartbeat = malloc(sizeof *a->heartbeat);
    a->replies = malloc(sizeof *a->replies);
    a->kick = malloc(sizeof *a->kick);
    if (!a->heartbeat || !a->replies || !a->kick) {
        free(a->heartbeat);
        free(a->replies);
        free(a->kick);
        a->base.events.closed = NULL;
        transport__cleanup(&a->base, amqp_freed);
        return MSGFLO_ENOMEM;
    }
    uv_timer_init(loop, a->heartbeat); /* cannot fail for timers */
    uv_timer_init(loop, a->replies);
    uv_timer_init(loop, a->kick);
    a->heartbeat->data = a->replies->data = a->kick->data = a;
    if (url->tls && url->insecure)
        tls__warn_insecure(NS, url);
    *out = &a->base;
    return 0;
}
