/* Shared by unit tests: JSON from readable text. */
#ifndef MSGFLO_TESTS_JSON_TEXT_H
#define MSGFLO_TESTS_JSON_TEXT_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* JSON from text with ' for " (readable expectations); a new reference.
 * Fails the test on bad JSON. */
static inline json_t *J(const char *text)
{
    char *t = strdup(text);
    assert_non_null(t);
    for (char *c = t; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_error_t e;
    json_t *v = json_loads(t, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON (%s): %s", e.text, t);
    free(t);
    return v;
}

#endif
