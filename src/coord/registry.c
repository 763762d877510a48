/* Registry of discovered participants; see registry.h. */
#include "coord/registry.h"

#include "discovery/discovery.h"
#include "core/definition.h"
#include "core/key.h"
#include "msgflo/errors.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>
#include <utlist.h>

/* A participant costs its id, its payload as compact JSON text (merged over
 * time) and this struct: the parsed payload is made only when asked for
 * (registry__participant), so 10,000 participants take a few MB, not the
 * ~2 KB each of a jansson tree.
 *
 * Invariants (asserted by registry_check after every change, debug builds):
 * in r->participants by id and in r->seen, which is ordered by last_seen;
 * `role` is set (after an operation) and the participant is one of its
 * members; `comp`, when set, is the record of that name in r->components. */
struct participant {
    char *id;
    struct role *role;
    struct component *comp; /* the component it announced last (NULL: none) */
    char *text;             /* the payload, compact JSON */
    uint64_t first_seen, last_seen;
    struct participant *prev, *next;   /* members of the role */
    struct participant *lprev, *lnext; /* r->seen: ordered by last_seen */
    UT_hash_handle hh;
    char id_text[]; /* id */
};

/* One port of a role as indexed by queue (the strings are in the block of
 * the role's entries). */
struct index_entry {
    char *queue;
    char *port;
    bool inport;
};

/* Invariants: in r->roles by name; n_members == the length of `members`
 * and > 0 (freed with its last member); `current` is a member; each entry
 * is listed, as {name, port, inport} with these very strings, in the queue
 * record of its queue. */
struct role {
    char *name;
    struct participant *members;
    size_t n_members;
    struct participant *current; /* seen last: its payload is the role's definition */
    struct index_entry *entries; /* one allocation: the entries, then their strings */
    size_t n_entries;
    UT_hash_handle hh;
    char name_text[];
};

/* A component name and how many participants announce it. Invariants: in
 * r->components by name; n == the participants whose comp it is, > 0. */
struct component {
    size_t n;
    UT_hash_handle hh;
    char name[];
};

/* Invariants: in r->queues by name; n > 0 (freed when its last port goes);
 * each port is an entry of the role it names. */
struct queue {
    char *name;
    struct registry_port *ports;
    size_t n, cap;
    UT_hash_handle hh;
    char name_text[];
};

/* Invariants: each n_* is the count of its table. */
struct registry {
    struct registry_options o;
    struct participant *participants; /* by id */
    struct participant *seen;         /* by last_seen, oldest first (utlist DL) */
    struct role *roles;               /* by name */
    struct queue *queues;             /* by name */
    struct component *components;     /* by name */
    size_t n_participants, n_roles, n_components;
    unsigned long long role_records; /* role records made and freed (registry__role_records) */
};

int registry__new(const struct registry_options *options, struct registry **out)
{
    struct registry *r = calloc(1, sizeof *r);
    if (!r)
        return MSGFLO_ENOMEM;
    if (options)
        r->o = *options;
    if (r->o.period_ms == 0)
        r->o.period_ms = 60000;
    *out = r;
    return 0;
}

/* --- invariants (debug builds) ---------------------------------------------- */

#ifndef NDEBUG
/* Above this many participants the whole registry is not walked after each
 * change: a debug build of a scale test would be quadratic. */
#define CHECK_MAX_PARTICIPANTS 2048

static void role_check(const struct registry *r, const struct role *ro)
{
    size_t n = 0;
    bool current = false;
    for (const struct participant *p = ro->members; p; p = p->next, n++) {
        assert(p->role == ro);
        assert(!p->next || p->next->prev == p);
        current = current || p == ro->current;
    }
    assert(n == ro->n_members && n > 0);
    assert(current);
    for (size_t i = 0; i < ro->n_entries; i++) {
        const struct index_entry *e = &ro->entries[i];
        struct queue *q;
        HASH_FIND_STR(r->queues, e->queue, q);
        assert(q);
        bool listed = false;
        for (size_t k = 0; k < q->n && !listed; k++)
            listed = q->ports[k].role == ro->name && q->ports[k].port == e->port &&
                     q->ports[k].inport == e->inport;
        assert(listed);
    }
}

