/* Syntax errors as the reference parser (PEG.js 0.9) reports them: the
 * furthest position any terminal failed at, its line and column (columns in
 * UTF-16 code units, "\r\n" one line break, U+2028/U+2029 line breaks too),
 * and "Expected A, B or C but "x" found." with the expectations sorted. Also
 * the input's UTF-8 clean-up, which Node does when it reads a file. */
#include "graph/fbp_parser_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/internal.h"

static const char *const descriptions[X__COUNT] = {
    [X_INPORT] = "\"INPORT=\"",
    [X_OUTPORT] = "\"OUTPORT=\"",
    [X_DEFAULT_INPORT] = "\"DEFAULT_INPORT=\"",
    [X_DEFAULT_OUTPORT] = "\"DEFAULT_OUTPORT=\"",
    [X_DOT] = "\".\"",
    [X_COLON] = "\":\"",
    [X_COMMA] = "\",\"",
    [X_NEWLINE] = "[\\n\\r\\u2028\\u2029]",
    [X_HASH] = "\"#\"",
    [X_ARROW] = "\"->\"",
    [X_QUOTE] = "\"'\"",
    [X_NAME_START] = "[a-zA-Z_]",
    [X_NAME_CHAR] = "[a-zA-Z0-9_\\-]",
    [X_LPAREN] = "\"(\"",
    [X_COMPONENT_CHAR] = "[a-zA-Z/\\-0-9_]",
    [X_RPAREN] = "\")\"",
    [X_META_CHAR] = "[a-zA-Z/=_,0-9]",
    [X_AT] = "\"@\"",
    [X_ANNOTATION_KEY] = "[a-zA-Z0-9\\-_]",
    [X_ANNOTATION_VALUE] = "[a-zA-Z0-9\\-_ \\.]",
    [X_PORT_CHAR] = "[a-zA-Z.0-9_]",
    [X_LBRACKET] = "\"[\"",
    [X_DIGIT] = "[0-9]",
    [X_RBRACKET] = "\"]\"",
    [X_ANYCHAR] = "[^\\n\\r\\u2028\\u2029]",
    [X_BACKSLASH_CLASS] = "[\\\\]",
    [X_QUOTE_CLASS] = "[']",
    [X_NOT_QUOTE] = "[^']",
    [X_SPACE] = "\" \"",
    [X_LBRACE] = "\"{\"",
    [X_RBRACE] = "\"}\"",
    [X_FALSE] = "\"false\"",
    [X_NULL] = "\"null\"",
    [X_TRUE] = "\"true\"",
    [X_NUMBER] = "number",
    [X_STRING] = "string",
    [X_END] = "end of input",
};

