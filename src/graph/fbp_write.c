/* Graph -> .fbp text, laid out as the reference serializer (fbp 1.8.0
 * lib/serialize.js) lays it out: annotations, INPORT=/OUTPORT= lines, a blank
 * line, then one statement per connection, with ports upper-cased unless the
 * graph is case-sensitive. Where the reference loses or corrupts information
 * we do not: each process is declared (with its component) at its own first
 * mention, not only the first process of each component; IIP data is written
 * as JSON text (true, false and null after a tab, where they are not node
 * names); array-port indexes are kept; processes without connections
 * are declared on their own lines; metadata that the language can express
 * (x, y and [a-zA-Z/_0-9] strings) is kept. The result parses back (with the
 * graph's caseSensitive option) to the same graph, groups and connection
 * metadata aside, which the language cannot express. */
#include "graph/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool all_chars(const char *s, bool (*ok)(int))
{
    for (; *s; s++)
        if (!ok((unsigned char)*s))
            return false;
    return true;
}

static bool node_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static bool port_char(int c)
{
    return isalnum(c) || c == '_' || c == '.';
}

static bool component_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '/';
}

static bool meta_char(int c)
{
    return isalnum(c) || c == '_' || c == '/';
}

static bool annotation_key_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static bool annotation_value_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == ' ' || c == '.';
}

static bool valid_start(const char *s)
{
    return isalpha((unsigned char)s[0]) || s[0] == '_';
}

static bool valid_node(const char *s)
{
    return valid_start(s) && all_chars(s, node_char);
}

static bool valid_port(const char *s)
{
    return valid_start(s) && all_chars(s, port_char);
}

struct writer {
    const struct graph *g;
    struct strbuf sb;
    bool *declared; /* per process index */
    struct graph_error *err;
};

static void put_port(struct writer *w, const char *port, int64_t index)
{
    for (const char *c = port; *c; c++)
        strbuf__putc(&w->sb, w->g->case_sensitive ? *c : (char)toupper((unsigned char)*c));
    if (index != GRAPH_NO_INDEX)
        strbuf__printf(&w->sb, "[%lld]", (long long)index);
}

/* x/y as the reference's parseFloat reads them back, with only digits and
 * "e" (no '.', '-' or '+' in metadata): non-negative integral values. */
static bool xy_text(const json_t *v, char out[64])
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(out, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    if (!(d >= 0) || d != floor(d) || !isfinite(d))
        return false;
    char js[40];
    graph_json__number(d, js); /* digits, or d[.ddd]e+x from 1e21 on */
    char *e = strchr(js, 'e');
    if (!e) {
        snprintf(out, 64, "%s", js);
        return true;
    }
    *e = '\0';
    long exp10 = strtol(e + 1, NULL, 10);
    char *dot = strchr(js, '.');
    size_t frac = 0;
    if (dot) {
        frac = strlen(dot + 1);
        memmove(dot, dot + 1, frac + 1);
    }
    snprintf(out, 64, "%se%ld", js, exp10 - (long)frac);
    return true;
}

/* (Comp:k=v,...) with the metadata entries the grammar can carry. */
static void put_component(struct writer *w, const struct graph_process *p)
{
    strbuf__putc(&w->sb, '(');
    strbuf__puts(&w->sb, p->component ? p->component : "");
    const char *key;
    json_t *v, *md = NULL;
    bool first = true;
    if (graph__process_metadata(p, &md))
        w->sb.err = MSGFLO_ENOMEM;
    json_object_foreach(md, key, v)
    {
        bool xy = strcmp(key, "x") == 0 || strcmp(key, "y") == 0;
        char num[64];
        if (!*key || !all_chars(key, meta_char))
            continue;
        if (xy && !xy_text(v, num))
            continue;
        if (!xy && !(json_is_string(v) && all_chars(json_string_value(v), meta_char)))
            continue;
        strbuf__putc(&w->sb, first ? ':' : ',');
        first = false;
        strbuf__printf(&w->sb, "%s=%s", key, xy ? num : json_string_value(v));
    }
    json_decref(md);
    strbuf__putc(&w->sb, ')');
}

static int put_node(struct writer *w, const char *name)
{
    struct graph_process *p = graph__find_process(w->g, name);
    if (!valid_node(name)) {
        graph__error(w->err, "process \"%s\": the name cannot be written in .fbp", name);
        return MSGFLO_EINVAL;
    }
    strbuf__puts(&w->sb, name);
    if (!p)
        return 0;
    size_t i = (size_t)(p - w->g->processes);
    if (w->declared[i])
        return 0;
    w->declared[i] = true;
    if (p->component && !all_chars(p->component, component_char)) {
        graph__error(w->err, "process \"%s\": component \"%s\" cannot be written in .fbp", name,
                     p->component);
        return MSGFLO_EINVAL;
    }
    put_component(w, p);
    return 0;
}

