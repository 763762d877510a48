/* The registry of discovered participants (sans-I/O). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discovery/discovery.h"
#include "coord/registry.h"
#include "msgflo/errors.h"

static json_t *payload(const char *text)
{
    json_error_t e;
    json_t *p = json_loads(text, 0, &e);
    if (!p)
        fail_msg("bad test JSON: %s", e.text);
    return p;
}

/* A participant `id` of `role` with inport IN and outport OUT on `inq`/`outq`
 * (NULL: no queue field). */
static json_t *participant(const char *id, const char *role, const char *inq, const char *outq)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", id, "role",
                          role, "component", "test/Repeat", "label", "repeats", "inports", "id",
                          "in", "type", "any", "outports", "id", "out", "type", "any");
    if (inq)
        json_object_set_new(json_array_get(json_object_get(p, "inports"), 0), "queue",
                            json_string(inq));
    if (outq)
        json_object_set_new(json_array_get(json_object_get(p, "outports"), 0), "queue",
                            json_string(outq));
    return p;
}

static struct registry *new_registry(uint64_t period, unsigned periods)
{
    struct registry_options o = {.period_ms = period, .expiry_periods = periods};
    struct registry *r = NULL;
    assert_int_equal(registry__new(&o, &r), 0);
    return r;
}

static unsigned update(struct registry *r, json_t *p, uint64_t now)
{
    unsigned ch = 99;
    assert_int_equal(registry__update(r, p, now, &ch), 0);
    json_decref(p);
    return ch;
}

/* Participant id's stored payload: a new reference, NULL when unknown. */
static json_t *stored(const struct registry *r, const char *id)
{
    json_t *p = NULL;
    int rc = registry__participant(r, id, &p);
    assert_int_equal(rc, p ? 0 : MSGFLO_ENOPORT);
    return p;
}

/* The "id" of role's definition (copied into a static buffer), or NULL when
 * no participant of the role is known. */
static const char *role_id(const struct registry *r, const char *role)
{
    static char id[64];
    json_t *def = NULL;
    int rc = registry__role(r, role, &def);
    assert_int_equal(rc, def ? 0 : MSGFLO_ENOPORT);
    if (!def)
        return NULL;
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(def, "id")));
    json_decref(def);
    return id;
}

static void test_first_and_repeated_announcement(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    unsigned ch = update(r, participant("a1", "a", NULL, NULL), 10);
    assert_int_equal(ch, REGISTRY_NEW_ROLE | REGISTRY_NEW_INSTANCE | REGISTRY_CHANGED |
                             REGISTRY_QUEUES);
    /* identical announcement: nothing changed (one components-changed for two) */
    ch = update(r, participant("a1", "a", NULL, NULL), 20);
    assert_int_equal(ch, 0);
    uint64_t first, last;
    assert_int_equal(registry__seen(r, "a1", &first, &last), 0);
    assert_int_equal(first, 10);
    assert_int_equal(last, 20);
    assert_int_equal(registry__seen(r, "zz", &first, &last), MSGFLO_ENOPORT);
    assert_int_equal(registry__count(r), 1);
    assert_int_equal(registry__role_count(r), 1);
    json_t *p = stored(r, "a1");
    assert_non_null(p);
    json_decref(p);
    assert_null(stored(r, "a2"));
    assert_string_equal(role_id(r, "a"), "a1");
    assert_null(role_id(r, "b"));
    registry__free(r);
}

static void test_new_fields_override_missing_kept(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("a1", "a", NULL, NULL), 1);
    unsigned ch = update(r, payload("{\"id\":\"a1\",\"role\":\"a\",\"label\":\"new\"}"), 2);
    assert_int_equal(ch, REGISTRY_CHANGED); /* same ports: queues unchanged */
    json_t *p = stored(r, "a1");
    assert_string_equal(json_string_value(json_object_get(p, "label")), "new");
    assert_string_equal(json_string_value(json_object_get(p, "component")), "test/Repeat");
    assert_int_equal(json_array_size(json_object_get(p, "inports")), 1);
    json_decref(p);
    /* the stored copy is independent of the caller's payload */
    json_t *x = participant("a1", "a", NULL, NULL);
    registry__update(r, x, 3, NULL);
    json_object_set_new(x, "label", json_string("mutated"));
    json_decref(x);
    p = stored(r, "a1");
    assert_string_equal(json_string_value(json_object_get(p, "label")), "repeats");
    json_decref(p);
    registry__free(r);
}

