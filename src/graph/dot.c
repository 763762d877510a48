/* Graph -> Graphviz DOT, so a person can see the system: one box per
 * process (its role, i.e. the process name, over its component), one arrow
 * per edge labelled "out -> in", IIPs as notes, exported ports as small
 * ellipses on the graph's border, groups as clusters. */
#include "graph/internal.h"

#include <stdlib.h>
#include <string.h>

/* A DOT double-quoted string. */
static void quote(struct strbuf *sb, const char *s, size_t len)
{
    strbuf__putc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            strbuf__putc(sb, '\\');
        if (s[i] == '\n') {
            strbuf__puts(sb, "\\n");
            continue;
        }
        if (s[i] == '\r' || s[i] == '\0')
            continue;
        strbuf__putc(sb, s[i]);
    }
    strbuf__putc(sb, '"');
}

static void quote_str(struct strbuf *sb, const char *s)
{
    quote(sb, s, strlen(s));
}

static void port_label(struct strbuf *sb, const struct graph_endpoint *e)
{
    strbuf__puts(sb, e->port);
    if (e->index != GRAPH_NO_INDEX)
        strbuf__printf(sb, "[%lld]", (long long)e->index);
}

/* label="text" where text is built in a scratch buffer */
static void label_attr(struct strbuf *sb, struct strbuf *text)
{
    strbuf__puts(sb, "label=");
    quote(sb, text->data ? text->data : "", text->len);
    text->len = 0;
    if (text->data)
        text->data[0] = '\0';
}

static void exports(struct strbuf *sb, struct strbuf *t, const struct graph_export *e, size_t n,
                    bool in)
{
    for (size_t i = 0; i < n; i++) {
        strbuf__printf(sb, "  %s%zu [shape=ellipse, style=dashed, ", in ? "in" : "out", i);
        strbuf__puts(t, e[i].name);
        label_attr(sb, t);
        strbuf__puts(sb, "];\n  ");
        if (in) {
            strbuf__printf(sb, "in%zu -> ", i);
            quote_str(sb, e[i].process);
        } else {
            quote_str(sb, e[i].process);
            strbuf__printf(sb, " -> out%zu", i);
        }
        strbuf__puts(sb, " [style=dashed, ");
        strbuf__puts(t, e[i].port);
        label_attr(sb, t);
        strbuf__puts(sb, "];\n");
    }
}

int dot__write(const struct graph *g, char **out)
{
    struct strbuf sb, t;
    const json_t *name = json_object_get(g->properties, "name");

    strbuf__init(&sb);
    strbuf__init(&t);
    strbuf__puts(&sb, "digraph ");
    quote_str(&sb, json_is_string(name) ? json_string_value(name) : "graph");
    strbuf__puts(&sb,
                 " {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (size_t i = 0; i < g->n_processes; i++) {
        const struct graph_process *p = &g->processes[i];
        strbuf__puts(&sb, "  ");
        quote_str(&sb, p->name);
        strbuf__puts(&sb, " [");
        strbuf__puts(&t, p->name);
        strbuf__printf(&t, "\n(%s)", p->component ? p->component : "?");
        label_attr(&sb, &t);
        strbuf__puts(&sb, "];\n");
    }
    for (size_t i = 0; i < g->n_groups; i++) {
        const struct graph_group *grp = &g->groups[i];
        strbuf__printf(&sb, "  subgraph cluster_%zu {\n    ", i);
        strbuf__puts(&t, grp->name);
        label_attr(&sb, &t);
        strbuf__puts(&sb, ";\n");
        for (size_t k = 0; k < json_array_size(grp->nodes); k++) {
            const char *node = json_string_value(json_array_get(grp->nodes, k));
            if (!node)
                continue;
            strbuf__puts(&sb, "    ");
            quote_str(&sb, node);
            strbuf__puts(&sb, ";\n");
        }
        strbuf__puts(&sb, "  }\n");
    }
    for (size_t i = 0; i < g->n_connections; i++) {
        const struct graph_connection *c = &g->connections[i];
        if (c->data) {
            char *text = NULL;
            if (json_is_string(c->data))
                text = graph__strndup(json_string_value(c->data), json_string_length(c->data));
            else if (graph_json__dump(c->data, 0, &text))
                text = NULL;
            if (!text) {
                sb.err = MSGFLO_ENOMEM;
                break;
            }
            if (strlen(text) > 40)
                memcpy(text + 37, "...", 4);
            strbuf__printf(&sb, "  iip%zu [shape=note, fontsize=10, ", i);
            strbuf__puts(&t, text);
            free(text);
            label_attr(&sb, &t);
            strbuf__printf(&sb, "];\n  iip%zu -> ", i);
            quote_str(&sb, c->tgt.process);
            strbuf__puts(&sb, " [");
            port_label(&t, &c->tgt);
            label_attr(&sb, &t);
            strbuf__puts(&sb, "];\n");
            continue;
        }
        strbuf__puts(&sb, "  ");
        quote_str(&sb, c->src.process);
        strbuf__puts(&sb, " -> ");
        quote_str(&sb, c->tgt.process);
        strbuf__puts(&sb, " [");
        port_label(&t, &c->src);
        strbuf__puts(&t, " -> ");
        port_label(&t, &c->tgt);
        label_attr(&sb, &t);
        strbuf__puts(&sb, "];\n");
    }
    exports(&sb, &t, g->inports, g->n_inports, true);
    exports(&sb, &t, g->outports, g->n_outports, false);
    strbuf__puts(&sb, "}\n");
    if (t.err)
        sb.err = t.err;
    strbuf__cleanup(&t);
    *out = strbuf__steal(&sb);
    return *out ? 0 : MSGFLO_ENOMEM;
}
