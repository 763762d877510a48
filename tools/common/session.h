/* A broker session for command-line tools: one transport on a libuv loop,
 * connected with a deadline, stopped on SIGINT/SIGTERM, closed cleanly.
 *
 *     struct session *s;
 *     session__new(loop, url_text, "msgflo-send", &events, ud, &s, err, sizeof err);
 *     session__start(s, 10000);  // deadline for connecting, ms (0: none)
 *     uv_run(loop, UV_RUN_DEFAULT);
 *     int status = session__status(s);
 *     session__free(s);
 *
 * The session closes itself on session__finish(s, status) (from any callback)
 * and when the deadline passes before session__connected; uv_run then returns.
 */
#ifndef MSGFLO_TOOLS_COMMON_SESSION_H
#define MSGFLO_TOOLS_COMMON_SESSION_H

#include "transport/admin.h"

#include <stddef.h>
#include <uv.h>

struct session;

struct session_events {
    /* The transport is connected (again): declare, subscribe, send now. */
    void (*connected)(struct session *s, void *ud);
    /* A message on a subscribed queue; valid during the call. */
    void (*message)(struct session *s, const char *queue, const struct transport_delivery *d,
                    const void *data, size_t len, void *ud);
    /* The session is finishing on its own (deadline, SIGINT, SIGTERM) with
     * this status; its error text is set. Optional. */
    void (*stopping)(struct session *s, int status, void *ud);
    /* The connection was lost and is being made again (`err` as
     * transport_events.disconnected says, e.g. MSGFLO_EPROTO: AMQP, the broker
     * refused a declaration, transport_last_error says which and why). Not
     * called for what ends the session (a refused login). Optional. */
    void (*lost)(struct session *s, int err, void *ud);
};

/* Parses `url` (reason in errbuf on failure) and prepares a transport with
 * client id "<prefix>-<random>" (the URL's clientId wins) and, on MQTT, a
 * clean session whatever the URL says: a one-off connection leaves no
 * session behind. `prefetch` > 0 overrides the URL's.
 * Nothing happens on the network before session__start. */
int session__new(uv_loop_t *loop, const char *url, const char *prefix, int prefetch,
                 const struct session_events *events, void *ud, struct session **out, char *errbuf,
                 size_t errlen);

/* As session__new, for a long-lived tool whose MQTT session the broker
 * should keep across its restarts and connection losses: client id
 * `client_id` (the URL's clientId wins), clean=false and its subscriptions
 * at QoS 1 (also over ?qos=0), so QoS 1 messages on them wait for it while
 * it is away. A second process with
 * the same client id takes the session over. */
int session__new_kept(uv_loop_t *loop, const char *url, const char *client_id,
                      const struct session_events *events, void *ud, struct session **out,
                      char *errbuf, size_t errlen);

/* Connects; if not connected within deadline_ms (0: wait forever), finishes
 * with status 1 and the message "could not reach the broker ...". */
int session__start(struct session *s, uint64_t deadline_ms);

/* Marks the work as done: `status` becomes the exit status; closes the
 * transport and the session's handles. */
void session__finish(struct session *s, int status);

struct transport *session__transport(struct session *s);
int session__status(const struct session *s);
/* The error text set by the session itself (deadline, signal), or "". */
const char *session__error(const struct session *s);

/* Frees a finished session (after uv_run returned). NULL is a no-op. */
void session__free(struct session *s);

/* The whole life of a one-shot tool's session on a private loop: the broker
 * is `broker_arg`, else $MSGFLO_BROKER, else $CLOUDAMQP_URL; connects within
 * deadline_ms, runs until session__finish. Returns the exit status: the
 * finish status, 1 when the session failed (deadline), 2 when there is no
 * usable broker URL. `errbuf` gets the reason of a failure, else "". */
int session__run(const char *broker_arg, const char *prefix, int prefetch, uint64_t deadline_ms,
                 const struct session_events *events, void *ud, char *errbuf, size_t errlen);

#endif
