/* The transport interface: the only code that touches brokers.
 *
 * One vtable, two implementations (mqtt.c on libmosquitto, amqp.c on
 * rabbitmq-c), both driven by the caller's libuv loop in its thread. A
 * transport connects, reconnects by itself with backoff after loss, and
 * reports through `struct transport_events`. Queue semantics follow
 * msgflo-nodejs: an "inqueue" is where a participant consumes, an "outqueue"
 * is where it publishes (AMQP: a fanout exchange of that name).
 *
 * This is what participants need, and all that libmsgflo holds. Topology
 * batches and queue statistics (AMQP only) are administration: admin.h, in
 * the static library msgflo_transport_admin that the tools, the binder, the
 * coordinator and guv link.
 */
#ifndef MSGFLO_TRANSPORT_H
#define MSGFLO_TRANSPORT_H

#include "core/url_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct transport;

/* Identifies a received message for ack/nack. `generation` tells which
 * connection it came on: acks of an earlier connection are dropped (the
 * broker has requeued those messages already). */
struct transport_delivery {
    uint64_t tag;
    uint32_t generation;
    /* MQTT: the QoS the message arrived at, and whether it is a retained
     * one delivered because of a new subscription (MQTT 3.1.1 clears the
     * flag on live messages). AMQP: 0, false. */
    uint8_t qos;
    bool retained;
    /* Came on a forwarding connection that speaks MQTT 5
     * (transport_set_forwarding): `retained` is the flag the message was
     * published with (retained messages are not handed out on subscribing),
     * the connection's own publications never come back, and `props` holds
     * the message's MQTT 5 properties (opaque, valid during the call, for
     * transport_forward). False and NULL otherwise. */
    bool forwarding;
    const void *props;
};

struct transport_events {
    /* Connected (again): declare, subscribe and announce now. */
    void (*connected)(void *ud);
    /* Connection lost or connecting failed; a reconnect is scheduled, except
     * when transport_is_permanent(err) (MSGFLO_EREFUSED: the broker refused
     * the login; MSGFLO_ENOHOST: its host name does not exist): then the
     * transport gives up, transport_last_error holds the broker's reason, and
     * the only thing left to do is transport_close. Called once for those. */
    void (*disconnected)(void *ud, int err);
    /* A message on a subscribed queue. `queue`, `data` are valid during the call. */
    void (*message)(void *ud, const char *queue, const struct transport_delivery *d,
                    const void *data, size_t len);
    /* transport_close finished: every handle is closed, the transport freed. */
    void (*closed)(void *ud);
};

struct transport_ops {
    int (*connect)(struct transport *t);
    int (*declare_inqueue)(struct transport *t, const char *queue);
    int (*declare_outqueue)(struct transport *t, const char *queue);
    int (*subscribe)(struct transport *t, const char *queue);
    /* Observe / stop observing an outqueue (see transport_watch). */
    int (*watch)(struct transport *t, const char *queue);
    int (*unwatch)(struct transport *t, const char *queue);
    /* Publishes to an outqueue (AMQP: fanout exchange `queue`). */
    int (*publish)(struct transport *t, const char *queue, const void *data, size_t len);
    /* Sends directly to an inqueue (AMQP: default exchange, routing key `queue`). */
    int (*send_to_queue)(struct transport *t, const char *queue, const void *data, size_t len);
    /* Prepares consuming discovery messages: AMQP declares the durable queue
     * `fbp` as msgflo-nodejs does (no arguments); then subscribe to "fbp". */
    int (*declare_discovery)(struct transport *t);
    /* Sends a discovery message on the `fbp` channel. */
    int (*announce)(struct transport *t, const void *data, size_t len);
    /* A waiter was added (transport_when_subscribed, transport_when_replied):
     * calls them (transport__next_waiter) at once when nothing is
     * outstanding (MQTT: every SUBACK in; AMQP: every declaration, binding
     * and consume answered), else when that is so. */
    void (*when_subscribed)(struct transport *t);
    /* Calls done(arg) once everything published so far is safe: AMQP, confirmed
     * by the broker; MQTT, written to the socket (QoS 0) or acknowledged (QoS 1). */
    int (*when_flushed)(struct transport *t, void (*done)(void *arg), void *arg);
    /* MQTT only (NULL elsewhere): transport_publish_as, transport_set_will. */
    int (*publish_as)(struct transport *t, const char *topic, const void *data, size_t len, int qos,
                      bool retain);
    int (*set_will)(struct transport *t, const char *topic, const void *data, size_t len,
                    bool retain);
    /* MQTT only (NULL elsewhere): transport_set_forwarding, transport_forward. */
    int (*set_forwarding)(struct transport *t);
    int (*forward)(struct transport *t, const char *topic, const struct transport_delivery *d,
                   const void *data, size_t len);
    int (*ack)(struct transport *t, const struct transport_delivery *d);
    int (*nack)(struct transport *t, const struct transport_delivery *d);
    void (*close)(struct transport *t);
};

