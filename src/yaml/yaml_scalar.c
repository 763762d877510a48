/* Scalars as js-yaml 3 (the original's YAML parser, default safe schema)
 * resolves untagged plain ones: null (~, null, Null, NULL, empty), booleans
 * (true/True/TRUE, false/...), integers (decimal with _, 0x, 0b, leading-0
 * octal, base 60 as 1:30) and floats (2.5e4, .5, 1:30.5, .inf, .nan), as
 * JavaScript numbers printed by JSON.stringify. */
#include "yaml/yaml_reader.h"

#include "msgflo/errors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", "", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};

/* A JS number as JSON: integral values within 2^53 are integers (JSON.stringify
 * prints 1.0 as 1); infinities and NaN are null, as JSON.stringify writes them. */
static json_t *js_number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) <= 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* Copies `s` without '_' into buf; false when too long. */
static bool strip_underscores(const char *s, char *buf, size_t len)
{
    size_t j = 0;
    for (; *s; s++) {
        if (*s == '_')
            continue;
        if (j + 1 >= len)
            return false;
        buf[j++] = *s;
    }
    buf[j] = '\0';
    return true;
}

static bool digits_of(const char *s, int base, bool *any)
{
    for (; *s && *s != ':'; s++) {
        if (*s == '_')
            continue;
        int d = (*s >= '0' && *s <= '9')   ? *s - '0'
                : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
                : (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10
                                           : 99;
        if (d >= base)
            return false;
        *any = true;
    }
    return true;
}

/* ":[0-5]?[0-9]" repeated to the end. */
static bool base60_tail(const char *s)
{
    if (!*s)
        return false;
    while (*s) {
        if (*s++ != ':')
            return false;
        size_t n = 0;
        while (s[n] >= '0' && s[n] <= '9')
            n++;
        if (n == 0 || n > 2 || (n == 2 && s[0] > '5'))
            return false;
        s += n;
    }
    return true;
}

/* Sum of the ':'-separated parts (each parsed as a number) in base 60. */
static bool base60_value(const char *p, double sign, double *out)
{
    char buf[128];
    if (!strip_underscores(p, buf, sizeof buf))
        return false;
    double v = 0;
    char *q = buf;
    for (;;) {
        char *end;
        v = v * 60 + strtod(q, &end);
        if (*end != ':')
            break;
        q = end + 1;
    }
    *out = sign * v;
    return true;
}

/* js-yaml 3's resolveYamlInteger + constructYamlInteger. */
static bool resolve_int(const char *s, double *out)
{
    char buf[128];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf || s[len - 1] == '_')
        return false;
    const char *p = s;
    double sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    bool any = false;
    if (p[0] == '0') {
        if (p[1] == '\0') {
            *out = 0;
            return true;
        }
        int base = p[1] == 'b' ? 2 : p[1] == 'x' ? 16 : 8;
        const char *digits = base == 8 ? p + 1 : p + 2;
        if (strchr(digits, ':') || !digits_of(digits, base, &any) || !any)
            return false;
        strip_underscores(digits, buf, sizeof buf);
        *out = sign * (double)strtoull(buf, NULL, base);
        return true;
    }
    if (*p == '_' || !digits_of(p, 10, &any) || !any)
        return false;
    const char *colon = strchr(p, ':');
    if (!colon) {
        strip_underscores(p, buf, sizeof buf);
        *out = sign * strtod(buf, NULL);
        return true;
    }
    if (!base60_tail(colon))
        return false;
    return base60_value(p, sign, out);
}

/* js-yaml 3's float pattern (2.5e4, .5, 1:30.5, .inf, .nan) and construction. */
static bool resolve_float(const char *s, double *out)
{
    char buf[128];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf || s[len - 1] == '_')
        return false;
    const char *p = s;
    double sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (p == s && (strcmp(p, ".nan") == 0 || strcmp(p, ".NaN") == 0 || strcmp(p, ".NAN") == 0)) {
        *out = NAN;
        return true;
    }
    const char *colon = strchr(p, ':');
    if (colon) { /* [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* */
        const char *dot = strchr(colon, '.');
        if (!dot || !(*p >= '0' && *p <= '9') || strspn(p, "0123456789_") != (size_t)(colon - p) ||
            strspn(dot + 1, "0123456789_") != strlen(dot + 1))
            return false;
        char mid[sizeof buf];
        snprintf(mid, sizeof mid, "%.*s", (int)(dot - colon), colon);
        if (!base60_tail(mid))
            return false;
        return base60_value(p, sign, out);
    }
    /* (0|[1-9][0-9_]*)(\.[0-9_]*)?([eE][-+]?[0-9]+)?  or  \.[0-9_]+([eE][-+]?[0-9]+)? */
    const char *q = p;
    if (*q == '.') {
        if (p != s) /* no sign before the ".5" form */
            return false;
        q++;
        size_t n = strspn(q, "0123456789_");
        if (n == 0)
            return false;
        q += n;
    } else {
        if (*q == '0')
            q++;
        else if (*q >= '1' && *q <= '9')
            q += strspn(q, "0123456789_");
        else
            return false;
        if (*q == '.')
            q += 1 + strspn(q + 1, "0123456789_");
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '-' || *q == '+')
            q++;
        size_t n = strspn(q, "0123456789");
        if (n == 0)
            return false;
        q += n;
    }
    if (*q)
        return false;
    strip_underscores(p, buf, sizeof buf);
    *out = sign * strtod(buf, NULL);
    return true;
}

bool yaml_scalar__is_null(const char *text)
{
    return is_one_of(text, null_words);
}

int yaml_scalar__resolve(const char *text, const char *type, json_t **out)
{
    double v;
    bool any = !type;
    *out = NULL;
    if ((any || strcmp(type, "null") == 0) && is_one_of(text, null_words))
        *out = json_null();
    else if ((any || strcmp(type, "bool") == 0) && is_one_of(text, true_words))
        *out = json_true();
    else if ((any || strcmp(type, "bool") == 0) && is_one_of(text, false_words))
        *out = json_false();
    else if ((any || strcmp(type, "int") == 0) && resolve_int(text, &v))
        *out = js_number(v);
    else if ((any || strcmp(type, "float") == 0) && resolve_float(text, &v))
        *out = js_number(v);
    else
        return 0;
    return *out ? 1 : MSGFLO_ENOMEM;
}
