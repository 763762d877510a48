/* The configuration file of the component library: reading the JSON file,
 * the settings at the top level or under "msgflo" (normalizeConfig), and the
 * components it defines (componentsFromConfig). See library.h. */
#include "library/library_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* An object's key, value and place in JavaScript key order. */
struct key {
    const char *key;
    const json_t *value;
    struct library_js_order order;
};

static int cmp_keys(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    return library__js_order_cmp(&x->order, &y->order);
}

/* The keys of obj in the order `for k of obj` visits them; *out free()d. */
static int js_keys(const json_t *obj, struct key **out, size_t *n)
{
    size_t count = json_object_size(obj), i = 0;
    struct key *keys = calloc(count ? count : 1, sizeof(*keys));
    if (!keys)
        return MSGFLO_ENOMEM;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        keys[i].key = k;
        keys[i].value = v;
        library__js_order_set(&keys[i].order, k, i);
        i++;
    }
    qsort(keys, i, sizeof(*keys), cmp_keys);
    *out = keys;
    *n = i;
    return 0;
}

/* ---- settings (normalizeConfig) ---- */

/* A settings object: NULL when absent or null; MSGFLO_EINVAL when not an
 * object. */
static int get_object(struct library_config *c, const char *key, const json_t **out, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(c->cfg, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        library__set_err(err, errlen, "%s: %s%s: expected an object", c->name, c->prefix, key);
        return MSGFLO_EINVAL;
    }
    *out = v;
    return 0;
}

/* Every value of obj (may be NULL) a string without NUL characters. */
static int check_strings(struct library_config *c, const char *key, const json_t *obj,
                         const char *what, char *err, size_t errlen)
{
    const char *k;
    const json_t *v;
    if (!obj)
        return 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            library__set_err(err, errlen, "%s: %s%s.%s: expected a string (%s)", c->name, c->prefix,
                             key, k, what);
            return MSGFLO_EINVAL;
        }
    }
    return 0;
}

void library_config__cleanup(struct library_config *c)
{
    library_template__vars_free(&c->vars);
}

int library_config__read(const json_t *doc, struct library_config *c, struct library *lib,
                         char *err, size_t errlen)
{
    int rc;
    c->prefix = "";
    if (!doc || json_is_null(doc)) {
        c->cfg = NULL;
        return 0;
    }
    if (!json_is_object(doc)) {
        library__set_err(err, errlen, "%s: expected a JSON object", c->name);
        return MSGFLO_EINVAL;
    }

    /* namespace defaults to the package name; repository from package.json's
     * repository.url or a repository string */
    const json_t *name = json_object_get(doc, "name");
    if (name && !json_is_null(name) && !json_is_string(name)) {
        library__set_err(err, errlen, "%s: name: expected a string", c->name);
        return MSGFLO_EINVAL;
    }
    const char *ns = json_is_string(name) ? json_string_value(name) : NULL;
    const json_t *repo = json_object_get(doc, "repository");
    const json_t *url = json_object_get(repo, "url");
    const char *repository = json_is_string(url)    ? json_string_value(url)
                             : json_is_string(repo) ? json_string_value(repo)
                                                    : NULL;

    /* the settings might be under "msgflo", as in a package.json */
    const json_t *sub = json_object_get(doc, "msgflo");
    c->cfg = doc;
    if (sub && !json_is_null(sub) && !json_is_false(sub)) {
        if (!json_is_object(sub)) {
            library__set_err(err, errlen, "%s: msgflo: expected an object", c->name);
            return MSGFLO_EINVAL;
        }
        c->cfg = sub;
        c->prefix = "msgflo.";
    }

    const json_t *r = json_object_get(c->cfg, "repository");
    if (json_is_string(r))
        repository = json_string_value(r);
    const json_t *n = json_object_get(c->cfg, "namespace");
    if (n && !json_is_null(n)) {
        if (!json_is_string(n)) {
            library__set_err(err, errlen, "%s: %snamespace: expected a string", c->name, c->prefix);
            return MSGFLO_EINVAL;
        }
        ns = json_string_value(n);
    }
    if (ns && *ns && !(lib->ns = strdup(ns)))
        return MSGFLO_ENOMEM;
    if (repository && !(lib->repository = strdup(repository)))
        return MSGFLO_ENOMEM;

    const json_t *vars;
    if ((rc = get_object(c, "components", &c->components, err, errlen)) ||
        (rc = get_object(c, "handlers", &c->handlers, err, errlen)) ||
        (rc = get_object(c, "variables", &vars, err, errlen)))
        return rc;
    if ((rc = check_strings(c, "components", c->components, "a command template", err, errlen)) ||
        (rc = check_strings(c, "handlers", c->handlers, "a command template", err, errlen)))
        return rc;

    if (vars) {
        struct key *keys;
        size_t nk;
        if ((rc = js_keys(vars, &keys, &nk)))
            return rc;
        for (size_t i = 0; i < nk && rc == 0; i++) {
            const json_t *v = keys[i].value;
            if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
                rc = library_template__vars_set(&c->vars, keys[i].key, json_string_value(v));
            } else if (json_is_number(v) || json_is_boolean(v)) {
                /* as JavaScript's String(value) */
                char *text;
                rc = graph_json__dump(v, 0, &text);
                if (rc == 0) {
                    rc = library_template__vars_set(&c->vars, keys[i].key, text);
                    free(text);
                }
            } else {
                library__set_err(err, errlen, "%s: %svariables.%s: expected a string", c->name,
                                 c->prefix, keys[i].key);
                rc = MSGFLO_EINVAL;
            }
        }
        free(keys);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- components (componentsFromConfig) ---- */

int library_config__add_components(struct library *lib, const struct library_config *c)
{
    if (!c->components)
        return 0;
    struct key *keys;
    size_t n;
    int rc = js_keys(c->components, &keys, &n);
    if (rc)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *command;
        rc = library_template__base_command(c, keys[i].key, json_string_value(keys[i].value), NULL,
                                            &command);
        if (rc == 0)
            rc = library__add_component(lib, keys[i].key, command, NULL, NULL, c->name);
    }
    free(keys);
    return rc;
}

/* ---- the file ---- */

int library__load(const char *config_path, const char *componentdir, struct library **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    if (!config_path) {
        if (access(LIBRARY_DEFAULT_CONFIG, F_OK) != 0) {
            LOG_DEBUG(LIBRARY_NS, "no %s: default handlers only", LIBRARY_DEFAULT_CONFIG);
            return library__from_json(NULL, NULL, componentdir, out, err, errlen);
        }
        config_path = LIBRARY_DEFAULT_CONFIG;
    }
    FILE *f = fopen(config_path, "rb");
    if (!f) {
        library__set_err(err, errlen, "%s: cannot open the library configuration: %s", config_path,
                         strerror(errno));
        return MSGFLO_ESYS;
    }
    json_error_t jerr;
    json_t *doc = json_loadf(f, 0, &jerr);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (!doc) {
        if (read_errno) {
            library__set_err(err, errlen, "%s: cannot read the library configuration: %s",
                             config_path, strerror(read_errno));
            return MSGFLO_ESYS;
        }
        if (jerr.column > 0)
            library__set_err(err, errlen, "%s:%d:%d: invalid JSON: %s", config_path, jerr.line,
                             jerr.column, jerr.text);
        else
            library__set_err(err, errlen, "%s:%d: invalid JSON: %s", config_path, jerr.line,
                             jerr.text);
        return MSGFLO_EJSON;
    }
    int rc = library__from_json(doc, config_path, componentdir, out, err, errlen);
    json_decref(doc);
    return rc;
}