static void test_new_instance_of_role(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("a1", "a", NULL, NULL), 1);
    unsigned ch = update(r, participant("a2", "a", NULL, NULL), 2);
    assert_int_equal(ch, REGISTRY_NEW_INSTANCE | REGISTRY_CHANGED);
    assert_int_equal(registry__role_instances(r, "a"), 2);
    assert_int_equal(registry__role_count(r), 1);
    assert_string_equal(role_id(r, "a"), "a2");
    assert_int_equal(registry__role_instances(r, "nope"), 0);
    registry__free(r);
}

static void test_queue_lookup(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("a1", "a", "my/in", NULL), 1);
    char *q;
    bool announced;
    assert_int_equal(registry__queue(r, "a", true, "IN", &q, &announced), 0); /* case-insensitive */
    assert_string_equal(q, "my/in");
    assert_true(announced);
    free(q);
    /* announced without a queue field: the default */
    assert_int_equal(registry__queue(r, "a", false, "out", &q, &announced), 0);
    assert_string_equal(q, "a.OUT");
    assert_true(announced);
    free(q);
    /* unknown port or role: the default, not announced */
    assert_int_equal(registry__queue(r, "a", true, "other", &q, &announced), 0);
    assert_string_equal(q, "a.OTHER");
    assert_false(announced);
    free(q);
    assert_int_equal(registry__queue(r, "b", true, "in", &q, NULL), 0);
    assert_string_equal(q, "b.IN");
    free(q);
    size_t n;
    const struct registry_port *ports = registry__queue_ports(r, "my/in", &n);
    assert_int_equal(n, 1);
    assert_string_equal(ports[0].role, "a");
    assert_string_equal(ports[0].port, "in");
    assert_true(ports[0].inport);
    ports = registry__queue_ports(r, "a.OUT", &n);
    assert_int_equal(n, 1);
    assert_false(ports[0].inport);
    assert_null(registry__queue_ports(r, "a.IN", &n));
    assert_int_equal(n, 0);
    registry__free(r);
}

struct edges {
    char text[1024];
};

static void on_edge(const char *sr, const char *sp, const char *tr, const char *tp, const char *q,
                    void *ud)
{
    struct edges *e = ud;
    size_t used = strlen(e->text);
    snprintf(e->text + used, sizeof e->text - used, "%s.%s->%s.%s@%s;", sr, sp, tr, tp, q);
}

static void test_automatic_edges(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    /* a publishes on "shared", b consumes "shared"; a's own inport too (no self edge) */
    update(r, participant("a1", "a", "shared", "shared"), 1);
    struct edges e = {""};
    registry__edges(r, "a", on_edge, &e);
    assert_string_equal(e.text, "");
    update(r, participant("b1", "b", "shared", "b/out"), 2);
    registry__edges(r, "b", on_edge, &e);
    assert_string_equal(e.text, "a.out->b.in@shared;");
    e.text[0] = '\0';
    registry__edges(r, "a", on_edge, &e);
    assert_string_equal(e.text, "a.out->b.in@shared;");
    e.text[0] = '\0';
    registry__edges(r, "unknown", on_edge, &e);
    assert_string_equal(e.text, "");
    /* b re-announces with another inport queue: the edge is gone */
    unsigned ch = update(r, participant("b1", "b", "b/in", "b/out"), 3);
    assert_int_equal(ch, REGISTRY_CHANGED | REGISTRY_QUEUES);
    registry__edges(r, "a", on_edge, &e);
    assert_string_equal(e.text, "");
    size_t n;
    registry__queue_ports(r, "shared", &n);
    assert_int_equal(n, 2); /* a's in and out */
    registry__free(r);
}

static void on_expired(const char *role, const char *id, void *ud)
{
    struct edges *e = ud;
    size_t used = strlen(e->text);
    snprintf(e->text + used, sizeof e->text - used, "%s/%s;", role, id);
}

