/* Front page and Flowhub link (msgflo src/runtime.coffee liveUrl, serveFrontpage). */
#include "runtime/front_page.h"

#include "core/strbuf.h"
#include "msgflo/errors.h"
#include "runtime/web_assets.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("-_.!~*'()", c) != NULL;
}

static void put_escaped(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            strbuf__putc(sb, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf__append(sb, esc, 3);
        }
    }
}

int front_page__flowhub_url(const char *ide, const char *host, int port, const char *id,
                            const char *secret, char **out)
{
    *out = NULL;
    if (!ide || !host || !id || port < 0 || port > 65535)
        return MSGFLO_EINVAL;
    struct strbuf params, url;
    strbuf__init(&params);
    strbuf__init(&url);
    strbuf__printf(&params, "protocol=websocket&address=ws://%s:%d&id=%s", host, port, id);
    if (secret && *secret) {
        strbuf__puts(&params, "&secret=");
        strbuf__puts(&params, secret);
    }
    strbuf__puts(&url, ide);
    strbuf__puts(&url, "#runtime/endpoint?");
    if (params.data)
        put_escaped(&url, params.data);
    int rc = params.err ? params.err : url.err;
    if (rc == 0)
        *out = strbuf__steal(&url);
    strbuf__cleanup(&params);
    strbuf__cleanup(&url);
    return rc;
}

int front_page__live_url(const char *host, int port, const char *secret, char **out)
{
    *out = NULL;
    if (!host || port < 0 || port > 65535)
        return MSGFLO_EINVAL;
    struct strbuf sb;
    strbuf__init(&sb);
    bool v6 = strchr(host, ':') != NULL;
    strbuf__printf(&sb, "http://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (secret && *secret) {
        strbuf__puts(&sb, "#secret=");
        put_escaped(&sb, secret);
    }
    int rc = sb.err;
    if (rc == 0)
        *out = strbuf__steal(&sb);
    strbuf__cleanup(&sb);
    return rc;
}

static void put_html(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf__puts(sb, "&amp;");
            break;
        case '<':
            strbuf__puts(sb, "&lt;");
            break;
        case '>':
            strbuf__puts(sb, "&gt;");
            break;
        case '"':
            strbuf__puts(sb, "&quot;");
            break;
        case '\'':
            strbuf__puts(sb, "&#39;");
            break;
        default:
            strbuf__putc(sb, *s);
        }
    }
}

const struct web_asset *front_page__asset(const char *path)
{
    for (const struct web_asset *a = web_assets; a->path; a++) {
        if (strcmp(a->path, path) == 0)
            return a;
    }
    return NULL;
}

const char *front_page__content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "text/html; charset=utf-8";
}

#define URL_MARK "@FLOWHUB_URL@"

int front_page__html(const char *flowhub_url, char **out)
{
    const struct web_asset *page = front_page__asset("/index.html");
    if (!page)
        return MSGFLO_EINVAL;
    const char *text = (const char *)page->data;
    const char *mark = strstr(text, URL_MARK);
    if (!mark)
        return MSGFLO_EINVAL;
    struct strbuf sb;
    strbuf__init(&sb);
    strbuf__append(&sb, text, (size_t)(mark - text));
    put_html(&sb, flowhub_url);
    strbuf__puts(&sb, mark + strlen(URL_MARK));
    int rc = sb.err;
    *out = rc == 0 ? strbuf__steal(&sb) : NULL;
    strbuf__cleanup(&sb);
    return rc;
}
