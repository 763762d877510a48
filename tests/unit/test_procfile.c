/* msgflo-procfile, run as a user runs it, on the original's fixtures
 * (tests/fixtures, from msgflo's spec/fixtures) with the exact text of
 * msgflo's spec/procfile.coffee; and graph__load_file, its graph loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "graph/graph_file.h"

#ifndef MSGFLO_PROCFILE_TOOL
#error "MSGFLO_PROCFILE_TOOL (path of msgflo-procfile) must be defined"
#endif
#ifndef MSGFLO_FIXTURES
#error "MSGFLO_FIXTURES (path of tests/fixtures) must be defined"
#endif

#define FX MSGFLO_FIXTURES

static char workdir[] = "/tmp/test_procfile.XXXXXX";

static char *read_stream(FILE *f)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (!got)
            break;
        n += got;
    }
    buf[n] = '\0';
    return buf;
}

/* Runs `msgflo-procfile ARGS` (shell words) in an empty working directory
 * (no package.json, no participants); returns the exit status, stdout in
 * *out and stderr in *err (free() both). */
static int run(const char *args, char **out, char **err)
{
    char errfile[1100], cmd[8192];
    snprintf(errfile, sizeof(errfile), "%s/stderr", workdir);
    snprintf(cmd, sizeof(cmd), "cd '%s/empty' && '%s' %s 2>'%s'", workdir, MSGFLO_PROCFILE_TOOL,
             args, errfile);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    *out = read_stream(p);
    int status = pclose(p);
    FILE *e = fopen(errfile, "r");
    assert_non_null(e);
    *err = read_stream(e);
    fclose(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect(const char *args, int status, const char *out, const char *err)
{
    char *o, *e;
    int rc = run(args, &o, &e);
    if (rc != status || strcmp(o, out) != 0 || strcmp(e, err) != 0)
        fail_msg("msgflo-procfile %s\nexit %d (expected %d)\nstdout:\n%s\nexpected:\n%s\n"
                 "stderr:\n%s\nexpected:\n%s",
                 args, rc, status, o, out, e, err);
    free(o);
    free(e);
}

static int setup(void **state)
{
    if (!mkdtemp(workdir))
        return -1;
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s/empty", workdir);
    return mkdir(dir, 0755);
}

static int teardown(void **state)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- spec/procfile.coffee ---- */

static void test_imgflo_server(void **state)
{
    expect("--components participants --library " FX "/library-imgflo.json --ignore=imgflo_jobs "
           "--ignore=imgflo_api --ignore drop --include 'web: node index.js' " FX
           "/imgflo-server.fbp",
           0,
           "imgflo_worker: node worker.js --name imgflo_worker\n"
           "web: node index.js\n",
           "");
}

static void test_iips(void **state)
{
    expect(FX "/iips.fbp --library " FX "/library-noflo.json --ignore web --include "
              "'web: node index.js'",
           0,
           "fast: node ./node_modules/.bin/noflo-runtime-msgflo --name fast --graph api/Worker "
           "--cache true --iips '{\"port\":\"8082\"}' --prefetch 1\n"
           "slow: node ./node_modules/.bin/noflo-runtime-msgflo --name slow --graph api/Worker "
           "--cache true --iips '{\"port\":\"8081\"}' --prefetch 1\n"
           "web: node index.js\n",
           "");
}

static void test_missing_component(void **state)
{
    expect(FX "/imgflo-server.fbp --components participants --ignore=imgflo_jobs "
              "--ignore=imgflo_api --ignore drop --include 'web: node index.js'",
           1, "",
           "msgflo-procfile: No component imgflo-server/ProcessImage defined for role "
           "imgflo_worker\n");
}

static void test_handlers_without_prefix(void **state)
{
    expect("--library=" FX "/library-handlers.json --components=" FX " " FX
           "/handlers.fbp --include 'web: node index.js'",
           0,
           "foo: msgflo-nodejs --name foo " FX "/ProduceFoo.coffee\n"
           "web: node index.js\n",
           "");
}

/* ---- the rest of the original's behaviour, and ours ---- */

static void test_output_shape(void **state)
{
    /* no --include: the original still prints the newline before the
     * (empty) includes, so the text ends in an empty line */
    expect(FX "/iips.fbp --library " FX "/library-noflo.json --ignore fast,slow", 0,
           "web: node web.js\n\n", "");
    /* several includes, in order */
    expect(FX "/iips.fbp --library " FX "/library-noflo.json --ignore fast --ignore=slow "
              "--ignore web --include a --include='b: c d'",
           0, "\na\nb: c d\n", "");
}

static void test_roundrobin_is_skipped(void **state)
{
    /* the original needs --ignore s_jobs here ("No component
     * msgflo/RoundRobin defined for role s_jobs"): it is not a process */
    static const char simple[] =
        "s_api: ./node_modules/.bin/coffee spec/fixtures/participants.coffee Repeat s_api\n"
        "s_worker: ./node_modules/.bin/coffee spec/fixtures/participants.coffee ErrorIf "
        "s_worker\n"
        "s_drop: ./node_modules/.bin/coffee spec/fixtures/participants.coffee Drop s_drop\n\n";
    expect("--library " FX "/library-simple.json " FX "/simple.fbp", 0, simple, "");
    expect("--library " FX "/library-simple.json --ignore s_jobs " FX "/simple.fbp", 0, simple, "");
}

static void test_json_graph_ports_as_written(void **state)
{
    /* the original reads FBP JSON with JSON.parse: port names stay as written */
    expect(FX "/json-iips.json --library " FX "/library-noflo.json", 0,
           "slow: node ./node_modules/.bin/noflo-runtime-msgflo --name slow --graph api/Worker "
           "--cache true --iips '{\"PORT\":8081,\"Other\":[true,null]}' --prefetch 1\n\n",
           "");
}

static void test_executables_and_default_library(void **state)
{
    /* no --library and no package.json: the default handlers only, and a
     * C participant binary in the component directory needs nothing else */
    char dir[1100], path[1200], args[3000];
    snprintf(dir, sizeof(dir), "%s/parts", workdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/repeat", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/g.fbp", workdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("'x' -> IN r(repeat) OUT -> IN s(repeat)\n", f);
    fclose(f);
    snprintf(args, sizeof(args), "--componentdir ../parts ../g.fbp");
    expect(args, 0, "r: ../parts/repeat r\ns: ../parts/repeat s\n\n", "");
    /* package.json in the working directory is the default library */
    snprintf(path, sizeof(path), "%s/empty/package.json", workdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"demo\", \"msgflo\": {\"components\": {\"demo/X\": \"x #ROLE #IIPS\"}}}", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/h.fbp", workdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("'1' -> IN a(X) OUT -> IN b(repeat)\n", f);
    fclose(f);
    expect("--components ../parts ../h.fbp", 0, "a: x a '{\"in\":\"1\"}'\nb: ../parts/repeat b\n\n",
           "");
    snprintf(path, sizeof(path), "%s/empty/package.json", workdir);
    assert_int_equal(unlink(path), 0);
}

static void test_errors(void **state)
{
    char *o, *e;
    assert_int_equal(run(FX "/nope.fbp", &o, &e), 1);
    assert_string_equal(o, "");
    assert_string_equal(e, FX "/nope.fbp: cannot open: No such file or directory\n");
    free(o);
    free(e);
    assert_int_equal(run(FX "/iips.fbp --library nope.json", &o, &e), 1);
    assert_string_equal(
        e, "msgflo-procfile: nope.json: cannot open the library configuration: No such file or "
           "directory\n");
    free(o);
    free(e);
    /* a .fbp file read as FBP JSON */
    assert_int_equal(run(FX "/iips.fbp --library " FX "/iips.fbp", &o, &e), 1);
    static const char prefix[] = "msgflo-procfile: " FX "/iips.fbp:1:";
    assert_true(strncmp(e, prefix, strlen(prefix)) == 0);
    assert_non_null(strstr(e, "invalid JSON"));
    free(o);
    free(e);
}

static void test_usage(void **state)
{
    char *o, *e;
    assert_int_equal(run("", &o, &e), 2);
    assert_non_null(strstr(e, "no graph file specified"));
    assert_non_null(strstr(e, "Usage: msgflo-procfile"));
    free(o);
    free(e);
    assert_int_equal(run("--help", &o, &e), 0);
    assert_non_null(strstr(o, "--components DIR"));
    assert_string_equal(e, "");
    free(o);
    free(e);
    assert_int_equal(run("--nope x.fbp", &o, &e), 2);
    assert_non_null(strstr(e, "unknown option --nope"));
    free(o);
    free(e);
    assert_int_equal(run("x.fbp --library", &o, &e), 2);
    assert_non_null(strstr(e, "option --library needs a value"));
    free(o);
    free(e);
    assert_int_equal(run("a.fbp b.fbp", &o, &e), 2);
    assert_non_null(strstr(e, "too many arguments"));
    free(o);
    free(e);
    /* --libraryX is not --library */
    assert_int_equal(run("--libraryX=a x.fbp", &o, &e), 2);
    free(o);
    free(e);
}

/* ---- graph__load_file ---- */

static void test_load_file(void **state)
{
    struct graph *g = NULL;
    struct graph_error err;
    assert_int_equal(graph__load_file(FX "/iips.fbp", false, &g, &err), 0);
    assert_int_equal(g->n_processes, 3);
    assert_string_equal(g->connections[2].tgt.port, "port");
    graph__free(g);
    assert_int_equal(graph__load_file(FX "/iips.fbp", true, &g, &err), 0);
    assert_string_equal(g->connections[2].tgt.port, "PORT");
    graph__free(g);

    /* FBP JSON: lowercased as fbp-graph does, or as written */
    assert_int_equal(graph__load_file(FX "/json-iips.json", false, &g, &err), 0);
    assert_string_equal(g->connections[0].tgt.port, "port");
    assert_true(json_is_integer(g->connections[0].data));
    graph__free(g);
    assert_int_equal(graph__load_file(FX "/json-iips.json", true, &g, &err), 0);
    assert_string_equal(g->connections[0].tgt.port, "PORT");
    assert_true(g->case_sensitive);
    graph__free(g);

    assert_true(graph__path_is_json("a/b.json"));
    assert_false(graph__path_is_json("a.json.fbp"));
    assert_false(graph__path_is_json("json"));
}

static void test_load_file_errors(void **state)
{
    struct graph *g = (struct graph *)1;
    struct graph_error err;
    char path[1200];

    assert_int_equal(graph__load_file(FX "/none.fbp", false, &g, &err), MSGFLO_ESYS);
    assert_null(g);
    assert_string_equal(err.message, FX "/none.fbp: cannot open: No such file or directory");

    snprintf(path, sizeof(path), "%s/bad.fbp", workdir);
    FILE *f = fopen(path, "w");
    fputs("a(A) OUT -> IN b(B)\nb OUT -> IN (c\n", f);
    fclose(f);
    assert_int_equal(graph__load_file(path, false, &g, &err), MSGFLO_EINVAL);
    assert_int_equal(err.line, 2);
    char want[1300];
    snprintf(want, sizeof(want), "%s:2:", path);
    assert_true(strncmp(err.message, want, strlen(want)) == 0);

    snprintf(path, sizeof(path), "%s/bad.json", workdir);
    f = fopen(path, "w");
    fputs("{\"processes\": {\n  \"a\": 1}}", f);
    fclose(f);
    for (int cs = 0; cs < 2; cs++) {
        assert_int_equal(graph__load_file(path, cs, &g, &err), MSGFLO_EINVAL);
        snprintf(want, sizeof(want), "%s: processes.a: ", path);
        assert_true(strncmp(err.message, want, strlen(want)) == 0);
    }

    f = fopen(path, "w");
    fputs("{\"processes\": {\n  \"a\" 1}}", f);
    fclose(f);
    for (int cs = 0; cs < 2; cs++) {
        assert_int_equal(graph__load_file(path, cs, &g, &err), MSGFLO_EJSON);
        assert_int_equal(err.line, 2);
        snprintf(want, sizeof(want), "%s:2:", path);
        assert_true(strncmp(err.message, want, strlen(want)) == 0);
    }

    /* JSON graphs are validated like .fbp ones */
    f = fopen(path, "w");
    fputs("{\"connections\": [{\"src\": {\"process\": \"x\", \"port\": \"out\"}, \"tgt\": "
          "{\"process\": \"y\", \"port\": \"in\"}}]}",
          f);
    fclose(f);
    assert_int_equal(graph__load_file(path, false, &g, &err), MSGFLO_EINVAL);
    assert_non_null(strstr(err.message, "undefined"));

    /* a directory */
    assert_int_equal(graph__load_file(workdir, false, &g, &err), MSGFLO_ESYS);
    snprintf(want, sizeof(want), "%s: cannot read: Is a directory", workdir);
    assert_string_equal(err.message, want);
    /* err may be NULL */
    assert_int_equal(graph__load_file(workdir, false, &g, NULL), MSGFLO_ESYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imgflo_server),
        cmocka_unit_test(test_iips),
        cmocka_unit_test(test_missing_component),
        cmocka_unit_test(test_handlers_without_prefix),
        cmocka_unit_test(test_output_shape),
        cmocka_unit_test(test_roundrobin_is_skipped),
        cmocka_unit_test(test_json_graph_ports_as_written),
        cmocka_unit_test(test_executables_and_default_library),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
