/* The discovery message as JSON text, written into a caller's buffer without
 * allocating: the same bytes as jansson's compact dump of the message
 * libmsgflo used to build (keys in insertion order, '/' and non-ASCII left
 * as they are, control characters as \b \f \n \r \t or \u00XX). libmsgflo
 * writes its own discovery message with this file, so the two never drift. */
#include "msgflo/device.h"

#include <string.h>

#define DEFAULT_ICON "file-word-o"

/* Output that counts past its capacity, so one pass tells the length needed. */
struct out {
    char *buf;
    size_t cap; /* bytes that may be written, the NUL included */
    size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_s(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s, or 0 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid, as in jansson). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    uint32_t cp;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The string's characters, escaped (no quotes). Returns -1 for invalid UTF-8. */
static int put_escaped(struct out *o, const char *s, bool to_upper)
{
    static const char hex[] = "0123456789ABCDEF";
    while (*s) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
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
        }
        if (esc) {
            put_s(o, esc);
            s++;
        } else if (c < 0x20) {
            put(o, u, sizeof u);
            s++;
        } else {
            size_t n = utf8_seq((const unsigned char *)s);
            if (n == 0)
                return -1;
            if (to_upper) {
                char up = upper(*s);
                put(o, &up, 1);
                put(o, s + 1, n - 1);
            } else {
                put(o, s, n);
            }
            s += n;
        }
    }
    return 0;
}

/* ,"key":"value" (the comma unless first). */
static int put_member(struct out *o, const char *key, const char *value, bool first)
{
    put_s(o, first ? "\"" : ",\"");
    put_s(o, key);
    put_s(o, "\":\"");
    int rc = put_escaped(o, value, false);
    put_s(o, "\"");
    return rc;
}

static int put_ports(struct out *o, const char *role, const msgflo_device_port *ports)
{
    bool first = true;
    put_s(o, "[");
    for (; ports && ports->id; ports++) {
        if (!*ports->id)
            return MSGFLO_EINVAL;
        if (ports->hidden && !ports->queue)
            continue; /* cannot be wired: not announced */
        int bad = 0;
        put_s(o, first ? "{" : ",{");
        first = false;
        bad |= put_member(o, "id", ports->id, true);
        bad |= put_member(o, "type", ports->type ? ports->type : "any", false);
        if (ports->queue) {
            bad |= put_member(o, "queue", ports->queue, false);
        } else {
            put_s(o, ",\"queue\":\"");
            bad |= put_escaped(o, role, false);
            put_s(o, ".");
            bad |= put_escaped(o, ports->id, true);
            put_s(o, "\"");
        }
        put_s(o, ports->hidden ? ",\"hidden\":true" : ",\"hidden\":false");
        if (ports->description)
            bad |= put_member(o, "description", ports->description, false);
        put_s(o, "}");
        if (bad)
            return MSGFLO_EINVAL;
    }
    put_s(o, "]");
    return 0;
}

static int finish(struct out *o, size_t *len)
{
    if (len)
        *len = o->len;
    if (o->len >= o->cap)
        return MSGFLO_ENOSPC;
    o->buf[o->len] = '\0';
    return 0;
}

int msgflo_device_discovery(const msgflo_device_definition *def, char *buf, size_t buflen,
                            size_t *len)
{
    struct out o = {buf, buflen, 0};
    if (len)
        *len = 0;
    if (!def || !def->role || !*def->role || !def->component || !*def->component ||
        (def->id && !*def->id))
        return MSGFLO_EINVAL;
    int bad = 0;
    put_s(&o, "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{");
    bad |= put_member(&o, "id", def->id ? def->id : def->role, true);
    bad |= put_member(&o, "role", def->role, false);
    bad |= put_member(&o, "component", def->component, false);
    bad |= put_member(&o, "label", def->label ? def->label : "", false);
    bad |= put_member(&o, "icon", def->icon ? def->icon : DEFAULT_ICON, false);
    if (bad)
        return MSGFLO_EINVAL;
    put_s(&o, ",\"inports\":");
    int rc = put_ports(&o, def->role, def->inports);
    if (rc)
        return rc;
    put_s(&o, ",\"outports\":");
    rc = put_ports(&o, def->role, def->outports);
    if (rc)
        return rc;
    put_s(&o, "}}");
    return finish(&o, len);
}

int msgflo_device_default_queue(const char *role, const char *port, char *buf, size_t buflen,
                                size_t *len)
{
    struct out o = {buf, buflen, 0};
    put_s(&o, role);
    put_s(&o, ".");
    for (; *port; port++) {
        char c = upper(*port);
        put(&o, &c, 1);
    }
    return finish(&o, len);
}
