/* The component library: see library.h and docs/component-library.md.
 * Follows msgflo's src/library.coffee (0.12.3) step by step; the comments
 * name the original's functions. This file holds the model: assembling a
 * library from its configuration (library_config.c) and component directory
 * (library_scan.c), lookup, and the helpers for the tools; command templates
 * are in library_template.c. */
#include "library/library_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void library__set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- JavaScript key order ---- */

/* An array index as JavaScript orders object keys: "0" or [1-9][0-9]* below
 * 2^32-1 comes first, in numeric order. */
static bool index_key(const char *k, unsigned long *v)
{
    size_t n = strlen(k);
    if (!n || n > 10 || (k[0] == '0' && n > 1) || strspn(k, "0123456789") != n)
        return false;
    *v = strtoul(k, NULL, 10);
    return *v < 4294967295UL;
}

void library__js_order_set(struct library_js_order *o, const char *key, size_t pos)
{
    o->pos = pos;
    o->is_index = index_key(key, &o->index);
}

int library__js_order_cmp(const struct library_js_order *a, const struct library_js_order *b)
{
    if (a->is_index != b->is_index)
        return a->is_index ? -1 : 1;
    if (a->is_index && a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* ---- assembling ---- */

int library__add_component(struct library *lib, const char *name, char *command,
                           const char *language, char *filename, const char *source)
{
    const struct library_component *existing = library__find(lib, name);
    if (existing) {
        LOG_WARNING(LIBRARY_NS, "component %s from %s ignored: %s is already defined%s%s", name,
                    source, existing->name, existing->filename ? " by " : "",
                    existing->filename ? existing->filename : "");
        free(command);
        free(filename);
        return 0;
    }
    if (lib->n == lib->cap) {
        size_t cap = lib->cap ? lib->cap * 2 : 16;
        struct library_component *bigger = realloc(lib->comps, cap * sizeof(*bigger));
        if (!bigger) {
            free(command);
            free(filename);
            return MSGFLO_ENOMEM;
        }
        lib->comps = bigger;
        lib->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        free(command);
        free(filename);
        return MSGFLO_ENOMEM;
    }
    lib->comps[lib->n].name = copy;
    lib->comps[lib->n].command = command;
    lib->comps[lib->n].language = language;
    lib->comps[lib->n].filename = filename;
    lib->n++;
    LOG_DEBUG(LIBRARY_NS, "component %s: %s", copy, command);
    return 0;
}

int library__from_json(const json_t *config, const char *config_name, const char *componentdir,
                       struct library **out, char *err, size_t errlen)
{
    struct library_config c;
    memset(&c, 0, sizeof(c));
    c.name = config_name ? config_name : "configuration";
    *out = NULL;
    struct library *lib = calloc(1, sizeof(*lib));
    if (!lib) {
        library__set_err(err, errlen, "%s", msgflo_strerror(MSGFLO_ENOMEM));
        return MSGFLO_ENOMEM;
    }
    lib->componentdir =
        strdup(componentdir && *componentdir ? componentdir : LIBRARY_DEFAULT_COMPONENTDIR);
    int rc = lib->componentdir ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = library_config__read(config, &c, lib, err, errlen);
    if (rc == 0)
        rc = library_scan__directory(lib, &c, err, errlen);
    if (rc == 0)
        rc = library_config__add_components(lib, &c);
    library_config__cleanup(&c);
    if (rc) {
        if (rc == MSGFLO_ENOMEM)
            library__set_err(err, errlen, "%s", msgflo_strerror(rc));
        library__free(lib);
        return rc;
    }
    *out = lib;
    return 0;
}

static bool name_part_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int library__check_component_name(const char *name, char *err, size_t errlen)
{
    const char *slash = name ? strchr(name, '/') : NULL;
    bool ok = name && (slash ? name_part_ok(name, (size_t)(slash - name)) &&
                                   name_part_ok(slash + 1, strlen(slash + 1))
                             : name_part_ok(name, strlen(name)));
    if (ok)
        return 0;
    /* Shown back to the client: printable ASCII only, at most 80 bytes. */
    char shown[84] = "";
    size_t i = 0;
    for (; name && name[i] && i < 80; i++)
        shown[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    if (name && name[i])
        memcpy(shown + i, "...", 4);
    else
        shown[i] = '\0';
    if (err && errlen)
        snprintf(err, errlen,
                 "invalid component name '%s': use Name or library/Name, of letters, digits, "
                 "'_', '-' and '.' (not first)",
                 shown);
    return MSGFLO_EINVAL;
}

void library__free(struct library *lib)
{
    if (!lib)
        return;
    for (size_t i = 0; i < lib->n; i++) {
        free((char *)lib->comps[i].name);
        free((char *)lib->comps[i].command);
        free((char *)lib->comps[i].filename);
    }
    free(lib->comps);
    free(lib->ns);
    free(lib->repository);
    free(lib->componentdir);
    free(lib);
}

/* ---- lookup ---- */

size_t library__count(const struct library *lib)
{
    return lib->n;
}

const struct library_component *library__get(const struct library *lib, size_t i)
{
    return i < lib->n ? &lib->comps[i] : NULL;
}

/* path.basename(name): the part after the last '/', trailing '/'s ignored. */
static char *basename_of(const char *name)
{
    size_t end = strlen(name);
    while (end > 0 && name[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && name[start - 1] != '/')
        start--;
    char *b = malloc(end - start + 1);
    if (b) {
        memcpy(b, name + start, end - start);
        b[end - start] = '\0';
    }
    return b;
}

static const struct library_component *find_exact(const struct library *lib, const char *name)
{
    for (size_t i = 0; i < lib->n; i++)
        if (strcmp(lib->comps[i].name, name) == 0)
            return &lib->comps[i];
    return NULL;
}

const struct library_component *library__find(const struct library *lib, const char *name)
{
    const struct library_component *c = find_exact(lib, name);
    if (c)
        return c;
    char *base = basename_of(name);
    if (base) {
        c = find_exact(lib, base);
        free(base);
        if (c)
            return c;
    }
    if (lib->ns) {
        size_t len = strlen(lib->ns) + strlen(name) + 2;
        char *full = malloc(len);
        if (full) {
            snprintf(full, len, "%s/%s", lib->ns, name);
            c = find_exact(lib, full);
            free(full);
        }
    }
    return c;
}

const char *library__namespace(const struct library *lib)
{
    return lib->ns;
}

const char *library__repository(const struct library *lib)
{
    return lib->repository;
}

const char *library__componentdir(const struct library *lib)
{
    return lib->componentdir;
}

/* ---- helpers for the tools ---- */

static int cmp_order(const void *a, const void *b)
{
    return library__js_order_cmp(a, b);
}

size_t *library__process_order(const struct graph *g)
{
    size_t n = g->n_processes;
    if (!n)
        return NULL;
    struct library_js_order *e = calloc(n, sizeof(*e));
    size_t *order = malloc(n * sizeof(*order));
    if (!e || !order) {
        free(e);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        library__js_order_set(&e[i], g->processes[i].name, i);
    qsort(e, n, sizeof(*e), cmp_order);
    for (size_t i = 0; i < n; i++)
        order[i] = e[i].pos;
    free(e);
    return order;
}

bool library__is_participant(const char *component)
{
    return component && strcmp(component, "msgflo/RoundRobin") != 0 &&
           strcmp(component, "msgflo/PubSub") != 0;
}