static void test_expiry(void **state)
{
    (void)state;
    struct registry *r = new_registry(100, 3);
    update(r, participant("a1", "a", "qa", NULL), 0);
    update(r, participant("a2", "a", "qa2", NULL), 200);
    update(r, participant("b1", "b", NULL, NULL), 250);
    struct edges e = {""};
    assert_int_equal(registry__expire(r, 300, on_expired, &e), 0); /* exactly 3 periods: kept */
    assert_int_equal(registry__expire(r, 301, on_expired, &e), 1);
    assert_string_equal(e.text, "a/a1;");
    assert_int_equal(registry__role_instances(r, "a"), 1);
    size_t n;
    assert_null(registry__queue_ports(r, "qa", &n));
    assert_non_null(registry__queue_ports(r, "qa2", &n));
    e.text[0] = '\0';
    assert_int_equal(registry__expire(r, 1000, on_expired, &e), 2);
    assert_int_equal(registry__count(r), 0);
    assert_int_equal(registry__role_count(r), 0);
    assert_null(registry__queue_ports(r, "qa2", &n));
    /* seen again after expiry: a new role and instance */
    unsigned ch = update(r, participant("a2", "a", "qa2", NULL), 1100);
    assert_true(ch & REGISTRY_NEW_ROLE);
    registry__free(r);

    /* 0 periods: never */
    r = new_registry(100, 0);
    update(r, participant("a1", "a", NULL, NULL), 0);
    assert_int_equal(registry__expire(r, UINT64_C(1) << 40, NULL, NULL), 0);
    assert_int_equal(registry__count(r), 1);
    registry__free(r);
}

static void test_expiry_keeps_latest_definition(void **state)
{
    (void)state;
    struct registry *r = new_registry(100, 1);
    update(r, participant("a1", "a", "old", NULL), 0);
    update(r, participant("a2", "a", "new", NULL), 50);
    update(r, participant("a1", "a", "old", NULL), 60); /* a1 current again */
    assert_string_equal(role_id(r, "a"), "a1");
    registry__forget_role(r, "zz");
    /* a2 expires: a1 stays current */
    assert_int_equal(registry__expire(r, 155, NULL, NULL), 1);
    assert_string_equal(role_id(r, "a"), "a1");
    registry__free(r);
}

static void test_forget_role(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("a1", "a", "q", NULL), 1);
    update(r, participant("a2", "a", "q", NULL), 1);
    update(r, participant("b1", "b", NULL, "q"), 1);
    assert_int_equal(registry__forget_role(r, "a"), 2);
    assert_int_equal(registry__forget_role(r, "a"), 0);
    assert_int_equal(registry__count(r), 1);
    assert_null(role_id(r, "a"));
    struct edges e = {""};
    registry__edges(r, "b", on_edge, &e);
    assert_string_equal(e.text, "");
    size_t n;
    registry__queue_ports(r, "q", &n);
    assert_int_equal(n, 1);
    registry__free(r);
}

static void test_role_moves(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("p", "a", NULL, NULL), 1);
    unsigned ch = update(r, participant("p", "b", NULL, NULL), 2);
    assert_true(ch & REGISTRY_NEW_ROLE);
    assert_true(ch & REGISTRY_NEW_INSTANCE);
    assert_null(role_id(r, "a"));
    assert_int_equal(registry__role_count(r), 1);
    size_t n;
    assert_null(registry__queue_ports(r, "a.IN", &n));
    assert_non_null(registry__queue_ports(r, "b.IN", &n));
    registry__free(r);
}

static void test_bad_payloads(void **state)
{
    (void)state;
    struct registry *r = new_registry(0, 0);
    unsigned ch = 7;
    json_t *p = payload("{\"role\":\"a\"}");
    assert_int_equal(registry__update(r, p, 1, &ch), MSGFLO_EINVAL);
    assert_int_equal(ch, 0);
    json_decref(p);
    p = payload("{\"id\":\"\",\"role\":\"a\"}");
    assert_int_equal(registry__update(r, p, 1, NULL), MSGFLO_EINVAL);
    json_decref(p);
    p = payload("{\"id\":\"x\",\"role\":3}");
    assert_int_equal(registry__update(r, p, 1, NULL), MSGFLO_EINVAL);
    json_decref(p);
    assert_int_equal(registry__update(r, json_null(), 1, NULL), MSGFLO_EINVAL);
    /* messages discovery__parse refuses never reach the registry */
    static const char *const bad[] = {
        "not json",
        "{\"protocol\":\"discovery\",\"command\":\"participant\"}",
        "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"x\","
        "\"role\":\"r\",\"component\":\"c\",\"inports\":[{\"id\":3}],\"outports\":[]}}",
        "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"x\","
        "\"role\":\"r\",\"component\":\"c\",\"inports\":[],\"outports\":{}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *out = NULL;
        char err[256];
        assert_true(discovery__parse(bad[i], strlen(bad[i]), &out, err, sizeof err) < 0);
        assert_null(out);
    }
    /* the same through registry__announce: refused, registry unchanged */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        ch = 7;
        assert_true(registry__announce(r, bad[i], strlen(bad[i]), 1, &ch, err, sizeof err) < 0);
        assert_int_equal(ch, 0);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(registry__count(r), 0);
    static const char good[] =
        "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"g\","
        "\"role\":\"gr\",\"component\":\"c\",\"inports\":[],\"outports\":[]}}";
    char err[256];
    assert_int_equal(registry__announce(r, good, strlen(good), 1, &ch, err, sizeof err), 0);
    assert_int_equal(ch, REGISTRY_NEW_ROLE | REGISTRY_NEW_INSTANCE | REGISTRY_CHANGED);
    assert_int_equal(registry__forget_role(r, "gr"), 1);
    /* ports without a string id are not indexed (defensive) */
    p = payload("{\"id\":\"x\",\"role\":\"r\",\"inports\":[{\"id\":null},{\"id\":\"in\"}]}");
    assert_int_equal(registry__update(r, p, 1, NULL), 0);
    json_decref(p);
    size_t n;
    assert_non_null(registry__queue_ports(r, "r.IN", &n));
    assert_int_equal(n, 1);
    assert_int_equal(registry__count(r), 1);
    registry__free(r);
    registry__free(NULL);
}

