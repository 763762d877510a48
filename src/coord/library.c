/* The component library: see library.h and docs/component-library.md.
 * Follows msgflo's src/library.coffee (0.12.3) step by step; the comments
 * name the original's functions. */
#include "coord/library.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "graph/strbuf.h"

#define NS "msgflo:library"

struct library {
    struct library_component *comps;
    size_t n, cap;
    char *ns;           /* NULL when none (or "") */
    char *repository;   /* NULL when none */
    char *componentdir; /* as given, or the default */
};

/* A variable: marker name (as in the configuration) and its text. */
struct var {
    const char *name;
    char *value; /* owned */
};

struct vars {
    struct var *v;
    size_t n, cap;
};

/* The configuration, normalized (normalizeConfig). Strings are borrowed
 * from the JSON document. */
struct config {
    const char *name;   /* for messages */
    const char *prefix; /* "" or "msgflo." */
    const json_t *cfg;  /* the object holding the library settings */
    const json_t *components;
    const json_t *handlers;
    struct vars vars;
};

static const struct {
    const char *ext;
    const char *command;
} default_handlers[] = {
    {".yml", "msgflo-register --role #ROLE:#FILENAME"},
    {".js", "msgflo-nodejs --name #ROLE #FILENAME"},
    {".coffee", "msgflo-nodejs --name #ROLE #FILENAME"},
    {".py", "msgflo-python #FILENAME #ROLE"},
    {".json", "noflo-runtime-msgflo --name #ROLE --graph #COMPONENT --iips #IIPS"},
    {".fbp", "noflo-runtime-msgflo --name #ROLE --graph #COMPONENT --iips #IIPS"},
};

/* Our addition: an executable file whose extension has no handler. */
static const char executable_handler[] = "#FILENAME #ROLE";

static const struct {
    const char *ext;
    const char *language;
} languages[] = {
    {".py", "python"},     {".coffee", "coffeescript"},
    {".js", "javascript"}, {".cpp", "c++"},
    {".rs", "rust"},       {".yml", "yaml"},
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- text ---- */

int library__replace_marker(const char *text, const char *name, const char *value, char **out)
{
    struct strbuf sb;
    size_t mlen = strlen(name) + 1;
    char *marker = malloc(mlen + 1);
    if (!marker)
        return MSGFLO_ENOMEM;
    marker[0] = '#';
    memcpy(marker + 1, name, mlen);
    strbuf__init(&sb);
    strbuf__puts(&sb, ""); /* an empty result is "" too, not NULL */
    const char *p = text, *hit;
    while ((hit = strstr(p, marker)) != NULL) {
        strbuf__append(&sb, p, (size_t)(hit - p));
        strbuf__puts(&sb, value);
        p = hit + mlen;
    }
    strbuf__puts(&sb, p);
    free(marker);
    *out = strbuf__steal(&sb);
    return *out ? 0 : MSGFLO_ENOMEM;
}

/* Replaces #NAME (upper-cased) by value in *text (owned; replaced). */
static int replace_in(char **text, const char *name, const char *value)
{
    size_t n = strlen(name);
    char *upper = malloc(n + 1);
    if (!upper)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i <= n; i++)
        upper[i] = (name[i] >= 'a' && name[i] <= 'z') ? (char)(name[i] - 'a' + 'A') : name[i];
    char *next;
    int rc = library__replace_marker(*text, upper, value, &next);
    free(upper);
    if (rc)
        return rc;
    free(*text);
    *text = next;
    return 0;
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

struct key {
    const char *key;
    const json_t *value;
    bool is_index;
    unsigned long index;
    size_t order;
};

static int cmp_keys(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index && x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
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
        keys[i].order = i;
        keys[i].is_index = index_key(k, &keys[i].index);
        i++;
    }
    qsort(keys, i, sizeof(*keys), cmp_keys);
    *out = keys;
    *n = i;
    return 0;
}

