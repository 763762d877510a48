/* The coordinator's components: the library's merged with the discovered
 * participants' definitions, their sources, and new components from source.
 * See coordinator_internal.h and msgflo-original.md 3.5. */
#include "coord/coordinator_internal.h"

#include "core/file.h"
#include "core/log.h"
#include "msgflo/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS COORD_NS

/* The original's language <-> extension map. */
static const struct {
    const char *language, *ext;
} extensions[] = {
    {"python", "py"},     {"coffeescript", "coffee"},
    {"javascript", "js"}, {"c++", "cpp"},
    {"rust", "rs"},       {"yaml", "yml"},
};

/* The definition of a component from a discovery payload: without the
 * instance's id, role, extra and port queues (as the original's library). */
static json_t *definition_of(const json_t *payload)
{
    json_t *d = json_deep_copy(payload);
    if (!d)
        return NULL;
    json_object_del(d, "id");
    json_object_del(d, "role");
    json_object_del(d, "extra");
    static const char *const kinds[] = {"inports", "outports"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(d, kinds[k]), i, p)
        {
            json_object_del(p, "queue");
        }
    }
    return d;
}

static bool same_ports(const json_t *ports, const json_t *def);

/* Whether the members of object `a` but those named in skip are those of
 * object `b`; at the top (a payload against a definition) the port lists
 * are compared without their queues. */
static bool same_members(const json_t *a, const json_t *b, const char *const *skip, bool top)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        bool skipped = false;
        for (size_t i = 0; skip[i] && !skipped; i++)
            skipped = strcmp(k, skip[i]) == 0;
        if (skipped)
            continue;
        const json_t *w = json_object_get(b, k);
        bool ports = top && (strcmp(k, "inports") == 0 || strcmp(k, "outports") == 0);
        if (!w || !(ports ? same_ports(v, w) : json_equal(v, w)))
            return false;
        n++;
    }
    return n == json_object_size(b);
}

/* A port list of a payload against a definition's (whose objects have no queue). */
static bool same_ports(const json_t *ports, const json_t *def)
{
    static const char *const skip[] = {"queue", NULL};
    if (!json_is_array(ports) || !json_is_array(def))
        return json_equal(ports, def);
    if (json_array_size(ports) != json_array_size(def))
        return false;
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const json_t *d = json_array_get(def, i);
        if (json_is_object(p) ? !json_is_object(d) || !same_members(p, d, skip, false)
                              : !json_equal(p, d))
            return false;
    }
    return true;
}

bool coordinator_components__update(struct coordinator *c, const json_t *payload)
{
    static const char *const instance[] = {"id", "role", "extra", NULL};
    const char *name = json_string_value(json_object_get(payload, "component"));
    if (!name)
        return false;
    /* Most discoveries re-announce a known definition: compared in place. */
    json_t *old = json_object_get(c->components, name);
    if (old && same_members(payload, old, instance, true))
        return false;
    json_t *d = definition_of(payload);
    if (!d)
        return false;
    json_object_set_new(c->components, name, d);
    return true;
}

static json_t *ports_of(const json_t *def, const char *key)
{
    json_t *p = json_object_get(def, key);
    return json_is_array(p) ? json_deep_copy(p) : json_array();
}

static json_t *component_entry(const char *name, const json_t *def)
{
    json_t *o = json_pack("{s:s, s:o, s:o}", "name", name, "inports", ports_of(def, "inports"),
                          "outports", ports_of(def, "outports"));
    const json_t *label = json_object_get(def, "label");
    const json_t *icon = json_object_get(def, "icon");
    if (o && json_is_string(label))
        json_object_set(o, "description", (json_t *)label);
    if (o && json_is_string(icon))
        json_object_set(o, "icon", (json_t *)icon);
    return o;
}

/* A discovered definition for library component lc (a new reference, or
 * NULL): of a running node of that component, else of a discovered component
 * whose name library__find maps to it (then its name is marked in `used`). */
static json_t *discovered_for(struct coordinator *c, const struct library_component *lc,
                              json_t *used)
{
    for (struct node *n = c->nodes; n; n = n->next) {
        const json_t *payload = registry__role(c->reg, n->role);
        if (n->in_graph && payload && library__find(c->lib, n->component) == lc)
            return definition_of(payload);
    }
    const char *dname;
    json_t *def;
    json_object_foreach(c->components, dname, def)
    {
        if (library__find(c->lib, dname) == lc) {
            if (used)
                json_object_set_new(used, dname, json_true());
            return json_incref(def);
        }
    }
    return NULL;
}