static void registry_check(const struct registry *r)
{
    if (r->n_participants > CHECK_MAX_PARTICIPANTS)
        return;
    assert(HASH_COUNT(r->participants) == r->n_participants);
    assert(HASH_COUNT(r->roles) == r->n_roles);
    assert(HASH_COUNT(r->components) == r->n_components);
    size_t n = 0, announcing = 0, counted = 0, entries = 0, ports = 0;
    const struct participant *p;
    for (p = r->seen; p; p = p->lnext, n++) {
        assert(!p->lnext || p->lnext->last_seen >= p->last_seen);
        assert(!p->lnext || p->lnext->lprev == p);
        assert(p->role);
        const struct participant *found = NULL;
        HASH_FIND_STR(r->participants, p->id, found);
        assert(found == p);
        if (p->comp) {
            const struct component *k = NULL;
            HASH_FIND_STR(r->components, p->comp->name, k);
            assert(k == p->comp);
            announcing++;
        }
    }
    assert(n == r->n_participants);
    const struct role *ro, *rtmp;
    HASH_ITER(hh, r->roles, ro, rtmp)
    {
        role_check(r, ro);
        entries += ro->n_entries;
    }
    const struct component *k, *ktmp;
    HASH_ITER(hh, r->components, k, ktmp)
    {
        assert(k->n > 0);
        counted += k->n;
    }
    assert(counted == announcing);
    const struct queue *q, *qtmp;
    HASH_ITER(hh, r->queues, q, qtmp)
    {
        assert(q->n > 0 && q->n <= q->cap);
        ports += q->n;
    }
    assert(ports == entries); /* each listed port is an entry (checked above) */
}
#else
#define registry_check(r) ((void)(r))
#endif

/* --- queue index ------------------------------------------------------------ */

static int queue__add(struct registry *r, const char *name, const struct registry_port *p)
{
    struct queue *q;
    HASH_FIND_STR(r->queues, name, q);
    if (!q) {
        size_t len = strlen(name);
        q = calloc(1, sizeof *q + len + 1);
        if (!q)
            return MSGFLO_ENOMEM;
        q->name = memcpy(q->name_text, name, len + 1);
        HASH_ADD_KEYPTR(hh, r->queues, q->name, len, q);
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 2;
        struct registry_port *ports = realloc(q->ports, cap * sizeof *ports);
        if (!ports)
            return MSGFLO_ENOMEM;
        q->ports = ports;
        q->cap = cap;
    }
    q->ports[q->n++] = *p;
    return 0;
}

static void queue__remove(struct registry *r, const char *name, const char *role_name,
                          const char *port)
{
    struct queue *q;
    HASH_FIND_STR(r->queues, name, q);
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        if (q->ports[i].role == role_name && q->ports[i].port == port) {
            q->ports[i] = q->ports[--q->n];
            break;
        }
    }
    if (q->n == 0) {
        HASH_DEL(r->queues, q);
        free(q->ports);
        free(q);
    }
}

static void role__unindex(struct registry *r, struct role *ro)
{
    for (size_t i = 0; i < ro->n_entries; i++)
        queue__remove(r, ro->entries[i].queue, ro->name, ro->entries[i].port);
    free(ro->entries);
    ro->entries = NULL;
    ro->n_entries = 0;
}

/* Calls fn for each port of payload with a string id: inports first, its
 * queue (the announced one, else the default, made by a malloc: NULL when
 * out of memory). Returns fn's first non-zero result. */
static int entries__each(const struct role *ro, const json_t *payload,
                         int (*fn)(bool inport, const char *id, const char *queue, void *ud),
                         void *ud)
{
    int rc = 0;
    for (int in = 1; in >= 0 && rc == 0; in--) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(payload, in ? "inports" : "outports"), i, p)
        {
            const char *id = json_string_value(json_object_get(p, "id"));
            const char *queue = json_string_value(json_object_get(p, "queue"));
            if (!id)
                continue;
            char *made = queue ? NULL : definition__default_queue(ro->name, id);
            rc = queue || made ? fn(in, id, queue ? queue : made, ud) : MSGFLO_ENOMEM;
            free(made);
            if (rc)
                break;
        }
    }
    return rc;
}

struct entries_build {
    struct index_entry *e;
    size_t n, bytes;
    char *at; /* where the next string goes (second pass) */
};

static int entry_size(bool inport, const char *id, const char *queue, void *ud)
{
    (void)inport;
    struct entries_build *b = ud;
    b->n++;
    b->bytes += strlen(id) + 1 + strlen(queue) + 1;
    return 0;
}

