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

/* Writes at text the key of parts and then each part with its NUL (2 x
 * key__length bytes), names[i] pointing to part i's copy; returns the key.
 * For records keeping their key and names inline (one allocation). */
char *key__pack(char *text, const char *const *parts, size_t n, const char **names);

/* Finds in the uthash table `head` (hash handle `hh`, keyed by key__join
 * text) the entry of parts[0..n): `out` is set to it, or NULL. The key is
 * built on the stack (the heap for long names). Needs <uthash.h>. */
#define KEY_FIND(head, parts, n, out)                                                              \
    do {                                                                                           \
        char key_buf_[256];                                                                        \
        char *key_ = key__join_buf(key_buf_, sizeof key_buf_, (parts), (n));                       \
        (out) = NULL;                                                                              \
        if (key_)                                                                                  \
            HASH_FIND_STR((head), key_, (out));                                                    \
        key__done(key_, key_buf_);                                                                 \
    } while (0)

/* Copies s to *at and moves *at past its NUL; returns the copy. For strings
 * kept inline in a record. */
char *key__put(char **at, const char *s);

#endif
