/* Conformance vectors for the .fbp parser: every NAME.fbp in the vector
 * directory (tests/conformance/fbp by default, or argv[1]) is parsed with the
 * default options and with caseSensitive, and the result must be what the
 * reference parser (npm fbp 1.8.0) gave: NAME[.cs].json byte for byte (and
 * as a JSON value), or NAME[.cs].error.json's message, line and column.
 * Deliberate differences: where the reference crashes with a TypeError (an
 * IIP whose data is falsy, sent to an undefined node) we give its message
 * for IIPs instead; validation errors, which have no place in the
 * reference, have one here (the mention of the offending node). */
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

struct vector {
    char name[256];
    char dir[1024];
    bool case_sensitive;
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2 + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* \uD800-\uDFFF escapes that are not a high + low pair become \uFFFD, in place. */
static bool replace_lone_surrogates(char *text)
{
    bool any = false;
    for (char *p = text; (p = strstr(p, "\\u")) != NULL; p += 2) {
        if (p > text && p[-1] == '\\')
            continue; /* an escaped backslash followed by u */
        if (!is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
            continue;
        unsigned long u = strtoul((char[]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
        if (u >= 0xD800 && u <= 0xDBFF && p[6] == '\\' && p[7] == 'u') {
            unsigned long lo = strtoul((char[]){p[8], p[9], p[10], p[11], 0}, NULL, 16);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                p += 6;
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            memcpy(p + 2, "FFFD", 4);
            any = true;
        }
    }
    return any;
}

static void check_vector(void **state)
{
    const struct vector *v = *state;
    char path[1400];
    size_t len;
    struct fbp_parse_options opts = {v->case_sensitive};
    struct graph *g = NULL;
    struct graph_error err;
    const char *suffix = v->case_sensitive ? ".cs" : "";

    snprintf(path, sizeof(path), "%s/%s.fbp", v->dir, v->name);
    char *text = slurp(path, &len);
    assert_non_null(text);
    int rc = fbp__parse(text, len, &opts, &g, &err);

    snprintf(path, sizeof(path), "%s/%s%s.json", v->dir, v->name, suffix);
    char *expected = slurp(path, NULL);
    if (expected) {
        if (rc != 0)
            print_error("%s: unexpected error %d:%d: %s\n", v->name, err.line, err.column,
                        err.message);
        assert_int_equal(rc, 0);
        char *ours = NULL;
        assert_int_equal(graph_json__write(g, &ours), 0);
        json_t *a = json_loads(ours, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
        /* a lone surrogate (from a JSON escape) is U+FFFD for us: UTF-8 cannot hold it */
        bool lone = replace_lone_surrogates(expected);
        json_t *b = json_loads(expected, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(a, b))
            print_error("%s: ours:\n%s\nreference:\n%s", v->name, ours, expected);
        assert_true(json_equal(a, b));
        /* byte for byte: what `msgflo-graph json` prints is what `fbp` prints */
        size_t n = strlen(ours);
        if (!lone) {
            assert_true(n + 1 == strlen(expected));
            assert_memory_equal(ours, expected, n);
        }
        json_decref(a);
        json_decref(b);
        free(ours);
    } else {
        snprintf(path, sizeof(path), "%s/%s%s.error.json", v->dir, v->name, suffix);
        json_error_t jerr;
        json_t *e = json_load_file(path, 0, &jerr);
        assert_non_null(e);
        const char *message = json_string_value(json_object_get(e, "message"));
        assert_non_null(message);
        bool crashed = strstr(message, "Maximum call stack size exceeded") != NULL;
        if (rc == 0 && !crashed)
            print_error("%s: parsed, but the reference fails with: %s\n", v->name, message);
        assert_true(rc != 0 || crashed);
        if (strstr(message, "Maximum call stack size exceeded")) {
            /* the reference ran out of stack (JSON nested ~5000 deep); we may not */
        } else if (strncmp(message, "Cannot read properties", 22) == 0) {
            assert_true(strncmp(err.message, "IIP containing", 14) == 0);
        } else {
            if (strcmp(err.message, message) != 0)
                print_error("%s:\n ours: %s\n  ref: %s\n", v->name, err.message, message);
            assert_string_equal(err.message, message);
            json_int_t line = json_integer_value(json_object_get(e, "line"));
            json_int_t column = json_integer_value(json_object_get(e, "column"));
            if (line > 0) {
                assert_int_equal(err.line, line);
                assert_int_equal(err.column, column);
            } else {
                /* the reference gives validation errors no place; we do */
                assert_true(err.line > 0 && err.column > 0);
            }
        }
        json_decref(e);
    }
    free(expected);
    graph__free(g);
    free(text);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct vector *)a)->name, ((const struct vector *)b)->name);
}

int main(int argc, char **argv)
{
    char dir[1024];
    if (argc > 1) {
        snprintf(dir, sizeof(dir), "%s", argv[1]);
    } else {
        /* this file is tests/unit/test_fbp_vectors.c; vectors are in tests/conformance/fbp */
        snprintf(dir, sizeof(dir), "%s", __FILE__);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/conformance/fbp");
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "test_fbp_vectors: cannot open %s\n", dir);
        return 1;
    }
    size_t n = 0, cap = 256;
    struct vector *vectors = calloc(cap, sizeof(*vectors));
    struct dirent *ent;
    while (vectors && (ent = readdir(d))) {
        size_t len = strlen(ent->d_name);
        if (len < 5 || len >= 256 || strcmp(ent->d_name + len - 4, ".fbp") != 0)
            continue;
        for (int cs = 0; cs < 2; cs++) {
            if (n == cap) {
                struct vector *bigger = realloc(vectors, cap * 2 * sizeof(*vectors));
                if (!bigger)
                    return 1;
                vectors = bigger;
                cap *= 2;
            }
            memset(&vectors[n], 0, sizeof(vectors[n]));
            memcpy(vectors[n].name, ent->d_name, len - 4);
            snprintf(vectors[n].dir, sizeof(vectors[n].dir), "%s", dir);
            vectors[n].case_sensitive = cs;
            n++;
        }
    }
    closedir(d);
    if (!vectors || n == 0) {
        fprintf(stderr, "test_fbp_vectors: no vectors in %s\n", dir);
        return 1;
    }
    qsort(vectors, n, sizeof(*vectors), by_name);
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    char(*names)[300] = calloc(n, sizeof(*names));
    if (!tests || !names)
        return 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "%s%s", vectors[i].name,
                 vectors[i].case_sensitive ? " (caseSensitive)" : "");
        tests[i].name = names[i];
        tests[i].test_func = check_vector;
        tests[i].initial_state = &vectors[i];
    }
    int failed = _cmocka_run_group_tests("fbp_vectors", tests, n, NULL, NULL);
    free(tests);
    free(names);
    free(vectors);
    return failed;
}