json_t *coordinator__components(void *sys)
{
    struct coordinator *c = sys;
    json_t *out = json_array();
    json_t *used = json_object();
    for (size_t i = 0; out && used && i < library__count(c->lib); i++) {
        const struct library_component *lc = library__get(c->lib, i);
        json_t *found = discovered_for(c, lc, used);
        json_array_append_new(out, component_entry(lc->name, found));
        json_decref(found);
    }
    const char *dname;
    json_t *def;
    json_object_foreach(c->components, dname, def)
    {
        if (!json_object_get(used, dname) && !library__find(c->lib, dname))
            json_array_append_new(out, component_entry(dname, def));
    }
    json_decref(used);
    return out;
}

/* {name, library?, language, code}: "ns/Name" gives library "ns", name "Name". */
static json_t *source_entry(const char *name, const char *language, const char *code, size_t len)
{
    const char *slash = strrchr(name, '/');
    json_t *o = json_object();
    json_t *text = json_stringn(code, len);
    if (!o || !text) {
        json_decref(o);
        json_decref(text);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(slash ? slash + 1 : name));
    if (slash)
        json_object_set_new(o, "library", json_stringn(name, (size_t)(slash - name)));
    json_object_set_new(o, "language", json_string(language));
    json_object_set_new(o, "code", text);
    return o;
}

json_t *coordinator__component_source(void *sys, const char *name, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (!name || !*name) {
        coordinator__failure(err, errlen, MSGFLO_EINVAL, "no component name");
        return NULL;
    }
    const struct library_component *lc = library__find(c->lib, name);
    if (lc && lc->filename && lc->language) {
        char *text = NULL;
        size_t len = 0;
        if (file__read(lc->filename, &text, &len, err, errlen) != 0)
            return NULL;
        json_t *o = source_entry(lc->name, lc->language, text ? text : "", len);
        free(text);
        if (!o)
            coordinator__failure(err, errlen, MSGFLO_EINVAL, "%s: not UTF-8 text", lc->filename);
        return o;
    }
    /* a discovered definition, by its name or for the library component */
    json_t *def = json_incref(json_object_get(c->components, name));
    if (!def && lc)
        def = discovered_for(c, lc, NULL);
    if (!def) {
        coordinator__failure(err, errlen, MSGFLO_ENOPORT,
                             lc ? "component %s has no source file and was not discovered"
                                : "no component named %s",
                             name);
        return NULL;
    }
    char *code = json_dumps(def, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(def);
    json_t *o = code ? source_entry(lc ? lc->name : name, "discovery", code, strlen(code)) : NULL;
    free(code);
    if (!o)
        coordinator__failure(err, errlen, MSGFLO_ENOMEM, "out of memory");
    return o;
}

static int write_file(const char *path, const char *code, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* Never through a symlink planted at the temporary name. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return coordinator__failure(err, errlen, MSGFLO_ESYS, "%s: %s", tmp, strerror(e));
    }
    size_t len = strlen(code);
    bool ok = fwrite(code, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return coordinator__failure(err, errlen, MSGFLO_ESYS, "%s: %s", path, strerror(e));
    }
    return 0;
}

/* Writes <componentdir>/<basename>.<ext> and reloads the library, so the
 * component gets its handler's command (the library re-scans the directory
 * with its configuration). */
int coordinator__set_component_source(void *sys, const char *name, const char *language,
                                      const char *code, char *err, size_t errlen)
{
    struct coordinator *c = sys;
    if (!c->allow_component_write)
        return coordinator__failure(err, errlen, MSGFLO_ESTATE,
                                    "writing component files is not enabled on this runtime "
                                    "(msgflo --allow-component-write)");
    if (!name || !*name || !language || !code)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "a component needs a name, language and code");
    int rc = library__check_component_name(name, err, errlen);
    if (rc)
        return rc;
    const char *ext = NULL;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        if (strcmp(extensions[i].language, language) == 0)
            ext = extensions[i].ext;
    }
    if (!ext)
        return coordinator__failure(err, errlen, MSGFLO_EINVAL,
                                    "no file extension for language '%s'", language);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dir = library__componentdir(c->lib);
    char path[4096];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return coordinator__failure(err, errlen, MSGFLO_ESYS, "%s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/%s.%s", dir, base, ext);
    rc = write_file(path, code, err, errlen);
    if (rc)
        return rc;
    struct library *lib = NULL;
    rc = library__load(c->library_path, dir, &lib, err, errlen);
    if (rc)
        return rc;
    if (c->own_lib)
        library__free(c->lib);
    c->lib = lib;
    c->own_lib = true;
    c->components_dirty = true;
    coordinator__schedule(c);
    LOG_INFO(NS, "component %s stored in %s", name, path);
    return 0;
}
