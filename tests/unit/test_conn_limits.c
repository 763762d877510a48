/* Fair connection limits of the runtime server (sans-I/O): admission,
 * eviction order, per-address caps, deadlines and pings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "msgflo/errors.h"
#include "runtime/conn_limits.h"

static struct conn_addr v4(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
    struct conn_addr a;
    assert_int_equal(conn_limits__addr(&a, (const struct sockaddr *)&in), 0);
    return a;
}

static struct conn_addr v6(const char *text)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    struct conn_addr a;
    assert_int_equal(conn_limits__addr(&a, (const struct sockaddr *)&in6), 0);
    return a;
}

static bool addr_eq(struct conn_addr a, struct conn_addr b)
{
    return a.len == b.len && memcmp(a.bytes, b.bytes, a.len) == 0;
}

static void test_addresses(void **state)
{
    (void)state;
    assert_true(addr_eq(v4("127.0.0.1"), v4("127.0.0.1")));
    assert_false(addr_eq(v4("127.0.0.1"), v4("127.0.0.2")));
    /* IPv4-mapped IPv6 is the IPv4 address. */
    assert_true(addr_eq(v6("::ffff:10.1.2.3"), v4("10.1.2.3")));
    /* IPv6 counted per /64. */
    assert_true(addr_eq(v6("2001:db8:1:2::1"), v6("2001:db8:1:2:ffff::9")));
    assert_false(addr_eq(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1")));
    assert_false(addr_eq(v6("::1"), v4("0.0.0.1")));
    struct sockaddr other = {.sa_family = AF_UNIX};
    struct conn_addr a;
    assert_int_equal(conn_limits__addr(&a, &other), MSGFLO_EINVAL);
}

static void test_defaults(void **state)
{
    (void)state;
    struct conn_limits l;
    assert_int_equal(conn_limits__init(&l, NULL), 0);
    assert_int_equal(l.o.max_connections, CONN_LIMITS_MAX_CONNECTIONS);
    assert_int_equal(l.o.max_per_address, CONN_LIMITS_MAX_PER_ADDRESS);
    assert_int_equal(l.o.request_timeout_ms, CONN_LIMITS_REQUEST_TIMEOUT_MS);
    assert_int_equal(l.o.auth_timeout_ms, CONN_LIMITS_AUTH_TIMEOUT_MS);
    assert_int_equal(l.o.ping_interval_ms, CONN_LIMITS_PING_INTERVAL_MS);
    assert_int_equal(l.o.ping_timeout_ms, CONN_LIMITS_PING_TIMEOUT_MS);
    conn_limits__cleanup(&l);
    const struct conn_limits_options o = {.max_connections = 3, .ping_timeout_ms = 7};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    assert_int_equal(l.o.max_connections, 3);
    assert_int_equal(l.o.max_per_address, CONN_LIMITS_MAX_PER_ADDRESS);
    assert_int_equal(l.o.ping_timeout_ms, 7);
    assert_int_equal(conn_limits__count(&l), 0);
    conn_limits__cleanup(&l);
}

/* Admits a newcomer as the caller would: evicts the victim, adds it. */
static enum conn_admit arrive(struct conn_limits *l, struct conn_entry *e, struct conn_addr a,
                              uint64_t now, struct conn_entry **victim)
{
    enum conn_admit r = conn_limits__admit(l, &a, victim);
    if (r == CONN_REFUSE)
        return r;
    if (*victim)
        conn_limits__remove(l, *victim);
    conn_limits__add(l, e, &a, now);
    return r;
}

/* Admits e from 10.0.0.1 at now into a full table and checks the victim. */
static void expect_victim(struct conn_limits *l, struct conn_entry *e, uint64_t now,
                          struct conn_entry *want)
{
    struct conn_entry *victim;
    assert_int_equal(arrive(l, e, v4("10.0.0.1"), now, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, want);
}

static void test_eviction_order(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 6, .max_per_address = 100};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry e[16];
    struct conn_entry *victim;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(arrive(&l, &e[i], v4("10.0.0.1"), (uint64_t)i, &victim), CONN_ADMIT);
        assert_null(victim);
    }
    /* e0, e1 trusted; e2, e3 guests since 10 and 12; e4 answered; e5 an
     * unfinished request since 5. */
    for (int i = 0; i < 4; i++)
        conn_limits__set_class(&l, &e[i], CONN_CLASS_GUEST, i == 3 ? 12 : 10);
    conn_limits__set_class(&l, &e[0], CONN_CLASS_TRUSTED, 11);
    conn_limits__set_class(&l, &e[1], CONN_CLASS_TRUSTED, 11);
    conn_limits__set_class(&l, &e[4], CONN_CLASS_DONE, 10);
    assert_int_equal(conn_limits__count(&l), 6);

    /* An answered connection goes first, though others waited longer. */
    expect_victim(&l, &e[6], 20, &e[4]);
    /* Then the longest wait: the request since 5, before the guests. */
    expect_victim(&l, &e[7], 21, &e[5]);
    /* The guest since 10, before the requests since 20 and 21. */
    expect_victim(&l, &e[8], 22, &e[2]);
    conn_limits__set_class(&l, &e[6], CONN_CLASS_GUEST, 30);
    /* Guest e3 since 12 before requests e7 (21), e8 (22), guest e6 (30). */
    expect_victim(&l, &e[9], 31, &e[3]);
    expect_victim(&l, &e[10], 32, &e[7]);
    conn_limits__set_class(&l, &e[9], CONN_CLASS_GUEST, 32);
    /* Left: e8 request 22, e6 guest 30, e9 guest 32, e10 request 32. */
    expect_victim(&l, &e[11], 33, &e[8]);
    conn_limits__set_class(&l, &e[11], CONN_CLASS_TRUSTED, 33);
    expect_victim(&l, &e[12], 34, &e[6]);
    conn_limits__set_class(&l, &e[12], CONN_CLASS_TRUSTED, 34);
    /* A tie (guest e9 and request e10 since 32): the request goes. */
    expect_victim(&l, &e[13], 35, &e[10]);
    conn_limits__set_class(&l, &e[13], CONN_CLASS_TRUSTED, 35);
    expect_victim(&l, &e[14], 36, &e[9]);
    conn_limits__set_class(&l, &e[14], CONN_CLASS_TRUSTED, 36);
    /* Only trusted clients: a newcomer is refused, nobody is evicted. */
    struct conn_entry x;
    assert_int_equal(arrive(&l, &x, v4("10.0.0.6"), 40, &victim), CONN_REFUSE);
    assert_null(victim);
    assert_int_equal(conn_limits__count(&l), 6);
    /* A place freed: admitted without a victim. */
    conn_limits__remove(&l, &e[0]);
    conn_limits__remove(&l, &e[0]); /* not listed any more: no-op */
    assert_int_equal(conn_limits__count(&l), 5);
    assert_int_equal(arrive(&l, &x, v4("10.0.0.6"), 41, &victim), CONN_ADMIT);
    assert_null(victim);
    assert_int_equal(conn_limits__count(&l), 6);
    conn_limits__cleanup(&l);
}

