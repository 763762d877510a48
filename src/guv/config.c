/* guv's configuration: YAML -> normalized roles; see config.h. The YAML tree
 * and js-yaml's scalar types come from the foreign-definition reader
 * (yaml/yaml_reader.h), so values get the types guv's js-yaml gives them. */
#include "guv/config.h"
#include "core/file.h"

#include "yaml/yaml_reader.h"
#include "msgflo/errors.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_NUMBER, K_WHOLE, K_STRING };
/* Checks guv does not make; each stops a value the formula cannot use. */
enum check { C_NONE, C_POSITIVE, C_NONNEGATIVE, C_PERCENT };

struct key {
    const char *name;
    const char *shorthand;
    enum kind kind;
    size_t offset;
    enum check check;
};

#define F(field) offsetof(struct guv_role, field)

/* schemata/roleconfig.yaml, in its order. */
static const struct key keys[] = {
    {"processing", "p", K_NUMBER, F(processing), C_POSITIVE},
    {"stddev", NULL, K_NUMBER, F(stddev), C_NONNEGATIVE},
    {"deadline", "d", K_NUMBER, F(deadline), C_NONE},
    {"boot", NULL, K_NUMBER, F(boot), C_NONE},
    {"concurrency", NULL, K_NUMBER, F(concurrency), C_POSITIVE},
    {"dynosize", NULL, K_STRING, F(dynosize), C_NONE},
    {"minimum", "min", K_WHOLE, F(minimum), C_NONNEGATIVE},
    {"maximum", "max", K_WHOLE, F(maximum), C_NONNEGATIVE},
    {"worker", "w", K_STRING, F(worker), C_NONE},
    {"queue", "q", K_STRING, F(queue), C_NONE},
    {"app", NULL, K_STRING, F(app), C_NONE},
    {"broker", NULL, K_STRING, F(broker), C_NONE},
    {"apikey", NULL, K_STRING, F(apikey), C_NONE},
    {"statuspage", NULL, K_STRING, F(statuspage), C_NONE},
    {"metric", NULL, K_STRING, F(metric), C_NONE},
    {"percentile", NULL, K_NUMBER, F(percentile), C_PERCENT},
    {"target", NULL, K_NUMBER, F(target), C_NONE},
    {"pollinterval", NULL, K_NUMBER, F(pollinterval), C_POSITIVE},
    {"history", NULL, K_NUMBER, F(history), C_NONNEGATIVE},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

struct ctx {
    const char *filename;
    const struct guv_config_options *options;
    struct guv_config *cfg;
    struct yreader reader;
};

static const struct key *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0 ||
            (keys[i].shorthand && strcmp(keys[i].shorthand, name) == 0))
            return &keys[i];
    return NULL;
}

static double *number_at(struct guv_role *role, const struct key *k)
{
    return (double *)(void *)((char *)role + k->offset);
}

static int *whole_at(struct guv_role *role, const struct key *k)
{
    return (int *)(void *)((char *)role + k->offset);
}

static char **string_at(struct guv_role *role, const struct key *k)
{
    return (char **)(void *)((char *)role + k->offset);
}

static int error_add(struct ctx *x, const yaml_mark_t *mark, const char *role, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records an error; the message gets the file and the place. */
static int error_add(struct ctx *x, const yaml_mark_t *mark, const char *role, const char *fmt, ...)
{
    char text[512], line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (mark)
        snprintf(line, sizeof line, "%s:%zu:%zu: %s", x->filename, mark->line + 1, mark->column + 1,
                 text);
    else
        snprintf(line, sizeof line, "%s: %s", x->filename, text);

    struct guv_config *cfg = x->cfg;
    struct guv_config_error *errors =
        realloc(cfg->errors, (cfg->n_errors + 1) * sizeof *cfg->errors);
    if (!errors)
        return MSGFLO_ENOMEM;
    cfg->errors = errors;
    struct guv_config_error *e = &errors[cfg->n_errors];
    memset(e, 0, sizeof *e);
    e->message = strdup(line);
    e->role = role ? strdup(role) : NULL;
    if (!e->message || (role && !e->role)) {
        free(e->message);
        free(e->role);
        return MSGFLO_ENOMEM;
    }
    if (mark) {
        e->line = (unsigned)mark->line + 1;
        e->column = (unsigned)mark->column + 1;
    }
    cfg->n_errors++;
    return 0;
}

/* tv4's name for a value's type, as guv-validate reports it. */
static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static void role_defaults(struct guv_role *r)
{
    memset(r, 0, sizeof *r);
    r->processing = 10.0;
    r->stddev = NAN;
    r->deadline = 60.0;
    r->percentile = 99.0;
    r->target = NAN;
    r->boot = 30.0;
    r->concurrency = 1.0;
    r->minimum = 1;
    r->maximum = 5;
    r->pollinterval = 30.0;
    r->history = 120.0;
}

static void role_cleanup(struct guv_role *r)
{
    free(r->name);
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].kind == K_STRING)
            free(*string_at(r, &keys[i]));
    memset(r, 0, sizeof *r);
}

