/* The binding table of a router: bindings by source topic (one hash lookup
 * per message), chains followed, loops refused. See router.h. */
#include "router/router_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool bad_name(const char *s)
{
    return !*s || strlen(s) > ROUTER_MAX_INSTANCE || strpbrk(s, "/+#") != NULL;
}

/* How many bytes of s to show in a message, at most max, never cutting a
 * UTF-8 character (the reply carries the message as a JSON string). */
static int shown(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (s[n])
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    return (int)n;
}

int router__new(const char *instance, const char *name, struct router **out)
{
    *out = NULL;
    if (!instance || !*instance)
        instance = "default";
    if (bad_name(instance))
        return -1;
    struct router *r = calloc(1, sizeof *r);
    if (!r)
        return -2;
    r->instance = dup_str(instance);
    r->name = dup_str(name ? name : "msgflo-router");
    size_t n = strlen(ROUTER_PREFIX) + strlen(instance) + 2;
    r->control_prefix = malloc(n);
    if (!r->instance || !r->name || !r->control_prefix) {
        router__free(r);
        return -2;
    }
    snprintf(r->control_prefix, n, "%s%s/", ROUTER_PREFIX, instance);
    *out = r;
    return 0;
}

static void free_source(struct router_source *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bindings[i]);
    free(s->bindings);
    free(s);
}

void router__free(struct router *r)
{
    if (!r)
        return;
    struct router_source *s, *tmp;
    HASH_ITER(hh, r->sources, s, tmp)
    {
        HASH_DEL(r->sources, s);
        free_source(s);
    }
    free(r->instance);
    free(r->name);
    free(r->control_prefix);
    free(r->out);
    free(r->order);
    free(r->stack);
    free(r);
}

const char *router__instance(const struct router *r)
{
    return r->instance;
}

bool router__is_control(const struct router *r, const char *topic)
{
    (void)r;
    return strncmp(topic, ROUTER_PREFIX, strlen(ROUTER_PREFIX)) == 0;
}

size_t router__count(const struct router *r)
{
    return r->count;
}

bool router__dirty(const struct router *r)
{
    return r->dirty;
}

static struct router_source *find(const struct router *r, const char *topic)
{
    struct router_source *s = NULL;
    HASH_FIND_STR(r->sources, topic, s);
    return s;
}

static int check_topic(const struct router *r, const char *what, const char *topic, char *err,
                       size_t errlen)
{
    const char *why = NULL;
    size_t len = strlen(topic);
    if (len == 0)
        why = "is empty";
    else if (len > ROUTER_MAX_TOPIC)
        why = "is longer than 1024 bytes";
    else if (strpbrk(topic, "+#"))
        why = "holds a wildcard (+ or #): a binding names one topic";
    else if (topic[0] == '$')
        why = "is a broker topic ($...)";
    else if (router__is_control(r, topic))
        why = "is a /msgrouter/ control topic";
    if (!why)
        return 0;
    snprintf(err, errlen, "%s '%.*s%s' %s", what, shown(topic, 80), topic, len > 80 ? "..." : "",
             why);
    return -1;
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*items, n * size);
    if (!p)
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

/* Walks the chain from topic, marking each source visited with a new
 * generation; calls visit for each binding crossed. Returns -1 out of
 * memory. */
static int walk(struct router *r, const char *topic,
                bool (*visit)(struct router *r, struct router_binding *b, void *ud), void *ud)
{
    struct router_source *s = find(r, topic);
    if (!s)
        return 0;
    if (++r->generation == 0) { /* wrapped: clear every mark */
        struct router_source *it, *tmp;
        HASH_ITER(hh, r->sources, it, tmp) it->mark = 0;
        r->generation = 1;
    }
    size_t top = 0;
    if (grow((void **)&r->stack, &r->stack_cap, 1, sizeof *r->stack))
        return -1;
    s->mark = r->generation;
    r->stack[top++] = s;
    while (top > 0) {
        s = r->stack[--top];
        for (size_t i = 0; i < s->n; i++) {
            struct router_binding *b = s->bindings[i];
            if (!visit(r, b, ud))
                return 1;
            struct router_source *next = find(r, b->tgt);
            if (next && next->mark != r->generation) {
                if (grow((void **)&r->stack, &r->stack_cap, top + 1, sizeof *r->stack))
                    return -1;
                next->mark = r->generation;
                r->stack[top++] = next;
            }
        }
    }
    return 0;
}

static bool reaches(struct router *r, struct router_binding *b, void *ud)
{
    (void)r;
    return strcmp(b->tgt, ud) != 0; /* stop when the chain reaches ud */
}