/* The attack the tests of the server replay: a legitimate newcomer (the
 * newest request) survives any number of attacker reconnects short of a
 * whole table while it completes its handshake. */
static void test_newest_survives(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 8, .max_per_address = 100};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry guests[8], legit, churn[7];
    struct conn_entry *victim;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(arrive(&l, &guests[i], v4("10.0.0.2"), 0, &victim), CONN_ADMIT);
        conn_limits__set_class(&l, &guests[i], CONN_CLASS_GUEST, 1);
    }
    assert_int_equal(arrive(&l, &legit, v4("10.0.0.1"), 100, &victim), CONN_ADMIT);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(arrive(&l, &churn[i], v4("10.0.0.2"), 101, &victim), CONN_ADMIT);
        assert_ptr_not_equal(victim, &legit);
    }
    assert_true(legit.listed);
    conn_limits__cleanup(&l);
}

static void test_per_address(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 10, .max_per_address = 3};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry a[6], b[3];
    struct conn_entry *victim;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arrive(&l, &a[i], v4("127.0.0.2"), 0, &victim), CONN_ADMIT);
        assert_null(victim);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arrive(&l, &b[i], v4("127.0.0.3"), 0, &victim), CONN_ADMIT);
        assert_null(victim);
    }
    /* 127.0.0.2 at its cap: its own oldest goes, not 127.0.0.3's, although
     * the table has room. */
    assert_int_equal(arrive(&l, &a[3], v4("127.0.0.2"), 1, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &a[0]);
    assert_int_equal(conn_limits__count_addr(&l, &(struct conn_addr){0}), 0);
    struct conn_addr two = v4("127.0.0.2");
    assert_int_equal(conn_limits__count_addr(&l, &two), 3);
    assert_int_equal(conn_limits__count(&l), 6);
    /* All of 127.0.0.2's are trusted: it gets no more, the others still do. */
    for (int i = 1; i < 4; i++) {
        conn_limits__set_class(&l, &a[i], CONN_CLASS_GUEST, 2);
        conn_limits__set_class(&l, &a[i], CONN_CLASS_TRUSTED, 2);
    }
    assert_int_equal(arrive(&l, &a[4], v4("127.0.0.2"), 3, &victim), CONN_REFUSE);
    assert_null(victim);
    struct conn_entry c;
    assert_int_equal(arrive(&l, &c, v4("127.0.0.4"), 3, &victim), CONN_ADMIT);
    assert_null(victim);
    /* One address's flood, with a legitimate client behind the same address:
     * 1000 unfinished requests from 127.0.0.5 never hold more than 3 places,
     * and a newcomer from there always gets in. */
    struct conn_entry flood[1000];
    size_t evicted_own = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(arrive(&l, &flood[i], v4("127.0.0.5"), 4, &victim), CONN_ADMIT);
        if (victim) {
            assert_true(victim >= flood && victim < flood + 1000);
            evicted_own++;
        }
    }
    assert_int_equal(evicted_own, 997);
    struct conn_addr five = v4("127.0.0.5");
    assert_int_equal(conn_limits__count_addr(&l, &five), 3);
    assert_int_equal(conn_limits__count(&l), 7 + 3);
    /* The table is full now: another address's newcomer evicts from the
     * address with the most untrusted connections (127.0.0.5: 3, 127.0.0.3:
     * 2 once b[1] is trusted), its oldest, though 127.0.0.3's are older. */
    conn_limits__set_class(&l, &b[1], CONN_CLASS_TRUSTED, 5);
    struct conn_entry d;
    assert_int_equal(arrive(&l, &d, v4("127.0.0.6"), 5, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &flood[997]);
    conn_limits__cleanup(&l);
}

