/* HTTP/1.1 requests (http-parser) and WebSocket connections (wslay) on libuv.
 *
 * A connection starts in HTTP state; a plain request gets one response and
 * the connection is shut down (no keep-alive: the runtime serves one page);
 * an upgrade request switches it to WebSocket state, where bytes go to a
 * wslay event context whose send callback writes to the uv stream.
 *
 * Lifetime: a connection is freed once both its handles (tcp, timer) are
 * closed, so callbacks running on the current stack can still touch it; they
 * check `closing`. The server is freed after its listener and every
 * connection are closed.
 *
 * Limits (conn_limits.h decides, this file acts): every open connection is
 * an entry of the connection table from accept until conn_close. Each
 * connection's one timer runs its next deadline: the request deadline, the
 * WebSocket auth deadline or ping, or the linger after our last bytes. */
#include "runtime/http_server.h"

#include "core/log.h"
#include "msgflo/errors.h"
#include "runtime/conn_limits.h"
#include "runtime/origin.h"
#include "runtime/ws_handshake.h"

#include <http_parser.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define NS "msgflo:http"

#define MAX_REQUEST       16384       /* request line + headers + body */
#define MAX_HEADER_VALUE  512         /* of the headers we look at */
#define MAX_BACKLOG       (16u << 20) /* unsent bytes per client before we give up */
#define DEFAULT_MAX_MSG   (8u << 20)
#define DEFAULT_MAX_FRAME (1u << 20) /* Node's websocket client refuses larger frames */
#define LINGER_MS         2000       /* after a response or a close frame */
#define LISTEN_BACKLOG    1024       /* a flood of connects must not drop a client's SYN */
#define WARN_EVERY_MS     10000      /* at most one warning about the limits this often */
#define ACCEPT_BURST      64         /* connections accepted per loop turn */
#define READ_BUFFER       65536

enum conn_state { CONN_HTTP, CONN_RESPONDING, CONN_WS };

enum header {
    H_UPGRADE,
    H_CONNECTION,
    H_KEY,
    H_VERSION,
    H_PROTOCOL,
    H_ORIGIN,
    H_HOST,
    H_AUTHORIZATION,
    H_COUNT
};
static const char *const header_names[H_COUNT] = {
    "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
    "Origin",  "Host",       "Authorization",
};

struct ws_conn {
    struct http_server *server;
    struct ws_conn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    int open_handles;
    bool closing;
    bool lingering; /* the timer runs the linger: close when it fires */
    enum conn_state state;
    struct conn_entry entry; /* in server->limits while open */

    /* HTTP state */
    http_parser parser;
    size_t request_bytes;
    bool message_done;
    bool bad_request; /* a header we need is too long */
    char url[1024];
    size_t url_len;
    char field[64];
    size_t field_len;
    bool field_done; /* the last callback was a value */
    int current;     /* enum header of the value being read, or -1 */
    char headers[H_COUNT][MAX_HEADER_VALUE];
    size_t header_len[H_COUNT];
    bool has_origin; /* an Origin header, even an empty one */

    /* WebSocket state */
    wslay_event_context_ptr ws;
    struct frag *frags; /* sources of fragmented messages being sent */
    size_t frag_bytes;  /* their bytes not read by wslay yet (it does not count them) */
    const char *in;     /* bytes being fed to wslay_event_recv */
    size_t in_len;
    int in_recv;           /* inside wslay_event_recv: queue, flush afterwards */
    bool close_after_recv; /* the server closed during a receive callback */

    char buf[READ_BUFFER];
};

/* A long message being sent in fragments; freed when wslay has read it all
 * or with its connection. */
struct frag {
    struct frag *next;
    size_t len, off;
    char data[];
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listener_open;
    uv_check_t check; /* once per loop turn: the accept budget */
    bool check_open;
    unsigned accepts;     /* this loop turn */
    bool accept_deferred; /* libuv holds a connection we did not accept yet */
    bool closing;
    int port;
    char *page;
    size_t max_message;
    size_t max_frame;
    struct origin_policy *origins; /* who may open a WebSocket */
    struct http_server_events events;
    void *ud;
    struct ws_conn *conns; /* every connection not yet freed */
    size_t n_ws;
    size_t n_trusted;          /* of n_ws */
    struct conn_limits limits; /* the open ones: admission and deadlines */
    uint64_t last_warning;     /* uv_now of the last warning about limits */
    size_t evicted, refused;   /* since that warning */
    void (*on_closed)(void *ud);
    void *closed_ud;
};

