/* guv's scaling decisions: all cases of guv's spec/scaletests.yaml (checked in
 * as tests/fixtures/guv/scaletests.yaml), edge cases of the formula, the
 * scale-down damping over the history ring, and the normal quantile behind
 * the target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guv_test_config.h"
#include "yaml/yaml_reader.h"
#include "guv/config.h"
#include "guv/scale.h"
#include "msgflo/errors.h"

/* Runs one case as guv's spec/scale.coffee does: the role's config, the
 * history as given, a missing or 0 `current` as unknown (the spec does
 * `test.current = null if not test.current`). Returns whether it passed. */
static bool run_vector(const json_t *t)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *role_name = json_string_value(json_object_get(t, "role"));
    const json_t *result = json_object_get(t, "result");
    const json_t *hist = json_object_get(t, "history");
    json_int_t current = json_integer_value(json_object_get(t, "current"));
    json_int_t messages =
        json_integer_value(json_object_get(json_object_get(t, "state"), "messages"));

    struct guv_config *cfg = guv_test_config(json_string_value(json_object_get(t, "config")));
    const struct guv_role *role = guv_config__role(cfg, role_name ? role_name : "*");
    assert_non_null(role);

    struct guv_history h;
    assert_int_equal(guv_history__init(&h, json_array_size(hist)), 0);
    size_t i;
    const json_t *v;
    json_array_foreach(hist, i, v)
    {
        struct guv_state s = {.estimate = (int)json_integer_value(v), .current = GUV_NONE};
        guv_history__push(&h, &s);
    }
    struct guv_state out;
    guv_scale__decide(role, &h, current ? (int)current : GUV_NONE, (uint64_t)messages, &out);
    int expected = json_is_null(result) || !result ? GUV_NONE : (int)json_integer_value(result);
    bool ok = out.next == expected;
    if (!ok)
        fprintf(stderr, "guv case '%s': next %d, guv says %d (estimate %d)\n", name, out.next,
                expected, out.estimate);
    guv_history__cleanup(&h);
    guv_config__free(cfg);
    return ok;
}

static void test_guv_vectors(void **state)
{
    json_t *tests = guv_test_fixture("scaletests.yaml");
    assert_true(json_is_array(tests));
    assert_int_equal(json_array_size(tests), 14);
    size_t i, passed = 0;
    const json_t *t;
    json_array_foreach(tests, i, t) passed += run_vector(t);
    fprintf(stderr, "guv scaletests.yaml: %zu of %zu cases pass\n", passed, json_array_size(tests));
    assert_int_equal(passed, 14);
    json_decref(tests);
}

/* The default role: processing 10, stddev 5, deadline 60, percentile 99 ->
 * target = 60 - 2.3263 * 5 = 48.37, available = 38.37 s per worker. */
