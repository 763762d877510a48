/* FBP JSON: reading the fbp-graph format (with field-named errors), writing
 * the reference's shape, and JSON.stringify-exact text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/graph.h"
#include "graph/internal.h"

/* fbp-ecosystem.md section 6: what Flowhub sends and saves */
static const char flowhub[] =
    "{ \"caseSensitive\": false,\n"
    "  \"properties\": { \"name\": \"main\", \"environment\": {\"type\": \"msgflo\"}, "
    "\"main\": true },\n"
    "  \"inports\":  { \"In\":  {\"process\": \"a\", \"port\": \"IN\",  \"metadata\": {\"x\": 0, "
    "\"y\": 0}} },\n"
    "  \"outports\": { \"out\": {\"process\": \"b\", \"port\": \"out\", \"metadata\": {}} },\n"
    "  \"groups\": [ {\"name\": \"g1\", \"nodes\": [\"a\",\"b\"], \"metadata\": "
    "{\"description\": \"d\"}} ],\n"
    "  \"processes\": { \"a\": {\"component\": \"Repeat\", \"metadata\": {\"x\": 36, \"y\": 72, "
    "\"label\": \"a\"}},\n"
    "                 \"b\": {\"component\": \"Repeat\"} },\n"
    "  \"connections\": [\n"
    "    {\"src\": {\"process\": \"a\", \"port\": \"OUT\", \"index\": 0}, \"tgt\": {\"process\": "
    "\"b\", \"port\": \"in\"},\n"
    "     \"metadata\": {\"route\": 5}},\n"
    "    {\"data\": \"World\", \"tgt\": {\"process\": \"a\", \"port\": \"name\"}, \"metadata\": "
    "{}} ] }\n";

static void test_read_flowhub(void **state)
{
    (void)state;
    struct graph *g;
    struct graph_error err;
    assert_int_equal(graph_json__read(flowhub, strlen(flowhub), &g, &err), 0);
    assert_false(g->case_sensitive);
    assert_int_equal(g->n_processes, 2);
    assert_string_equal(g->processes[0].component, "Repeat");
    json_t *md = NULL;
    assert_int_equal(graph__process_metadata(&g->processes[0], &md), 0);
    assert_int_equal(json_integer_value(json_object_get(md, "y")), 72);
    json_decref(md);
    assert_int_equal(g->n_inports, 1);
    assert_string_equal(g->inports[0].name, "in"); /* lowercased: caseSensitive false */
    assert_string_equal(g->inports[0].port, "in");
    assert_non_null(g->inports[0].metadata);
    assert_int_equal(g->n_groups, 1);
    assert_int_equal(json_array_size(g->groups[0].nodes), 2);
    assert_int_equal(g->n_connections, 2);
    assert_string_equal(g->connections[0].src.port, "out");
    assert_int_equal(g->connections[0].src.index, 0);
    assert_int_equal(g->connections[0].tgt.index, GRAPH_NO_INDEX);
    assert_int_equal(json_integer_value(json_object_get(g->connections[0].metadata, "route")), 5);
    assert_string_equal(json_string_value(g->connections[1].data), "World");
    assert_true(json_is_true(json_object_get(g->properties, "main")));
    assert_int_equal(graph__validate(g, &err), 0);

    /* and back: the same document, in the reference's key order */
    json_t *doc;
    assert_int_equal(graph_json__to_json(g, &doc), 0);
    json_t *src = json_loads(flowhub, 0, NULL);
    json_t *in = json_object_get(json_object_get(src, "inports"), "In");
    json_object_set_new(json_object_get(src, "inports"), "in", json_incref(in));
    json_object_del(json_object_get(src, "inports"), "In");
    json_object_set_new(in, "port", json_string("in"));
    json_object_set_new(
        json_object_get(json_array_get(json_object_get(src, "connections"), 0), "src"), "port",
        json_string("out"));
    assert_true(json_equal(doc, src));
    const char *first_key = NULL;
    json_t *v;
    json_object_foreach(doc, first_key, v)
    {
        break;
    }
    assert_string_equal(first_key, "inports");
    json_decref(src);
    json_decref(doc);
    graph__free(g);
}

