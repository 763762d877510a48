/* HTTP/1.1 + WebSocket server on a libuv loop (HTTP parsing: http-parser;
 * WebSocket framing, ping/pong and close: wslay; handshake: ws_handshake).
 *
 *     struct http_server *s;
 *     http_server__new(loop, &opts, &events, ud, &s);   // listening
 *     http_server__port(s);                              // the bound port
 *     ...
 *     http_server__close(s, on_closed, ud);              // frees s asynchronously
 *
 * HTTP: `GET /` answers opts.page (text/html); other paths 404, other methods
 * 405, malformed or oversized requests 400; every plain HTTP response closes
 * the connection. A request with `Upgrade: websocket` (on any path) is
 * upgraded when its Origin is allowed (opts.origins, opts.self_hosts; else
 * 403); subprotocol `noflo` is accepted when the client asks for it.
 * WebSocket text messages go to events.text; binary messages are ignored.
 *
 * Connections are bounded fairly (conn_limits.h, opts.limits): in all and
 * per address; a full table evicts the oldest unfinished request, then the
 * oldest WebSocket client without a permitted command, never a trusted one
 * (http_server__trust). A request must arrive within request_timeout_ms; a
 * WebSocket client is closed without a permitted command within
 * auth_timeout_ms, and when it does not answer a ping (sent after
 * ping_interval_ms of silence) within ping_timeout_ms.
 */
#ifndef MSGFLO_RUNTIME_HTTP_SERVER_H
#define MSGFLO_RUNTIME_HTTP_SERVER_H

#include "runtime/conn_limits.h"

#include <stddef.h>
#include <uv.h>

struct http_server;
/* One WebSocket client. Valid from events.open until events.close returns. */
struct ws_conn;

struct http_server_options {
    const char *listen; /* address to bind: IPv4 or IPv6 literal, or "localhost"
                           (127.0.0.1); NULL: 127.0.0.1 */
    int port;           /* 0: any free port (see http_server__port) */
    const char *page;   /* HTML of GET /; copied; NULL: an empty page */
    size_t max_message; /* largest WebSocket message accepted; 0: 8 MiB */
    size_t max_frame;   /* longer messages are sent in fragments; 0: 1 MiB (the
                           limit of Node's websocket client, used by fbp-test) */
    /* Who may open a WebSocket (origin.h). A handshake without Origin (not a
     * browser) is always accepted; one with an Origin only from these pages,
     * else 403. `origins`: NULL-terminated URLs whose origin is allowed, or
     * "*" for every page; `self_hosts`: NULL-terminated host names whose
     * http://HOST:<bound port> (this server's own page) is allowed. Both
     * borrowed during http_server__new; NULL: none. */
    const char *const *origins;
    const char *const *self_hosts;
    struct conn_limits_options limits; /* zero fields: the defaults of conn_limits.h */
};

struct http_server_events {
    /* A WebSocket client connected (optional). */
    void (*open)(struct http_server *s, struct ws_conn *c, void *ud);
    /* A complete text message; `data` valid until the callback returns. The
     * callback may send, close the connection or close the server. */
    void (*text)(struct http_server *s, struct ws_conn *c, const char *data, size_t len, void *ud);
    /* The client is gone (optional); c is invalid after the call. */
    void (*close)(struct http_server *s, struct ws_conn *c, void *ud);
};

/* Binds and listens. `loop`, `events` and `ud` are borrowed for the server's
 * life; option strings are copied. On success *out is owned by the caller
 * (release with http_server__close). Returns 0, MSGFLO_EINVAL (bad address
 * or port), MSGFLO_ESYS (bind/listen failed, e.g. port in use: reason in the
 * log), MSGFLO_ENOMEM. An entry of opts.origins that is not an origin:
 * MSGFLO_EINVAL, logged. */
int http_server__new(uv_loop_t *loop, const struct http_server_options *opts,
                     const struct http_server_events *events, void *ud, struct http_server **out);

/* Replaces the HTML of GET / (copied). Returns 0 or MSGFLO_ENOMEM. */
int http_server__set_page(struct http_server *s, const char *page);

/* The port the server listens on (useful with port 0). */
int http_server__port(const struct http_server *s);

/* Number of connected WebSocket clients, and of those trusted
 * (http_server__trust): the ones broadcasts reach. */
size_t http_server__clients(const struct http_server *s);
size_t http_server__trusted_clients(const struct http_server *s);

/* Sends a text message to one client (data copied). Returns 0, MSGFLO_ESTATE
 * (closing), MSGFLO_ENOMEM. A client too slow to read its backlog is
 * disconnected rather than buffered without bound. */
int http_server__send(struct ws_conn *c, const char *data, size_t len);

/* Sends a text message to every trusted client (one whose command the
 * protocol permitted: a client without the secret learns nothing from
 * broadcasts). Returns 0 or the last error. */
int http_server__broadcast(struct http_server *s, const char *data, size_t len);

/* Marks c as trusted: the application accepted a command of it (one that
 * carried the secret, when one is set). From then on it is never evicted
 * for a newcomer and has no auth deadline; it stays while it answers pings.
 * A no-op on a closing connection. */
void http_server__trust(struct ws_conn *c);

/* Closes one client with a close frame (status 1000). */
void http_server__close_conn(struct ws_conn *c);

/* Stops listening, closes every connection (WebSocket clients get a close
 * frame 1001 "going away") and frees the server once libuv has closed every
 * handle; then calls on_closed (optional). Callable from any event callback.
 * NULL is a no-op. */
void http_server__close(struct http_server *s, void (*on_closed)(void *ud), void *ud);

#endif
