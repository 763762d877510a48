/* Pipelined AMQP topology; see amqp_topology.h. */
#include "transport/amqp_topology.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <amqp_framing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#define NS              "msgflo:amqp"
#define CHANNELS        32           /* durable declares go much faster in parallel */
#define WINDOW          32           /* methods in flight per channel */
#define REPLY_TIMEOUT_S 60           /* without any reply: the connection is taken as dead */
#define OPEN            ((size_t)-1) /* in-flight entry of a channel.open */

struct amqp_topology {
    amqp_connection_state_t conn;
    int channels;
    bool open[CHANNELS]; /* channel i + 1 is open (or its channel.open sent) */
};

struct inflight {
    size_t pos; /* position in the channel's list, or OPEN */
    int op;     /* method of the step (a declared inqueue takes three) */
};

struct chan {
    const size_t *list; /* step indexes, in order */
    size_t n, next;     /* next: position of the next method to send */
    int next_op;
    struct inflight fifo[WINDOW];
    size_t head, count;
    size_t window;
};

struct batch {
    struct amqp_topology *t;
    struct transport_step *steps;
    struct chan chans[CHANNELS];
    int keep_ms;
    void (*keep_alive)(void *arg);
    void *arg;
    uint64_t last_keep;    /* ns */
    const msgflo_url *url; /* borrowed: the queue type of declarations */
};

static bool is_binding(enum transport_step_kind k)
{
    return k == TRANSPORT_BIND_QUEUE || k == TRANSPORT_UNBIND_QUEUE || k == TRANSPORT_BIND_EXCHANGE;
}

static int n_ops(const struct transport_step *s)
{
    return s->kind == TRANSPORT_DECLARE_INQUEUE ? 3 : 1;
}

/* The AMQP method of op `op` of step s (a declared inqueue is, as
 * msgflo-nodejs declares it: the queue, a fanout exchange of the same name,
 * the queue bound to it), and the names it takes. */
static amqp_method_number_t method_of(const struct transport_step *s, int op, const char **name,
                                      const char **other)
{
    *name = s->name;
    *other = s->source;
    switch (s->kind) {
    case TRANSPORT_DECLARE_INQUEUE:
        *other = s->name;
        return op == 0   ? AMQP_QUEUE_DECLARE_METHOD
               : op == 1 ? AMQP_EXCHANGE_DECLARE_METHOD
                         : AMQP_QUEUE_BIND_METHOD;
    case TRANSPORT_DECLARE_OUTQUEUE:
    case TRANSPORT_DECLARE_EXCHANGE:
        return AMQP_EXCHANGE_DECLARE_METHOD;
    case TRANSPORT_BIND_QUEUE:
        return AMQP_QUEUE_BIND_METHOD;
    case TRANSPORT_UNBIND_QUEUE:
        return AMQP_QUEUE_UNBIND_METHOD;
    case TRANSPORT_BIND_EXCHANGE:
        return AMQP_EXCHANGE_BIND_METHOD;
    }
    return 0;
}

/* "bind queue b.IN to exchange a.OUT", for the log. */
static void describe(const struct transport_step *s, int op, char *buf, size_t len)
{
    const char *name, *other;
    switch (method_of(s, op, &name, &other)) {
    case AMQP_QUEUE_DECLARE_METHOD:
        snprintf(buf, len, "declare queue %s", name);
        break;
    case AMQP_EXCHANGE_DECLARE_METHOD:
        snprintf(buf, len, "declare exchange %s", name);
        break;
    case AMQP_QUEUE_BIND_METHOD:
        snprintf(buf, len, "bind queue %s to exchange %s", name, other);
        break;
    case AMQP_QUEUE_UNBIND_METHOD:
        snprintf(buf, len, "unbind queue %s from exchange %s", name, other);
        break;
    default:
        snprintf(buf, len, "bind exchange %s to exchange %s", name, other);
        break;
    }
}

static amqp_method_number_t reply_of(amqp_method_number_t m)
{
    switch (m) {
    case AMQP_QUEUE_DECLARE_METHOD:
        return AMQP_QUEUE_DECLARE_OK_METHOD;
    case AMQP_EXCHANGE_DECLARE_METHOD:
        return AMQP_EXCHANGE_DECLARE_OK_METHOD;
    case AMQP_QUEUE_BIND_METHOD:
        return AMQP_QUEUE_BIND_OK_METHOD;
    case AMQP_QUEUE_UNBIND_METHOD:
        return AMQP_QUEUE_UNBIND_OK_METHOD;
    case AMQP_EXCHANGE_BIND_METHOD:
        return AMQP_EXCHANGE_BIND_OK_METHOD;
    default:
        return AMQP_CHANNEL_OPEN_OK_METHOD;
    }
}