/* ---- paths, as Node's path module computes them ---- */

/* path.extname of a file name (no '/'): from the last '.', unless that is
 * the first character or the name is "..". */
static const char *extname(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || strcmp(name, "..") == 0)
        return name + strlen(name);
    return dot;
}

/* path.join(dir, name), normalized (no "." or empty segments, ".." resolved). */
static char *path_join(const char *dir, const char *name)
{
    size_t dlen = strlen(dir), nlen = strlen(name);
    char *joined = malloc(dlen + nlen + 2);
    if (!joined)
        return NULL;
    memcpy(joined, dir, dlen);
    size_t len = dlen;
    if (dlen && nlen)
        joined[len++] = '/';
    memcpy(joined + len, name, nlen + 1);

    bool absolute = joined[0] == '/';
    char *out = malloc(strlen(joined) + 3);
    if (!out) {
        free(joined);
        return NULL;
    }
    size_t o = 0;
    if (absolute)
        out[o++] = '/';
    size_t base = o; /* out[base..o) is the relative part */
    char *save = NULL;
    for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            /* drop the last segment unless it is ".." itself */
            size_t start = o;
            while (start > base && out[start - 1] != '/')
                start--;
            bool last_is_dotdot = o - start == 2 && out[start] == '.' && out[start + 1] == '.';
            if (o > base && !last_is_dotdot) {
                o = start > base ? start - 1 : base;
                continue;
            }
            if (absolute)
                continue; /* "/.." is "/" */
        }
        if (o > base)
            out[o++] = '/';
        size_t sl = strlen(seg);
        memcpy(out + o, seg, sl);
        o += sl;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    free(joined);
    return out;
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

/* ---- configuration (normalizeConfig) ---- */

static void vars_free(struct vars *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i].value);
    free(vs->v);
    memset(vs, 0, sizeof(*vs));
}

/* Sets name to value (copied), in place when name is there (as a JavaScript
 * object keeps a key's position), else at the end. */
static int vars_set(struct vars *vs, const char *name, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < vs->n; i++) {
        if (strcmp(vs->v[i].name, name) == 0) {
            free(vs->v[i].value);
            vs->v[i].value = copy;
            return 0;
        }
    }
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 8;
        struct var *bigger = realloc(vs->v, cap * sizeof(*bigger));
        if (!bigger) {
            free(copy);
            return MSGFLO_ENOMEM;
        }
        vs->v = bigger;
        vs->cap = cap;
    }
    vs->v[vs->n].name = name;
    vs->v[vs->n].value = copy;
    vs->n++;
    return 0;
}

static int vars_copy(const struct vars *from, struct vars *to)
{
    memset(to, 0, sizeof(*to));
    for (size_t i = 0; i < from->n; i++) {
        int rc = vars_set(to, from->v[i].name, from->v[i].value);
        if (rc) {
            vars_free(to);
            return rc;
        }
    }
    return 0;
}

/* A settings object: NULL when absent or null; MSGFLO_EINVAL when not an
 * object. */
static int get_object(struct config *c, const char *key, const json_t **out, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(c->cfg, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        set_err(err, errlen, "%s: %s%s: expected an object", c->name, c->prefix, key);
        return MSGFLO_EINVAL;
    }
    *out = v;
    return 0;
}

/* Every value of obj (may be NULL) a string without NUL characters. */
static int check_strings(struct config *c, const char *key, const json_t *obj, const char *what,
                         char *err, size_t errlen)
{
    const char *k;
    const json_t *v;
    if (!obj)
        return 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            set_err(err, errlen, "%s: %s%s.%s: expected a string (%s)", c->name, c->prefix, key, k,
                    what);
            return MSGFLO_EINVAL;
        }
    }
    return 0;
}

static void config_free(struct config *c)
{
    vars_free(&c->vars);
}

