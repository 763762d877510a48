/* Admission, eviction and deadlines of the server's connections (sans-I/O).
 *
 * The table is a list in accept order, with a count per address in an
 * open-addressing hash (linear probing, deletion by backward shift): the
 * per-address cap is checked in O(1); choosing a victim scans the buckets
 * and the list once (max_connections entries, 256 by default), and only
 * when the table or an address is full. */
#include "runtime/conn_limits.h"

#include "msgflo/errors.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static uint64_t or_default(uint64_t v, uint64_t d)
{
    return v ? v : d;
}

int conn_limits__init(struct conn_limits *l, const struct conn_limits_options *opts)
{
    const struct conn_limits_options none = {0};
    const struct conn_limits_options *o = opts ? opts : &none;
    memset(l, 0, sizeof *l);
    l->o.max_connections = o->max_connections ? o->max_connections : CONN_LIMITS_MAX_CONNECTIONS;
    l->o.max_per_address = o->max_per_address ? o->max_per_address : CONN_LIMITS_MAX_PER_ADDRESS;
    l->o.request_timeout_ms = or_default(o->request_timeout_ms, CONN_LIMITS_REQUEST_TIMEOUT_MS);
    l->o.auth_timeout_ms = or_default(o->auth_timeout_ms, CONN_LIMITS_AUTH_TIMEOUT_MS);
    l->o.ping_interval_ms = or_default(o->ping_interval_ms, CONN_LIMITS_PING_INTERVAL_MS);
    l->o.ping_timeout_ms = or_default(o->ping_timeout_ms, CONN_LIMITS_PING_TIMEOUT_MS);
    /* At most max_connections addresses: keep the load under a half. */
    size_t n = 16;
    while (n < 2 * l->o.max_connections && n < ((size_t)1 << 30))
        n *= 2;
    l->buckets = calloc(n, sizeof *l->buckets);
    if (!l->buckets)
        return MSGFLO_ENOMEM;
    l->mask = n - 1;
    return 0;
}

void conn_limits__cleanup(struct conn_limits *l)
{
    free(l->buckets);
    l->buckets = NULL;
}

int conn_limits__addr(struct conn_addr *out, const struct sockaddr *sa)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->len = 4;
        memcpy(out->bytes, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, sizeof mapped) == 0) {
            out->len = 4;
            memcpy(out->bytes, b + 12, 4);
        } else {
            out->len = 8;
            memcpy(out->bytes, b, 8);
        }
        return 0;
    }
    return MSGFLO_EINVAL;
}

