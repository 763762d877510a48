/* YAML -> node tree -> JSON for foreign definitions; see yaml_reader.h.
 * Untagged plain scalars get their types in yaml_scalar.c. */
#include "yaml/yaml_reader.h"

#include "msgflo/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 500
/* Aliases are copied into the JSON: bound the copies ("billion laughs"). */
#define MAX_JSON_NODES 200000

#define TAG_PREFIX "tag:yaml.org,2002:"

int yaml_reader__fail_at(struct yreader *r, yaml_mark_t mark, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->errbuf && r->errlen)
        snprintf(r->errbuf, r->errlen, "%s:%zu:%zu: %s", r->filename, mark.line + 1,
                 mark.column + 1, msg);
    return MSGFLO_EINVAL;
}

int yaml_reader__fail(struct yreader *r, const char *msg)
{
    if (r->errbuf && r->errlen)
        snprintf(r->errbuf, r->errlen, "%s: %s", r->filename, msg);
    return MSGFLO_EINVAL;
}

static int parser_error(struct yreader *r)
{
    yaml_parser_t *p = &r->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return MSGFLO_ENOMEM;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        if (r->errbuf && r->errlen)
            snprintf(r->errbuf, r->errlen, "%s: %s at byte %zu", r->filename, problem,
                     p->problem_offset);
        return MSGFLO_EINVAL;
    }
    if (p->context)
        return yaml_reader__fail_at(r, p->problem_mark, "%s %s that starts at %zu:%zu", problem,
                                    p->context, p->context_mark.line + 1,
                                    p->context_mark.column + 1);
    return yaml_reader__fail_at(r, p->problem_mark, "%s", problem);
}

/* --- YAML events -> node tree --------------------------------------------------- */

static struct ynode *node_new(struct yreader *r, enum ynode_kind kind, yaml_mark_t mark)
{
    if (r->n_all == r->cap_all) {
        size_t cap = r->cap_all ? r->cap_all * 2 : 64;
        struct ynode **all = realloc(r->all, cap * sizeof *all);
        if (!all)
            return NULL;
        r->all = all;
        r->cap_all = cap;
    }
    struct ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->mark = mark;
    r->all[r->n_all++] = n;
    return n;
}

