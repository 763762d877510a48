/* The .fbp writer: the reference serializer's exact outputs from its test
 * suite, and parse -> write -> parse round trips of every vector. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/graph.h"

static struct graph *parse(const char *text, size_t len, bool cs)
{
    struct fbp_parse_options opts = {cs};
    struct graph *g = NULL;
    struct graph_error err;
    if (fbp__parse(text, len, &opts, &g, &err))
        return NULL;
    return g;
}

static char *write_ok(const struct graph *g)
{
    char *out = NULL;
    struct graph_error err;
    int rc = fbp__write(g, &out, &err);
    if (rc)
        print_error("fbp__write: %s\n", err.message);
    assert_int_equal(rc, 0);
    return out;
}

/* spec/json.coffee "annotations" */
static void test_reference_annotations(void **state)
{
    (void)state;
    const char *expected = "# @runtime foo\n# @name ReadSomefile\n\n"
                           "\"somefile\" -> SOURCE Read(ReadFile)\n";
    struct graph *g;
    struct graph_error err;
    const char *json = "{\"caseSensitive\": false, \"properties\": {\"name\": \"ReadSomefile\", "
                       "\"environment\": {\"type\": \"foo\"}}, \"inports\": {}, \"outports\": "
                       "{}, \"groups\": [], \"processes\": {\"Read\": {\"component\": "
                       "\"ReadFile\"}}, \"connections\": [{\"data\": \"somefile\", \"tgt\": "
                       "{\"process\": \"Read\", \"port\": \"source\"}}]}";
    assert_int_equal(graph_json__read(json, strlen(json), &g, &err), 0);
    char *out = write_ok(g);
    assert_string_equal(out, expected);
    free(out);
    graph__free(g);
}

/* spec/json.coffee "annotations in case sensitive graph" */
static void test_reference_case_sensitive(void **state)
{
    (void)state;
    const char *expected = "# @runtime foo\n# @name ReadSomefile\n"
                           "INPORT=Read.Encoding:FileEncoding\nOUTPORT=Read.Out:Result\n\n"
                           "\"somefile\" -> SourceCode Read(ReadFile)\n"
                           "Read Errors -> TryAgain Read\n";
    struct graph *g = parse(expected, strlen(expected), true);
    assert_non_null(g);
    char *out = write_ok(g);
    assert_string_equal(out, expected);
    free(out);
    graph__free(g);
}

static void test_what_the_reference_loses(void **state)
{
    (void)state;
    const char *text = "a(C) OUT[1] -> IN[2] b(C:x=3,label=B)\n"
                       "{\"k\": [1, 2.5]} -> OPTS a\n"
                       "null -> N b\n"
                       "lonely(Other)\n";
    /* null at the start of a line is a node name: give it one */
    const char *fixed = "a(C) OUT[1] -> IN[2] b(C:x=3,label=B)\n"
                        "{\"k\": [1, 2.5]} -> OPTS a\n"
                        "\tnull -> N b\n"
                        "lonely(Other)\n";
    struct graph *g = parse(text, strlen(text), false);
    assert_null(g);
    g = parse(fixed, strlen(fixed), false);
    assert_non_null(g);
    assert_true(json_is_null(g->connections[2].data));
    char *out = write_ok(g);
    assert_string_equal(out, "\n"
                             "a(C) OUT[1] -> IN[2] b(C:x=3,label=B)\n"
                             "{\"k\":[1,2.5]} -> OPTS a\n"
                             "\tnull -> N b\n"
                             "lonely(Other)\n");
    free(out);
    graph__free(g);
}

static void test_inexpressible(void **state)
{
    (void)state;
    const char *json = "{\"processes\": {\"my node\": {\"component\": \"A\"}}, \"connections\": "
                       "[{\"data\": 1, \"tgt\": {\"process\": \"my node\", \"port\": \"in\"}}]}";
    struct graph *g;
    struct graph_error err;
    char *out = NULL;
    assert_int_equal(graph_json__read(json, strlen(json), &g, &err), 0);
    assert_int_equal(fbp__write(g, &out, &err), MSGFLO_EINVAL);
    assert_null(out);
    assert_string_equal(err.message, "process \"my node\": the name cannot be written in .fbp");
    graph__free(g);
}

static char vector_dir[1024];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* Parse -> write -> parse gives the same graph, for every vector that parses. */
static void test_round_trip_vectors(void **state)
{
    (void)state;
    DIR *d = opendir(vector_dir);
    assert_non_null(d);
    struct dirent *ent;
    int tried = 0;
    while ((ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 4, ".fbp") != 0)
            continue;
        char path[1400];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", vector_dir, ent->d_name);
        char *text = slurp(path, &len);
        assert_non_null(text);
        for (int cs = 0; cs < 2; cs++) {
            struct graph *g1 = parse(text, len, cs);
            if (!g1)
                continue;
            char *out = NULL;
            struct graph_error err;
            int rc = fbp__write(g1, &out, &err);
            if (rc) {
                /* anonymous nodes of components with a '/' after the first
                 * run get names (_a_b/c_1) that .fbp cannot write */
                assert_int_equal(rc, MSGFLO_EINVAL);
                assert_non_null(strstr(err.message, "/"));
                assert_non_null(strstr(err.message, "the name cannot be written"));
                graph__free(g1);
                continue;
            }
            struct graph *g2 = parse(out, strlen(out), cs);
            if (!g2)
                print_error("%s: our output does not parse:\n%s\n", ent->d_name, out);
            assert_non_null(g2);
            json_t *a, *b;
            assert_int_equal(graph_json__to_json(g1, &a), 0);
            assert_int_equal(graph_json__to_json(g2, &b), 0);
            /* x=abc and friends are null (NaN) metadata, which .fbp cannot write */
            json_t *procs = json_object_get(a, "processes");
            const char *k;
            json_t *p;
            json_object_foreach(procs, k, p)
            {
                json_t *md = json_object_get(p, "metadata");
                const char *mk;
                json_t *mv;
                void *tmp;
                json_object_foreach_safe(md, tmp, mk, mv)
                {
                    if (json_is_null(mv) || !*mk)
                        json_object_del(md, mk);
                }
                if (md && json_object_size(md) == 0)
                    json_object_del(p, "metadata");
            }
            if (!json_equal(a, b)) {
                char *x = NULL, *y = NULL;
                graph_json__dump(a, 2, &x);
                graph_json__dump(b, 2, &y);
                print_error("%s (cs %d): round trip differs:\n%s\n%s\nvia\n%s\n", ent->d_name, cs,
                            x, y, out);
                free(x);
                free(y);
            }
            assert_true(json_equal(a, b));
            json_decref(a);
            json_decref(b);
            graph__free(g1);
            graph__free(g2);
            free(out);
            tried++;
        }
        free(text);
    }
    closedir(d);
    assert_true(tried > 100);
}

int main(void)
{
    snprintf(vector_dir, sizeof(vector_dir), "%s", __FILE__);
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(vector_dir, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(vector_dir + strlen(vector_dir), sizeof(vector_dir) - strlen(vector_dir),
             "/conformance/fbp");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_annotations),
        cmocka_unit_test(test_reference_case_sensitive),
        cmocka_unit_test(test_what_the_reference_loses),
        cmocka_unit_test(test_inexpressible),
        cmocka_unit_test(test_round_trip_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
