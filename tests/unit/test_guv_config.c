/* guv's configuration: the cases of guv's spec/configs.yaml (checked in as
 * tests/fixtures/guv/configs.yaml: normalized configs, guv-validate's verdicts
 * with the expected message substring), defaults, short names, '*'
 * inheritance, environment fallbacks, the target, and errors with their
 * place in the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guv_test_config.h"
#include "yaml/yaml_reader.h"
#include "guv/config.h"
#include "msgflo/errors.h"

static char err[1024];

/* A fake environment: "NAME=value" pairs. */
static const char *const *fake_env;

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    size_t n = strlen(name);
    for (const char *const *e = fake_env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int parse_with(const char *yaml, const char *const *allow, struct guv_config **cfg)
{
    struct guv_config_options o = {
        .filename = "t.guv.yaml", .allow_keys = allow, .getenv = env_get};
    return guv_config__parse(yaml, strlen(yaml), &o, cfg, err, sizeof err);
}

/* Parses a config that must load (it may hold errors). */
static struct guv_config *parse(const char *yaml)
{
    struct guv_config *cfg = NULL;
    int rc = parse_with(yaml, NULL, &cfg);
    if (rc)
        fprintf(stderr, "unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    return cfg;
}

static struct guv_config *parse_valid(const char *yaml)
{
    struct guv_config *cfg = parse(yaml);
    for (size_t i = 0; i < cfg->n_errors; i++)
        fprintf(stderr, "unexpected: %s\n", cfg->errors[i].message);
    assert_int_equal(cfg->n_errors, 0);
    return cfg;
}

static bool contains_ci(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        size_t i = 0;
        while (i < n && haystack[i] &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* The config has exactly one error, containing `expected`. */
static const struct guv_config_error *one_error(const struct guv_config *cfg, const char *expected)
{
    if (cfg->n_errors != 1 || !contains_ci(cfg->errors[0].message, expected)) {
        fprintf(stderr, "expected one error with: %s\n", expected);
        for (size_t i = 0; i < cfg->n_errors; i++)
            fprintf(stderr, "error %zu: %s\n", i, cfg->errors[i].message);
    }
    assert_int_equal(cfg->n_errors, 1);
    assert_true(contains_ci(cfg->errors[0].message, expected));
    return &cfg->errors[0];
}

/* Every key of the expected config (a subset, as guv's definedVarsEql) has
 * the expected value. */
static bool config_matches(const struct guv_config *cfg, const json_t *expected, const char *name)
{
    bool ok = true;
    const char *role_name, *key;
    const json_t *vars, *want;
    json_object_foreach((json_t *)expected, role_name, vars)
    {
        const struct guv_role *role = guv_config__role(cfg, role_name);
        if (!role) {
            fprintf(stderr, "%s: no role %s\n", name, role_name);
            ok = false;
            continue;
        }
        json_object_foreach((json_t *)vars, key, want)
        {
            double number = NAN;
            const char *string = NULL;
            enum guv_value_kind kind = guv_role__get(role, key, &number, &string);
            bool same = json_is_number(want)
                            ? kind == GUV_VALUE_NUMBER && number == json_number_value(want)
                            : kind == GUV_VALUE_STRING && string &&
                                  strcmp(string, json_string_value(want)) == 0;
            if (!same) {
                fprintf(stderr, "%s: %s.%s differs\n", name, role_name, key);
                ok = false;
            }
        }
    }
    return ok;
}

/* One case as guv's spec/config.coffee (normalized config, parsed) and
 * spec/validate.coffee (valid, or invalid with a message substring, as
 * guv-validate prints it lowercased). */
static bool run_case(const json_t *t)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *input = json_string_value(json_object_get(t, "input"));
    const char *invalid = json_string_value(json_object_get(t, "invalid"));
    const json_t *expected = json_object_get(t, "config");
    const json_t *parsed = json_object_get(t, "parsed");
    const char *options = json_string_value(json_object_get(t, "validationOptions"));
    const char *allow[2] = {NULL, NULL};
    if (options) {
        assert_true(strncmp(options, "--allow-key ", 12) == 0); /* the only option guv has */
        allow[0] = options + 12;
    }

    struct guv_config *cfg = NULL;
    int rc = parse_with(input, allow, &cfg);
    bool ok = true;
    if (rc) {
        /* a config that does not load is guv-validate's non-zero exit */
        ok = invalid && contains_ci(err, invalid);
        if (!ok)
            fprintf(stderr, "%s: %s\n", name, err);
        return ok;
    }
    if (invalid) {
        bool found = false;
        for (size_t i = 0; i < cfg->n_errors; i++)
            found |= contains_ci(cfg->errors[i].message, invalid);
        ok &= found;
    } else if (json_is_true(json_object_get(t, "valid"))) {
        ok &= cfg->n_errors == 0;
    }
    if (expected)
        ok &= config_matches(cfg, expected, name);
    if (parsed) /* guv's raw parse; here: the roles it names */
        ok &= cfg->n_roles == json_object_size(parsed);
    if (!ok)
        for (size_t i = 0; i < cfg->n_errors; i++)
            fprintf(stderr, "%s: %s\n", name, cfg->errors[i].message);
    guv_config__free(cfg);
    if (!ok)
        fprintf(stderr, "guv case '%s' fails\n", name);
    return ok;
}

static void test_guv_vectors(void **state)
{
    json_t *tests = guv_test_fixture("configs.yaml");
    assert_true(json_is_array(tests));
    assert_int_equal(json_array_size(tests), 9);
    size_t i, passed = 0;
    const json_t *t;
    json_array_foreach(tests, i, t) passed += run_case(t);
    fprintf(stderr, "guv configs.yaml: %zu of %zu cases pass\n", passed, json_array_size(tests));
    assert_int_equal(passed, json_array_size(tests));
    json_decref(tests);
}

static void test_defaults(void **state)
{
    fake_env = NULL;
    struct guv_config *cfg = parse_valid("worker: {}\n");
    assert_int_equal(cfg->n_roles, 1);
    const struct guv_role *r = &cfg->roles[0];
    assert_string_equal(r->name, "worker");
    assert_true(r->processing == 10.0);
    assert_true(r->stddev == 5.0);
    assert_true(r->deadline == 60.0);
    assert_true(r->percentile == 99.0);
    assert_true(fabs(r->target - 48.368260629795796) < 1e-12);
    assert_true(r->boot == 30.0);
    assert_true(r->concurrency == 1.0);
    assert_int_equal(r->minimum, 1);
    assert_int_equal(r->maximum, 5);
    assert_true(r->pollinterval == 30.0);
    assert_true(r->history == 120.0);
    assert_string_equal(r->worker, "worker");
    assert_string_equal(r->queue, "worker");
    assert_null(r->app);
    assert_null(r->broker);
    assert_null(r->apikey);
    assert_null(r->dynosize);
    assert_null(r->statuspage);
    assert_null(r->metric);
    assert_int_equal(r->line, 1);
    assert_int_equal(r->column, 1);
    /* the implicit '*' */
    assert_string_equal(cfg->global.name, "*");
    assert_true(isnan(cfg->global.stddev));
    assert_true(isnan(cfg->global.target));
    assert_null(cfg->global.worker);
    assert_int_equal(cfg->global.line, 0);
    assert_ptr_equal(guv_config__role(cfg, "*"), &cfg->global);
    assert_null(guv_config__role(cfg, "other"));
    guv_config__free(cfg);

    cfg = parse_valid("# only a comment\n");
    assert_int_equal(cfg->n_roles, 0);
    assert_int_equal(cfg->global.maximum, 5);
    guv_config__free(cfg);
}

static void test_short_names_and_inheritance(void **state)
{
    fake_env = NULL;
    struct guv_config *cfg = parse_valid("'*': {p: 20, max: 8, app: shared, stddev: 1}\n"
                                         "a: {d: 100, min: 2, w: web, q: a.IN}\n"
                                         "b: {processing: 4, maximum: 3, minimum: 0, app: own}\n"
                                         "c: {stddev: 0}\n");
    const struct guv_role *a = guv_config__role(cfg, "a");
    const struct guv_role *b = guv_config__role(cfg, "b");
    const struct guv_role *c = guv_config__role(cfg, "c");
    assert_true(a->processing == 20 && a->deadline == 100 && a->stddev == 1);
    assert_int_equal(a->minimum, 2);
    assert_int_equal(a->maximum, 8);
    assert_string_equal(a->worker, "web");
    assert_string_equal(a->queue, "a.IN");
    assert_string_equal(a->app, "shared");
    assert_true(b->processing == 4 && b->stddev == 1);
    assert_int_equal(b->minimum, 0);
    assert_int_equal(b->maximum, 3);
    assert_string_equal(b->app, "own");
    assert_true(c->stddev == 10); /* 0 counts as unset in guv: half of '*' processing */
    /* target = deadline - z * stddev */
    assert_true(fabs(a->target - (100 - 2.3263478740408408)) < 1e-9);
    double v;
    const char *s;
    assert_int_equal(guv_role__get(a, "p", &v, NULL), GUV_VALUE_NUMBER);
    assert_true(v == 20);
    assert_int_equal(guv_role__get(a, "min", &v, NULL), GUV_VALUE_NUMBER);
    assert_true(v == 2);
    assert_int_equal(guv_role__get(a, "w", NULL, &s), GUV_VALUE_STRING);
    assert_string_equal(s, "web");
    assert_int_equal(guv_role__get(a, "nonsense", &v, &s), GUV_VALUE_UNKNOWN_KEY);
    guv_config__free(cfg);

    /* an explicit target wins, and JSON is YAML */
    cfg = parse_valid("{\"*\": {\"deadline\": 30}, \"r\": {\"target\": 25.5, \"q\": \"r.IN\"}}");
    const struct guv_role *r = guv_config__role(cfg, "r");
    assert_true(r->target == 25.5);
    assert_true(r->deadline == 30);
    assert_string_equal(r->queue, "r.IN");
    guv_config__free(cfg);

    /* the later of a long and a short name wins, as in guv */
    cfg = parse_valid("r: {processing: 3, p: 4}\n");
    assert_true(cfg->roles[0].processing == 4);
    guv_config__free(cfg);
}

static void test_environment(void **state)
{
    static const char *const env[] = {"GUV_BROKER=amqp://guv", "CLOUDAMQP_URL=amqp://cloud",
                                      "GUV_APP=envapp",        "HEROKU_API_KEY=secret",
                                      "STATUSPAGE_ID=page",    NULL};
    static const char *const cloud_only[] = {"CLOUDAMQP_URL=amqp://cloud", NULL};
    fake_env = env;
    struct guv_config *cfg = parse_valid("'*': {}\nr: {}\ns: {broker: 'amqp://mine', app: ''}\n");
    const struct guv_role *r = guv_config__role(cfg, "r");
    const struct guv_role *s = guv_config__role(cfg, "s");
    assert_string_equal(cfg->global.broker, "amqp://guv"); /* GUV_BROKER before CLOUDAMQP_URL */
    assert_string_equal(r->broker, "amqp://guv");
    assert_string_equal(r->app, "envapp");
    assert_string_equal(r->apikey, "secret");
    assert_string_equal(r->statuspage, "page");
    assert_string_equal(s->broker, "amqp://mine");
    assert_string_equal(s->app, "envapp"); /* empty counts as unset */
    guv_config__free(cfg);

    fake_env = cloud_only;
    cfg = parse_valid("r: {}\n");
    assert_string_equal(cfg->roles[0].broker, "amqp://cloud");
    assert_null(cfg->roles[0].app);
    guv_config__free(cfg);
    fake_env = NULL;
}

static void test_target_error(void **state)
{
    fake_env = NULL;
    /* guv's message, and its "best effort" target */
    struct guv_config *cfg = parse("'*': {min: 0, max: 4}\n"
                                   "failing: { processing: 25, stddev: 12, deadline: 50}\n");
    const struct guv_config_error *e =
        one_error(cfg, "t.guv.yaml:2:1: role 'failing': Target 22.08s is lower than processing "
                       "time 25.00s. Attempted deadline 50s.");
    assert_string_equal(e->role, "failing");
    assert_int_equal(e->line, 2);
    assert_true(cfg->roles[0].target == 25.01);
    guv_config__free(cfg);

    cfg = parse("r: {processing: 5, target: 5}\n");
    one_error(cfg, "Target 5.00s is lower than processing time 5.00s");
    assert_true(cfg->roles[0].target == 5.01);
    guv_config__free(cfg);
}

static void test_located_errors(void **state)
{
    fake_env = NULL;
    struct guv_config *cfg = parse("a:\n  p: 1\n  procesing: 25\n");
    const struct guv_config_error *e =
        one_error(cfg, "t.guv.yaml:3:3: unknown property 'procesing' in role 'a'");
    assert_int_equal(e->line, 3);
    assert_int_equal(e->column, 3);
    guv_config__free(cfg);

    /* guv's YAML gotcha: {p:60} is the key "p:60" */
    cfg = parse("my: {p:60, deadline: 240}\n");
    one_error(cfg, "t.guv.yaml:1:6: unknown property 'p:60'");
    assert_true(cfg->roles[0].processing == 10);
    guv_config__free(cfg);

    cfg = parse("r:\n  processing: fast\n");
    one_error(cfg, "t.guv.yaml:2:15: invalid type: string (expected number) for r.processing");
    assert_true(cfg->roles[0].processing == 10);
    guv_config__free(cfg);

    cfg = parse("r: {app: 123}\n");
    one_error(cfg, "t.guv.yaml:1:10: invalid type: number (expected string) for r.app");
    guv_config__free(cfg);

    cfg = parse("r: {deadline: ~}\n");
    one_error(cfg, "invalid type: null (expected number) for r.deadline");
    assert_true(cfg->roles[0].deadline == 60);
    guv_config__free(cfg);

    cfg = parse("r: {max: true}\n");
    one_error(cfg, "invalid type: boolean (expected number)");
    guv_config__free(cfg);

    cfg = parse("r: 5\n");
    one_error(cfg, "t.guv.yaml:1:4: invalid type: number (expected object) for role 'r'");
    guv_config__free(cfg);

    cfg = parse("'*': {queue:x}\n");
    one_error(cfg, "t.guv.yaml:1:7: unknown property 'queue:x' in role '*'");
    guv_config__free(cfg);

    /* allowed extra keys */
    const char *const allow[] = {"extrakey", NULL};
    assert_int_equal(parse_with("r: {extrakey: 1, other: 2}\n", allow, &cfg), 0);
    one_error(cfg, "unknown property 'other'");
    guv_config__free(cfg);
}

/* Values guv would compute nonsense with. */
static void test_nonsense_values(void **state)
{
    fake_env = NULL;
    struct guv_config *cfg = parse("r: {concurrency: 0}\n");
    one_error(cfg, "t.guv.yaml:1:18: r.concurrency is 0: must be above 0");
    assert_true(cfg->roles[0].concurrency == 1);
    guv_config__free(cfg);

    cfg = parse("r: {min: 1.5}\n");
    one_error(cfg, "r.minimum is 1.5: must be a whole number");
    guv_config__free(cfg);

    cfg = parse("r: {max: -1}\n");
    one_error(cfg, "r.maximum is -1: must not be negative");
    guv_config__free(cfg);

    cfg = parse("r: {percentile: 100}\n");
    one_error(cfg, "r.percentile is 100: must be between 0 and 100");
    guv_config__free(cfg);

    cfg = parse("'*': {pollinterval: 0}\nr: {}\n");
    one_error(cfg, "t.guv.yaml:1:21: *.pollinterval is 0");
    guv_config__free(cfg);

    cfg = parse("r: {processing: -1}\n");
    one_error(cfg, "r.processing is -1: must be above 0");
    guv_config__free(cfg);

    cfg = parse("'*': {min: 4}\nr: {max: 2}\n");
    one_error(cfg, "t.guv.yaml:2:1: role 'r': minimum 4 is above maximum 2");
    guv_config__free(cfg);
}

static void test_not_a_config(void **state)
{
    struct guv_config *cfg = NULL;
    assert_int_equal(parse_with("", NULL, &cfg), MSGFLO_EINVAL);
    assert_null(cfg);
    assert_string_equal(err, "t.guv.yaml: Configuration is empty");

    assert_int_equal(parse_with("r: {p: 1\n", NULL, &cfg), MSGFLO_EINVAL);
    assert_null(cfg);
    assert_true(strncmp(err, "t.guv.yaml:2:1: ", 16) == 0);

    assert_int_equal(parse_with("- a\n- b\n", NULL, &cfg), MSGFLO_EINVAL);
    assert_string_equal(err, "t.guv.yaml:1:1: a guv config is a mapping of role names to settings");

    assert_int_equal(parse_with("a: {}\na: {}\n", NULL, &cfg), MSGFLO_EINVAL);
    assert_true(strncmp(err, "t.guv.yaml:2:1: ", 16) == 0);
    assert_null(cfg);

    assert_int_equal(parse_with("a: {p: 1}\n---\nb: {}\n", NULL, &cfg), MSGFLO_EINVAL);
    assert_null(cfg);

    /* a null document is an empty config, as in guv */
    assert_int_equal(parse_with("~\n", NULL, &cfg), 0);
    assert_int_equal(cfg->n_roles, 0);
    guv_config__free(cfg);
    guv_config__free(NULL);
}

static void test_load(void **state)
{
    fake_env = NULL;
    struct guv_config *cfg = NULL;
    struct guv_config_options o = {.getenv = env_get};
    assert_int_equal(
        guv_config__load(MSGFLO_GUV_FIXTURES "/imgflo.guv.yaml", &o, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->n_errors, 0);
    assert_int_equal(cfg->n_roles, 2);
    const struct guv_role *p = guv_config__role(cfg, "processing");
    const struct guv_role *t = guv_config__role(cfg, "thumbnails");
    assert_string_equal(p->queue, "imgflo_worker.IN");
    assert_string_equal(p->app, "imgflo");
    assert_int_equal(p->minimum, 2);
    assert_int_equal(t->maximum, 10);
    assert_string_equal(t->worker, "thumbs");
    assert_string_equal(t->queue, "thumbnails");
    assert_true(t->concurrency == 4 && t->boot == 20);
    assert_int_equal(t->line, 8);
    guv_config__free(cfg);

    assert_int_equal(
        guv_config__load(MSGFLO_GUV_FIXTURES "/typo.guv.yaml", NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->n_errors, 3);
    const char *path = MSGFLO_GUV_FIXTURES "/typo.guv.yaml";
    char want[1024];
    snprintf(want, sizeof want, "%s:4:3: unknown property 'procesing' in role 'typorole'", path);
    assert_true(strncmp(cfg->errors[0].message, want, strlen(want)) == 0);
    snprintf(want, sizeof want, "%s:5:6: unknown property 'p:60' in role 'my'", path);
    assert_true(strncmp(cfg->errors[1].message, want, strlen(want)) == 0);
    snprintf(want, sizeof want, "%s:7:15: invalid type: string (expected number)", path);
    assert_true(strncmp(cfg->errors[2].message, want, strlen(want)) == 0);
    assert_string_equal(cfg->errors[2].role, "slow");
    guv_config__free(cfg);

    assert_int_equal(
        guv_config__load(MSGFLO_GUV_FIXTURES "/missing.guv.yaml", NULL, &cfg, err, sizeof err),
        MSGFLO_EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(err, "missing.guv.yaml: cannot open: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guv_vectors),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_short_names_and_inheritance),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_target_error),
        cmocka_unit_test(test_located_errors),
        cmocka_unit_test(test_nonsense_values),
        cmocka_unit_test(test_not_a_config),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