static void test_defaults_formula(void **state)
{
    struct guv_config *cfg = guv_test_config("r: {max: 100}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    assert_int_equal(guv_scale__estimate(r, 0), 1); /* empty queue: the minimum */
    assert_int_equal(guv_scale__estimate(r, 1), 1);
    assert_int_equal(guv_scale__estimate(r, 3), 1);   /* 30 s of work fit one worker */
    assert_int_equal(guv_scale__estimate(r, 4), 2);   /* 40 s do not */
    assert_int_equal(guv_scale__estimate(r, 38), 10); /* 380 / 38.37 = 9.9 */
    assert_int_equal(guv_scale__estimate(r, 39), 11); /* 390 / 38.37 = 10.2 */
    assert_int_equal(guv_scale__estimate(r, 100000), 100);
    assert_int_equal(guv_scale__estimate(r, UINT64_MAX), 100);
    guv_config__free(cfg);
}

static void test_clamps(void **state)
{
    struct guv_config *cfg = guv_test_config("'*': {min: 0}\n"
                                             "zero: {}\n"
                                             "floor: {min: 3, max: 4}\n"
                                             "fixed: {min: 2, max: 2}\n");
    const struct guv_role *zero = guv_config__role(cfg, "zero");
    const struct guv_role *floor_ = guv_config__role(cfg, "floor");
    const struct guv_role *fixed = guv_config__role(cfg, "fixed");
    assert_int_equal(guv_scale__estimate(zero, 0), 0);
    assert_int_equal(guv_scale__estimate(zero, 1), 1);
    assert_int_equal(guv_scale__estimate(zero, 1000), 5);
    assert_int_equal(guv_scale__estimate(floor_, 0), 3);
    assert_int_equal(guv_scale__estimate(floor_, 1000), 4);
    assert_int_equal(guv_scale__estimate(fixed, 0), 2);
    assert_int_equal(guv_scale__estimate(fixed, 1000), 2);
    guv_config__free(cfg);
}

/* ceil(queue / concurrency) rounds of `processing` each. */
static void test_concurrency(void **state)
{
    struct guv_config *cfg = guv_test_config("'*': {max: 40}\n"
                                             "one: {concurrency: 1}\n"
                                             "four: {concurrency: 4}\n"
                                             "half: {concurrency: 2.5}\n");
    const struct guv_role *one = guv_config__role(cfg, "one");
    const struct guv_role *four = guv_config__role(cfg, "four");
    const struct guv_role *half = guv_config__role(cfg, "half");
    assert_int_equal(guv_scale__estimate(one, 40), 11); /* 400 s / 38.37 */
    assert_int_equal(guv_scale__estimate(four, 40), 3); /* 10 rounds: 100 s / 38.37 */
    assert_int_equal(guv_scale__estimate(four, 41), 3); /* 11 rounds: 110 s / 38.37 */
    assert_int_equal(guv_scale__estimate(four, 48), 4); /* 12 rounds: 120 s / 38.37 */
    assert_int_equal(guv_scale__estimate(four, 4), 1);
    assert_int_equal(guv_scale__estimate(half, 40), 5); /* 16 rounds: 160 s / 38.37 */
    assert_int_equal(guv_scale__estimate(four, 0), 1);
    guv_config__free(cfg);
}

static void test_decide_directions(void **state)
{
    struct guv_config *cfg = guv_test_config("r: {min: 0, max: 10}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    struct guv_state s;

    guv_scale__decide(r, NULL, GUV_NONE, 0, &s); /* unknown current: the estimate */
    assert_int_equal(s.estimate, 0);
    assert_int_equal(s.next, 0);
    guv_scale__decide(r, NULL, GUV_NONE, 100, &s);
    assert_int_equal(s.next, 10);
    assert_int_equal(s.current, GUV_NONE);
    assert_int_equal(s.queue_length, 100);

    guv_scale__decide(r, NULL, 0, 0, &s); /* a known 0 is no unknown */
    assert_int_equal(s.next, GUV_NONE);
    guv_scale__decide(r, NULL, 2, 40, &s); /* up at once, whatever the history */
    assert_int_equal(s.estimate, 10);      /* 11 clamped to the maximum */
    assert_int_equal(s.next, 10);
    guv_scale__decide(r, NULL, 10, 40, &s); /* same: nothing to do */
    assert_int_equal(s.next, GUV_NONE);
    guv_scale__decide(r, NULL, 10, 0, &s); /* down with an empty window: at once */
    assert_int_equal(s.next, 0);
    guv_config__free(cfg);
}

static void test_history_ring(void **state)
{
    struct guv_config *cfg = guv_test_config("'*': {pollinterval: 10, history: 45}\n");
    assert_int_equal(guv_history__window(&cfg->global), 4);
    struct guv_config *dflt = guv_test_config("r: {}\n");
    assert_int_equal(guv_history__window(&dflt->global), 4); /* 120 / 30 */
    guv_config__free(dflt);
    guv_config__free(cfg);

    struct guv_history h;
    assert_int_equal(guv_history__init(&h, 3), 0);
    assert_int_equal(guv_history__max_estimate(&h), GUV_NONE);
    assert_null(guv_history__at(&h, 0));
    int estimates[] = {9, 2, GUV_NONE, 4, 1};
    for (size_t i = 0; i < 5; i++) {
        struct guv_state s = {.estimate = estimates[i], .queue_length = i};
        guv_history__push(&h, &s);
    }
    assert_int_equal(h.count, 3);
    assert_int_equal(guv_history__at(&h, 0)->queue_length, 2); /* oldest kept */
    assert_int_equal(guv_history__at(&h, 2)->queue_length, 4);
    assert_null(guv_history__at(&h, 3));
    assert_int_equal(guv_history__max_estimate(&h), 4); /* 9 fell out, the failed poll skipped */
    guv_history__cleanup(&h);

    assert_int_equal(guv_history__init(&h, 0), 0); /* history < pollinterval: no window */
    struct guv_state s = {.estimate = 7};
    guv_history__push(&h, &s);
    assert_int_equal(h.count, 0);
    assert_int_equal(guv_history__max_estimate(&h), GUV_NONE);
    guv_history__cleanup(&h);
}

/* A governor's polls: busy, then idle. Down only once the whole window of
 * 4 polls asked for less; up at once. */
static void test_damping_over_polls(void **state)
{
    struct guv_config *cfg = guv_test_config("'*': {min: 1, max: 5}\nr: {}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    struct guv_history h;
    assert_int_equal(guv_history__init(&h, guv_history__window(&cfg->global)), 0);
    struct guv_state s;
    int current = 1;

    guv_scale__step(r, &h, current, 1000, 1, &s);
    assert_int_equal(s.next, 5);
    assert_int_equal(s.consumers, 1);
    current = s.next;
    for (int i = 0; i < 3; i++) {
        guv_scale__step(r, &h, current, 1000, 5, &s);
        assert_int_equal(s.next, GUV_NONE);
    }
    /* idle: the window still holds estimates of 5 */
    for (int i = 0; i < 4; i++) {
        guv_scale__step(r, &h, current, 0, 5, &s);
        assert_int_equal(s.estimate, 1);
        assert_int_equal(s.next, GUV_NONE);
    }
    guv_scale__step(r, &h, current, 0, 5, &s); /* window [1,1,1,1] */
    assert_int_equal(s.next, 1);
    current = 1;
    guv_scale__step(r, &h, current, 100, 1, &s); /* a burst: up at once */
    assert_int_equal(s.estimate, 5);             /* 27 clamped */
    assert_int_equal(s.next, 5);
    guv_history__cleanup(&h);
    guv_config__free(cfg);
}

/* Down partially: to the window's largest estimate when that is below the
 * current count (guv's "history of decreasing loads"). */
static void test_damping_partial(void **state)
{
    struct guv_config *cfg = guv_test_config("r: {min: 0, max: 20}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    struct guv_history h;
    assert_int_equal(guv_history__init(&h, 4), 0);
    int window[] = {3, 6, GUV_NONE, 2};
    for (size_t i = 0; i < 4; i++) {
        struct guv_state st = {.estimate = window[i]};
        guv_history__push(&h, &st);
    }
    struct guv_state s;
    guv_scale__decide(r, &h, 9, 0, &s);
    assert_int_equal(s.next, 6);
    guv_scale__decide(r, &h, 6, 0, &s);
    assert_int_equal(s.next, GUV_NONE);
    guv_scale__decide(r, &h, 9, 30, &s); /* 300 s / 38.37: 8 >= window max 6 */
    assert_int_equal(s.estimate, 8);
    assert_int_equal(s.next, 8);
    guv_history__cleanup(&h);
    guv_config__free(cfg);
}

static void test_quantile(void **state)
{
    /* reference values of the standard normal quantile */
    assert_true(fabs(guv_normal__quantile(0.01) - -2.3263478740408408) < 1e-13);
    assert_true(fabs(guv_normal__quantile(0.99) - 2.3263478740408408) < 1e-12);
    assert_true(fabs(guv_normal__quantile(0.975) - 1.959963984540054) < 1e-12);
    assert_true(fabs(guv_normal__quantile(0.05) - -1.6448536269514729) < 1e-13);
    assert_true(fabs(guv_normal__quantile(0.5)) < 1e-15);
    assert_true(fabs(guv_normal__quantile(1e-10) - -6.361340902404056) < 1e-11);
    assert_true(fabs(guv_normal__quantile(0.3) - -0.5244005127080407) < 1e-13);
    assert_true(isinf(guv_normal__quantile(0)) && guv_normal__quantile(0) < 0);
    assert_true(isinf(guv_normal__quantile(1)) && guv_normal__quantile(1) > 0);
    assert_true(isnan(guv_normal__quantile(1.5)));
    assert_true(isnan(guv_normal__quantile(-0.1)));
    /* guv's own targets: its calculateTarget on npm gaussian 1.1.0 (guv's
     * dependency, an approximate ppf), run with node. Ours are exact to double
     * precision; they agree far below the 0.01 s guv prints. */
    static const struct {
        double processing, stddev, deadline, percentile, guv;
    } targets[] = {
        {10, 5, 60, 99, 48.368260781124135},    {25, 12, 50, 99, 22.083825874697933},
        {60, 30, 61, 99, -8.7904353132551591},  {1, 0.5, 6, 99, 4.8368260781124137},
        {10, 5, 60, 95, 51.775731936218676},    {10, 5, 90, 99, 78.368260781124135},
        {5, 2.5, 30, 99.9, 22.274419201670078}, {15, 7.5, 60, 50, 60.000000281993906},
        {10, 5, 60, 1, 71.631739218875850},     {10, 3, 100, 99.99, 88.842950476564639},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        double t = guv_config__target(targets[i].processing, targets[i].stddev, targets[i].deadline,
                                      targets[i].percentile);
        if (!(fabs(t - targets[i].guv) < 1e-6))
            fprintf(stderr, "target %zu: %.17g, guv %.17g\n", i, t, targets[i].guv);
        assert_true(fabs(t - targets[i].guv) < 1e-6);
    }
    /* the default target: 60 - 2.3263 * 5 */
    assert_true(fabs(guv_config__target(10, 5, 60, 99) - 48.368260629795796) < 1e-12);
}

/* The worked example of docs/guv.md, poll by poll. */
static void test_docs_example(void **state)
{
    struct guv_config *cfg = guv_test_config("r: {max: 20}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    struct guv_history h;
    assert_int_equal(guv_history__init(&h, guv_history__window(&cfg->global)), 0);
    static const struct {
        uint64_t queue;
        int estimate, set;
    } polls[] = {{40, 11, 11},     {40, 11, GUV_NONE}, {0, 1, GUV_NONE}, {0, 1, GUV_NONE},
                 {0, 1, GUV_NONE}, {0, 1, GUV_NONE},   {0, 1, 1},        {10, 3, 3}};
    int current = GUV_NONE;
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        struct guv_state s;
        guv_scale__step(r, &h, current, polls[i].queue, GUV_NONE, &s);
        assert_int_equal(s.estimate, polls[i].estimate);
        assert_int_equal(s.next, polls[i].set);
        if (s.next != GUV_NONE)
            current = s.next;
    }
    struct guv_config *four = guv_test_config("r: {max: 20, concurrency: 4}\n");
    assert_int_equal(guv_scale__estimate(guv_config__role(four, "r"), 40), 3);
    guv_config__free(four);
    guv_history__cleanup(&h);
    guv_config__free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guv_vectors),
        cmocka_unit_test(test_defaults_formula),
        cmocka_unit_test(test_clamps),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_decide_directions),
        cmocka_unit_test(test_history_ring),
        cmocka_unit_test(test_damping_over_polls),
        cmocka_unit_test(test_damping_partial),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_docs_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
