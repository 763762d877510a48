/* Transport administration: what the tools, the binder, the coordinator and
 * guv do to a broker beyond what a participant needs, on the transport they
 * already have. Topology batches (declare, bind, unbind) and queue
 * statistics; AMQP only (MQTT has neither: MSGFLO_EINVAL).
 *
 * Not in libmsgflo: the static library msgflo_transport_admin (admin.c,
 * amqp_topology.c, admin_worker.c). On AMQP it works on a connection of its own to the node
 * the transport's data connection is on, opened at the first call, kept, and
 * closed with the data connection (struct transport's admin slot), so nothing
 * of the data connection's traffic is read, or lost, meanwhile.
 */
#ifndef MSGFLO_TRANSPORT_ADMIN_H
#define MSGFLO_TRANSPORT_ADMIN_H

#include "transport/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One topology operation of a batch (transport_topology). Names are
 * borrowed for the call. */
enum transport_step_kind {
    /* declarations: `name` */
    TRANSPORT_DECLARE_INQUEUE,  /* as transport_declare_inqueue */
    TRANSPORT_DECLARE_OUTQUEUE, /* as transport_declare_outqueue */
    TRANSPORT_DECLARE_EXCHANGE, /* durable exchange `name` of `type` */
    /* bindings, routing key "" */
    TRANSPORT_BIND_QUEUE,    /* queue `name` to exchange `source` */
    TRANSPORT_UNBIND_QUEUE,  /* queue `name` from exchange `source` */
    TRANSPORT_BIND_EXCHANGE, /* exchange `name` (destination) to exchange `source` */
};

struct transport_step {
    enum transport_step_kind kind;
    const char *name;
    const char *source; /* bindings */
    const char *type;   /* TRANSPORT_DECLARE_EXCHANGE: "fanout", "direct", ... */
    /* A missing queue or exchange is an expected answer: logged for
     * debugging only (the caller declares and tries again). */
    bool may_be_missing;
    int rc; /* out: 0, MSGFLO_ENOPORT (a queue or exchange it names does not
             * exist), MSGFLO_EPROTO (refused, e.g. declared before with
             * other arguments), MSGFLO_ENOTCONN, MSGFLO_ENOMEM */
};

/* Messages ready for delivery (not those delivered and awaiting their ack)
 * and consumers of `queue` (borrowed), without creating it: AMQP asks with a
 * passive queue.declare on the administration connection, so a missing queue
 * (404, MSGFLO_ENOPORT, logged for debugging) closes only a channel of that
 * connection. MQTT has no queue depth: MSGFLO_EINVAL. A blocking RPC (on a
 * loop, use transport_queue_stats_on on an admin_worker, as msgflo-guv
 * does).
 * Returns 0, MSGFLO_ENOTCONN (the transport is not connected, or the
 * administration connection failed), MSGFLO_ENOPORT, MSGFLO_EPROTO or
 * MSGFLO_EINVAL. */
int transport_queue_stats(struct transport *t, const char *queue, uint32_t *ready,
                          uint32_t *consumers);

/* Runs `n` topology steps (borrowed; each step's `rc` is written) as one
 * batch, without a round trip per step. AMQP pipelines them on the
 * administration connection, over several channels: the steps run in array
 * order except that consecutive declarations may run concurrently with each
 * other, and so may consecutive bindings (those of one queue and exchange
 * stay in order); every declaration before a binding in the array is
 * complete before that binding is sent. A failing step (e.g. a binding to a
 * missing exchange) is logged with the broker's reason and the name, closes
 * only a channel of the batch (reopened at once) and does not stop the
 * others: every other step is still carried out. Blocks until every step is
 * answered (the event loop does not run meanwhile; the data connection's
 * heartbeats are still sent). Returns 0 when every step succeeded, else the
 * first failed step's rc; MQTT (no broker-side topology): MSGFLO_EINVAL. */
int transport_topology(struct transport *t, struct transport_step *steps, size_t n);

/* --- off the event loop -----------------------------------------------------------------
 * A worker thread (admin_worker.h) runs topology batches and queue
 * statistics on an administration connection it owns alone (not the transport's admin slot, which
 * the loop thread drops with the data connection), to a copy of the data connection's node. */
struct amqp_topology;

/* On the loop thread: the node of t's data connection, as a copy owning its
 * strings (free with msgflo_url_free) that may outlive t. Does not wait for
 * what that connection declared before: the worker starts after
 * transport_when_replied. Returns 0, MSGFLO_EINVAL (MQTT), MSGFLO_ENOTCONN
 * or MSGFLO_ENOMEM. */
int transport_admin_node(struct transport *t, msgflo_url **out);

/* Whether two nodes (transport_admin_node) are the same broker and login:
 * an administration connection to one serves the other. */
bool transport_admin_same_node(const msgflo_url *a, const msgflo_url *b);

/* As transport_topology, on *conn (opened to `node` when NULL, borrowed;
 * freed and set to NULL when it fails; free with amqp_topology__free),
 * blocking the calling thread: for a worker that owns *conn and `node`
 * exclusively meanwhile. Touches no transport. */
int transport_topology_on(struct amqp_topology **conn, const msgflo_url *node,
                          struct transport_step *steps, size_t n);

/* As transport_queue_stats, on *conn (as transport_topology_on), blocking
 * the calling thread. Touches no transport. */
int transport_queue_stats_on(struct amqp_topology **conn, const msgflo_url *node, const char *queue,
                             uint32_t *ready, uint32_t *consumers);

#endif