static const char *string_of(const struct guv_role *role, const struct key *k)
{
    return *(char *const *)(const void *)((const char *)role + k->offset);
}

/* A deep copy of `from` named `name`; *to is cleaned up on failure. */
static int role_copy(struct guv_role *to, const struct guv_role *from, const char *name)
{
    int rc = MSGFLO_ENOMEM;
    *to = *from;
    to->name = NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].kind == K_STRING)
            *string_at(to, &keys[i]) = NULL;
    if (!(to->name = strdup(name)))
        goto out;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *s = keys[i].kind == K_STRING ? string_of(from, &keys[i]) : NULL;
        if (s && !(*string_at(to, &keys[i]) = strdup(s)))
            goto out;
    }
    rc = 0;
out:
    if (rc)
        role_cleanup(to);
    return rc;
}

static bool allowed(const struct ctx *x, const char *name)
{
    const char *const *allow = x->options ? x->options->allow_keys : NULL;
    for (; allow && *allow; allow++)
        if (strcmp(*allow, name) == 0)
            return true;
    return false;
}

static const char *check_number(const struct key *k, double v)
{
    switch (k->check) {
    case C_POSITIVE:
        return v > 0 ? NULL : "must be above 0";
    case C_NONNEGATIVE:
        return v >= 0 ? NULL : "must not be negative";
    case C_PERCENT:
        return v > 0 && v < 100 ? NULL : "must be between 0 and 100 (exclusive)";
    case C_NONE:
        break;
    }
    return NULL;
}

/* Applies one setting `name: value` to role `r`; a bad one is recorded and
 * leaves the role as it was. */
static int setting_apply(struct ctx *x, struct guv_role *r, const char *rolename, const char *name,
                         const struct ynode *key_node, const struct ynode *value)
{
    int rc = 0;
    json_t *v = NULL;
    const struct key *k = key_find(name);
    if (!k) {
        if (allowed(x, name))
            return 0;
        return error_add(x, &key_node->mark, rolename,
                         "unknown property '%s' in role '%s' (not in guv's schema)", name,
                         rolename);
    }
    if ((rc = yaml_reader__to_json(&x->reader, value, &v)) != 0)
        goto out;
    bool number = json_is_number(v);
    if ((k->kind == K_STRING && !json_is_string(v)) || (k->kind != K_STRING && !number)) {
        rc = error_add(x, &value->mark, rolename, "invalid type: %s (expected %s) for %s.%s",
                       json_type_name(v), k->kind == K_STRING ? "string" : "number", rolename,
                       k->name);
        goto out;
    }
    if (k->kind == K_STRING) {
        char *s = strdup(json_string_value(v));
        if (!s) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
        free(*string_at(r, k));
        *string_at(r, k) = s;
        goto out;
    }
    double d = json_number_value(v);
    const char *problem = check_number(k, d);
    if (!problem && k->kind == K_WHOLE && (d != floor(d) || d > INT_MAX))
        problem = "must be a whole number of workers";
    if (problem) {
        rc = error_add(x, &value->mark, rolename, "%s.%s is %g: %s", rolename, k->name, d, problem);
        goto out;
    }
    if (k->kind == K_WHOLE)
        *whole_at(r, k) = (int)d;
    else
        *number_at(r, k) = d;
out:
    json_decref(v);
    return rc;
}