static int entry_put(bool inport, const char *id, const char *queue, void *ud)
{
    struct entries_build *b = ud;
    struct index_entry *e = &b->e[b->n++];
    e->inport = inport;
    e->port = key__put(&b->at, id);
    e->queue = key__put(&b->at, queue);
    return 0;
}

/* The entries `payload` (the role's current) gives, in one allocation (ports
 * without a string id are skipped). */
static int entries__build(const struct role *ro, const json_t *payload, struct index_entry **out,
                          size_t *n)
{
    struct entries_build b = {0};
    int rc = entries__each(ro, payload, entry_size, &b);
    if (rc)
        return rc;
    size_t count = b.n;
    b.e = calloc(1, count * sizeof *b.e + b.bytes + 1);
    if (!b.e)
        return MSGFLO_ENOMEM;
    b.at = (char *)(b.e + count);
    b.n = 0;
    if ((rc = entries__each(ro, payload, entry_put, &b)) != 0 || b.n != count) {
        free(b.e);
        return rc ? rc : MSGFLO_ENOMEM;
    }
    *out = b.e;
    *n = count;
    return 0;
}

static bool entries__same(const struct index_entry *a, size_t na, const struct index_entry *b,
                          size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (a[i].inport != b[i].inport || strcmp(a[i].port, b[i].port) != 0 ||
            strcmp(a[i].queue, b[i].queue) != 0)
            return false;
    }
    return true;
}

/* Re-indexes the role from its current payload (parsed from its text when
 * `payload` is NULL); *changed tells whether the queues changed. */
static int role__reindex(struct registry *r, struct role *ro, const json_t *payload, bool *changed)
{
    struct index_entry *e;
    size_t n;
    *changed = false;
    json_t *parsed = NULL;
    if (!payload)
        payload = parsed = json_loads(ro->current->text, 0, NULL);
    if (!payload)
        return MSGFLO_ENOMEM;
    int rc = entries__build(ro, payload, &e, &n);
    json_decref(parsed);
    if (rc)
        return rc;
    if (entries__same(ro->entries, ro->n_entries, e, n)) {
        free(e);
        return 0;
    }
    role__unindex(r, ro);
    ro->entries = e;
    ro->n_entries = n;
    *changed = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct registry_port p = {ro->name, e[i].port, e[i].inport};
        rc = queue__add(r, e[i].queue, &p);
    }
    if (rc)
        role__unindex(r, ro); /* out of memory: no index rather than half of one */
    return rc;
}

/* --- components ---------------------------------------------------------------- */

static struct component *component__find(const struct registry *r, const char *name)
{
    struct component *k;
    HASH_FIND_STR(r->components, name, k);
    return k;
}

/* p no longer announces its component; the last one tells component_gone. */
static void component__detach(struct registry *r, struct participant *p)
{
    struct component *k = p->comp;
    p->comp = NULL;
    if (!k || --k->n > 0)
        return;
    HASH_DEL(r->components, k);
    r->n_components--;
    if (r->o.component_gone)
        r->o.component_gone(k->name, r->o.ud);
    free(k);
}

/* p announces `name` (may be NULL: keeps what it had). */
static int component__attach(struct registry *r, struct participant *p, const char *name)
{
    if (!name || (p->comp && strcmp(p->comp->name, name) == 0))
        return 0;
    struct component *k = component__find(r, name);
    if (!k) {
        size_t len = strlen(name);
        k = calloc(1, sizeof *k + len + 1);
        if (!k)
            return MSGFLO_ENOMEM;
        memcpy(k->name, name, len + 1);
        HASH_ADD_KEYPTR(hh, r->components, k->name, len, k);
        r->n_components++;
    }
    k->n++;
    component__detach(r, p);
    p->comp = k;
    return 0;
}

/* --- roles and participants --------------------------------------------------- */

static struct role *role__get(struct registry *r, const char *name, bool *created)
{
    struct role *ro;
    *created = false;
    HASH_FIND_STR(r->roles, name, ro);
    if (ro)
        return ro;
    size_t len = strlen(name);
    ro = calloc(1, sizeof *ro + len + 1);
    if (!ro)
        return NULL;
    ro->name = memcpy(ro->name_text, name, len + 1);
    HASH_ADD_KEYPTR(hh, r->roles, ro->name, len, ro);
    r->n_roles++;
    r->role_records++;
    *created = true;
    return ro;
}

