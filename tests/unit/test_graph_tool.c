/* msgflo-graph, run as a user runs it: output, error lines, exit codes. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef MSGFLO_GRAPH_TOOL
#error "MSGFLO_GRAPH_TOOL (path of msgflo-graph) must be defined"
#endif

static char vectors[1024];
static char tmpdir[] = "/tmp/test_graph_tool.XXXXXX";

/* Runs `msgflo-graph ARGS` (shell words), returns the exit status and the
 * output (stdout, or stderr when err is true) in *out (free()). */
static int run(const char *args, bool err, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s %s", vectors, MSGFLO_GRAPH_TOOL, args,
             err ? "2>&1 >/dev/null" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, p);
        if (!got)
            break;
        n += got;
    }
    buf[n] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A file, relative to the vectors unless absolute. */
static char *slurp(const char *name)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : vectors, name[0] == '/' ? "" : "/",
             name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_json_is_the_reference_output(void **state)
{
    (void)state;
    char *out, *expected;
    assert_int_equal(run("json msgflo-hello.fbp", false, &out), 0);
    expected = slurp("msgflo-hello.json");
    assert_string_equal(out, expected);
    free(out);
    free(expected);
    assert_int_equal(run("--case-sensitive json port-mixed-case.fbp", false, &out), 0);
    expected = slurp("port-mixed-case.cs.json");
    assert_string_equal(out, expected);
    free(out);
    free(expected);
}

static void test_check_and_errors(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run("check msgflo-hello.fbp", true, &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(run("check arrow-long.fbp", true, &out), 1);
    assert_true(strncmp(out, "arrow-long.fbp:1:10: Expected ", 30) == 0);
    free(out);
    assert_int_equal(run("check undefined-source.fbp", true, &out), 1);
    assert_string_equal(out, "undefined-source.fbp:1:1: Edge to \"b\" port \"in\" is connected to "
                             "an undefined source node \"a\"\n");
    free(out);
    assert_int_equal(run("check no-such-file.fbp", true, &out), 1);
    assert_non_null(strstr(out, "no-such-file.fbp: cannot open"));
    free(out);
}

static void test_usage(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run("", true, &out), 2);
    assert_non_null(strstr(out, "Usage: msgflo-graph"));
    free(out);
    assert_int_equal(run("frobnicate x.fbp", true, &out), 2);
    free(out);
    assert_int_equal(run("--nope json x.fbp", true, &out), 2);
    free(out);
    assert_int_equal(run("json a.fbp b.fbp", true, &out), 2);
    free(out);
    assert_int_equal(run("--help", false, &out), 0);
    assert_non_null(strstr(out, "check FILE"));
    free(out);
}

static void test_fbp_json_round_trip_and_dot(void **state)
{
    (void)state;
    char *out, *again, cmd[2048];
    assert_int_equal(run("json spec-with-a-more-complex-fbp-string.fbp", false, &out), 0);
    char json[1100];
    snprintf(json, sizeof(json), "%s/graph.json", tmpdir);
    FILE *f = fopen(json, "w");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "fbp '%s'", json);
    free(out);
    assert_int_equal(run(cmd, false, &out), 0);
    /* the .fbp we wrote, read from standard input, gives the same JSON */
    char fbp[1100];
    snprintf(fbp, sizeof(fbp), "%s/graph.fbp", tmpdir);
    f = fopen(fbp, "w");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
    free(out);
    snprintf(cmd, sizeof(cmd), "json - < '%s'", fbp);
    assert_int_equal(run(cmd, false, &again), 0);
    out = slurp(json);
    assert_string_equal(again, out);
    free(again);
    free(out);
    assert_int_equal(run("dot msgflo-hello.fbp", false, &out), 0);
    assert_true(strncmp(out, "digraph \"Hello\" {", 17) == 0);
    assert_non_null(strstr(out, "\"a\" -> \"b\" [label=\"out[2] -> in\"];"));
    free(out);
}

int main(void)
{
    snprintf(vectors, sizeof(vectors), "%s", __FILE__);
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(vectors, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(vectors + strlen(vectors), sizeof(vectors) - strlen(vectors), "/conformance/fbp");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_is_the_reference_output),
        cmocka_unit_test(test_check_and_errors),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_fbp_json_round_trip_and_dot),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        failed++;
    return failed;
}
