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
#include "tools/common/cli.h"

enum { OPT_CASE_SENSITIVE = 1 };

static const struct cli_option options[] = {
    {OPT_CASE_SENSITIVE, "case-sensitive", CLI_FLAG, NULL,
     "keep port names as written (default: lowercase them,\nas msgflo does)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-graph",
    .usage = "Usage: msgflo-graph [--case-sensitive] COMMAND FILE\n"
             "\n"
             "Commands:\n"
             "  json FILE    print the graph as FBP JSON (as the fbp parser prints it)\n"
             "  fbp FILE     print the graph in the .fbp language\n"
             "  check FILE   check the graph; print FILE:LINE:COL: message on an error\n"
             "  dot FILE     print the graph as Graphviz DOT (render with: dot -Tsvg)\n"
             "\n"
             "FILE is FBP JSON if its name ends in .json, else .fbp; '-' reads standard\n"
             "input (JSON if it starts with '{').\n",
    .options = options,
    .epilog = "Exit status: 0 ok, 1 invalid graph or unreadable file, 2 usage error.\n",
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, bool *case_sensitive, const char **command,
                      const char **path)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it == CLI_OPTION)
            *case_sensitive = true;
        else if (it == CLI_ARGUMENT && !*command)
            *command = c.value;
        else if (it == CLI_ARGUMENT && !*path)
            *path = c.value;
        else if (it == CLI_ARGUMENT)
            return cli__usage_error(&spec, "too many arguments");
        else
            return cli__stop(&c, it);
    }
    if (!*command || !*path) {
        cli__help(&spec, stderr);
        return 2;
    }
    if (strcmp(*command, "json") && strcmp(*command, "fbp") && strcmp(*command, "check") &&
        strcmp(*command, "dot"))
        return cli__usage_error(&spec, "unknown command '%s'", *command);
    return -1;
}

static int write_graph(const char *command, const char *path, const struct graph *g)
{
    struct graph_error err;
    char *output = NULL;
    int rc = 0;
    memset(&err, 0, sizeof(err));
    if (strcmp(command, "json") == 0)
        rc = graph_json__write(g, &output);
    else if (strcmp(command, "fbp") == 0)
        rc = fbp__write(g, &output, &err);
    else if (strcmp(command, "dot") == 0)
        rc = dot__write(g, &output);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, err.message[0] ? err.message : msgflo_strerror(rc));
        free(output);
        return 1;
    }
    if (output) {
        fputs(output, stdout);
        if (strcmp(command, "json") == 0)
            fputc('\n', stdout);
    }
    free(output);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    bool case_sensitive = false;
    const char *command = NULL, *path = NULL;
    int status = parse_args(argc, argv, &case_sensitive, &command, &path);
    if (status >= 0)
        return status;
    /* --case-sensitive applies to .fbp text; JSON files keep what the JSON
     * reader does with port names. */
    struct graph *g = NULL;
    struct graph_error err;
    memset(&err, 0, sizeof(err));
    int rc = graph__load_file(path, case_sensitive && !graph__path_is_json(path), &g, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.message[0] ? err.message : msgflo_strerror(rc));
        return 1;
    }
    status = write_graph(command, path, g);
    graph__free(g);
    return status;
}
