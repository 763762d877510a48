/* The coordinator's watched ports: counted per port, resolved to queues once
 * their role is discovered, watched on the transport by the pump; data on a
 * watched queue is reported for each port watching it.
 * See coordinator_internal.h. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

static void queue_watch_acquire(struct coordinator *c, const char *queue)
{
    struct queue_watch *w = c->queue_watches;
    while (w && strcmp(w->queue, queue) != 0)
        w = w->next;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || !(w->queue = strdup(queue))) {
            free(w);
            LOG_ERROR(NS, "out of memory watching %s", queue);
            return;
        }
        w->next = c->queue_watches;
        c->queue_watches = w;
    }
    w->refs++;
}

/* The last release leaves the watch for the pump to end (an op does no RPC). */
static void queue_watch_release(struct coordinator *c, const char *queue)
{
    for (struct queue_watch *w = c->queue_watches; w; w = w->next) {
        if (strcmp(w->queue, queue) == 0) {
            if (w->refs > 0 && --w->refs == 0)
                coordinator__schedule(c);
            return;
        }
    }
}

static struct port_watch *port_watch_find(struct coordinator *c, const char *role, const char *port)
{
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (strcmp(w->role, role) == 0 && strcmp(w->port, port) == 0)
            return w;
    }
    return NULL;
}

int coordinator_watches__add(struct coordinator *c, const char *role, const char *port)
{
    struct port_watch *w = port_watch_find(c, role, port);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return MSGFLO_ENOMEM;
        w->role = strdup(role);
        w->port = strdup(port);
        if (!w->role || !w->port) {
            free(w->role);
            free(w->port);
            free(w);
            return MSGFLO_ENOMEM;
        }
        w->next = c->port_watches;
        c->port_watches = w;
    }
    w->refs++;
    return 0;
}

static void port_watch_free(struct coordinator *c, struct port_watch *w)
{
    if (w->queue)
        queue_watch_release(c, w->queue);
    free(w->queue);
    free(w->role);
    free(w->port);
    free(w);
}

int coordinator_watches__remove(struct coordinator *c, const char *role, const char *port)
{
    for (struct port_watch **p = &c->port_watches; *p; p = &(*p)->next) {
        struct port_watch *w = *p;
        if (strcmp(w->role, role) != 0 || strcmp(w->port, port) != 0)
            continue;
        if (--w->refs == 0) {
            *p = w->next;
            port_watch_free(c, w);
        }
        return 0;
    }
    return MSGFLO_EINVAL;
}

void coordinator_watches__pump(struct coordinator *c)
{
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (!coordinator_graph__discovered_role(c, w->role))
            continue;
        char *q = NULL;
        if (registry__queue(c->reg, w->role, false, w->port, &q, NULL) != 0)
            continue;
        if (w->queue && strcmp(w->queue, q) == 0) {
            free(q);
            continue;
        }
        if (w->queue)
            queue_watch_release(c, w->queue);
        free(w->queue);
        w->queue = q;
        queue_watch_acquire(c, q);
    }
    for (struct queue_watch **p = &c->queue_watches; *p;) {
        struct queue_watch *w = *p;
        if (w->refs > 0) {
            p = &w->next;
            continue;
        }
        if (w->active && c->connected)
            transport_unwatch(c->t, w->queue);
        *p = w->next;
        free(w->queue);
        free(w);
    }
    if (!c->connected)
        return;
    for (struct queue_watch *w = c->queue_watches; w; w = w->next) {
        if (w->active)
            continue;
        int rc = transport_watch(c->t, w->queue);
        if (rc == 0) {
            w->active = true;
            w->gen = ++c->sub_gen;
        } else
            LOG_WARNING(NS, "watching %s failed: %s", w->queue, msgflo_strerror(rc));
        if (!c->connected)
            return; /* the failure dropped the connection */
    }
}

/* Bytes that are not UTF-8 as a string, each byte read as Latin-1 (a string
 * of its bytes, as system_events.data promises); NULL when out of memory. */
static json_t *latin1_string(const unsigned char *data, size_t len)
{
    char *text = malloc(len * 2 + 1);
    size_t n = 0;
    if (!text)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (data[i] < 0x80) {
            text[n++] = (char)data[i];
        } else {
            text[n++] = (char)(0xC0 | (data[i] >> 6));
            text[n++] = (char)(0x80 | (data[i] & 0x3F));
        }
    }
    json_t *value = json_stringn(text, n);
    free(text);
    return value;
}

void coordinator_watches__data(struct coordinator *c, const char *queue, const void *data,
                               size_t len)
{
    if (!c->sys.events.data)
        return;
    /* Most messages (MQTT forwarding) are on no watched queue: find that out
     * without allocating; a watched port always holds its queue's watch. */
    const struct queue_watch *qw = c->queue_watches;
    while (qw && strcmp(qw->queue, queue) != 0)
        qw = qw->next;
    if (!qw || qw->refs == 0)
        return;
    /* what to report first: the callback may unwatch */
    json_t *ports = json_array();
    for (struct port_watch *w = c->port_watches; w; w = w->next) {
        if (w->queue && strcmp(w->queue, queue) == 0)
            json_array_append_new(ports, json_pack("[ss]", w->role, w->port));
    }
    if (json_array_size(ports) == 0) {
        json_decref(ports);
        return;
    }
    json_t *value = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_stringn(data, len);
    if (!value)
        value = latin1_string(data, len); /* not JSON and not UTF-8 */
    if (!value)
        value = json_null();
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        if (!c->closing)
            c->sys.events.data(c->sys.ud, json_string_value(json_array_get(p, 0)),
                               json_string_value(json_array_get(p, 1)), value);
    }
    json_decref(value);
    json_decref(ports);
}

void coordinator_watches__clear(struct coordinator *c)
{
    while (c->port_watches) {
        struct port_watch *w = c->port_watches;
        c->port_watches = w->next;
        free(w->queue);
        w->queue = NULL; /* no queue watch to release */
        port_watch_free(c, w);
    }
    while (c->queue_watches) {
        struct queue_watch *w = c->queue_watches;
        c->queue_watches = w->next;
        free(w->queue);
        free(w);
    }
}
