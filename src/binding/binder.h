/* Makes bindings real on a broker.
 *
 * AMQP: exactly the exchanges and bindings msgflo-nodejs creates, so Node and
 * C tools can manage one broker. Both ends are declared first as msgflo
 * participants declare them (the original requires the participants to have
 * run before), then:
 *   pubsub      bind queue tgt to fanout exchange src
 *   roundrobin  direct exchange out-<src>, bound to exchange src; queue tgt
 *               bound to out-<src>; with a deadletter queue: fanout exchange
 *               dead-<tgt> with the deadletter queue bound to it
 * The bindings live in the broker: the binder's process may exit.
 * Pipelined (transport_topology): the methods of a binding, or of many
 * (binder__add_all), go to the broker as one batch, and a queue or exchange
 * is declared once per connection, not once per binding. binder__add_all
 * and binder__restore first try each pubsub binding as its bind alone: one
 * that finds both ends is done (trusting them as they are, as the original
 * does, which declares nothing); only when an end is missing are both
 * declared and the bind made again. The first bind goes alone: when it finds
 * an end missing, as on a fresh broker, all are declared at once.
 *
 * MQTT has no broker-side bindings of its own. With a router on the broker
 * (the /msgrouter protocol 1.0, docs/msgrouter.md) the binder asks it to
 * keep them: one addbinding request per batch, on
 * /msgrouter/default/addbinding, its id "<id prefix>-<n>"; removebinding on
 * remove. Without one it subscribes to each source topic and republishes
 * every message, byte for byte, to its targets, for as long as its process
 * runs (binder__needs_process is then true), through the forwarder that
 * msgflo-router runs too (router/forwarder.h: each message with its QoS,
 * loops on topics alone refused). Which of the two is the router
 * mode, set by the caller per connection (binder__set_router): while it is
 * UNKNOWN the MQTT bindings are kept (active) but not made. A binding
 * forwarded before its router confirmed it stays forwarded until the
 * router's result arrives (nothing is lost in the switch, nothing is
 * forwarded twice: what arrives after the result the router has forwarded)
 * and then stops: the source topic is unsubscribed unless something else
 * reads it (forwarding subscribes through transport_watch, which counts). One
 * the router refuses is forwarded; all are forwarded again when the router
 * goes away (mode NONE).
 */
#ifndef MSGFLO_BINDING_BINDER_H
#define MSGFLO_BINDING_BINDER_H

#include "binding/bindings.h"
#include "transport/admin.h"

#include <stdbool.h>
#include <uv.h>

struct binder;

/* MQTT: who makes the bindings on the current connection. */
enum binder_router {
    BINDER_ROUTER_UNKNOWN, /* not decided yet: bindings kept, not made */
    BINDER_ROUTER_NONE,    /* this process forwards (the default of binder__new) */
    BINDER_ROUTER_PRESENT, /* the broker's router keeps them */
};

/* `t` is borrowed and must outlive the binder. */
int binder__new(struct transport *t, struct binder **out);
void binder__free(struct binder *b);

/* Adds a binding (copied). AMQP: declares both ends, then binds (one
 * blocking batch), so a queue declared before with other arguments is
 * refused; errors are logged with the broker's reason and returned. A
 * binding already added is ignored; one removed, or one that failed, is made
 * again. */
int binder__add(struct binder *b, const struct binding *binding);

/* Adds `n` bindings (borrowed, copied) as binder__add does each, AMQP in one
 * pipelined batch, trusting ends that exist (see above: only missing ones
 * are declared). A failing binding does not stop the others: each one that
 * can be made is made; the failed ones are logged (the queue or exchange
 * named, with the broker's reason) and made again by a later add. Returns 0
 * or the first failure's error. */
int binder__add_all(struct binder *b, const struct binding *items, size_t n);

/* As binder__add_all (trust: trusting ends that exist) or as binder__add
 * for each (!trust: both ends declared first, in one batch), and results[k]
 * (n entries) gets item k's outcome: 0 (made, now or before) or its failure. */
int binder__add_each(struct binder *b, const struct binding *items, size_t n, bool trust,
                     int *results);

/* Removes a pubsub binding (AMQP: unbind; MQTT: stop forwarding). */
int binder__remove(struct binder *b, const struct binding *binding);

