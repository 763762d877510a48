/* Which client gets network:data of which edge: the edges each client
 * selected with network:edges (docs/runtime-protocol.md#network). A client
 * that never sent network:edges gets the data of every edge (fbp-test and
 * the original's clients expect that); one that did gets only its selection
 * (none for an empty list), until it selects again or is gone. The system is
 * asked for data (system_events.data_wanted) only of ports someone reads. */
#include "runtime/live_internal.h"

#include "core/key.h"
#include "msgflo/errors.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* An edge in a set: its key__join key of (src, src port, tgt, tgt port),
 * inline. In a client's selection refs is 1; in the live's union of all
 * selections it counts the clients selecting the edge. */
struct live_selected {
    char *key;
    unsigned refs;
    UT_hash_handle hh;
    char text[];
};

struct live_selection {
    void *client;                /* the key; opaque, from the protocol */
    struct live_selected *edges; /* owned */
    UT_hash_handle hh;
};

static char *edge_key(const char *sn, const char *sp, const char *tn, const char *tp, char *buf,
                      size_t cap)
{
    const char *parts[] = {sn, sp, tn, tp};
    return key__join_buf(buf, cap, parts, 4);
}

/* Adds key to the set (refs + 1); 0 or MSGFLO_ENOMEM. */
static int set_add(struct live_selected **set, const char *key)
{
    struct live_selected *e;
    HASH_FIND_STR(*set, key, e);
    if (!e) {
        size_t len = strlen(key);
        if (!(e = calloc(1, sizeof *e + len + 1)))
            return MSGFLO_ENOMEM;
        e->key = memcpy(e->text, key, len + 1);
        HASH_ADD_KEYPTR(hh, *set, e->key, len, e);
    }
    e->refs++;
    return 0;
}

static void set_remove(struct live_selected **set, const char *key)
{
    struct live_selected *e;
    HASH_FIND_STR(*set, key, e);
    if (e && --e->refs == 0) {
        HASH_DEL(*set, e);
        free(e);
    }
}

static bool set_has(struct live_selected *set, const char *key)
{
    struct live_selected *e;
    HASH_FIND_STR(set, key, e);
    return e != NULL;
}

static void selection_free(struct live *l, struct live_selection *s)
{
    struct live_selected *e, *tmp;
    HASH_ITER(hh, s->edges, e, tmp)
    {
        set_remove(&l->selected, e->key);
        HASH_DEL(s->edges, e);
        free(e);
    }
    HASH_DEL(l->selections, s);
    free(s);
}

void live_select__drop(struct live *l, void *client)
{
    struct live_selection *s;
    HASH_FIND_PTR(l->selections, &client, s);
    if (s)
        selection_free(l, s);
}

void live_select__clear(struct live *l)
{
    struct live_selection *s, *tmp;
    HASH_ITER(hh, l->selections, s, tmp)
    {
        selection_free(l, s);
    }
}

int live_select__set(struct live *l, void *client, const json_t *edges)
{
    if (!client)
        return 0; /* nobody to send to */
    live_select__drop(l, client);
    struct live_selection *s = calloc(1, sizeof *s);
    if (!s)
        return MSGFLO_ENOMEM;
    s->client = client;
    HASH_ADD_PTR(l->selections, client, s);
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        const char *sn = json_string_value(json_object_get(json_object_get(e, "src"), "node"));
        const char *sp = json_string_value(json_object_get(json_object_get(e, "src"), "port"));
        const char *tn = json_string_value(json_object_get(json_object_get(e, "tgt"), "node"));
        const char *tp = json_string_value(json_object_get(json_object_get(e, "tgt"), "port"));
        char buf[256];
        char *key = edge_key(sn, sp, tn, tp, buf, sizeof buf);
        int rc = key ? 0 : MSGFLO_ENOMEM;
        if (rc == 0 && !set_has(s->edges, key)) { /* an edge listed twice counts once */
            if ((rc = set_add(&s->edges, key)) == 0 && (rc = set_add(&l->selected, key)) != 0)
                set_remove(&s->edges, key);
        }
        key__done(key, buf);
        if (rc != 0) {
            selection_free(l, s);
            return rc;
        }
    }
    return 0;
}

/* Whether some client gets every edge's data: one that never selected. */
static bool someone_takes_all(const struct live *l)
{
    return !l->selections || protocol__clients(l->p) > HASH_COUNT(l->selections);
}

bool live_select__wanted(struct live *l, const char *role, const char *port)
{
    if (!protocol__broadcasting(l->p))
        return false;
    if (someone_takes_all(l))
        return true;
    const char *k;
    json_t *x;
    json_object_foreach(live_graph__exports(l->g, true), k, x)
    {
        const char *proc = json_string_value(json_object_get(x, "process"));
        const char *p = json_string_value(json_object_get(x, "port"));
        if (proc && p && strcmp(proc, role) == 0 && strcmp(p, port) == 0)
            return true; /* runtime:packet goes to every client */
    }
    if (!l->selected)
        return false;
    for (const struct live_edge *e = live_graph__node_edge(l->g, role, NULL); e;
         e = live_graph__node_edge(l->g, role, e)) {
        if (strcmp(e->src.node, role) != 0 || strcmp(e->src.port, port) != 0)
            continue;
        char buf[256];
        char *key = edge_key(e->src.node, e->src.port, e->tgt.node, e->tgt.port, buf, sizeof buf);
        bool has = key && set_has(l->selected, key);
        key__done(key, buf);
        if (has)
            return true;
    }
    return false;
}

struct want {
    struct live *l;
    const char *key; /* NULL: no edge (an IIP): only clients taking all */
};

static bool wants(void *client, void *ud)
{
    const struct want *w = ud;
    struct live_selection *s;
    HASH_FIND_PTR(w->l->selections, &client, s);
    return !s || (w->key && set_has(s->edges, w->key));
}

void live_select__send_data(struct live *l, const struct live_edge *e, json_t *(*build)(void *ud),
                            void *ud)
{
    if (!l->selections) {
        live__broadcast(l, "network", "data", build(ud));
        return;
    }
    char buf[256];
    char *key =
        e ? edge_key(e->src.node, e->src.port, e->tgt.node, e->tgt.port, buf, sizeof buf) : NULL;
    if (e && !key)
        return;
    if (someone_takes_all(l) || (key && set_has(l->selected, key))) {
        struct want w = {l, key};
        protocol__send_each(l->p, "network", "data", build(ud), wants, &w);
    }
    key__done(key, buf);
}

/* The stored edge e (an item of a network:edges list) names, or NULL. */
static const struct live_edge *stored_edge(struct live *l, const json_t *e)
{
    const json_t *src = json_object_get(e, "src"), *tgt = json_object_get(e, "tgt");
    return live_graph__edge(l->g, json_string_value(json_object_get(src, "node")),
                            json_string_value(json_object_get(src, "port")),
                            json_string_value(json_object_get(tgt, "node")),
                            json_string_value(json_object_get(tgt, "port")));
}

void live_select__send_latest(struct live *l, void *client, const json_t *edges)
{
    if (!l->sys->ops->latest)
        return;
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        const struct live_edge *stored = stored_edge(l, e);
        bool again = false; /* listed before: sent already */
        for (size_t j = 0; stored && j < i && !again; j++)
            again = stored_edge(l, json_array_get(edges, j)) == stored;
        if (!stored || again)
            continue;
        json_t *data = l->sys->ops->latest(l->sys->self, stored->src.node, stored->src.port);
        if (data)
            protocol__send(l->p, client, "network", "data",
                           live__data_payload(l, stored, &stored->tgt, data));
        json_decref(data);
    }
}
