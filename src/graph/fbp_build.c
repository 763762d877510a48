/* The actions of the .fbp grammar, as the reference parser's initializer
 * defines them: addNode (with component metadata), addAnonymousNode,
 * makeInPort/makeOutPort with the DEFAULT_* ports, registerAnnotation,
 * registerInports/Outports, and processEdges, which pairs the flat list of
 * sources and targets into connections. */
#include "graph/fbp_parser_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/internal.h"

/* A small string-keyed hash map for the anonymous-node bookkeeping. */
struct fbp_strmap_entry {
    char *key;   /* owned; NULL = empty slot */
    char *value; /* owned; may be NULL */
    size_t count;
};

struct fbp_strmap {
    struct fbp_strmap_entry *slots;
    size_t cap, n;
};

static size_t strmap_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static void strmap_free(struct fbp_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free(m->slots[i].value);
    }
    free(m->slots);
    free(m);
}

static struct fbp_strmap_entry *strmap_slot(struct fbp_strmap_entry *slots, size_t cap,
                                            const char *key)
{
    size_t i = strmap_hash(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Finds or adds key; NULL when out of memory. */
static struct fbp_strmap_entry *strmap_get(struct fbp_strmap **mp, const char *key)
{
    struct fbp_strmap *m = *mp;
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (!m)
            return NULL;
        *mp = m;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct fbp_strmap_entry *slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                *strmap_slot(slots, cap, m->slots[i].key) = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    struct fbp_strmap_entry *e = strmap_slot(m->slots, m->cap, key);
    if (!e->key) {
        e->key = graph__strndup(key, strlen(key));
        if (!e->key)
            return NULL;
        m->n++;
    }
    return e;
}

static char *name_dup(struct fbp_parser *p, struct fbp_name n, bool lower)
{
    char *s = graph__strndup(n.s, n.len);
    if (!s) {
        p->rc = MSGFLO_ENOMEM;
        return NULL;
    }
    if (lower)
        for (char *c = s; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    return s;
}

/* parseFloat of a metadata value made of [a-zA-Z/_0-9]: a digit run with an
 * optional exponent; "Infinity..." and text without digits give a value
 * that JSON.stringify writes as null. */
static json_t *parse_float(const char *s, size_t len)
{
    if (len >= 8 && memcmp(s, "Infinity", 8) == 0)
        return json_null();
    size_t n = 0;
    json_int_t small = 0;
    while (n < len && s[n] >= '0' && s[n] <= '9') {
        if (n < 15)
            small = small * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0)
        return json_null();
    bool exp = n + 1 < len && (s[n] == 'e' || s[n] == 'E') && s[n + 1] >= '0' && s[n + 1] <= '9';
    if (!exp && n <= 15)
        return json_integer(small); /* exact: fewer digits than a double holds */
    if (exp) {
        n++;
        while (n < len && s[n] >= '0' && s[n] <= '9')
            n++;
    }
    char stack[64];
    char *buf = n < sizeof(stack) ? stack : malloc(n + 1);
    if (!buf)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (buf != stack)
        free(buf);
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && v < 9223372036854775808.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* The reference splits "k=v,k2=v2" on ',' then '='; an item without '='
 * becomes routes: item; x and y are parseFloat'ed. Keys and values are
 * ASCII ([a-zA-Z/_0-9]), so no UTF-8 check is needed. */
json_t *fbp__metadata(const char *text, size_t len)
{
    json_t *obj = json_object();
    bool ok = false;
    if (!obj)
        goto out;
    const char *item = text, *end = text + len;
    for (;;) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *item_end = comma ? comma : end;
        const char *eq = memchr(item, '=', (size_t)(item_end - item));
        const char *key = item, *val = item;
        size_t key_len, val_len;
        if (eq) {
            key_len = (size_t)(eq - item);
            val = eq + 1;
            const char *eq2 = memchr(val, '=', (size_t)(item_end - val));
            val_len = (size_t)((eq2 ? eq2 : item_end) - val);
        } else {
            key = "routes";
            key_len = 6;
            val_len = (size_t)(item_end - item);
        }
        bool xy = key_len == 1 && (key[0] == 'x' || key[0] == 'y');
        json_t *v = xy ? parse_float(val, val_len) : json_stringn_nocheck(val, val_len);
        if (!v || json_object_setn_new_nocheck(obj, key, key_len, v))
            goto out;
        if (!comma)
            break;
        item = comma + 1;
    }
    ok = true;
out:
    if (!ok) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

void fbp__add_node(struct fbp_parser *p, size_t offset, struct fbp_name name, struct fbp_name comp,
                   const struct fbp_name *meta)
{
    /* Backtracking parses the same declaration again (up to three times);
     * if nothing was declared in between, doing it again changes nothing. */
    if (p->last_add_offset == offset + 1)
        return;
    p->last_add_offset = offset + 1;
    struct graph_process *proc;
    size_t before = p->g->n_processes;
    if (graph__ensure_process_n(p->g, name.s, name.len, &proc) ||
        (comp.len && graph__set_component_n(p->g, proc, comp.s, comp.len))) {
        p->rc = MSGFLO_ENOMEM;
        return;
    }
    if (p->g->n_processes > before)
        fbp__record_at(p, &p->proc_at, &p->cap_proc_at, before, offset);
    if (meta) {
        /* kept as text; graph__process_metadata builds the JSON */
        if (!proc->metadata && !proc->metadata_text && !proc->component)
            proc->metadata_first = true;
        const char *text = graph__arena_strndup(p->g, meta->s, meta->len);
        if (!text) {
            p->rc = MSGFLO_ENOMEM;
            return;
        }
        json_decref(proc->metadata);
        proc->metadata = NULL;
        proc->metadata_text = text;
        proc->metadata_len = meta->len;
    }
}

bool fbp__add_anonymous(struct fbp_parser *p, size_t offset, struct fbp_name comp,
                        const struct fbp_name *meta, struct fbp_name *out)
{
    char key[32], *base = NULL;
    bool ok = false;
    snprintf(key, sizeof(key), "%zu", offset);
    struct fbp_strmap_entry *e = strmap_get(&p->anon_names, key);
    if (!e)
        goto out;
    if (!e->value) {
        /* comp.replace(/[^a-zA-Z0-9]+/, "_"): only the first run */
        base = name_dup(p, comp, false);
        if (!base)
            goto out;
        size_t i = 0;
        while (base[i] && isalnum((unsigned char)base[i]))
            i++;
        size_t j = i;
        while (base[j] && !isalnum((unsigned char)base[j]))
            j++;
        if (j > i) {
            base[i] = '_';
            memmove(base + i + 1, base + j, strlen(base + j) + 1);
        }
        struct fbp_strmap_entry *c = strmap_get(&p->anon_counts, base);
        if (!c)
            goto out;
        size_t len = strlen(base) + 32;
        e->value = malloc(len);
        if (!e->value)
            goto out;
        c->count++;
        snprintf(e->value, len, "_%s_%zu", base, c->count);
        struct fbp_name name = {e->value, strlen(e->value)};
        fbp__add_node(p, offset, name, comp, meta);
    }
    out->s = e->value;
    out->len = strlen(e->value);
    ok = true;
out:
    free(base);
    if (!ok)
        p->rc = MSGFLO_ENOMEM;
    return ok;
}

static struct fbp_item *push_item(struct fbp_parser *p)
{
    if (p->n_items == p->cap_items) {
        size_t cap = p->cap_items ? p->cap_items * 2 : 64;
        struct fbp_item *items = realloc(p->items, cap * sizeof(*items));
        if (!items) {
            p->rc = MSGFLO_ENOMEM;
            return NULL;
        }
        p->items = items;
        p->cap_items = cap;
    }
    struct fbp_item *it = &p->items[p->n_items++];
    memset(it, 0, sizeof(*it));
    it->index = GRAPH_NO_INDEX;
    return it;
}

void fbp__record_at(struct fbp_parser *p, size_t **arr, size_t *cap, size_t i, size_t at)
{
    if (i >= *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        while (n <= i)
            n *= 2;
        size_t *bigger = realloc(*arr, n * sizeof(**arr));
        if (!bigger) {
            p->rc = MSGFLO_ENOMEM;
            return;
        }
        *arr = bigger;
        *cap = n;
    }
    (*arr)[i] = at;
}

void fbp__push_port(struct fbp_parser *p, enum fbp_item_kind kind, size_t at,
                    struct fbp_name process, const struct fbp_port *port)
{
    struct fbp_item *it = push_item(p);
    if (!it)
        return;
    it->kind = kind;
    it->offset = at;
    it->process = process.s;
    it->process_len = process.len;
    if (port) {
        it->port = port->name.s;
        it->port_len = port->name.len;
        it->index = port->index;
    } else if (kind == ITEM_TGT) {
        it->port = p->default_in;
        it->port_len = p->default_in_len;
    } else {
        it->port = p->default_out;
        it->port_len = p->default_out_len;
    }
}

void fbp__push_data(struct fbp_parser *p, size_t at, json_t *data)
{
    struct fbp_item *it = push_item(p);
    if (!it) {
        json_decref(data);
        return;
    }
    it->kind = ITEM_DATA;
    it->offset = at;
    it->data = data;
}

void fbp__truncate_items(struct fbp_parser *p, size_t n)
{
    while (p->n_items > n) {
        json_decref(p->items[--p->n_items].data);
    }
}

void fbp__annotation(struct fbp_parser *p, struct fbp_name key, struct fbp_name value)
{
    char *k = name_dup(p, key, false);
    char *v = name_dup(p, value, false);
    if (!k || !v)
        goto out;
    if (!p->g->properties && !(p->g->properties = json_object())) {
        p->rc = MSGFLO_ENOMEM;
        goto out;
    }
    int rc;
    if (strcmp(k, "runtime") == 0)
        rc = json_object_set_new(p->g->properties, "environment", json_pack("{s:s}", "type", v));
    else
        rc = json_object_set_new(p->g->properties, k, json_string(v));
    if (rc)
        p->rc = MSGFLO_ENOMEM;
out:
    free(k);
    free(v);
}

void fbp__export(struct fbp_parser *p, bool in, size_t at, struct fbp_name node,
                 struct fbp_name port, struct fbp_name pub)
{
    char *n = name_dup(p, node, false);
    char *pt = name_dup(p, port, !p->case_sensitive);
    char *pb = name_dup(p, pub, !p->case_sensitive);
    if (n && pt && pb) {
        int rc = in ? graph__set_inport(p->g, pb, n, pt, NULL)
                    : graph__set_outport(p->g, pb, n, pt, NULL);
        if (rc)
            p->rc = rc;
        const struct graph_export *e = in ? p->g->inports : p->g->outports;
        size_t count = in ? p->g->n_inports : p->g->n_outports;
        for (size_t i = 0; rc == 0 && i < count; i++) {
            if (strcmp(e[i].name, pb) == 0) {
                if (in)
                    fbp__record_at(p, &p->inport_at, &p->cap_inport_at, i, at);
                else
                    fbp__record_at(p, &p->outport_at, &p->cap_outport_at, i, at);
            }
        }
    }
    free(n);
    free(pt);
    free(pb);
}

void fbp__set_default(struct fbp_parser *p, bool in, struct fbp_name port)
{
    if (in) {
        p->default_in = port.s;
        p->default_in_len = port.len;
    } else {
        p->default_out = port.s;
        p->default_out_len = port.len;
    }
}

/* processEdges: a source or IIP followed by a target is a connection. The
 * reference pairs the flat list of the whole file; every registered line
 * ends with a target, so no pair spans two lines and each line's items can
 * become connections when the line is done, keeping the list short. */
int fbp__register_line(struct fbp_parser *p, size_t first)
{
    bool lower = !p->case_sensitive;
    for (size_t i = first + 1; i < p->n_items; i++) {
        struct fbp_item *a = &p->items[i - 1], *b = &p->items[i];
        if (a->kind == ITEM_TGT || b->kind != ITEM_TGT)
            continue;
        struct graph_connection c;
        memset(&c, 0, sizeof(c));
        c.src.index = GRAPH_NO_INDEX;
        int rc = graph__endpoint_init(p->g, &c.tgt, b->process, b->process_len, b->port,
                                      b->port_len, lower, b->index);
        if (rc == 0 && a->kind == ITEM_SRC)
            rc = graph__endpoint_init(p->g, &c.src, a->process, a->process_len, a->port,
                                      a->port_len, lower, a->index);
        if (rc)
            return rc;
        if (a->kind == ITEM_DATA) {
            c.data = a->data; /* the graph takes the item's reference */
            a->data = NULL;
        }
        rc = graph__push_connection(p->g, &c);
        if (rc)
            return rc;
        size_t k = p->g->n_connections - 1;
        fbp__record_at(p, &p->conn_at, &p->cap_conn_at, k * 2, a->offset);
        fbp__record_at(p, &p->conn_at, &p->cap_conn_at, k * 2 + 1, b->offset);
        i++;
    }
    fbp__truncate_items(p, first);
    return 0;
}

void fbp__cleanup(struct fbp_parser *p)
{
    fbp__truncate_items(p, 0);
    free(p->items);
    free(p->chain);
    free(p->conn_at);
    free(p->infinities);
    free(p->proc_at);
    free(p->inport_at);
    free(p->outport_at);
    strmap_free(p->anon_counts);
    strmap_free(p->anon_names);
    graph__free(p->g);
}