static int read_config(const json_t *doc, struct config *c, struct library *lib, char *err,
                       size_t errlen)
{
    int rc;
    c->prefix = "";
    if (!doc || json_is_null(doc)) {
        c->cfg = NULL;
        return 0;
    }
    if (!json_is_object(doc)) {
        set_err(err, errlen, "%s: expected a JSON object", c->name);
        return MSGFLO_EINVAL;
    }

    /* namespace defaults to the package name; repository from package.json's
     * repository.url or a repository string */
    const json_t *name = json_object_get(doc, "name");
    if (name && !json_is_null(name) && !json_is_string(name)) {
        set_err(err, errlen, "%s: name: expected a string", c->name);
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
            set_err(err, errlen, "%s: msgflo: expected an object", c->name);
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
            set_err(err, errlen, "%s: %snamespace: expected a string", c->name, c->prefix);
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
                rc = vars_set(&c->vars, keys[i].key, json_string_value(v));
            } else if (json_is_number(v) || json_is_boolean(v)) {
                /* as JavaScript's String(value) */
                char *text;
                rc = graph_json__dump(v, 0, &text);
                if (rc == 0) {
                    rc = vars_set(&c->vars, keys[i].key, text);
                    free(text);
                }
            } else {
                set_err(err, errlen, "%s: %svariables.%s: expected a string", c->name, c->prefix,
                        keys[i].key);
                rc = MSGFLO_EINVAL;
            }
        }
        free(keys);
        if (rc)
            return rc;
    }
    return 0;
}

/* The handler template for an extension: the configuration's unless empty,
 * else the default; NULL when none. */
static const char *handler_for(const struct config *c, const char *ext)
{
    const char *h = json_string_value(json_object_get(c->handlers, ext));
    if (h && *h)
        return h;
    for (size_t i = 0; i < sizeof(default_handlers) / sizeof(default_handlers[0]); i++)
        if (strcmp(default_handlers[i].ext, ext) == 0)
            return default_handlers[i].command;
    /* a configured "" for an extension without a default: a component with
     * no command, as in the original */
    return h;
}

static const char *language_for(const char *ext)
{
    for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
        if (strcmp(languages[i].ext, ext) == 0)
            return languages[i].language;
    return NULL;
}

/* ---- components ---- */

/* baseComponentCommand: the template with the variables, #FILENAME (when
 * filename), #COMPONENTNAME and #COMPONENT replaced, in the original's
 * order. */
static int base_command(const struct config *c, const char *component, const char *tmpl,
                        const char *filename, char **out)
{
    struct vars vs;
    int rc = vars_copy(&c->vars, &vs);
    if (rc)
        return rc;
    /* component.split('/')[1], or the whole name when that is empty */
    const char *slash = strchr(component, '/');
    char *cname = NULL;
    if (slash && slash[1] && slash[1] != '/') {
        const char *end = strchr(slash + 1, '/');
        size_t len = end ? (size_t)(end - slash - 1) : strlen(slash + 1);
        cname = strndup(slash + 1, len);
    } else {
        cname = strdup(component);
    }
    char *text = strdup(tmpl);
    if (!cname || !text)
        rc = MSGFLO_ENOMEM;
    if (rc == 0 && filename)
        rc = vars_set(&vs, "FILENAME", filename);
    if (rc == 0)
        rc = vars_set(&vs, "COMPONENTNAME", cname);
    if (rc == 0)
        rc = vars_set(&vs, "COMPONENT", component);
    for (size_t i = 0; rc == 0 && i < vs.n; i++)
        rc = replace_in(&text, vs.v[i].name, vs.v[i].value);
    free(cname);
    vars_free(&vs);
    if (rc) {
        free(text);
        return rc;
    }
    *out = text;
    return 0;
}

/* Adds a component unless library__find already finds one by that name
 * (the original's _updateComponents keeps the existing one). Takes over
 * command and filename. */
