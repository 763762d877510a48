/* Composite keys for hash tables: names joined with the unit separator
 * (0x1f), which names do not contain in practice (a collision would only
 * merge two such entries). */
#ifndef MSGFLO_CORE_KEY_H
#define MSGFLO_CORE_KEY_H

#include <stddef.h>

/* "a\x1fb\x1f..." of the n parts (n may be 0: ""). Returns a new string
 * (free it), or NULL when out of memory. */
char *key__join(const char *const *parts, size_t n);

#endif
