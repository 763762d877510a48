/* JSON IIP values: the reference grammar's RFC 7159 rules (JSON_text), with
 * its quirks: whitespace is [ \t\n\r], numbers go through parseFloat, and
 * "number", "string" and "whitespace" are named rules whose inner failures
 * are not reported. Values are built as jansson values. */
#include "graph/fbp_parser_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/internal.h"

static bool value(struct fbp_parser *p, json_t **out);

/* ws = [ \t\n\r]*  (named rule: silent, never fails) */
static void ws(struct fbp_parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                             p->s[p->pos] == '\r'))
        p->pos++;
}

/* ws "c" ws */
static bool token(struct fbp_parser *p, const char *c, enum fbp_expect x)
{
    size_t start = p->pos;
    ws(p);
    if (!fbp__lit_n(p, c, strlen(c), x)) {
        p->pos = start;
        return false;
    }
    ws(p);
    return true;
}

/* A JavaScript number as a JSON value: integral values as integers (as
 * JSON.stringify prints them), others as reals, non-finite ones as null. */
static json_t *js_number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9223372036854775808.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static size_t digits(struct fbp_parser *p)
{
    size_t start = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

/* number = "-"? ("0" / [1-9][0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? */
static bool number(struct fbp_parser *p, json_t **out)
{
    size_t start = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->n && p->s[p->pos] == '0') {
        p->pos++;
    } else if (p->pos < p->n && p->s[p->pos] >= '1' && p->s[p->pos] <= '9') {
        digits(p);
    } else {
        p->pos = start;
        fbp__fail(p, X_NUMBER);
        return false;
    }
    size_t mark = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '.') {
        p->pos++;
        if (!digits(p))
            p->pos = mark;
    }
    mark = p->pos;
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '-' || p->s[p->pos] == '+'))
            p->pos++;
        if (!digits(p))
            p->pos = mark;
    }
    char *text = graph__strndup(p->s + start, p->pos - start);
    if (!text) {
        p->rc = MSGFLO_ENOMEM;
        return false;
    }
    double d = strtod(text, NULL);
    free(text);
    if (!isfinite(d) && !p->inf_in_object && p->n_infinities < 1000000) {
        if (p->n_infinities == p->cap_infinities) {
            size_t cap = p->cap_infinities ? p->cap_infinities * 2 : 8;
            struct fbp_infinity *more = realloc(p->infinities, cap * sizeof(*more));
            if (!more) {
                p->rc = MSGFLO_ENOMEM;
                return false;
            }
            p->infinities = more;
            p->cap_infinities = cap;
        }
        p->infinities[p->n_infinities++] =
            (struct fbp_infinity){p->iip_at, p->inf_array, p->inf_index, d < 0};
    }
    *out = js_number(d);
    if (!*out)
        p->rc = MSGFLO_ENOMEM;
    return *out != NULL;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(struct strbuf *sb, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    strbuf__append(sb, b, n);
}

