/* The live graph store (runtime/live_graph.h) alone: indexes stay right
 * through adds, removes and renames; FBP JSON output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

#include "msgflo/errors.h"
#include "runtime/live_graph.h"

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    if (!json_equal(got, want)) {
        char *a = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("got:  %s\nwant: %s\n", a, want_text);
        free(a);
        fail();
    }
    json_decref(want);
}

/* A live_port of a JSON endpoint {node, port, index?}. */
static struct live_port port_of(const json_t *ep)
{
    struct live_port p = {json_string_value(json_object_get(ep, "node")),
                          json_string_value(json_object_get(ep, "port")),
                          json_object_get(ep, "index")};
    return p;
}

static int add_edge_rc(struct live_graph *g, const char *src, const char *tgt, const char *meta)
{
    json_t *s = J(src), *t = J(tgt), *m = meta ? J(meta) : NULL;
    struct live_port sp = port_of(s), tp = port_of(t);
    int rc = live_graph__add_edge(g, &sp, &tp, m);
    json_decref(s);
    json_decref(t);
    json_decref(m);
    return rc;
}

static void add_edge(struct live_graph *g, const char *src, const char *tgt, const char *meta)
{
    assert_int_equal(add_edge_rc(g, src, tgt, meta), 0);
}

static void add_iip(struct live_graph *g, const char *data, const char *tgt, const char *meta)
{
    json_t *d = J(data), *t = J(tgt), *m = meta ? J(meta) : NULL;
    struct live_port tp = port_of(t);
    assert_int_equal(live_graph__add_iip(g, d, &tp, m), 0);
    json_decref(d);
    json_decref(t);
    json_decref(m);
}

/* An edge (or, src NULL, an IIP) as {src, tgt, metadata?} (new reference). */
static json_t *element_json(const struct live_port *src, const json_t *data,
                            const struct live_port *tgt, const json_t *metadata)
{
    json_t *o = json_pack("{s:o, s:o}", "src",
                          src ? live_graph__port_json(src) : json_pack("{s:O}", "data", data),
                          "tgt", live_graph__port_json(tgt));
    if (metadata)
        json_object_set(o, "metadata", (json_t *)metadata);
    return o;
}

static void assert_edge(const struct live_edge *e, const char *want)
{
    assert_non_null(e);
    json_t *j = element_json(&e->src, NULL, &e->tgt, e->metadata);
    assert_json(j, want);
    json_decref(j);
}

static void assert_iip(const struct live_iip *i, const char *want)
{
    assert_non_null(i);
    json_t *j = element_json(NULL, i->data, &i->tgt, i->metadata);
    assert_json(j, want);
    json_decref(j);
}

/* How many edges touch node `id`; with `port`, only those leaving it there. */
static size_t edges_of(struct live_graph *g, const char *id, const char *port)
{
    size_t n = 0;
    for (const struct live_edge *e = live_graph__node_edge(g, id, NULL); e;
         e = live_graph__node_edge(g, id, e))
        n += !port || (strcmp(e->src.node, id) == 0 && strcmp(e->src.port, port) == 0);
    return n;
}

static size_t iips_of(struct live_graph *g, const char *id)
{
    size_t n = 0;
    for (const struct live_iip *i = live_graph__node_iip(g, id, NULL); i;
         i = live_graph__node_iip(g, id, i))
        n++;
    return n;
}

/* The edges' "src.node.src.port>tgt.node.tgt.port" in the graph's order,
 * space-separated, into buf. */
static const char *edge_order(struct live_graph *g, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (const struct live_edge *e = live_graph__next_edge(g, NULL); e && at < len;
         e = live_graph__next_edge(g, e))
        at += (size_t)snprintf(buf + at, len - at, "%s%s.%s>%s.%s", at ? " " : "", e->src.node,
                               e->src.port, e->tgt.node, e->tgt.port);
    return buf;
}

static struct live_graph *sample(void)
{
    struct live_graph *g;
    assert_int_equal(live_graph__new("proj/main", &g), 0);
    json_t *meta = J("{'x':1}");
    assert_int_equal(live_graph__add_node(g, "a", "core/Repeat", meta, false), 0);
    assert_int_equal(live_graph__add_node(g, "b", "core/Repeat", NULL, true), 0);
    assert_int_equal(live_graph__add_node(g, "c", "core/Drop", NULL, false), 0);
    assert_int_equal(live_graph__add_node(g, "a", "x/Y", NULL, false), MSGFLO_EINVAL);
    json_decref(meta);
    add_edge(g, "{'node':'a','port':'out','index':2,'extra':1}", "{'node':'b','port':'in'}",
             "{'route':5}");
    add_edge(g, "{'node':'b','port':'out'}", "{'node':'c','port':'in'}", "{}");
    add_edge(g, "{'node':'a','port':'out'}", "{'node':'c','port':'in'}", NULL);
    add_iip(g, "[1,2]", "{'node':'a','port':'in'}", NULL);
    assert_int_equal(live_graph__set_export(g, false, "in", "a", "in", NULL), 0);
    assert_int_equal(live_graph__set_export(g, true, "out", "c", "out", NULL), 0);
    json_t *nodes = J("['a','c']"), *gmeta = J("{'description':'d'}");
    assert_int_equal(live_graph__add_group(g, "grp", nodes, gmeta), 0);
    json_decref(nodes);
    json_decref(gmeta);
    return g;
}

