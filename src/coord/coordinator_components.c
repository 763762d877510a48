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

/* --- records -------------------------------------------------------------------- */

static struct coord_component *find(const struct coordinator *c, const char *name)
{
    struct coord_component *k;
    HASH_FIND_STR(c->comps, name, k);
    return k;
}

static struct coord_component *get(struct coordinator *c, const char *name)
{
    struct coord_component *k = find(c, name);
    if (k)
        return k;
    size_t len = strlen(name);
    k = calloc(1, sizeof *k + len + 1);
    if (!k)
        return NULL;
    memcpy(k->name, name, len + 1);
    k->lc = library__find(c->lib, name);
    HASH_ADD_KEYPTR(hh, c->comps, k->name, len, k);
    return k;
}

/* The record whose definition lists library component lc (NULL: none). */
static struct lib_pick *pick_find(const struct coordinator *c, const struct library_component *lc)
{
    struct lib_pick *pk;
    HASH_FIND_PTR(c->lib_picks, &lc, pk);
    return pk;
}

/* Library component lc is listed with k's definition. */
static void pick_set(struct coordinator *c, const struct library_component *lc,
                     struct coord_component *k)
{
    struct lib_pick *pk = pick_find(c, lc);
    if (!pk) {
        if (!(pk = calloc(1, sizeof *pk)))
            return; /* out of memory: the library component is listed without ports */
        pk->lc = lc;
        HASH_ADD_PTR(c->lib_picks, lc, pk);
    } else {
        pk->k->picked--;
    }
    pk->k = k;
    k->picked++;
}

static void picks_clear(struct coordinator *c)
{
    struct lib_pick *pk, *tmp;
    HASH_ITER(hh, c->lib_picks, pk, tmp)
    {
        pk->k->picked--;
        HASH_DEL(c->lib_picks, pk);
        free(pk);
    }
}

static void mark(struct coordinator *c, struct coord_component *k)
{
    if (k->dirty)
        return;
    k->dirty = true;
    DL_APPEND2(c->dirty_comps, k, dprev, dnext);
    coordinator__schedule(c);
}

static void record_free(struct coordinator *c, struct coord_component *k)
{
    struct lib_pick *pk, *tmp;
    HASH_ITER(hh, c->lib_picks, pk, tmp)
    {
        if (!k->picked)
            break;        /* the usual case: no library component is listed with it */
        if (pk->k == k) { /* the library component: without ports now */
            HASH_DEL(c->lib_picks, pk);
            free(pk);
            k->picked--;
        }
    }
    if (k->dirty)
        DL_DELETE2(c->dirty_comps, k, dprev, dnext);
    HASH_DEL(c->comps, k);
    json_decref(k->def);
    free(k);
}

/* Whether k is still needed: a participant announces it, a node of the graph
 * names it, or the library has it (a library component keeps the ports it
 * was last discovered with). */
static bool needed(const struct coordinator *c, const struct coord_component *k)
{
    return k->lc || k->nodes || registry__component_participants(c->reg, k->name) > 0;
}

/* The library component of the graph's node for role, when its participant
 * announces a component of another name (a node "a(lib/Repeat)" whose process
 * says "Repeat" or "c/Repeat"): the library component is listed with the
 * ports of the participant. NULL when none. */
static const struct library_component *node_component(struct coordinator *c, const char *role,
                                                      const struct coord_component *k)
{
    const struct node *n = role ? coordinator_graph__node(c, role) : NULL;
    if (!n || !n->in_graph || !n->component || strcmp(n->component, k->name) == 0)
        return NULL;
    const struct library_component *lc = library__find(c->lib, n->component);
    return lc != k->lc ? lc : NULL;
}

/* lc is listed with k's definition from now on; told on the next flush. */
static void pick_for_node(struct coordinator *c, const struct library_component *lc,
                          struct coord_component *k)
{
    struct lib_pick *pk = pick_find(c, lc);
    struct coord_component *own = get(c, lc->name); /* has lc: kept, told as lc */
    if (!own || (pk && pk->k == k && !k->changed))
        return;
    pick_set(c, lc, k);
    own->changed = true;
    mark(c, own);
}

bool coordinator_components__update(struct coordinator *c, const json_t *payload, unsigned changes)
{
    static const char *const instance[] = {"id", "role", "extra", NULL};
    const char *name = json_string_value(json_object_get(payload, "component"));
    const char *role = json_string_value(json_object_get(payload, "role"));
    if (!name)
        return false;
    struct coord_component *k = find(c, name);
    /* A participant announcing what it announced before changes nothing. */
    if (k && k->def && !(changes & (REGISTRY_CHANGED | REGISTRY_NEW_INSTANCE)))
        return false;
    /* Most discoveries re-announce a known definition: compared in place. */
    bool same = k && k->def && same_members(payload, k->def, instance, true);
    if (!same) {
        json_t *d = definition_of(payload);
        if (!d || (!k && !(k = get(c, name)))) {
            json_decref(d);
            return false;
        }
        json_decref(k->def);
        k->def = d;
        k->changed = true;
        mark(c, k);
        if (k->lc)
            pick_set(c, k->lc, k);
    }
    const struct library_component *lc = node_component(c, role, k);
    if (lc)
        pick_for_node(c, lc, k);
    return !same;
}

