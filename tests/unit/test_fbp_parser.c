/* The .fbp parser through its C API: the model it builds, options, located
 * errors, and inputs the vectors do not cover (size, depth, bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/graph.h"

static struct graph *parse_ok(const char *text, bool cs)
{
    struct fbp_parse_options opts = {cs};
    struct graph *g = NULL;
    struct graph_error err;
    int rc = fbp__parse(text, strlen(text), &opts, &g, &err);
    if (rc)
        print_error("unexpected error %d:%d: %s\n", err.line, err.column, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(g);
    return g;
}

static void parse_err(const char *text, int line, int column, const char *message)
{
    struct graph *g = NULL;
    struct graph_error err;
    assert_int_equal(fbp__parse(text, strlen(text), NULL, &g, &err), MSGFLO_EINVAL);
    assert_null(g);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    assert_string_equal(err.message, message);
}

static void test_model(void **state)
{
    (void)state;
    struct graph *g = parse_ok("# @runtime msgflo\n"
                               "INPORT=button.IN:press\n"
                               "'hi' -> NAME button(Button:x=3) PRESSED[1] -> START[0] "
                               "motor(Motor)\n",
                               false);
    assert_int_equal(g->n_processes, 2);
    assert_string_equal(g->processes[0].name, "button");
    assert_string_equal(g->processes[0].component, "Button");
    json_t *md = NULL;
    assert_int_equal(graph__process_metadata(&g->processes[0], &md), 0);
    assert_int_equal(json_integer_value(json_object_get(md, "x")), 3);
    json_decref(md);
    assert_int_equal(graph__process_metadata(&g->processes[1], &md), 0);
    assert_null(md);
    assert_int_equal(g->n_connections, 2);
    const struct graph_connection *iip = &g->connections[0];
    assert_string_equal(json_string_value(iip->data), "hi");
    assert_null(iip->src.process);
    assert_string_equal(iip->tgt.port, "name");
    const struct graph_connection *e = &g->connections[1];
    assert_null(e->data);
    assert_string_equal(e->src.process, "button");
    assert_string_equal(e->src.port, "pressed");
    assert_int_equal(e->src.index, 1);
    assert_string_equal(e->tgt.process, "motor");
    assert_int_equal(e->tgt.index, 0);
    assert_int_equal(g->n_inports, 1);
    assert_string_equal(g->inports[0].name, "press");
    assert_string_equal(g->inports[0].port, "in");
    assert_false(g->case_sensitive);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(g->properties, "environment"), "type")),
        "msgflo");
    assert_ptr_equal(graph__find_process(g, "motor"), &g->processes[1]);
    assert_null(graph__find_process(g, "Motor"));
    graph__free(g);
}

static void test_case_sensitive(void **state)
{
    (void)state;
    struct graph *g = parse_ok("a(A) OutPut -> InPut b(B)\n", true);
    assert_true(g->case_sensitive);
    assert_string_equal(g->connections[0].src.port, "OutPut");
    assert_string_equal(g->connections[0].tgt.port, "InPut");
    graph__free(g);
    g = parse_ok("a(A) OutPut -> InPut b(B)\n", false);
    assert_string_equal(g->connections[0].src.port, "output");
    graph__free(g);
}

static void test_null_options_and_error(void **state)
{
    (void)state;
    struct graph *g = NULL;
    const char *text = "a(A) OUT -> IN b(B)";
    assert_int_equal(fbp__parse(text, strlen(text), NULL, &g, NULL), 0);
    graph__free(g);
    assert_int_equal(fbp__parse("a(A) %", 6, NULL, &g, NULL), MSGFLO_EINVAL);
    assert_null(g);
    graph__free(NULL);
}

static void test_syntax_error_places(void **state)
{
    (void)state;
    /* places and messages as fbp@1.8.0 reports them (JSON whitespace takes
     * the line break after the arrow, so the error is at the end) */
    parse_err("a(A) OUT -> IN b(B)\r\nb OUT -> IN c(C)\r\nc OUT -> \n", 4, 1,
              "Expected \"[\", \"false\", \"null\", \"true\", \"{\", number or string but "
              "end of input found.");
    parse_err("a(A) OUT --> IN b(B)\n", 1, 10,
              "Expected \" \", \"(\", \"->\" or [a-zA-Z_] but \"-\" found.");
    parse_err("a(A) OUT -> IN b(B)\n\xf0\x9f\x98\x80 %\n", 2, 1,
              "Expected \" \", \"#\", \"'\", \"(\", \"DEFAULT_INPORT=\", \"DEFAULT_OUTPORT=\", "
              "\"INPORT=\", \"OUTPORT=\", \"[\", \"false\", \"null\", \"true\", \"{\", "
              "[\\n\\r\\u2028\\u2029], [a-zA-Z_], end of input, number or string but \"\\uD83D\" "
              "found.");
    /* a lone IIP is a source that needs an arrow */
    parse_err("'\xf0\x9f\x98\x80' %", 1, 6, "Expected \" \" or \"->\" but \"%\" found.");
}

