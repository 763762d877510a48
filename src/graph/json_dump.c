/* JSON text exactly as JavaScript's JSON.stringify(value, null, indent)
 * writes it: integer-like keys first in numeric order, then the others in
 * insertion order; numbers in Number#toString form; the same string escapes.
 * With it `msgflo-graph json` prints byte for byte what the reference prints. */
#include "graph/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void graph_json__number(double v, char out[40])
{
    if (!isfinite(v)) {
        snprintf(out, 40, "null");
        return;
    }
    if (v == 0) {
        snprintf(out, 40, "0");
        return;
    }
    char buf[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* buf is [-]d[.ddd]e[+-]xx: collect the digits and the exponent */
    char digits[20];
    int k = 0, i = 0;
    bool neg = buf[0] == '-';
    if (neg)
        i++;
    for (; buf[i] && buf[i] != 'e'; i++)
        if (buf[i] != '.' && k < (int)sizeof(digits) - 1)
            digits[k++] = buf[i];
    digits[k] = '\0';
    int exp10 = (int)strtol(buf + i + 1, NULL, 10);
    int n = exp10 + 1; /* position of the decimal point */
    char *o = out;
    size_t left = 40;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w = snprintf(o, left, __VA_ARGS__);                                                    \
        if (w > 0 && (size_t)w < left) {                                                           \
            o += w;                                                                                \
            left -= (size_t)w;                                                                     \
        }                                                                                          \
    } while (0)
    if (neg)
        PUT("-");
    if (k <= n && n <= 21) {
        PUT("%s", digits);
        for (int z = 0; z < n - k; z++)
            PUT("0");
    } else if (0 < n && n <= 21) {
        PUT("%.*s.%s", n, digits, digits + n);
    } else if (-6 < n && n <= 0) {
        PUT("0.");
        for (int z = 0; z < -n; z++)
            PUT("0");
        PUT("%s", digits);
    } else {
        PUT("%c", digits[0]);
        if (k > 1)
            PUT(".%s", digits + 1);
        PUT("e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
#undef PUT
}

/* Numbers are JavaScript doubles: beyond 2^53 an integer prints as the
 * double it is (1234567890123457792 -> 1234567890123457800). */
static void integer(json_int_t v, struct strbuf *sb)
{
    if (v > 9007199254740992 || v < -9007199254740992) {
        char num[40];
        graph_json__number((double)v, num);
        strbuf__puts(sb, num);
    } else {
        strbuf__printf(sb, "%" JSON_INTEGER_FORMAT, v);
    }
}

void graph_json__quote(const char *s, size_t len, struct strbuf *sb)
{
    strbuf__putc(sb, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char hex[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof(hex), "\\u%04x", c);
                esc = hex;
            }
        }
        if (esc) {
            strbuf__append(sb, s + run, i - run);
            strbuf__puts(sb, esc);
            run = i + 1;
        }
    }
    strbuf__append(sb, s + run, len - run);
    strbuf__putc(sb, '"');
}

/* An array index as JavaScript orders object keys: "0" or [1-9][0-9]* below 2^32-1. */
static bool index_key(const char *k, unsigned long *v)
{
    if (!*k || (k[0] == '0' && k[1]) || strspn(k, "0123456789") != strlen(k) || strlen(k) > 10)
        return false;
    *v = strtoul(k, NULL, 10);
    return *v < 4294967295UL;
}

struct key_entry {
    const char *key;
    size_t len;
    json_t *value;
    bool is_index;
    unsigned long index;
    size_t order;
};

static int cmp_keys(const void *a, const void *b)
{
    const struct key_entry *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index && x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void newline_indent(struct strbuf *sb, int indent, int level)
{
    if (!indent)
        return;
    strbuf__putc(sb, '\n');
    for (int i = 0; i < indent * level; i++)
        strbuf__putc(sb, ' ');
}

static void dump(const json_t *v, int indent, int level, struct strbuf *sb)
{
    char num[40];
    switch (json_typeof(v)) {
    case JSON_NULL:
        strbuf__puts(sb, "null");
        break;
    case JSON_TRUE:
        strbuf__puts(sb, "true");
        break;
    case JSON_FALSE:
        strbuf__puts(sb, "false");
        break;
    case JSON_INTEGER:
        integer(json_integer_value(v), sb);
        break;
    case JSON_REAL:
        graph_json__number(json_real_value(v), num);
        strbuf__puts(sb, num);
        break;
    case JSON_STRING:
        graph_json__quote(json_string_value(v), json_string_length(v), sb);
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!n) {
            strbuf__puts(sb, "[]");
            break;
        }
        strbuf__putc(sb, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf__putc(sb, ',');
            newline_indent(sb, indent, level + 1);
            dump(json_array_get(v, i), indent, level + 1, sb);
        }
        newline_indent(sb, indent, level);
        strbuf__putc(sb, ']');
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        if (!n) {
            strbuf__puts(sb, "{}");
            break;
        }
        struct key_entry *keys = calloc(n, sizeof(*keys));
        if (!keys) {
            sb->err = MSGFLO_ENOMEM;
            break;
        }
        size_t i = 0;
        const char *key;
        size_t key_len;
        json_t *value;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)v, tmp, key, key_len, value)
        {
            keys[i].key = key;
            keys[i].len = key_len;
            keys[i].value = value;
            keys[i].order = i;
            keys[i].is_index = strlen(key) == key_len && index_key(key, &keys[i].index);
            i++;
        }
        qsort(keys, n, sizeof(*keys), cmp_keys);
        strbuf__putc(sb, '{');
        for (i = 0; i < n; i++) {
            if (i)
                strbuf__putc(sb, ',');
            newline_indent(sb, indent, level + 1);
            graph_json__quote(keys[i].key, keys[i].len, sb);
            strbuf__puts(sb, indent ? ": " : ":");
            dump(keys[i].value, indent, level + 1, sb);
        }
        free(keys);
        newline_indent(sb, indent, level);
        strbuf__putc(sb, '}');
        break;
    }
    }
}

int graph_json__dump(const json_t *value, int indent, char **out)
{
    struct strbuf sb;
    strbuf__init(&sb);
    dump(value, indent, 0, &sb);
    *out = strbuf__steal(&sb);
    return *out ? 0 : MSGFLO_ENOMEM;
}

void graph_json__js_string(const json_t *value, struct strbuf *sb)
{
    char num[40];
    switch (json_typeof(value)) {
    case JSON_STRING:
        strbuf__append(sb, json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        integer(json_integer_value(value), sb);
        break;
    case JSON_REAL:
        graph_json__number(json_real_value(value), num);
        strbuf__puts(sb, num);
        break;
    case JSON_TRUE:
        strbuf__puts(sb, "true");
        break;
    case JSON_FALSE:
        strbuf__puts(sb, "false");
        break;
    case JSON_NULL:
        strbuf__puts(sb, "null");
        break;
    case JSON_OBJECT:
        strbuf__puts(sb, "[object Object]");
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(value); i++) {
            const json_t *item = json_array_get(value, i);
            if (i)
                strbuf__putc(sb, ',');
            if (!json_is_null(item))
                graph_json__js_string(item, sb);
        }
        break;
    }
}
