/* Discovery messages as a coordinator receives them (sans-I/O): parsing and
 * validation. A bad message is described in errbuf and dropped by the
 * caller, never fatal (the original crashed on some, c-flo#35). */
#ifndef MSGFLO_COORD_DISCOVERY_H
#define MSGFLO_COORD_DISCOVERY_H

#include <jansson.h>
#include <stddef.h>

/* Parses `data` as {"protocol":"discovery","command":"participant",
 * "payload":{...}} and checks the payload: id, role and component non-empty
 * strings, inports and outports arrays of objects with a string id (and a
 * string queue when present). On success *payload is a new reference.
 * Returns 0, MSGFLO_EJSON (not JSON) or MSGFLO_EINVAL (reason in errbuf). */
int discovery__parse(const void *data, size_t len, json_t **payload, char *errbuf, size_t errlen);

/* The queue a discovered participant announced for a port, or NULL. */
const char *discovery__queue(const json_t *payload, int inport, const char *port);

#endif
