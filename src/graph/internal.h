/* Helpers shared by the files of the graph layer; not for other layers. */
#ifndef MSGFLO_GRAPH_INTERNAL_H
#define MSGFLO_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "graph/graph.h"
#include "core/strbuf.h"

/* Formats a double as JavaScript's Number.prototype.toString does (shortest
 * round-trip digits; NaN and infinities as JSON.stringify writes them: null). */
void graph_json__number(double v, char out[40]);

/* Numbers as JavaScript holds them (doubles), stored as the .fbp parser
 * stores them: integral values below 2^63 become integers, others stay reals.
 * Applied to documents decoded with JSON_DECODE_INT_AS_REAL. */
void graph_json__normalize_numbers(json_t *v);

/* Appends String(value) as JavaScript computes it (arrays joined with ",",
 * objects as "[object Object]"); used in the reference's messages. */
void graph_json__js_string(const json_t *value, struct strbuf *sb);

/* Appends a JSON string literal as JSON.stringify writes it. */
void graph_json__quote(const char *s, size_t len, struct strbuf *sb);

/* Fills err with a formatted message and no place. */
void graph__error(struct graph_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fills e with copies of process and port (port lowercased if lower) in one
 * allocation of the graph's arena. */
int graph__endpoint_init(struct graph *g, struct graph_endpoint *e, const char *process,
                         size_t process_len, const char *port, size_t port_len, bool lower,
                         int64_t index);

/* Makes room for n connections in all (a hint; 0 or MSGFLO_ENOMEM). */
int graph__reserve_connections(struct graph *g, size_t n);

/* Appends c to the graph, which takes over everything c owns (also on error). */
int graph__push_connection(struct graph *g, struct graph_connection *c);

/* graph__find_process, graph__ensure_process and graph__set_component for
 * names given as len bytes (not NUL-terminated). */
struct graph_process *graph__find_process_n(const struct graph *g, const char *name, size_t len);
int graph__ensure_process_n(struct graph *g, const char *name, size_t len,
                            struct graph_process **out);
int graph__set_component_n(struct graph *g, struct graph_process *p, const char *component,
                           size_t len);

/* A copy of s (n bytes, NUL added) in the graph's arena; NULL when out of memory. */
char *graph__arena_strndup(struct graph *g, const char *s, size_t n);

/* The metadata of a (Component:k=v,...) declaration, from the text after the
 * colon, as the reference's addNode builds it; a new object or NULL (out of
 * memory). */
json_t *fbp__metadata(const char *s, size_t len);

/* What graph__validate_ex found wrong: the process, export or connection
 * (and which end of it names the unknown process) at *index. */
enum graph_part {
    GRAPH_PART_PROCESS,
    GRAPH_PART_INPORT,
    GRAPH_PART_OUTPORT,
    GRAPH_PART_CONNECTION_SRC,
    GRAPH_PART_CONNECTION_TGT,
};

/* graph__validate, also telling where the error is (set only on an error). */
int graph__validate_ex(const struct graph *g, struct graph_error *err, enum graph_part *part,
                       size_t *index);

/* A copy of s (n bytes) with a NUL; NULL when out of memory. */
char *graph__strndup(const char *s, size_t n);

#endif
