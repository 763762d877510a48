/* The coordinator's discovery parser against the discovery protocol 1.0
 * (docs/discovery-protocol.md): every vector of tests/fixtures/discovery is
 * judged as vectors.json says (the conformance test discovery_schema runs the
 * JSON Schema on the same files), and errors name the field and the
 * participant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "discovery/discovery.h"
#include "msgflo/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MSGFLO_DISCOVERY_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void test_vectors(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file("vectors.json", &len);
    json_error_t jerr;
    json_t *table = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!table)
        fail_msg("vectors.json: %s", jerr.text);
    json_t *vectors = json_object_get(table, "vectors");
    assert_true(json_array_size(vectors) > 40);
    size_t i, n_valid = 0, n_invalid = 0;
    json_t *v;
    json_array_foreach(vectors, i, v)
    {
        const char *file = json_string_value(json_object_get(v, "file"));
        bool valid = json_is_true(json_object_get(v, "valid"));
        const char *field = json_string_value(json_object_get(v, "field"));
        assert_non_null(file);
        char *data = read_file(file, &len);
        json_t *payload = NULL;
        char err[512] = "";
        int rc = discovery__parse(data, len, &payload, err, sizeof err);
        if (valid) {
            if (rc != 0)
                fail_msg("%s: refused: %s", file, err);
            /* the payload as sent, unknown members included */
            json_t *msg = json_loadb(data, len, JSON_ALLOW_NUL, &jerr);
            assert_true(json_equal(payload, json_object_get(msg, "payload")));
            json_decref(msg);
            n_valid++;
        } else {
            char want[128];
            assert_non_null(field);
            snprintf(want, sizeof want, ": %s ", field);
            if (rc != MSGFLO_EINVAL)
                fail_msg("%s: accepted (rc %d), the spec refuses %s", file, rc, field);
            assert_null(payload);
            if (!strstr(err, want))
                fail_msg("%s: '%s' does not name %s", file, err, field);
            n_invalid++;
        }
        json_decref(payload);
        free(data);
    }
    assert_true(n_valid > 10 && n_invalid > 20);
    json_decref(table);
}

static void check_error(const char *text, int want_rc, const char *want)
{
    json_t *p = NULL;
    char err[512] = "";
    int rc = discovery__parse(text, strlen(text), &p, err, sizeof err);
    assert_int_equal(rc, want_rc);
    assert_null(p);
    if (strcmp(err, want) != 0)
        fail_msg("got  '%s'\nwant '%s'", err, want);
}

#define ENV_HEAD "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":"
#define ENV(payload)                                                                               \
    "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":" payload "}"