static int add_component(struct library *lib, const char *name, char *command, const char *language,
                         char *filename, const char *source)
{
    const struct library_component *existing = library__find(lib, name);
    if (existing) {
        LOG_WARNING(NS, "component %s from %s ignored: %s is already defined%s%s", name, source,
                    existing->name, existing->filename ? " by " : "",
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
    LOG_DEBUG(NS, "component %s: %s", copy, command);
    return 0;
}

/* A component found in the component directory, before it is added. */
struct pending {
    char *name;
    char *command;
    const char *language;
    char *path;
    const char *file; /* borrowed */
    size_t order;
    bool is_index;
    unsigned long index;
};

static void pending_clear(struct pending *p)
{
    free(p->name);
    free(p->command);
    free(p->path);
    memset(p, 0, sizeof(*p));
}

/* One file of the component directory (componentsFromDirectory) into *p. */
static int file_component(const struct library *lib, const struct config *c, const char *file,
                          const char *tmpl, const char *language, bool executable,
                          struct pending *p)
{
    const char *ext = extname(file);
    size_t blen = (size_t)(ext - file);
    char *base = strndup(file, blen);
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->file = file;
    p->language = language;
    p->path = path_join(lib->componentdir, file);
    if (!base || !p->path) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    if (executable && !strchr(p->path, '/')) {
        /* run it from the directory, not from PATH */
        size_t len = strlen(p->path) + 3;
        char *dotted = malloc(len);
        if (!dotted) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
        snprintf(dotted, len, "./%s", p->path);
        free(p->path);
        p->path = dotted;
    }
    size_t nlen = (lib->ns ? strlen(lib->ns) + 1 : 0) + blen + 1;
    if (!(p->name = malloc(nlen))) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    snprintf(p->name, nlen, "%s%s%s", lib->ns ? lib->ns : "", lib->ns ? "/" : "", base);
    p->is_index = index_key(p->name, &p->index);
    /* componentCommandForFile: #COMPONENT is the base name, without namespace */
    rc = base_command(c, base, tmpl, p->path, &p->command);
out:
    free(base);
    if (rc)
        pending_clear(p);
    return rc;
}

static int cmp_pending(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index && x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names of dir, sorted as Node's fs.readdir returns them. */
static int list_directory(const char *dir, char ***out, size_t *count, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        set_err(err, errlen, "%s: cannot read the component directory: %s", dir, strerror(errno));
        return MSGFLO_ESYS;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **bigger = realloc(names, cap * sizeof(*bigger));
            if (!bigger) {
                rc = MSGFLO_ENOMEM;
                break;
            }
            names = bigger;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = MSGFLO_ENOMEM;
            break;
        }
        n++;
        errno = 0;
    }
    if (rc == 0 && errno) {
        set_err(err, errlen, "%s: cannot read the component directory: %s", dir, strerror(errno));
        rc = MSGFLO_ESYS;
    }
    closedir(d);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *count = n;
    return 0;
}

static struct pending *find_pending(struct pending *ps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0)
            return &ps[i];
    return NULL;
}

