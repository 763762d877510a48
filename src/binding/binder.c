/* Bindings on the broker: AMQP topology or MQTT forwarding; see binder.h. */
#include "binding/binder.h"

#include "core/log.h"
#include "msgflo/errors.h"
#include "router/forwarder.h"
#include "transport/admin_worker.h"
#include "transport/amqp_topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:binder"

/* What became of one added binding. */
struct bound {
    bool active; /* false once removed or while it failed */
    /* MQTT: forwarded by this process (in the forwarder's table) / kept by
     * the broker's router (its result was ok) / the addbinding request
     * awaiting its result (0: none) / the request given up on
     * (binder__give_up) whose late result may still come (0: none) */
    bool sub, routed;
    unsigned long req, late;
};

/* A call on the administration worker's thread (binder__call_async). */
struct binder_call {
    struct binder *b;
    void (*work)(struct binder *b, void *arg);
    void (*done)(struct binder *b, void *arg);
    void (*free_arg)(void *arg);
    void *arg;
};

struct binder {
    struct transport *t;
    bool amqp; /* transport_has_bindings(t), kept: read by the worker too */
    /* AMQP off the loop (binder__call_async): the worker, and while a call
     * runs on its thread its connection slot and node (the batches go
     * there; NULL: on the transport's, blocking) */
    struct admin_worker *worker;
    struct amqp_topology **conn;
    const msgflo_url *node;
    struct bindings added;
    size_t cap;
    struct bound *state; /* per added binding, same index */
    enum binder_router router;
    unsigned long next_req;
    char *id_prefix;  /* request ids: "<id_prefix>-<n>" */
    json_t *requests; /* request id -> {n, idx: [indexes into added]}, awaiting their result */
    json_t *late;     /* the same, given up on (binder__give_up), until the router's mode changes */
    struct router *table; /* MQTT: what this process forwards, carried out by fw */
    struct forwarder *fw;
    json_t *by_src;   /* src queue -> [indexes into added]: no scan per message */
    json_t *declared; /* AMQP: "i:<inqueue>", "o:<outqueue>", "e:<exchange>" declared */
};

int binder__new(struct transport *t, struct binder **out)
{
    struct binder *b = calloc(1, sizeof *b);
    if (!b)
        return MSGFLO_ENOMEM;
    b->t = t;
    b->amqp = transport_has_bindings(t);
    b->by_src = json_object();
    b->declared = json_object();
    b->requests = json_object();
    b->late = json_object();
    b->router = BINDER_ROUTER_NONE;
    if (!b->by_src || !b->declared || !b->requests || !b->late ||
        router__new(NULL, "msgflo", &b->table) != 0 || forwarder__new(t, b->table, &b->fw) != 0) {
        binder__free(b);
        return MSGFLO_ENOMEM;
    }
    *out = b;
    return 0;
}

static void destroy(struct binder *b)
{
    bindings__cleanup(&b->added);
    free(b->state);
    free(b->id_prefix);
    json_decref(b->by_src);
    json_decref(b->declared);
    json_decref(b->requests);
    json_decref(b->late);
    forwarder__free(b->fw);
    router__free(b->table);
    free(b);
}

static void destroy_later(void *b)
{
    destroy(b);
}