struct wreq {
    uv_write_t req;
    struct ws_conn *c;
    char *body; /* owned, written after data (a response body, not copied); or NULL */
    char data[];
};

static void conn_close(struct ws_conn *c);
static void ws_flush(struct ws_conn *c);

/* ---- server and connection lifetime ---- */

static void server_maybe_free(struct http_server *s)
{
    if (!s->closing || s->listener_open || s->check_open || s->conns)
        return;
    void (*cb)(void *) = s->on_closed;
    void *ud = s->closed_ud;
    free(s->page);
    conn_limits__cleanup(&s->limits);
    origin_policy__free(s->origins);
    free(s);
    if (cb)
        cb(ud);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct ws_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct http_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->ws)
        wslay_event_context_free(c->ws);
    while (c->frags) {
        struct frag *f = c->frags;
        c->frags = f->next;
        free(f);
    }
    free(c);
    server_maybe_free(s);
}

/* The application's view: the WebSocket client is gone. */
static void ws_gone(struct ws_conn *c)
{
    struct http_server *s = c->server;
    if (c->state != CONN_WS)
        return;
    c->state = CONN_RESPONDING;
    s->n_ws--;
    if (c->entry.cls == CONN_CLASS_TRUSTED)
        s->n_trusted--;
    LOG_DEBUG(NS, "websocket client gone (%zu left)", s->n_ws);
    if (s->events.close)
        s->events.close(s, c, s->ud);
}