/* One waiter for the broker's replies: `subscribed` (transport_when_subscribed,
 * dropped with the connection) or `replied` (transport_when_replied, told). */
struct transport_waiter {
    void (*subscribed)(void *arg);
    void (*replied)(void *arg, int rc);
    void *arg;
};

/* Waiters at once: a participant, the coordinator, its binder, a tool. */
#define TRANSPORT_MAX_WAITERS 8

/* Fields every implementation starts with. */
struct transport {
    const struct transport_ops *ops;
    uv_loop_t *loop;
    msgflo_url *url; /* owned */
    char *client_id; /* owned */
    struct transport_events events;
    void *ud;
    bool connected;
    bool closing;
    bool given_up;       /* a permanent error: no more attempts (transport_is_permanent) */
    uint32_t generation; /* incremented on every successful connect */
    /* reconnect backoff */
    uv_timer_t *reconnect_timer;
    uint64_t backoff_ms;
    void (*retry_fn)(struct transport *t);
    void (*cleanup_done)(struct transport *t); /* set by transport__cleanup */
    char last_error[400]; /* why the last connection attempt failed; "" once connected */
    size_t at;            /* the URL's host in use (hosts[at]), or tried next */
    /* Administration (transport/admin.h, not in libmsgflo) keeps what it
     * holds for this connection here; the transport calls admin_drop when
     * the connection goes (polite: the broker is still there). */
    void *admin;
    void (*admin_drop)(struct transport *t, bool polite);
    uint64_t refused; /* publishes the broker refused (AMQP confirm nacks) */
    /* waiting for the broker's replies, oldest first (transport__next_waiter) */
    struct transport_waiter waiters[TRANSPORT_MAX_WAITERS];
    size_t n_waiters;
    bool mqtt5; /* the connection speaks MQTT 5 (transport_set_forwarding) */
};

/* Creates the transport for url->scheme (takes ownership of `url`).
 * Nothing happens on the network until transport_connect. */
int transport_new(struct transport **out, uv_loop_t *loop, msgflo_url *url, const char *client_id,
                  const struct transport_events *events, void *ud);

int transport_connect(struct transport *t);
/* Declarations and subscriptions do not wait for the broker on AMQP: 0 once
 * the method is sent; a refusal (logged with the broker's reason) or 10 s
 * without a reply is a lost connection. transport_when_subscribed tells
 * when the broker has them all. */
int transport_declare_inqueue(struct transport *t, const char *queue);
int transport_declare_outqueue(struct transport *t, const char *queue);
int transport_subscribe(struct transport *t, const char *queue);
/* Observes what is published on outqueue `queue` (borrowed) without taking
 * it from anyone: messages arrive through events.message with `queue` = the
 * outqueue's name and must not be acked. MQTT subscribes to the topic; AMQP
 * declares the fanout exchange, binds a private exclusive auto-delete
 * server-named queue to it and consumes it without acks. Watch each outqueue
 * once (callers count); like subscriptions, watches end with the connection:
 * watch again on events.connected. Returns 0, MSGFLO_ENOTCONN, MSGFLO_EPROTO
 * or MSGFLO_ENOMEM. */
