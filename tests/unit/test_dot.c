/* DOT output: roles with components, port labels, IIPs, exports, groups,
 * and quoting. Rendered by Graphviz when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/graph.h"

static char *dot_of(const char *fbp)
{
    struct graph *g;
    char *out = NULL;
    assert_int_equal(fbp__parse(fbp, strlen(fbp), NULL, &g, NULL), 0);
    assert_int_equal(dot__write(g, &out), 0);
    graph__free(g);
    return out;
}

static void test_dot_content(void **state)
{
    (void)state;
    char *out = dot_of("# @name Switch\nINPORT=button.IN:press\nOUTPORT=motor.DONE:done\n"
                       "'{\"speed\": 3}' -> CONFIG motor(Motor)\n"
                       "button(Button) PRESSED[1] -> START motor\n");
    assert_true(strncmp(out, "digraph \"Switch\" {\n", 19) == 0);
    assert_non_null(strstr(out, "\"button\" [label=\"button\\n(Button)\"];"));
    assert_non_null(strstr(out, "\"motor\" [label=\"motor\\n(Motor)\"];"));
    assert_non_null(strstr(out, "\"button\" -> \"motor\" [label=\"pressed[1] -> start\"];"));
    assert_non_null(strstr(out, "iip0 [shape=note, fontsize=10, label=\"{\\\"speed\\\": 3}\"];"));
    assert_non_null(strstr(out, "iip0 -> \"motor\" [label=\"config\"];"));
    assert_non_null(strstr(out, "in0 -> \"button\" [style=dashed, label=\"in\"];"));
    assert_non_null(strstr(out, "\"motor\" -> out0 [style=dashed, label=\"done\"];"));
    assert_string_equal(out + strlen(out) - 2, "}\n");
    free(out);
}

static void test_dot_groups_and_quotes(void **state)
{
    (void)state;
    const char *json = "{\"processes\": {\"a \\\"b\\\"\": {\"component\": \"X\\\\Y\"}}, "
                       "\"groups\": [{\"name\": \"g\", \"nodes\": [\"a \\\"b\\\"\"]}]}";
    struct graph *g;
    struct graph_error err;
    char *out = NULL;
    assert_int_equal(graph_json__read(json, strlen(json), &g, &err), 0);
    assert_int_equal(dot__write(g, &out), 0);
    assert_non_null(strstr(out, "\"a \\\"b\\\"\" [label=\"a \\\"b\\\"\\n(X\\\\Y)\"];"));
    assert_non_null(strstr(out, "subgraph cluster_0 {\n    label=\"g\";\n    \"a \\\"b\\\"\";"));
    assert_true(strncmp(out, "digraph \"graph\" {", 17) == 0);
    free(out);
    graph__free(g);
}

static void test_dot_renders(void **state)
{
    (void)state;
    if (system("command -v dot >/dev/null 2>&1") != 0)
        skip();
    char *out = dot_of("a(A) OUT -> IN b(B)\n'x' -> IN a\n");
    FILE *p = popen("dot -Tsvg >/dev/null", "w");
    assert_non_null(p);
    fputs(out, p);
    assert_int_equal(pclose(p), 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_content),
        cmocka_unit_test(test_dot_groups_and_quotes),
        cmocka_unit_test(test_dot_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
