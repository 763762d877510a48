/* A recording fake of the running system (coord/system.h) for driving the
 * live layer without a broker (tests/unit/test_live.c, tests/fuzz). */
#ifndef MSGFLO_TESTS_FAKE_SYSTEM_H
#define MSGFLO_TESTS_FAKE_SYSTEM_H

#include <jansson.h>
#include <stdbool.h>

#include "coord/system.h"

struct fake_system {
    char calls[65536];  /* "op args|op args|...", truncated when full; clear with calls[0] = 0 */
    const char *fail;   /* the name of the op that fails with "boom", or NULL */
    bool busy;          /* what ops.busy says */
    json_t *components; /* what ops.components copies (an array; owned by the test) */
    json_t *latest;     /* what ops.latest gives for every port (NULL: none; owned by the test) */
};

/* The operations; system.self must be a struct fake_system. */
extern const struct system_ops fake_system_ops;

#endif
