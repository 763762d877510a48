/* Discovery message parsing and validation; see discovery.h and, for the
 * rules checked here, docs/discovery-protocol.md (version 1.0) and its
 * schema docs/schemas/discovery-1.0.json. The two must accept exactly the
 * same messages: tests/fixtures/discovery holds the vectors both are run on. */
#include "discovery/discovery.h"

#include "core/definition.h"
#include "msgflo/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Our participants are held to the same limits (definition__instantiate). */
_Static_assert(DISCOVERY_MAX_NAME == DEFINITION_MAX_NAME &&
                   DISCOVERY_MAX_TEXT == DEFINITION_MAX_TEXT &&
                   DISCOVERY_MAX_PORTS == DEFINITION_MAX_PORTS,
               "the discovery protocol's limits, on both sides");

/* What a string field may be (the schema's definitions of the same names). */
enum {
    FIELD_REQUIRED = 1, /* absent is an error (else absent is fine) */
    FIELD_NULLABLE = 2, /* null is the same as absent */
    FIELD_NONEMPTY = 4,
};

struct check {
    char *errbuf;
    size_t errlen;
    const json_t *payload; /* names the participant in errors, once it is an object */
};

/* `s` quoted for an error message: at most 64 bytes (cut at a UTF-8
 * character boundary), control characters shown as '?'. */
