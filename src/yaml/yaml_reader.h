/* yaml/: the YAML reader, for foreign definitions (foreign/) and guv's
 * configuration (guv/config.c). A YAML document: libyaml events become a
 * tree of nodes that keep their place in the text, their tag and their source
 * text; nodes become JSON with the types js-yaml 3 (the original's parser)
 * gives untagged plain scalars. Errors are "FILE:LINE:COLUMN: message". */
#ifndef MSGFLO_YAML_YAML_READER_H
#define MSGFLO_YAML_YAML_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

/* A node of the tree; every pointer is owned by the reader. */
struct ynode {
    enum ynode_kind kind;
    yaml_mark_t mark;
    char *tag;            /* explicit tag, or NULL */
    char *text;           /* scalar text */
    size_t len;           /* of text */
    bool plain;           /* untagged plain scalar: its type is resolved */
    struct ynode **items; /* seq: items; map: key, value, key, value, ... */
    size_t n, cap;
};

struct anchor {
    char *name;
    struct ynode *node; /* borrowed from the tree */
};

struct yreader {
    yaml_parser_t parser;
    bool parser_ready;
    const char *filename; /* borrowed */
    char *errbuf;         /* borrowed; NULL: no messages */
    size_t errlen;
    struct ynode **all; /* every node, for freeing (aliases share nodes) */
    size_t n_all, cap_all;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    size_t json_nodes;
};

/* Reads the single document of text[0..len) into a tree owned by `r` (free
 * with yaml_reader__free, also after a failure). *root is NULL when the
 * text holds no document. Returns 0, MSGFLO_EINVAL (message in errbuf) or
 * MSGFLO_ENOMEM. `filename` and `errbuf` are borrowed until the free. */
int yaml_reader__read(struct yreader *r, const char *text, size_t len, const char *filename,
                      char *errbuf, size_t errlen, struct ynode **root);
void yaml_reader__free(struct yreader *r);

/* Writes "FILE:LINE:COLUMN: message" (or "FILE: message") to the reader's
 * errbuf and returns MSGFLO_EINVAL. */
int yaml_reader__fail_at(struct yreader *r, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int yaml_reader__fail(struct yreader *r, const char *msg);

/* The node as JSON (a new reference in *out; aliases are copied). */
int yaml_reader__to_json(struct yreader *r, const struct ynode *n, json_t **out);
/* A mapping key as the object key js-yaml makes of it: String(value).
 * *out points into the node or into buf. */
int yaml_reader__key(struct yreader *r, const struct ynode *k, char *buf, size_t len,
                     const char **out);
/* Whether the node is a null scalar (~, null, empty, !!null). */
bool yaml_reader__is_null(const struct ynode *n);
/* The effective entries of a mapping, in js-yaml's order: explicit keys,
 * and the keys merged in with `<<` that no explicit key overrides. A
 * duplicate explicit key is an error. Free with yaml_reader__entries_free. */
struct yentry {
    char *key;                    /* owned */
    const struct ynode *key_node; /* borrowed from the tree */
    const struct ynode *value;    /* borrowed from the tree */
    bool merged;
};
int yaml_reader__entries(struct yreader *r, const struct ynode *map, struct yentry **out,
                         size_t *n);
void yaml_reader__entries_free(struct yentry *items, size_t n);

/* The value of the scalar key `key` in a mapping node (explicit, else merged
 * in with `<<`), or NULL. */
const struct ynode *yaml_reader__get(const struct ynode *map, const char *key);

/* --- scalars (yaml_scalar.c) ------------------------------------------------ */

/* The value js-yaml 3 gives `text` as `type` ("null", "bool", "int",
 * "float"), or as any of them when type is NULL (an untagged plain scalar).
 * Returns 1 with a new reference in *out, 0 when the text is not of that
 * type (so it is a string), or MSGFLO_ENOMEM. */
int yaml_scalar__resolve(const char *text, const char *type, json_t **out);
/* Whether an untagged plain scalar's text is null: ~, null, Null, NULL or empty. */
bool yaml_scalar__is_null(const char *text);

#endif