/* The whole error line: field, what is wrong with it, and who sent it. */
static void test_error_text(void **state)
{
    (void)state;
    /* jansson's own words after the prefix */
    json_t *p = NULL;
    char err[512];
    assert_int_equal(discovery__parse("[1,", 3, &p, err, sizeof err), MSGFLO_EJSON);
    assert_null(p);
    assert_non_null(strstr(err, "discovery message is not JSON: "));
    assert_non_null(strstr(err, "(line 1 column 3)"));
    check_error("{\"protocol\":\"runtime\"}", MSGFLO_EINVAL,
                "invalid discovery message: protocol must be \"discovery\"");
    check_error(ENV("{\"id\":\"r-1\",\"role\":\"r\",\"component\":\"c\",\"inports\":[],"
                    "\"outports\":[{\"id\":\"out\",\"queue\":\"\"}]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from participant 'r-1' (role 'r'): "
                "payload.outports[0].queue must not be empty");
    check_error(ENV("{\"id\":\"\",\"role\":\"r\",\"component\":\"c\",\"inports\":[],"
                    "\"outports\":[]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from a participant of role 'r': "
                "payload.id must not be empty");
    check_error(ENV("{\"id\":\"r-1\",\"component\":\"c\",\"inports\":[],\"outports\":[]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from participant 'r-1': payload.role is missing");
    check_error(ENV("{\"id\":\"r-1\",\"role\":\"r\",\"component\":\"c\",\"label\":7,"
                    "\"inports\":[],\"outports\":[]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from participant 'r-1' (role 'r'): "
                "payload.label must be a string or null");
    check_error(ENV("{\"id\":1,\"role\":[],\"component\":\"c\",\"inports\":[],\"outports\":[]}"),
                MSGFLO_EINVAL, "invalid discovery message: payload.id must be a string");
    check_error(ENV("{\"id\":\"r-1\",\"role\":\"r\",\"component\":\"c\",\"inports\":[3],"
                    "\"outports\":[]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from participant 'r-1' (role 'r'): "
                "payload.inports[0] must be an object");
    check_error(ENV("{\"id\":\"r-1\",\"role\":\"r\",\"component\":\"c\",\"inports\":[],"
                    "\"outports\":[{\"id\":\"a\\u0000\"}]}"),
                MSGFLO_EINVAL,
                "invalid discovery message from participant 'r-1' (role 'r'): "
                "payload.outports[0].id contains U+0000");
}

/* A hostile id or role is cut and cleaned before it reaches a log line. */
static void test_error_names_participant_safely(void **state)
{
    (void)state;
    char text[4096];
    char id[201];
    memset(id, 'i', 200);
    id[200] = '\0';
    snprintf(text, sizeof text,
             ENV("{\"id\":\"%s\",\"role\":\"a\\nb\\u001b[31m\",\"component\":\"c\","
                 "\"inports\":{},\"outports\":[]}"),
             id);
    json_t *p = NULL;
    char err[512];
    assert_int_equal(discovery__parse(text, strlen(text), &p, err, sizeof err), MSGFLO_EINVAL);
    assert_non_null(
        strstr(err, "'iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii...'"));
    assert_non_null(strstr(err, "(role 'a?b?[31m')"));
    assert_non_null(strstr(err, "payload.inports must be an array"));
    assert_null(strchr(err, '\n'));

    /* cut at a character boundary: 63 ASCII bytes then a 2-byte character */
    char role[80];
    memset(role, 'r', 63);
    memcpy(role + 63, "\xc3\xa9\xc3\xa9", 5);
    snprintf(text, sizeof text,
             ENV("{\"id\":\"\",\"role\":\"%s\",\"component\":\"c\",\"inports\":[],"
                 "\"outports\":[]}"),
             role);
    assert_int_equal(discovery__parse(text, strlen(text), &p, err, sizeof err), MSGFLO_EINVAL);
    char want[100];
    snprintf(want, sizeof want, "role '%.63s...'", role);
    if (!strstr(err, want))
        fail_msg("'%s' does not contain '%s'", err, want);

    /* a short errbuf is cut, never overrun */
    char small[24];
    memset(small, 'x', sizeof small);
    assert_int_equal(discovery__parse(text, strlen(text), &p, small, 16), MSGFLO_EINVAL);
    assert_int_equal(strlen(small), 15);
    assert_int_equal(small[16], 'x');
}

/* The limits are exact: at the limit accepted, one past refused. */
static void test_limits(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        size_t max;
        const char *before, *after; /* the message around the value */
    } cases[] = {
        {"payload.id", DISCOVERY_MAX_NAME, ENV_HEAD "{\"id\":\"",
         "\",\"role\":\"r\",\"component\":\"c\",\"inports\":[],\"outports\":[]}}"},
        {"payload.icon", DISCOVERY_MAX_TEXT,
         ENV_HEAD "{\"id\":\"x\",\"role\":\"r\",\"component\":\"c\",\"icon\":\"",
         "\",\"inports\":[],\"outports\":[]}}"},
        {"payload.inports[0].type", DISCOVERY_MAX_NAME,
         ENV_HEAD "{\"id\":\"x\",\"role\":\"r\",\"component\":\"c\",\"inports\":[{"
                  "\"id\":\"in\",\"type\":\"",
         "\"}],\"outports\":[]}}"},
    };
    static char value[DISCOVERY_MAX_TEXT + 2];
    static char text[DISCOVERY_MAX_TEXT + 200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t extra = 0; extra < 2; extra++) {
            memset(value, 'v', cases[i].max + extra);
            value[cases[i].max + extra] = '\0';
            snprintf(text, sizeof text, "%s%s%s", cases[i].before, value, cases[i].after);
            json_t *p = NULL;
            char err[512] = "";
            int rc = discovery__parse(text, strlen(text), &p, err, sizeof err);
            assert_int_equal(rc, extra ? MSGFLO_EINVAL : 0);
            if (extra) {
                char want[128];
                snprintf(want, sizeof want, "%s is %zu bytes long, more than %zu", cases[i].field,
                         cases[i].max + 1, cases[i].max);
                if (!strstr(err, want))
                    fail_msg("'%s' does not contain '%s'", err, want);
            }
            json_decref(p);
        }
    }
}

/* test_discovery FILE...: the parser's verdict on each file, one line each
 * ("ok FILE" or "refused FILE: reason"); exit 1 if any is refused. Used by
 * tests/conformance/discovery-schema.js on messages captured from real
 * participants. */
static int check_files(int n, char **files)
{
    int refused = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "rb");
        static char data[1 << 17];
        size_t len = f ? fread(data, 1, sizeof data, f) : 0;
        json_t *p = NULL;
        char err[512] = "cannot read the file";
        int rc = f ? discovery__parse(data, len, &p, err, sizeof err) : -1;
        if (f)
            fclose(f);
        if (rc == 0)
            printf("ok %s\n", files[i]);
        else
            printf("refused %s: %s\n", files[i], err);
        refused += rc != 0;
        json_decref(p);
    }
    return refused ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return check_files(argc - 1, argv + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_error_names_participant_safely),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
