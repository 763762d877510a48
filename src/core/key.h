/* Composite keys for hash tables: names joined with the unit separator
 * (0x1f), which names do not contain in practice (a collision would only
 * merge two such entries). */
#ifndef MSGFLO_CORE_KEY_H
#define MSGFLO_CORE_KEY_H

#include <stddef.h>

/* "a\x1fb\x1f..." of the n parts (n may be 0: ""). Returns a new string
 * (free it), or NULL when out of memory. */
char *key__join(const char *const *parts, size_t n);

/* The bytes key__join's key of parts takes, its NUL included. */
size_t key__length(const char *const *parts, size_t n);

/* Writes that key at dst (key__length bytes); returns dst. For records that
 * keep their key inline (one allocation). */
char *key__write(char *dst, const char *const *parts, size_t n);

/* The key in buf (cap bytes) when it fits, else a new string: for lookups
 * without an allocation. Release with key__done(key, buf). NULL when out of
 * memory. */
char *key__join_buf(char *buf, size_t cap, const char *const *parts, size_t n);
void key__done(char *key, const char *buf);

/* Copies s to *at and moves *at past its NUL; returns the copy. For strings
 * kept inline in a record. */
char *key__put(char **at, const char *s);

#endif
