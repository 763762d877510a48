/* Transport administration (admin.h): the AMQP connection it keeps beside a
 * transport's data connection, and the dispatch to amqp_topology.c. */
#include "transport/admin.h"

#include "core/url_internal.h"
#include "msgflo/errors.h"
#include "transport/amqp_topology.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

static char *dup_or_null(const char *s, bool *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = true;
    return d;
}

/* One node of `u` (a copy owning its strings, that outlives the transport). */
static msgflo_url *copy_node(const msgflo_url *u)
{
    msgflo_url *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *u;
    c->hosts = calloc(1, sizeof *c->hosts);
    c->n_hosts = c->hosts ? 1 : 0;
    bool failed = !c->hosts;
    if (c->hosts) {
        c->hosts[0].host = dup_or_null(u->host, &failed);
        c->hosts[0].port = u->port;
        c->host = c->hosts[0].host;
    }
    c->user = dup_or_null(u->user, &failed);
    c->password = dup_or_null(u->password, &failed);
    c->vhost = dup_or_null(u->vhost, &failed);
    c->client_id = dup_or_null(u->client_id, &failed);
    c->ca_file = dup_or_null(u->ca_file, &failed);
    c->cert_file = dup_or_null(u->cert_file, &failed);
    c->key_file = dup_or_null(u->key_file, &failed);
    if (failed) {
        msgflo_url_free(c);
        return NULL;
    }
    return c;
}

int transport_admin_node(struct transport *t, msgflo_url **out)
{
    msgflo_url node;
    if (!transport_has_bindings(t))
        return MSGFLO_EINVAL;
    if (!t->connected || amqp__node(t, &node) != 0)
        return MSGFLO_ENOTCONN;
    *out = copy_node(&node);
    return *out ? 0 : MSGFLO_ENOMEM;
}

bool transport_admin_same_node(const msgflo_url *a, const msgflo_url *b)
{
    const char *sa[] = {a->host, a->vhost, a->user, a->password};
    const char *sb[] = {b->host, b->vhost, b->user, b->password};
    for (size_t i = 0; i < sizeof sa / sizeof *sa; i++) {
        if ((sa[i] == NULL) != (sb[i] == NULL) || (sa[i] && strcmp(sa[i], sb[i]) != 0))
            return false;
    }
    return a->port == b->port && a->tls == b->tls;
}

int transport_topology_on(struct amqp_topology **conn, const msgflo_url *node,
                          struct transport_step *steps, size_t n)
{
    return amqp_topology__run(conn, node, steps, n, 0, NULL, NULL);
}

int transport_queue_stats_on(struct amqp_topology **conn, const msgflo_url *node, const char *queue,
                             uint32_t *ready, uint32_t *consumers)
{
    return amqp_topology__queue_stats(conn, node, queue, ready, consumers);
}
