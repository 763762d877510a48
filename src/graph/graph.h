/* msgflo-c graph layer: the graph model, the .fbp language, FBP JSON and DOT.
 *
 * Sans-I/O: text in, structures out, structures in, text out. Nothing here
 * touches files, sockets or the logger; callers (tools, the coordinator) do.
 *
 * The model follows the FBP JSON graph format (fbp-graph / NoFlo): processes,
 * connections (edges and IIPs), exported inports and outports, groups and
 * properties. Order is kept everywhere (processes in order of first mention,
 * connections in file order), because the reference tools keep it too.
 *
 * Every function returns 0 or a negative MSGFLO_E* code from msgflo/errors.h:
 * MSGFLO_ENOMEM (allocation failed), MSGFLO_EINVAL (bad argument, syntax or
 * validation error in the input), MSGFLO_EJSON (input is not valid JSON).
 */
#ifndef MSGFLO_GRAPH_GRAPH_H
#define MSGFLO_GRAPH_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "msgflo/errors.h"

/* An array-port index that was not given. */
#define GRAPH_NO_INDEX (-1)

/* Strings "owned by the graph" live in the graph's arena and are freed with
 * it; never free() them. */

/* One end of a connection. */
struct graph_endpoint {
    char *process; /* owned by the graph; NULL on the source side of an IIP */
    char *port;    /* owned by the graph */
    int64_t index; /* array-port index, or GRAPH_NO_INDEX */
};

struct graph_process {
    char *name;      /* owned by the graph */
    char *component; /* owned by the graph; NULL when no component was declared */
    /* Metadata: read it with graph__process_metadata. Metadata parsed from
     * .fbp is kept as text and built into JSON on demand (most users never
     * look at it, and building it was a quarter of the parse time). */
    json_t *metadata;          /* one reference owned by the graph, or NULL */
    const char *metadata_text; /* in the graph's arena, or NULL */
    size_t metadata_len;
    bool metadata_first; /* JSON key order: metadata was given before component */
};

/* An edge (src -> tgt) or an initial information packet (data -> tgt). */
struct graph_connection {
    json_t *data; /* IIP value, one reference owned by the graph; NULL for an edge */
    struct graph_endpoint src;
    struct graph_endpoint tgt;
    json_t *metadata; /* one reference owned by the graph; NULL when absent */
};

/* An exported port: the graph's public port `name` maps to process.port. */
struct graph_export {
    char *name;       /* owned by the graph */
    char *process;    /* owned by the graph */
    char *port;       /* owned by the graph */
    json_t *metadata; /* one reference owned by the graph; NULL when absent */
};

/* A visual grouping of nodes (not an IP bracket). */
struct graph_group {
    char *name;       /* owned by the graph */
    json_t *nodes;    /* JSON array of node-name strings, one reference owned by the graph */
    json_t *metadata; /* one reference owned by the graph; NULL when absent */
};

struct graph_arena_block;

/* The fields are readable by anyone; change them only through graph__* calls
 * so the process index stays right. */
struct graph {
    struct graph_process *processes;
    size_t n_processes;
    struct graph_connection *connections;
    size_t n_connections;
    struct graph_export *inports;
    size_t n_inports;
    struct graph_export *outports;
    size_t n_outports;
    struct graph_group *groups;
    size_t n_groups;
    json_t *properties;  /* JSON object, one reference owned by the graph; NULL when absent */
    bool case_sensitive; /* port names kept as written (true) or lowercased (false) */

    /* private */
    size_t cap_processes, cap_connections, cap_inports, cap_outports, cap_groups;
    size_t *index; /* open-addressing hash of process positions + 1; 0 = empty */
    size_t index_cap;
    struct graph_arena_block *arena; /* all the graph's strings */
};

/* A located error. line and column are 1-based; 0 when the error has no
 * place in the text (a validation error about the whole graph). */
struct graph_error {
    int line;
    int column;
    char message[1024];
};

/* ---- model (graph.c) ---- */

/* Returns a new empty graph in *out (free with graph__free). */
int graph__new(struct graph **out);

/* Frees the graph and everything it owns. graph__free(NULL) is a no-op. */
void graph__free(struct graph *g);

/* Looks a process up by name; returns a pointer into g (valid until the
 * graph's processes change) or NULL. */
struct graph_process *graph__find_process(const struct graph *g, const char *name);

/* Adds the process `name` or, if it exists, returns it unchanged; the new or
 * existing process is stored in *out (borrowed from g) when out is not NULL.
 * `name` is copied. */
int graph__ensure_process(struct graph *g, const char *name, struct graph_process **out);

/* Stores in *out a new reference to the process's metadata (a JSON object;
 * release it with json_decref), or NULL when it has none. Returns 0 or
 * MSGFLO_ENOMEM. */
int graph__process_metadata(const struct graph_process *p, json_t **out);

/* Sets (a reference is taken) or clears (NULL) a process's metadata (a JSON
 * object). */
