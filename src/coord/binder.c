/* Bindings on the broker: AMQP topology or MQTT forwarding; see binder.h. */
#include "coord/binder.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:binder"

struct binder {
    struct transport *t;
    struct bindings added;
    bool *active;   /* per added binding; false once removed */
    json_t *by_src; /* src queue -> [indexes into added]: no scan per message */
};

int binder__new(struct transport *t, struct binder **out)
{
    struct binder *b = calloc(1, sizeof *b);
    if (!b)
        return MSGFLO_ENOMEM;
    b->t = t;
    b->by_src = json_object();
    if (!b->by_src) {
        free(b);
        return MSGFLO_ENOMEM;
    }
    *out = b;
    return 0;
}

void binder__free(struct binder *b)
{
    if (!b)
        return;
    bindings__cleanup(&b->added);
    free(b->active);
    json_decref(b->by_src);
    free(b);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool matches(const struct binding *y, const struct binding *x)
{
    return y->type == x->type && same(y->src, x->src) && same(y->tgt, x->tgt) &&
           same(y->deadletter, x->deadletter);
}

static long find(const struct binder *b, const struct binding *x)
{
    if (x->src) {
        size_t k;
        json_t *idx;
        json_array_foreach(json_object_get(b->by_src, x->src), k, idx)
        {
            long i = (long)json_integer_value(idx);
            if (matches(&b->added.items[i], x))
                return i;
        }
        return -1;
    }
    for (size_t i = 0; i < b->added.count; i++) {
        if (matches(&b->added.items[i], x))
            return (long)i;
    }
    return -1;
}

static int amqp_pubsub(struct transport *t, const char *src, const char *tgt)
{
    int rc = transport_declare_outqueue(t, src);
    if (rc == 0)
        rc = transport_declare_inqueue(t, tgt);
    if (rc == 0)
        rc = transport_bind_queue(t, tgt, src, true);
    return rc;
}

static int amqp_roundrobin(struct transport *t, const struct binding *x)
{
    char name[300];
    int rc = 0;
    if (x->src && x->tgt) {
        snprintf(name, sizeof name, "out-%s", x->src);
        rc = transport_declare_outqueue(t, x->src);
        if (rc == 0)
            rc = transport_declare_inqueue(t, x->tgt);
        if (rc == 0)
            rc = transport_declare_exchange(t, name, "direct");
        if (rc == 0)
            rc = transport_bind_exchange(t, name, x->src);
        if (rc == 0)
            rc = transport_bind_queue(t, x->tgt, name, true);
    }
    if (rc == 0 && x->tgt && x->deadletter) {
        snprintf(name, sizeof name, "dead-%s", x->tgt);
        rc = transport_declare_exchange(t, name, "fanout");
        if (rc == 0)
            rc = transport_declare_inqueue(t, x->deadletter);
        if (rc == 0)
            rc = transport_bind_queue(t, x->deadletter, name, true);
    }
    return rc;
}

static int realize(struct binder *b, const struct binding *x)
{
    if (transport_has_bindings(b->t))
        return x->type == BINDING_PUBSUB ? amqp_pubsub(b->t, x->src, x->tgt)
                                         : amqp_roundrobin(b->t, x);
    /* MQTT: forward src -> tgt; src == tgt needs nothing */
    if (!x->src || !x->tgt || strcmp(x->src, x->tgt) == 0)
        return 0;
    if (x->deadletter)
        LOG_WARNING(NS, "dead-lettering to %s is not possible on MQTT (no nack)", x->deadletter);
    return transport_subscribe(b->t, x->src);
}

int binder__add(struct binder *b, const struct binding *x)
{
    long i = find(b, x);
    if (i >= 0 && !b->active[i]) { /* removed before: made again */
        int rc = realize(b, x);
        if (rc == 0)
            b->active[i] = true;
        return rc;
    }
    if (i >= 0)
        return 0;
    int rc = realize(b, x);
    if (rc) {
        LOG_ERROR(NS, "binding %s -> %s failed: %s", x->src ? x->src : "?", x->tgt ? x->tgt : "?",
                  msgflo_strerror(rc));
        return rc;
    }
    struct binding *items = realloc(b->added.items, (b->added.count + 1) * sizeof *items);
    if (!items)
        return MSGFLO_ENOMEM;
    b->added.items = items;
    bool *active = realloc(b->active, (b->added.count + 1) * sizeof *active);
    if (!active)
        return MSGFLO_ENOMEM;
    b->active = active;
    struct binding *n = &items[b->added.count];
    n->type = x->type;
    n->src = x->src ? strdup(x->src) : NULL;
    n->tgt = x->tgt ? strdup(x->tgt) : NULL;
    n->deadletter = x->deadletter ? strdup(x->deadletter) : NULL;
    active[b->added.count] = true;
    b->added.count++;
    if ((x->src && !n->src) || (x->tgt && !n->tgt) || (x->deadletter && !n->deadletter))
        return MSGFLO_ENOMEM;
    if (n->src) {
        json_t *idx = json_object_get(b->by_src, n->src);
        if (!idx) {
            idx = json_array();
            if (json_object_set_new(b->by_src, n->src, idx) != 0)
                return MSGFLO_ENOMEM;
        }
        if (json_array_append_new(idx, json_integer((json_int_t)(b->added.count - 1))) != 0)
            return MSGFLO_ENOMEM;
    }
    LOG_DEBUG(NS, "bound %s -> %s", x->src ? x->src : "?", x->tgt ? x->tgt : "?");
    return 0;
}

int binder__remove(struct binder *b, const struct binding *x)
{
    long i = find(b, x);
    if (i < 0 || !b->active[i])
        return 0;
    if (x->type != BINDING_PUBSUB)
        return MSGFLO_EINVAL; /* as msgflo-nodejs: roundrobin removal unsupported */
    b->active[i] = false;
    if (transport_has_bindings(b->t))
        return transport_bind_queue(b->t, x->tgt, x->src, false);
    return 0; /* MQTT: the forwarder is off; the subscription stays, harmless */
}

bool binder__on_message(struct binder *b, const char *queue, const void *data, size_t len)
{
    bool matched = false;
    if (transport_has_bindings(b->t))
        return false;
    size_t k;
    json_t *idx;
    json_array_foreach(json_object_get(b->by_src, queue), k, idx)
    {
        size_t i = (size_t)json_integer_value(idx);
        const struct binding *x = &b->added.items[i];
        if (!b->active[i] || !x->tgt || strcmp(x->src, x->tgt) == 0)
            continue;
        matched = true;
        int rc = transport_publish(b->t, x->tgt, data, len);
        if (rc)
            LOG_WARNING(NS, "forwarding %s -> %s failed: %s", x->src, x->tgt, msgflo_strerror(rc));
    }
    return matched;
}

int binder__restore(struct binder *b)
{
    int rc = 0;
    for (size_t i = 0; i < b->added.count; i++) {
        if (!b->active[i])
            continue;
        int r = realize(b, &b->added.items[i]);
        if (r && !rc)
            rc = r;
    }
    return rc;
}

bool binder__needs_process(const struct binder *b)
{
    if (transport_has_bindings(b->t))
        return false;
    for (size_t i = 0; i < b->added.count; i++) {
        const struct binding *x = &b->added.items[i];
        if (b->active[i] && x->src && x->tgt && strcmp(x->src, x->tgt) != 0)
            return true;
    }
    return false;
}
