/* msgflo-c coordination layer: the component library.
 *
 * Maps a component name (the `Component` of `role(Component)` in a graph) to
 * the command that starts a participant of it, as msgflo's src/library.coffee
 * does. Used by msgflo-setup, msgflo-procfile and the runtime. See
 * docs/component-library.md for the configuration file.
 *
 * Configuration: a JSON file (default package.json) whose library settings
 * are either at the top level or under the key "msgflo":
 *   components  {"name": "command template"}
 *   handlers    {".ext": "command template"}   merged over the defaults
 *   variables   {"NAME": "text"}               #NAME in templates
 *   namespace   components from files are "<namespace>/<basename>"
 *               (default: the top-level "name", as in package.json)
 *   repository  text, or the top-level repository / repository.url
 *
 * Components come from, in this order (a later one whose name already finds
 * a component through library__find is ignored, as in the original):
 *   1. files in the component directory (default "participants", sorted by
 *      name) whose extension has a handler; executable regular files whose
 *      extension has none run as "#FILENAME #ROLE" (our addition);
 *   2. the "components" of the configuration.
 *
 * Templates: when the library is loaded, each command has, in this order, the
 * configuration's variables (in JavaScript key order), #FILENAME (the file,
 * as componentdir/name), #COMPONENTNAME (the second '/'-separated part of
 * the name, or the whole name when it has none) and #COMPONENT (the name;
 * for a component from a file its base name, without the namespace)
 * replaced everywhere; library__command then
 * replaces #ROLE and #IIPS. Replacement is literal text (the original used
 * regular expressions; see the doc for the difference).
 *
 * Every function returns 0 or a negative MSGFLO_E* code (msgflo/errors.h).
 * Functions taking `char *err, size_t errlen` write a one-line message there
 * on an error (err may be NULL).
 */
#ifndef MSGFLO_LIBRARY_LIBRARY_H
#define MSGFLO_LIBRARY_LIBRARY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "graph/graph.h"
#include "msgflo/errors.h"

/* The default configuration file and component directory. */
#define LIBRARY_DEFAULT_CONFIG       "package.json"
#define LIBRARY_DEFAULT_COMPONENTDIR "participants"

/* library__command's error when the component is unknown or has no command. */
#define LIBRARY_ENOCOMMAND MSGFLO_ENOPORT

struct library;

struct library_component {
    const char *name;     /* "ns/Name" or "Name" */
    const char *command;  /* template with #ROLE and #IIPS left; "" = no command */
    const char *language; /* "python", "coffeescript", "javascript", "c++", "rust",
                           * "yaml" from the file's extension; NULL when unknown
                           * (from the configuration, an executable, .json/.fbp) */
    const char *filename; /* the file it comes from (componentdir/name), or NULL */
};

/* Loads the library from the configuration file config_path and the
 * component directory componentdir, into a new library in *out (free with
 * library__free).
 *
 * config_path NULL: LIBRARY_DEFAULT_CONFIG in the current directory if it
 * exists, else no configuration (the default handlers still apply). An
 * explicit path that cannot be read is an error (MSGFLO_ESYS).
 * componentdir NULL or "": LIBRARY_DEFAULT_COMPONENTDIR. A component
 * directory that does not exist gives no components (not an error).
 *
 * Errors: MSGFLO_ESYS (a file or the directory cannot be read), MSGFLO_EJSON
 * ("package.json:3:5: ..." with jansson's place), MSGFLO_EINVAL (a field has
 * the wrong type: "lib.json: msgflo.components.Foo: expected a string"),
 * MSGFLO_ENOMEM. */
int library__load(const char *config_path, const char *componentdir, struct library **out,
                  char *err, size_t errlen);

/* As library__load with an already parsed configuration (borrowed; NULL for
 * none). config_name names it in error messages (NULL: "configuration"). */
int library__from_json(const json_t *config, const char *config_name, const char *componentdir,
                       struct library **out, char *err, size_t errlen);

/* Frees the library; library__free(NULL) is a no-op. */
void library__free(struct library *lib);

/* The components, in order of addition: 0 <= i < library__count(lib). The
 * pointers stay valid until library__free. */
size_t library__count(const struct library *lib);
const struct library_component *library__get(const struct library *lib, size_t i);

/* Looks a component up as the original does: the exact name, then the name
 * without its namespace (the part after the last '/'), then
 * "<namespace>/<name>". NULL when none matches. */
const struct library_component *library__find(const struct library *lib, const char *name);

/* Whether `name` may name a component file written from a client
 * (component:source): "Name" or "library/Name", each part 1-64 characters of
 * letters, digits, '_', '-' and (not first) '.', so the file
 * componentdir/Name.<ext> stays in the component directory and is not
 * hidden. Returns 0, or MSGFLO_EINVAL with the reason in err. */
int library__check_component_name(const char *name, char *err, size_t errlen);

/* The namespace, repository (NULL when none) and component directory. */
const char *library__namespace(const struct library *lib);
const char *library__repository(const struct library *lib);
const char *library__componentdir(const struct library *lib);

/* The command for a participant of `component` in role `role`: the
 * component's template with #ROLE replaced by role, then #IIPS by the IIPs
 * as '<JSON>' (single quotes included; JSON as JavaScript's JSON.stringify
 * writes it, e.g. '{"portA":"valueA","portB":3.14}'; iips NULL gives '{}').
 * *out_cmd is free()d by the caller.
 *
 * Returns LIBRARY_ENOCOMMAND with "No component <component> defined for role
 * <role>" when library__find finds nothing or the command is empty. */
int library__command(const struct library *lib, const char *component, const char *role,
                     const json_t *iips, char **out_cmd, char *err, size_t errlen);

/* ---- helpers for the tools ---- */

/* The processes of g in the order the original visits them (`for name of
 * graph.processes`: JavaScript key order, i.e. names that are array indexes
 * such as "2" first in numeric order, then the others in graph order): a new
 * array of g->n_processes indexes into g->processes, free()d by the caller;
 * NULL when out of memory (or when the graph has no processes). */
size_t *library__process_order(const struct graph *g);

/* Whether a graph process of this component is a participant (a process to
 * start): false for NULL, "msgflo/RoundRobin" and "msgflo/PubSub". */
bool library__is_participant(const char *component);

/* The IIPs sent to role in graph g as a new JSON object {port: data} (one
 * reference, owned by the caller), as the original's iipsForRole builds it:
 * connections in order, IIPs with null data skipped, a later IIP to the same
 * port replacing the earlier one. */
int library__role_iips(const struct graph *g, const char *role, json_t **out);

/* Replaces every occurrence of "#" + NAME in text by value, literally (NAME
 * as given; callers pass upper case). *out is free()d by the caller. */
int library__replace_marker(const char *text, const char *name, const char *value, char **out);

#endif