/* Applies the settings of the mapping `value` (NULL: none) to `r`. */
static int settings_apply(struct ctx *x, struct guv_role *r, const char *rolename,
                          const struct ynode *value)
{
    int rc = 0;
    struct yentry *items = NULL;
    size_t n = 0;
    if (!value)
        return 0;
    if (value->kind != YNODE_MAP) {
        json_t *v = NULL;
        if ((rc = yaml_reader__to_json(&x->reader, value, &v)) != 0)
            return rc;
        rc =
            error_add(x, &value->mark, rolename, "invalid type: %s (expected object) for role '%s'",
                      json_type_name(v), rolename);
        json_decref(v);
        return rc;
    }
    if ((rc = yaml_reader__entries(&x->reader, value, &items, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = setting_apply(x, r, rolename, items[i].key, items[i].key_node, items[i].value);
    yaml_reader__entries_free(items, n);
    return rc;
}

static const char *env_get(const struct ctx *x, const char *name)
{
    const struct guv_config_options *o = x->options;
    if (o && o->getenv)
        return o->getenv(name, o->getenv_arg);
    return getenv(name);
}

/* Sets *s from the environment variable `name` when it is unset or empty. */
static int env_fallback(const struct ctx *x, char **s, const char *name)
{
    if (*s && **s)
        return 0;
    const char *v = env_get(x, name);
    if (!v)
        return 0;
    char *copy = strdup(v);
    if (!copy)
        return MSGFLO_ENOMEM;
    free(*s);
    *s = copy;
    return 0;
}

static int string_default(char **s, const char *value)
{
    if (*s && **s)
        return 0;
    char *copy = strdup(value);
    if (!copy)
        return MSGFLO_ENOMEM;
    free(*s);
    *s = copy;
    return 0;
}

double guv_config__target(double processing, double stddev, double deadline, double percentile)
{
    /* guv: ppf of N(processing, stddev^2) at the tolerance, mirrored around
     * the mean, added to the mean and taken off the deadline. */
    double tolerance = (100 - percentile) / 100;
    double ppf = processing + stddev * guv_normal__quantile(tolerance);
    double distance = processing + -ppf;
    return deadline - distance;
}

/* guv's addDefaults: environment for every role; names, stddev and target
 * for the real ones. */
static int role_finish(struct ctx *x, struct guv_role *r, const yaml_mark_t *mark)
{
    int rc;
    if ((rc = env_fallback(x, &r->statuspage, "STATUSPAGE_ID")) != 0 ||
        (rc = env_fallback(x, &r->broker, "GUV_BROKER")) != 0 ||
        (rc = env_fallback(x, &r->app, "GUV_APP")) != 0 ||
        (rc = env_fallback(x, &r->broker, "CLOUDAMQP_URL")) != 0 ||
        (rc = env_fallback(x, &r->apikey, "HEROKU_API_KEY")) != 0)
        return rc;
    if (strcmp(r->name, GUV_GLOBAL_ROLE) == 0)
        return 0;
    if ((rc = string_default(&r->worker, r->name)) != 0 ||
        (rc = string_default(&r->queue, r->name)) != 0)
        return rc;
    /* guv treats 0 like unset ("if not c.stddev") */
    if (isnan(r->stddev) || r->stddev == 0)
        r->stddev = r->processing * 0.5;
    if (isnan(r->target) || r->target == 0)
        r->target = guv_config__target(r->processing, r->stddev, r->deadline, r->percentile);
    if (!(r->target > r->processing)) {
        rc = error_add(x, mark, r->name,
                       "role '%s': Target %.2fs is lower than processing time %.2fs. Attempted "
                       "deadline %gs.",
                       r->name, r->target, r->processing, r->deadline);
        if (rc)
            return rc;
        r->target = r->processing + 0.01; /* guv: "do our best" */
    }
    if (r->minimum > r->maximum)
        return error_add(x, mark, r->name, "role '%s': minimum %d is above maximum %d", r->name,
                         r->minimum, r->maximum);
    return 0;
}

static void mark_store(struct guv_role *r, const yaml_mark_t *mark)
{
    r->line = (unsigned)mark->line + 1;
    r->column = (unsigned)mark->column + 1;
}

static int roles_read(struct ctx *x, const struct ynode *root)
{
    int rc = 0;
    struct guv_config *cfg = x->cfg;
    struct yentry *items = NULL;
    size_t n = 0;
    const struct yentry *global = NULL;

    if (root && (rc = yaml_reader__entries(&x->reader, root, &items, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].key, GUV_GLOBAL_ROLE) == 0)
            global = &items[i];

    role_defaults(&cfg->global);
    if (!(cfg->global.name = strdup(GUV_GLOBAL_ROLE))) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    yaml_mark_t none = {0, 0, 0};
    if (global) {
        mark_store(&cfg->global, &global->key_node->mark);
        if ((rc = settings_apply(x, &cfg->global, GUV_GLOBAL_ROLE, global->value)) != 0)
            goto out;
    }
    if ((rc = role_finish(x, &cfg->global, global ? &global->key_node->mark : &none)) != 0)
        goto out;

    if (n && !(cfg->roles = calloc(n, sizeof *cfg->roles))) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (&items[i] == global)
            continue;
        struct guv_role *r = &cfg->roles[cfg->n_roles];
        if ((rc = role_copy(r, &cfg->global, items[i].key)) != 0)
            goto out;
        cfg->n_roles++;
        mark_store(r, &items[i].key_node->mark);
        if ((rc = settings_apply(x, r, r->name, items[i].value)) != 0 ||
            (rc = role_finish(x, r, &items[i].key_node->mark)) != 0)
            goto out;
    }
out:
    yaml_reader__entries_free(items, n);
    return rc;
}

int guv_config__parse(const char *text, size_t len, const struct guv_config_options *options,
                      struct guv_config **out, char *errbuf, size_t errlen)
{
    int rc;
    struct ynode *root = NULL;
    struct ctx x = {.options = options};
    x.filename = options && options->filename ? options->filename : "config";
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';

    if (len == 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: Configuration is empty", x.filename);
        return MSGFLO_EINVAL;
    }
    if (!(x.cfg = calloc(1, sizeof *x.cfg)))
        return MSGFLO_ENOMEM;
    if ((rc = yaml_reader__read(&x.reader, text, len, x.filename, errbuf, errlen, &root)) != 0)
        goto out;
    /* guv: a document that is null (or only comments) is an empty config */
    if (root && root->kind == YNODE_SCALAR && yaml_reader__is_null(root))
        root = NULL;
    if (root && root->kind != YNODE_MAP) {
        rc = yaml_reader__fail_at(&x.reader, root->mark,
                                  "a guv config is a mapping of role names to settings");
        goto out;
    }
    rc = roles_read(&x, root);
out:
    yaml_reader__free(&x.reader);
    if (rc) {
        if (rc == MSGFLO_ENOMEM && errbuf && errlen)
            snprintf(errbuf, errlen, "%s: out of memory", x.filename);
        guv_config__free(x.cfg);
        return rc;
    }
    *out = x.cfg;
    return 0;
}

int guv_config__load(const char *path, const struct guv_config_options *options,
                     struct guv_config **out, char *errbuf, size_t errlen)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = file__read(path, &text, &len, errbuf, errlen);
    if (rc)
        return rc;
    struct guv_config_options o = {0};
    if (options)
        o = *options;
    o.filename = path;
    rc = guv_config__parse(text ? text : "", len, &o, out, errbuf, errlen);
    free(text);
    return rc;
}

const struct guv_role *guv_config__role(const struct guv_config *cfg, const char *name)
{
    if (strcmp(name, GUV_GLOBAL_ROLE) == 0)
        return &cfg->global;
    for (size_t i = 0; i < cfg->n_roles; i++)
        if (strcmp(cfg->roles[i].name, name) == 0)
            return &cfg->roles[i];
    return NULL;
}

enum guv_value_kind guv_role__get(const struct guv_role *role, const char *key, double *number,
                                  const char **string)
{
    const struct key *k = key_find(key);
    if (!k)
        return GUV_VALUE_UNKNOWN_KEY;
    if (k->kind == K_STRING) {
        if (string)
            *string = string_of(role, k);
        return GUV_VALUE_STRING;
    }
    const void *field = (const char *)role + k->offset;
    if (number)
        *number = k->kind == K_WHOLE ? (double)*(const int *)field : *(const double *)field;
    return GUV_VALUE_NUMBER;
}

void guv_config__free(struct guv_config *cfg)
{
    if (!cfg)
        return;
    role_cleanup(&cfg->global);
    for (size_t i = 0; i < cfg->n_roles; i++)
        role_cleanup(&cfg->roles[i]);
    free(cfg->roles);
    for (size_t i = 0; i < cfg->n_errors; i++) {
        free(cfg->errors[i].message);
        free(cfg->errors[i].role);
    }
    free(cfg->errors);
    free(cfg);
}