static void test_request_deadline(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.request_timeout_ms = 500};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry e;
    struct conn_addr a = v4("127.0.0.1");
    conn_limits__add(&l, &e, &a, 1000);
    uint64_t next;
    assert_int_equal(conn_limits__due(&l, &e, 1000, &next), CONN_DUE_NONE);
    assert_int_equal(next, 1500);
    /* Bytes of an unfinished request do not extend it. */
    conn_limits__received(&e, 1400);
    assert_int_equal(conn_limits__due(&l, &e, 1499, &next), CONN_DUE_NONE);
    assert_int_equal(conn_limits__due(&l, &e, 1500, &next), CONN_DUE_NO_REQUEST);
    /* A response sent: nothing is due (the caller times the linger). */
    conn_limits__set_class(&l, &e, CONN_CLASS_DONE, 1500);
    assert_int_equal(conn_limits__due(&l, &e, 99999, &next), CONN_DUE_NONE);
    assert_int_equal(next, UINT64_MAX);
    conn_limits__cleanup(&l);
}

static void test_websocket_deadlines(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {
        .auth_timeout_ms = 1000, .ping_interval_ms = 300, .ping_timeout_ms = 200};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry e;
    struct conn_addr a = v4("127.0.0.1");
    uint64_t next;

    /* A guest that answers pings is still closed at the auth deadline. */
    conn_limits__add(&l, &e, &a, 0);
    conn_limits__set_class(&l, &e, CONN_CLASS_GUEST, 100);
    assert_int_equal(conn_limits__due(&l, &e, 100, &next), CONN_DUE_NONE);
    assert_int_equal(next, 400);
    assert_int_equal(conn_limits__due(&l, &e, 400, &next), CONN_DUE_PING);
    conn_limits__pinged(&e, 400);
    assert_int_equal(conn_limits__due(&l, &e, 400, &next), CONN_DUE_NONE);
    assert_int_equal(next, 600);
    conn_limits__received(&e, 450); /* pong */
    assert_int_equal(conn_limits__due(&l, &e, 600, &next), CONN_DUE_NONE);
    assert_int_equal(next, 750);
    conn_limits__received(&e, 1000);
    assert_int_equal(conn_limits__due(&l, &e, 1099, &next), CONN_DUE_NONE);
    assert_int_equal(next, 1100); /* the auth deadline comes before the ping */
    assert_int_equal(conn_limits__due(&l, &e, 1100, &next), CONN_DUE_NO_AUTH);

    /* Trusted: no auth deadline; pinged while silent, kept while it answers,
     * closed when it does not. */
    conn_limits__remove(&l, &e);
    conn_limits__add(&l, &e, &a, 0);
    conn_limits__set_class(&l, &e, CONN_CLASS_GUEST, 0);
    conn_limits__received(&e, 50);
    conn_limits__set_class(&l, &e, CONN_CLASS_TRUSTED, 50);
    uint64_t t = 350;
    for (int i = 0; i < 1000; i++, t += 350) {
        assert_int_equal(conn_limits__due(&l, &e, t - 1, &next), CONN_DUE_NONE);
        assert_int_equal(next, t);
        assert_int_equal(conn_limits__due(&l, &e, t, &next), CONN_DUE_PING);
        conn_limits__pinged(&e, t);
        assert_int_equal(conn_limits__due(&l, &e, t + 199, &next), CONN_DUE_NONE);
        assert_int_equal(next, t + 200);
        conn_limits__received(&e, t + 50);
    }
    assert_int_equal(conn_limits__due(&l, &e, t, &next), CONN_DUE_PING);
    conn_limits__pinged(&e, t);
    assert_int_equal(conn_limits__due(&l, &e, t + 200, &next), CONN_DUE_NO_PONG);
    /* Becoming trusted again does not reset its clocks. */
    conn_limits__set_class(&l, &e, CONN_CLASS_TRUSTED, t + 200);
    assert_int_equal(conn_limits__due(&l, &e, t + 200, &next), CONN_DUE_NO_PONG);

    /* A ping at time 0 still counts as sent. */
    conn_limits__remove(&l, &e);
    conn_limits__cleanup(&l);
    const struct conn_limits_options z = {.ping_interval_ms = 1, .ping_timeout_ms = 5};
    assert_int_equal(conn_limits__init(&l, &z), 0);
    conn_limits__add(&l, &e, &a, 0);
    conn_limits__set_class(&l, &e, CONN_CLASS_TRUSTED, 0);
    conn_limits__received(&e, 0);
    conn_limits__pinged(&e, 0);
    assert_int_equal(conn_limits__due(&l, &e, 0, &next), CONN_DUE_NONE);
    assert_int_equal(conn_limits__due(&l, &e, 6, &next), CONN_DUE_NO_PONG);
    conn_limits__cleanup(&l);
}