/* Decodes the (valid) UTF-8 character at s; returns its length. */
static size_t decode(const unsigned char *s, size_t n, unsigned long *cp)
{
    if (s[0] < 0x80 || n < 2) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xE0) {
        *cp = ((unsigned long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0 || n < 4) {
        *cp = n < 3 ? 0xFFFD
                    : ((unsigned long)(s[0] & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6) |
                          (s[2] & 0x3F);
        return n < 3 ? n : 3;
    }
    *cp = ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12) |
          ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

/* peg$computePosDetails */
static void location(const struct fbp_parser *p, size_t pos, int *line, int *column)
{
    const unsigned char *s = (const unsigned char *)p->s;
    long l = 1, c = 1;
    bool seen_cr = false;
    size_t i = 0;
    while (i < pos) {
        unsigned long cp;
        size_t len = decode(s + i, p->n - i, &cp);
        if (cp == '\n') {
            if (!seen_cr)
                l++;
            c = 1;
            seen_cr = false;
        } else if (cp == '\r' || cp == 0x2028 || cp == 0x2029) {
            l++;
            c = 1;
            seen_cr = true;
        } else {
            c += cp > 0xFFFF ? 2 : 1;
            seen_cr = false;
        }
        i += len;
    }
    *line = l > 0x7FFFFFFF ? 0x7FFFFFFF : (int)l;
    *column = c > 0x7FFFFFFF ? 0x7FFFFFFF : (int)c;
}

/* The found character as PEG.js's stringEscape writes it (one UTF-16 unit). */
static void found_desc(const struct fbp_parser *p, struct strbuf *sb)
{
    if (p->max_fail >= p->n) {
        strbuf__puts(sb, "end of input");
        return;
    }
    unsigned long cp;
    decode((const unsigned char *)p->s + p->max_fail, p->n - p->max_fail, &cp);
    if (cp > 0xFFFF)
        cp = 0xD800 + ((cp - 0x10000) >> 10);
    strbuf__putc(sb, '"');
    switch (cp) {
    case '\\':
        strbuf__puts(sb, "\\\\");
        break;
    case '"':
        strbuf__puts(sb, "\\\"");
        break;
    case '\b':
        strbuf__puts(sb, "\\b");
        break;
    case '\t':
        strbuf__puts(sb, "\\t");
        break;
    case '\n':
        strbuf__puts(sb, "\\n");
        break;
    case '\f':
        strbuf__puts(sb, "\\f");
        break;
    case '\r':
        strbuf__puts(sb, "\\r");
        break;
    default:
        if (cp < 0x10 || (cp >= 0x10 && cp < 0x20) || (cp >= 0x80 && cp <= 0xFF))
            strbuf__printf(sb, "\\x%02lX", cp);
        else if (cp >= 0x100 && cp <= 0xFFF)
            strbuf__printf(sb, "\\u0%03lX", cp);
        else if (cp >= 0x1000)
            strbuf__printf(sb, "\\u%04lX", cp);
        else
            strbuf__putc(sb, (char)cp);
    }
    strbuf__putc(sb, '"');
}

void fbp__locate(const struct fbp_parser *p, size_t pos, struct graph_error *err)
{
    if (err)
        location(p, pos, &err->line, &err->column);
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void fbp__syntax_error(const struct fbp_parser *p, struct graph_error *err)
{
    if (!err)
        return;
    const char *list[X__COUNT];
    size_t n = 0;
    for (int x = 0; x < X__COUNT; x++)
        if (p->expected & ((uint64_t)1 << x))
            list[n++] = descriptions[x];
    qsort(list, n, sizeof(list[0]), cmp_desc);

    struct strbuf sb;
    strbuf__init(&sb);
    strbuf__puts(&sb, "Expected ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf__puts(&sb, i + 1 == n ? " or " : ", ");
        strbuf__puts(&sb, list[i]);
    }
    strbuf__puts(&sb, " but ");
    found_desc(p, &sb);
    strbuf__puts(&sb, " found.");
    snprintf(err->message, sizeof(err->message), "%s", sb.data ? sb.data : "syntax error");
    strbuf__cleanup(&sb);
    location(p, p->max_fail, &err->line, &err->column);
}

/* Length of the valid UTF-8 sequence at s, or 0 (WHATWG rules). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* The maximal subpart of an invalid sequence, replaced by one U+FFFD. */
static size_t utf8_invalid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    size_t i = 1;
    while (i <= need && i < n && s[i] >= lo && s[i] <= hi) {
        i++;
        lo = 0x80;
        hi = 0xBF;
    }
    return i;
}

int fbp__sanitize_utf8(const char *text, size_t n, char **out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    *out = NULL;
    *out_len = 0;
    for (;;) {
        /* ASCII runs, eight bytes at a time */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t len = utf8_valid(s + i, n - i);
        if (!len)
            break;
        i += len;
    }
    if (i == n)
        return 0;
    struct strbuf sb;
    strbuf__init(&sb);
    strbuf__append(&sb, text, i);
    while (i < n) {
        size_t len = utf8_valid(s + i, n - i);
        if (len) {
            strbuf__append(&sb, text + i, len);
            i += len;
        } else {
            strbuf__puts(&sb, "\xEF\xBF\xBD");
            i += utf8_invalid_len(s + i, n - i);
        }
    }
    *out_len = sb.len;
    *out = strbuf__steal(&sb);
    return *out ? 0 : MSGFLO_ENOMEM;
}