static void quoted(char *out, size_t outlen, const char *s, size_t len)
{
    size_t n = len > 64 ? 64 : len;
    if (n < len) {
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    size_t w = 0;
    if (outlen < 8) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[w++] = '\'';
    for (size_t i = 0; i < n && w + 5 < outlen; i++)
        out[w++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n < len && w + 5 < outlen) {
        memcpy(out + w, "...", 3);
        w += 3;
    }
    out[w++] = '\'';
    out[w] = '\0';
}

/* " from participant 'ID' (role 'ROLE')", with those of the two that are
 * usable strings; "" with neither. */
static void who(const json_t *payload, char *out, size_t outlen)
{
    const json_t *id = json_object_get(payload, "id");
    const json_t *role = json_object_get(payload, "role");
    char qid[80] = "", qrole[80] = "";
    bool has_id = json_is_string(id) && json_string_length(id) > 0;
    bool has_role = json_is_string(role) && json_string_length(role) > 0;
    if (has_id)
        quoted(qid, sizeof qid, json_string_value(id), json_string_length(id));
    if (has_role)
        quoted(qrole, sizeof qrole, json_string_value(role), json_string_length(role));
    if (has_id && has_role)
        snprintf(out, outlen, " from participant %s (role %s)", qid, qrole);
    else if (has_id)
        snprintf(out, outlen, " from participant %s", qid);
    else if (has_role)
        snprintf(out, outlen, " from a participant of role %s", qrole);
    else
        out[0] = '\0';
}

static int fail(struct check *c, const char *path, const char *what)
{
    char from[200] = "";
    if (c->payload)
        who(c->payload, from, sizeof from);
    snprintf(c->errbuf, c->errlen, "invalid discovery message%s: %s %s", from, path, what);
    return MSGFLO_EINVAL;
}

static int check_string(struct check *c, const json_t *obj, const char *key, const char *prefix,
                        unsigned flags, size_t max)
{
    char path[64];
    char what[80];
    const json_t *v = json_object_get(obj, key);
    snprintf(path, sizeof path, "%s%s", prefix, key);
    if (!v || (json_is_null(v) && (flags & FIELD_NULLABLE)))
        return (flags & FIELD_REQUIRED) ? fail(c, path, "is missing") : 0;
    if (!json_is_string(v))
        return fail(c, path,
                    (flags & FIELD_NULLABLE) ? "must be a string or null" : "must be a string");
    size_t len = json_string_length(v);
    if (len == 0 && (flags & FIELD_NONEMPTY))
        return fail(c, path, "must not be empty");
    if (len > max) {
        snprintf(what, sizeof what, "is %zu bytes long, more than %zu", len, max);
        return fail(c, path, what);
    }
    if (memchr(json_string_value(v), '\0', len))
        return fail(c, path, "contains U+0000");
    return 0;
}

static int check_port(struct check *c, const json_t *port, const char *prefix)
{
    static const struct {
        const char *key;
        unsigned flags;
        size_t max;
    } fields[] = {
        {"id", FIELD_REQUIRED | FIELD_NONEMPTY, DISCOVERY_MAX_NAME},
        {"type", FIELD_NULLABLE, DISCOVERY_MAX_NAME},
        {"queue", FIELD_NULLABLE | FIELD_NONEMPTY, DISCOVERY_MAX_NAME},
        {"description", FIELD_NULLABLE, DISCOVERY_MAX_TEXT},
    };
    if (!json_is_object(port)) {
        char path[64];
        snprintf(path, sizeof path, "%.*s", (int)strlen(prefix) - 1, prefix); /* no '.' */
        return fail(c, path, "must be an object");
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int rc = check_string(c, port, fields[i].key, prefix, fields[i].flags, fields[i].max);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_ports(struct check *c, const char *key)
{
    char path[64];
    const json_t *ports = json_object_get(c->payload, key);
    snprintf(path, sizeof path, "payload.%s", key);
    if (!ports)
        return fail(c, path, "is missing");
    if (!json_is_array(ports))
        return fail(c, path, "must be an array");
    if (json_array_size(ports) > DISCOVERY_MAX_PORTS) {
        char what[80];
        snprintf(what, sizeof what, "has %zu ports, more than %d", json_array_size(ports),
                 DISCOVERY_MAX_PORTS);
        return fail(c, path, what);
    }
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "payload.%s[%zu].", key, i);
        int rc = check_port(c, p, prefix);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_payload(struct check *c)
{
    static const char *const names[] = {"id", "role", "component"};
    static const char *const texts[] = {"label", "icon"};
    int rc;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((rc = check_string(c, c->payload, names[i], "payload.", FIELD_REQUIRED | FIELD_NONEMPTY,
                               DISCOVERY_MAX_NAME)) != 0)
            return rc;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if ((rc = check_string(c, c->payload, texts[i], "payload.", FIELD_NULLABLE,
                               DISCOVERY_MAX_TEXT)) != 0)
            return rc;
    }
    if ((rc = check_ports(c, "inports")) != 0 || (rc = check_ports(c, "outports")) != 0)
        return rc;
    return 0;
}

static bool is(const json_t *v, const char *text)
{
    return json_is_string(v) && strcmp(json_string_value(v), text) == 0 &&
           json_string_length(v) == strlen(text);
}

int discovery__parse(const void *data, size_t len, json_t **payload, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    struct check c = {.errbuf = errbuf, .errlen = errlen};
    *payload = NULL;
    /* U+0000 is allowed in members the coordinator ignores; the fields it
     * uses are checked for it. */
    json_t *msg = json_loadb(data, len, JSON_ALLOW_NUL, &jerr);
    if (!msg) {
        snprintf(errbuf, errlen, "discovery message is not JSON: %s (line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        return MSGFLO_EJSON;
    }
    int rc;
    json_t *p = json_object_get(msg, "payload");
    if (!json_is_object(msg))
        rc = fail(&c, "the message", "must be a JSON object");
    else if (!is(json_object_get(msg, "protocol"), "discovery"))
        rc = fail(&c, "protocol", "must be \"discovery\"");
    else if (!is(json_object_get(msg, "command"), "participant"))
        rc = fail(&c, "command", "must be \"participant\"");
    else if (!p)
        rc = fail(&c, "payload", "is missing");
    else if (!json_is_object(p))
        rc = fail(&c, "payload", "must be an object");
    else {
        c.payload = p;
        rc = check_payload(&c);
    }
    if (rc == 0)
        *payload = json_incref(p);
    json_decref(msg);
    return rc;
}

const char *discovery__queue(const json_t *payload, int inport, const char *port)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(payload, inport ? "inports" : "outports"), i, p)
    {
        const char *id = json_string_value(json_object_get(p, "id"));
        if (id && strcmp(id, port) == 0)
            return json_string_value(json_object_get(p, "queue"));
    }
    return NULL;
}
