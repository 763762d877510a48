/* Forwarding as a broker client: a router's binding table (router.h)
 * carried out over one MQTT transport connection. The forwarder watches
 * every bound source topic and republishes each message it receives there,
 * byte for byte and with the QoS it arrived at, to the binding's targets.
 * It is the one forwarder of the project: the msgflo-router daemon runs it
 * over its table (changed by /msgrouter requests), and the binder runs it
 * when the broker has no router (the coordinator's fallback).
 *
 *     struct router *table;
 *     router__new(NULL, "msgflo", &table);
 *     struct forwarder *f;
 *     forwarder__new(t, table, &f);
 *     forwarder__add(f, "a.OUT", "b.IN", ROUTER_PUBSUB, err, sizeof err);
 *     // on events.connected (the watches ended with the old connection):
 *     forwarder__restore(f);
 *     // on every message of the transport:
 *     if (forwarder__on_message(f, topic, d, data, len)) return;   // forwarded
 *     // after the table was changed behind its back (router__control, router__load):
 *     forwarder__sync(f);
 *
 * On a forwarding MQTT 5 connection (transport_set_forwarding, which
 * msgflo-router asks for) the broker does not send the forwarder its own
 * republications back, so it carries a message along the whole chain itself
 * (router__route, the plugin's computation): with a -> b, a -> c, b -> d,
 * c -> d a message on a reaches b, c and d, each once. It republishes with
 * the message's QoS (2 included), retain flag and properties
 * (transport_forward): a retained message stays retained on the targets.
 * Retained messages are not handed out to it on subscribing: they were
 * published before the binding (or forwarded before a reconnect), and the
 * plugin, which sees only what clients publish, does not forward them
 * either.
 *
 * On MQTT 3.1.1 (the coordinator's fallback, or a broker without MQTT 5) it
 * gets its own republished messages back when a target is itself a bound
 * source, so it forwards only each source's own targets (router__targets)
 * and lets the broker carry a message along a chain: with the bindings
 * above a message on a reaches d twice. MQTT 3.1.1 does not tell a client
 * the retain flag of a live message, so nothing is republished retained
 * and the retained messages a new subscription brings are not forwarded;
 * properties do not exist there.
 */
#ifndef MSGFLO_ROUTER_FORWARDER_H
#define MSGFLO_ROUTER_FORWARDER_H

#include "router/router.h"
#include "transport/transport.h"

struct forwarder;

/* `t` and `table` are borrowed and must outlive the forwarder. Returns 0 or
 * MSGFLO_ENOMEM. */
int forwarder__new(struct transport *t, struct router *table, struct forwarder **out);
void forwarder__free(struct forwarder *f);

/* Adds src -> tgt to the table and watches src (once per source). Returns 0
 * (added, or there already), MSGFLO_EINVAL when the table refuses it (a
 * loop, a bad topic: the reason in err), or the watch's error
 * (MSGFLO_ENOTCONN, ...): then the table is as before. */
int forwarder__add(struct forwarder *f, const char *src, const char *tgt, enum router_type type,
                   char *err, size_t errlen);

/* Removes src -> tgt; src is unwatched once no binding reads it (what the
 * broker sends before the UNSUBSCRIBE takes effect is not forwarded). */
void forwarder__remove(struct forwarder *f, const char *src, const char *tgt);

/* After the table changed without the forwarder: watches the sources it
 * does not watch yet, unwatches those no longer bound. Returns the first
 * watch error (the others are still tried), else 0. */
int forwarder__sync(struct forwarder *f);

/* After a reconnect: every source is watched again. As forwarder__sync. */
int forwarder__restore(struct forwarder *f);

/* A message of the transport: when topic is a bound source, republishes it
 * to each target (errors logged) and returns true; else false. `d` (NULL:
 * QoS 0) says how it arrived, see above. */
bool forwarder__on_message(struct forwarder *f, const char *topic,
                           const struct transport_delivery *d, const void *data, size_t len);

#endif
