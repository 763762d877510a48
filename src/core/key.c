/* Composite hash keys; see key.h. */
#include "core/key.h"

#include <stdlib.h>
#include <string.h>

char *key__join(const char *const *parts, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *key = malloc(len);
    if (!key)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(key + at, parts[i], l);
        at += l;
        if (i + 1 < n)
            key[at++] = '\x1f';
    }
    key[at] = '\0';
    return key;
}
