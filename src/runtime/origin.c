/* Origin parsing and the list of pages allowed to open a WebSocket. */
#include "runtime/origin.h"

#include "msgflo/errors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REFUSED 32

struct origin_policy {
    bool any;
    char **allowed;
    size_t n_allowed;
    char *refused[MAX_REFUSED];
    size_t n_refused;
};

static bool scheme_char(char c, bool first)
{
    return isalpha((unsigned char)c) ||
           (!first && (isdigit((unsigned char)c) || c == '+' || c == '-' || c == '.'));
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int origin__normalize(const char *s, bool url, char *out, size_t outlen)
{
    if (!s || !out || outlen == 0)
        return MSGFLO_EINVAL;
    char scheme[32];
    size_t n = 0;
    while (s[n] && s[n] != ':') {
        if (!scheme_char(s[n], n == 0) || n + 1 >= sizeof scheme)
            return MSGFLO_EINVAL;
        scheme[n] = (char)tolower((unsigned char)s[n]);
        n++;
    }
    if (n == 0 || strncmp(s + n, "://", 3) != 0)
        return MSGFLO_EINVAL;
    scheme[n] = '\0';
    const char *h = s + n + 3;
    char host[ORIGIN_MAX];
    size_t hl = 0;
    if (*h == '[') { /* IPv6 literal */
        const char *end = strchr(h, ']');
        if (!end || end == h + 1 || (size_t)(end - h) + 1 >= sizeof host)
            return MSGFLO_EINVAL;
        for (const char *q = h + 1; q < end; q++) {
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return MSGFLO_EINVAL;
        }
        for (const char *q = h; q <= end; q++)
            host[hl++] = (char)tolower((unsigned char)*q);
        h = end + 1;
    } else {
        while (host_char(*h)) {
            if (hl + 1 >= sizeof host)
                return MSGFLO_EINVAL;
            host[hl++] = (char)tolower((unsigned char)*h++);
        }
        if (hl == 0)
            return MSGFLO_EINVAL;
    }
    host[hl] = '\0';
    long port = -1;
    if (*h == ':') {
        h++;
        port = 0;
        int digits = 0;
        while (isdigit((unsigned char)*h) && digits < 6) {
            port = port * 10 + (*h++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 5 || port > 65535)
            return MSGFLO_EINVAL;
    }
    /* What may follow: nothing in a header; a path, query or fragment in a URL. */
    if (*h && !(url && (*h == '/' || *h == '?' || *h == '#')))
        return MSGFLO_EINVAL;
    if ((port == 80 && strcmp(scheme, "http") == 0) ||
        (port == 443 && strcmp(scheme, "https") == 0))
        port = -1;
    int w = port >= 0 ? snprintf(out, outlen, "%s://%s:%ld", scheme, host, port)
                      : snprintf(out, outlen, "%s://%s", scheme, host);
    if (w < 0 || (size_t)w >= outlen) {
        *out = '\0';
        return MSGFLO_EINVAL;
    }
    return 0;
}

int origin_policy__new(struct origin_policy **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : MSGFLO_ENOMEM;
}

static int add(struct origin_policy *p, const char *origin)
{
    for (size_t i = 0; i < p->n_allowed; i++) {
        if (strcmp(p->allowed[i], origin) == 0)
            return 0;
    }
    char **grown = realloc(p->allowed, (p->n_allowed + 1) * sizeof *grown);
    if (!grown)
        return MSGFLO_ENOMEM;
    p->allowed = grown;
    if (!(p->allowed[p->n_allowed] = strdup(origin)))
        return MSGFLO_ENOMEM;
    p->n_allowed++;
    return 0;
}

int origin_policy__allow(struct origin_policy *p, const char *url)
{
    if (url && strcmp(url, "*") == 0) {
        p->any = true;
        return 0;
    }
    char o[ORIGIN_MAX];
    int rc = origin__normalize(url, true, o, sizeof o);
    return rc ? rc : add(p, o);
}

int origin_policy__allow_host(struct origin_policy *p, const char *scheme, const char *host,
                              int port)
{
    if (!scheme || !host || port < 0 || port > 65535)
        return MSGFLO_EINVAL;
    bool v6 = strchr(host, ':') && host[0] != '[';
    char url[ORIGIN_MAX + 8];
    int n = snprintf(url, sizeof url, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
                     port);
    if (n < 0 || (size_t)n >= sizeof url)
        return MSGFLO_EINVAL;
    return origin_policy__allow(p, url);
}

bool origin_policy__allows_any(const struct origin_policy *p)
{
    return p->any;
}

bool origin_policy__allows(const struct origin_policy *p, const char *origin)
{
    if (!origin || p->any)
        return true;
    char o[ORIGIN_MAX];
    if (origin__normalize(origin, false, o, sizeof o) != 0)
        return false;
    for (size_t i = 0; i < p->n_allowed; i++) {
        if (strcmp(p->allowed[i], o) == 0)
            return true;
    }
    return false;
}

/* The host of a canonical origin "scheme://host[:port]" (brackets kept):
 * its start and length. */
static const char *origin_host(const char *origin, size_t *len)
{
    const char *h = strstr(origin, "://");
    h = h ? h + 3 : origin;
    const char *end = h[0] == '[' ? strchr(h, ']') : NULL;
    end = end ? end + 1 : h + strcspn(h, ":");
    *len = (size_t)(end - h);
    return h;
}

static bool ipv4_literal(const char *h, size_t len)
{
    int dots = 0;
    bool digit = false;
    for (size_t i = 0; i < len; i++) {
        if (h[i] == '.' && digit) {
            dots++;
            digit = false;
        } else if (isdigit((unsigned char)h[i])) {
            digit = true;
        } else {
            return false;
        }
    }
    return dots == 3 && digit;
}

bool origin_policy__serves_host(const struct origin_policy *p, const char *host)
{
    if (!host || !*host || p->any)
        return true;
    char origin[ORIGIN_MAX + 1], canon[ORIGIN_MAX + 1];
    if (snprintf(origin, sizeof origin, "http://%s", host) >= (int)sizeof origin ||
        origin__normalize(origin, false, canon, sizeof canon) != 0)
        return false;
    size_t len;
    const char *h = origin_host(canon, &len);
    if (h[0] == '[' || ipv4_literal(h, len))
        return true;
    for (size_t i = 0; i < p->n_allowed; i++) {
        size_t alen;
        const char *a = origin_host(p->allowed[i], &alen);
        if (alen == len && memcmp(a, h, len) == 0)
            return true;
    }
    return false;
}

bool origin_policy__first_refusal(struct origin_policy *p, const char *origin)
{
    const char *key = origin ? origin : "";
    for (size_t i = 0; i < p->n_refused; i++) {
        if (strcmp(p->refused[i], key) == 0)
            return false;
    }
    if (p->n_refused == MAX_REFUSED)
        return false;
    char *copy = strdup(key);
    if (!copy)
        return false;
    p->refused[p->n_refused++] = copy;
    return true;
}

void origin_policy__free(struct origin_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_allowed; i++)
        free(p->allowed[i]);
    free(p->allowed);
    for (size_t i = 0; i < p->n_refused; i++)
        free(p->refused[i]);
    free(p);
}
