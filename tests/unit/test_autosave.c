/* Auto-save of the live graph: the atomic write, the format chosen by the
 * file name, and the debounce (one write per burst of changes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/file.h"
#include "msgflo/errors.h"
#include "runtime/autosave.h"

static char dir[] = "/tmp/msgflo-autosave-test-XXXXXX";

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/msgflo-autosave-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

static int count_files(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] != '.')
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (file__read(path, &text, &len, NULL, 0) != 0)
        return NULL;
    char *s = malloc(len + 1);
    memcpy(s, text, len);
    s[len] = '\0';
    free(text);
    return s;
}

static json_t *sample_graph(void)
{
    json_error_t e;
    return json_loads("{\"properties\":{\"name\":\"main\"},\"processes\":{\"a\":{\"component\":"
                      "\"core/Repeat\",\"metadata\":{\"x\":1}},\"b\":{\"component\":\"core/Drop\","
                      "\"metadata\":{}}},\"connections\":[{\"src\":{\"process\":\"a\",\"port\":"
                      "\"out\"},\"tgt\":{\"process\":\"b\",\"port\":\"in\"}}],\"inports\":{},"
                      "\"outports\":{}}",
                      0, &e);
}

static void write_file_replaces_atomically(void **state)
{
    (void)state;
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/g.json", dir);
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(autosave__write_file(path, "new text", 8, err, sizeof err), 0);
    char *s = slurp(path);
    assert_string_equal(s, "new text");
    free(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* permissions kept */
    assert_int_equal(count_files(), 1);        /* no temporary left */
}

static void write_file_reports_the_place(void **state)
{
    (void)state;
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/missing/g.json", dir);
    assert_int_equal(autosave__write_file(path, "x", 1, err, sizeof err), MSGFLO_ESYS);
    assert_non_null(strstr(err, "missing/g.json.msgflo-autosave-"));
    assert_non_null(strstr(err, "cannot create"));
}

static void format_follows_the_name(void **state)
{
    (void)state;
    json_t *g = sample_graph();
    char *text = NULL, err[256] = "";
    assert_int_equal(autosave__format("x.json", g, &text, err, sizeof err), 0);
    assert_non_null(strstr(text, "\n  \"processes\": {\n    \"a\": {"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    assert_int_equal(autosave__format("x.fbp", g, &text, err, sizeof err), 0);
    assert_non_null(strstr(text, "a(core/Repeat:x=1) OUT -> IN b(core/Drop)"));
    free(text);
    json_decref(g);
}

struct counter {
    int snapshots;
};

static json_t *snapshot(void *ud)
{
    struct counter *c = ud;
    c->snapshots++;
    return sample_graph();
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void debounces_a_burst(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/g.json", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct counter c = {0};
    struct autosave *a = NULL;
    assert_int_equal(autosave__new(&loop, path, 30, snapshot, &c, &a), 0);
    for (int i = 0; i < 5; i++)
        autosave__changed(a);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, stop_loop, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.snapshots, 1);
    char *s = slurp(path);
    assert_non_null(s);
    assert_non_null(strstr(s, "core/Drop"));
    free(s);
    /* Nothing pending: close writes nothing; a pending change is written. */
    autosave__changed(a);
    autosave__close(a);
    assert_int_equal(c.snapshots, 2);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_file_replaces_atomically, setup, teardown),
        cmocka_unit_test_setup_teardown(write_file_reports_the_place, setup, teardown),
        cmocka_unit_test(format_follows_the_name),
        cmocka_unit_test_setup_teardown(debounces_a_burst, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
