/* Wiring: WebSocket text frames -> protocol handler -> WebSocket sends. */
#include "runtime/runtime.h"

#include "core/log.h"
#include "msgflo/errors.h"
#include "runtime/front_page.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"
#include "runtime/web_assets.h"
#include "runtime/origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:runtime"

struct runtime {
    struct http_server *server;
    struct protocol *protocol;
    char address[300];
    char *url;
    char *live_url;
    char *secret; /* NULL: none; guards /metrics too */
    runtime_metrics_fn metrics;
    void *metrics_ud;
    size_t metrics_len; /* of the last /metrics answer: the next one's buffer is made that big */
    void (*on_closed)(void *ud);
    void *closed_ud;
};

static void on_emit(struct protocol *p, void *client, const char *text, size_t len, void *ud)
{
    (void)p;
    struct runtime *rt = ud;
    int r = client ? http_server__send(client, text, len)
                   : http_server__broadcast(rt->server, text, len);
    if (r != 0 && r != MSGFLO_ESTATE)
        LOG_WARNING(NS, "could not send to a client: %s", msgflo_strerror(r));
}

static void on_text(struct http_server *s, struct ws_conn *c, const char *data, size_t len,
                    void *ud)
{
    (void)s;
    struct runtime *rt = ud;
    int r = protocol__handle(rt->protocol, c, data, len);
    if (r != 0)
        LOG_WARNING(NS, "message not handled: %s", msgflo_strerror(r));
}

/* A client whose command was permitted is kept (never evicted for a
 * newcomer, no auth deadline) while it answers pings. */
static void on_permitted(void *client, void *ud)
{
    (void)ud;
    if (client)
        http_server__trust(client);
}

/* GET /metrics: the process's and the system's metrics; with a secret only
 * for requests that carry it (it shows the topology). */
static void serve_metrics(struct runtime *rt, const struct http_request *req,
                          struct http_response *resp)
{
    if (!metrics__authorized(rt->secret, req->authorization, req->query)) {
        resp->status = 401;
        resp->extra_headers = "WWW-Authenticate: Bearer realm=\"msgflo\"\r\n";
        resp->body = strdup("/metrics needs the runtime's secret: Authorization: Bearer SECRET "
                            "or ?secret=SECRET\n");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        return;
    }
    struct strbuf sb;
    strbuf__init(&sb);
    strbuf__reserve(&sb, rt->metrics_len + rt->metrics_len / 8 + 4096);
    metrics__process(&sb);
    metrics__family(&sb, "msgflo_websocket_clients", "gauge",
                    "WebSocket clients connected to the runtime.");
    metrics__sample(&sb, "msgflo_websocket_clients", NULL,
                    rt->server ? (double)http_server__clients(rt->server) : 0);
    if (rt->metrics)
        rt->metrics(rt->metrics_ud, &sb);
    rt->metrics_len = sb.len;
    metrics__respond(resp, &sb);
}

static void on_request(struct http_server *s, const struct http_request *req,
                       struct http_response *resp, void *ud)
{
    (void)s;
    struct runtime *rt = ud;
    if (strcmp(req->path, "/metrics") == 0) {
        serve_metrics(rt, req, resp);
        return;
    }
    /* The live view's other files (index.html is the front page, with its link). */
    const struct web_asset *a =
        strcmp(req->path, "/index.html") != 0 ? front_page__asset(req->path) : NULL;
    if (!a || !(resp->body = malloc(a->len ? a->len : 1)))
        return;
    memcpy(resp->body, a->data, a->len);
    resp->body_len = a->len;
    resp->status = 200;
    resp->content_type = front_page__content_type(req->path);
}

/* The protocol forgets the client (and the live layer what it selected). */
static void on_close(struct http_server *s, struct ws_conn *c, void *ud)
{
    (void)s;
    struct runtime *rt = ud;
    protocol__closed(rt->protocol, c);
}

static const struct http_server_events server_events = {
    .text = on_text, .close = on_close, .request = on_request};

static size_t listeners(void *ud)
{
    struct runtime *rt = ud;
    return rt->server ? http_server__trusted_clients(rt->server) : 0;
}

/* The IDE's origin (and https:// of an http:// IDE on the default port:
 * app.flowhub.io is served over https too), then `extra`; a NULL-terminated
 * list in *out (strings and list freed by the caller). */
