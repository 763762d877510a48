/* msgflo-c graph layer: loading a graph file, for the tools.
 *
 * The rest of the graph layer is sans-I/O; this file is the one place that
 * reads files, so every tool loads graphs the same way msgflo-graph does:
 * FBP JSON when the name ends in ".json", else the .fbp language; "-" reads
 * standard input (FBP JSON when its first non-blank character is '{').
 * JSON graphs are validated as .fbp graphs are (every process has a
 * component, connections name known processes).
 */
#ifndef MSGFLO_GRAPH_GRAPH_FILE_H
#define MSGFLO_GRAPH_GRAPH_FILE_H

#include <stdbool.h>

#include "graph/graph.h"

/* Whether graph__load_file reads `path` as FBP JSON (its name ends in
 * ".json"; for "-" this is decided by the content and this returns false). */
bool graph__path_is_json(const char *path);

/* Reads and parses the graph file `path` into a new graph in *out (free with
 * graph__free).
 *
 * case_sensitive: false lowercases port and export names as the reference
 * tools do for .fbp (fbp's default); an FBP JSON file is then taken as
 * fbp-graph takes it (lowercased unless the file says "caseSensitive": true).
 * true keeps port names exactly as written in both formats (for FBP JSON as
 * the reference's JSON.parse does).
 *
 * Returns 0, MSGFLO_ESYS (cannot open or read the file), MSGFLO_EJSON (not
 * valid JSON), MSGFLO_EINVAL (syntax or validation error) or MSGFLO_ENOMEM.
 * On an error err (may be NULL) gets the place (line, column; 0 when none)
 * and a message that starts with the file name, ready to print:
 *   "graph.fbp:3:7: Expected ..."   "graph.json: processes.a: expected an object"
 *   "missing.fbp: cannot open: No such file or directory"
 */
int graph__load_file(const char *path, bool case_sensitive, struct graph **out,
                     struct graph_error *err);

#endif
