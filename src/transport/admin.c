/* Transport administration (admin.h): the AMQP connection it keeps beside a
 * transport's data connection, and the dispatch to amqp_topology.c. */
#include "transport/admin.h"

#include "msgflo/errors.h"
#include "transport/amqp_topology.h"

#include <stddef.h>

/* The transport drops the administration connection with its own
 * (transport__drop_admin): it belongs to that node and that login. */
static void admin_drop(struct transport *t, bool polite)
{
    amqp_topology__free(t->admin, polite);
    t->admin = NULL;
}

/* The node of the data connection (`node`), and the slot ready to take the
 * administration connection. */
static int prepare(struct transport *t, msgflo_url *node)
{
    if (!transport_has_bindings(t))
        return MSGFLO_EINVAL; /* MQTT: no broker-side topology, no queue depth */
    if (!t->connected || amqp__node(t, node) != 0)
        return MSGFLO_ENOTCONN;
    /* What the data connection declared before must exist for this one
     * (e.g. a queue declared and then asked about). */
    if (amqp__settle(t) != 0)
        return MSGFLO_ENOTCONN;
    t->admin_drop = admin_drop;
    return 0;
}

static void keep_alive(void *arg)
{
    amqp__keep_alive(arg);
}

int transport_topology(struct transport *t, struct transport_step *steps, size_t n)
{
    msgflo_url node;
    int rc = prepare(t, &node);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            steps[i].rc = rc;
        return rc;
    }
    int keep_ms = t->url->heartbeat > 0 ? t->url->heartbeat * 1000 / 2 : 0;
    struct amqp_topology *topo = t->admin;
    rc = amqp_topology__run(&topo, &node, steps, n, keep_ms, keep_alive, t);
    t->admin = topo;
    return rc;
}

int transport_queue_stats(struct transport *t, const char *queue, uint32_t *ready,
                          uint32_t *consumers)
{
    msgflo_url node;
    int rc = prepare(t, &node);
    if (rc)
        return rc;
    struct amqp_topology *topo = t->admin;
    rc = amqp_topology__queue_stats(&topo, &node, queue, ready, consumers);
    t->admin = topo;
    return rc;
}
