/* The live graph store (runtime/live_graph.h) alone: indexes stay right
 * through adds, removes and renames; FBP JSON output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void add_edge(struct live_graph *g, const char *src, const char *tgt, const char *meta)
{
    json_t *s = J(src), *t = J(tgt), *m = meta ? J(meta) : NULL;
    assert_int_equal(live_graph__add_edge(g, s, t, m), 0);
    json_decref(s);
    json_decref(t);
    json_decref(m);
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
    json_t *data = J("[1,2]"), *tgt = J("{'node':'a','port':'in'}");
    assert_int_equal(live_graph__add_iip(g, data, tgt, NULL), 0);
    json_decref(data);
    json_decref(tgt);
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
    assert_int_equal(json_object_size(live_graph__edges_from(g, "a", "out")), 2);
    assert_int_equal(json_object_size(live_graph__node_edges(g, "c")), 2);
    assert_int_equal(json_object_size(live_graph__node_edges(g, "a")), 2);
    assert_null(live_graph__edges_from(g, "c", "out"));
    assert_true(live_graph__node_discovered(g, "b"));
    assert_false(live_graph__node_discovered(g, "a"));
    assert_json(live_graph__edge(g, "a", "out", "b", "in"),
                "{'src':{'node':'a','port':'out','index':2},'tgt':{'node':'b','port':'in'},"
                "'metadata':{'route':5}}");
    json_t *s = J("{'node':'a','port':'out'}"), *t = J("{'node':'b','port':'in'}");
    assert_int_equal(live_graph__add_edge(g, s, t, NULL), MSGFLO_EINVAL); /* there already */
    json_decref(s);
    json_decref(t);
    assert_int_equal(live_graph__remove_edge(g, "a", "out", "b", "in"), 0);
    assert_int_equal(live_graph__remove_edge(g, "a", "out", "b", "in"), MSGFLO_EINVAL);
    assert_int_equal(json_object_size(live_graph__edges_from(g, "a", "out")), 1);
    /* One IIP per port: a second replaces the first. */
    json_t *data = J("'x'"), *tgt = J("{'node':'a','port':'in'}");
    assert_int_equal(live_graph__add_iip(g, data, tgt, NULL), 0);
    json_decref(data);
    json_decref(tgt);
    assert_int_equal(json_object_size(live_graph__iips(g)), 1);
    assert_int_equal(json_object_size(live_graph__node_iips(g, "a")), 1);
    assert_json(live_graph__iip(g, "a", "in"),
                "{'src':{'data':'x'},'tgt':{'node':'a','port':'in'}}");
    /* Removing a node takes everything touching it. */
    assert_int_equal(live_graph__remove_node(g, "a"), 0);
    assert_null(live_graph__node_edges(g, "a"));
    assert_null(live_graph__node_iips(g, "a"));
    assert_null(live_graph__edges_from(g, "a", "out"));
    assert_int_equal(json_object_size(live_graph__node_edges(g, "c")), 1);
    assert_null(live_graph__export(g, false, "in"));
    assert_json(json_object_get(live_graph__group(g, "grp"), "nodes"), "['c']");
    assert_int_equal(live_graph__remove_node(g, "a"), MSGFLO_EINVAL);
    live_graph__free(g);
}

static void test_rename(void **state)
{
    (void)state;
    struct live_graph *g = sample();
    assert_int_equal(live_graph__rename_node(g, "a", "c"), MSGFLO_EINVAL); /* taken */
    assert_int_equal(live_graph__rename_node(g, "zz", "q"), MSGFLO_EINVAL);
    assert_int_equal(live_graph__rename_node(g, "a", "A"), 0);
    assert_null(live_graph__node(g, "a"));
    assert_null(live_graph__edges_from(g, "a", "out"));
    assert_int_equal(json_object_size(live_graph__edges_from(g, "A", "out")), 2);
    assert_json(live_graph__edge(g, "A", "out", "b", "in"),
                "{'src':{'node':'A','port':'out','index':2},'tgt':{'node':'b','port':'in'},"
                "'metadata':{'route':5}}");
    assert_json(live_graph__iip(g, "A", "in"),
                "{'src':{'data':[1,2]},'tgt':{'node':'A','port':'in'}}");
    assert_json(live_graph__export(g, false, "in"), "{'process':'A','port':'in'}");
    assert_json(json_object_get(live_graph__group(g, "grp"), "nodes"), "['A','c']");
    assert_json(json_object_get(live_graph__node(g, "A"), "metadata"), "{'x':1}");
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
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
