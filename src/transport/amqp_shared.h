/* What amqp.c (libmsgflo) offers AMQP administration (admin.c,
 * amqp_topology.c: the static library msgflo_transport_admin). Nothing else
 * of the transport's state is reached from outside it.
 */
#ifndef MSGFLO_TRANSPORT_AMQP_SHARED_H
#define MSGFLO_TRANSPORT_AMQP_SHARED_H

#include "msgflo/url.h"
#include "transport/transport.h"

#include <amqp.h>

/* A new logged-in connection to `u` (TLS as the URL says) with the given
 * heartbeat, no channel open; *out owned (amqp_destroy_connection). Blocks
 * (connect and login, up to 10 s each); a failure is logged. Returns 0,
 * MSGFLO_ENOMEM, MSGFLO_ETLS or MSGFLO_ECONNECT. */
int amqp__open(const msgflo_url *u, int heartbeat, amqp_connection_state_t *out);

/* The arguments of the declaration of queue `queue` as msgflo-nodejs
 * declares it: x-dead-letter-exchange=`dlx` (NULL: none, as for `fbp`), and
 * x-queue-type=quorum when the URL asks for it. `entries` (room for 2) and
 * `dlx` are borrowed by the returned table. */
amqp_table_t amqp__queue_args(const msgflo_url *u, const char *dlx, amqp_table_entry_t *entries);

/* The URL of the node AMQP transport `t`'s data connection is on (a
 * shallow copy, valid while the transport lives): MSGFLO_ENOTCONN when it
 * has none. */
int amqp__node(const struct transport *t, msgflo_url *out);

/* Waits until the broker has carried out every declaration, binding and
 * consume sent so far on AMQP transport `t`'s data connection (which does not
 * wait for them), so that administration's own connection finds what they
 * made: one blocking basic.qos RPC when replies are outstanding, nothing
 * otherwise. For the blocking administration calls only (transport_topology,
 * transport_queue_stats); what must not block waits with
 * transport_when_replied. Returns 0, or MSGFLO_ENOTCONN (none, or lost
 * meanwhile: a refusal is logged naming the method, and the transport
 * reconnects). */
int amqp__settle(struct transport *t);

/* Sends a heartbeat on AMQP transport `t`'s data connection now, for a caller
 * that holds the loop for longer than half the heartbeat interval. */
void amqp__keep_alive(struct transport *t);

#endif