void binder__free(struct binder *b)
{
    if (!b)
        return;
    if (admin_worker__busy(b->worker)) {
        /* A call still under way (a broker that does not answer): the loop
         * does not wait for it; the binder goes when it ends. */
        admin_worker__free(b->worker, destroy_later, b);
        return;
    }
    admin_worker__free(b->worker, NULL, NULL);
    destroy(b);
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

/* Copies x into added (inactive); its index in *out. */
static int remember(struct binder *b, const struct binding *x, size_t *out)
{
    if (b->added.count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct binding *items = realloc(b->added.items, cap * sizeof *items);
        if (!items)
            return MSGFLO_ENOMEM;
        b->added.items = items;
        struct bound *state = realloc(b->state, cap * sizeof *state);
        if (!state)
            return MSGFLO_ENOMEM;
        b->state = state;
        b->cap = cap;
    }
    struct binding *n = &b->added.items[b->added.count];
    n->type = x->type;
    n->src = x->src ? strdup(x->src) : NULL;
    n->tgt = x->tgt ? strdup(x->tgt) : NULL;
    n->deadletter = x->deadletter ? strdup(x->deadletter) : NULL;
    b->state[b->added.count] = (struct bound){0};
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
    *out = b->added.count - 1;
    return 0;
}

/* --- AMQP: steps of one batch ------------------------------------------------------ */

struct plan {
    struct transport_step *steps;
    size_t *owner; /* per step: position of its binding in the list being made */
    size_t n, cap;
    char **names; /* names made here ("out-<src>", "dead-<tgt>"), owned */
    size_t n_names;
    json_t *keys; /* per step: the declared-set key it adds, or null */
};

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n_names; i++)
        free(p->names[i]);
    free(p->names);
    free(p->steps);
    free(p->owner);
    json_decref(p->keys);
}

static int plan_step(struct plan *p, size_t owner, enum transport_step_kind kind, const char *name,
                     const char *source, const char *type)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct transport_step *steps = realloc(p->steps, cap * sizeof *steps);
        if (!steps)
            return MSGFLO_ENOMEM;
        p->steps = steps;
        size_t *owners = realloc(p->owner, cap * sizeof *owners);
        if (!owners)
            return MSGFLO_ENOMEM;
        p->owner = owners;
        p->cap = cap;
    }
    p->steps[p->n] =
        (struct transport_step){.kind = kind, .name = name, .source = source, .type = type};
    p->owner[p->n] = owner;
    p->n++;
    return p->keys && json_array_append_new(p->keys, json_null()) != 0 ? MSGFLO_ENOMEM : 0;
}

/* A declaration, unless made on this connection already (or earlier in the plan). */
static int plan_declare(struct binder *b, struct plan *p, size_t owner,
                        enum transport_step_kind kind, const char *name, const char *type)
{
    char key[512];
    snprintf(key, sizeof key, "%c:%s",
             kind == TRANSPORT_DECLARE_INQUEUE    ? 'i'
             : kind == TRANSPORT_DECLARE_OUTQUEUE ? 'o'
                                                  : 'e',
             name);
    if (json_object_get(b->declared, key))
        return 0;
    int rc = plan_step(p, owner, kind, name, NULL, type);
    if (rc == 0 && (json_object_set_new(b->declared, key, json_true()) != 0 ||
                    json_array_set_new(p->keys, p->n - 1, json_string(key)) != 0))
        rc = MSGFLO_ENOMEM;
    return rc;
}

static const char *plan_name(struct plan *p, const char *prefix, const char *name)
{
    char **names = realloc(p->names, (p->n_names + 1) * sizeof *names);
    if (!names)
        return NULL;
    p->names = names;
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    snprintf(s, len, "%s%s", prefix, name);
    p->names[p->n_names++] = s;
    return s;
}

/* Every declaration and then every binding of xs[k] for the positions in
 * `which`, as binder.h lists them. */