static int allowed_origins(const char *ide, const char *const *extra, char ***out)
{
    size_t n_extra = 0;
    while (extra && extra[n_extra])
        n_extra++;
    char **list = calloc(n_extra + 3, sizeof *list);
    *out = list;
    if (!list)
        return MSGFLO_ENOMEM;
    char o[ORIGIN_MAX + 1];
    if (origin__normalize(ide, true, o, sizeof o) != 0) {
        LOG_ERROR(NS, "--ide '%s' is not a URL (scheme://host[:port]/...)", ide);
        return MSGFLO_EINVAL;
    }
    size_t n = 0;
    if (!(list[n++] = strdup(o)))
        return MSGFLO_ENOMEM;
    if (strncmp(o, "http://", 7) == 0 && !strchr(o + 7, ':')) {
        char https[ORIGIN_MAX + 2];
        snprintf(https, sizeof https, "https://%s", o + 7);
        if (!(list[n++] = strdup(https)))
            return MSGFLO_ENOMEM;
    }
    for (size_t i = 0; i < n_extra; i++) {
        if (!(list[n++] = strdup(extra[i])))
            return MSGFLO_ENOMEM;
    }
    return 0;
}

static void runtime_free(struct runtime *rt)
{
    protocol__free(rt->protocol);
    free(rt->url);
    free(rt->live_url);
    free(rt->secret);
    free(rt);
}

int runtime__new(uv_loop_t *loop, const struct runtime_options *opts, struct runtime **out)
{
    *out = NULL;
    if (!loop || !opts || !opts->id || !*opts->id)
        return MSGFLO_EINVAL;
    int rc = MSGFLO_ENOMEM;
    char *page = NULL;
    char **origins = NULL;
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        goto out;
    const struct protocol_options popts = {.id = opts->id,
                                           .label = opts->label,
                                           .secret = opts->secret,
                                           .namespace_ = opts->namespace_,
                                           .repository = opts->repository,
                                           .no_setsource = opts->no_setsource,
                                           .listeners = listeners,
                                           .permitted = on_permitted};
    rc = protocol__new(&popts, on_emit, rt, &rt->protocol);
    if (rc != 0)
        goto out;
    if (opts->secret && *opts->secret && !(rt->secret = strdup(opts->secret))) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    const char *host = opts->host && *opts->host ? opts->host : "localhost";
    const char *ide = opts->ide ? opts->ide : "http://app.flowhub.io";
    rc = allowed_origins(ide, opts->allow_origins, &origins);
    if (rc != 0)
        goto out;
    const char *self_hosts[] = {
        host, "localhost", "127.0.0.1", "::1", opts->listen ? opts->listen : "127.0.0.1", NULL};
    /* The page links to the bound port: listen first, then set it. */
    const struct http_server_options sopts = {.listen = opts->listen,
                                              .port = opts->port,
                                              .origins = (const char *const *)origins,
                                              .self_hosts = self_hosts};
    rc = http_server__new(loop, &sopts, &server_events, rt, &rt->server);
    if (rc != 0)
        goto out;
    int port = http_server__port(rt->server);
    snprintf(rt->address, sizeof rt->address, "ws://%.200s:%d", host, port);
    rc = front_page__flowhub_url(ide, host, port, opts->id, opts->secret, &rt->url);
    if (rc == 0)
        rc = front_page__live_url(host, port, opts->secret, &rt->live_url);
    /* The page's link leaves the secret out: anyone who reaches the port can
     * read the page; the page adds it once the user gave it (live.js). */
    char *page_url = NULL;
    if (rc == 0)
        rc = front_page__flowhub_url(ide, host, port, opts->id, NULL, &page_url);
    if (rc == 0)
        rc = front_page__html(page_url, &page);
    free(page_url);
    if (rc != 0)
        goto out;
    rc = http_server__set_page(rt->server, page);
    if (rc != 0)
        goto out;
    *out = rt;
    rt = NULL;
out:
    free(page);
    for (size_t i = 0; origins && origins[i]; i++)
        free(origins[i]);
    free(origins);
    if (rt) {
        http_server__close(rt->server, NULL, NULL);
        runtime_free(rt);
    }
    return rc;
}

int runtime__port(const struct runtime *rt)
{
    return http_server__port(rt->server);
}

const char *runtime__address(const struct runtime *rt)
{
    return rt->address;
}

const char *runtime__flowhub_url(const struct runtime *rt)
{
    return rt->url;
}

const char *runtime__live_url(const struct runtime *rt)
{
    return rt->live_url;
}

struct protocol *runtime__protocol(struct runtime *rt)
{
    return rt->protocol;
}

void runtime__set_metrics(struct runtime *rt, runtime_metrics_fn fn, void *ud)
{
    rt->metrics = fn;
    rt->metrics_ud = ud;
}

static void on_server_closed(void *ud)
{
    struct runtime *rt = ud;
    void (*cb)(void *) = rt->on_closed;
    void *cb_ud = rt->closed_ud;
    runtime_free(rt);
    if (cb)
        cb(cb_ud);
}

void runtime__close(struct runtime *rt, void (*on_closed)(void *ud), void *ud)
{
    if (!rt)
        return;
    rt->on_closed = on_closed;
    rt->closed_ud = ud;
    struct http_server *s = rt->server;
    rt->server = NULL;
    /* The protocol stays alive until the server's last close callback, as
     * clients may still be handled while closing. */
    http_server__close(s, on_server_closed, rt);
}
