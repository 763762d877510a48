/* Pipelined AMQP topology: the engine behind transport_topology on AMQP
 * (admin.h), and transport_queue_stats on the same connection.
 *
 * rabbitmq-c's topology calls are blocking RPCs, one network round trip and
 * one broker turn each. A batch instead sends the methods with
 * amqp_send_method without waiting and reads the replies as they come, on a
 * connection of its own (so no delivery or confirm of the data connection is
 * read meanwhile) and over several channels: the broker handles each channel
 * in turn, but channels in parallel, which matters most for declaring durable
 * queues. A failing method closes its channel only: the step is reported
 * (rc, log line naming it), the channel is reopened at once and the steps
 * sent after it on that channel are sent again.
 */
#ifndef MSGFLO_TRANSPORT_AMQP_TOPOLOGY_H
#define MSGFLO_TRANSPORT_AMQP_TOPOLOGY_H

#include "msgflo/url.h"
#include "transport/admin.h"
#include "transport/amqp_shared.h"

#include <amqp.h>

struct amqp_topology;

/* Runs the steps (see transport_topology) on *topo's connection, opening it
 * first when *topo is NULL (login to `u`, borrowed; *topo is then owned by
 * the caller: amqp_topology__free). A connection that fails is freed and
 * *topo set to NULL; the steps not answered get MSGFLO_ENOTCONN. While it
 * waits, keep_alive(arg) is called every keep_ms milliseconds (0: never).
 * Returns 0 or the first failed step's rc. */
int amqp_topology__run(struct amqp_topology **topo, const msgflo_url *u,
                       struct transport_step *steps, size_t n, int keep_ms,
                       void (*keep_alive)(void *arg), void *arg);

/* Messages ready and consumers of queue `queue` (borrowed), asked with a
 * passive queue.declare on *topo's connection (opened as for
 * amqp_topology__run); a missing queue (404) closes only the channel used
 * (reopened next time): MSGFLO_ENOPORT. A blocking RPC. Returns 0,
 * MSGFLO_ENOPORT, MSGFLO_EPROTO or MSGFLO_ENOTCONN (the connection failed:
 * freed, *topo NULL). */
int amqp_topology__queue_stats(struct amqp_topology **topo, const msgflo_url *u, const char *queue,
                               uint32_t *ready, uint32_t *consumers);

/* Closes the connection (`polite`: connection.close sent, its reply not
 * awaited; else the socket only, for a broker that may be gone) and frees;
 * never waits for the broker. NULL is a no-op. */
void amqp_topology__free(struct amqp_topology *t, bool polite);

#endif
