/* A growable NUL-terminated string buffer with a sticky error, so writers can
 * append freely and check once at the end. */
#ifndef MSGFLO_CORE_STRBUF_H
#define MSGFLO_CORE_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    int err; /* 0 or MSGFLO_ENOMEM once an append failed */
};

void strbuf__init(struct strbuf *sb);
void strbuf__cleanup(struct strbuf *sb);
/* Makes room for n more bytes (and the NUL) at once, so that many appends
 * after it do not grow the buffer step by step; sets err when out of
 * memory. The room is data + len .. data + cap - 1: a writer may write there
 * directly and then move len (and write the NUL). */
void strbuf__reserve(struct strbuf *sb, size_t n);
void strbuf__append(struct strbuf *sb, const char *s, size_t n);
void strbuf__puts(struct strbuf *sb, const char *s);
void strbuf__putc(struct strbuf *sb, char c);
void strbuf__printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the text (owned by the caller, free with free()) or NULL after an
 * error; the buffer is empty afterwards. */
char *strbuf__steal(struct strbuf *sb);

#endif
