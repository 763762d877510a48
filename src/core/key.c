/* Composite hash keys; see key.h. */
#include "core/key.h"

#include <stdlib.h>
#include <string.h>

size_t key__length(const char *const *parts, size_t n)
{
    size_t len = n ? 0 : 1; /* each part and its separator, the last one's is the NUL */
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    return len;
}

char *key__write(char *dst, const char *const *parts, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(dst + at, parts[i], l);
        at += l;
        if (i + 1 < n)
            dst[at++] = '\x1f';
    }
    dst[at] = '\0';
    return dst;
}

char *key__join(const char *const *parts, size_t n)
{
    char *key = malloc(key__length(parts, n));
    return key ? key__write(key, parts, n) : NULL;
}

char *key__join_buf(char *buf, size_t cap, const char *const *parts, size_t n)
{
    if (key__length(parts, n) <= cap)
        return key__write(buf, parts, n);
    return key__join(parts, n);
}

void key__done(char *key, const char *buf)
{
    if (key != buf)
        free(key);
}

char *key__pack(char *text, const char *const *parts, size_t n, const char **names)
{
    char *at = text + key__length(parts, n);
    for (size_t i = 0; i < n; i++)
        names[i] = key__put(&at, parts[i]);
    return key__write(text, parts, n);
}

char *key__put(char **at, const char *s)
{
    size_t l = strlen(s) + 1;
    char *copy = memcpy(*at, s, l);
    *at += l;
    return copy;
}