static int plan_full(struct binder *b, struct plan *p, const struct binding *const *xs,
                     const size_t *which, size_t n)
{
    int rc = 0;
    const char **outx = calloc(n ? n : 1, sizeof *outx), **deadx = calloc(n ? n : 1, sizeof *deadx);
    if (!outx || !deadx) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    for (size_t j = 0; rc == 0 && j < n; j++) {
        const struct binding *x = xs[which[j]];
        if (x->src && x->tgt) {
            rc = plan_declare(b, p, which[j], TRANSPORT_DECLARE_OUTQUEUE, x->src, NULL);
            if (rc == 0)
                rc = plan_declare(b, p, which[j], TRANSPORT_DECLARE_INQUEUE, x->tgt, NULL);
            if (rc == 0 && x->type == BINDING_ROUNDROBIN) {
                outx[j] = plan_name(p, "out-", x->src);
                rc = outx[j] ? plan_declare(b, p, which[j], TRANSPORT_DECLARE_EXCHANGE, outx[j],
                                            "direct")
                             : MSGFLO_ENOMEM;
            }
        }
        if (rc == 0 && x->type == BINDING_ROUNDROBIN && x->tgt && x->deadletter) {
            deadx[j] = plan_name(p, "dead-", x->tgt);
            rc = deadx[j]
                     ? plan_declare(b, p, which[j], TRANSPORT_DECLARE_EXCHANGE, deadx[j], "fanout")
                     : MSGFLO_ENOMEM;
            if (rc == 0)
                rc = plan_declare(b, p, which[j], TRANSPORT_DECLARE_INQUEUE, x->deadletter, NULL);
        }
    }
    for (size_t j = 0; rc == 0 && j < n; j++) {
        const struct binding *x = xs[which[j]];
        if (x->type == BINDING_PUBSUB) {
            rc = plan_step(p, which[j], TRANSPORT_BIND_QUEUE, x->tgt, x->src, NULL);
            continue;
        }
        if (outx[j]) {
            rc = plan_step(p, which[j], TRANSPORT_BIND_EXCHANGE, outx[j], x->src, NULL);
            if (rc == 0)
                rc = plan_step(p, which[j], TRANSPORT_BIND_QUEUE, x->tgt, outx[j], NULL);
        }
        if (rc == 0 && deadx[j])
            rc = plan_step(p, which[j], TRANSPORT_BIND_QUEUE, x->deadletter, deadx[j], NULL);
    }
out:
    free(outx);
    free(deadx);
    return rc;
}

/* One batch: on the worker's own connection (binder__call_async), else
 * blocking on the transport's. */
static int topology(struct binder *b, struct transport_step *steps, size_t n)
{
    if (b->conn)
        return transport_topology_on(b->conn, b->node, steps, n);
    return transport_topology(b->t, steps, n);
}

/* Runs the plan; each step's failure goes to its binding's rcs[]. A failed
 * declaration is forgotten, so it is tried again next time. */
static void plan_run(struct binder *b, struct plan *p, int *rcs)
{
    topology(b, p->steps, p->n);
    for (size_t i = 0; i < p->n; i++) {
        if (!p->steps[i].rc)
            continue;
        if (!rcs[p->owner[i]])
            rcs[p->owner[i]] = p->steps[i].rc;
        const char *key = json_string_value(json_array_get(p->keys, i));
        if (key)
            json_object_del(b->declared, key);
    }
}

/* With `trust`, pubsub bindings are first bound alone (both ends usually
 * exist); those whose bind finds an end missing, and every roundrobin
 * binding, are then made in full. Without, all are made in full. */
static int amqp_make(struct binder *b, const struct binding *const *xs, size_t n, bool trust,
                     int *rcs)
{
    struct plan p = {.keys = json_array()};
    size_t *full = malloc((n ? n : 1) * sizeof *full), n_full = 0;
    int rc = p.keys && full ? 0 : MSGFLO_ENOMEM;
    size_t first = 0;
    bool probed = false;
    if (rc == 0 && !trust) {
        for (size_t k = 0; k < n; k++)
            full[n_full++] = k;
        goto make_full;
    }
    /* The first bind alone: when it finds an end missing, as on a fresh
     * broker, every binding is made in full at once. */
    for (; rc == 0 && first < n && xs[first]->type != BINDING_PUBSUB; first++)
        ;
    if (rc == 0 && first < n && n > 1) {
        struct transport_step probe = {.kind = TRANSPORT_BIND_QUEUE,
                                       .name = xs[first]->tgt,
                                       .source = xs[first]->src,
                                       .may_be_missing = true};
        topology(b, &probe, 1);
        if (probe.rc != 0 && probe.rc != MSGFLO_ENOPORT)
            rcs[first] = probe.rc;
        probed = true;
        if (probe.rc == MSGFLO_ENOPORT) {
            for (size_t k = 0; k < n; k++)
                full[n_full++] = k;
            goto make_full;
        }
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (xs[k]->type != BINDING_PUBSUB) {
            full[n_full++] = k;
        } else if (!(probed && k == first)) {
            rc = plan_step(&p, k, TRANSPORT_BIND_QUEUE, xs[k]->tgt, xs[k]->src, NULL);
            if (rc == 0)
                p.steps[p.n - 1].may_be_missing = true;
        }
    }
    if (rc == 0 && p.n > 0) {
        topology(b, p.steps, p.n);
        for (size_t i = 0; i < p.n; i++) {
            if (p.steps[i].rc == MSGFLO_ENOPORT)
                full[n_full++] = p.owner[i];
            else if (p.steps[i].rc)
                rcs[p.owner[i]] = p.steps[i].rc;
        }
        p.n = 0;
        json_array_clear(p.keys);
    }
make_full:
    if (rc == 0 && n_full > 0)
        rc = plan_full(b, &p, xs, full, n_full);
    if (rc == 0 && p.n > 0)
        plan_run(b, &p, rcs);
    plan_free(&p);
    free(full);
    return rc;
}