static int node_add(struct ynode *parent, struct ynode *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct ynode **items = realloc(parent->items, cap * sizeof *items);
        if (!items)
            return MSGFLO_ENOMEM;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

static int anchor_add(struct yreader *r, const yaml_char_t *name, struct ynode *node)
{
    if (!name)
        return 0;
    if (r->n_anchors == r->cap_anchors) {
        size_t cap = r->cap_anchors ? r->cap_anchors * 2 : 8;
        struct anchor *a = realloc(r->anchors, cap * sizeof *a);
        if (!a)
            return MSGFLO_ENOMEM;
        r->anchors = a;
        r->cap_anchors = cap;
    }
    char *copy = strdup((const char *)name);
    if (!copy)
        return MSGFLO_ENOMEM;
    r->anchors[r->n_anchors].name = copy;
    r->anchors[r->n_anchors].node = node;
    r->n_anchors++;
    return 0;
}

static struct ynode *anchor_find(const struct yreader *r, const yaml_char_t *name)
{
    /* the latest definition of a name wins */
    for (size_t i = r->n_anchors; i > 0; i--)
        if (strcmp(r->anchors[i - 1].name, (const char *)name) == 0)
            return r->anchors[i - 1].node;
    return NULL;
}

static int next_event(struct yreader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return parser_error(r);
    return 0;
}

static int set_tag(struct ynode *n, const yaml_char_t *tag)
{
    if (!tag)
        return 0;
    n->tag = strdup((const char *)tag);
    return n->tag ? 0 : MSGFLO_ENOMEM;
}

/* Reads the node that `ev` starts (ev is consumed by the caller). */
static int read_node(struct yreader *r, const yaml_event_t *ev, int depth, struct ynode **out)
{
    int rc;
    struct ynode *n = NULL;
    const yaml_char_t *anchor = NULL;

    if (depth > MAX_DEPTH)
        return yaml_reader__fail_at(r, ev->start_mark, "nesting deeper than %d levels", MAX_DEPTH);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        n = anchor_find(r, ev->data.alias.anchor);
        if (!n)
            return yaml_reader__fail_at(r, ev->start_mark, "unknown alias *%s",
                                        ev->data.alias.anchor);
        *out = n;
        return 0;
    case YAML_SCALAR_EVENT:
        n = node_new(r, YNODE_SCALAR, ev->start_mark);
        if (!n)
            return MSGFLO_ENOMEM;
        n->text = malloc(ev->data.scalar.length + 1);
        if (!n->text)
            return MSGFLO_ENOMEM;
        memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
        n->text[ev->data.scalar.length] = '\0';
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.plain_implicit && !ev->data.scalar.tag;
        if ((rc = set_tag(n, ev->data.scalar.tag)) != 0)
            return rc;
        anchor = ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        n = node_new(r, seq ? YNODE_SEQ : YNODE_MAP, ev->start_mark);
        if (!n)
            return MSGFLO_ENOMEM;
        if ((rc = set_tag(n, seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag)) != 0)
            return rc;
        anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        yaml_event_type_t end = seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
        for (;;) {
            yaml_event_t child_ev;
            if ((rc = next_event(r, &child_ev)) != 0)
                return rc;
            if (child_ev.type == end) {
                yaml_event_delete(&child_ev);
                break;
            }
            struct ynode *child = NULL;
            rc = read_node(r, &child_ev, depth + 1, &child);
            yaml_event_delete(&child_ev);
            if (rc == 0)
                rc = node_add(n, child);
            if (rc)
                return rc;
        }
        break;
    }
    default:
        return yaml_reader__fail_at(r, ev->start_mark, "unexpected YAML event");
    }
    /* Registered once complete: an alias inside its own anchor is unknown. */
    if ((rc = anchor_add(r, anchor, n)) != 0)
        return rc;
    *out = n;
    return 0;
}

/* Reads the single document of the stream; *root is NULL when there is none. */
static int read_stream(struct yreader *r, struct ynode **root)
{
    int rc;
    yaml_event_t ev;
    *root = NULL;
    for (;;) {
        if ((rc = next_event(r, &ev)) != 0)
            return rc;
        yaml_event_type_t type = ev.type;
        yaml_mark_t mark = ev.start_mark;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (type == YAML_DOCUMENT_START_EVENT && *root) {
            yaml_event_delete(&ev);
            return yaml_reader__fail_at(r, mark, "expected a single document, but found more");
        }
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT ||
            type == YAML_SCALAR_EVENT || type == YAML_ALIAS_EVENT)
            rc = read_node(r, &ev, 0, root);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
}

int yaml_reader__read(struct yreader *r, const char *text, size_t len, const char *filename,
                      char *errbuf, size_t errlen, struct ynode **root)
{
    memset(r, 0, sizeof *r);
    *root = NULL;
    r->filename = filename;
    r->errbuf = errbuf;
    r->errlen = errlen;
    if (!yaml_parser_initialize(&r->parser))
        return MSGFLO_ENOMEM;
    r->parser_ready = true;
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    return read_stream(r, root);
}

void yaml_reader__free(struct yreader *r)
{
    if (r->parser_ready)
        yaml_parser_delete(&r->parser);
    r->parser_ready = false;
    for (size_t i = 0; i < r->n_all; i++) {
        free(r->all[i]->tag);
        free(r->all[i]->text);
        free(r->all[i]->items);
        free(r->all[i]);
    }
    free(r->all);
    for (size_t i = 0; i < r->n_anchors; i++)
        free(r->anchors[i].name);
    free(r->anchors);
}

/* --- node tree -> JSON ------------------------------------------------------------ */

static const char *short_tag(const char *tag)
{
    size_t n = strlen(TAG_PREFIX);
    return strncmp(tag, TAG_PREFIX, n) == 0 ? tag + n : NULL;
}