static void role__free(struct registry *r, struct role *ro)
{
    role__unindex(r, ro);
    HASH_DEL(r->roles, ro);
    r->n_roles--;
    r->role_records++;
    free(ro);
}

static void role__attach(struct role *ro, struct participant *p)
{
    p->role = ro;
    p->prev = NULL;
    p->next = ro->members;
    if (ro->members)
        ro->members->prev = p;
    ro->members = p;
    ro->n_members++;
}

/* Detaches p from its role; frees the role when it was the last member, else
 * makes the most recently seen member current. */
static void role__detach(struct registry *r, struct participant *p)
{
    struct role *ro = p->role;
    if (p->prev)
        p->prev->next = p->next;
    else
        ro->members = p->next;
    if (p->next)
        p->next->prev = p->prev;
    ro->n_members--;
    p->role = NULL;
    if (ro->n_members == 0) {
        role__free(r, ro);
        return;
    }
    if (ro->current != p)
        return;
    ro->current = ro->members;
    for (struct participant *m = ro->members; m; m = m->next) {
        if (m->last_seen > ro->current->last_seen)
            ro->current = m;
    }
    bool changed;
    (void)role__reindex(r, ro, NULL, &changed); /* out of memory leaves the old index */
}

static void participant__free(struct registry *r, struct participant *p)
{
    if (p->role)
        role__detach(r, p);
    component__detach(r, p);
    HASH_DEL(r->participants, p);
    DL_DELETE2(r->seen, p, lprev, lnext);
    r->n_participants--;
    free(p->text);
    free(p);
}

void registry__free(struct registry *r)
{
    if (!r)
        return;
    struct participant *p, *ptmp;
    r->o.component_gone = NULL; /* not told while freeing */
    HASH_ITER(hh, r->participants, p, ptmp)
    {
        participant__free(r, p);
    }
    free(r);
}

/* Puts p (in the list) at its place by last_seen: the end, unless the
 * caller's clock went back. Expiry then looks only at the oldest. */
static void seen__move(struct registry *r, struct participant *p)
{
    DL_DELETE2(r->seen, p, lprev, lnext);
    struct participant *el = r->seen ? r->seen->lprev : NULL; /* the newest */
    while (el && el->last_seen > p->last_seen)
        el = el == r->seen ? NULL : el->lprev;
    DL_APPEND_ELEM2(r->seen, el, p, lprev, lnext);
}

/* Merges payload into p's: true when something changed. */
static int merge(json_t *stored, const json_t *payload, bool *changed)
{
    const char *key;
    json_t *v;
    *changed = false;
    json_object_foreach((json_t *)payload, key, v)
    {
        json_t *old = json_object_get(stored, key);
        if (old && json_equal(old, v))
            continue;
        *changed = true;
        if (json_object_set_new(stored, key, json_deep_copy(v)) != 0)
            return MSGFLO_ENOMEM;
    }
    return 0;
}