/* --- MQTT: forwarding, or the broker's router --------------------------------------- */

bool binder__needs_nothing(const struct binder *b, const char *src, const char *tgt)
{
    return !b->amqp && strcmp(src, tgt) == 0;
}

#define ROUTER_TOPIC "/msgrouter/default/"

static bool forwardable(const struct binder *b, const struct binding *x)
{
    return x->src && x->tgt && !binder__needs_nothing(b, x->src, x->tgt);
}

/* Forwards added[i] src -> tgt from this process (the forwarder, shared
 * with msgflo-router). The forwarder watches each source topic once, not
 * subscribes: the topic is unsubscribed once no forwarding (and no live
 * view) reads it any more. A binding that would loop on topics alone
 * (a -> b, b -> a) is refused: the broker would carry it forever. */
static int mqtt_forward(struct binder *b, size_t i)
{
    const struct binding *x = &b->added.items[i];
    if (b->state[i].sub || !forwardable(b, x))
        return 0;
    if (x->deadletter)
        LOG_WARNING(NS, "dead-lettering to %s is not possible on MQTT (no nack)", x->deadletter);
    char err[ROUTER_MAX_TOPIC + 200];
    int rc = forwarder__add(b->fw, x->src, x->tgt,
                            x->type == BINDING_ROUNDROBIN ? ROUTER_ROUNDROBIN : ROUTER_PUBSUB, err,
                            sizeof err);
    if (rc == MSGFLO_EINVAL)
        LOG_ERROR(NS, "cannot forward %s -> %s: %s", x->src, x->tgt, err);
    if (rc == 0)
        b->state[i].sub = true;
    return rc;
}

/* Whether another binding than added[i] forwards the same src -> tgt (one
 * entry of the forwarder's table, e.g. a pubsub and a roundrobin one). */
static bool shared_forward(const struct binder *b, size_t i)
{
    const struct binding *x = &b->added.items[i];
    size_t k;
    json_t *idx;
    json_array_foreach(json_object_get(b->by_src, x->src), k, idx)
    {
        size_t j = (size_t)json_integer_value(idx);
        if (j != i && b->state[j].sub && strcmp(b->added.items[j].tgt, x->tgt) == 0)
            return true;
    }
    return false;
}

/* Stops forwarding added[i]: the router keeps it, or it was removed. What
 * arrives after this (sent before the UNSUBSCRIBE took effect) is not
 * forwarded: the binding has left the forwarder's table. */
static void mqtt_unforward(struct binder *b, size_t i)
{
    if (!b->state[i].sub)
        return;
    b->state[i].sub = false;
    if (!shared_forward(b, i))
        forwarder__remove(b->fw, b->added.items[i].src, b->added.items[i].tgt);
}

/* Publishes one request naming added[idx[k]] (a batch); with `track`, its
 * result is awaited (binder__on_result) and the bindings marked with it. */