/* Many participants: every one found, indexed and expired (scale, not speed). */
static void test_many(void **state)
{
    (void)state;
    struct registry *r = new_registry(10, 1);
    char id[32], role[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "p%d", i);
        snprintf(role, sizeof role, "r%d", i / 2);
        update(r, participant(id, role, NULL, NULL), (uint64_t)i);
    }
    assert_int_equal(registry__count(r), 5000);
    assert_int_equal(registry__role_count(r), 2500);
    size_t n;
    assert_non_null(registry__queue_ports(r, "r1249.OUT", &n));
    assert_int_equal(n, 1);
    assert_int_equal(registry__expire(r, 4000, NULL, NULL), 3990);
    assert_int_equal(registry__count(r), 1010);
    registry__free(r);
}

/* The participants are kept in order of last seen (also when the caller's
 * clock goes back), so the next expiry is the oldest one's. */
static void test_next_expiry(void **state)
{
    (void)state;
    struct registry *never = new_registry(100, 0);
    update(never, participant("a1", "a", NULL, NULL), 10);
    assert_true(registry__next_expiry(never) == UINT64_MAX);
    registry__free(never);

    struct registry *r = new_registry(100, 3);
    assert_true(registry__next_expiry(r) == UINT64_MAX);
    update(r, participant("a1", "a", NULL, NULL), 10);
    update(r, participant("b1", "b", NULL, NULL), 5); /* the clock went back */
    update(r, participant("c1", "c", NULL, NULL), 20);
    assert_int_equal(registry__next_expiry(r), 306);
    assert_int_equal(registry__expire(r, 305, NULL, NULL), 0);
    assert_int_equal(registry__expire(r, 306, NULL, NULL), 1);
    assert_int_equal(registry__role_instances(r, "b"), 0);
    assert_int_equal(registry__next_expiry(r), 311);
    update(r, participant("a1", "a", NULL, NULL), 400); /* seen again: the newest */
    assert_int_equal(registry__next_expiry(r), 321);
    assert_int_equal(registry__expire(r, 321, NULL, NULL), 1);
    assert_int_equal(registry__role_instances(r, "c"), 0);
    assert_int_equal(registry__next_expiry(r), 701);
    assert_int_equal(registry__expire(r, 10000, NULL, NULL), 1);
    assert_true(registry__next_expiry(r) == UINT64_MAX);
    registry__free(r);
}

static void forget_expired_role(const char *role, const char *id, void *ud)
{
    (void)id;
    registry__forget_role(ud, role); /* as the runtime does: the node leaves the graph */
}

/* The expiry callback may change the registry (ASan checks the memory). */
static void test_expiry_callback_forgets_role(void **state)
{
    (void)state;
    struct registry *r = new_registry(100, 1);
    update(r, participant("a1", "a", NULL, NULL), 0);
    update(r, participant("a2", "a", NULL, NULL), 10);
    update(r, participant("a3", "a", NULL, NULL), 500);
    update(r, participant("b1", "b", NULL, NULL), 20);
    /* a1 and b1 expire; forgetting role a takes a2 and a3 with it */
    assert_int_equal(registry__expire(r, 200, forget_expired_role, r), 2);
    assert_int_equal(registry__count(r), 0);
    assert_int_equal(registry__role_count(r), 0);
    registry__free(r);
}

/* Payloads are stored as text: a payload with other fields merges, the same
 * one again changes nothing, and the queues come from the index. */