static void test_validation_errors(void **state)
{
    (void)state;
    /* the reference's messages; the place is ours (the reference has none):
     * the mention of the node that is undefined or lacks a component */
    parse_err("a OUT -> IN b(B)\n", 1, 1,
              "Edge to \"b\" port \"in\" is connected to an undefined source node \"a\"");
    parse_err("a(A) OUT -> IN b\n", 1, 16,
              "Edge from \"a\" port \"out\" is connected to an undefined target node \"b\"");
    parse_err("x(X)\n'localhost' -> IN a\n", 2, 19,
              "IIP containing \"localhost\" is connected to an undefined target node \"a\"");
    parse_err("INPORT=x.IN:broken\na(A)\n", 1, 8,
              "Inport \"broken\" is connected to an undefined target node \"x\"");
    parse_err("a(A)\n  OUTPORT=x.OUT:broken\n", 2, 11,
              "Outport \"broken\" is connected to an undefined source node \"x\"");
    parse_err("b(B)\na() OUT -> IN b\n", 2, 1, "Node \"a\" does not have a component defined");
    parse_err("() OUT -> IN b(B)\n", 1, 1, "Node \"__1\" does not have a component defined");
    /* the reference crashes here (TypeError); we name the IIP */
    parse_err("0 -> IN a\n", 1, 9,
              "IIP containing \"0\" is connected to an undefined target node \"a\"");
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    const char text[] = "a(A) OUT -> IN b(B)GARBAGE";
    struct graph *g = NULL;
    assert_int_equal(fbp__parse(text, 19, NULL, &g, NULL), 0);
    assert_int_equal(g->n_connections, 1);
    graph__free(g);
}

static void test_long_chain(void **state)
{
    (void)state;
    /* 100,000 hops in one statement: the chain is parsed without recursion */
    size_t hops = 100000;
    size_t cap = 8 + hops * 10;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "(A)");
    for (size_t i = 0; i < hops; i++)
        n += (size_t)snprintf(text + n, cap - n, " -> (B)");
    struct graph *g = NULL;
    struct graph_error err;
    assert_int_equal(fbp__parse(text, n, NULL, &g, &err), 0);
    assert_int_equal(g->n_processes, hops + 1);
    assert_int_equal(g->n_connections, hops);
    assert_string_equal(g->connections[hops - 1].tgt.process, "_B_100000");
    graph__free(g);
    free(text);
}

static void deep(size_t depth, int rc_expected)
{
    char *text = malloc(depth * 2 + 32);
    assert_non_null(text);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    strcpy(text + depth * 2, " -> IN a(A)\n");
    struct graph *g = NULL;
    struct graph_error err;
    assert_int_equal(fbp__parse(text, strlen(text), NULL, &g, &err), rc_expected);
    if (rc_expected)
        assert_non_null(strstr(err.message, "nested deeper than 6000"));
    graph__free(g);
    free(text);
}

static void test_deep_json(void **state)
{
    (void)state;
    deep(5999, 0);
    deep(6001, MSGFLO_EINVAL);
    deep(100000, MSGFLO_EINVAL);
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    const char text[] = "'a\xff\xc3(' -> IN a(A)\n";
    struct graph *g = NULL;
    assert_int_equal(fbp__parse(text, sizeof(text) - 1, NULL, &g, NULL), 0);
    assert_string_equal(json_string_value(g->connections[0].data), "a\xEF\xBF\xBD\xEF\xBF\xBD(");
    graph__free(g);
}

static void test_embedded_nul(void **state)
{
    (void)state;
    const char text[] = "'a\0b' -> IN a(A)\n";
    struct graph *g = NULL;
    assert_int_equal(fbp__parse(text, sizeof(text) - 1, NULL, &g, NULL), 0);
    assert_int_equal(json_string_length(g->connections[0].data), 3);
    graph__free(g);
}

static void test_model_api(void **state)
{
    (void)state;
    struct graph *g;
    struct graph_process *p, *q;
    assert_int_equal(graph__new(&g), 0);
    char name[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        assert_int_equal(graph__ensure_process(g, name, &p), 0);
    }
    assert_int_equal(graph__ensure_process(g, "p42", &q), 0);
    assert_int_equal(g->n_processes, 10000);
    assert_string_equal(q->name, "p42");
    assert_ptr_equal(graph__find_process(g, "p9999"), &g->processes[9999]);
    assert_int_equal(graph__set_inport(g, "x", "p1", "in", NULL), 0);
    assert_int_equal(graph__set_inport(g, "x", "p2", "in", NULL), 0);
    assert_int_equal(g->n_inports, 1);
    assert_string_equal(g->inports[0].process, "p2");
    struct graph_error err;
    assert_int_equal(graph__validate(g, &err), MSGFLO_EINVAL);
    assert_string_equal(err.message, "Node \"p0\" does not have a component defined");
    for (size_t i = 0; i < g->n_processes; i++)
        assert_int_equal(graph__set_component(g, &g->processes[i], "C"), 0);
    assert_int_equal(graph__validate(g, &err), 0);
    struct graph_endpoint src = {"p1", "out", GRAPH_NO_INDEX}, tgt = {"nope", "in", 2};
    assert_int_equal(graph__add_edge(g, &src, &tgt, NULL), 0);
    assert_int_equal(graph__validate(g, &err), MSGFLO_EINVAL);
    assert_string_equal(err.message,
                        "Edge from \"p1\" port \"out\" is connected to an undefined target node "
                        "\"nope\"");
    assert_int_equal(graph__add_iip(g, NULL, &tgt, NULL), MSGFLO_EINVAL);
    graph__free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_case_sensitive),
        cmocka_unit_test(test_null_options_and_error),
        cmocka_unit_test(test_syntax_error_places),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_deep_json),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_model_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