static int check_port(struct writer *w, const char *process, const char *port)
{
    if (valid_port(port))
        return 0;
    graph__error(w->err, "process \"%s\": port \"%s\" cannot be written in .fbp", process, port);
    return MSGFLO_EINVAL;
}

static void put_annotations(struct writer *w)
{
    const json_t *props = w->g->properties;
    const json_t *type = json_object_get(json_object_get(props, "environment"), "type");
    const char *key;
    json_t *v;
    if (json_is_string(type) && all_chars(json_string_value(type), annotation_value_char) &&
        json_string_value(type)[0] && json_string_value(type)[0] != ' ')
        strbuf__printf(&w->sb, "# @runtime %s\n", json_string_value(type));
    json_object_foreach((json_t *)props, key, v)
    {
        const char *s = json_string_value(v);
        /* "runtime" would come back as environment.type */
        if (!s || !*key || strcmp(key, "runtime") == 0 || !all_chars(key, annotation_key_char) ||
            !*s || s[0] == ' ' || !all_chars(s, annotation_value_char))
            continue;
        strbuf__printf(&w->sb, "# @%s %s\n", key, s);
    }
}

static int put_exports(struct writer *w, const struct graph_export *e, size_t n, const char *kw)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_node(e[i].process) || !valid_port(e[i].name)) {
            graph__error(w->err, "%s \"%s\" cannot be written in .fbp", kw, e[i].name);
            return MSGFLO_EINVAL;
        }
        int rc = check_port(w, e[i].process, e[i].port);
        if (rc)
            return rc;
        strbuf__printf(&w->sb, "%s=%s.", kw, e[i].process);
        put_port(w, e[i].port, GRAPH_NO_INDEX);
        strbuf__putc(&w->sb, ':');
        put_port(w, e[i].name, GRAPH_NO_INDEX);
        strbuf__putc(&w->sb, '\n');
    }
    return 0;
}

static int put_connection(struct writer *w, const struct graph_connection *c)
{
    int rc = check_port(w, c->tgt.process, c->tgt.port);
    if (rc)
        return rc;
    if (c->data) {
        char *text;
        rc = graph_json__dump(c->data, 0, &text);
        if (rc)
            return rc;
        /* a bare true/false/null at the start of a statement is a node name;
         * after a tab (JSON whitespace, not .fbp whitespace) it is an IIP */
        if (json_is_boolean(c->data) || json_is_null(c->data))
            strbuf__putc(&w->sb, '\t');
        strbuf__puts(&w->sb, text);
        free(text);
    } else {
        rc = check_port(w, c->src.process, c->src.port);
        if (rc == 0)
            rc = put_node(w, c->src.process);
        if (rc)
            return rc;
        strbuf__putc(&w->sb, ' ');
        put_port(w, c->src.port, c->src.index);
    }
    strbuf__puts(&w->sb, " -> ");
    put_port(w, c->tgt.port, c->tgt.index);
    strbuf__putc(&w->sb, ' ');
    rc = put_node(w, c->tgt.process);
    strbuf__putc(&w->sb, '\n');
    return rc;
}

int fbp__write(const struct graph *g, char **out, struct graph_error *err)
{
    struct writer w = {g, {0}, NULL, err};
    int rc = 0;

    *out = NULL;
    strbuf__init(&w.sb);
    w.declared = calloc(g->n_processes + 1, sizeof(*w.declared));
    if (!w.declared) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    put_annotations(&w);
    rc = put_exports(&w, g->inports, g->n_inports, "INPORT");
    if (rc == 0)
        rc = put_exports(&w, g->outports, g->n_outports, "OUTPORT");
    if (rc)
        goto out;
    strbuf__putc(&w.sb, '\n');
    for (size_t i = 0; rc == 0 && i < g->n_connections; i++)
        rc = put_connection(&w, &g->connections[i]);
    for (size_t i = 0; rc == 0 && i < g->n_processes; i++) {
        if (w.declared[i])
            continue;
        rc = put_node(&w, g->processes[i].name);
        strbuf__putc(&w.sb, '\n');
    }
    if (rc)
        goto out;
    *out = strbuf__steal(&w.sb);
    if (!*out)
        rc = MSGFLO_ENOMEM;
out:
    strbuf__cleanup(&w.sb);
    free(w.declared);
    return rc;
}