void graph__set_process_metadata(struct graph_process *p, json_t *metadata);

/* Sets (copies) or clears (NULL) a process's component. */
int graph__set_component(struct graph *g, struct graph_process *p, const char *component);

/* Appends an edge. Strings are copied; metadata (may be NULL) gains a reference. */
int graph__add_edge(struct graph *g, const struct graph_endpoint *src,
                    const struct graph_endpoint *tgt, json_t *metadata);

/* Appends an IIP. data gains a reference; tgt strings are copied. */
int graph__add_iip(struct graph *g, json_t *data, const struct graph_endpoint *tgt,
                   json_t *metadata);

/* Sets the exported in- or outport `name` (replacing one of the same name in
 * place, as a JSON object key would be). Strings are copied. */
int graph__set_inport(struct graph *g, const char *name, const char *process, const char *port,
                      json_t *metadata);
int graph__set_outport(struct graph *g, const char *name, const char *process, const char *port,
                       json_t *metadata);

/* Appends a group; nodes (a JSON array of strings) and metadata gain a reference. */
int graph__add_group(struct graph *g, const char *name, json_t *nodes, json_t *metadata);

/* Checks the graph as the reference parser does after parsing: every process
 * has a component, every export and connection names a known process. On an
 * error returns MSGFLO_EINVAL and writes the reference's message to err
 * (line/column 0). */
int graph__validate(const struct graph *g, struct graph_error *err);

/* ---- .fbp parser (fbp_parser.c) ---- */

struct fbp_parse_options {
    bool case_sensitive; /* false (the default): lowercase port and export names */
};

/* Parses .fbp text (len bytes, need not be NUL-terminated) into a new graph
 * in *out (free with graph__free); opts may be NULL for the defaults. On a
 * syntax or validation error returns MSGFLO_EINVAL and fills err (may be
 * NULL) with the place and the message the reference parser gives. */
int fbp__parse(const char *text, size_t len, const struct fbp_parse_options *opts,
               struct graph **out, struct graph_error *err);

/* ---- .fbp writer (fbp_write.c) ---- */

/* Writes the graph as .fbp text into *out (NUL-terminated, free with free()).
 * Fails with MSGFLO_EINVAL (message in err, may be NULL) for a graph that the
 * language cannot express (e.g. a process name with a space). */
int fbp__write(const struct graph *g, char **out, struct graph_error *err);

/* ---- FBP JSON (json_read.c, json_write.c, json_dump.c) ---- */

/* Builds a graph from a parsed FBP JSON document (borrowed). Port and export
 * names are lowercased unless the document says "caseSensitive": true. */
int graph_json__from_json(const json_t *doc, struct graph **out, struct graph_error *err);

/* Parses FBP JSON text; JSON syntax errors return MSGFLO_EJSON with a place. */
int graph_json__read(const char *text, size_t len, struct graph **out, struct graph_error *err);

/* The two shapes FBP JSON is written in: the same graph, in the key order
 * and with the optional parts of the tool each is compared with. Readers of
 * FBP JSON (ours, fbp-graph, the fbp parser) accept both. */
enum graph_json_style {
    /* The fbp reference parser's output (msgflo-graph json, byte for byte):
     * inports, outports, groups, processes, connections, properties (when
     * present), caseSensitive; metadata wherever the graph has it (a
     * process's before or after its component, as it was given). */
    GRAPH_JSON_PARSER,
    /* fbp-graph's Graph#toJSON, which the original runtime saves and serves
     * (the live graph: component:getsource, auto-save): caseSensitive,
     * properties ({} when none), inports, outports, groups, processes (each
     * with component and metadata, {} when none), connections (edges first,
     * then IIPs, each in graph order); the metadata of connections, exports
     * and groups only when it is a non-empty object. */
    GRAPH_JSON_FBP_GRAPH,
};

/* Returns in *out a new JSON document (one reference, owned by the caller)
 * of the graph in `style`. The one FBP JSON writer: msgflo-graph, the live
 * graph (and through it auto-save and getsource) all write with it. */
int graph_json__to_json_style(const struct graph *g, enum graph_json_style style, json_t **out);

/* graph_json__to_json_style with GRAPH_JSON_PARSER. */
int graph_json__to_json(const struct graph *g, json_t **out);

/* Serializes a JSON value as JavaScript's JSON.stringify(value, null, indent)
 * does (key order, number format, escapes). *out is NUL-terminated, free
 * with free(). indent 0 gives the compact form. */
int graph_json__dump(const json_t *value, int indent, char **out);

/* graph_json__to_json + graph_json__dump with indent 2. */
int graph_json__write(const struct graph *g, char **out);

/* ---- DOT (dot.c) ---- */

/* Writes Graphviz DOT: one node per process (role and component), labelled
 * edges per port, IIPs as note-shaped nodes, exported ports as arrows from
 * and to the graph's border. *out is free()d by the caller. */
int dot__write(const struct graph *g, char **out);

#endif
