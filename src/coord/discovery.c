/* Discovery message parsing and validation; see discovery.h. */
#include "coord/discovery.h"

#include "msgflo/errors.h"

#include <stdio.h>
#include <string.h>

static int bad(char *errbuf, size_t errlen, const char *what)
{
    snprintf(errbuf, errlen, "invalid discovery message: %s", what);
    return MSGFLO_EINVAL;
}

static int check_ports(const json_t *payload, const char *key, char *errbuf, size_t errlen)
{
    const json_t *ports = json_object_get(payload, key);
    if (!json_is_array(ports)) {
        snprintf(errbuf, errlen, "invalid discovery message: payload.%s is not an array", key);
        return MSGFLO_EINVAL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_t *queue = json_object_get(p, "queue");
        if (!json_is_object(p) || !json_is_string(json_object_get(p, "id")) ||
            (queue && !json_is_string(queue) && !json_is_null(queue))) {
            snprintf(errbuf, errlen,
                     "invalid discovery message: payload.%s[%zu] needs a string id (and queue)",
                     key, i);
            return MSGFLO_EINVAL;
        }
    }
    return 0;
}

int discovery__parse(const void *data, size_t len, json_t **payload, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    *payload = NULL;
    json_t *msg = json_loadb(data, len, 0, &jerr);
    if (!msg) {
        snprintf(errbuf, errlen, "discovery message is not JSON: %s (line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        return MSGFLO_EJSON;
    }
    int rc = 0;
    const char *protocol = json_string_value(json_object_get(msg, "protocol"));
    const char *command = json_string_value(json_object_get(msg, "command"));
    json_t *p = json_object_get(msg, "payload");
    if (!protocol || strcmp(protocol, "discovery") != 0 || !command ||
        strcmp(command, "participant") != 0) {
        rc = bad(errbuf, errlen, "protocol must be \"discovery\" and command \"participant\"");
        goto out;
    }
    if (!json_is_object(p)) {
        rc = bad(errbuf, errlen, "payload is not an object");
        goto out;
    }
    static const char *const required[] = {"id", "role", "component"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(p, required[i]));
        if (!v || !*v) {
            snprintf(errbuf, errlen,
                     "invalid discovery message: payload.%s must be a non-empty string",
                     required[i]);
            rc = MSGFLO_EINVAL;
            goto out;
        }
    }
    if ((rc = check_ports(p, "inports", errbuf, errlen)) != 0 ||
        (rc = check_ports(p, "outports", errbuf, errlen)) != 0)
        goto out;
    *payload = json_incref(p);
out:
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