static int router_request(struct binder *b, const char *command, const size_t *idx, size_t n,
                          bool track)
{
    if (n == 0)
        return 0;
    int rc = MSGFLO_ENOMEM;
    char id[200], topic[64];
    unsigned long num = ++b->next_req;
    snprintf(id, sizeof id, "%s-%lu", b->id_prefix ? b->id_prefix : "msgflo", num);
    snprintf(topic, sizeof topic, ROUTER_TOPIC "%s", command);
    json_t *list = json_array(), *which = json_array(), *msg = NULL;
    char *text = NULL;
    for (size_t k = 0; list && which && k < n; k++) {
        const struct binding *x = &b->added.items[idx[k]];
        if (json_array_append_new(
                list, json_pack("{s:s,s:s,s:s}", "src", x->src, "tgt", x->tgt, "type",
                                x->type == BINDING_ROUNDROBIN ? "roundrobin" : "pubsub")) ||
            json_array_append_new(which, json_integer((json_int_t)idx[k])))
            goto out;
    }
    msg = list ? json_pack("{s:O,s:s}", "bindings", list, "id", id) : NULL;
    text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    if (!text)
        goto out;
    rc = transport_publish(b->t, topic, text, strlen(text));
    if (rc || !track)
        goto out;
    rc = json_object_set_new(b->requests, id,
                             json_pack("{s:I,s:O}", "n", (json_int_t)num, "idx", which))
             ? MSGFLO_ENOMEM
             : 0;
    for (size_t k = 0; rc == 0 && k < n; k++)
        b->state[idx[k]].req = num;
    LOG_DEBUG(NS, "%s of %zu binding(s) sent to the broker's router (%s)", command, n, id);
out:
    free(text);
    json_decref(msg);
    json_decref(list);
    json_decref(which);
    return rc;
}

/* Makes the active bindings (or those of idx, when given) as the router
 * mode says: forwarded (NONE), asked of the router (PRESENT), or not yet. */
static int mqtt_make_all(struct binder *b, const size_t *only, size_t n_only)
{
    size_t n = only ? n_only : b->added.count, m = 0;
    size_t *ask = malloc((n ? n : 1) * sizeof *ask);
    if (!ask)
        return MSGFLO_ENOMEM;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = only ? only[k] : k;
        if (!b->state[i].active || !forwardable(b, &b->added.items[i]))
            continue;
        if (b->router == BINDER_ROUTER_NONE) {
            int r = mqtt_forward(b, i);
            rc = rc ? rc : r;
        } else if (b->router == BINDER_ROUTER_PRESENT && !b->state[i].routed && !b->state[i].req) {
            ask[m++] = i;
        }
    }
    if (m > 0) {
        int r = router_request(b, "addbinding", ask, m, true);
        if (r) {
            LOG_WARNING(NS, "asking the broker's router failed (%s): forwarding instead",
                        msgflo_strerror(r));
            for (size_t k = 0; k < m; k++) {
                b->state[ask[k]].req = 0;
                int f = mqtt_forward(b, ask[k]);
                rc = rc ? rc : f;
            }
        }
    }
    free(ask);
    return rc;
}

/* Makes added[idx[k]] real; marks those made active. Returns the first
 * error; out (may be NULL) gets each one's result. */
static int make(struct binder *b, const size_t *idx, size_t n, bool trust, int *out)
{
    int rc = 0;
    int *rcs = out ? out : calloc(n ? n : 1, sizeof *rcs);
    const struct binding **xs = calloc(n ? n : 1, sizeof *xs);
    if (!rcs || !xs) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        xs[k] = &b->added.items[idx[k]];
    if (b->amqp) {
        rc = amqp_make(b, xs, n, trust, rcs);
    } else {
        for (size_t k = 0; k < n; k++) {
            rcs[k] = b->router == BINDER_ROUTER_NONE ? mqtt_forward(b, idx[k]) : 0;
            if (rcs[k] == 0 && xs[k]->deadletter && b->router != BINDER_ROUTER_NONE)
                LOG_WARNING(NS, "dead-lettering to %s is not possible on MQTT (no nack)",
                            xs[k]->deadletter);
        }
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const struct binding *x = xs[k];
        if (rcs[k]) {
            LOG_ERROR(NS, "binding %s -> %s failed: %s", x->src ? x->src : "?",
                      x->tgt ? x->tgt : "?", msgflo_strerror(rcs[k]));
            continue;
        }
        b->state[idx[k]].active = true;
        LOG_DEBUG(NS, "bound %s -> %s", x->src ? x->src : "?", x->tgt ? x->tgt : "?");
    }
    if (rc == 0 && !b->amqp && b->router == BINDER_ROUTER_PRESENT)
        rc = mqtt_make_all(b, idx, n);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = rcs[k];
out:
    for (size_t k = 0; out && rc == MSGFLO_ENOMEM && k < n; k++)
        out[k] = out[k] ? out[k] : rc;
    if (rcs != out)
        free(rcs);
    free(xs);
    return rc;
}

