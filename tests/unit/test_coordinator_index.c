/* The coordinator's per-role index and dirty lists, without a broker: a
 * discovery of a role marks only that role's edges and watches for the pump,
 * entries live exactly as long as something refers to them, watches are
 * counted. The coordinator is built by hand (no connection: the pump does
 * nothing on the broker), so each list can be inspected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord/coordinator_internal.h"
#include "msgflo/errors.h"

struct fixture {
    uv_loop_t loop;
    struct coordinator *c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->c = calloc(1, sizeof *f->c);
    assert_non_null(f->c);
    f->c->loop = &f->loop;
    f->c->wait_timeout_ms = 45000;
    f->c->tick_due = UINT64_MAX;
    uv_timer_init(&f->loop, &f->c->pump_timer);
    uv_timer_init(&f->loop, &f->c->tick_timer);
    assert_int_equal(registry__new(NULL, &f->c->reg), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->c->closing = true;
    coordinator_graph__free(f->c);
    registry__free(f->c->reg);
    uv_close((uv_handle_t *)&f->c->pump_timer, NULL);
    uv_close((uv_handle_t *)&f->c->tick_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f->c);
    free(f);
    return 0;
}

static size_t count_dirty_edges(const struct coordinator *c)
{
    size_t n = 0;
    for (const struct edge *e = c->dirty_edges; e; e = e->dnext)
        n++;
    return n;
}

static size_t count_dirty_watches(const struct coordinator *c)
{
    size_t n = 0;
    for (const struct port_watch *w = c->dirty_watches; w; w = w->dnext)
        n++;
    return n;
}

/* What the pump would take: empties the dirty lists. */
static void drain(struct coordinator *c)
{
    while (c->dirty_edges) {
        struct edge *e = c->dirty_edges;
        DL_DELETE2(c->dirty_edges, e, dprev, dnext);
        e->dirty = false;
    }
    while (c->dirty_watches) {
        struct port_watch *w = c->dirty_watches;
        DL_DELETE2(c->dirty_watches, w, dprev, dnext);
        w->dirty = false;
    }
}

static void test_touch_marks_only_the_role(void **state)
{
    struct fixture *f = *state;
    struct coordinator *c = f->c;
    struct edge *ab = coordinator_edges__new(c, "a", "out", "b", "in");
    struct edge *bc = coordinator_edges__new(c, "b", "out", "c", "in");
    struct edge *de = coordinator_edges__new(c, "d", "out", "e", "in");
    assert_non_null(ab);
    assert_non_null(bc);
    assert_non_null(de);
    /* new edges are to be bound and their source ports watched */
    assert_int_equal(count_dirty_edges(c), 3);
    assert_int_equal(count_dirty_watches(c), 3);
    assert_ptr_equal(coordinator_edges__find(c, "b", "out", "c", "in"), bc);
    assert_null(coordinator_edges__find(c, "b", "out", "c", "IN"));
    drain(c);

    coordinator_roles__touch(c, "b"); /* b is an end of ab and bc, and watched on b.out */
    assert_int_equal(count_dirty_edges(c), 2);
    assert_true(ab->dirty && bc->dirty && !de->dirty);
    assert_int_equal(count_dirty_watches(c), 1);
    assert_string_equal(c->dirty_watches->role, "b");
    coordinator_roles__touch(c, "b"); /* marked once */
    assert_int_equal(count_dirty_edges(c), 2);
    drain(c);

    coordinator_roles__touch(c, "nobody");
    assert_int_equal(count_dirty_edges(c), 0);
    assert_int_equal(count_dirty_watches(c), 0);

    /* a refused edge is tried again when its role comes with other queues */
    de->failed = true;
    coordinator_roles__touch(c, "e");
    assert_false(de->failed);
    assert_true(de->dirty);
    coordinator__check(c); /* the invariants (debug builds) */
}

static void test_entries_live_while_referred_to(void **state)
{
    struct fixture *f = *state;
    struct coordinator *c = f->c;
    struct edge *ab = coordinator_edges__new(c, "a", "out", "b", "in");
    struct edge *ab2 = coordinator_edges__new(c, "a", "out", "b", "other");
    assert_non_null(coordinator_roles__find(c, "a"));
    assert_non_null(coordinator_roles__find(c, "b"));
    /* both edges watch a.out: one port watch, counted twice */
    assert_int_equal(HASH_COUNT(c->port_watches), 1);
    assert_int_equal(c->port_watches->refs, 2);
    coordinator_edges__free(c, ab);
    assert_int_equal(c->port_watches->refs, 1);
    assert_non_null(coordinator_roles__find(c, "b"));
    assert_int_equal(count_dirty_edges(c), 1); /* the freed edge left the list */
    coordinator__check(c);
    coordinator_edges__free(c, ab2);
    assert_int_equal(HASH_COUNT(c->port_watches), 0);
    assert_null(coordinator_roles__find(c, "a"));
    assert_null(coordinator_roles__find(c, "b"));
    assert_null(c->dirty_edges);
    assert_null(c->pending_edges);
    assert_null(c->dirty_watches);
    assert_int_equal(HASH_COUNT(c->edges), 0);

    /* a watch of its own keeps the role, and is counted */
    assert_int_equal(coordinator_watches__add(c, "x", "out"), 0);
    assert_int_equal(coordinator_watches__add(c, "x", "out"), 0);
    assert_int_equal(coordinator_watches__remove(c, "x", "out"), 0);
    assert_non_null(coordinator_roles__find(c, "x"));
    assert_int_equal(coordinator_watches__remove(c, "x", "out"), 0);
    assert_null(coordinator_roles__find(c, "x"));
    assert_int_equal(coordinator_watches__remove(c, "x", "out"), MSGFLO_EINVAL);
    coordinator__check(c);
}

