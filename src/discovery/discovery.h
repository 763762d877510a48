/* Discovery messages as a coordinator receives them (sans-I/O): parsing and
 * validation. A bad message is described in errbuf and dropped by the
 * caller, never fatal (the original crashed on some, c-flo#35). */
#ifndef MSGFLO_DISCOVERY_DISCOVERY_H
#define MSGFLO_DISCOVERY_DISCOVERY_H

#include <jansson.h>
#include <stddef.h>

/* Limits of the discovery protocol 1.0 (docs/discovery-protocol.md): bytes
 * of UTF-8 for strings, ports per direction. (The whole message's limit,
 * 65536 bytes, is checked before parsing.) */
#define DISCOVERY_MAX_NAME  1024 /* id, role, component, port id, type, queue */
#define DISCOVERY_MAX_TEXT  4096 /* label, icon, port description */
#define DISCOVERY_MAX_PORTS 256  /* inports, and outports */

/* Parses `data` as {"protocol":"discovery","command":"participant",
 * "payload":{...}} and checks it against the discovery protocol 1.0
 * (docs/discovery-protocol.md, docs/schemas/discovery-1.0.json): it accepts
 * exactly what the schema accepts. Members it does not know are kept and
 * otherwise ignored. On success *payload is a new reference.
 * Returns 0, MSGFLO_EJSON (not JSON) or MSGFLO_EINVAL. On failure errbuf
 * gets one line naming the field (as "payload.inports[2].queue") and, when
 * the payload has a usable id or role, the participant. */
int discovery__parse(const void *data, size_t len, json_t **payload, char *errbuf, size_t errlen);

/* The queue a discovered participant announced for a port, or NULL. */
const char *discovery__queue(const json_t *payload, int inport, const char *port);

#endif