/* Feed every message of the transport here (`d`: its delivery, for its QoS;
 * may be NULL: QoS 0); returns true when it was a forwarded source topic
 * (MQTT) and has been republished (forwarder.h). */
bool binder__on_message(struct binder *b, const char *queue, const struct transport_delivery *d,
                        const void *data, size_t len);

/* After a reconnect: subscribe to the forwarded topics again (MQTT) or
 * re-create the bindings (AMQP, idempotent; the queues and exchanges
 * declared before are declared again if missing). */
int binder__restore(struct binder *b);

/* Whether src -> tgt needs nothing on this broker: on MQTT a binding whose
 * two ends are one topic forwards nothing, so it is neither made nor kept
 * (on AMQP an exchange and a queue of one name are still bound). */
bool binder__needs_nothing(const struct binder *b, const char *src, const char *tgt);

/* Whether the bindings exist only while this process runs (MQTT with at
 * least one binding not confirmed by the broker's router). */
bool binder__needs_process(const struct binder *b);

/* Whether a binding is still being made: MQTT with the router mode UNKNOWN
 * and a binding to make, or a router request awaiting its result. */
bool binder__settling(const struct binder *b);

/* The prefix of router request ids (copied; the client id, so that replies
 * to other clients are told apart). 0 or MSGFLO_ENOMEM. */
int binder__set_id(struct binder *b, const char *id_prefix);

/* Sets the router mode. UNKNOWN: a new connection, the router's bindings
 * and requests forgotten (asked again once PRESENT); the bindings forwarded
 * on the last connection are forwarded again by binder__restore until the
 * mode is decided. NONE: every active binding is forwarded (also those
 * the router kept: it is gone). PRESENT: the active bindings not kept by the router
 * yet are asked of it in one addbinding request. Returns the first error of
 * a subscription or publish (MQTT), else 0. */
int binder__set_router(struct binder *b, enum binder_router mode);
enum binder_router binder__router(const struct binder *b);

/* Feed the payload of /msgrouter/default/result here. 0: not an answer to
 * this binder's requests, or they were accepted (those bindings are no
 * longer forwarded). MSGFLO_EPROTO: the router refused a request; err gets
 * the router's reason, and its bindings are forwarded by this process. */
int binder__on_result(struct binder *b, const void *data, size_t len, char *err, size_t errlen);

/* The number of the last router request when one awaits its result, else 0. */
unsigned long binder__last_request(const struct binder *b);

/* Gives up on the router requests up to number `upto` still awaiting their
 * result (a router that does not answer: a stale retained status): their
 * bindings are forwarded. Returns how many. Should the router's `ok` come
 * after all (a slow router), binder__on_result stops that forwarding again:
 * the router has those bindings, and both forwarding would deliver every
 * message twice. */
size_t binder__give_up(struct binder *b, unsigned long upto);

/* AMQP without blocking the event loop: runs work(b, arg) on a thread of
 * its own, where the binder's batches (binder__add_each, binder__remove,
 * binder__restore called from `work`) go to an administration connection
 * that thread owns alone (opened there; connect and login included), and
 * then done(b, arg) on `loop`'s thread; what `work` logs is written then,
 * by the loop thread. One call at a time. While it runs the binder is the
 * thread's: the loop thread calls no binder function but binder__busy,
 * binder__settling, binder__needs_process, binder__on_message and
 * binder__free (which does not wait: the thread frees the binder when done
 * and calls free_arg(arg), may be NULL, instead of done). The thread starts
 * once the broker has answered what the data connection sent before
 * (transport_when_replied: the loop runs meanwhile), so the thread's
 * connection sees what was declared there; at once when the data connection
 * goes first. Returns 0, MSGFLO_EINVAL (MQTT, or a call under way; nothing
 * called), MSGFLO_ENOTCONN, MSGFLO_ENOMEM or MSGFLO_ESYS. */
int binder__call_async(struct binder *b, uv_loop_t *loop, void (*work)(struct binder *b, void *arg),
                       void (*done)(struct binder *b, void *arg), void (*free_arg)(void *arg),
                       void *arg);

/* Whether a binder__call_async call is under way (b may be NULL: false). */
bool binder__busy(const struct binder *b);

#endif
