/* The announcer of msgflo-register: sends the discovery messages of foreign
 * participants over one transport, once or forever.
 *
 * Forever: on every (re)connect, then every interval/2.2 s (two messages
 * before a coordinator's deadline, as msgflo-nodejs participants do). Once:
 * on the first connect, then the announcer waits until the transport says
 * everything published has reached the broker (AMQP: confirmed; MQTT:
 * written) and closes. A one-shot run that loses the broker before that
 * fails instead of waiting for a reconnect. Closing is always deferred to a
 * loop turn of its own, never done inside a transport callback. */
#include "foreign/foreign.h"

#include "core/log.h"
#include "msgflo/errors.h"
#include "transport/transport.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS "msgflo:register"

struct foreign_announcer {
    struct transport *transport;
    char **messages; /* discovery message texts */
    char **ids;
    bool *sent; /* the first send of each was reported */
    size_t n;
    uint64_t period_ms;
    bool forever;
    bool finishing;
    int status;
    char why[256]; /* the transport's reason for a failed status */
    uv_timer_t *repeat;
    uv_timer_t *finish;
    uv_signal_t *signals[2]; /* SIGINT, SIGTERM when asked for */
    int open;                /* handles (and the transport) still to close */
    struct foreign_announcer_events events;
    void *ud;
};

static void free_announcer(struct foreign_announcer *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->messages)
            free(a->messages[i]);
        if (a->ids)
            free(a->ids[i]);
    }
    free(a->messages);
    free(a->ids);
    free(a->sent);
    free(a->repeat);
    free(a->finish);
    free(a->signals[0]);
    free(a->signals[1]);
    free(a);
}

static void closed_one(struct foreign_announcer *a)
{
    if (--a->open > 0)
        return;
    struct foreign_announcer_events ev = a->events;
    void *ud = a->ud;
    int status = a->status;
    char why[sizeof a->why];
    memcpy(why, a->why, sizeof why);
    free_announcer(a);
    if (ev.done)
        ev.done(ud, status, why);
}

static void on_handle_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

static void on_transport_closed(void *ud)
{
    struct foreign_announcer *a = ud;
    a->transport = NULL;
    closed_one(a);
}

static void on_finish_timer(uv_timer_t *timer)
{
    struct foreign_announcer *a = timer->data;
    a->open = 3;
    uv_timer_stop(a->repeat);
    uv_close((uv_handle_t *)a->repeat, on_handle_closed);
    uv_close((uv_handle_t *)a->finish, on_handle_closed);
    for (int i = 0; i < 2; i++) {
        if (a->signals[i]) {
            a->open++;
            uv_close((uv_handle_t *)a->signals[i], on_handle_closed);
        }
    }
    transport_close(a->transport);
}

/* Ends the run with `status`, in a loop turn of its own. */
static void finish(struct foreign_announcer *a, int status)
{
    if (a->finishing)
        return;
    a->finishing = true;
    a->status = status;
    if (status && a->transport)
        snprintf(a->why, sizeof a->why, "%s", transport_last_error(a->transport));
    uv_timer_stop(a->repeat);
    uv_timer_start(a->finish, on_finish_timer, 0, 0);
}

static int send_all(struct foreign_announcer *a)
{
    for (size_t i = 0; i < a->n; i++) {
        int rc = transport_announce(a->transport, a->messages[i], strlen(a->messages[i]));
        if (rc) {
            LOG_WARNING(NS, "could not send the discovery message of %s: %s", a->ids[i],
                        msgflo_strerror(rc));
            return rc;
        }
        if (!a->sent[i]) {
            a->sent[i] = true;
            if (a->events.sent)
                a->events.sent(a->ud, a->ids[i]);
        } else {
            LOG_DEBUG(NS, "sent the discovery message of %s again", a->ids[i]);
        }
    }
    return 0;
}

static void on_repeat(uv_timer_t *timer)
{
    struct foreign_announcer *a = timer->data;
    if (a->transport->connected)
        send_all(a);
}

static void on_flushed(void *ud)
{
    struct foreign_announcer *a = ud;
    LOG_DEBUG(NS, "every discovery message reached the broker");
    finish(a, 0);
}