static int send_op(amqp_connection_state_t conn, const msgflo_url *u, amqp_channel_t ch,
                   const struct transport_step *s, int op)
{
    const char *name, *other;
    amqp_method_number_t m = method_of(s, op, &name, &other);
    char dlx[300];
    switch (m) {
    case AMQP_QUEUE_DECLARE_METHOD: {
        snprintf(dlx, sizeof dlx, "dead-%s", name);
        amqp_table_entry_t entries[2];
        amqp_queue_declare_t q = {.queue = amqp_cstring_bytes(name),
                                  .durable = true,
                                  .arguments = amqp__queue_args(u, dlx, entries)};
        return amqp_send_method(conn, ch, m, &q);
    }
    case AMQP_EXCHANGE_DECLARE_METHOD: {
        const char *type = s->kind == TRANSPORT_DECLARE_EXCHANGE && s->type ? s->type : "fanout";
        amqp_exchange_declare_t e = {.exchange = amqp_cstring_bytes(name),
                                     .type = amqp_cstring_bytes(type),
                                     .durable = true,
                                     .arguments = amqp_empty_table};
        return amqp_send_method(conn, ch, m, &e);
    }
    case AMQP_QUEUE_BIND_METHOD: {
        amqp_queue_bind_t b = {.queue = amqp_cstring_bytes(name),
                               .exchange = amqp_cstring_bytes(other),
                               .routing_key = amqp_empty_bytes,
                               .arguments = amqp_empty_table};
        return amqp_send_method(conn, ch, m, &b);
    }
    case AMQP_QUEUE_UNBIND_METHOD: {
        amqp_queue_unbind_t b = {.queue = amqp_cstring_bytes(name),
                                 .exchange = amqp_cstring_bytes(other),
                                 .routing_key = amqp_empty_bytes,
                                 .arguments = amqp_empty_table};
        return amqp_send_method(conn, ch, m, &b);
    }
    default: {
        amqp_exchange_bind_t b = {.destination = amqp_cstring_bytes(name),
                                  .source = amqp_cstring_bytes(other),
                                  .routing_key = amqp_empty_bytes,
                                  .arguments = amqp_empty_table};
        return amqp_send_method(conn, ch, m, &b);
    }
    }
}

/* --- the connection ------------------------------------------------------------ */

static int topology_open(struct amqp_topology **out, const msgflo_url *u)
{
    struct amqp_topology *t = calloc(1, sizeof *t);
    if (!t)
        return MSGFLO_ENOMEM;
    /* No heartbeat: this connection is only used while a call blocks. */
    int rc = amqp__open(u, 0, &t->conn);
    if (rc) {
        free(t);
        return rc;
    }
    int max = amqp_get_channel_max(t->conn);
    t->channels = max > 0 && max < CHANNELS ? max : CHANNELS;
    *out = t;
    return 0;
}

void amqp_topology__free(struct amqp_topology *t, bool polite)
{
    if (!t)
        return;
    if (polite) { /* said, not awaited: nothing of ours is left unread or unsent */
        amqp_connection_close_t m = {.reply_code = AMQP_REPLY_SUCCESS,
                                     .reply_text = amqp_cstring_bytes("closing")};
        amqp_send_method(t->conn, 0, AMQP_CONNECTION_CLOSE_METHOD, &m);
    }
    amqp_destroy_connection(t->conn);
    free(t);
}

/* --- queue statistics -------------------------------------------------------- */

#define STATS_CHANNEL 1 /* shared with the batches: both leave it open or closed, idle */