static int update(struct registry *r, const json_t *payload, uint64_t now_ms, unsigned *changes)
{
    const char *id = json_string_value(json_object_get(payload, "id"));
    const char *role_name = json_string_value(json_object_get(payload, "role"));
    unsigned ch = 0;
    int rc = 0;
    if (changes)
        *changes = 0;
    if (!id || !*id || !role_name || !*role_name)
        return MSGFLO_EINVAL;
    struct participant *p;
    HASH_FIND_STR(r->participants, id, p);
    /* the caps, checked before anything changes */
    const char *comp = json_string_value(json_object_get(payload, "component"));
    if (!p && r->o.max_participants && r->n_participants >= r->o.max_participants)
        return MSGFLO_ESTATE;
    if (comp && r->o.max_components && r->n_components >= r->o.max_components &&
        !component__find(r, comp))
        return MSGFLO_ESTATE;
    char *text = json_dumps(payload, JSON_COMPACT);
    json_t *merged = NULL; /* the stored payload when it differs from `payload` */
    if (!text)
        return MSGFLO_ENOMEM;
    if (p && strcmp(p->role->name, role_name) != 0)
        role__detach(r, p); /* announces another role now */
    if (!p) {
        size_t len = strlen(id);
        p = calloc(1, sizeof *p + len + 1);
        if (!p) {
            free(text);
            return MSGFLO_ENOMEM;
        }
        p->id = memcpy(p->id_text, id, len + 1);
        p->text = text;
        HASH_ADD_KEYPTR(hh, r->participants, p->id, strlen(p->id), p);
        DL_APPEND2(r->seen, p, lprev, lnext);
        r->n_participants++;
        p->first_seen = now_ms;
        ch |= REGISTRY_CHANGED;
    } else if (strcmp(p->text, text) == 0) {
        free(text); /* the same announcement again: the common case */
    } else {
        /* fields it lacks are kept: merge over the stored payload */
        bool changed = false;
        free(text);
        text = NULL;
        merged = json_loads(p->text, 0, NULL);
        rc = merged ? merge(merged, payload, &changed) : MSGFLO_ENOMEM;
        if (changed && rc == 0) {
            text = json_dumps(merged, JSON_COMPACT);
            if (text) {
                free(p->text);
                p->text = text;
            } else {
                rc = MSGFLO_ENOMEM;
            }
        }
        if (changed)
            ch |= REGISTRY_CHANGED;
    }
    p->last_seen = now_ms;
    seen__move(r, p);
    if (!p->role) {
        bool created;
        struct role *ro = role__get(r, role_name, &created);
        if (!ro) {
            participant__free(r, p);
            return MSGFLO_ENOMEM;
        }
        role__attach(ro, p);
        ch |= REGISTRY_NEW_INSTANCE | (created ? REGISTRY_NEW_ROLE : 0);
    }
    int r1 = component__attach(r, p, comp);
    if (r1 && !rc)
        rc = r1;
    struct role *ro = p->role;
    if (ro->current != p || (ch & REGISTRY_CHANGED)) {
        ro->current = p;
        bool queues;
        int r2 = role__reindex(r, ro, merged ? merged : payload, &queues);
        if (r2 && !rc)
            rc = r2;
        if (queues)
            ch |= REGISTRY_QUEUES;
    }
    json_decref(merged);
    if (changes)
        *changes = ch;
    return rc;
}

int registry__update(struct registry *r, const json_t *payload, uint64_t now_ms, unsigned *changes)
{
    int rc = update(r, payload, now_ms, changes);
    registry_check(r);
    return rc;
}

int registry__announce(struct registry *r, const void *data, size_t len, uint64_t now_ms,
                       unsigned *changes, char *err, size_t errlen)
{
    json_t *payload = NULL;
    if (changes)
        *changes = 0;
    int rc = discovery__parse(data, len, &payload, err, errlen);
    if (rc == 0)
        rc = registry__update(r, payload, now_ms, changes);
    json_decref(payload);
    return rc;
}

/* --- lookups ---------------------------------------------------------------- */

static struct participant *participant__find(const struct registry *r, const char *id)
{
    struct participant *p;
    HASH_FIND_STR(r->participants, id, p);
    return p;
}

static struct role *role__find(const struct registry *r, const char *name)
{
    struct role *ro;
    HASH_FIND_STR(r->roles, name, ro);
    return ro;
}

/* p's payload, parsed: a new reference in *out. */
static int parsed_payload(const struct participant *p, json_t **out)
{
    *out = NULL;
    if (!p)
        return MSGFLO_ENOPORT;
    *out = json_loads(p->text, 0, NULL);
    return *out ? 0 : MSGFLO_ENOMEM;
}

int registry__participant(const struct registry *r, const char *id, json_t **out)
{
    return parsed_payload(participant__find(r, id), out);
}

int registry__seen(const struct registry *r, const char *id, uint64_t *first, uint64_t *last)
{
    struct participant *p = participant__find(r, id);
    if (!p)
        return MSGFLO_ENOPORT;
    if (first)
        *first = p->first_seen;
    if (last)
        *last = p->last_seen;
    return 0;
}

int registry__role(const struct registry *r, const char *role, json_t **out)
{
    struct role *ro = role__find(r, role);
    return parsed_payload(ro ? ro->current : NULL, out);
}

size_t registry__role_instances(const struct registry *r, const char *role)
{
    return registry__record_instances(registry__role_record(r, role));
}

int registry__role_seen(const struct registry *r, const char *role, uint64_t *last)
{
    return registry__record_seen(registry__role_record(r, role), last);
}

/* struct registry_role is the public name of struct role. */
const struct registry_role *registry__role_record(const struct registry *r, const char *role)
{
    return (const struct registry_role *)role__find(r, role);
}

unsigned long long registry__role_records(const struct registry *r)
{
    return r->role_records;
}

