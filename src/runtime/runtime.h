/* The msgflo runtime: the FBP protocol (protocol.h) served over HTTP +
 * WebSocket (http_server.h), with the front page linking to Flowhub.
 *
 *     struct runtime *rt;
 *     runtime__new(loop, &opts, &rt);     // listening
 *     runtime__port(rt); runtime__flowhub_url(rt);
 *     uv_run(loop, ...);
 *     runtime__close(rt, on_closed, ud);  // frees rt asynchronously
 *
 * This slice answers runtime:getruntime; the coordinator (discovery, graph,
 * network, components) plugs into runtime__protocol's dispatch table.
 */
#ifndef MSGFLO_RUNTIME_RUNTIME_H
#define MSGFLO_RUNTIME_RUNTIME_H

#include "core/strbuf.h"
#include "runtime/protocol.h"

#include <uv.h>

struct runtime;

/* Strings are borrowed during runtime__new only (copied as needed). */
struct runtime_options {
    const char *listen; /* address to bind; NULL: 127.0.0.1 */
    int port;           /* 0: any free port */
    const char *host;   /* advertised host in ws://HOST:PORT; NULL: localhost */
    const char *ide;    /* Flowhub base URL; NULL: http://app.flowhub.io */
    const char *id;     /* runtime id; required */
    const char *label;  /* optional, as protocol_options */
    const char *secret; /* optional; also in the Flowhub link */
    /* Pages (browsers' Origin) allowed to open a WebSocket besides the
     * runtime's own page and the IDE's origin: NULL-terminated URLs or "*";
     * NULL: none (http_server_options.origins). */
    const char *const *allow_origins;
    /* Components are not written (component:setsource not offered). */
    bool no_setsource;
    const char *namespace_; /* optional: the component library's namespace */
    const char *repository; /* optional: the project's repository URL */
};

/* Creates the protocol handler and starts listening. A WebSocket handshake
 * from a browser (with Origin) is accepted from the runtime's own page
 * (http://H:PORT for H the advertised host, the listen address, localhost,
 * 127.0.0.1 and [::1]), from the IDE's origin (and its https:// form when
 * the IDE is http:// without a port) and from allow_origins; any other gets
 * 403. `loop` is borrowed for
 * the runtime's life. On success *out is owned by the caller (release with
 * runtime__close). Returns 0, MSGFLO_EINVAL (also: an --ide or
 * allow_origins entry that is not an origin, logged), MSGFLO_ESYS (cannot listen; the
 * reason is logged), MSGFLO_ENOMEM. */
int runtime__new(uv_loop_t *loop, const struct runtime_options *opts, struct runtime **out);

/* The bound port. */
int runtime__port(const struct runtime *rt);

/* "ws://HOST:PORT" and the Flowhub URL; owned by rt. */
const char *runtime__address(const struct runtime *rt);
const char *runtime__flowhub_url(const struct runtime *rt);
/* The live view: http://HOST:PORT/#secret=SECRET (front_page__live_url). */
const char *runtime__live_url(const struct runtime *rt);

/* The protocol handler, to add commands (borrowed; owned by rt). */
struct protocol *runtime__protocol(struct runtime *rt);

/* GET /metrics answers the process's metrics (CPU, memory, file
 * descriptors), the WebSocket clients, then what fn appends (the system's:
 * live__metrics) in the Prometheus text format. With a secret, only to a
 * request with "Authorization: Bearer SECRET" or "?secret=SECRET" (else
 * 401). fn NULL: none. */
typedef void (*runtime_metrics_fn)(void *ud, struct strbuf *out);
void runtime__set_metrics(struct runtime *rt, runtime_metrics_fn fn, void *ud);

/* Closes every connection and frees rt once libuv has closed its handles,
 * then calls on_closed (optional). NULL is a no-op. */
void runtime__close(struct runtime *rt, void (*on_closed)(void *ud), void *ud);

#endif
