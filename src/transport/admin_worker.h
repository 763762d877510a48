/* Administration off the event loop: a worker thread that owns an
 * administration connection of its own (amqp_topology.h) to the node of a
 * transport's data connection, and runs one job at a time on it, so the
 * loop never waits for the broker (connect and login included). Used by the
 * binder (its topology batches) and by msgflo-guv (its queue statistics).
 *
 *   admin_worker__new(t, loop, &w);
 *   admin_worker__run(w, work, done, free_arg, arg);  // work on the thread,
 *   ...                                                // done on the loop
 *   admin_worker__free(w, NULL, NULL);
 *
 * The loop thread never touches the connection while a job runs, and the
 * job touches neither the transport nor its data connection. What the job
 * logs is kept (log__capture_begin) and written by the loop thread before
 * `done`, since the log handler need not be thread-safe. AMQP only, or
 * without a transport: the same thread and bookkeeping for blocking work
 * that is not the broker connection's (msgflo-guv's management API
 * requests).
 *
 * Not in libmsgflo: part of msgflo_transport_admin (admin.h).
 */
#ifndef MSGFLO_TRANSPORT_ADMIN_WORKER_H
#define MSGFLO_TRANSPORT_ADMIN_WORKER_H

#include "core/url_internal.h"
#include "transport/admin.h"

#include <stdbool.h>
#include <uv.h>

struct admin_worker;

/* A job, on the worker's thread: `conn` is the worker's connection slot
 * (NULL: open it, e.g. with transport_topology_on or
 * transport_queue_stats_on; the job may also free it and set it to NULL, as
 * after a reconnect), `node` the node to open it to (both owned by the
 * worker, borrowed for the call). */
typedef void admin_worker_fn(struct amqp_topology **conn, const msgflo_url *node, void *arg);

/* A worker for transport `t` (borrowed: must outlive the worker, or the
 * worker be idle when t closes) on `loop` (borrowed). t NULL: a worker
 * without a connection, whose jobs get a slot that stays NULL (they must
 * not open it) and a NULL node, and start at once. No thread runs until
 * admin_worker__run. Returns 0, MSGFLO_EINVAL (MQTT: no administration) or
 * MSGFLO_ENOMEM. */
int admin_worker__new(struct transport *t, uv_loop_t *loop, struct admin_worker **out);

/* On the loop thread: runs work(conn, node, arg) on a thread of its own and
 * then done(arg) on the loop thread, never from within this call. The
 * thread starts once the broker has answered what t's data connection sent
 * before (transport_when_replied: the loop runs meanwhile), so the worker's
 * connection sees what was declared there; at once when the data
 * connection goes first (the job then finds the broker as it is). The node
 * is the data connection's at this call; a new node replaces the kept
 * connection. One job at a time. `arg` is the caller's until done (or
 * free_arg, may be NULL, see admin_worker__free). Without a transport the
 * thread starts at once. Returns 0, MSGFLO_EINVAL
 * (a job under way; nothing called), MSGFLO_ENOTCONN, MSGFLO_ENOMEM or
 * MSGFLO_ESYS. */
int admin_worker__run(struct admin_worker *w, admin_worker_fn *work, void (*done)(void *arg),
                      void (*free_arg)(void *arg), void *arg);

/* Whether a job is under way (waiting to start, or on its thread); w may be
 * NULL: false. */
bool admin_worker__busy(const struct admin_worker *w);

/* Frees the worker and its connection (without the close handshake: a
 * close that could wait on a stalled broker); NULL is a no-op. Does not
 * wait for a job under way: when it ends (on its thread, or on the loop
 * thread if it had not started), free_arg(arg) and then release(ud) are
 * called instead of done, and the worker is freed then; the process may
 * exit before. Without a job, release(ud) (may be NULL) is called at once. */
void admin_worker__free(struct admin_worker *w, void (*release)(void *ud), void *ud);

#endif
