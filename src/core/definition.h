/* A participant definition made concrete for one role: id, ports and queues
 * filled in, validated, and serialized as a discovery message. */
#ifndef MSGFLO_CORE_DEFINITION_H
#define MSGFLO_CORE_DEFINITION_H

#include "msgflo/participant.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DEFINITION_DEFAULT_ICON "file-word-o"
#define DEFINITION_MAX_QUEUE    255 /* AMQP short string */
/* The discovery protocol 1.0's limits (docs/discovery-protocol.md), so a
 * participant never announces what a coordinator refuses. */
#define DEFINITION_MAX_NAME  1024 /* bytes: id, component, port id, type */
#define DEFINITION_MAX_TEXT  4096 /* bytes: label, icon, port description */
#define DEFINITION_MAX_PORTS 256  /* per direction */

struct definition_port {
    char *id;
    char *type;
    char *description; /* NULL when absent */
    char *queue;       /* NULL for hidden ports without an explicit queue */
    bool hidden;
};

struct definition {
    char *id;
    char *role;
    char *component;
    char *label;
    char *icon;
    struct definition_port *inports;
    size_t n_inports;
    struct definition_port *outports;
    size_t n_outports;
};

/* Validates `def` and builds its instance for `role` (NULL: def->role).
 * Returns 0, MSGFLO_EINVAL (reason in errbuf) or MSGFLO_ENOMEM.
 * The result is owned: free with definition__free. */
int definition__instantiate(const msgflo_definition *def, const char *role, struct definition **out,
                            char *errbuf, size_t errlen);
void definition__free(struct definition *d);

/* The default queue of a port: "<role>.<PORT uppercased>". Returns owned
 * memory (free()) or NULL when out of memory. */
char *definition__default_queue(const char *role, const char *port);

/* Whether `name` may be used as a queue or topic: 1..255 bytes, no control
 * characters, no MQTT wildcards ('+', '#'). */
bool definition__valid_queue(const char *name);

/* The discovery message {"protocol":"discovery","command":"participant",
 * "payload":{id, role, component, label, icon, inports, outports}} as
 * compact JSON text, written by the device core (msgflo_device_discovery).
 * Returns 0 with owned text in *out (free()), MSGFLO_EINVAL for strings that
 * are not UTF-8, or MSGFLO_ENOMEM. */
int definition__discovery_text(const struct definition *d, char **out);

/* The same message parsed: a new reference, or NULL on error. */
json_t *definition__discovery(const struct definition *d);

/* The port with this id, or NULL. */
const struct definition_port *definition__port(const struct definition *d, bool inport,
                                               const char *id);

#endif