static void conn_close(struct ws_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    conn_limits__remove(&c->server->limits, &c->entry);
    ws_gone(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

/* Sends a close frame (when none was sent) and closes at once: for clients
 * we drop, which get no linger. */
static void ws_drop(struct ws_conn *c, uint16_t status, const char *reason)
{
    if (c->closing)
        return;
    if (c->state == CONN_WS && !wslay_event_get_close_sent(c->ws)) {
        wslay_event_queue_close(c->ws, status, (const uint8_t *)reason, strlen(reason));
        wslay_event_send(c->ws);
    }
    conn_close(c);
}

static void on_timer(uv_timer_t *t);

/* Runs what is due for c now and arms its timer for the next deadline. */
static void conn_tick(struct ws_conn *c)
{
    struct http_server *s = c->server;
    uint64_t now = uv_now(s->loop);
    uint64_t next;
    for (;;) {
        switch (conn_limits__due(&s->limits, &c->entry, now, &next)) {
        case CONN_DUE_NONE:
            if (next == UINT64_MAX)
                uv_timer_stop(&c->timer);
            else
                uv_timer_start(&c->timer, on_timer, next > now ? next - now : 0, 0);
            return;
        case CONN_DUE_PING: {
            struct wslay_event_msg m = {.opcode = WSLAY_PING, .msg = NULL, .msg_length = 0};
            conn_limits__pinged(&c->entry, now);
            if (wslay_event_queue_msg(c->ws, &m) == 0)
                ws_flush(c);
            if (c->closing || c->lingering)
                return;
            break;
        }
        case CONN_DUE_NO_REQUEST:
            LOG_DEBUG(NS, "request not complete within %" PRIu64 " ms: closing",
                      s->limits.o.request_timeout_ms);
            conn_close(c);
            return;
        case CONN_DUE_NO_AUTH:
            LOG_DEBUG(NS,
                      "websocket client sent no permitted command within %" PRIu64 " ms: closing",
                      s->limits.o.auth_timeout_ms);
            ws_drop(c, WSLAY_CODE_POLICY_VIOLATION, "no permitted command in time");
            return;
        case CONN_DUE_NO_PONG:
            LOG_DEBUG(NS, "websocket client silent after a ping: closing");
            ws_drop(c, WSLAY_CODE_GOING_AWAY, "no answer to ping");
            return;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    struct ws_conn *c = t->data;
    if (c->lingering)
        conn_close(c);
    else
        conn_tick(c);
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct ws_conn *c = req->data;
    if (status < 0 && !c->closing)
        conn_close(c);
}

/* Our last bytes are queued: send FIN after them, then keep reading (and
 * discarding) until the client hangs up, so unread bytes of the client do
 * not turn our close into a reset that loses what we sent (a response, a
 * close frame); the linger timer bounds the wait. */
static void conn_linger(struct ws_conn *c)
{
    if (c->closing)
        return;
    ws_gone(c);
    c->state = CONN_RESPONDING;
    conn_limits__set_class(&c->server->limits, &c->entry, CONN_CLASS_DONE, uv_now(c->server->loop));
    c->lingering = true;
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct ws_conn *c = w->c;
    free(w->body);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        LOG_DEBUG(NS, "write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    /* A send that wslay had to hold back (backlog full) goes on now. */
    if (c->state == CONN_WS && wslay_event_want_write(c->ws))
        ws_flush(c);
}

/* Writes a then b (b may be NULL), copied into the write request, then
 * `body` (taken: freed once written or on failure; may be NULL), which is
 * not copied: /metrics of 10,000 edges is 800 KB. */
static int conn_write_owned(struct ws_conn *c, const void *a, size_t alen, const void *b,
                            size_t blen, char *body, size_t body_len)
{
    struct wreq *w = malloc(sizeof *w + alen + blen);
    if (!w) {
        free(body);
        return MSGFLO_ENOMEM;
    }
    w->c = c;
    w->body = body;
    memcpy(w->data, a, alen);
    if (blen)
        memcpy(w->data + alen, b, blen);
    uv_buf_t bufs[2] = {uv_buf_init(w->data, (unsigned)(alen + blen)),
                        uv_buf_init(body, (unsigned)body_len)};
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, body && body_len ? 2 : 1, on_write);
    if (r != 0) {
        free(w->body);
        free(w);
        LOG_DEBUG(NS, "write failed: %s", uv_strerror(r));
        return MSGFLO_ESYS;
    }
    return 0;
}

static int conn_write(struct ws_conn *c, const void *data, size_t len)
{
    return conn_write_owned(c, data, len, NULL, 0, NULL, 0);
}

/* ---- HTTP responses ---- */

/* The body is `body` (copied) or, when `owned` is not NULL, `owned` (taken
 * and not copied; freed in any case). */
static void respond_typed(struct ws_conn *c, int status, const char *reason,
                          const char *content_type, const char *extra_headers, const char *body,
                          size_t body_len, char *owned, bool head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n\r\n",
                     status, reason, content_type, body_len, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head) {
        free(owned);
        conn_close(c);
        return;
    }
    if (head_only) {
        free(owned);
        owned = NULL;
        body = NULL;
        body_len = 0;
    }
    int r = owned ? conn_write_owned(c, head, (size_t)n, NULL, 0, owned, body_len)
                  : conn_write_owned(c, head, (size_t)n, body, body_len, NULL, 0);
    if (r == 0)
        conn_linger(c);
    else
        conn_close(c);
}

static void respond(struct ws_conn *c, int status, const char *reason, const char *extra_headers,
                    const char *body, bool head_only)
{
    respond_typed(c, status, reason, status == 200 ? "text/html; charset=utf-8" : "text/plain",
                  extra_headers, body, body ? strlen(body) : 0, NULL, head_only);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 500:
        return "Internal Server Error";
    default:
        return "Not Found";
    }
}

/* A path the owner serves (events.request), else 404. Logs name the path
 * only (path_len bytes of c->url): the query may hold the secret. */
static void route_other(struct ws_conn *c, size_t path_len, bool head_only)
{
    struct http_server *s = c->server;
    struct http_response resp = {0};
    if (s->events.request) {
        char path[sizeof c->url];
        memcpy(path, c->url, path_len);
        path[path_len] = '\0';
        const char *q = c->url[path_len] == '?' ? c->url + path_len + 1 : "";
        char query[sizeof c->url];
        size_t qlen = strcspn(q, "#");
        memcpy(query, q, qlen);
        query[qlen] = '\0';
        const struct http_request req = {path, query, c->headers[H_AUTHORIZATION]};
        s->events.request(s, &req, &resp, s->ud);
    }
    if (c->closing) {
        free(resp.body);
        return;
    }
    if (resp.status == 0 || resp.status == 404) {
        free(resp.body);
        resp.status = 404;
        resp.body = strdup("Not Found\n");
        resp.body_len = resp.body ? strlen(resp.body) : 0;
        resp.content_type = NULL;
    }
    LOG_DEBUG(NS, "%s %.*s: %d", head_only ? "HEAD" : "GET", (int)path_len, c->url, resp.status);
    respond_typed(c, resp.status, reason_of(resp.status),
                  resp.content_type ? resp.content_type : "text/plain", resp.extra_headers, NULL,
                  resp.body ? resp.body_len : 0, resp.body, head_only);
}

static void bad_request(struct ws_conn *c, const char *why)
{
    LOG_DEBUG(NS, "bad request: %s", why);
    respond(c, 400, "Bad Request", NULL, "Bad Request\n", false);
}

/* ---- HTTP request parsing (http-parser callbacks) ---- */

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct ws_conn *c = p->data;
    if (len > sizeof c->url - 1 - c->url_len) {
        c->bad_request = true;
        return 1;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct ws_conn *c = p->data;
    if (c->field_done) {
        c->field_len = 0;
        c->field_done = false;
        c->current = -1;
    }
    /* Longer names are none of ours: keep a prefix that matches nothing. */
    size_t room = sizeof c->field - 1 - c->field_len;
    size_t n = len < room ? len : room;
    memcpy(c->field + c->field_len, at, n);
    c->field_len += n;
    c->field[c->field_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct ws_conn *c = p->data;
    if (!c->field_done) {
        c->field_done = true;
        c->current = -1;
        for (int i = 0; i < H_COUNT; i++) {
            if (strcasecmp(c->field, header_names[i]) == 0)
                c->current = i;
        }
        if (c->current == H_ORIGIN)
            c->has_origin = true;
        /* A repeated header continues the list, as RFC 7230 3.2.2 allows
         * (two Origins then match no allowed origin). */
        if (c->current >= 0 && c->header_len[c->current] > 0)
            on_header_value(p, ",", 1);
    }
    if (c->current < 0)
        return 0;
    char *v = c->headers[c->current];
    size_t *vlen = &c->header_len[c->current];
    if (len > MAX_HEADER_VALUE - 1 - *vlen) {
        c->bad_request = true;
        return 1;
    }
    memcpy(v + *vlen, at, len);
    *vlen += len;
    v[*vlen] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct ws_conn *c = p->data;
    c->message_done = true;
    /* One request per connection: do not parse what may follow. */
    if (!p->upgrade)
        http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_message_complete = on_message_complete,
};

static void route(struct ws_conn *c)
{
    struct http_server *s = c->server;
    enum http_method m = (enum http_method)c->parser.method;
    size_t path_len = strcspn(c->url, "?#"); /* logs show the path, never the query */
    if (m != HTTP_GET && m != HTTP_HEAD) {
        LOG_DEBUG(NS, "%s %.*s: 405", http_method_str(m), (int)path_len, c->url);
        respond(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "Method Not Allowed\n",
                false);
        return;
    }
    bool root = (path_len == 1 && c->url[0] == '/') ||
                (path_len == 11 && strncmp(c->url, "/index.html", 11) == 0);
    if (root && !origin_policy__serves_host(s->origins,
                                            c->header_len[H_HOST] ? c->headers[H_HOST] : NULL)) {
        char shown[128]; /* printable ASCII only: the header is the peer's */
        size_t i = 0;
        for (const char *h = c->headers[H_HOST]; h[i] && i < sizeof shown - 1; i++)
            shown[i] = h[i] >= 0x20 && h[i] < 0x7f ? h[i] : '?';
        shown[i] = '\0';
        char body[256];
        snprintf(body, sizeof body,
                 "Host '%s' is not served here (msgflo --host or --allow-origin names it)\n",
                 shown);
        LOG_DEBUG(NS, "%s %.*s for host '%s': 403", http_method_str(m), (int)path_len, c->url,
                  shown);
        respond(c, 403, "Forbidden", NULL, body, m == HTTP_HEAD);
        return;
    }
    if (root) {
        LOG_DEBUG(NS, "%s %.*s: 200", http_method_str(m), (int)path_len, c->url);
        respond(c, 200, "OK", NULL, s->page ? s->page : "", m == HTTP_HEAD);
    } else {
        route_other(c, path_len, m == HTTP_HEAD);
    }
}

/* ---- WebSocket (wslay callbacks) ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *ud)
{
    (void)flags;
    struct ws_conn *c = ud;
    if (c->closing || c->close_after_recv || c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *ud)
{
    (void)flags;
    struct ws_conn *c = ud;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > MAX_BACKLOG) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (conn_write(c, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    (void)ctx;
    struct ws_conn *c = ud;
    struct http_server *s = c->server;
    if (c->closing || s->closing)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (s->events.text)
            s->events.text(s, c, (const char *)arg->msg, arg->msg_length, s->ud);
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
        LOG_DEBUG(NS, "binary message of %zu bytes ignored", arg->msg_length);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        LOG_DEBUG(NS, "close frame received (status %u)", arg->status_code);
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* After reading or writing: close once both sides said goodbye; when we
 * ended it (message too big, protocol error) without the client's close
 * frame, linger so the client reads our close frame instead of a reset. */
static void ws_check_done(struct ws_conn *c)
{
    if (c->closing || c->state != CONN_WS)
        return;
    if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)) {
        if (wslay_event_get_close_received(c->ws))
            conn_close(c);
        else
            conn_linger(c);
    } else if (wslay_event_get_close_sent(c->ws) && !c->lingering) {
        c->lingering = true;
        uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    }
}

static void ws_flush(struct ws_conn *c)
{
    if (c->closing || c->in_recv)
        return;
    int r = wslay_event_send(c->ws);
    if (r != 0) {
        LOG_DEBUG(NS, "websocket send failed (wslay %d)", r);
        conn_close(c);
        return;
    }
    ws_check_done(c);
}

static void feed_ws(struct ws_conn *c, const char *data, size_t len)
{
    c->in = data;
    c->in_len = len;
    c->in_recv++;
    int r = wslay_event_recv(c->ws);
    c->in_recv--;
    c->in = NULL;
    c->in_len = 0;
    if (c->closing)
        return;
    if (r != 0) {
        LOG_DEBUG(NS, "websocket receive failed (wslay %d)", r);
        conn_close(c);
        return;
    }
    ws_flush(c); /* pongs, close replies, what the callbacks queued */
    if (c->close_after_recv)
        conn_close(c);
}

/* Browsers let any page open a WebSocket to localhost and say which page in
 * Origin: only the allowed ones get through (origin.h); clients that are not
 * browsers send no Origin. A refusal is 403 naming the origin, logged once
 * per origin. */
static bool origin_allowed(struct ws_conn *c)
{
    struct http_server *s = c->server;
    const char *origin = c->has_origin ? c->headers[H_ORIGIN] : NULL;
    if (origin_policy__allows(s->origins, origin))
        return true;
    char shown[128]; /* printable ASCII only: the header is the peer's */
    size_t i = 0;
    for (; origin[i] && i < sizeof shown - 1; i++)
        shown[i] = origin[i] >= 0x20 && origin[i] < 0x7f ? origin[i] : '?';
    shown[i] = '\0';
    if (origin_policy__first_refusal(s->origins, origin))
        LOG_WARNING(NS,
                    "WebSocket from a page at '%s' refused (403): not an allowed origin "
                    "(msgflo --allow-origin adds one)",
                    shown);
    else
        LOG_DEBUG(NS, "WebSocket from '%s' refused (403)", shown);
    char body[192];
    snprintf(body, sizeof body, "Origin '%s' is not allowed\n", shown);
    respond(c, 403, "Forbidden", NULL, body, false);
    return false;
}

static void upgrade(struct ws_conn *c, const char *rest, size_t rest_len)
{
    struct http_server *s = c->server;
    if (c->parser.method != HTTP_GET || c->parser.http_major != 1 || c->parser.http_minor < 1 ||
        !ws_handshake__has_token(c->headers[H_UPGRADE], "websocket", true)) {
        bad_request(c, "not a WebSocket upgrade");
        return;
    }
    if (!origin_allowed(c))
        return;
    if (strcmp(c->headers[H_VERSION], "13") != 0) {
        LOG_DEBUG(NS, "unsupported WebSocket version '%s'", c->headers[H_VERSION]);
        respond(c, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
                "Unsupported WebSocket version\n", false);
        return;
    }
    char accept[WS_ACCEPT_SIZE];
    if (ws_handshake__accept(c->headers[H_KEY], accept) != 0) {
        bad_request(c, "invalid Sec-WebSocket-Key");
        return;
    }
    bool noflo = ws_handshake__has_token(c->headers[H_PROTOCOL], "noflo", false);
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        c->ws = NULL;
        conn_close(c);
        return;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, s->max_message);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s\r\n",
                     accept, noflo ? "Sec-WebSocket-Protocol: noflo\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head || conn_write(c, head, (size_t)n) != 0) {
        conn_close(c);
        return;
    }
    c->state = CONN_WS;
    conn_limits__set_class(&s->limits, &c->entry, CONN_CLASS_GUEST, uv_now(s->loop));
    conn_tick(c); /* from the request deadline to the WebSocket ones */
    s->n_ws++;
    LOG_DEBUG(NS, "websocket client connected%s (%zu)", noflo ? " (noflo)" : "", s->n_ws);
    if (s->events.open)
        s->events.open(s, c, s->ud);
    if (!c->closing && rest_len > 0)
        feed_ws(c, rest, rest_len);
}