static int scalar_json(struct yreader *r, const struct ynode *n, json_t **out)
{
    const char *tag = n->tag ? short_tag(n->tag) : NULL;
    if (n->tag && strcmp(n->tag, "!") == 0)
        tag = "str";
    if (n->tag &&
        (!tag || (strcmp(tag, "str") != 0 && strcmp(tag, "int") != 0 && strcmp(tag, "float") != 0 &&
                  strcmp(tag, "bool") != 0 && strcmp(tag, "null") != 0)))
        return yaml_reader__fail_at(r, n->mark, "unsupported tag %s", n->tag);
    if (!n->plain && !tag)
        tag = "str";
    if (!tag || strcmp(tag, "str") != 0) {
        int rc = yaml_scalar__resolve(n->text, tag, out);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
        if (tag)
            return yaml_reader__fail_at(r, n->mark, "cannot read '%s' as !!%s", n->text, tag);
    }
    *out = json_stringn(n->text, n->len);
    if (!*out)
        return yaml_reader__fail_at(r, n->mark, "string is not valid UTF-8");
    return 0;
}

/* A mapping key as the object key js-yaml makes of it (String(value)). */
int yaml_reader__key(struct yreader *r, const struct ynode *k, char *buf, size_t len,
                     const char **out)
{
    if (k->kind != YNODE_SCALAR)
        return yaml_reader__fail_at(r, k->mark, "mapping keys must be scalars");
    json_t *v = NULL;
    int rc = scalar_json(r, k, &v);
    if (rc)
        return rc;
    if (json_is_string(v)) {
        *out = k->text;
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, len, "%.17g", json_real_value(v));
        *out = buf;
    } else {
        *out = json_is_null(v) ? "null" : json_is_true(v) ? "true" : "false";
    }
    json_decref(v);
    return 0;
}

/* --- mappings: keys, merges (<<), duplicates ------------------------------------- */

static bool is_merge_key(const struct ynode *k)
{
    if (k->kind != YNODE_SCALAR)
        return false;
    if (k->tag)
        return strcmp(k->tag, TAG_PREFIX "merge") == 0;
    return k->plain && strcmp(k->text, "<<") == 0;
}

struct entries {
    struct yentry *items;
    size_t n, cap;
    json_t *index; /* key -> position in items */
};

void yaml_reader__entries_free(struct yentry *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].key);
    free(items);
}

/* As js-yaml: an explicit key may appear once, and wins over a merged one
 * wherever it stands; a merged key never replaces one already there. */
static int entries_add(struct yreader *r, struct entries *e, const char *key, const struct ynode *k,
                       const struct ynode *v, bool merged)
{
    json_t *pos = json_object_get(e->index, key);
    if (pos) {
        struct yentry *x = &e->items[json_integer_value(pos)];
        if (merged)
            return 0;
        if (!x->merged)
            return yaml_reader__fail_at(r, k->mark, "duplicate key '%s'", key);
        x->key_node = k;
        x->value = v;
        x->merged = false;
        return 0;
    }
    if (++r->json_nodes > MAX_JSON_NODES)
        return yaml_reader__fail_at(r, k->mark, "document too large (more than %d values)",
                                    MAX_JSON_NODES);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        struct yentry *items = realloc(e->items, cap * sizeof *items);
        if (!items)
            return MSGFLO_ENOMEM;
        e->items = items;
        e->cap = cap;
    }
    struct yentry *x = &e->items[e->n];
    x->key = strdup(key);
    if (!x->key)
        return MSGFLO_ENOMEM;
    if (json_object_set_new(e->index, key, json_integer((json_int_t)e->n)) != 0) {
        free(x->key);
        return yaml_reader__fail_at(r, k->mark, "key is not valid UTF-8");
    }
    x->key_node = k;
    x->value = v;
    x->merged = merged;
    e->n++;
    return 0;
}