static int stats_once(struct amqp_topology *t, const char *queue, uint32_t *ready,
                      uint32_t *consumers)
{
    amqp_rpc_reply_t r;
    const char *what = "queue statistics of";
    if (!t->open[STATS_CHANNEL - 1]) {
        amqp_channel_open(t->conn, STATS_CHANNEL);
        r = amqp_get_rpc_reply(t->conn);
        what = "channel.open for statistics of";
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            goto failed;
        t->open[STATS_CHANNEL - 1] = true;
        what = "queue statistics of";
    }
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(t->conn, STATS_CHANNEL, amqp_cstring_bytes(queue), true, false, false,
                           false, amqp_empty_table);
    r = amqp_get_rpc_reply(t->conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        if (!ok)
            return MSGFLO_EPROTO;
        *ready = ok->message_count;
        *consumers = ok->consumer_count;
        return 0;
    }
failed:
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        /* Closes this channel only: confirm, reopen next time. */
        const amqp_channel_close_t *m = r.reply.decoded;
        int code = m->reply_code;
        /* 404 is an answer (no such queue) the caller handles; others are odd. */
        if (code == AMQP_NOT_FOUND)
            LOG_DEBUG(NS, "%s %s: %d %.*s", what, queue, code, (int)m->reply_text.len,
                      (const char *)m->reply_text.bytes);
        else
            LOG_WARNING(NS, "%s %s: %d %.*s", what, queue, code, (int)m->reply_text.len,
                        (const char *)m->reply_text.bytes);
        amqp_channel_close_ok_t cok = {0};
        t->open[STATS_CHANNEL - 1] = false;
        if (amqp_send_method(t->conn, STATS_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &cok) !=
            AMQP_STATUS_OK)
            return MSGFLO_ENOTCONN;
        return code == AMQP_NOT_FOUND ? MSGFLO_ENOPORT : MSGFLO_EPROTO;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        LOG_WARNING(NS, "%s %s: %s", what, queue, amqp_error_string2(r.library_error));
    else
        LOG_WARNING(NS, "%s %s: the broker closed the connection", what, queue);
    return MSGFLO_ENOTCONN;
}

int amqp_topology__queue_stats(struct amqp_topology **topo, const msgflo_url *u, const char *queue,
                               uint32_t *ready, uint32_t *consumers)
{
    bool reused = *topo != NULL;
    for (int attempt = 0;; attempt++) {
        int rc = *topo ? 0 : topology_open(topo, u);
        if (rc)
            return rc == MSGFLO_ENOMEM ? rc : MSGFLO_ENOTCONN;
        rc = stats_once(*topo, queue, ready, consumers);
        if (rc != MSGFLO_ENOTCONN)
            return rc;
        amqp_topology__free(*topo, false);
        *topo = NULL;
        /* A kept connection may have died meanwhile: once more on a new one. */
        if (!reused || attempt > 0)
            return rc;
    }
}

/* --- a phase: steps that may run in parallel ------------------------------------------ */