static void feed_http(struct ws_conn *c, const char *data, size_t len)
{
    c->request_bytes += len;
    size_t parsed = http_parser_execute(&c->parser, &parser_settings, data, len);
    if (c->request_bytes > MAX_REQUEST) {
        bad_request(c, "request too large");
    } else if (c->message_done && c->parser.http_major != 1) {
        bad_request(c, "not HTTP/1.x");
    } else if (c->parser.upgrade && c->message_done) {
        upgrade(c, data + parsed, len - parsed);
    } else if (c->message_done) {
        route(c);
    } else if (c->bad_request) {
        bad_request(c, "header or URL too long");
    } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        bad_request(c, http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
    }
}

/* ---- reading and accepting ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct ws_conn *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ws_conn *c = stream->data;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            LOG_DEBUG(NS, "read: %s", uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    switch (c->state) {
    case CONN_HTTP:
        feed_http(c, buf->base, (size_t)nread);
        break;
    case CONN_RESPONDING:
        break; /* discarded: the response is on its way */
    case CONN_WS:
        conn_limits__received(&c->entry, uv_now(c->server->loop));
        feed_ws(c, buf->base, (size_t)nread);
        break;
    }
}

/* Admits the accepted connection c into the table, closing a victim if the
 * table or c's address is full; or closes c. Returns whether c is admitted. */
