/* Foreign participant definitions: the rules msgflo-register applies to a
 * YAML definition (component required, role, id defaulting to the role, ports
 * as a map or a list, #ROLE in queues) and the discovery message. Names
 * (component, role, id, port ids, queues) are the YAML text as written, so
 * `queue: 1234` is the topic "1234". */
#include "foreign/foreign.h"
#include "core/file.h"

#include "discovery/discovery.h"
#include "yaml/yaml_reader.h"
#include "core/log.h"
#include "msgflo/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:foreign"

/* --- the definition -------------------------------------------------------------- */

/* A name (component, role, id, queue) is the scalar's text as written;
 * *out is NULL when it is absent, null or empty. */
static int name_of(struct yreader *r, const struct ynode *n, const char *what, const char **out)
{
    *out = NULL;
    if (!n || yaml_reader__is_null(n))
        return 0;
    if (n->kind != YNODE_SCALAR)
        return yaml_reader__fail_at(r, n->mark, "%s must be a string, not a %s", what,
                                    n->kind == YNODE_MAP ? "mapping" : "list");
    if (strlen(n->text) != n->len)
        return yaml_reader__fail_at(r, n->mark, "%s contains a NUL character", what);
    if (n->len > 0)
        *out = n->text;
    return 0;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    json_t *s = json_string(value);
    if (!s)
        return MSGFLO_EINVAL; /* not UTF-8: libyaml never gives us that */
    return json_object_set_new(obj, key, s) == 0 ? 0 : MSGFLO_ENOMEM;
}

/* Returns `s` with every "#ROLE" replaced by role (owned), or NULL. */
static char *replace_role(const char *s, const char *role)
{
    static const char marker[] = "#ROLE";
    size_t mlen = sizeof marker - 1, rlen = strlen(role), count = 0;
    for (const char *p = strstr(s, marker); p; p = strstr(p + mlen, marker))
        count++;
    size_t len = strlen(s) + count * rlen + 1; /* rlen >= 0, marker removed: an upper bound */
    char *out = malloc(len);
    if (!out)
        return NULL;
    char *w = out;
    for (const char *p = s;;) {
        const char *m = strstr(p, marker);
        size_t n = m ? (size_t)(m - p) : strlen(p);
        memcpy(w, p, n);
        w += n;
        if (!m)
            break;
        memcpy(w, role, rlen);
        w += rlen;
        p = m + mlen;
    }
    *w = '\0';
    return out;
}

/* One port: its JSON with `id` and the role's `queue` set. */
static int port_json(struct yreader *r, const struct ynode *def, yaml_mark_t where,
                     const char *kind, const char *id, const char *role, json_t *ports)
{
    int rc;
    const char *queue = NULL;
    json_t *port = NULL;
    char *resolved = NULL;
    if (!def || yaml_reader__is_null(def))
        return yaml_reader__fail_at(r, where, "port '%s' of %s has no queue", id, kind);
    if (def->kind != YNODE_MAP)
        return yaml_reader__fail_at(
            r, def->mark, "port '%s' of %s must be a mapping (queue, type, ...)", id, kind);
    if ((rc = name_of(r, yaml_reader__get(def, "queue"), "queue", &queue)) != 0)
        return rc;
    if (!queue)
        return yaml_reader__fail_at(r, where, "port '%s' of %s has no queue", id, kind);
    if ((rc = yaml_reader__to_json(r, def, &port)) != 0)
        return rc;
    resolved = replace_role(queue, role);
    if (!resolved) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    if ((rc = set_string(port, "id", id)) != 0 || (rc = set_string(port, "queue", resolved)) != 0)
        goto out;
    rc = json_array_append(ports, port) == 0 ? 0 : MSGFLO_ENOMEM;
out:
    free(resolved);
    json_decref(port);
    return rc;
}

/* inports/outports: a map keyed by port id (the original's format) or a list
 * of ports with an `id` (the original would number them "0", "1", ...). */
static int ports_json(struct yreader *r, const struct ynode *root, const char *kind,
                      const char *role, json_t *payload)
{
    int rc = 0;
    const struct ynode *n = yaml_reader__get(root, kind);
    json_t *ports = json_array();
    if (!ports)
        return MSGFLO_ENOMEM;
    if (!n || yaml_reader__is_null(n)) {
        /* no ports */
    } else if (n->kind == YNODE_MAP) {
        struct yentry *items = NULL;
        size_t count = 0;
        rc = yaml_reader__entries(r, n, &items, &count);
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = port_json(r, items[i].value, items[i].key_node->mark, kind, items[i].key, role,
                           ports);
        yaml_reader__entries_free(items, count);
    } else if (n->kind == YNODE_SEQ) {
        for (size_t i = 0; i < n->n && rc == 0; i++) {
            const struct ynode *item = n->items[i];
            const char *id = NULL;
            if (item->kind != YNODE_MAP) {
                rc = yaml_reader__fail_at(
                    r, item->mark, "%s[%zu] must be a mapping (id, queue, type, ...)", kind, i);
                break;
            }
            if ((rc = name_of(r, yaml_reader__get(item, "id"), "id", &id)) != 0)
                break;
            if (!id) {
                rc = yaml_reader__fail_at(r, item->mark, "%s[%zu] has no id", kind, i);
                break;
            }
            rc = port_json(r, item, item->mark, kind, id, role, ports);
        }
    } else {
        rc = yaml_reader__fail_at(r, n->mark,
                                  "%s must be a mapping of ports by id, or a list of ports", kind);
    }
    if (rc == 0 && json_object_set(payload, kind, ports) != 0)
        rc = MSGFLO_ENOMEM;
    json_decref(ports);
    return rc;
}