/* out (may be NULL): each item's result (0 when made now or before). */
static int add(struct binder *b, const struct binding *items, size_t n, bool trust, int *out)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), m = 0;
    /* per added binding: already in idx (only a list can repeat one; not
     * per call for one, which would make adding N one by one quadratic) */
    bool *listed = n > 1 ? calloc(b->added.count + n, sizeof *listed) : NULL;
    long *pos = out ? malloc((n ? n : 1) * sizeof *pos) : NULL; /* item -> its added index */
    int rc = idx && (listed || n <= 1) && (pos || !out) ? 0 : MSGFLO_ENOMEM;
    for (size_t k = 0; pos && k < n; k++)
        pos[k] = -1;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const struct binding *x = &items[k];
        if (x->src && x->tgt && binder__needs_nothing(b, x->src, x->tgt))
            continue; /* MQTT, one topic: nothing to forward, nothing to keep */
        long i = find(b, x);
        if (i >= 0 && b->state[i].active)
            continue; /* made already */
        size_t at = (size_t)i;
        if (i < 0 && (rc = remember(b, &items[k], &at)) != 0)
            break;
        if (pos)
            pos[k] = (long)at;
        if (!listed || !listed[at])
            idx[m++] = at;
        if (listed)
            listed[at] = true;
    }
    int *rcs = out && rc == 0 ? calloc(m ? m : 1, sizeof *rcs) : NULL;
    if (out && rc == 0 && !rcs)
        rc = MSGFLO_ENOMEM;
    if (rc == 0)
        rc = make(b, idx, m, trust, rcs);
    /* a failed binding stays inactive: its result is its own failure */
    int *by_added =
        out && rcs ? calloc(b->added.count ? b->added.count : 1, sizeof *by_added) : NULL;
    for (size_t j = 0; by_added && j < m; j++)
        by_added[idx[j]] = rcs[j];
    for (size_t k = 0; out && k < n; k++) {
        out[k] = !pos || rc == MSGFLO_ENOMEM ? rc : 0;
        if (out[k] == 0 && pos[k] >= 0 && !b->state[pos[k]].active) {
            int own = by_added ? by_added[pos[k]] : 0;
            out[k] = own ? own : rc ? rc : MSGFLO_EPROTO;
        }
    }
    free(by_added);
    free(rcs);
    free(pos);
    free(listed);
    free(idx);
    return rc;
}

int binder__add(struct binder *b, const struct binding *x)
{
    return add(b, x, 1, false, NULL);
}

int binder__add_all(struct binder *b, const struct binding *items, size_t n)
{
    return add(b, items, n, true, NULL);
}

int binder__add_each(struct binder *b, const struct binding *items, size_t n, bool trust,
                     int *results)
{
    return add(b, items, n, trust, results);
}

int binder__remove(struct binder *b, const struct binding *x)
{
    long i = find(b, x);
    if (i < 0 || !b->state[i].active)
        return 0;
    if (x->type != BINDING_PUBSUB)
        return MSGFLO_EINVAL; /* as msgflo-nodejs: roundrobin removal unsupported */
    b->state[i].active = false;
    if (!b->amqp) {
        /* MQTT: the forwarder is off; a binding the router has or was
         * asked for is removed there */
        size_t at = (size_t)i;
        bool asked = b->state[i].routed || b->state[i].req || b->state[i].late;
        mqtt_unforward(b, at);
        b->state[i].routed = false;
        b->state[i].req = 0;
        b->state[i].late = 0;
        return asked ? router_request(b, "removebinding", &at, 1, false) : 0;
    }
    struct transport_step unbind = {
        .kind = TRANSPORT_UNBIND_QUEUE, .name = x->tgt, .source = x->src};
    return topology(b, &unbind, 1);
}