static void test_read_defaults_and_msgflo_quirks(void **state)
{
    (void)state;
    struct graph *g;
    struct graph_error err;
    const char *text = "{\"inports\": [], \"outports\": [], \"caseSensitive\": true, "
                       "\"connections\": [{\"data\": null, \"tgt\": {\"process\": \"a\", "
                       "\"port\": \"IN\"}}]}";
    assert_int_equal(graph_json__read(text, strlen(text), &g, &err), 0);
    assert_true(g->case_sensitive);
    assert_string_equal(g->connections[0].tgt.port, "IN");
    assert_true(json_is_null(g->connections[0].data));
    assert_null(g->properties);
    /* unknown processes are kept, and validation names them */
    assert_int_equal(graph__validate(g, &err), MSGFLO_EINVAL);
    assert_string_equal(err.message,
                        "IIP containing \"null\" is connected to an undefined target node \"a\"");
    graph__free(g);
    assert_int_equal(graph_json__read("{}", 2, &g, &err), 0);
    assert_int_equal(g->n_processes + g->n_connections, 0);
    graph__free(g);
}

static void read_err(const char *text, int rc, const char *message, int line)
{
    struct graph *g = (struct graph *)&g;
    struct graph_error err;
    assert_int_equal(graph_json__read(text, strlen(text), &g, &err), rc);
    assert_null(g);
    if (strcmp(err.message, message) != 0)
        print_error("got: %s\n", err.message);
    assert_string_equal(err.message, message);
    assert_int_equal(err.line, line);
}

static void test_read_errors(void **state)
{
    (void)state;
    read_err("[1]", MSGFLO_EINVAL, "a graph must be a JSON object", 0);
    read_err("{\"processes\": []}", MSGFLO_EINVAL, "processes: expected an object", 0);
    read_err("{\"processes\": {\"a\": {\"component\": 1}}}", MSGFLO_EINVAL,
             "processes.a: component: expected a string", 0);
    read_err("{\"connections\": [{\"src\": {\"process\": \"a\", \"port\": \"out\"}, \"tgt\": "
             "{\"process\": \"b\"}}]}",
             MSGFLO_EINVAL, "connections[0].tgt.port: expected a string", 0);
    read_err("{\"connections\": [{\"tgt\": {\"process\": \"b\", \"port\": \"in\"}}]}",
             MSGFLO_EINVAL, "connections[0].src: expected an object with \"process\" and \"port\"",
             0);
    read_err("{\"inports\": {\"x\": {\"process\": \"a\"}}}", MSGFLO_EINVAL,
             "inports.x.port: expected a string", 0);
    read_err("{\"groups\": [{\"name\": \"g\", \"nodes\": [1]}]}", MSGFLO_EINVAL,
             "groups[0]: nodes: expected an array of node names", 0);
    read_err("{\"caseSensitive\": \"yes\"}", MSGFLO_EINVAL, "caseSensitive: expected true or false",
             0);
    read_err("{\n  \"processes\": {,}\n}", MSGFLO_EJSON, "string or '}' expected near ','", 2);
}

static void dump_is(json_t *v, int indent, const char *expected)
{
    char *out = NULL;
    assert_int_equal(graph_json__dump(v, indent, &out), 0);
    assert_string_equal(out, expected);
    free(out);
    json_decref(v);
}