static bool admit(struct http_server *s, struct ws_conn *c)
{
    struct sockaddr_storage peer;
    int len = sizeof peer;
    struct conn_addr addr;
    /* A peer without an address (cannot happen on TCP) counts as one. */
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) != 0 ||
        conn_limits__addr(&addr, (const struct sockaddr *)&peer) != 0)
        memset(&addr, 0, sizeof addr);
    struct conn_entry *victim;
    bool ok = conn_limits__admit(&s->limits, &addr, &victim) == CONN_ADMIT;
    if (!ok) {
        s->refused++;
        conn_close(c);
    } else if (victim) {
        struct ws_conn *v = (struct ws_conn *)((char *)victim - offsetof(struct ws_conn, entry));
        LOG_DEBUG(NS, "connection limit: evicting an older %s",
                  victim->cls == CONN_CLASS_GUEST ? "websocket client without permission"
                                                  : "HTTP connection");
        s->evicted++;
        ws_drop(v, WSLAY_CODE_POLICY_VIOLATION, "connection limit");
    }
    uint64_t now = uv_now(s->loop);
    if ((s->evicted || s->refused) &&
        (!s->last_warning || now - s->last_warning >= WARN_EVERY_MS)) {
        LOG_WARNING(NS,
                    "connection limits (%zu in all, %zu per address): %zu older connections "
                    "closed, %zu refused",
                    s->limits.o.max_connections, s->limits.o.max_per_address, s->evicted,
                    s->refused);
        s->last_warning = now ? now : 1;
        s->evicted = s->refused = 0;
    }
    if (ok)
        conn_limits__add(&s->limits, &c->entry, &addr, now);
    return ok;
}