static int merge_from(struct yreader *r, struct entries *e, const struct ynode *src)
{
    struct yentry *items = NULL;
    size_t n = 0;
    if (src->kind != YNODE_MAP)
        return yaml_reader__fail_at(r, src->mark, "<< merges a mapping or a list of mappings");
    int rc = yaml_reader__entries(r, src, &items, &n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = entries_add(r, e, items[i].key, items[i].key_node, items[i].value, true);
    yaml_reader__entries_free(items, n);
    return rc;
}

int yaml_reader__entries(struct yreader *r, const struct ynode *map, struct yentry **out,
                         size_t *n_out)
{
    int rc = 0;
    struct entries e = {0};
    *out = NULL;
    *n_out = 0;
    e.index = json_object();
    if (!e.index)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i + 1 < map->n && rc == 0; i += 2) {
        const struct ynode *k = map->items[i], *v = map->items[i + 1];
        if (is_merge_key(k)) {
            if (v->kind == YNODE_SEQ) {
                for (size_t j = 0; j < v->n && rc == 0; j++)
                    rc = merge_from(r, &e, v->items[j]);
            } else {
                rc = merge_from(r, &e, v);
            }
            continue;
        }
        char buf[64];
        const char *key;
        rc = yaml_reader__key(r, k, buf, sizeof buf, &key);
        if (rc == 0)
            rc = entries_add(r, &e, key, k, v, false);
    }
    json_decref(e.index);
    if (rc) {
        yaml_reader__entries_free(e.items, e.n);
        return rc;
    }
    *out = e.items;
    *n_out = e.n;
    return 0;
}

static int map_json(struct yreader *r, const struct ynode *n, json_t **out)
{
    struct yentry *items = NULL;
    size_t count = 0;
    json_t *obj = json_object();
    if (!obj)
        return MSGFLO_ENOMEM;
    int rc = yaml_reader__entries(r, n, &items, &count);
    for (size_t i = 0; i < count && rc == 0; i++) {
        json_t *value = NULL;
        rc = yaml_reader__to_json(r, items[i].value, &value);
        if (rc == 0 && json_object_set_new(obj, items[i].key, value) != 0)
            rc = MSGFLO_ENOMEM;
    }
    yaml_reader__entries_free(items, count);
    if (rc)
        json_decref(obj);
    else
        *out = obj;
    return rc;
}

int yaml_reader__to_json(struct yreader *r, const struct ynode *n, json_t **out)
{
    int rc = 0;
    if (++r->json_nodes > MAX_JSON_NODES)
        return yaml_reader__fail_at(
            r, n->mark, "document too large (more than %d values with aliases)", MAX_JSON_NODES);
    if (n->kind == YNODE_SCALAR)
        return scalar_json(r, n, out);
    const char *tag = n->tag ? short_tag(n->tag) : NULL;
    if (n->tag && strcmp(n->tag, "!") != 0 &&
        (!tag || strcmp(tag, n->kind == YNODE_MAP ? "map" : "seq") != 0))
        return yaml_reader__fail_at(r, n->mark, "unsupported tag %s", n->tag);
    if (n->kind == YNODE_MAP)
        return map_json(r, n, out);
    json_t *arr = json_array();
    if (!arr)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        json_t *item = NULL;
        rc = yaml_reader__to_json(r, n->items[i], &item);
        if (rc == 0 && json_array_append_new(arr, item) != 0)
            rc = MSGFLO_ENOMEM;
    }
    if (rc)
        json_decref(arr);
    else
        *out = arr;
    return rc;
}

bool yaml_reader__is_null(const struct ynode *n)
{
    if (n->kind != YNODE_SCALAR)
        return false;
    if (n->tag)
        return strcmp(n->tag, TAG_PREFIX "null") == 0;
    return n->plain && yaml_scalar__is_null(n->text);
}

/* The value of `key` in mapping `map`, or NULL. */
const struct ynode *yaml_reader__get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *k = map->items[i];
        if (k->kind == YNODE_SCALAR && !is_merge_key(k) && strcmp(k->text, key) == 0)
            return map->items[i + 1];
    }
    /* not given explicitly: the first merged mapping that has it */
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *v = map->items[i + 1];
        if (!is_merge_key(map->items[i]))
            continue;
        size_t n = v->kind == YNODE_SEQ ? v->n : 1;
        for (size_t j = 0; j < n; j++) {
            const struct ynode *src = v->kind == YNODE_SEQ ? v->items[j] : v;
            const struct ynode *found = src->kind == YNODE_MAP ? yaml_reader__get(src, key) : NULL;
            if (found)
                return found;
        }
    }
    return NULL;
}