static int scan_directory(struct library *lib, const struct config *c, char *err, size_t errlen)
{
    const char *dir = lib->componentdir;
    struct stat st;
    if (stat(dir, &st) != 0) {
        LOG_DEBUG(NS, "no component directory %s", dir);
        return 0; /* fs.exists false: no components */
    }
    char **names = NULL;
    size_t n = 0, np = 0;
    int rc = list_directory(dir, &names, &n, err, errlen);
    if (rc)
        return rc;
    struct pending *ps = calloc(n ? n : 1, sizeof(*ps));
    bool *todo = calloc(n ? n : 1, sizeof(*todo));
    if (!ps || !todo)
        rc = MSGFLO_ENOMEM;

    /* files with a handler (what the original finds), in name order; a later
     * file of the same component replaces an earlier one in its place, as the
     * original's object assignment does */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *ext = extname(names[i]);
        const char *tmpl = handler_for(c, ext);
        struct pending p;
        if (!tmpl) {
            todo[i] = true;
            continue;
        }
        if ((rc = file_component(lib, c, names[i], tmpl, language_for(ext), false, &p)))
            break;
        struct pending *same = find_pending(ps, np, p.name);
        if (same) {
            LOG_WARNING(NS, "%s/%s ignored: %s/%s also defines component %s", dir, same->file, dir,
                        p.file, p.name);
            p.order = same->order;
            pending_clear(same);
            *same = p;
        } else {
            p.order = np;
            ps[np++] = p;
        }
    }
    /* then executables without a handler (our addition), never replacing */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!todo[i])
            continue;
        char *path = path_join(dir, names[i]);
        if (!path) {
            rc = MSGFLO_ENOMEM;
            break;
        }
        bool exec = names[i][0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                    access(path, X_OK) == 0;
        free(path);
        if (!exec) {
            LOG_DEBUG(NS, "%s/%s: no handler for this file", dir, names[i]);
            continue;
        }
        struct pending p;
        if ((rc = file_component(lib, c, names[i], executable_handler, NULL, true, &p)))
            break;
        struct pending *same = find_pending(ps, np, p.name);
        if (same) {
            LOG_WARNING(NS, "%s/%s ignored: %s/%s defines component %s", dir, p.file, dir,
                        same->file, p.name);
            pending_clear(&p);
        } else {
            p.order = np;
            ps[np++] = p;
        }
    }
    /* added in JavaScript key order (the original iterates an object) */
    if (rc == 0 && np)
        qsort(ps, np, sizeof(*ps), cmp_pending);
    for (size_t i = 0; i < np; i++) {
        if (rc == 0) {
            rc = add_component(lib, ps[i].name, ps[i].command, ps[i].language, ps[i].path,
                               lib->componentdir);
            ps[i].command = ps[i].path = NULL;
        }
        pending_clear(&ps[i]);
    }
    free(ps);
    free(todo);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == MSGFLO_ENOMEM)
        set_err(err, errlen, "%s", msgflo_strerror(rc));
    return rc;
}

/* componentsFromConfig */
static int add_configured(struct library *lib, const struct config *c)
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
        rc = base_command(c, keys[i].key, json_string_value(keys[i].value), NULL, &command);
        if (rc == 0)
            rc = add_component(lib, keys[i].key, command, NULL, NULL, c->name);
    }
    free(keys);
    return rc;
}

int library__from_json(const json_t *config, const char *config_name, const char *componentdir,
                       struct library **out, char *err, size_t errlen)
{
    struct config c;
    memset(&c, 0, sizeof(c));
    c.name = config_name ? config_name : "configuration";
    *out = NULL;
    struct library *lib = calloc(1, sizeof(*lib));
    if (!lib) {
        set_err(err, errlen, "%s", msgflo_strerror(MSGFLO_ENOMEM));
        return MSGFLO_ENOMEM;
    }
    lib->componentdir =
        strdup(componentdir && *componentdir ? componentdir : LIBRARY_DEFAULT_COMPONENTDIR);
    int rc = lib->componentdir ? 0 : MSGFLO_ENOMEM;
    if (rc == 0)
        rc = read_config(config, &c, lib, err, errlen);
    if (rc == 0)
        rc = scan_directory(lib, &c, err, errlen);
    if (rc == 0)
        rc = add_configured(lib, &c);
    config_free(&c);
    if (rc) {
        if (rc == MSGFLO_ENOMEM)
            set_err(err, errlen, "%s", msgflo_strerror(rc));
        library__free(lib);
        return rc;
    }
    *out = lib;
    return 0;
}