/* Accepts the connection libuv holds for us. Without uv_accept, libuv stops
 * watching the listener until the next one (accept_deferred). */
static void accept_one(struct http_server *s)
{
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        LOG_ERROR(NS, "out of memory accepting a connection");
        s->accept_deferred = true; /* tried again on the next loop turn */
        return;
    }
    c->server = s;
    c->current = -1;
    c->tcp.data = c;
    c->timer.data = c;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->open_handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (!admit(s, c))
        return;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    conn_tick(c); /* the request deadline */
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

/* libuv accepts in a loop until the queue is empty; a client reconnecting
 * as fast as we evict it would keep that loop, and the whole event loop,
 * going forever. So at most ACCEPT_BURST per loop turn: the rest wait (in
 * the kernel's queue) until the other connections have been served. */
static void on_connection(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status < 0) {
        LOG_WARNING(NS, "accept: %s", uv_strerror(status));
        return;
    }
    if (s->accepts >= ACCEPT_BURST) {
        s->accept_deferred = true;
        return;
    }
    s->accepts++;
    accept_one(s);
}

/* After each loop turn's I/O: a new budget, and the deferred accept. */
static void on_check(uv_check_t *h)
{
    struct http_server *s = h->data;
    s->accepts = 0;
    if (s->accept_deferred && !s->closing) {
        s->accept_deferred = false;
        s->accepts = 1;
        accept_one(s);
    }
}