static void test_indexes(void **state)
{
    (void)state;
    struct live_graph *g = sample();
    assert_int_equal(live_graph__node_count(g), 3);
    assert_int_equal(live_graph__edge_count(g), 3);
    assert_int_equal(edges_of(g, "a", "out"), 2);
    assert_int_equal(edges_of(g, "c", NULL), 2);
    assert_int_equal(edges_of(g, "a", NULL), 2);
    assert_int_equal(edges_of(g, "c", "out"), 0);
    assert_int_equal(edges_of(g, "nobody", NULL), 0);
    assert_true(live_graph__node(g, "b")->discovered);
    assert_false(live_graph__node(g, "a")->discovered);
    assert_edge(live_graph__edge(g, "a", "out", "b", "in"),
                "{'src':{'node':'a','port':'out','index':2},'tgt':{'node':'b','port':'in'},"
                "'metadata':{'route':5}}");
    assert_edge(live_graph__edge(g, "b", "out", "c", "in"),
                "{'src':{'node':'b','port':'out'},'tgt':{'node':'c','port':'in'},'metadata':{}}");
    /* There already; or a node that is not. */
    assert_int_equal(add_edge_rc(g, "{'node':'a','port':'out'}", "{'node':'b','port':'in'}", NULL),
                     MSGFLO_EINVAL);
    assert_int_equal(add_edge_rc(g, "{'node':'a','port':'out'}", "{'node':'x','port':'in'}", NULL),
                     MSGFLO_EINVAL);
    assert_int_equal(live_graph__remove_edge(g, "a", "out", "b", "in"), 0);
    assert_int_equal(live_graph__remove_edge(g, "a", "out", "b", "in"), MSGFLO_EINVAL);
    assert_null(live_graph__edge(g, "a", "out", "b", "in"));
    assert_int_equal(edges_of(g, "a", "out"), 1);
    assert_int_equal(edges_of(g, "b", NULL), 1);
    /* One IIP per port: a second replaces the first where it stands. */
    add_iip(g, "3", "{'node':'c','port':'in'}", NULL);
    add_iip(g, "'x'", "{'node':'a','port':'in'}", "{'m':1}");
    assert_int_equal(live_graph__iip_count(g), 2);
    assert_int_equal(iips_of(g, "a"), 1);
    assert_iip(live_graph__iip(g, "a", "in"),
               "{'src':{'data':'x'},'tgt':{'node':'a','port':'in'},'metadata':{'m':1}}");
    assert_string_equal(live_graph__next_iip(g, NULL)->tgt.node, "a");
    /* Removing a node takes everything touching it. */
    assert_int_equal(live_graph__remove_node(g, "a"), 0);
    assert_null(live_graph__node_edge(g, "a", NULL));
    assert_null(live_graph__node_iip(g, "a", NULL));
    assert_null(live_graph__iip(g, "a", "in"));
    assert_int_equal(live_graph__iip_count(g), 1);
    assert_int_equal(edges_of(g, "c", NULL), 1);
    assert_int_equal(live_graph__edge_count(g), 1);
    assert_null(live_graph__export(g, false, "in"));
    assert_json(json_object_get(live_graph__group(g, "grp"), "nodes"), "['c']");
    assert_int_equal(live_graph__remove_node(g, "a"), MSGFLO_EINVAL);
    live_graph__free(g);
}

static void test_loop_and_adopt(void **state)
{
    (void)state;
    struct live_graph *g = sample();
    /* An edge from a node to itself is listed once for it. */
    add_edge(g, "{'node':'b','port':'out'}", "{'node':'b','port':'in'}", NULL);
    assert_int_equal(edges_of(g, "b", NULL), 3);
    assert_int_equal(live_graph__rename_node(g, "b", "B"), 0);
    assert_edge(live_graph__edge(g, "B", "out", "B", "in"),
                "{'src':{'node':'B','port':'out'},'tgt':{'node':'B','port':'in'}}");
    assert_int_equal(edges_of(g, "B", NULL), 3);
    assert_true(live_graph__node(g, "B")->discovered);
    json_t *meta = J("{'label':'L'}");
    assert_int_equal(live_graph__adopt_node(g, "B", "core/Other", meta), 0);
    json_decref(meta);
    const struct live_node *n = live_graph__node(g, "B");
    assert_false(n->discovered);
    assert_string_equal(n->component, "core/Other");
    assert_json(n->metadata, "{'label':'L'}");
    assert_int_equal(live_graph__remove_node(g, "B"), 0);
    assert_int_equal(live_graph__edge_count(g), 1);
    assert_int_equal(edges_of(g, "c", NULL), 1);
    assert_int_equal(edges_of(g, "a", NULL), 1);
    live_graph__free(g);
}