size_t registry__record_instances(const struct registry_role *record)
{
    const struct role *ro = (const struct role *)record;
    return ro ? ro->n_members : 0;
}

int registry__record_seen(const struct registry_role *record, uint64_t *last)
{
    const struct role *ro = (const struct role *)record;
    if (!ro || !ro->current)
        return MSGFLO_ENOPORT;
    *last = ro->current->last_seen;
    return 0;
}

size_t registry__count(const struct registry *r)
{
    return r->n_participants;
}

size_t registry__role_count(const struct registry *r)
{
    return r->n_roles;
}

size_t registry__component_count(const struct registry *r)
{
    return r->n_components;
}

size_t registry__max_participants(const struct registry *r)
{
    return r->o.max_participants;
}

size_t registry__max_components(const struct registry *r)
{
    return r->o.max_components;
}

size_t registry__component_participants(const struct registry *r, const char *component)
{
    struct component *k = component__find(r, component);
    return k ? k->n : 0;
}

int registry__queue(const struct registry *r, const char *role, bool inport, const char *port,
                    char **out, bool *announced)
{
    struct role *ro = role__find(r, role);
    const char *queue = NULL;
    /* the index holds each announced port's queue (role.PORT when it gave none) */
    for (size_t i = 0; ro && i < ro->n_entries && !queue; i++) {
        if (ro->entries[i].inport == inport && strcasecmp(ro->entries[i].port, port) == 0)
            queue = ro->entries[i].queue;
    }
    if (announced)
        *announced = queue != NULL;
    *out = queue ? strdup(queue) : definition__default_queue(role, port);
    return *out ? 0 : MSGFLO_ENOMEM;
}

const struct registry_port *registry__queue_ports(const struct registry *r, const char *queue,
                                                  size_t *n)
{
    struct queue *q;
    HASH_FIND_STR(r->queues, queue, q);
    *n = q ? q->n : 0;
    return q ? q->ports : NULL;
}

void registry__edges(const struct registry *r, const char *role, registry_edge_fn fn, void *ud)
{
    struct role *ro = role__find(r, role);
    if (!ro)
        return;
    for (size_t i = 0; i < ro->n_entries; i++) {
        const struct index_entry *e = &ro->entries[i];
        size_t n;
        const struct registry_port *ports = registry__queue_ports(r, e->queue, &n);
        for (size_t k = 0; k < n; k++) {
            const struct registry_port *o = &ports[k];
            if (o->inport == e->inport || strcmp(o->role, ro->name) == 0)
                continue;
            if (e->inport)
                fn(o->role, o->port, ro->name, e->port, e->queue, ud);
            else
                fn(ro->name, e->port, o->role, o->port, e->queue, ud);
        }
    }
}

/* --- forgetting ------------------------------------------------------------- */

size_t registry__expire(struct registry *r, uint64_t now_ms, registry_expired_fn fn, void *ud)
{
    return registry__expire_max(r, now_ms, SIZE_MAX, fn, ud);
}

size_t registry__expire_max(struct registry *r, uint64_t now_ms, size_t max, registry_expired_fn fn,
                            void *ud)
{
    if (r->o.expiry_periods == 0)
        return 0;
    uint64_t limit = r->o.period_ms * r->o.expiry_periods;
    size_t n = 0;
    while (r->seen && n < max) {
        struct participant *p = r->seen; /* the oldest */
        if (now_ms < p->last_seen || now_ms - p->last_seen <= limit)
            break;
        /* removed before fn: fn may change the registry (forget the role) */
        char *role = fn ? strdup(p->role->name) : NULL, *id = fn ? strdup(p->id) : NULL;
        participant__free(r, p);
        n++;
        registry_check(r);
        if (role && id)
            fn(role, id, ud);
        free(role);
        free(id);
    }
    registry_check(r);
    return n;
}

uint64_t registry__next_expiry(const struct registry *r)
{
    if (r->o.expiry_periods == 0 || !r->seen)
        return UINT64_MAX;
    return r->seen->last_seen + r->o.period_ms * r->o.expiry_periods + 1;
}

size_t registry__forget_role(struct registry *r, const char *role)
{
    struct role *ro = role__find(r, role);
    size_t n = 0;
    while (ro) {
        struct participant *p = ro->members;
        bool last = ro->n_members == 1;
        participant__free(r, p);
        n++;
        if (last)
            break;
    }
    registry_check(r);
    return n;
}