static void test_stored_text(void **state)
{
    (void)state;
    struct registry *r = new_registry(1000, 0);
    update(r, participant("a1", "a", "qin", NULL), 1);
    assert_int_equal(update(r, participant("a1", "a", "qin", NULL), 2), 0);
    assert_int_equal(update(r, payload("{\"id\":\"a1\",\"role\":\"a\",\"icon\":\"x\"}"), 3),
                     REGISTRY_CHANGED);
    /* the full payload again: merged over the stored one (icon kept), nothing new */
    assert_int_equal(update(r, participant("a1", "a", "qin", NULL), 4), 0);
    json_t *p = stored(r, "a1");
    assert_string_equal(json_string_value(json_object_get(p, "icon")), "x");
    assert_string_equal(json_string_value(json_object_get(p, "label")), "repeats");
    json_decref(p);
    char *q = NULL;
    bool announced = false;
    assert_int_equal(registry__queue(r, "a", true, "IN", &q, &announced), 0);
    assert_string_equal(q, "qin");
    assert_true(announced);
    free(q);
    assert_int_equal(registry__queue(r, "a", false, "Out", &q, &announced), 0);
    assert_string_equal(q, "a.OUT"); /* announced without a queue */
    assert_true(announced);
    free(q);
    assert_int_equal(registry__queue(r, "a", false, "nope", &q, &announced), 0);
    assert_string_equal(q, "a.NOPE");
    assert_false(announced);
    free(q);
    registry__free(r);
}

static void on_gone(const char *component, void *ud)
{
    json_array_append_new(ud, json_string(component));
}

/* Participants per component, the component's last one gone told, and the
 * caps on participants and component names. */
static void test_components_and_caps(void **state)
{
    (void)state;
    json_t *gone = json_array();
    struct registry_options o = {.period_ms = 1000,
                                 .expiry_periods = 1,
                                 .max_participants = 3,
                                 .max_components = 2,
                                 .component_gone = on_gone,
                                 .ud = gone};
    struct registry *r = NULL;
    assert_int_equal(registry__new(&o, &r), 0);
    update(r, participant("a1", "a", NULL, NULL), 1);
    update(r, participant("b1", "b", NULL, NULL), 1);
    assert_int_equal(registry__component_participants(r, "test/Repeat"), 2);
    json_t *p = payload("{\"id\":\"c1\",\"role\":\"c\",\"component\":\"Other\"}");
    update(r, p, 1);
    assert_int_equal(registry__component_count(r), 2);
    /* a fourth participant, a third component: refused, nothing changed */
    p = participant("d1", "d", NULL, NULL);
    assert_int_equal(registry__update(r, p, 1, NULL), MSGFLO_ESTATE);
    json_decref(p);
    p = payload("{\"id\":\"a1\",\"role\":\"a\",\"component\":\"Third\"}");
    assert_int_equal(registry__update(r, p, 1, NULL), MSGFLO_ESTATE);
    json_decref(p);
    assert_int_equal(registry__count(r), 3);
    assert_int_equal(json_array_size(gone), 0);
    /* b1 moves to Other; a1 forgotten: the last of test/Repeat */
    p = payload("{\"id\":\"b1\",\"role\":\"b\",\"component\":\"Other\"}");
    update(r, p, 2);
    assert_int_equal(registry__component_participants(r, "Other"), 2);
    assert_int_equal(json_array_size(gone), 0);
    assert_int_equal(registry__forget_role(r, "a"), 1);
    assert_string_equal(json_string_value(json_array_get(gone, 0)), "test/Repeat");
    assert_int_equal(registry__component_count(r), 1);
    /* expiry: the last of Other */
    assert_int_equal(registry__expire(r, 5000, NULL, NULL), 2);
    assert_string_equal(json_string_value(json_array_get(gone, 1)), "Other");
    assert_int_equal(registry__component_count(r), 0);
    registry__free(r);
    assert_int_equal(json_array_size(gone), 2); /* not told while freeing */
    json_decref(gone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_and_repeated_announcement),
        cmocka_unit_test(test_new_fields_override_missing_kept),
        cmocka_unit_test(test_new_instance_of_role),
        cmocka_unit_test(test_queue_lookup),
        cmocka_unit_test(test_automatic_edges),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_keeps_latest_definition),
        cmocka_unit_test(test_forget_role),
        cmocka_unit_test(test_role_moves),
        cmocka_unit_test(test_bad_payloads),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_next_expiry),
        cmocka_unit_test(test_expiry_callback_forgets_role),
        cmocka_unit_test(test_stored_text),
        cmocka_unit_test(test_components_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