bool binder__on_message(struct binder *b, const char *queue, const struct transport_delivery *d,
                        const void *data, size_t len)
{
    if (b->amqp)
        return false;
    return forwarder__on_message(b->fw, queue, d, data, len);
}

int binder__restore(struct binder *b)
{
    json_object_clear(b->declared); /* a new connection: the broker may have lost them */
    if (b->conn) {                  /* and a new administration connection */
        amqp_topology__free(*b->conn, false);
        *b->conn = NULL;
    }
    /* MQTT: what was forwarded on the last connection is forwarded again at
     * once, whatever the router mode (a kept session delivers what came
     * meanwhile): a router, when found, takes it over without a loss */
    int forwarded = b->amqp ? 0 : forwarder__restore(b->fw);
    size_t *idx = malloc((b->added.count ? b->added.count : 1) * sizeof *idx), m = 0;
    if (!idx)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < b->added.count; i++) {
        if (b->state[i].active)
            idx[m++] = i;
    }
    int rc = make(b, idx, m, true, NULL);
    free(idx);
    return rc ? rc : forwarded;
}

bool binder__needs_process(const struct binder *b)
{
    if (b->amqp)
        return false;
    for (size_t i = 0; i < b->added.count; i++) {
        if (b->state[i].active && forwardable(b, &b->added.items[i]) && !b->state[i].routed)
            return true;
    }
    return false;
}

bool binder__settling(const struct binder *b)
{
    if (b->amqp)
        return false;
    if (json_object_size(b->requests) > 0)
        return true;
    for (size_t i = 0; b->router == BINDER_ROUTER_UNKNOWN && i < b->added.count; i++) {
        if (b->state[i].active && forwardable(b, &b->added.items[i]))
            return true;
    }
    return false;
}

int binder__set_id(struct binder *b, const char *id_prefix)
{
    char *p = strdup(id_prefix);
    if (!p)
        return MSGFLO_ENOMEM;
    free(b->id_prefix);
    b->id_prefix = p;
    return 0;
}

enum binder_router binder__router(const struct binder *b)
{
    return b->router;
}

int binder__set_router(struct binder *b, enum binder_router mode)
{
    if (mode != BINDER_ROUTER_PRESENT) {
        /* UNKNOWN, a new connection: the router (if any) is asked again;
         * what was forwarded stays so (binder__restore) until it is
         * decided. NONE: the router is gone, this process forwards all */
        for (size_t i = 0; i < b->added.count; i++) {
            b->state[i].routed = false;
            b->state[i].req = 0;
            b->state[i].late = 0;
        }
        json_object_clear(b->requests);
        json_object_clear(b->late);
    }
    b->router = mode;
    return b->amqp ? 0 : mqtt_make_all(b, NULL, 0);
}

/* The result of a request given up on (binder__give_up) arrived after all.
 * ok: the router has its bindings and forwards them, so this process stops
 * (else both would, and every message would arrive twice); not ok: they
 * stay forwarded here, as they are. */
static void late_result(struct binder *b, const char *id, bool ok)
{
    json_t *r = json_object_get(b->late, id);
    unsigned long num = (unsigned long)json_integer_value(json_object_get(r, "n"));
    size_t k, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(r, "idx"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (b->state[i].late != num)
            continue; /* removed, or asked again, meanwhile */
        b->state[i].late = 0;
        if (ok && b->state[i].active) {
            b->state[i].routed = true;
            mqtt_unforward(b, i);
            n++;
        }
    }
    if (n > 0)
        LOG_INFO(NS,
                 "the broker's router answered late: %zu binding(s) kept by it, no longer "
                 "forwarded by this process",
                 n);
    json_object_del(b->late, id);
}

