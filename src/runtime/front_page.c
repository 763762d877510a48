/* Front page and Flowhub link (msgflo src/runtime.coffee liveUrl, serveFrontpage). */
#include "runtime/front_page.h"

#include "graph/strbuf.h"
#include "msgflo/errors.h"

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

int front_page__html(const char *flowhub_url, char **out)
{
    struct strbuf sb;
    strbuf__init(&sb);
    strbuf__puts(&sb, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>MsgFlo "
                      "runtime</title></head>\n<body>\n<h1>MsgFlo runtime</h1>\n"
                      "<p><a id=\"flowhub_url\" href=\"");
    put_html(&sb, flowhub_url);
    strbuf__puts(&sb, "\">Open in Flowhub</a></p>\n</body>\n</html>\n");
    int rc = sb.err;
    *out = rc == 0 ? strbuf__steal(&sb) : NULL;
    strbuf__cleanup(&sb);
    return rc;
}
