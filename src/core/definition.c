/* Participant definitions: validation, default id and queue names, and the
 * discovery message exactly as msgflo-nodejs sends it. */
#include "core/definition.h"

#include "msgflo/device.h"
#include "msgflo/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

static int invalid(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return MSGFLO_EINVAL;
}

static bool valid_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

bool definition__valid_queue(const char *name)
{
    if (!valid_name(name) || strlen(name) > DEFINITION_MAX_QUEUE)
        return false;
    return strpbrk(name, "+#") == NULL;
}

char *definition__default_queue(const char *role, const char *port)
{
    size_t len = strlen(role) + 1 + strlen(port);
    char *q = malloc(len + 1);
    if (q && msgflo_device_default_queue(role, port, q, len + 1, NULL) != 0) {
        free(q);
        q = NULL;
    }
    return q;
}

static bool too_long(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) > max;
}

static char *dup_or(const char *s, const char *fallback)
{
    return strdup(s ? s : fallback);
}

static size_t count_ports(const msgflo_port_def *ports)
{
    size_t n = 0;
    while (ports && ports[n].id)
        n++;
    return n;
}

static void free_ports(struct definition_port *ports, size_t n)
{
    for (size_t i = 0; ports && i < n; i++) {
        free(ports[i].id);
        free(ports[i].type);
        free(ports[i].description);
        free(ports[i].queue);
    }
    free(ports);
}

static int build_ports(const msgflo_port_def *src, const char *role, const char *dir,
                       struct definition_port **out, size_t *n_out, char *errbuf, size_t errlen)
{
    size_t n = count_ports(src);
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    if (n > DEFINITION_MAX_PORTS)
        return invalid(errbuf, errlen, "%zu %ss, more than %d", n, dir, DEFINITION_MAX_PORTS);
    struct definition_port *ports = calloc(n, sizeof *ports);
    if (!ports)
        return MSGFLO_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const msgflo_port_def *p = &src[i];
        if (!valid_name(p->id)) {
            rc = invalid(errbuf, errlen, "%s %zu: port id must be a non-empty printable string",
                         dir, i);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(src[j].id, p->id) == 0) {
                rc = invalid(errbuf, errlen, "%s '%s' is defined twice", dir, p->id);
                goto out;
            }
        }
        if (too_long(p->id, DEFINITION_MAX_NAME) || too_long(p->type, DEFINITION_MAX_NAME) ||
            too_long(p->description, DEFINITION_MAX_TEXT)) {
            rc = invalid(errbuf, errlen,
                         "%s %zu: id and type must be at most %d bytes, description %d", dir, i,
                         DEFINITION_MAX_NAME, DEFINITION_MAX_TEXT);
            goto out;
        }
        if (p->queue && !definition__valid_queue(p->queue)) {
            rc = invalid(errbuf, errlen,
                         "%s '%s': queue must be 1-255 printable bytes without '+' or '#'", dir,
                         p->id);
            goto out;
        }
        ports[i].hidden = p->hidden;
        ports[i].id = strdup(p->id);
        ports[i].type = dup_or(p->type, "any");
        ports[i].description = p->description ? strdup(p->description) : NULL;
        if (p->queue)
            ports[i].queue = strdup(p->queue);
        else if (!p->hidden)
            ports[i].queue = definition__default_queue(role, p->id);
        if (!ports[i].id || !ports[i].type || (p->description && !ports[i].description) ||
            ((p->queue || !p->hidden) && !ports[i].queue)) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
        if (ports[i].queue && !definition__valid_queue(ports[i].queue)) {
            rc = invalid(errbuf, errlen, "%s '%s': default queue '%s' is not a valid queue name",
                         dir, p->id, ports[i].queue);
            goto out;
        }
    }
    *out = ports;
    *n_out = n;
    ports = NULL;
out:
    free_ports(ports, n);
    return rc;
}

static char *make_id(const char *role)
{
    uuid_t uu;
    char text[37];
    uuid_generate_random(uu);
    uuid_unparse_lower(uu, text);
    size_t len = strlen(role) + 1 + sizeof text;
    char *id = malloc(len);
    if (id)
        snprintf(id, len, "%s-%s", role, text);
    return id;
}