static void test_pending_edges_settle(void **state)
{
    struct fixture *f = *state;
    struct coordinator *c = f->c;
    uint64_t now = uv_now(&f->loop);
    struct edge *ab = coordinator_edges__new(c, "a", "out", "b", "in");
    assert_true(coordinator_edges__settling(c, now)); /* not bound yet */
    ab->failed = true;
    assert_false(coordinator_edges__settling(c, now)); /* refused: no longer waited for */
    assert_null(c->pending_edges);
    coordinator_roles__touch(c, "a"); /* worth another try: waited for again */
    assert_true(coordinator_edges__settling(c, now));
    assert_false(coordinator_edges__settling(c, now + c->wait_timeout_ms)); /* waited long enough */
    coordinator__check(c);
}

/* A discovery payload of role `role` with one inport and one outport. */
static void discover(struct coordinator *c, const char *id, const char *role, uint64_t now)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:[{s:s}], s:[{s:s}]}", "id", id, "role", role,
                          "component", "Repeat", "inports", "id", "in", "outports", "id", "out");
    assert_non_null(p);
    assert_int_equal(registry__update(c->reg, p, now, NULL), 0);
    json_decref(p);
}

/* role_status_ref gives what role_status gives, whatever was made or freed
 * since its cache was filled (and edge_status_ref what edge_status gives). */
static const char *check_role(struct coordinator *c, const char *role,
                              struct system_status_ref *ref)
{
    struct system_role_status plain, cached;
    coordinator__role_status(c, role, &plain);
    coordinator__role_status_ref(c, role, ref, &cached);
    assert_string_equal(cached.state, plain.state);
    assert_int_equal(cached.instances, plain.instances);
    assert_int_equal(cached.ours, plain.ours);
    assert_int_equal(cached.pid, plain.pid);
    assert_int_equal(cached.restarts, plain.restarts);
    assert_true(cached.last_seen_s == plain.last_seen_s);
    return cached.state;
}

static void check_edge(struct coordinator *c, struct system_status_ref *ref)
{
    bool plain_bound, cached_bound;
    unsigned long long plain_n, cached_n;
    coordinator__edge_status(c, "a", "out", "b", "in", &plain_bound, &plain_n);
    coordinator__edge_status_ref(c, "a", "out", "b", "in", ref, &cached_bound, &cached_n);
    assert_int_equal(cached_bound, plain_bound);
    assert_int_equal(cached_n, plain_n);
}

static void test_status_refs_follow_changes(void **state)
{
    struct fixture *f = *state;
    struct coordinator *c = f->c;
    struct system_status_ref a = {0}, b = {0}, ab = {0};
    assert_string_equal(check_role(c, "a", &a), "expected"); /* nothing known, cached as such */
    check_edge(c, &ab);
    unsigned long long filled = a.epoch;
    check_role(c, "a", &a);
    assert_true(a.epoch == filled); /* nothing changed: no lookup */

    discover(c, "a1", "a", uv_now(&f->loop)); /* a registry record made */
    assert_string_equal(check_role(c, "a", &a), "running");
    assert_true(a.epoch != filled);

    struct edge *e = coordinator_edges__new(c, "a", "out", "b", "in"); /* roles, watch, edge */
    assert_non_null(e);
    check_edge(c, &ab);
    assert_string_equal(check_role(c, "b", &b), "expected");
    struct queue_watch q = {.messages = 7}; /* as if resolved and counting */
    e->watch->qw = &q;
    check_edge(c, &ab); /* read through the cache: 7 */
    bool bound;
    unsigned long long n;
    coordinator__edge_status_ref(c, "a", "out", "b", "in", &ab, &bound, &n);
    assert_int_equal(n, 7);
    e->watch->qw = NULL;

    coordinator_edges__free(c, e); /* edge, watch and role b freed */
    check_edge(c, &ab);
    check_role(c, "b", &b);
    registry__forget_role(c->reg, "a"); /* the registry record freed */
    assert_string_equal(check_role(c, "a", &a), "expected");
    discover(c, "a2", "a", uv_now(&f->loop) + 5);
    assert_string_equal(check_role(c, "a", &a), "running");
    coordinator__check(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_touch_marks_only_the_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_live_while_referred_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_edges_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_refs_follow_changes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
