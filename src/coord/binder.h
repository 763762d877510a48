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

/* Feed every message of the transport here; returns true when it was a
 * forwarded source topic (MQTT) and has been republished. */
bool binder__on_message(struct binder *b, const char *queue, const void *data, size_t len);

/* After a reconnect: subscribe to the forwarded topics again (MQTT) or
 * re-create the bindings (AMQP, idempotent; the queues and exchanges
 * declared before are declared again if missing). */
int binder__restore(struct binder *b);

/* Whether the bindings exist only while this process runs (MQTT with at
 * least one forwarding binding). */
bool binder__needs_process(const struct binder *b);

#endif