int library__load(const char *config_path, const char *componentdir, struct library **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    if (!config_path) {
        if (access(LIBRARY_DEFAULT_CONFIG, F_OK) != 0) {
            LOG_DEBUG(NS, "no %s: default handlers only", LIBRARY_DEFAULT_CONFIG);
            return library__from_json(NULL, NULL, componentdir, out, err, errlen);
        }
        config_path = LIBRARY_DEFAULT_CONFIG;
    }
    FILE *f = fopen(config_path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open the library configuration: %s", config_path,
                strerror(errno));
        return MSGFLO_ESYS;
    }
    json_error_t jerr;
    json_t *doc = json_loadf(f, 0, &jerr);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (!doc) {
        if (read_errno) {
            set_err(err, errlen, "%s: cannot read the library configuration: %s", config_path,
                    strerror(read_errno));
            return MSGFLO_ESYS;
        }
        if (jerr.column > 0)
            set_err(err, errlen, "%s:%d:%d: invalid JSON: %s", config_path, jerr.line, jerr.column,
                    jerr.text);
        else
            set_err(err, errlen, "%s:%d: invalid JSON: %s", config_path, jerr.line, jerr.text);
        return MSGFLO_EJSON;
    }
    int rc = library__from_json(doc, config_path, componentdir, out, err, errlen);
    json_decref(doc);
    return rc;
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

size_t library__count(const struct library *lib)
{
    return lib->n;
}

const struct library_component *library__get(const struct library *lib, size_t i)
{
    return i < lib->n ? &lib->comps[i] : NULL;
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

int library__command(const struct library *lib, const char *component, const char *role,
                     const json_t *iips, char **out_cmd, char *err, size_t errlen)
{
    *out_cmd = NULL;
    const struct library_component *c = component ? library__find(lib, component) : NULL;
    if (!c || !*c->command) {
        set_err(err, errlen, "No component %s defined for role %s",
                component ? component : "(none)", role);
        return LIBRARY_ENOCOMMAND;
    }
    char *json = NULL, *quoted = NULL, *cmd = strdup(c->command);
    json_t *empty = NULL;
    int rc = cmd ? 0 : MSGFLO_ENOMEM;
    if (rc == 0 && !iips && !(iips = empty = json_object()))
        rc = MSGFLO_ENOMEM;
    if (rc == 0)
        rc = graph_json__dump(iips, 0, &json);
    if (rc == 0) {
        size_t len = strlen(json) + 3;
        if ((quoted = malloc(len)))
            snprintf(quoted, len, "'%s'", json);
        else
            rc = MSGFLO_ENOMEM;
    }
    if (rc == 0)
        rc = replace_in(&cmd, "ROLE", role);
    if (rc == 0)
        rc = replace_in(&cmd, "IIPS", quoted);
    json_decref(empty);
    free(json);
    free(quoted);
    if (rc) {
        free(cmd);
        set_err(err, errlen, "%s", msgflo_strerror(rc));
        return rc;
    }
    *out_cmd = cmd;
    return 0;
}

struct order_entry {
    size_t pos;
    bool is_index;
    unsigned long index;
};

static int cmp_order(const void *a, const void *b)
{
    const struct order_entry *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index && x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

size_t *library__process_order(const struct graph *g)
{
    size_t n = g->n_processes;
    if (!n)
        return NULL;
    struct order_entry *e = calloc(n, sizeof(*e));
    size_t *order = malloc(n * sizeof(*order));
    if (!e || !order) {
        free(e);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        e[i].pos = i;
        e[i].is_index = index_key(g->processes[i].name, &e[i].index);
    }
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

int library__role_iips(const struct graph *g, const char *role, json_t **out)
{
    json_t *iips = json_object();
    *out = NULL;
    if (!iips)
        return MSGFLO_ENOMEM;
    for (size_t i = 0; i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        if (!c->data || json_is_null(c->data) || !c->tgt.process ||
            strcmp(c->tgt.process, role) != 0)
            continue;
        if (json_object_set(iips, c->tgt.port, c->data)) {
            json_decref(iips);
            return MSGFLO_ENOMEM;
        }
    }
    *out = iips;
    return 0;
}