static int definition_json(struct yreader *r, const struct ynode *root, const char *role,
                           json_t **out)
{
    int rc;
    const char *component, *yaml_role, *id;
    json_t *payload = NULL;
    if (root->kind != YNODE_MAP)
        return yaml_reader__fail_at(r, root->mark,
                                    "a definition must be a mapping (component, inports, ...), "
                                    "not a %s",
                                    root->kind == YNODE_SEQ ? "list" : "scalar");
    if ((rc = name_of(r, yaml_reader__get(root, "component"), "component", &component)) != 0 ||
        (rc = name_of(r, yaml_reader__get(root, "role"), "role", &yaml_role)) != 0 ||
        (rc = name_of(r, yaml_reader__get(root, "id"), "id", &id)) != 0)
        return rc;
    if (!component)
        return yaml_reader__fail(r, "component is not defined");
    if (!role)
        role = yaml_role;
    if (!role) {
        char msg[300];
        snprintf(msg, sizeof msg, "role is not defined for component %.200s", component);
        return yaml_reader__fail(r, msg);
    }
    if ((rc = yaml_reader__to_json(r, root, &payload)) != 0)
        return rc;
    /* Keys in the order the original sets them: existing ones keep their place. */
    if ((rc = set_string(payload, "component", component)) != 0 ||
        (rc = set_string(payload, "role", role)) != 0 ||
        (rc = set_string(payload, "id", id ? id : role)) != 0 ||
        (rc = ports_json(r, root, "inports", role, payload)) != 0 ||
        (rc = ports_json(r, root, "outports", role, payload)) != 0) {
        json_decref(payload);
        return rc;
    }
    *out = payload;
    return 0;
}

/* A definition must make a message every coordinator accepts (discovery
 * protocol 1.0: a label is a string, not a mapping; limits on names and
 * ports). On failure *payload is released and the error names the field. */
static int check_discovery(struct yreader *r, json_t **payload)
{
    char *msg = foreign__message(*payload);
    json_t *back = NULL;
    char why[256];
    int rc = msg ? discovery__parse(msg, strlen(msg), &back, why, sizeof why) : MSGFLO_ENOMEM;
    free(msg);
    json_decref(back);
    if (rc == 0)
        return 0;
    json_decref(*payload);
    *payload = NULL;
    if (rc == MSGFLO_ENOMEM)
        return yaml_reader__fail(r, "out of memory");
    const char *field = strstr(why, "): ");
    char line[320];
    snprintf(line, sizeof line, "not a valid discovery message: %s", field ? field + 3 : why);
    return yaml_reader__fail(r, line);
}

int foreign__parse(const char *text, size_t len, const char *filename, const char *role,
                   json_t **payload, char *errbuf, size_t errlen)
{
    int rc;
    struct yreader r;
    struct ynode *root = NULL;
    *payload = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!filename)
        filename = "definition";
    if (role && !*role)
        role = NULL;
    rc = yaml_reader__read(&r, text, len, filename, errbuf, errlen, &root);
    if (rc)
        goto out;
    if (!root || yaml_reader__is_null(root)) {
        rc = yaml_reader__fail(&r, "no definition found");
        goto out;
    }
    rc = definition_json(&r, root, role, payload);
    if (rc == 0)
        rc = check_discovery(&r, payload);
    if (rc == 0)
        LOG_DEBUG(NS, "%s: definition of %s", r.filename,
                  json_string_value(json_object_get(*payload, "id")));
out:
    yaml_reader__free(&r);
    return rc;
}

int foreign__load(const char *path, const char *role, json_t **payload, char *errbuf, size_t errlen)
{
    char *text;
    size_t len;
    *payload = NULL;
    int rc = file__read(path, &text, &len, errbuf, errlen);
    if (rc)
        return rc;
    rc = foreign__parse(text ? text : "", len, path, role, payload, errbuf, errlen);
    free(text);
    return rc;
}

/* The fewest significant digits (1..17) that print every real of `v` so it
 * reads back the same: 0.1 as "0.1", as JSON.stringify does. */
static int real_precision(const json_t *v)
{
    int best = 1;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        char buf[64];
        for (best = 1; best < 17; best++) {
            snprintf(buf, sizeof buf, "%.*g", best, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int p = real_precision(json_array_get(v, i));
            best = p > best ? p : best;
        }
    } else if (json_is_object(v)) {
        const char *key;
        const json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            int p = real_precision(item);
            best = p > best ? p : best;
        }
    }
    return best;
}

char *foreign__message(const json_t *payload)
{
    json_t *msg = json_object();
    if (!msg)
        return NULL;
    char *text = NULL;
    if (set_string(msg, "protocol", "discovery") == 0 &&
        set_string(msg, "command", "participant") == 0 &&
        json_object_set(msg, "payload", (json_t *)payload) == 0)
        text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(real_precision(payload)));
    json_decref(msg);
    return text;
}