void coordinator_components__gone(const char *component, void *ud)
{
    struct coordinator *c = ud;
    struct coord_component *k = find(c, component);
    if (k)
        mark(c, k); /* the flush forgets it unless it is still needed */
}

void coordinator_components__use(struct coordinator *c, const char *component, int delta)
{
    struct coord_component *k = delta > 0 ? get(c, component) : find(c, component);
    if (!k)
        return;
    if (delta > 0) {
        k->nodes++;
    } else if (k->nodes > 0 && --k->nodes == 0) {
        mark(c, k);
    }
}

/* The listed name of record k: its library component's, else its own. */
static const char *listed_name(const struct coord_component *k)
{
    return k->lc ? k->lc->name : k->name;
}

void coordinator_components__flush(struct coordinator *c)
{
    json_t *told = NULL; /* library components told of in this flush */
    while (c->dirty_comps) {
        struct coord_component *k = c->dirty_comps;
        DL_DELETE2(c->dirty_comps, k, dprev, dnext);
        k->dirty = false;
        bool forget = !needed(c, k), lib = k->lc != NULL;
        /* told when its listing changed: a new definition, or no longer listed */
        char *name = (k->def || k->lc) && (k->changed || forget) ? strdup(listed_name(k)) : NULL;
        k->changed = false;
        if (forget) {
            LOG_DEBUG(NS, "component %s forgotten", k->name);
            record_free(c, k); /* before the event: component() no longer lists it */
        }
        if (!name || c->closing || !c->sys.events.component_changed) {
            free(name);
            continue;
        }
        if (lib) { /* several names may list one library component: once per flush */
            if (!told)
                told = json_object();
            bool seen = json_object_get(told, name) != NULL;
            json_object_set_new(told, name, json_true());
            if (seen) {
                free(name);
                continue;
            }
        }
        c->sys.events.component_changed(c->sys.ud, name);
        free(name);
    }
    json_decref(told);
}

/* After the library changed: each record's library component again, the
 * records no longer needed forgotten. */
static void relink(struct coordinator *c)
{
    picks_clear(c);
    struct coord_component *k, *tmp;
    HASH_ITER(hh, c->comps, k, tmp)
    {
        k->lc = library__find(c->lib, k->name);
        if (!needed(c, k))
            record_free(c, k);
        else if (k->lc && k->def && !pick_find(c, k->lc))
            pick_set(c, k->lc, k);
    }
}

void coordinator_components__clear(struct coordinator *c)
{
    picks_clear(c);
    struct coord_component *k, *tmp;
    HASH_ITER(hh, c->comps, k, tmp)
    {
        record_free(c, k);
    }
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

/* The discovered definition listed for library component lc (borrowed, or
 * NULL): of the component mapping to it (library__find) that changed last. */
static const json_t *discovered_for(const struct coordinator *c, const struct library_component *lc)
{
    const struct lib_pick *pk = pick_find(c, lc);
    return pk ? pk->k->def : NULL;
}

json_t *coordinator__components(void *sys)
{
    struct coordinator *c = sys;
    json_t *out = json_array();
    for (size_t i = 0; out && i < library__count(c->lib); i++) {
        const struct library_component *lc = library__get(c->lib, i);
        json_array_append_new(out, component_entry(lc->name, discovered_for(c, lc)));
    }
    const struct coord_component *k;
    for (k = c->comps; out && k; k = k->hh.next) {
        if (k->def && !k->lc)
            json_array_append_new(out, component_entry(k->name, k->def));
    }
    return out;
}

json_t *coordinator__component(void *sys, const char *name)
{
    struct coordinator *c = sys;
    const struct coord_component *k = find(c, name);
    if (k && k->def && !k->lc)
        return component_entry(k->name, k->def);
    const struct library_component *lc = library__find(c->lib, name);
    if (lc && strcmp(lc->name, name) == 0)
        return component_entry(lc->name, discovered_for(c, lc));
    return NULL;
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
    const struct coord_component *k = find(c, name);
    json_t *def = json_incref(k && k->def ? k->def : lc ? (json_t *)discovered_for(c, lc) : NULL);
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
    relink(c);
    c->components_dirty = true;
    coordinator__schedule(c);
    LOG_INFO(NS, "component %s stored in %s", name, path);
    return 0;
}