int router__add(struct router *r, const char *src, const char *tgt, enum router_type type,
                char *err, size_t errlen)
{
    if (check_topic(r, "source", src, err, errlen) || check_topic(r, "target", tgt, err, errlen))
        return -1;
    struct router_source *s = find(r, src);
    if (s) {
        for (size_t i = 0; i < s->n; i++) {
            if (strcmp(s->bindings[i]->tgt, tgt) == 0) {
                if (s->bindings[i]->type != type) {
                    s->bindings[i]->type = type;
                    r->dirty = true;
                }
                return 1;
            }
        }
    }
    if (strcmp(src, tgt) == 0) {
        snprintf(err, errlen, "binding %.*s -> %.*s would loop: source and target are one topic",
                 shown(src, 80), src, shown(tgt, 80), tgt);
        return -1;
    }
    int rc = walk(r, tgt, reaches, (void *)src);
    if (rc < 0)
        return -2;
    if (rc > 0) {
        snprintf(err, errlen,
                 "binding %.*s -> %.*s would loop: %.*s is already bound (through a chain) to %.*s",
                 shown(src, 80), src, shown(tgt, 80), tgt, shown(tgt, 80), tgt, shown(src, 80),
                 src);
        return -1;
    }
    if (r->count >= ROUTER_MAX_BINDINGS) {
        snprintf(err, errlen, "too many bindings (%d)", ROUTER_MAX_BINDINGS);
        return -1;
    }
    bool fresh = false;
    if (!s) {
        size_t n = strlen(src) + 1;
        s = calloc(1, sizeof *s + n);
        if (!s)
            return -2;
        s->topic = memcpy(s + 1, src, n);
        fresh = true;
    }
    size_t n = strlen(tgt) + 1;
    struct router_binding *b = calloc(1, sizeof *b + n);
    if (!b || grow((void **)&s->bindings, &s->cap, s->n + 1, sizeof *s->bindings)) {
        free(b);
        if (fresh)
            free_source(s);
        return -2;
    }
    b->from = s;
    b->tgt = memcpy(b + 1, tgt, n);
    b->type = type;
    s->bindings[s->n++] = b;
    if (fresh)
        HASH_ADD_KEYPTR(hh, r->sources, s->topic, strlen(s->topic), s);
    r->count++;
    r->dirty = true;
    return 0;
}

int router__remove(struct router *r, const char *src, const char *tgt)
{
    struct router_source *s = find(r, src);
    if (!s)
        return 1;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->bindings[i]->tgt, tgt) != 0)
            continue;
        free(s->bindings[i]);
        memmove(&s->bindings[i], &s->bindings[i + 1], (s->n - i - 1) * sizeof *s->bindings);
        s->n--;
        r->count--;
        r->dirty = true;
        if (s->n == 0) {
            HASH_DEL(r->sources, s);
            free_source(s);
        }
        return 0;
    }
    return 1;
}

struct route_state {
    size_t len;
    bool chained; /* more than one source crossed: targets may repeat */
    const char *first;
};

static bool collect(struct router *r, struct router_binding *b, void *ud)
{
    struct route_state *st = ud;
    b->messages++;
    b->bytes += st->len;
    if (b->from->topic != st->first)
        st->chained = true;
    if (grow((void **)&r->out, &r->out_cap, r->out_n + 1, sizeof *r->out))
        return false;
    r->out[r->out_n++] = b->tgt;
    return true;
}

static int order_cmp(const void *a, const void *b)
{
    const struct router_target *x = a, *y = b;
    int c = strcmp(x->tgt, y->tgt);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Keeps the first of each target where chains meet: sorts them by text
 * (n log n, where a scan per target was n squared on a wide fan-out behind a
 * chain), drops the later ones, keeps the walk's order. */
static void drop_repeats(struct router *r)
{
    if (r->out_n < 2 || grow((void **)&r->order, &r->order_cap, r->out_n, sizeof *r->order))
        return; /* out of memory: a target may get a message twice */
    for (size_t i = 0; i < r->out_n; i++)
        r->order[i] = (struct router_target){.tgt = r->out[i], .i = i};
    qsort(r->order, r->out_n, sizeof *r->order, order_cmp);
    for (size_t k = 1; k < r->out_n; k++)
        if (strcmp(r->order[k].tgt, r->order[k - 1].tgt) == 0)
            r->out[r->order[k].i] = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->out_n; i++)
        if (r->out[i])
            r->out[n++] = r->out[i];
    r->out_n = n;
}

size_t router__route(struct router *r, const char *topic, size_t len, const char *const **targets)
{
    r->out_n = 0;
    *targets = NULL;
    struct router_source *s = find(r, topic);
    if (!s)
        return 0;
    struct route_state st = {.len = len, .first = s->topic};
    walk(r, topic, collect, &st);
    if (st.chained)
        drop_repeats(r);
    *targets = (const char *const *)r->out;
    return r->out_n;
}

size_t router__targets(struct router *r, const char *topic, size_t len, const char *const **targets)
{
    r->out_n = 0;
    *targets = NULL;
    struct router_source *s = find(r, topic);
    if (!s || grow((void **)&r->out, &r->out_cap, s->n, sizeof *r->out))
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        s->bindings[i]->messages++;
        s->bindings[i]->bytes += len;
        r->out[r->out_n++] = s->bindings[i]->tgt;
    }
    *targets = (const char *const *)r->out;
    return r->out_n;
}

int router__type_of(const struct router *r, const char *src, const char *tgt,
                    enum router_type *type)
{
    const struct router_source *s = find(r, src);
    for (size_t i = 0; s && i < s->n; i++) {
        if (strcmp(s->bindings[i]->tgt, tgt) == 0) {
            *type = s->bindings[i]->type;
            return 0;
        }
    }
    return -1;
}

bool router__bound(const struct router *r, const char *topic)
{
    return find(r, topic) != NULL;
}

void router__each(const struct router *r, void (*fn)(const struct router_binding_info *b, void *ud),
                  void *ud)
{
    for (const struct router_source *s = r->sources; s; s = s->hh.next) {
        for (size_t i = 0; i < s->n; i++) {
            const struct router_binding *b = s->bindings[i];
            struct router_binding_info info = {
                .src = s->topic,
                .tgt = b->tgt,
                .type = b->type,
                .messages = b->messages,
                .bytes = b->bytes,
            };
            fn(&info, ud);
        }
    }
}
