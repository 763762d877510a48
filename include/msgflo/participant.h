/* msgflo-c: participants.
 *
 * A participant is a black box with named in- and outports, each mapped to a
 * queue (AMQP) or topic (MQTT). It announces itself on the discovery channel
 * (`fbp`) and processes every message that arrives on its inports:
 *
 *     static void process(msgflo_participant *p, const char *inport,
 *                         msgflo_message *msg, void *userdata)
 *     {
 *         size_t len;
 *         const void *data = msgflo_message_data(msg, &len);
 *         if (msgflo_participant_send(p, "out", data, len) == 0)
 *             msgflo_message_ack(msg);
 *         else
 *             msgflo_message_nack(msg);
 *     }
 *
 * Every received message must be acked or nacked exactly once, in the
 * callback or later. On AMQP an ack is sent to the broker only after every
 * message sent before it has been confirmed by the broker (publisher
 * confirms), so a crash never loses data; a nack dead-letters the message to
 * the exchange `dead-<queue>`. On MQTT ack and nack are accepted and do
 * nothing.
 *
 * Threading: a participant lives on one libuv loop and is not thread-safe.
 */
#ifndef MSGFLO_PARTICIPANT_H
#define MSGFLO_PARTICIPANT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uv_loop_s uv_loop_t;
typedef struct json_t json_t;

/* A port. Arrays of ports end with an entry whose id is NULL. */
typedef struct msgflo_port_def {
    const char *id;          /* required, unique among the ports of one direction */
    const char *type;        /* NULL means "any" */
    const char *description; /* optional */
    const char *queue;       /* optional explicit queue/topic; default <role>.<ID uppercased> */
    bool hidden;             /* hidden ports get no default queue and are not announced */
} msgflo_port_def;

/* What a participant is. All strings are borrowed: msgflo_participant_new
 * copies what it needs. */
typedef struct msgflo_definition {
    const char *component;           /* required, e.g. "c/Repeat" */
    const char *label;               /* optional human description; default "" */
    const char *icon;                /* optional Font Awesome name; default "file-word-o" */
    const char *role;                /* required unless given to msgflo_participant_new */
    const char *id;                  /* optional; default <role>-<random> */
    const msgflo_port_def *inports;  /* may be NULL: no inports */
    const msgflo_port_def *outports; /* may be NULL: no outports */
} msgflo_definition;

typedef struct msgflo_participant msgflo_participant;
typedef struct msgflo_message msgflo_message;

/* Called for each message that arrives on an inport. `inport` and `msg` stay
 * valid until the message is acked or nacked. */
typedef void (*msgflo_process_fn)(msgflo_participant *p, const char *inport, msgflo_message *msg,
                                  void *userdata);

/* Called once each time the participant is connected, has declared its
 * queues, subscribed and announced itself (again after each reconnect). */
typedef void (*msgflo_ready_fn)(msgflo_participant *p, void *userdata);

/* Called when the connection to the broker is lost; the participant
 * reconnects by itself with backoff. `err` is a MSGFLO_E* code. Except for
 * MSGFLO_EREFUSED (the broker refused the login: 403/530 on AMQP, CONNACK
 * "bad user name or password" or "not authorised" on MQTT) and
 * MSGFLO_ENOHOST (the broker's host name does not exist): those are not
 * retried, msgflo_participant_last_error says why, and the caller should
 * stop the participant. */
typedef void (*msgflo_disconnect_fn)(msgflo_participant *p, int err, void *userdata);

/* Creates a participant. `role`, when not NULL, overrides def->role.
 * `broker_url` may be NULL: then $MSGFLO_BROKER, else $CLOUDAMQP_URL.
 * Returns 0, MSGFLO_EINVAL for a bad definition (duplicate port ids, missing
 * component or role, over the discovery protocol's limits: 1024 bytes for
 * component, id, port ids and types, 4096 for label, icon and descriptions,
 * 256 ports per direction), MSGFLO_ENOBROKER, MSGFLO_EURL, MSGFLO_ENOMEM.
 * `errbuf` (may be NULL) receives a one-line reason on failure.
 * The result is owned by the caller: free with msgflo_participant_free. */
int msgflo_participant_new(msgflo_participant **out, const msgflo_definition *def, const char *role,
                           const char *broker_url, msgflo_process_fn process, void *userdata,
                           char *errbuf, size_t errlen);

/* Frees a participant, stopping it first if needed. NULL is a no-op. When
 * started on a caller's loop, the caller must run that loop until
 * msgflo_participant_stop's callback has fired before freeing. */
void msgflo_participant_free(msgflo_participant *p);

/* Sets callbacks for readiness and connection loss (either may be NULL). */
void msgflo_participant_set_callbacks(msgflo_participant *p, msgflo_ready_fn on_ready,
                                      msgflo_disconnect_fn on_disconnect);

