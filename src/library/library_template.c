/* Command templates of the component library: literal replacement of
 * #MARKERs, the configuration's variables, baseComponentCommand, and the
 * #ROLE and #IIPS of library__command. See library.h. */
#include "library/library_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

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

/* ---- variables ---- */

void library_template__vars_free(struct library_vars *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i].value);
    free(vs->v);
    memset(vs, 0, sizeof(*vs));
}

int library_template__vars_set(struct library_vars *vs, const char *name, const char *value)
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
        struct library_var *bigger = realloc(vs->v, cap * sizeof(*bigger));
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

static int vars_copy(const struct library_vars *from, struct library_vars *to)
{
    memset(to, 0, sizeof(*to));
    for (size_t i = 0; i < from->n; i++) {
        int rc = library_template__vars_set(to, from->v[i].name, from->v[i].value);
        if (rc) {
            library_template__vars_free(to);
            return rc;
        }
    }
    return 0;
}

/* ---- commands ---- */

int library_template__base_command(const struct library_config *c, const char *component,
                                   const char *tmpl, const char *filename, char **out)
{
    struct library_vars vs;
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
        rc = library_template__vars_set(&vs, "FILENAME", filename);
    if (rc == 0)
        rc = library_template__vars_set(&vs, "COMPONENTNAME", cname);
    if (rc == 0)
        rc = library_template__vars_set(&vs, "COMPONENT", component);
    for (size_t i = 0; rc == 0 && i < vs.n; i++)
        rc = replace_in(&text, vs.v[i].name, vs.v[i].value);
    free(cname);
    library_template__vars_free(&vs);
    if (rc) {
        free(text);
        return rc;
    }
    *out = text;
    return 0;
}

int library__command(const struct library *lib, const char *component, const char *role,
                     const json_t *iips, char **out_cmd, char *err, size_t errlen)
{
    *out_cmd = NULL;
    const struct library_component *c = component ? library__find(lib, component) : NULL;
    if (!c || !*c->command) {
        library__set_err(err, errlen, "No component %s defined for role %s",
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
        library__set_err(err, errlen, "%s", msgflo_strerror(rc));
        return rc;
    }
    *out_cmd = cmd;
    return 0;
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
