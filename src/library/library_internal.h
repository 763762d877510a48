/* What the files of the component library share; not for use outside them.
 *
 *   library.c           the model: assembling, lookup, accessors, graph helpers
 *   library_config.c    the configuration file (normalizeConfig, componentsFromConfig)
 *   library_scan.c      the component directory and its handlers
 *   library_template.c  command templates: variables, #ROLE and #IIPS
 */
#ifndef MSGFLO_LIBRARY_LIBRARY_INTERNAL_H
#define MSGFLO_LIBRARY_LIBRARY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "library/library.h"

/* The logger namespace of the library. */
#define LIBRARY_NS "msgflo:library"

struct library {
    struct library_component *comps; /* owned, with the strings of each */
    size_t n, cap;
    char *ns;           /* owned; NULL when none (or "") */
    char *repository;   /* owned; NULL when none */
    char *componentdir; /* owned; as given, or the default */
};

/* A variable: marker name (as in the configuration) and its text. */
struct library_var {
    const char *name; /* borrowed from the configuration, or a literal */
    char *value;      /* owned */
};

struct library_vars {
    struct library_var *v; /* owned */
    size_t n, cap;
};

/* The configuration, normalized (normalizeConfig). The JSON values and
 * strings are borrowed from the JSON document. */
struct library_config {
    const char *name;   /* for messages; borrowed */
    const char *prefix; /* "" or "msgflo." */
    const json_t *cfg;  /* the object holding the library settings */
    const json_t *components;
    const json_t *handlers;
    struct library_vars vars; /* owned: free with library_config__cleanup */
};

/* A key's place in the order JavaScript visits an object's keys: array
 * indexes ("0" or [1-9][0-9]* below 2^32-1) first, in numeric order, then
 * the other keys in insertion order `pos`. */
struct library_js_order {
    size_t pos;
    bool is_index;
    unsigned long index;
};

/* ---- library.c ---- */

/* Writes a one-line message to err (NULL: none). */
void library__set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets *o to the place of key (not kept) inserted at position pos. */
void library__js_order_set(struct library_js_order *o, const char *key, size_t pos);

/* Compares two places as qsort wants: < 0 when a comes first. */
int library__js_order_cmp(const struct library_js_order *a, const struct library_js_order *b);

/* Adds a component unless library__find already finds one by that name
 * (the original's _updateComponents keeps the existing one). Takes
 * ownership of command and filename (also on an error); name, language (a
 * string literal or NULL) and source (for the warning) are borrowed. */
int library__add_component(struct library *lib, const char *name, char *command,
                           const char *language, char *filename, const char *source);

/* ---- library_config.c ---- */

/* Reads the library settings of doc (borrowed; NULL or null for none) into
 * *c, whose name is set, and the namespace and repository into lib.
 * Free c's variables with library_config__cleanup, also after an error.
 * Errors: MSGFLO_EINVAL (message in err), MSGFLO_ENOMEM. */
int library_config__read(const json_t *doc, struct library_config *c, struct library *lib,
                         char *err, size_t errlen);

void library_config__cleanup(struct library_config *c);

/* Adds the configuration's "components" to lib (componentsFromConfig). */
int library_config__add_components(struct library *lib, const struct library_config *c);

/* ---- library_scan.c ---- */

/* Adds the components of lib's component directory (componentsFromDirectory).
 * A directory that does not exist gives none. Errors: MSGFLO_ESYS,
 * MSGFLO_ENOMEM (message in err). */
int library_scan__directory(struct library *lib, const struct library_config *c, char *err,
                            size_t errlen);

/* ---- library_template.c ---- */

/* Sets name (borrowed until vs is freed) to value (copied), in place when
 * name is there (as a JavaScript object keeps a key's position), else at the
 * end. */
int library_template__vars_set(struct library_vars *vs, const char *name, const char *value);

/* Frees what vs owns and empties it. */
void library_template__vars_free(struct library_vars *vs);

/* baseComponentCommand: tmpl (borrowed) with the configuration's variables,
 * #FILENAME (when filename is not NULL), #COMPONENTNAME and #COMPONENT
 * replaced, in the original's order. *out is free()d by the caller. */
int library_template__base_command(const struct library_config *c, const char *component,
                                   const char *tmpl, const char *filename, char **out);

#endif