static void on_connected(void *ud)
{
    struct foreign_announcer *a = ud;
    if (a->finishing)
        return;
    int rc = send_all(a);
    if (a->forever) {
        uv_timer_start(a->repeat, on_repeat, a->period_ms, a->period_ms);
        return;
    }
    if (rc == 0)
        rc = transport_when_flushed(a->transport, on_flushed, a);
    if (rc)
        finish(a, rc);
}

static void on_disconnected(void *ud, int err)
{
    struct foreign_announcer *a = ud;
    uv_timer_stop(a->repeat);
    if (a->finishing)
        return;
    if (a->events.disconnected)
        a->events.disconnected(a->ud, err);
    /* A refused login or an unknown host is not retried: end also --forever. */
    if (!a->forever || transport_is_permanent(err))
        finish(a, err ? err : MSGFLO_ENOTCONN);
}

static void on_message(void *ud, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len)
{
    (void)ud;
    (void)d;
    (void)data;
    LOG_DEBUG(NS, "ignoring %zu bytes on %s", len, queue);
}

int foreign__announcer_new(struct foreign_announcer **out, uv_loop_t *loop, msgflo_url *url,
                           json_t *const *payloads, size_t n, double interval, bool forever,
                           const struct foreign_announcer_events *events, void *ud)
{
    int rc = MSGFLO_ENOMEM;
    *out = NULL;
    struct foreign_announcer *a = calloc(1, sizeof *a);
    if (!a)
        goto out;
    a->n = n;
    a->messages = calloc(n ? n : 1, sizeof *a->messages);
    a->ids = calloc(n ? n : 1, sizeof *a->ids);
    a->sent = calloc(n ? n : 1, sizeof *a->sent);
    a->repeat = malloc(sizeof *a->repeat);
    a->finish = malloc(sizeof *a->finish);
    if (!a->messages || !a->ids || !a->sent || !a->repeat || !a->finish)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(payloads[i], "id"));
        a->messages[i] = foreign__message(payloads[i]);
        a->ids[i] = strdup(id ? id : "");
        if (!a->messages[i] || !a->ids[i])
            goto out;
    }
    double ms = interval * 1000.0 / 2.2;
    a->period_ms = ms < 1 ? 1 : ms > 1e12 ? (uint64_t)1e12 : (uint64_t)ms;
    a->forever = forever;
    a->events = *events;
    a->ud = ud;

    static const struct transport_events tev = {
        .connected = on_connected,
        .disconnected = on_disconnected,
        .message = on_message,
        .closed = on_transport_closed,
    };
    char client_id[64];
    snprintf(client_id, sizeof client_id, "msgflo-register-%ld-%x", (long)getpid(),
             (unsigned)rand());
    url->clean = true; /* a new id per run: a kept session could never be found again */
    rc = transport_new(&a->transport, loop, url, client_id, &tev, a);
    url = NULL; /* taken over, also on failure */
    if (rc)
        goto out;
    uv_timer_init(loop, a->repeat);
    uv_timer_init(loop, a->finish);
    a->repeat->data = a->finish->data = a;
    *out = a;
    a = NULL;
out:
    msgflo_url_free(url);
    if (a)
        free_announcer(a);
    return rc;
}

int foreign__announcer_start(struct foreign_announcer *a)
{
    return transport_connect(a->transport);
}

void foreign__announcer_stop(struct foreign_announcer *a)
{
    finish(a, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct foreign_announcer *a = h->data;
    LOG_DEBUG(NS, "signal %d: stopping", signum);
    finish(a, 0);
}

int foreign__announcer_stop_on_signals(struct foreign_announcer *a)
{
    static const int signums[2] = {SIGINT, SIGTERM};
    uv_loop_t *loop = a->repeat->loop;
    for (int i = 0; i < 2; i++) {
        if (a->signals[i])
            continue;
        a->signals[i] = malloc(sizeof *a->signals[i]);
        if (!a->signals[i])
            return MSGFLO_ENOMEM;
        uv_signal_init(loop, a->signals[i]);
        a->signals[i]->data = a;
        if (uv_signal_start(a->signals[i], on_signal, signums[i]) != 0)
            return MSGFLO_ESYS;
    }
    return 0;
}
