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
 *
 * MQTT has no broker-side bindings: the binder subscribes to each source
 * topic and republishes every message, byte for byte, to its targets, for
 * as long as its process runs (binder__needs_process is then true).
 */
#ifndef MSGFLO_COORD_BINDER_H
#define MSGFLO_COORD_BINDER_H

#include "coord/bindings.h"
#include "transport/transport.h"

#include <stdbool.h>

struct binder;

/* `t` is borrowed and must outlive the binder. */
int binder__new(struct transport *t, struct binder **out);
void binder__free(struct binder *b);

/* Adds a binding (copied). AMQP: blocking topology calls; errors are logged
 * with the broker's reason and returned. A binding already added is ignored;
 * one removed is made again. */
int binder__add(struct binder *b, const struct binding *binding);

/* Removes a pubsub binding (AMQP: unbind; MQTT: stop forwarding). */
int binder__remove(struct binder *b, const struct binding *binding);

/* Feed every message of the transport here; returns true when it was a
 * forwarded source topic (MQTT) and has been republished. */
bool binder__on_message(struct binder *b, const char *queue, const void *data, size_t len);

/* After a reconnect: subscribe to the forwarded topics again (MQTT) or
 * re-create the bindings (AMQP, idempotent). */
int binder__restore(struct binder *b);

/* Whether the bindings exist only while this process runs (MQTT with at
 * least one forwarding binding). */
bool binder__needs_process(const struct binder *b);

#endif