static size_t channel_of(const struct transport_step *s, int channels)
{
    /* FNV-1a of the names: steps on one queue / exchange pair stay in order */
    uint32_t h = 2166136261u;
    for (const char *p = s->name; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = is_binding(s->kind) ? s->source : NULL; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % (uint32_t)channels;
}

static void push(struct chan *c, size_t pos, int op)
{
    c->fifo[(c->head + c->count) % WINDOW] = (struct inflight){.pos = pos, .op = op};
    c->count++;
}

/* Sends what the channel's window allows. */
static int fill(struct batch *b, size_t i)
{
    struct chan *c = &b->chans[i];
    amqp_channel_t ch = (amqp_channel_t)(i + 1);
    while (c->next < c->n && c->count < c->window) {
        if (!b->t->open[i]) {
            amqp_channel_open_t o = {.out_of_band = amqp_empty_bytes};
            if (amqp_send_method(b->t->conn, ch, AMQP_CHANNEL_OPEN_METHOD, &o) != AMQP_STATUS_OK)
                return MSGFLO_ENOTCONN;
            b->t->open[i] = true;
            push(c, OPEN, 0);
            continue;
        }
        const struct transport_step *s = &b->steps[c->list[c->next]];
        if (send_op(b->t->conn, b->url, ch, s, c->next_op) != AMQP_STATUS_OK)
            return MSGFLO_ENOTCONN;
        push(c, c->next, c->next_op);
        if (++c->next_op == n_ops(s)) {
            c->next++;
            c->next_op = 0;
        }
    }
    return 0;
}

/* The method at the head of channel i failed: the broker closed the channel
 * and dropped what came after; confirm, reopen, send those again. */
static int on_channel_close(struct batch *b, size_t i, const amqp_channel_close_t *m)
{
    struct chan *c = &b->chans[i];
    struct inflight h = c->fifo[c->head];
    struct transport_step *s = h.pos == OPEN ? NULL : &b->steps[c->list[h.pos]];
    bool missing = m->reply_code == AMQP_NOT_FOUND;
    char what[600] = "channel.open";
    if (s)
        describe(s, h.op, what, sizeof what);
    if (s && missing && s->may_be_missing)
        LOG_DEBUG(NS, "%s failed: %d %.*s", what, m->reply_code, (int)m->reply_text.len,
                  (const char *)m->reply_text.bytes);
    else
        LOG_ERROR(NS, "%s failed: %d %.*s", what, m->reply_code, (int)m->reply_text.len,
                  (const char *)m->reply_text.bytes);
    amqp_channel_close_ok_t ok = {0};
    b->t->open[i] = false;
    if (amqp_send_method(b->t->conn, (amqp_channel_t)(i + 1), AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
        AMQP_STATUS_OK)
        return MSGFLO_ENOTCONN;
    if (!s)
        return MSGFLO_EPROTO; /* the channel cannot even be opened */
    s->rc = missing ? MSGFLO_ENOPORT : MSGFLO_EPROTO;
    c->next = h.pos + 1;
    c->next_op = 0;
    c->head = 0;
    c->count = 0;
    c->window = 1; /* more may fail: one at a time until they succeed again */
    return 0;
}

static int on_frame(struct batch *b, const amqp_frame_t *f)
{
    if (f->frame_type != AMQP_FRAME_METHOD)
        return 0;
    amqp_method_number_t id = f->payload.method.id;
    if (id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *m = f->payload.method.decoded;
        LOG_ERROR(NS, "broker closed the topology connection: %d %.*s", m->reply_code,
                  (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return MSGFLO_ENOTCONN;
    }
    size_t i = (size_t)f->channel - 1;
    if (f->channel == 0 || i >= (size_t)b->t->channels || b->chans[i].count == 0) {
        LOG_WARNING(NS, "unexpected method 0x%08x on channel %d", id, f->channel);
        return 0;
    }
    if (id == AMQP_CHANNEL_CLOSE_METHOD)
        return on_channel_close(b, i, f->payload.method.decoded);
    struct chan *c = &b->chans[i];
    struct inflight h = c->fifo[c->head];
    struct transport_step *s = h.pos == OPEN ? NULL : &b->steps[c->list[h.pos]];
    const char *name, *other;
    amqp_method_number_t expect =
        s ? reply_of(method_of(s, h.op, &name, &other)) : AMQP_CHANNEL_OPEN_OK_METHOD;
    if (id != expect) {
        char what[600] = "channel.open";
        if (s)
            describe(s, h.op, what, sizeof what);
        LOG_ERROR(NS, "%s: unexpected reply 0x%08x", what, id);
        return MSGFLO_EPROTO;
    }
    c->head = (c->head + 1) % WINDOW;
    c->count--;
    if (s && h.op == n_ops(s) - 1)
        s->rc = 0;
    if (c->window < WINDOW)
        c->window = c->window * 2 > WINDOW ? WINDOW : c->window * 2;
    return 0;
}

static int wait_frame(struct batch *b, amqp_frame_t *f)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)REPLY_TIMEOUT_S * 1000000000u;
    for (;;) {
        uint64_t now = uv_hrtime();
        if (b->keep_ms > 0 && now - b->last_keep >= (uint64_t)b->keep_ms * 1000000u) {
            b->keep_alive(b->arg);
            b->last_keep = now;
        }
        if (now >= deadline) {
            LOG_ERROR(NS, "no reply from the broker in %d s to topology requests", REPLY_TIMEOUT_S);
            return MSGFLO_ENOTCONN;
        }
        uint64_t wait_ns = deadline - now;
        if (b->keep_ms > 0 && wait_ns > (uint64_t)b->keep_ms * 1000000u)
            wait_ns = (uint64_t)b->keep_ms * 1000000u;
        struct timeval tv = {(time_t)(wait_ns / 1000000000u),
                             (suseconds_t)(wait_ns % 1000000000u / 1000u)};
        amqp_maybe_release_buffers(b->t->conn);
        int rc = amqp_simple_wait_frame_noblock(b->t->conn, f, &tv);
        if (rc == AMQP_STATUS_OK)
            return 0;
        if (rc != AMQP_STATUS_TIMEOUT) {
            LOG_ERROR(NS, "topology connection lost: %s", amqp_error_string2(rc));
            return MSGFLO_ENOTCONN;
        }
    }
}

/* Corked, the methods of one fill go out in full segments, not one each:
 * less work for the broker reading them. */
static void cork(struct batch *b, int on)
{
#ifdef TCP_CORK
    setsockopt(amqp_get_sockfd(b->t->conn), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
#else
    (void)b;
    (void)on;
#endif
}

/* Every reply already read or buffered, without waiting. */
static int take_buffered(struct batch *b)
{
    struct timeval zero = {0, 0};
    while (amqp_frames_enqueued(b->t->conn) || amqp_data_in_buffer(b->t->conn)) {
        amqp_frame_t f;
        amqp_maybe_release_buffers(b->t->conn);
        int rc = amqp_simple_wait_frame_noblock(b->t->conn, &f, &zero);
        if (rc == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rc != AMQP_STATUS_OK) {
            LOG_ERROR(NS, "topology connection lost: %s", amqp_error_string2(rc));
            return MSGFLO_ENOTCONN;
        }
        if ((rc = on_frame(b, &f)) != 0)
            return rc;
    }
    return 0;
}

/* Runs the steps idx[0..n) (all declarations or all bindings) to the end. */
static int run_phase(struct batch *b, const size_t *idx, size_t n, size_t *scratch)
{
    size_t counts[CHANNELS] = {0}, at[CHANNELS];
    int channels = b->t->channels;
    for (size_t k = 0; k < n; k++)
        counts[channel_of(&b->steps[idx[k]], channels)]++;
    for (int i = 0, sum = 0; i < channels; sum += (int)counts[i], i++) {
        at[i] = (size_t)sum;
        b->chans[i] = (struct chan){.list = scratch + sum, .n = counts[i], .window = WINDOW};
    }
    for (size_t k = 0; k < n; k++)
        scratch[at[channel_of(&b->steps[idx[k]], channels)]++] = idx[k];
    for (;;) {
        bool busy = false;
        int rc = 0;
        cork(b, 1);
        for (int i = 0; rc == 0 && i < channels; i++) {
            rc = fill(b, (size_t)i);
            busy = busy || b->chans[i].count > 0;
        }
        cork(b, 0);
        if (rc || !busy)
            return rc;
        amqp_frame_t f;
        rc = wait_frame(b, &f);
        if (rc == 0)
            rc = on_frame(b, &f);
        if (rc == 0)
            rc = take_buffered(b);
        if (rc)
            return rc;
    }
}

/* One attempt: every step sent and answered, or the connection lost. */
static int run_once(struct amqp_topology **topo, const msgflo_url *u, struct batch *b, size_t n,
                    size_t *decl, size_t *bind, size_t *scratch)
{
    struct transport_step *steps = b->steps;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        steps[i].rc = MSGFLO_ENOTCONN; /* until answered */
    if (!*topo && (rc = topology_open(topo, u)) != 0)
        return rc;
    b->t = *topo;
    b->last_keep = uv_hrtime();
    /* Segments: declarations, then the bindings after them, until a
     * declaration follows a binding. */
    for (size_t i = 0; i < n && rc == 0;) {
        size_t nd = 0, nb = 0;
        for (; i < n && !is_binding(steps[i].kind); i++)
            decl[nd++] = i;
        for (; i < n && is_binding(steps[i].kind); i++)
            bind[nb++] = i;
        rc = run_phase(b, decl, nd, scratch);
        if (rc == 0)
            rc = run_phase(b, bind, nb, scratch);
    }
    if (rc) { /* the connection is no longer usable */
        amqp_topology__free(b->t, false);
        *topo = NULL;
    }
    return rc;
}

int amqp_topology__run(struct amqp_topology **topo, const msgflo_url *u,
                       struct transport_step *steps, size_t n, int keep_ms,
                       void (*keep_alive)(void *arg), void *arg)
{
    struct batch b = {
        .url = u, .steps = steps, .keep_ms = keep_ms, .keep_alive = keep_alive, .arg = arg};
    int rc = 0;
    if (n == 0)
        return 0;
    size_t *decl = malloc(n * sizeof *decl), *bind = malloc(n * sizeof *bind),
           *scratch = malloc(n * sizeof *scratch);
    if (!decl || !bind || !scratch) {
        rc = MSGFLO_ENOMEM;
        for (size_t i = 0; i < n; i++)
            steps[i].rc = rc;
        goto out;
    }
    bool reused = *topo != NULL;
    rc = run_once(topo, u, &b, n, decl, bind, scratch);
    /* A kept connection may have died meanwhile (the broker closed it): once
     * more on a new one. Every step is idempotent, so repeating is safe. */
    if (rc == MSGFLO_ENOTCONN && reused) {
        LOG_DEBUG(NS, "topology connection lost; once more on a new one");
        rc = run_once(topo, u, &b, n, decl, bind, scratch);
    }
    for (size_t i = 0; i < n; i++) {
        if (steps[i].rc == MSGFLO_ENOTCONN && rc && rc != MSGFLO_ENOTCONN)
            steps[i].rc = rc;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = steps[i].rc;
out:
    free(decl);
    free(bind);
    free(scratch);
    return rc;
}