/* ---- public API ---- */

static void on_listener_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->listener_open = false;
    server_maybe_free(s);
}

static void on_check_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->check_open = false;
    server_maybe_free(s);
}

int http_server__new(uv_loop_t *loop, const struct http_server_options *opts,
                     const struct http_server_events *events, void *ud, struct http_server **out)
{
    *out = NULL;
    if (!loop || !opts || opts->port < 0 || opts->port > 65535)
        return MSGFLO_EINVAL;
    const char *host = opts->listen && *opts->listen ? opts->listen : "127.0.0.1";
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_storage addr;
    int r = strchr(host, ':') ? uv_ip6_addr(host, opts->port, (struct sockaddr_in6 *)&addr)
                              : uv_ip4_addr(host, opts->port, (struct sockaddr_in *)&addr);
    if (r != 0) {
        LOG_ERROR(NS, "'%s' is not an IP address to listen on", host);
        return MSGFLO_EINVAL;
    }
    struct http_server *s = calloc(1, sizeof *s);
    if (!s)
        return MSGFLO_ENOMEM;
    s->loop = loop;
    s->ud = ud;
    if (events)
        s->events = *events;
    s->max_message = opts->max_message ? opts->max_message : DEFAULT_MAX_MSG;
    s->max_frame = opts->max_frame ? opts->max_frame : DEFAULT_MAX_FRAME;
    if (conn_limits__init(&s->limits, &opts->limits) != 0) {
        free(s);
        return MSGFLO_ENOMEM;
    }
    s->page = strdup(opts->page ? opts->page : "");
    r = s->page ? origin_policy__new(&s->origins) : MSGFLO_ENOMEM;
    for (size_t i = 0; r == 0 && opts->origins && opts->origins[i]; i++) {
        r = origin_policy__allow(s->origins, opts->origins[i]);
        if (r == MSGFLO_EINVAL)
            LOG_ERROR(NS, "'%s' is not an origin (scheme://host[:port]) or '*'", opts->origins[i]);
    }
    if (r != 0) {
        origin_policy__free(s->origins);
        conn_limits__cleanup(&s->limits);
        free(s->page);
        free(s);
        return r;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = true;
    uv_check_init(loop, &s->check);
    s->check.data = s;
    s->check_open = true;
    uv_check_start(&s->check, on_check);
    uv_unref((uv_handle_t *)&s->check); /* does not keep the loop alive */
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (r == 0)
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    if (r != 0) {
        LOG_ERROR(NS, "cannot listen on %s port %d: %s", host, opts->port, uv_strerror(r));
        /* The handle is initialized: free through the close path. */
        http_server__close(s, NULL, NULL);
        return MSGFLO_ESYS;
    }
    s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    /* The server's own page, now that its port is known. */
    for (size_t i = 0; r == 0 && opts->self_hosts && opts->self_hosts[i]; i++) {
        r = origin_policy__allow_host(s->origins, "http", opts->self_hosts[i], s->port);
        if (r == MSGFLO_EINVAL) {
            LOG_WARNING(NS, "'%s' is not a host name: its page is not an allowed origin",
                        opts->self_hosts[i]);
            r = 0;
        }
    }
    if (r != 0) {
        http_server__close(s, NULL, NULL);
        return r;
    }
    LOG_DEBUG(NS, "listening on %s port %d", host, s->port);
    *out = s;
    return 0;
}

int http_server__set_page(struct http_server *s, const char *page)
{
    char *copy = strdup(page ? page : "");
    if (!copy)
        return MSGFLO_ENOMEM;
    free(s->page);
    s->page = copy;
    return 0;
}

int http_server__port(const struct http_server *s)
{
    return s->port;
}

size_t http_server__clients(const struct http_server *s)
{
    return s->n_ws;
}

size_t http_server__trusted_clients(const struct http_server *s)
{
    return s->n_trusted;
}

static ssize_t frag_read(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                         const union wslay_event_msg_source *source, int *eof, void *ud)
{
    (void)ctx;
    struct ws_conn *c = ud;
    struct frag *f = source->data;
    size_t n = f->len - f->off < len ? f->len - f->off : len;
    memcpy(buf, f->data + f->off, n);
    f->off += n;
    c->frag_bytes -= n;
    if (f->off == f->len) {
        /* wslay does not read a source again after its end. */
        *eof = 1;
        for (struct frag **pp = &c->frags; *pp; pp = &(*pp)->next) {
            if (*pp == f) {
                *pp = f->next;
                break;
            }
        }
        free(f);
    }
    return (ssize_t)n;
}

/* Queues a message longer than max_frame as several frames (wslay reads
 * the source in pieces of its buffer size, 4 KiB). */
static int queue_fragmented(struct ws_conn *c, const char *data, size_t len)
{
    struct frag *f = malloc(sizeof *f + len);
    if (!f)
        return MSGFLO_ENOMEM;
    f->len = len;
    f->off = 0;
    memcpy(f->data, data, len);
    struct wslay_event_fragmented_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .source = {.data = f}, .read_callback = frag_read};
    int r = wslay_event_queue_fragmented_msg(c->ws, &m);
    if (r != 0) {
        free(f);
        return r == WSLAY_ERR_NOMEM ? MSGFLO_ENOMEM : MSGFLO_ESTATE;
    }
    f->next = c->frags;
    c->frags = f;
    c->frag_bytes += len;
    return 0;
}