int transport_watch(struct transport *t, const char *queue);
/* Stops a watch (MQTT: unsubscribes the topic once no other watch and no
 * plain subscription of this connection reads it, see mqtt_topics.h; AMQP:
 * cancels the consumer, and the private queue goes with it). Unwatching what
 * is not watched is not an error. */
int transport_unwatch(struct transport *t, const char *queue);
int transport_publish(struct transport *t, const char *queue, const void *data, size_t len);
int transport_send_to_queue(struct transport *t, const char *queue, const void *data, size_t len);
/* MQTT only: publishes on `topic` with this QoS (0-2) and retain flag, as a
 * forwarder republishes a message with its own QoS, or a router its
 * retained status. Returns 0, MSGFLO_ENOTCONN, MSGFLO_EINVAL (AMQP, a bad
 * QoS), MSGFLO_EPROTO or MSGFLO_ENOMEM. */
int transport_publish_as(struct transport *t, const char *topic, const void *data, size_t len,
                         int qos, bool retain);
/* MQTT only, before transport_connect: the last will, which the broker
 * publishes (QoS 1) when a connection of this transport ends without a
 * DISCONNECT (a crash, a lost network); `data` may be empty (an empty
 * retained will clears the topic's retained message). Copied. Returns 0,
 * MSGFLO_EINVAL (AMQP, a bad topic) or MSGFLO_ENOMEM. */
int transport_set_will(struct transport *t, const char *topic, const void *data, size_t len,
                       bool retain);
/* MQTT only, before transport_connect: this connection republishes what it
 * receives (msgflo-router). It connects with MQTT 5 (the session kept
 * without expiry when the URL asks for a kept one, as MQTT 3.1.1 keeps it)
 * and subscribes every topic at QoS 2 with no-local (the broker does not
 * send the connection its own publications back), retain-as-published (a
 * live message keeps its retain flag) and without the retained messages a
 * new subscription would get; deliveries say so (transport_delivery's
 * `forwarding`). A broker that refuses MQTT 5 (a CONNACK "unsupported
 * protocol version", or the connection closed before any CONNACK, as
 * RabbitMQ 3.10 does, twice in a row) gets MQTT 3.1.1 from the next attempt on, for the
 * transport's life: plain deliveries then, as every other connection's.
 * transport_is_mqtt5 tells which. Returns 0 or MSGFLO_EINVAL (AMQP). */
int transport_set_forwarding(struct transport *t);
/* Whether the current connection speaks MQTT 5. */
bool transport_is_mqtt5(const struct transport *t);
/* MQTT only: republishes a delivery `d` of this transport on `topic`: its
 * QoS; on a forwarding MQTT 5 connection also its retain flag and the
 * properties that describe the message (payload format, message expiry as
 * left, content type, response topic, correlation data, user properties;
 * not subscription identifiers nor a topic alias); else never retained.
 * Returns as transport_publish_as. */
int transport_forward(struct transport *t, const char *topic, const struct transport_delivery *d,
                      const void *data, size_t len);
int transport_announce(struct transport *t, const void *data, size_t len);
int transport_declare_discovery(struct transport *t);
/* Calls done(arg) once the broker has processed every subscribe sent so far
 * (MQTT: all SUBACKs in; AMQP: every declaration, binding and consume
 * answered), at once when it has. Several waiters, called oldest first; the
 * same done and arg again while it waits is one waiter. A lost connection
 * drops them (ask again on events.connected). Returns 0, MSGFLO_ENOTCONN or
 * MSGFLO_ENOMEM (TRANSPORT_MAX_WAITERS already wait). */
