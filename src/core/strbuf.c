#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgflo/errors.h"

void strbuf__init(struct strbuf *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void strbuf__cleanup(struct strbuf *sb)
{
    free(sb->data);
    strbuf__init(sb);
}

static int strbuf__grow(struct strbuf *sb, size_t extra)
{
    if (sb->err)
        return sb->err;
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            sb->err = MSGFLO_ENOMEM;
            return sb->err;
        }
        cap *= 2;
    }
    char *data = realloc(sb->data, cap);
    if (!data) {
        sb->err = MSGFLO_ENOMEM;
        return sb->err;
    }
    sb->data = data;
    sb->cap = cap;
    return 0;
}

void strbuf__reserve(struct strbuf *sb, size_t n)
{
    strbuf__grow(sb, n);
}

void strbuf__append(struct strbuf *sb, const char *s, size_t n)
{
    if (strbuf__grow(sb, n))
        return;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void strbuf__puts(struct strbuf *sb, const char *s)
{
    strbuf__append(sb, s, strlen(s));
}

void strbuf__putc(struct strbuf *sb, char c)
{
    strbuf__append(sb, &c, 1);
}

void strbuf__printf(struct strbuf *sb, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->err = MSGFLO_EINVAL;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        strbuf__append(sb, small, (size_t)n);
        return;
    }
    if (strbuf__grow(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

char *strbuf__steal(struct strbuf *sb)
{
    if (sb->err) {
        strbuf__cleanup(sb);
        return NULL;
    }
    if (strbuf__grow(sb, 0)) {
        strbuf__cleanup(sb);
        return NULL;
    }
    if (!sb->data) {
        sb->data = calloc(1, 1);
        if (!sb->data)
            return NULL;
    }
    char *data = sb->data;
    strbuf__init(sb);
    return data;
}
