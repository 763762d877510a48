/* Broker sessions for command-line tools; see session.h. */
#include "tools/common/session.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define NS "msgflo:session"

struct session {
    uv_loop_t *loop;
    struct transport *transport;
    struct session_events events;
    void *ud;
    uv_timer_t deadline;
    uv_signal_t sigint, sigterm;
    int open_handles;
    bool finished;
    bool ever_connected;
    int status;
    char error[720];
    char redacted[256];
};

static void on_connected(void *ud)
{
    struct session *s = ud;
    s->ever_connected = true;
    uv_timer_stop(&s->deadline);
    if (s->events.connected)
        s->events.connected(s, s->ud);
}

/* Losses are retried by the transport until the deadline; a refused login or
 * an unknown host name would be refused again: end now, with the reason. */
static void on_disconnected(void *ud, int err)
{
    struct session *s = ud;
    if (s->finished)
        return;
    if (!transport_is_permanent(err)) {
        if (s->events.lost)
            s->events.lost(s, err, s->ud);
        return;
    }
    const char *why = s->transport ? transport_last_error(s->transport) : "";
    if (!why[0])
        why = msgflo_strerror(err);
    if (err == MSGFLO_EREFUSED)
        snprintf(s->error, sizeof s->error, "the broker at %s refused the login: %s", s->redacted,
                 why);
    else
        snprintf(s->error, sizeof s->error, "cannot reach the broker at %s: %s", s->redacted, why);
    if (s->events.stopping)
        s->events.stopping(s, 1, s->ud);
    session__finish(s, 1);
}

static void on_message(void *ud, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len)
{
    struct session *s = ud;
    if (s->events.message && !s->finished)
        s->events.message(s, queue, d, data, len, s->ud);
}

static void handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    s->open_handles--;
}

static void on_transport_closed(void *ud)
{
    struct session *s = ud;
    s->transport = NULL;
}

void session__finish(struct session *s, int status)
{
    if (s->finished)
        return;
    s->finished = true;
    s->status = status;
    log__flush_repeats(); /* before the tool's own last line */
    uv_timer_stop(&s->deadline);
    uv_close((uv_handle_t *)&s->deadline, handle_closed);
    uv_close((uv_handle_t *)&s->sigint, handle_closed);
    uv_close((uv_handle_t *)&s->sigterm, handle_closed);
    if (s->transport)
        transport_close(s->transport);
}

static void on_deadline(uv_timer_t *t)
{
    struct session *s = t->data;
    const char *why = s->transport ? transport_last_error(s->transport) : "";
    snprintf(s->error, sizeof s->error, "could not reach the broker at %s%s%s", s->redacted,
             why[0] ? ": " : "", why);
    if (s->events.stopping)
        s->events.stopping(s, 1, s->ud);
    session__finish(s, 1);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct session *s = h->data;
    snprintf(s->error, sizeof s->error, "interrupted by signal %d", signum);
    if (s->events.stopping)
        s->events.stopping(s, 128 + signum, s->ud);
    session__finish(s, 128 + signum);
}

/* kept: client id `name` itself and the URL's clean flag left false (the
 * broker keeps the session); else "<name>-<random>" and a clean session. */
static int create(uv_loop_t *loop, const char *url, const char *name, bool kept, int prefetch,
                  const struct session_events *events, void *ud, struct session **out, char *errbuf,
                  size_t errlen)
{
    *out = NULL;
    msgflo_url *u = NULL;
    char reason[200];
    int rc = msgflo_url_parse(url, &u, reason, sizeof reason);
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        msgflo_url_free(u);
        return MSGFLO_ENOMEM;
    }
    if (msgflo_url_redact(url, s->redacted, sizeof s->redacted) != 0)
        snprintf(s->redacted, sizeof s->redacted, "(URL too long)");
    if (rc) {
        snprintf(errbuf, errlen, "broker URL %s: %s", s->redacted, reason);
        free(s);
        return rc;
    }
    if (prefetch > 0)
        u->prefetch = prefetch;
    u->clean = !kept; /* a one-off connection leaves no session behind */
    if (kept)
        u->qos = 1; /* what waits in a kept session: QoS 1 messages on QoS 1 subscriptions */
    signal(SIGPIPE, SIG_IGN); /* broker sockets: EPIPE, not death (tools only) */
    s->loop = loop;
    s->events = *events;
    s->ud = ud;
    uuid_t uu;
    char text[37], cid[128];
    uuid_generate_random(uu);
    uuid_unparse_lower(uu, text);
    if (kept)
        snprintf(cid, sizeof cid, "%s", name);
    else
        snprintf(cid, sizeof cid, "%s-%.8s", name, text);
    static const struct transport_events tev = {
        .connected = on_connected,
        .disconnected = on_disconnected,
        .message = on_message,
        .closed = on_transport_closed,
    };
    rc = transport_new(&s->transport, loop, u, cid, &tev, s);
    if (rc) {
        snprintf(errbuf, errlen, "cannot set up a connection to %s: %s", s->redacted,
                 msgflo_strerror(rc));
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->deadline);
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->deadline.data = s->sigint.data = s->sigterm.data = s;
    s->open_handles = 3;
    *out = s;
    return 0;
}

int session__new(uv_loop_t *loop, const char *url, const char *prefix, int prefetch,
                 const struct session_events *events, void *ud, struct session **out, char *errbuf,
                 size_t errlen)
{
    return create(loop, url, prefix, false, prefetch, events, ud, out, errbuf, errlen);
}

int session__new_kept(uv_loop_t *loop, const char *url, const char *client_id,
                      const struct session_events *events, void *ud, struct session **out,
                      char *errbuf, size_t errlen)
{
    return create(loop, url, client_id, true, 0, events, ud, out, errbuf, errlen);
}

int session__start(struct session *s, uint64_t deadline_ms)
{
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    if (deadline_ms > 0)
        uv_timer_start(&s->deadline, on_deadline, deadline_ms, 0);
    LOG_DEBUG(NS, "connecting to %s", s->redacted);
    return transport_connect(s->transport);
}

struct transport *session__transport(struct session *s)
{
    return s->transport;
}

int session__status(const struct session *s)
{
    return s->status;
}

const char *session__error(const struct session *s)
{
    return s->error;
}

void session__free(struct session *s)
{
    if (!s)
        return;
    if (!s->finished)
        session__finish(s, s->status);
    while (s->open_handles > 0 || s->transport)
        uv_run(s->loop, UV_RUN_ONCE);
    log__flush_repeats();
    free(s);
}

int session__run(const char *broker_arg, const char *prefix, int prefetch, uint64_t deadline_ms,
                 const struct session_events *events, void *ud, char *errbuf, size_t errlen)
{
    errbuf[0] = '\0';
    const char *url = msgflo_url_resolve(broker_arg);
    if (!url) {
        snprintf(errbuf, errlen, "no broker: use --broker URL or set MSGFLO_BROKER");
        return 2;
    }
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(errbuf, errlen, "cannot create an event loop");
        return 1;
    }
    struct session *s;
    int rc = session__new(&loop, url, prefix, prefetch, events, ud, &s, errbuf, errlen);
    if (rc) {
        uv_loop_close(&loop);
        return 2;
    }
    session__start(s, deadline_ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    int status = session__status(s);
    snprintf(errbuf, errlen, "%s", session__error(s));
    session__free(s);
    uv_loop_close(&loop);
    return status;
}
