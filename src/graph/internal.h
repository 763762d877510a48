/* Helpers shared by the files of the graph layer; not for other layers. */
#ifndef MSGFLO_GRAPH_INTERNAL_H
#define MSGFLO_GRAPH_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "graph/graph.h"
#include "graph/strbuf.h"

/* Formats a double as JavaScript's Number.prototype.toString does (shortest
 * round-trip digits; NaN and infinities as JSON.stringify writes them: null). */
void graph_json__number(double v, char out[40]);

/* Appends String(value) as JavaScript computes it (arrays joined with ",",
 * objects as "[object Object]"); used in the reference's messages. */
void graph_json__js_string(const json_t *value, struct strbuf *sb);

/* Appends a JSON string literal as JSON.stringify writes it. */
void graph_json__quote(const char *s, size_t len, struct strbuf *sb);

/* Fills err with a formatted message and no place. */
void graph__error(struct graph_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A copy of s (n bytes) with a NUL; NULL when out of memory. */
char *graph__strndup(const char *s, size_t n);

#endif