static void test_rename(void **state)
{
    (void)state;
    struct live_graph *g = sample();
    char order[256];
    assert_int_equal(live_graph__rename_node(g, "a", "c"), MSGFLO_EINVAL); /* taken */
    assert_int_equal(live_graph__rename_node(g, "zz", "q"), MSGFLO_EINVAL);
    assert_int_equal(live_graph__rename_node(g, "a", "A"), 0);
    assert_null(live_graph__node(g, "a"));
    assert_int_equal(edges_of(g, "a", NULL), 0);
    assert_int_equal(edges_of(g, "A", "out"), 2);
    /* The renamed node and its edges count as added again, in their order. */
    assert_string_equal(edge_order(g, order, sizeof order), "b.out>c.in A.out>b.in A.out>c.in");
    const struct live_node *last = NULL;
    for (const struct live_node *n = live_graph__next_node(g, NULL); n;
         n = live_graph__next_node(g, n))
        last = n;
    assert_string_equal(last->id, "A");
    assert_edge(live_graph__edge(g, "A", "out", "b", "in"),
                "{'src':{'node':'A','port':'out','index':2},'tgt':{'node':'b','port':'in'},"
                "'metadata':{'route':5}}");
    assert_iip(live_graph__iip(g, "A", "in"),
               "{'src':{'data':[1,2]},'tgt':{'node':'A','port':'in'}}");
    assert_json(live_graph__export(g, false, "in"), "{'process':'A','port':'in'}");
    assert_json(json_object_get(live_graph__group(g, "grp"), "nodes"), "['A','c']");
    assert_json(live_graph__node(g, "A")->metadata, "{'x':1}");
    /* Exports and groups. */
    assert_int_equal(live_graph__rename_export(g, true, "out", "result"), 0);
    assert_int_equal(live_graph__rename_export(g, true, "out", "x"), MSGFLO_EINVAL);
    assert_int_equal(live_graph__rename_group(g, "grp", "g2"), 0);
    assert_json(live_graph__group(g, "g2"),
                "{'name':'g2','nodes':['A','c'],'metadata':{'description':'d'}}");
    json_t *change = J("{'description':null,'color':'red'}");
    assert_int_equal(live_graph__change_group(g, "g2", change), 0);
    json_decref(change);
    assert_json(json_object_get(live_graph__group(g, "g2"), "metadata"), "{'color':'red'}");
    live_graph__free(g);
}

static void test_to_json(void **state)
{
    (void)state;
    struct live_graph *g = sample();
    json_object_set_new(live_graph__properties(g), "description", json_string("demo"));
    json_t *doc = live_graph__to_json(g);
    assert_json(doc, "{'caseSensitive':true,'properties':{'name':'main','description':'demo',"
                     "'environment':{'type':'msgflo'}},"
                     "'inports':{'in':{'process':'a','port':'in'}},"
                     "'outports':{'out':{'process':'c','port':'out'}},"
                     "'groups':[{'name':'grp','nodes':['a','c'],'metadata':{'description':'d'}}],"
                     "'processes':{'a':{'component':'core/Repeat','metadata':{'x':1}},"
                     "'b':{'component':'core/Repeat','metadata':{}},"
                     "'c':{'component':'core/Drop','metadata':{}}},"
                     "'connections':["
                     "{'src':{'process':'a','port':'out','index':2},'tgt':{'process':'b',"
                     "'port':'in'},'metadata':{'route':5}},"
                     "{'src':{'process':'b','port':'out'},'tgt':{'process':'c','port':'in'}},"
                     "{'src':{'process':'a','port':'out'},'tgt':{'process':'c','port':'in'}},"
                     "{'data':[1,2],'tgt':{'process':'a','port':'in'}}]}");
    /* Edges keep the order they were added in. */
    json_t *conns = json_object_get(doc, "connections");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(conns, 1), "src"), "process")),
                        "b");
    json_decref(doc);
    live_graph__set_case_sensitive(g, false);
    json_object_set_new(live_graph__properties(g), "name", json_string("other"));
    doc = live_graph__to_json(g);
    assert_false(json_is_true(json_object_get(doc, "caseSensitive")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "properties"), "name")), "other");
    json_decref(doc);
    live_graph__free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexes),
        cmocka_unit_test(test_loop_and_adopt),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