int binder__on_result(struct binder *b, const void *data, size_t len, char *err, size_t errlen)
{
    json_t *res = json_loadb(data, len, 0, NULL);
    const char *id = json_string_value(json_object_get(res, "id"));
    json_t *r = id ? json_object_get(b->requests, id) : NULL;
    if (!r && id && json_object_get(b->late, id)) {
        late_result(b, id, json_is_true(json_object_get(res, "ok")));
        json_decref(res);
        return 0;
    }
    if (!r) {
        json_decref(res);
        return 0; /* another client's, or a removal's */
    }
    unsigned long num = (unsigned long)json_integer_value(json_object_get(r, "n"));
    bool ok = json_is_true(json_object_get(res, "ok"));
    size_t k, forwarded = 0;
    json_t *v;
    json_array_foreach(json_object_get(r, "idx"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (b->state[i].req != num)
            continue; /* removed meanwhile */
        b->state[i].req = 0;
        if (ok) {
            /* from now on the broker forwards it: what this process
             * receives on src after this result the router has forwarded
             * too (one broker, messages to one client in order) */
            b->state[i].routed = true;
            mqtt_unforward(b, i);
        } else if (b->state[i].active && mqtt_forward(b, i) == 0) {
            forwarded++;
        }
    }
    int rc = 0;
    if (!ok) {
        const char *why = json_string_value(json_object_get(res, "error"));
        if (err && errlen)
            snprintf(err, errlen,
                     "the broker's router refused bindings (%zu forwarded by this process "
                     "instead): %s",
                     forwarded, why ? why : "no reason given");
        rc = MSGFLO_EPROTO;
    }
    json_object_del(b->requests, id);
    json_decref(res);
    return rc;
}

unsigned long binder__last_request(const struct binder *b)
{
    return json_object_size(b->requests) ? b->next_req : 0;
}

size_t binder__give_up(struct binder *b, unsigned long upto)
{
    size_t forwarded = 0;
    const char *id;
    json_t *r, *tmp;
    json_object_foreach_safe(b->requests, tmp, id, r)
    {
        unsigned long num = (unsigned long)json_integer_value(json_object_get(r, "n"));
        if (num > upto)
            continue;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(r, "idx"), k, v)
        {
            size_t i = (size_t)json_integer_value(v);
            if (b->state[i].req != num)
                continue;
            b->state[i].req = 0;
            b->state[i].late = num; /* a late ok stops this forwarding (late_result) */
            if (b->state[i].active && mqtt_forward(b, i) == 0)
                forwarded++;
        }
        if (json_object_set(b->late, id, r) != 0)
            LOG_WARNING(NS, "out of memory: a late answer to %s will be ignored", id);
        json_object_del(b->requests, id);
    }
    return forwarded;
}

/* --- AMQP off the event loop ------------------------------------------------------------ */

static void call_work(struct amqp_topology **conn, const msgflo_url *node, void *arg)
{
    struct binder_call *call = arg;
    struct binder *b = call->b;
    b->conn = conn;
    b->node = node;
    call->work(b, call->arg);
    b->conn = NULL;
    b->node = NULL;
}

static void call_done(void *arg)
{
    struct binder_call *call = arg;
    void (*done)(struct binder *, void *) = call->done;
    struct binder *b = call->b;
    void *ud = call->arg;
    free(call);
    done(b, ud);
}

static void call_free(void *arg)
{
    struct binder_call *call = arg;
    if (call->free_arg)
        call->free_arg(call->arg);
    free(call);
}

int binder__call_async(struct binder *b, uv_loop_t *loop, void (*work)(struct binder *b, void *arg),
                       void (*done)(struct binder *b, void *arg), void (*free_arg)(void *arg),
                       void *arg)
{
    if (!b->amqp || admin_worker__busy(b->worker))
        return MSGFLO_EINVAL;
    (void)msgflo_log_enabled(NS); /* DEBUG read here, on the loop thread */
    if (!b->worker) {
        int rc = admin_worker__new(b->t, loop, &b->worker);
        if (rc)
            return rc;
    }
    struct binder_call *call = malloc(sizeof *call);
    if (!call)
        return MSGFLO_ENOMEM;
    *call =
        (struct binder_call){.b = b, .work = work, .done = done, .free_arg = free_arg, .arg = arg};
    int rc = admin_worker__run(b->worker, call_work, call_done, call_free, call);
    if (rc)
        free(call);
    return rc;
}

bool binder__busy(const struct binder *b)
{
    return b && admin_worker__busy(b->worker);
}
