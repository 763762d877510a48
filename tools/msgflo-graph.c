/* msgflo-graph: convert, check and draw MsgFlo graphs (.fbp and FBP JSON).
 *
 *   msgflo-graph json FILE.fbp    the FBP JSON the reference parser prints
 *   msgflo-graph fbp FILE.json    .fbp text
 *   msgflo-graph check FILE       exit 0, or FILE:LINE:COL: message
 *   msgflo-graph dot FILE         Graphviz DOT
 *
 * Exit codes: 0 ok, 1 the graph (or file) is bad, 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/graph_file.h"

static const char usage[] =
    "Usage: msgflo-graph [--case-sensitive] COMMAND FILE\n"
    "\n"
    "Commands:\n"
    "  json FILE    print the graph as FBP JSON (as the fbp parser prints it)\n"
    "  fbp FILE     print the graph in the .fbp language\n"
    "  check FILE   check the graph; print FILE:LINE:COL: message on an error\n"
    "  dot FILE     print the graph as Graphviz DOT (render with: dot -Tsvg)\n"
    "\n"
    "FILE is FBP JSON if its name ends in .json, else .fbp; '-' reads standard\n"
    "input (JSON if it starts with '{').\n"
    "\n"
    "Options:\n"
    "  --case-sensitive  keep port names as written (default: lowercase them,\n"
    "                    as msgflo does)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok, 1 invalid graph or unreadable file, 2 usage error.\n";

int main(int argc, char **argv)
{
    struct fbp_parse_options opts = {false};
    const char *command = NULL, *path = NULL;
    struct graph *g = NULL;
    struct graph_error err;
    char *output = NULL;
    int status = 1, rc;

    memset(&err, 0, sizeof(err));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--case-sensitive") == 0) {
            opts.case_sensitive = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "msgflo-graph: unknown option %s\n%s", argv[i], usage);
            return 2;
        } else if (!command) {
            command = argv[i];
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "msgflo-graph: too many arguments\n%s", usage);
            return 2;
        }
    }
    if (!command || !path) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    if (strcmp(command, "json") && strcmp(command, "fbp") && strcmp(command, "check") &&
        strcmp(command, "dot")) {
        fprintf(stderr, "msgflo-graph: unknown command '%s'\n%s", command, usage);
        return 2;
    }

    /* --case-sensitive applies to .fbp text; JSON files keep what the JSON
     * reader does with port names. */
    rc = graph__load_file(path, opts.case_sensitive && !graph__path_is_json(path), &g, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.message[0] ? err.message : msgflo_strerror(rc));
        goto out;
    }

    if (strcmp(command, "json") == 0)
        rc = graph_json__write(g, &output);
    else if (strcmp(command, "fbp") == 0)
        rc = fbp__write(g, &output, &err);
    else if (strcmp(command, "dot") == 0)
        rc = dot__write(g, &output);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, err.message[0] ? err.message : msgflo_strerror(rc));
        goto out;
    }
    if (output) {
        fputs(output, stdout);
        if (strcmp(command, "json") == 0)
            fputc('\n', stdout);
    }
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    free(output);
    graph__free(g);
    return status;
}