/* \uXXXX at pos (after the backslash and the u): the unit, or -1. */
static long hex4(const struct fbp_parser *p, size_t pos)
{
    if (p->n - pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value((unsigned char)p->s[pos + (size_t)i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* string = '"' (unescaped / "\\" escape)* '"'  (named rule: silent) */
static bool string(struct fbp_parser *p, struct strbuf *sb)
{
    size_t start = p->pos;
    bool ok = false;
    if (p->pos >= p->n || p->s[p->pos] != '"')
        goto out;
    p->pos++;
    for (;;) {
        if (p->pos >= p->n)
            goto out;
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            ok = true;
            goto out;
        }
        if (c < 0x20)
            goto out;
        if (c != '\\') {
            size_t len = fbp__char_len(p, p->pos);
            strbuf__append(sb, p->s + p->pos, len);
            p->pos += len;
            continue;
        }
        if (p->pos + 1 >= p->n)
            goto out;
        char e = p->s[p->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            strbuf__putc(sb, decoded[simple - "\"\\/bfnrt"]);
            p->pos += 2;
            continue;
        }
        if (e != 'u')
            goto out;
        long unit = hex4(p, p->pos + 2);
        if (unit < 0)
            goto out;
        p->pos += 6;
        if (unit >= 0xD800 && unit <= 0xDBFF && p->n - p->pos >= 6 && p->s[p->pos] == '\\' &&
            p->s[p->pos + 1] == 'u') {
            long low = hex4(p, p->pos + 2);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                put_utf8(sb, 0x10000 + (((unsigned long)unit - 0xD800) << 10) +
                                 ((unsigned long)low - 0xDC00));
                p->pos += 6;
                continue;
            }
        }
        /* A lone surrogate cannot be UTF-8; U+FFFD stands in for it. */
        put_utf8(sb, unit >= 0xD800 && unit <= 0xDFFF ? 0xFFFD : (unsigned long)unit);
    }
out:
    if (!ok) {
        p->pos = start;
        fbp__fail(p, X_STRING);
    }
    return ok;
}

static bool string_value(struct fbp_parser *p, json_t **out)
{
    struct strbuf sb;
    strbuf__init(&sb);
    bool ok = string(p, &sb);
    if (ok) {
        *out = sb.err ? NULL : json_stringn(sb.data ? sb.data : "", sb.len);
        if (!*out) {
            p->rc = MSGFLO_ENOMEM;
            ok = false;
        }
    }
    strbuf__cleanup(&sb);
    return ok;
}

/* member = string name_separator value */
static bool member(struct fbp_parser *p, json_t *object)
{
    size_t start = p->pos;
    struct strbuf key;
    json_t *v = NULL;
    bool ok = false;

    strbuf__init(&key);
    if (!string(p, &key) || !token(p, ":", X_COLON) || !value(p, &v))
        goto out;
    if (key.err || json_object_setn_new(object, key.data ? key.data : "", key.len, v)) {
        p->rc = MSGFLO_ENOMEM;
        goto out;
    }
    ok = true;
out:
    if (!ok)
        p->pos = start;
    strbuf__cleanup(&key);
    return ok;
}

static bool enter(struct fbp_parser *p)
{
    if (++p->depth > FBP_MAX_DEPTH) {
        p->rc = MSGFLO_EINVAL;
        return false;
    }
    return true;
}

/* object = ws "{" ws (member (ws "," ws member)*)? ws "}" ws */
static bool object(struct fbp_parser *p, json_t **out)
{
    size_t start = p->pos;
    json_t *obj = NULL;
    bool ok = false;

    if (!token(p, "{", X_LBRACE))
        return false;
    if (!enter(p))
        goto out;
    obj = json_object();
    if (!obj) {
        p->rc = MSGFLO_ENOMEM;
        goto out;
    }
    p->inf_in_object++;
    bool has_member = member(p, obj);
    p->inf_in_object--;
    if (has_member) {
        for (;;) {
            size_t mark = p->pos;
            if (!token(p, ",", X_COMMA))
                break;
            p->inf_in_object++;
            has_member = member(p, obj);
            p->inf_in_object--;
            if (!has_member) {
                p->pos = mark;
                break;
            }
        }
    }
    ok = token(p, "}", X_RBRACE);
out:
    p->depth--;
    if (!ok) {
        json_decref(obj);
        p->pos = start;
        return false;
    }
    *out = obj;
    return true;
}

/* array = ws "[" ws (value (ws "," ws value)*)? ws "]" ws */
static bool array(struct fbp_parser *p, json_t **out)
{
    size_t start = p->pos;
    json_t *arr = NULL, *v = NULL;
    bool ok = false;

    if (!token(p, "[", X_LBRACKET))
        return false;
    if (!enter(p))
        goto out;
    arr = json_array();
    if (!arr) {
        p->rc = MSGFLO_ENOMEM;
        goto out;
    }
    const json_t *outer = p->inf_array;
    size_t outer_index = p->inf_index;
    p->inf_array = arr;
    p->inf_index = 0;
    if (value(p, &v)) {
        for (;;) {
            if (json_array_append_new(arr, v)) {
                p->rc = MSGFLO_ENOMEM;
                goto out;
            }
            size_t mark = p->pos;
            if (!token(p, ",", X_COMMA))
                break;
            p->inf_index = json_array_size(arr);
            if (!value(p, &v)) {
                p->pos = mark;
                break;
            }
        }
    }
    ok = token(p, "]", X_RBRACKET);
out:
    if (arr) {
        p->inf_array = outer;
        p->inf_index = outer_index;
    }
    p->depth--;
    if (!ok) {
        json_decref(arr);
        p->pos = start;
        return false;
    }
    *out = arr;
    return true;
}

static bool keyword(struct fbp_parser *p, const char *word, enum fbp_expect x, json_t *v,
                    json_t **out)
{
    if (!fbp__lit_n(p, word, strlen(word), x))
        return false;
    *out = v;
    return true;
}

/* value = false / null / true / object / array / number / string */
static bool value(struct fbp_parser *p, json_t **out)
{
    if (p->rc)
        return false;
    return keyword(p, "false", X_FALSE, json_false(), out) ||
           keyword(p, "null", X_NULL, json_null(), out) ||
           keyword(p, "true", X_TRUE, json_true(), out) || object(p, out) || array(p, out) ||
           number(p, out) || string_value(p, out);
}

bool fbp__json_text(struct fbp_parser *p, json_t **out)
{
    size_t start = p->pos;
    /* a new parse of this IIP: forget what an earlier one noted */
    size_t kept = 0;
    for (size_t i = 0; i < p->n_infinities; i++)
        if (p->infinities[i].iip_at != start)
            p->infinities[kept++] = p->infinities[i];
    p->n_infinities = kept;
    p->iip_at = start;
    p->inf_array = NULL;
    p->inf_index = 0;
    p->inf_in_object = 0;
    ws(p);
    if (!value(p, out)) {
        p->pos = start;
        return false;
    }
    ws(p);
    return true;
}

static const struct fbp_infinity *infinity_at(const struct fbp_parser *p, size_t iip_at,
                                              const json_t *array, size_t index)
{
    for (size_t i = 0; i < p->n_infinities; i++) {
        const struct fbp_infinity *f = &p->infinities[i];
        if (f->iip_at == iip_at && f->array == array && f->index == index)
            return f;
    }
    return NULL;
}

static void js_string_array(const struct fbp_parser *p, size_t iip_at, const json_t *arr,
                            struct strbuf *sb)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *item = json_array_get(arr, i);
        if (i)
            strbuf__putc(sb, ',');
        const struct fbp_infinity *f = json_is_null(item) ? infinity_at(p, iip_at, arr, i) : NULL;
        if (f)
            strbuf__puts(sb, f->negative ? "-Infinity" : "Infinity");
        else if (json_is_array(item))
            js_string_array(p, iip_at, item, sb);
        else if (!json_is_null(item))
            graph_json__js_string(item, sb);
    }
}

void fbp__iip_js_string(const struct fbp_parser *p, size_t iip_at, const json_t *value,
                        struct strbuf *sb)
{
    const struct fbp_infinity *f = json_is_null(value) ? infinity_at(p, iip_at, NULL, 0) : NULL;
    if (f)
        strbuf__puts(sb, f->negative ? "-Infinity" : "Infinity");
    else if (json_is_array(value))
        js_string_array(p, iip_at, value, sb);
    else
        graph_json__js_string(value, sb);
}
