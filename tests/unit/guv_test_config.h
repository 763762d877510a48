/* Shared by the guv unit tests: a configuration parsed from YAML text
 * (file name t.guv.yaml, no environment), asserting that it parses. */
#ifndef MSGFLO_TESTS_GUV_TEST_CONFIG_H
#define MSGFLO_TESTS_GUV_TEST_CONFIG_H

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

#endif