static bool same_addr(const struct conn_addr *a, const struct conn_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static size_t addr_hash(const struct conn_addr *a)
{
    uint32_t h = 2166136261u ^ a->len; /* FNV-1a */
    for (size_t i = 0; i < a->len; i++)
        h = (h ^ a->bytes[i]) * 16777619u;
    return h;
}

/* The bucket of addr, or the empty one where it would go. */
static struct conn_bucket *bucket(const struct conn_limits *l, const struct conn_addr *addr)
{
    for (size_t i = addr_hash(addr) & l->mask;; i = (i + 1) & l->mask) {
        struct conn_bucket *b = &l->buckets[i];
        if (b->n == 0 || same_addr(&b->addr, addr))
            return b;
    }
}

/* Empties bucket b, moving later buckets of its probe run back. */
static void bucket_delete(struct conn_limits *l, struct conn_bucket *b)
{
    size_t i = (size_t)(b - l->buckets);
    for (size_t j = (i + 1) & l->mask; l->buckets[j].n; j = (j + 1) & l->mask) {
        size_t k = addr_hash(&l->buckets[j].addr) & l->mask;
        /* Stays if its home k lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        l->buckets[i] = l->buckets[j];
        i = j;
    }
    memset(&l->buckets[i], 0, sizeof l->buckets[i]);
}

size_t conn_limits__count(const struct conn_limits *l)
{
    return l->n;
}

size_t conn_limits__count_addr(const struct conn_limits *l, const struct conn_addr *addr)
{
    return bucket(l, addr)->n;
}

/* The entry to evict (from addr only, unless NULL): a connection whose
 * response is already sent, oldest first; else the one that has waited
 * longest for its next step: an unfinished request (since accept) or a
 * WebSocket client without a permitted command (since its upgrade), the
 * request on a tie. Not "every request before any guest": a legitimate
 * request a millisecond old would then go before an attacker's guest idle
 * for seconds, at the first reconnect of the attacker. */
static struct conn_entry *choose_victim(const struct conn_limits *l, const struct conn_addr *addr)
{
    if (!addr) {
        const struct conn_bucket *most = NULL;
        for (size_t i = 0; i <= l->mask; i++) {
            const struct conn_bucket *b = &l->buckets[i];
            if (b->n && b->untrusted && (!most || b->untrusted > most->untrusted))
                most = b;
        }
        if (!most)
            return NULL;
        addr = &most->addr;
    }
    struct conn_entry *best = NULL;
    for (struct conn_entry *e = l->head; e; e = e->next) {
        if (addr && !same_addr(&e->addr, addr))
            continue;
        if (e->cls == CONN_CLASS_DONE)
            return e;
        if (e->cls == CONN_CLASS_TRUSTED)
            continue;
        if (!best || e->since < best->since ||
            (e->since == best->since && e->cls == CONN_CLASS_REQUEST &&
             best->cls != CONN_CLASS_REQUEST))
            best = e;
    }
    return best;
}

enum conn_admit conn_limits__admit(const struct conn_limits *l, const struct conn_addr *addr,
                                   struct conn_entry **victim)
{
    *victim = NULL;
    const struct conn_addr *scope = NULL;
    if (conn_limits__count_addr(l, addr) >= l->o.max_per_address)
        scope = addr;
    else if (l->n < l->o.max_connections)
        return CONN_ADMIT;
    *victim = choose_victim(l, scope);
    return *victim ? CONN_ADMIT : CONN_REFUSE;
}

void conn_limits__add(struct conn_limits *l, struct conn_entry *e, const struct conn_addr *addr,
                      uint64_t now)
{
    memset(e, 0, sizeof *e);
    struct conn_bucket *b = bucket(l, addr);
    b->addr = *addr;
    b->n++;
    b->untrusted++;
    e->addr = *addr;
    e->cls = CONN_CLASS_REQUEST;
    e->since = now;
    e->listed = true;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

void conn_limits__remove(struct conn_limits *l, struct conn_entry *e)
{
    if (!e->listed)
        return;
    struct conn_bucket *b = bucket(l, &e->addr);
    b->n--;
    b->untrusted -= e->cls != CONN_CLASS_TRUSTED;
    if (b->n == 0)
        bucket_delete(l, b);
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    e->listed = false;
    l->n--;
}

void conn_limits__set_class(struct conn_limits *l, struct conn_entry *e, enum conn_class cls,
                            uint64_t now)
{
    if (e->listed && (cls == CONN_CLASS_TRUSTED) != (e->cls == CONN_CLASS_TRUSTED)) {
        struct conn_bucket *b = bucket(l, &e->addr);
        if (cls == CONN_CLASS_TRUSTED)
            b->untrusted--;
        else
            b->untrusted++;
    }
    if (cls == CONN_CLASS_GUEST && e->cls != CONN_CLASS_GUEST) {
        e->since = now;
        e->last_rx = now;
        e->pinged = 0;
    }
    e->cls = cls;
}

void conn_limits__received(struct conn_entry *e, uint64_t now)
{
    e->last_rx = now;
    e->pinged = 0;
}

void conn_limits__pinged(struct conn_entry *e, uint64_t now)
{
    /* 0 means "not pinged": a ping at time 0 (a loop just started) counts
     * as 1 ms later. */
    e->pinged = now ? now : 1;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

enum conn_due conn_limits__due(const struct conn_limits *l, const struct conn_entry *e,
                               uint64_t now, uint64_t *next)
{
    const struct conn_limits_options *o = &l->o;
    *next = UINT64_MAX;
    switch (e->cls) {
    case CONN_CLASS_REQUEST:
        if (now >= e->since + o->request_timeout_ms)
            return CONN_DUE_NO_REQUEST;
        *next = e->since + o->request_timeout_ms;
        return CONN_DUE_NONE;
    case CONN_CLASS_DONE:
        return CONN_DUE_NONE;
    case CONN_CLASS_GUEST:
    case CONN_CLASS_TRUSTED:
        break;
    }
    uint64_t auth = UINT64_MAX;
    if (e->cls == CONN_CLASS_GUEST) {
        auth = e->since + o->auth_timeout_ms;
        if (now >= auth)
            return CONN_DUE_NO_AUTH;
    }
    if (e->pinged) {
        uint64_t dead = e->pinged + o->ping_timeout_ms;
        if (now >= dead)
            return CONN_DUE_NO_PONG;
        *next = min_u64(dead, auth);
        return CONN_DUE_NONE;
    }
    uint64_t ping = e->last_rx + o->ping_interval_ms;
    if (now >= ping)
        return CONN_DUE_PING;
    *next = min_u64(ping, auth);
    return CONN_DUE_NONE;
}
