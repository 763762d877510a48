/* Fair limits on the runtime server's connections, sans-I/O: whom to refuse
 * or evict when the table is full or one address holds too many, and when a
 * connection has overstayed (request not sent, no permitted command, no
 * answer to a ping). No sockets, no clock: time is passed in (ms).
 *
 *     struct conn_limits l;
 *     conn_limits__init(&l, &opts);                    // zero fields: defaults
 *     ...
 *     conn_limits__cleanup(&l);
 *     struct conn_addr a;  conn_limits__addr(&a, peer);
 *     struct conn_entry *victim;
 *     if (conn_limits__admit(&l, &a, &victim) == CONN_REFUSE) ...close newcomer
 *     if (victim) ...close the victim's connection (conn_limits__remove)
 *     conn_limits__add(&l, &e, &a, now);               // class CONN_CLASS_REQUEST
 *     conn_limits__set_class(&l, &e, CONN_CLASS_GUEST, now);    // upgraded
 *     conn_limits__set_class(&l, &e, CONN_CLASS_TRUSTED, now);  // permitted command
 *     conn_limits__due(&l, &e, now, &next);            // what to do now, when next
 *
 * Whom to evict when the table is full: a connection of the address that
 * holds the most untrusted connections (fair share: a flood from some
 * addresses pushes out its own connections, not those of a client from
 * another address). Within that address: a connection whose response is
 * already sent (oldest first); then whichever has waited longest for its
 * next step, an unfinished HTTP request (since accept) or a WebSocket client
 * that has not sent a permitted command (since its upgrade). A trusted
 * WebSocket client is never evicted (a newcomer is refused instead). When the newcomer's
 * address already holds max_per_address connections, the victim is taken
 * from that address only, so one address cannot push others out beyond its
 * share, and a legitimate client behind the same address still gets in past
 * an attacker's unfinished connections. */
#ifndef MSGFLO_RUNTIME_CONN_LIMITS_H
#define MSGFLO_RUNTIME_CONN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define CONN_LIMITS_MAX_CONNECTIONS    256
#define CONN_LIMITS_MAX_PER_ADDRESS    64
#define CONN_LIMITS_REQUEST_TIMEOUT_MS 5000
#define CONN_LIMITS_AUTH_TIMEOUT_MS    10000
#define CONN_LIMITS_PING_INTERVAL_MS   30000
#define CONN_LIMITS_PING_TIMEOUT_MS    15000

/* Zero fields take the defaults above. */
struct conn_limits_options {
    size_t max_connections;      /* all connections, HTTP and WebSocket */
    size_t max_per_address;      /* from one IPv4 address or one IPv6 /64 */
    uint64_t request_timeout_ms; /* HTTP request complete within this, from accept */
    uint64_t auth_timeout_ms;    /* WebSocket: first permitted command within this */
    uint64_t ping_interval_ms;   /* WebSocket silent this long: ping it */
    uint64_t ping_timeout_ms;    /* still silent this long after the ping: drop it */
};

/* An address as counted: 4 bytes of IPv4 (also IPv4-mapped IPv6), or the
 * first 8 bytes (/64) of IPv6, since one host usually holds a whole /64. */
struct conn_addr {
    uint8_t len;
    uint8_t bytes[8];
};

enum conn_class {
    CONN_CLASS_REQUEST, /* HTTP request not complete yet */
    CONN_CLASS_DONE,    /* response sent, waiting for the client to hang up */
    CONN_CLASS_GUEST,   /* WebSocket, no permitted command yet */
    CONN_CLASS_TRUSTED, /* WebSocket that sent a permitted command */
};

/* One connection; embedded in the caller's connection record. Fields are
 * the module's; read them, do not write them. */
struct conn_entry {
    struct conn_entry *prev, *next; /* accept order, oldest first */
    struct conn_addr addr;
    enum conn_class cls;
    bool listed;
    uint64_t since;   /* accepted (REQUEST) or upgraded (GUEST, TRUSTED) */
    uint64_t last_rx; /* WebSocket: last bytes received */
    uint64_t pinged;  /* WebSocket: ping sent at, 0 if none since last_rx */
};

/* Connections of one address (a bucket of an open-addressing table). */
struct conn_bucket {
    struct conn_addr addr;
    uint32_t n;         /* 0: empty bucket */
    uint32_t untrusted; /* not CONN_CLASS_TRUSTED */
};

struct conn_limits {
    struct conn_limits_options o; /* with defaults filled in */
    struct conn_entry *head, *tail;
    size_t n;
    struct conn_bucket *buckets; /* per address; owned */
    size_t mask;                 /* number of buckets - 1 (a power of two) */
};

enum conn_admit { CONN_ADMIT, CONN_REFUSE };

enum conn_due {
    CONN_DUE_NONE,       /* nothing yet: call again at *next */
    CONN_DUE_PING,       /* send a ping, then conn_limits__pinged */
    CONN_DUE_NO_REQUEST, /* HTTP request not complete in time: close */
    CONN_DUE_NO_AUTH,    /* no permitted command in time: close */
    CONN_DUE_NO_PONG,    /* silent after a ping: close */
};

/* Empty table with `opts` (NULL: all defaults). Allocates a count per
 * address (2 x max_connections buckets of 20 bytes). Returns 0 or
 * MSGFLO_ENOMEM. Release with conn_limits__cleanup. */
int conn_limits__init(struct conn_limits *l, const struct conn_limits_options *opts);

/* Frees the table's memory (the entries are the caller's). */
void conn_limits__cleanup(struct conn_limits *l);

/* The counted address of a peer (AF_INET or AF_INET6). Returns 0 or
 * MSGFLO_EINVAL (other families: the caller may count them as one). */
int conn_limits__addr(struct conn_addr *out, const struct sockaddr *sa);

/* Whether a newcomer from `addr` may be added, and whom to evict first:
 * *victim is NULL or a listed entry the caller must close and remove before
 * (or right after) adding the newcomer. */
enum conn_admit conn_limits__admit(const struct conn_limits *l, const struct conn_addr *addr,
                                   struct conn_entry **victim);

/* Appends e (borrowed until removed) as the newest, class REQUEST. */
void conn_limits__add(struct conn_limits *l, struct conn_entry *e, const struct conn_addr *addr,
                      uint64_t now);

/* Takes e out of the table; an entry not listed is left alone. */
void conn_limits__remove(struct conn_limits *l, struct conn_entry *e);

/* Moves e to class cls. Becoming GUEST starts the WebSocket clocks at now. */
void conn_limits__set_class(struct conn_limits *l, struct conn_entry *e, enum conn_class cls,
                            uint64_t now);

/* Bytes arrived from e's client at now (any bytes count as alive). */
void conn_limits__received(struct conn_entry *e, uint64_t now);

/* A ping went to e's client at now. */
void conn_limits__pinged(struct conn_entry *e, uint64_t now);

/* What is due for e at now; *next is when to ask again (UINT64_MAX: never,
 * e.g. class DONE, whose linger the caller times). */
enum conn_due conn_limits__due(const struct conn_limits *l, const struct conn_entry *e,
                               uint64_t now, uint64_t *next);

/* Listed connections in total and from addr. */
size_t conn_limits__count(const struct conn_limits *l);
size_t conn_limits__count_addr(const struct conn_limits *l, const struct conn_addr *addr);

#endif
