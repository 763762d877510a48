/* Shared by the guv unit tests: a configuration parsed from YAML text
 * (file name t.guv.yaml, no environment), asserting that it parses; guv's
 * YAML test vectors (tests/fixtures/guv) read as JSON. */
#ifndef MSGFLO_TESTS_GUV_TEST_CONFIG_H
#define MSGFLO_TESTS_GUV_TEST_CONFIG_H

#include "yaml/yaml_reader.h"
#include "guv/config.h"

#include <stdio.h>
#include <string.h>

static inline const char *guv_test_no_env(const char *name, void *arg)
{
    (void)name;
    (void)arg;
    return NULL;
}

/* Owned by the caller (free with guv_config__free). */
static inline struct guv_config *guv_test_config(const char *yaml)
{
    char err[512];
    struct guv_config *cfg = NULL;
    struct guv_config_options o = {.filename = "t.guv.yaml", .getenv = guv_test_no_env};
    int rc = guv_config__parse(yaml, strlen(yaml), &o, &cfg, err, sizeof err);
    if (rc)
        fprintf(stderr, "config error: %s\n", err);
    assert_int_equal(rc, 0);
    return cfg;
}

#ifdef MSGFLO_GUV_FIXTURES
/* A fixture of MSGFLO_GUV_FIXTURES read as JSON (a new reference). */
static inline json_t *guv_test_fixture(const char *name)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", MSGFLO_GUV_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t len = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_true(len < sizeof text);
    struct yreader r;
    struct ynode *root = NULL;
    json_t *out = NULL;
    int rc = yaml_reader__read(&r, text, len, path, err, sizeof err, &root);
    if (rc == 0)
        rc = yaml_reader__to_json(&r, root, &out);
    yaml_reader__free(&r);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    return out;
}

#endif

#endif
