/* The coordinator's watched ports: counted per port, resolved to queues once
 * their role is discovered, watched on the transport by the pump; data on a
 * watched queue is reported for each port watching it.
 * See coordinator_internal.h. */
#include "coord/coordinator_internal.h"
#include "core/key.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS COORD_NS

static void queue_dirty(struct coordinator *c, struct queue_watch *q)
{
    if (q->dirty)
        return;
    q->dirty = true;
    DL_APPEND2(c->dirty_queues, q, dprev, dnext);
}

/* Resolves w to `queue` (borrowed; w keeps the queue watch's copy). */
static void queue_watch_acquire(struct coordinator *c, struct port_watch *w, const char *queue)
{
    struct queue_watch *q;
    HASH_FIND_STR(c->queue_watches, queue, q);
    if (!q) {
        size_t len = strlen(queue);
        q = calloc(1, sizeof *q + len + 1);
        if (!q) {
            LOG_ERROR(NS, "out of memory watching %s", queue);
            return;
        }
        q->queue = memcpy(q->text, queue, len + 1);
        HASH_ADD_KEYPTR(hh, c->queue_watches, q->queue, len, q);
        queue_dirty(c, q); /* to watch on the transport */
    }
    w->queue = q->queue;
    w->qw = q;
    DL_APPEND2(q->ports, w, qprev, qnext);
    q->refs++;
}

/* The last release leaves the watch for the pump to end (an op does no RPC). */
static void queue_watch_release(struct coordinator *c, struct port_watch *w)
{
    struct queue_watch *q = w->qw;
    w->queue = NULL;
    w->qw = NULL;
    if (!q)
        return;
    DL_DELETE2(q->ports, w, qprev, qnext);
    if (q->refs > 0 && --q->refs == 0) {
        queue_dirty(c, q);
        coordinator__schedule(c);
    }
}

static struct port_watch *port_watch_find(struct coordinator *c, const char *role, const char *port)
{
    const char *parts[] = {role, port};
    struct port_watch *w;
    KEY_FIND(c->port_watches, parts, 2, w);
    return w;
}

struct port_watch *coordinator_watches__find(struct coordinator *c, const char *role,
                                             const char *port)
{
    return port_watch_find(c, role, port);
}

void coordinator_watches__dirty(struct coordinator *c, struct port_watch *w)
{
    if (w->dirty)
        return;
    w->dirty = true;
    DL_APPEND2(c->dirty_watches, w, dprev, dnext);
}

int coordinator_watches__add(struct coordinator *c, const char *role, const char *port)
{
    struct port_watch *w = port_watch_find(c, role, port);
    if (!w) {
        const char *parts[] = {role, port};
        const char *names[2];
        /* One allocation: the record, its key, its role and port. */
        w = calloc(1, sizeof *w + 2 * key__length(parts, 2));
        if (!w)
            return MSGFLO_ENOMEM;
        w->key = key__pack(w->text, parts, 2, names);
        w->role = names[0];
        w->port = names[1];
        w->r = coordinator_roles__get(c, role);
        if (!w->r) {
            free(w);
            return MSGFLO_ENOMEM;
        }
        DL_APPEND2(w->r->watches, w, rprev, rnext);
        HASH_ADD_KEYPTR(hh, c->port_watches, w->key, strlen(w->key), w);
        c->status_records++;
        coordinator_watches__dirty(c, w); /* to resolve */
    }
    w->refs++;
    return 0;
}

static void port_watch_free(struct coordinator *c, struct port_watch *w)
{
    queue_watch_release(c, w);
    HASH_DEL(c->port_watches, w);
    c->status_records++;
    if (w->dirty)
        DL_DELETE2(c->dirty_watches, w, dprev, dnext);
    DL_DELETE2(w->r->watches, w, rprev, rnext);
    coordinator_roles__release(c, w->r);
    free(w);
}

int coordinator_watches__remove(struct coordinator *c, const char *role, const char *port)
{
    struct port_watch *w = port_watch_find(c, role, port);
    if (!w)
        return MSGFLO_EINVAL;
    if (--w->refs == 0)
        port_watch_free(c, w);
    return 0;
}

void coordinator_watches__reset(struct coordinator *c)
{
    struct queue_watch *q, *tmp;
    HASH_ITER(hh, c->queue_watches, q, tmp)
    {
        q->active = false;
        queue_dirty(c, q);
    }
}

