/* Forwarding a router's table over a broker connection; see forwarder.h. */
#include "router/forwarder.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <jansson.h>
#include <stdlib.h>

#define NS "msgflo:forwarder"

struct forwarder {
    struct transport *t;
    struct router *table;
    json_t *watched; /* source topic -> true: watched on this connection */
};

int forwarder__new(struct transport *t, struct router *table, struct forwarder **out)
{
    struct forwarder *f = calloc(1, sizeof *f);
    if (!f)
        return MSGFLO_ENOMEM;
    f->t = t;
    f->table = table;
    f->watched = json_object();
    if (!f->watched) {
        free(f);
        return MSGFLO_ENOMEM;
    }
    *out = f;
    return 0;
}

void forwarder__free(struct forwarder *f)
{
    if (!f)
        return;
    json_decref(f->watched);
    free(f);
}

static int watch(struct forwarder *f, const char *topic)
{
    if (json_object_get(f->watched, topic))
        return 0;
    int rc = transport_watch(f->t, topic);
    if (rc == 0 && json_object_set_new(f->watched, topic, json_true()) != 0) {
        transport_unwatch(f->t, topic);
        rc = MSGFLO_ENOMEM;
    }
    return rc;
}

static void unwatch(struct forwarder *f, const char *topic)
{
    if (!json_object_get(f->watched, topic))
        return;
    int rc = transport_unwatch(f->t, topic);
    if (rc)
        LOG_DEBUG(NS, "unsubscribing %s: %s", topic, msgflo_strerror(rc));
    json_object_del(f->watched, topic);
}

int forwarder__add(struct forwarder *f, const char *src, const char *tgt, enum router_type type,
                   char *err, size_t errlen)
{
    int added = router__add(f->table, src, tgt, type, err, errlen);
    if (added < 0)
        return added == -1 ? MSGFLO_EINVAL : MSGFLO_ENOMEM;
    int rc = watch(f, src);
    if (rc && added == 0)
        router__remove(f->table, src, tgt); /* as before */
    return rc;
}

void forwarder__remove(struct forwarder *f, const char *src, const char *tgt)
{
    router__remove(f->table, src, tgt);
    if (!router__bound(f->table, src))
        unwatch(f, src);
}

struct sync_state {
    struct forwarder *f;
    const char *last; /* bindings come grouped by source: one watch each */
    int rc;
};

static void sync_one(const struct router_binding_info *b, void *ud)
{
    struct sync_state *st = ud;
    if (st->last == b->src)
        return;
    st->last = b->src;
    int rc = watch(st->f, b->src);
    st->rc = st->rc ? st->rc : rc;
}

int forwarder__sync(struct forwarder *f)
{
    const char *topic;
    json_t *v, *tmp;
    json_object_foreach_safe(f->watched, tmp, topic, v)
    {
        if (!router__bound(f->table, topic))
            unwatch(f, topic);
    }
    struct sync_state st = {.f = f};
    router__each(f->table, sync_one, &st);
    return st.rc;
}

int forwarder__restore(struct forwarder *f)
{
    json_object_clear(f->watched); /* the watches ended with the old connection */
    return forwarder__sync(f);
}

bool forwarder__on_message(struct forwarder *f, const char *topic,
                           const struct transport_delivery *d, const void *data, size_t len)
{
    if (!json_object_get(f->watched, topic))
        return false; /* not bound, or unwatched and still arriving */
    /* On a forwarding (MQTT 5) connection its own republications do not
     * come back: the whole chain here, each target once, as the plugin
     * (router__route); else each source's own targets (forwarder.h). */
    bool whole = d && d->forwarding;
    if (!whole && d && d->retained)
        return true; /* published before the binding, see forwarder.h */
    const char *const *targets;
    size_t n = whole ? router__route(f->table, topic, len, &targets)
                     : router__targets(f->table, topic, len, &targets);
    for (size_t i = 0; i < n; i++) {
        int rc = whole ? transport_forward(f->t, targets[i], d, data, len)
                       : transport_publish_as(f->t, targets[i], data, len, d ? d->qos : 0, false);
        if (rc)
            LOG_WARNING(NS, "forwarding %s -> %s failed: %s", topic, targets[i],
                        msgflo_strerror(rc));
    }
    return true;
}