/* Fair share: a full table evicts from the address holding the most
 * untrusted connections, whatever their age. */
static void test_fair_share(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 10, .max_per_address = 8};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry a[3], b[7], c[4];
    struct conn_entry *victim;
    for (int i = 0; i < 3; i++)
        assert_int_equal(arrive(&l, &a[i], v4("192.0.2.1"), 0, &victim), CONN_ADMIT);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(arrive(&l, &b[i], v4("192.0.2.2"), 100, &victim), CONN_ADMIT);
        conn_limits__set_class(&l, &b[i], CONN_CLASS_GUEST, 100);
    }
    /* b holds 7 untrusted, a 3 older requests: b's oldest goes. */
    assert_int_equal(arrive(&l, &c[0], v4("192.0.2.3"), 200, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &b[0]);
    /* With 5 of b's trusted, b has 1 untrusted, a 3: a's go. */
    for (int i = 1; i < 6; i++)
        conn_limits__set_class(&l, &b[i], CONN_CLASS_TRUSTED, 200);
    assert_int_equal(arrive(&l, &c[1], v4("192.0.2.3"), 201, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &a[0]);
    /* a and c hold 2 untrusted each now, b 1: never b's trusted ones. */
    for (int i = 2; i < 4; i++) {
        assert_int_equal(arrive(&l, &c[i], v4("192.0.2.3"), 202, &victim), CONN_ADMIT);
        assert_non_null(victim);
        assert_true(victim->cls != CONN_CLASS_TRUSTED);
    }
    conn_limits__cleanup(&l);
}

/* The per-address counts against a plain count of the list, through many
 * additions and removals over colliding addresses (the hash's deletions). */
static void test_counts_random(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 64, .max_per_address = 64};
    assert_int_equal(conn_limits__init(&l, &o), 0);
    struct conn_entry e[64];
    memset(e, 0, sizeof e);
    struct conn_addr addrs[40];
    for (int i = 0; i < 40; i++) {
        char text[32];
        snprintf(text, sizeof text, "10.%d.0.%d", i % 3, i);
        addrs[i] = v4(text);
    }
    srand(7);
    for (int step = 0; step < 20000; step++) {
        struct conn_entry *x = &e[rand() % 64];
        if (x->listed) {
            conn_limits__remove(&l, x);
        } else {
            conn_limits__add(&l, x, &addrs[rand() % 40], (uint64_t)step);
            if (rand() % 2)
                conn_limits__set_class(&l, x, CONN_CLASS_TRUSTED, (uint64_t)step);
        }
        if (step % 97 == 0) {
            size_t total = 0;
            for (int a = 0; a < 40; a++) {
                size_t n = 0;
                for (int i = 0; i < 64; i++)
                    n += e[i].listed && addr_eq(e[i].addr, addrs[a]);
                assert_int_equal(conn_limits__count_addr(&l, &addrs[a]), n);
                total += n;
            }
            assert_int_equal(conn_limits__count(&l), total);
        }
    }
    conn_limits__cleanup(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),           cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_eviction_order),      cmocka_unit_test(test_newest_survives),
        cmocka_unit_test(test_per_address),         cmocka_unit_test(test_fair_share),
        cmocka_unit_test(test_counts_random),       cmocka_unit_test(test_request_deadline),
        cmocka_unit_test(test_websocket_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
