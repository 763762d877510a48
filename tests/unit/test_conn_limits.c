/* Fair connection limits of the runtime server (sans-I/O): admission,
 * eviction order, per-address caps, deadlines and pings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    conn_limits__init(&l, NULL);
    assert_int_equal(l.o.max_connections, CONN_LIMITS_MAX_CONNECTIONS);
    assert_int_equal(l.o.max_per_address, CONN_LIMITS_MAX_PER_ADDRESS);
    assert_int_equal(l.o.request_timeout_ms, CONN_LIMITS_REQUEST_TIMEOUT_MS);
    assert_int_equal(l.o.auth_timeout_ms, CONN_LIMITS_AUTH_TIMEOUT_MS);
    assert_int_equal(l.o.ping_interval_ms, CONN_LIMITS_PING_INTERVAL_MS);
    assert_int_equal(l.o.ping_timeout_ms, CONN_LIMITS_PING_TIMEOUT_MS);
    const struct conn_limits_options o = {.max_connections = 3, .ping_timeout_ms = 7};
    conn_limits__init(&l, &o);
    assert_int_equal(l.o.max_connections, 3);
    assert_int_equal(l.o.max_per_address, CONN_LIMITS_MAX_PER_ADDRESS);
    assert_int_equal(l.o.ping_timeout_ms, 7);
    assert_int_equal(conn_limits__count(&l), 0);
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

static void test_eviction_order(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 6, .max_per_address = 100};
    conn_limits__init(&l, &o);
    struct conn_entry e[12];
    struct conn_entry *victim;
    /* 0,1 trusted; 2,3 guests; 4 done; 5 request - in accept order. */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(arrive(&l, &e[i], v4("10.0.0.1"), (uint64_t)i, &victim), CONN_ADMIT);
        assert_null(victim);
    }
    conn_limits__set_class(&l, &e[0], CONN_CLASS_GUEST, 10);
    conn_limits__set_class(&l, &e[0], CONN_CLASS_TRUSTED, 11);
    conn_limits__set_class(&l, &e[1], CONN_CLASS_GUEST, 10);
    conn_limits__set_class(&l, &e[1], CONN_CLASS_TRUSTED, 11);
    conn_limits__set_class(&l, &e[2], CONN_CLASS_GUEST, 10);
    conn_limits__set_class(&l, &e[3], CONN_CLASS_GUEST, 10);
    conn_limits__set_class(&l, &e[4], CONN_CLASS_DONE, 10);
    assert_int_equal(conn_limits__count(&l), 6);

    /* Full: the unfinished request goes first, though it is the newest. */
    assert_int_equal(arrive(&l, &e[6], v4("10.0.0.2"), 20, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[5]);
    /* e[6] is an unfinished request now: it goes next. */
    assert_int_equal(arrive(&l, &e[7], v4("10.0.0.3"), 21, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[6]);
    conn_limits__set_class(&l, &e[7], CONN_CLASS_GUEST, 21);
    conn_limits__set_class(&l, &e[7], CONN_CLASS_TRUSTED, 21);
    /* No request left: the finished response, then the oldest guests. */
    assert_int_equal(arrive(&l, &e[8], v4("10.0.0.4"), 22, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[4]);
    conn_limits__set_class(&l, &e[8], CONN_CLASS_GUEST, 22);
    assert_int_equal(arrive(&l, &e[9], v4("10.0.0.4"), 23, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[2]);
    conn_limits__set_class(&l, &e[9], CONN_CLASS_GUEST, 23);
    assert_int_equal(arrive(&l, &e[10], v4("10.0.0.4"), 24, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[3]);
    conn_limits__set_class(&l, &e[10], CONN_CLASS_TRUSTED, 24);
    assert_int_equal(arrive(&l, &e[11], v4("10.0.0.5"), 25, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &e[8]); /* the older of the two guests left */
    conn_limits__set_class(&l, &e[11], CONN_CLASS_TRUSTED, 25);
    conn_limits__set_class(&l, &e[9], CONN_CLASS_TRUSTED, 25);
    /* Only trusted clients: a newcomer is refused, nobody is evicted. */
    struct conn_entry x;
    assert_int_equal(arrive(&l, &x, v4("10.0.0.6"), 26, &victim), CONN_REFUSE);
    assert_null(victim);
    assert_int_equal(conn_limits__count(&l), 6);
    /* A place freed: admitted without a victim. */
    conn_limits__remove(&l, &e[0]);
    conn_limits__remove(&l, &e[0]); /* not listed any more: no-op */
    assert_int_equal(conn_limits__count(&l), 5);
    assert_int_equal(arrive(&l, &x, v4("10.0.0.6"), 27, &victim), CONN_ADMIT);
    assert_null(victim);
    assert_int_equal(conn_limits__count(&l), 6);
}

static void test_per_address(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.max_connections = 10, .max_per_address = 3};
    conn_limits__init(&l, &o);
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
    /* The table is full now: another address's newcomer evicts the oldest
     * unfinished request in the table (b[0], a request of 127.0.0.3). */
    struct conn_entry d;
    assert_int_equal(arrive(&l, &d, v4("127.0.0.6"), 5, &victim), CONN_ADMIT);
    assert_ptr_equal(victim, &b[0]);
}

static void test_request_deadline(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {.request_timeout_ms = 500};
    conn_limits__init(&l, &o);
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
}

static void test_websocket_deadlines(void **state)
{
    (void)state;
    struct conn_limits l;
    const struct conn_limits_options o = {
        .auth_timeout_ms = 1000, .ping_interval_ms = 300, .ping_timeout_ms = 200};
    conn_limits__init(&l, &o);
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
    const struct conn_limits_options z = {.ping_interval_ms = 1, .ping_timeout_ms = 5};
    conn_limits__init(&l, &z);
    conn_limits__add(&l, &e, &a, 0);
    conn_limits__set_class(&l, &e, CONN_CLASS_TRUSTED, 0);
    conn_limits__received(&e, 0);
    conn_limits__pinged(&e, 0);
    assert_int_equal(conn_limits__due(&l, &e, 0, &next), CONN_DUE_NONE);
    assert_int_equal(conn_limits__due(&l, &e, 6, &next), CONN_DUE_NO_PONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_eviction_order),   cmocka_unit_test(test_per_address),
        cmocka_unit_test(test_request_deadline), cmocka_unit_test(test_websocket_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
