/* Pipelined AMQP topology: the engine behind transport_topology on AMQP.
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
#include "transport/transport.h"

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

/* Closes the connection (with the close handshake when `polite`; without,
 * for a broker that may be gone) and frees; NULL is a no-op. */
void amqp_topology__free(struct amqp_topology *t, bool polite);

/* amqp.c: a new logged-in connection to `u` (TLS as the URL says) with the
 * given heartbeat, no channel open; *out owned (amqp_destroy_connection).
 * Returns 0, MSGFLO_ENOMEM, MSGFLO_ETLS or MSGFLO_ECONNECT. */
int amqp__open(const msgflo_url *u, int heartbeat, amqp_connection_state_t *out);

/* amqp.c: the arguments of the declaration of queue `queue` as msgflo-nodejs
 * declares it: x-dead-letter-exchange=`dlx` (NULL: none, as for `fbp`), and
 * x-queue-type=quorum when the URL asks for it. `entries` (room for 2) and
 * `dlx` are borrowed by the returned table. */
amqp_table_t amqp__queue_args(const msgflo_url *u, const char *dlx, amqp_table_entry_t *entries);

#endif