/* Resolves the dirty port watches whose role is discovered. */
static void resolve_watches(struct coordinator *c)
{
    while (c->dirty_watches) {
        struct port_watch *w = c->dirty_watches;
        DL_DELETE2(c->dirty_watches, w, dprev, dnext);
        w->dirty = false;
        if (!coordinator_graph__discovered_role(c, w->role))
            continue; /* again when it is discovered */
        char *q = NULL;
        if (registry__queue(c->reg, w->role, false, w->port, &q, NULL) != 0)
            continue;
        if (!w->queue || strcmp(w->queue, q) != 0) {
            queue_watch_release(c, w);
            queue_watch_acquire(c, w, q);
        }
        free(q);
    }
}

void coordinator_watches__pump(struct coordinator *c)
{
    resolve_watches(c);
    struct queue_watch *q, *tmp, *retry = NULL;
    DL_FOREACH_SAFE2(c->dirty_queues, q, tmp, dnext)
    {
        if (q->refs > 0)
            continue;
        DL_DELETE2(c->dirty_queues, q, dprev, dnext);
        if (q->active && c->connected)
            transport_unwatch(c->t, q->queue);
        HASH_DEL(c->queue_watches, q);
        free(q->last);
        free(q);
    }
    while (c->dirty_queues && c->connected) {
        q = c->dirty_queues;
        DL_DELETE2(c->dirty_queues, q, dprev, dnext);
        q->dirty = false;
        if (q->active)
            continue;
        int rc = transport_watch(c->t, q->queue);
        if (rc == 0) {
            q->active = true;
            q->gen = ++c->sub_gen;
            c->gen_max = q->gen;
        } else {
            LOG_WARNING(NS, "watching %s failed: %s", q->queue, msgflo_strerror(rc));
            DL_APPEND2(retry, q, dprev, dnext); /* on the next pump */
        }
    }
    while (retry) {
        q = retry;
        DL_DELETE2(retry, q, dprev, dnext);
        DL_APPEND2(c->dirty_queues, q, dprev, dnext);
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

/* The message as system_events.data gives it: JSON, else a string of its
 * bytes (never NULL but when out of memory: then JSON null). */
static json_t *parse_data(const void *data, size_t len)
{
    json_t *value = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_stringn(data, len);
    if (!value)
        value = latin1_string(data, len); /* not JSON and not UTF-8 */
    if (!value)
        value = json_null();
    return value;
}

/* Keeps a copy of the message for system_ops.latest: a copy, not a parse, on
 * the data path; a message over the limit (or no memory) keeps none. */
static void keep_last(struct queue_watch *qw, const void *data, size_t len)
{
    qw->has_last = false;
    if (len > SYSTEM_LATEST_MAX)
        return;
    if (len > qw->last_cap || !qw->last) {
        size_t cap = len > 64 ? len : 64;
        unsigned char *grown = realloc(qw->last, cap);
        if (!grown)
            return;
        qw->last = grown;
        qw->last_cap = cap;
    }
    if (len)
        memcpy(qw->last, data, len);
    qw->last_len = len;
    qw->has_last = true;
}

json_t *coordinator_watches__latest(struct coordinator *c, const char *role, const char *port)
{
    struct port_watch *w = port_watch_find(c, role, port);
    if (!w || !w->qw || !w->qw->has_last)
        return NULL;
    return parse_data(w->qw->last, w->qw->last_len);
}

void coordinator_watches__data(struct coordinator *c, const char *queue, const void *data,
                               size_t len)
{
    /* Most messages (MQTT forwarding) are on no watched queue: find that out
     * without allocating; a watched port always holds its queue's watch. */
    struct queue_watch *qw;
    HASH_FIND_STR(c->queue_watches, queue, qw);
    if (!qw || qw->refs == 0)
        return;
    qw->messages++; /* counted whether or not anyone reads the data */
    keep_last(qw, data, len);
    if (!c->sys.events.data)
        return;
    /* what to report first (the callback may unwatch): the ports whose data
     * someone reads; with none, the message is not even parsed */
    json_t *ports = NULL;
    struct port_watch *w;
    DL_FOREACH2(qw->ports, w, qnext)
    {
        if (c->sys.events.data_wanted && !c->sys.events.data_wanted(c->sys.ud, w->role, w->port))
            continue;
        if (!ports && !(ports = json_array()))
            return;
        json_array_append_new(ports, json_pack("[ss]", w->role, w->port));
    }
    if (!ports)
        return;
    json_t *value = parse_data(data, len);
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
    struct port_watch *w, *wtmp;
    HASH_ITER(hh, c->port_watches, w, wtmp)
    {
        w->queue = NULL; /* no queue watch to release */
        w->qw = NULL;
        port_watch_free(c, w);
    }
    struct queue_watch *q, *qtmp;
    HASH_ITER(hh, c->queue_watches, q, qtmp)
    {
        HASH_DEL(c->queue_watches, q);
        free(q->last);
        free(q);
    }
    c->dirty_queues = NULL;
}