/* Sets the discovery period in seconds (the participant re-announces every
 * period/2.2 s). Default: $MSGFLO_DISCOVERY_PERIOD or 60. */
void msgflo_participant_set_discovery_period(msgflo_participant *p, double seconds);

/* --- running ----------------------------------------------------------- */

/* Way 1, blocking: connects and runs until msgflo_participant_stop() is
 * called (from a callback) or the broker URL is unusable. Returns 0 after a
 * stop, or a MSGFLO_E* code. */
int msgflo_participant_run(msgflo_participant *p);

/* Way 2a, the caller's libuv loop: connects and registers the participant's
 * handles on `loop` (borrowed; must outlive the participant). Returns at once. */
int msgflo_participant_start(msgflo_participant *p, uv_loop_t *loop);

/* Way 2b, any other loop: the participant runs on a private loop whose
 * readiness is signalled on one file descriptor. Poll msgflo_participant_fd()
 * for reading, and call msgflo_participant_step() when it is readable or when
 * msgflo_participant_timeout() milliseconds have passed (-1: no deadline).
 * msgflo_participant_connect() starts this mode. */
int msgflo_participant_connect(msgflo_participant *p);
int msgflo_participant_fd(const msgflo_participant *p);
int msgflo_participant_timeout(const msgflo_participant *p);
/* Runs ready events without blocking. Returns 0, or MSGFLO_ESTATE when the
 * participant has stopped. */
int msgflo_participant_step(msgflo_participant *p);

/* Disconnects (unacked AMQP messages return to their queue) and stops
 * re-announcing; `done` (may be NULL) is called when everything is closed.
 * Safe to call from any callback. */
void msgflo_participant_stop(msgflo_participant *p,
                             void (*done)(msgflo_participant *p, void *userdata));

/* --- sending and acknowledging -------------------------------------------- */

/* Sends `len` bytes (copied) on an outport. Returns 0, MSGFLO_ENOPORT,
 * MSGFLO_ENOTCONN (not connected: nothing was sent), MSGFLO_EPROTO.
 * A port without a queue (hidden) accepts and drops the data, as the original. */
int msgflo_participant_send(msgflo_participant *p, const char *outport, const void *data,
                            size_t len);

/* Serializes `value` (borrowed) as compact JSON and sends it. */
int msgflo_participant_send_json(msgflo_participant *p, const char *outport, const json_t *value);

/* Acknowledges a message: processing is done, the broker may forget it.
 * Frees `msg`. Returns MSGFLO_ESTATE if it was already acked or nacked in
 * the running callback. Acking after the connection was lost is harmless:
 * the broker has already returned the message to its queue. */
int msgflo_message_ack(msgflo_message *msg);

/* Rejects a message without requeue: on AMQP it goes to `dead-<queue>`.
 * Frees `msg`. */
int msgflo_message_nack(msgflo_message *msg);

/* The payload, valid until ack or nack. */
const void *msgflo_message_data(const msgflo_message *msg, size_t *len);

/* The payload parsed as JSON (any JSON value, not only objects), parsed at
 * the first call. Returns a borrowed reference valid until ack or nack, or
 * NULL when the payload is not JSON. */
json_t *msgflo_message_json(msgflo_message *msg);

/* The inport the message arrived on. */
const char *msgflo_message_port(const msgflo_message *msg);

/* --- introspection ------------------------------------------------------- */

const char *msgflo_participant_id(const msgflo_participant *p);
const char *msgflo_participant_role(const msgflo_participant *p);
const char *msgflo_participant_component(const msgflo_participant *p);
/* The queue of a port, or NULL for an unknown or hidden port. */
const char *msgflo_participant_queue(const msgflo_participant *p, bool inport, const char *port);
/* The discovery message as JSON text (owned: free with free()), or NULL. */
char *msgflo_participant_discovery(const msgflo_participant *p);
/* The broker URL the participant uses (borrowed). */
const char *msgflo_participant_broker(const msgflo_participant *p);
/* Why the last attempt to connect failed, in the broker's words where it gave
 * any (e.g. "403 ACCESS_REFUSED - Login was refused ..."), or "" when
 * connected or not known (borrowed: valid until the loop next runs). */
const char *msgflo_participant_last_error(const msgflo_participant *p);
void *msgflo_participant_userdata(const msgflo_participant *p);

/* --- the whole main() of a participant program -------------------------- */

/* Runs a participant as a program: `argv` is `ROLE [BROKER_URL]` (or -h,
 * --help: the usage, or --version: "PROG (COMPONENT, msgflo-c VERSION)").
 * Logs to stderr, prints one line "<role>(<component>) connected to <url>"
 * on stdout when connected and announced (supervisors wait for it), stops
 * cleanly on SIGINT and SIGTERM. Returns the process exit status. */
int msgflo_main(int argc, char **argv, const msgflo_definition *def, msgflo_process_fn process,
                void *userdata);

#ifdef __cplusplus
}
#endif
#endif
