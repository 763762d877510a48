/* The component directory of the component library (componentsFromDirectory):
 * which files are components, through the handlers of their extensions (the
 * defaults, merged with the configuration's) or as executables, and their
 * names, languages and commands. See library.h. */
#include "library/library_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

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

/* ---- handlers ---- */

/* The handler template for an extension: the configuration's unless empty,
 * else the default; NULL when none. */
static const char *handler_for(const struct library_config *c, const char *ext)
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

/* A component found in the component directory, before it is added. */
struct pending {
    char *name;
    char *command;
    const char *language;
    char *path;
    const char *file; /* borrowed */
    struct library_js_order order;
};

static void pending_clear(struct pending *p)
{
    free(p->name);
    free(p->command);
    free(p->path);
    memset(p, 0, sizeof(*p));
}

/* One file of the component directory (componentsFromDirectory) into *p. */
static int file_component(const struct library *lib, const struct library_config *c,
                          const char *file, const char *tmpl, const char *language, bool executable,
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
    library__js_order_set(&p->order, p->name, 0);
    /* componentCommandForFile: #COMPONENT is the base name, without namespace */
    rc = library_template__base_command(c, base, tmpl, p->path, &p->command);
out:
    free(base);
    if (rc)
        pending_clear(p);
    return rc;
}

static int cmp_pending(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    return library__js_order_cmp(&x->order, &y->order);
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
        library__set_err(err, errlen, "%s: cannot read the component directory: %s", dir,
                         strerror(errno));
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
        library__set_err(err, errlen, "%s: cannot read the component directory: %s", dir,
                         strerror(errno));
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

int library_scan__directory(struct library *lib, const struct library_config *c, char *err,
                            size_t errlen)
{
    const char *dir = lib->componentdir;
    struct stat st;
    if (stat(dir, &st) != 0) {
        LOG_DEBUG(LIBRARY_NS, "no component directory %s", dir);
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
            LOG_WARNING(LIBRARY_NS, "%s/%s ignored: %s/%s also defines component %s", dir,
                        same->file, dir, p.file, p.name);
            p.order.pos = same->order.pos;
            pending_clear(same);
            *same = p;
        } else {
            p.order.pos = np;
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
            LOG_DEBUG(LIBRARY_NS, "%s/%s: no handler for this file", dir, names[i]);
            continue;
        }
        struct pending p;
        if ((rc = file_component(lib, c, names[i], executable_handler, NULL, true, &p)))
            break;
        struct pending *same = find_pending(ps, np, p.name);
        if (same) {
            LOG_WARNING(LIBRARY_NS, "%s/%s ignored: %s/%s defines component %s", dir, p.file, dir,
                        same->file, p.name);
            pending_clear(&p);
        } else {
            p.order.pos = np;
            ps[np++] = p;
        }
    }
    /* added in JavaScript key order (the original iterates an object) */
    if (rc == 0 && np)
        qsort(ps, np, sizeof(*ps), cmp_pending);
    for (size_t i = 0; i < np; i++) {
        if (rc == 0) {
            rc = library__add_component(lib, ps[i].name, ps[i].command, ps[i].language, ps[i].path,
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
        library__set_err(err, errlen, "%s", msgflo_strerror(rc));
    return rc;
}