int http_server__send(struct ws_conn *c, const char *data, size_t len)
{
    if (c->closing || c->state != CONN_WS || wslay_event_get_close_sent(c->ws))
        return MSGFLO_ESTATE;
    /* wslay's count leaves out fragmented messages: theirs is added */
    if (wslay_event_get_queued_msg_length(c->ws) + c->frag_bytes + len > MAX_BACKLOG) {
        LOG_WARNING(NS, "a client does not read its messages: disconnecting it");
        conn_close(c);
        return MSGFLO_ESTATE;
    }
    if (len > c->server->max_frame) {
        int rc = queue_fragmented(c, data, len);
        if (rc != 0)
            return rc;
    } else {
        struct wslay_event_msg m = {
            .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)data, .msg_length = len};
        int r = wslay_event_queue_msg(c->ws, &m);
        if (r != 0)
            return r == WSLAY_ERR_NOMEM ? MSGFLO_ENOMEM : MSGFLO_ESTATE;
    }
    ws_flush(c);
    return 0;
}

int http_server__broadcast(struct http_server *s, const char *data, size_t len)
{
    int rc = 0;
    struct ws_conn *next;
    for (struct ws_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state != CONN_WS || c->closing || c->entry.cls != CONN_CLASS_TRUSTED)
            continue;
        int r = http_server__send(c, data, len);
        if (r != 0)
            rc = r;
    }
    return rc;
}

static void close_ws(struct ws_conn *c, uint16_t status, const char *reason)
{
    if (c->closing || c->state != CONN_WS)
        return;
    if (!wslay_event_get_close_sent(c->ws))
        wslay_event_queue_close(c->ws, status, (const uint8_t *)reason, strlen(reason));
    ws_flush(c);
}

void http_server__trust(struct ws_conn *c)
{
    if (c->closing || c->state != CONN_WS || c->entry.cls == CONN_CLASS_TRUSTED)
        return;
    struct http_server *s = c->server;
    conn_limits__set_class(&s->limits, &c->entry, CONN_CLASS_TRUSTED, uv_now(s->loop));
    s->n_trusted++;
    LOG_DEBUG(NS, "websocket client sent a permitted command: kept while it answers pings");
}

void http_server__close_conn(struct ws_conn *c)
{
    close_ws(c, WSLAY_CODE_NORMAL_CLOSURE, "");
}

void http_server__close(struct http_server *s, void (*on_closed)(void *ud), void *ud)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->on_closed = on_closed;
    s->closed_ud = ud;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    uv_close((uv_handle_t *)&s->check, on_check_closed);
    for (struct ws_conn *c = s->conns; c; c = c->next) {
        /* The close frame is handed to the kernel before the socket closes;
         * inside a receive callback, once it returns (feed_ws). */
        close_ws(c, WSLAY_CODE_GOING_AWAY, "runtime shutting down");
        if (c->in_recv)
            c->close_after_recv = true;
        else
            conn_close(c);
    }
}