int transport_when_subscribed(struct transport *t, void (*done)(void *arg), void *arg);
/* As transport_when_subscribed, but done is called exactly once: done(arg,
 * 0) once the broker has answered, done(arg, MSGFLO_ENOTCONN) when the
 * connection goes first (lost, or the transport closes). `arg` must stay
 * valid until then. For what must not wait on the loop for the replies
 * (the binder's calls on their thread). Returns 0 (done will be called),
 * MSGFLO_ENOTCONN or MSGFLO_ENOMEM (done will not be called). */
int transport_when_replied(struct transport *t, void (*done)(void *arg, int rc), void *arg);
int transport_when_flushed(struct transport *t, void (*done)(void *arg), void *arg);
/* Whether the transport has broker-side bindings (AMQP). */
bool transport_has_bindings(const struct transport *t);
int transport_ack(struct transport *t, const struct transport_delivery *d);
int transport_nack(struct transport *t, const struct transport_delivery *d);
/* Disconnects and frees asynchronously; events.closed is called at the end. */
void transport_close(struct transport *t);
/* Why the last attempt to connect failed, as logged (e.g. a TLS failure
 * naming its cause: "the certificate of the broker at H:P expired on ..."),
 * or "" when connected or not known. Valid until the transport next runs. */
const char *transport_last_error(const struct transport *t);
/* Whether `err` (from events.disconnected) ends the transport's attempts:
 * MSGFLO_EREFUSED (AMQP 403 ACCESS_REFUSED or 530 NOT_ALLOWED at login, MQTT
 * CONNACK "bad user name or password" or "not authorised") and
 * MSGFLO_ENOHOST (getaddrinfo: EAI_NONAME, only before the first successful
 * connection and for a URL of one host). Retrying cannot fix either. */
bool transport_is_permanent(int err);
/* How many publishes the broker refused since the transport was created:
 * AMQP publisher-confirm nacks (a nack of several counts each one it covers,
 * as far as the transport still waited for them); always 0 on MQTT. A
 * refused publish counts as settled for transport_when_flushed, so a caller
 * that must know whether its messages were taken checks this in its `done`. */
uint64_t transport_refused(const struct transport *t);

/* --- for implementations ------------------------------------------------ */

int transport__init(struct transport *t, const struct transport_ops *ops, uv_loop_t *loop,
                    msgflo_url *url, const char *client_id, const struct transport_events *ev,
                    void *ud);
/* Frees the common fields; `done` runs once the timer handle is closed. */
void transport__cleanup(struct transport *t, void (*done)(struct transport *t));
/* Called after a successful connect: resets the backoff, bumps generation. */
void transport__on_connected(struct transport *t);
/* Logs a failed connection attempt as a warning under `ns` and keeps the
 * text for transport_last_error. */
void transport__failed(struct transport *t, const char *ns, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Lets administration drop what it holds for the connection (admin_drop). */
void transport__drop_admin(struct transport *t, bool polite);
/* For the transports, once nothing is outstanding: takes the oldest waiter
 * into *w (false: none). Call it with transport__waiter_done, one at a time:
 * a waiter may send more. */
bool transport__next_waiter(struct transport *t, struct transport_waiter *w);
void transport__waiter_done(const struct transport_waiter *w, int rc);
/* The connection is gone: drops the `subscribed` waiters and tells the
 * `replied` ones (MSGFLO_ENOTCONN). */
void transport__drop_waiters(struct transport *t);
/* Whether getaddrinfo says `host` does not exist (EAI_NONAME), not merely
 * that the resolver could not answer now. Blocks while it resolves. */
bool transport__host_unknown(const char *host);
/* Reports a loss and schedules `retry` after the next backoff delay; for a
 * permanent `err` (transport_is_permanent) reports it and stops instead. */
void transport__schedule_reconnect(struct transport *t, int err,
                                   void (*retry)(struct transport *t));

int transport__mqtt_new(struct transport **out, uv_loop_t *loop, msgflo_url *url,
                        const char *client_id, const struct transport_events *ev, void *ud);
int transport__amqp_new(struct transport **out, uv_loop_t *loop, msgflo_url *url,
                        const char *client_id, const struct transport_events *ev, void *ud);

#endif