static void test_dump_like_javascript(void **state)
{
    (void)state;
    dump_is(json_real(0.1), 0, "0.1");
    dump_is(json_real(1.5e-7), 0, "1.5e-7");
    dump_is(json_real(1e21), 0, "1e+21");
    dump_is(json_real(123456789012345678901234.0), 0, "1.2345678901234569e+23");
    dump_is(json_real(-2.5), 0, "-2.5");
    dump_is(json_real(0.000001), 0, "0.000001");
    dump_is(json_real(1e20), 0, "100000000000000000000");
    dump_is(json_integer(-42), 0, "-42");
    dump_is(json_stringn("a\"\\\b\f\n\r\t\x01\x1f\xe2\x80\xa8", 13), 0,
            "\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\xe2\x80\xa8\"");
    dump_is(json_pack("{s:i,s:i,s:i,s:i,s:i}", "b", 1, "10", 2, "2", 3, "a", 4, "01", 5), 0,
            "{\"2\":3,\"10\":2,\"b\":1,\"a\":4,\"01\":5}");
    dump_is(json_pack("{s:[i,{}],s:[]}", "a", 1, "b"), 2,
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}");
    char num[40];
    graph_json__number(NAN, num);
    assert_string_equal(num, "null");
}

static void test_js_string(void **state)
{
    (void)state;
    json_t *v = json_loads("[1, [2, null], 3.5, \"x\", {\"a\": 1}, true]", 0, NULL);
    struct strbuf sb;
    strbuf__init(&sb);
    graph_json__js_string(v, &sb);
    assert_string_equal(sb.data, "1,2,,3.5,x,[object Object],true");
    strbuf__cleanup(&sb);
    json_decref(v);
}

static void test_parse_then_json_round_trip(void **state)
{
    (void)state;
    const char *text = "# @name Round\nINPORT=a.IN:in\na(A:x=1) OUT[3] -> IN b(B)\n"
                       "{\"deep\": [1, {\"x\": null}]} -> OPTS a\n";
    struct graph *g1, *g2;
    struct graph_error err;
    char *j1, *j2;
    assert_int_equal(fbp__parse(text, strlen(text), NULL, &g1, &err), 0);
    assert_int_equal(graph_json__write(g1, &j1), 0);
    assert_int_equal(graph_json__read(j1, strlen(j1), &g2, &err), 0);
    assert_int_equal(graph_json__write(g2, &j2), 0);
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    graph__free(g1);
    graph__free(g2);
}

/* The same graph in fbp-graph's shape (the live graph's): caseSensitive and
 * properties first, every process with metadata after its component, edges
 * before IIPs, empty metadata left out. */
static void test_fbp_graph_style(void **state)
{
    (void)state;
    const char *text = "INPORT=a.IN:in\n'x' -> OPTS a(A:x=1)\na OUT -> IN b(B)\n";
    struct graph *g;
    struct graph_error err;
    json_t *doc;
    char *out;
    assert_int_equal(fbp__parse(text, strlen(text), NULL, &g, &err), 0);
    g->connections[1].metadata = json_object(); /* {} is not written */
    assert_int_equal(graph_json__to_json_style(g, GRAPH_JSON_FBP_GRAPH, &doc), 0);
    assert_int_equal(graph_json__dump(doc, 0, &out), 0);
    assert_string_equal(out, "{\"caseSensitive\":false,\"properties\":{},"
                             "\"inports\":{\"in\":{\"process\":\"a\",\"port\":\"in\"}},"
                             "\"outports\":{},\"groups\":[],"
                             "\"processes\":{\"a\":{\"component\":\"A\",\"metadata\":{\"x\":1}},"
                             "\"b\":{\"component\":\"B\",\"metadata\":{}}},"
                             "\"connections\":[{\"src\":{\"process\":\"a\",\"port\":\"out\"},"
                             "\"tgt\":{\"process\":\"b\",\"port\":\"in\"}},"
                             "{\"data\":\"x\",\"tgt\":{\"process\":\"a\",\"port\":\"opts\"}}]}");
    free(out);
    json_decref(doc);
    graph__free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_flowhub),
        cmocka_unit_test(test_read_defaults_and_msgflo_quirks),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_dump_like_javascript),
        cmocka_unit_test(test_js_string),
        cmocka_unit_test(test_parse_then_json_round_trip),
        cmocka_unit_test(test_fbp_graph_style),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