int definition__instantiate(const msgflo_definition *def, const char *role, struct definition **out,
                            char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    if (!def)
        return invalid(errbuf, errlen, "no definition");
    if (!role)
        role = def->role;
    if (!valid_name(role))
        return invalid(errbuf, errlen, "role must be a non-empty printable string");
    if (strpbrk(role, "+#/ ") || strlen(role) > 200)
        return invalid(errbuf, errlen, "role '%.40s' must not contain '+', '#', '/' or spaces",
                       role);
    if (!valid_name(def->component))
        return invalid(errbuf, errlen, "component must be a non-empty printable string");
    if (def->id && !valid_name(def->id))
        return invalid(errbuf, errlen, "id must be a non-empty printable string");
    if (too_long(def->component, DEFINITION_MAX_NAME) || too_long(def->id, DEFINITION_MAX_NAME))
        return invalid(errbuf, errlen, "component and id must be at most %d bytes",
                       DEFINITION_MAX_NAME);
    if (too_long(def->label, DEFINITION_MAX_TEXT) || too_long(def->icon, DEFINITION_MAX_TEXT))
        return invalid(errbuf, errlen, "label and icon must be at most %d bytes",
                       DEFINITION_MAX_TEXT);

    struct definition *d = calloc(1, sizeof *d);
    if (!d)
        return MSGFLO_ENOMEM;
    d->role = strdup(role);
    d->component = strdup(def->component);
    d->label = dup_or(def->label, "");
    d->icon = dup_or(def->icon, DEFINITION_DEFAULT_ICON);
    d->id = def->id ? strdup(def->id) : make_id(role);
    if (!d->role || !d->component || !d->label || !d->icon || !d->id) {
        rc = MSGFLO_ENOMEM;
        goto out;
    }
    rc = build_ports(def->inports, role, "inport", &d->inports, &d->n_inports, errbuf, errlen);
    if (rc)
        goto out;
    rc = build_ports(def->outports, role, "outport", &d->outports, &d->n_outports, errbuf, errlen);
    if (rc)
        goto out;
    *out = d;
    d = NULL;
out:
    definition__free(d);
    return rc;
}

void definition__free(struct definition *d)
{
    if (!d)
        return;
    free(d->id);
    free(d->role);
    free(d->component);
    free(d->label);
    free(d->icon);
    free_ports(d->inports, d->n_inports);
    free_ports(d->outports, d->n_outports);
    free(d);
}

const struct definition_port *definition__port(const struct definition *d, bool inport,
                                               const char *id)
{
    const struct definition_port *ports = inport ? d->inports : d->outports;
    size_t n = inport ? d->n_inports : d->n_outports;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ports[i].id, id) == 0)
            return &ports[i];
    }
    return NULL;
}

/* The discovery text comes from the device core (msgflo/device.h), so
 * libmsgflo and devices announce alike: a view of the ports, then its writer. */
static msgflo_device_port *device_ports(const struct definition_port *ports, size_t n)
{
    msgflo_device_port *dp = calloc(n + 1, sizeof *dp);
    for (size_t i = 0; dp && i < n; i++) {
        dp[i].id = ports[i].id;
        dp[i].type = ports[i].type;
        dp[i].description = ports[i].description;
        dp[i].queue = ports[i].queue;
        dp[i].hidden = ports[i].hidden;
    }
    return dp;
}

int definition__discovery_text(const struct definition *d, char **out)
{
    msgflo_device_definition dd = {.role = d->role,
                                   .id = d->id,
                                   .component = d->component,
                                   .label = d->label,
                                   .icon = d->icon,
                                   .inports = device_ports(d->inports, d->n_inports),
                                   .outports = device_ports(d->outports, d->n_outports)};
    size_t len = 0;
    char *text = NULL;
    int rc = MSGFLO_ENOMEM;
    *out = NULL;
    if (!dd.inports || !dd.outports)
        goto out;
    rc = msgflo_device_discovery(&dd, NULL, 0, &len);
    if (rc != MSGFLO_ENOSPC)
        goto out;
    rc = MSGFLO_ENOMEM;
    if (!(text = malloc(len + 1)))
        goto out;
    rc = msgflo_device_discovery(&dd, text, len + 1, NULL);
    if (rc == 0) {
        *out = text;
        text = NULL;
    }
out:
    free(text);
    free((void *)dd.inports);
    free((void *)dd.outports);
    return rc;
}

json_t *definition__discovery(const struct definition *d)
{
    char *text = NULL;
    if (definition__discovery_text(d, &text) != 0)
        return NULL;
    json_t *msg = json_loads(text, 0, NULL);
    free(text);
    return msg;
}
