/* msgflo-procfile: a Heroku/foreman Procfile for a MsgFlo graph.
 *
 * Prints one "<role>: <command>" line per participant of the graph, with the
 * command from the component library (#ROLE and #IIPS filled in), then every
 * --include line as given; the same text as msgflo's msgflo-procfile.
 * See docs/msgflo-procfile.md.
 *
 * Exit codes: 0 ok, 1 bad graph, library or missing component, 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "graph/graph_file.h"
#include "core/strbuf.h"
#include "tools/common/cli.h"

enum { OPT_LIBRARY = 1, OPT_COMPONENTS, OPT_COMPONENTDIR, OPT_IGNORE, OPT_INCLUDE };

static const struct cli_option options[] = {
    {OPT_LIBRARY, "library", CLI_VALUE, "FILE",
     "library configuration (default: package.json if it\n"
     "exists, else the default handlers only)"},
    {OPT_COMPONENTS, "components", CLI_VALUE, "DIR",
     "component directory (default: participants);\n--componentdir DIR is the same"},
    {OPT_COMPONENTDIR, "componentdir", CLI_VALUE, "DIR", NULL},
    {OPT_IGNORE, "ignore", CLI_VALUE, "NODE",
     "no line for role NODE; repeatable, or NODE,NODE,..."},
    {OPT_INCLUDE, "include", CLI_VALUE, "DATA",
     "add the line DATA as it is after the generated ones;\nrepeatable"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-procfile",
    .usage = "Usage: msgflo-procfile [options] GRAPH\n"
             "\n"
             "Print a Procfile (Heroku, foreman, honcho) that starts every participant\n"
             "of GRAPH (.fbp, or FBP JSON if the name ends in .json): one line\n"
             "\"ROLE: COMMAND\" per process, commands from the component library.\n"
             "msgflo/RoundRobin and msgflo/PubSub nodes are not processes and are skipped.\n",
    .options = options,
    .epilog = "Options take their value as --opt VALUE or --opt=VALUE.\n"
              "Exit status: 0 ok, 1 bad graph or library or a role without a command,\n"
              "2 usage error.\n",
};

struct list {
    const char **items;
    size_t n;
};

static int list_add(struct list *l, const char *s)
{
    const char **bigger = realloc(l->items, (l->n + 1) * sizeof(*bigger));
    if (!bigger)
        return -1;
    l->items = bigger;
    l->items[l->n++] = s;
    return 0;
}

static bool ignored(const struct list *ignore, const char *role)
{
    size_t rlen = strlen(role);
    for (size_t i = 0; i < ignore->n; i++) {
        /* each --ignore value is one role or a comma-separated list */
        const char *p = ignore->items[i];
        if (strcmp(p, role) == 0)
            return true;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (len == rlen && strncmp(p, role, len) == 0)
                return true;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    return false;
}

struct args {
    const char *library_path, *componentdir, *graph_path;
    struct list ignore, include;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it == CLI_ARGUMENT && a->graph_path)
            return cli__usage_error(&spec, "too many arguments: %s", c.value);
        if (it == CLI_ARGUMENT) {
            a->graph_path = c.value;
            continue;
        }
        if (it != CLI_OPTION)
            return cli__stop(&c, it);
        int id = c.opt->id;
        if (id == OPT_LIBRARY)
            a->library_path = c.value;
        else if (id == OPT_COMPONENTS || id == OPT_COMPONENTDIR)
            a->componentdir = c.value;
        else if (list_add(id == OPT_IGNORE ? &a->ignore : &a->include, c.value) != 0) {
            fprintf(stderr, "msgflo-procfile: out of memory\n");
            return 1;
        }
    }
    if (!a->graph_path)
        return cli__usage_error(&spec, "no graph file specified");
    return -1;
}

/* The Procfile text of graph g into out. Returns 0, 1 (message printed) or -1
 * (out of memory). */
static int procfile(const struct graph *g, const struct library *lib, const struct args *a,
                    struct strbuf *out)
{
    char err[1024];
    size_t *order = library__process_order(g);
    if (!order && g->n_processes)
        return -1;
    int status = -1;
    for (size_t k = 0; k < g->n_processes; k++) {
        const struct graph_process *p = &g->processes[order[k]];
        if (ignored(&a->ignore, p->name))
            continue;
        if (!library__is_participant(p->component))
            continue; /* a binding, not a process */
        json_t *iips;
        char *cmd;
        if (library__role_iips(g, p->name, &iips))
            goto out;
        int rc = library__command(lib, p->component, p->name, iips, &cmd, err, sizeof(err));
        json_decref(iips);
        if (rc == LIBRARY_ENOCOMMAND) {
            fprintf(stderr, "msgflo-procfile: %s\n", err);
            status = 1;
            goto out;
        }
        if (rc)
            goto out;
        if (out->len)
            strbuf__putc(out, '\n');
        strbuf__printf(out, "%s: %s", p->name, cmd);
        free(cmd);
    }
    /* "#{lines.join '\n'}\n#{includes.join '\n'}" printed by console.log */
    strbuf__putc(out, '\n');
    for (size_t k = 0; k < a->include.n; k++) {
        if (k)
            strbuf__putc(out, '\n');
        strbuf__puts(out, a->include.items[k]);
    }
    strbuf__putc(out, '\n');
    status = out->err ? -1 : 0;
out:
    free(order);
    return status;
}

int main(int argc, char **argv)
{
    struct args a = {.componentdir = LIBRARY_DEFAULT_COMPONENTDIR};
    struct graph *g = NULL;
    struct library *lib = NULL;
    struct graph_error gerr;
    struct strbuf out;
    char err[1024];
    int status = parse_args(argc, argv, &a);
    strbuf__init(&out);
    if (status >= 0)
        goto done;
    status = 1;
    /* .fbp port names are lowercased (fbp's default), FBP JSON is taken as
     * written (the original reads it with JSON.parse) */
    if (graph__load_file(a.graph_path, graph__path_is_json(a.graph_path), &g, &gerr)) {
        fprintf(stderr, "%s\n", gerr.message);
        goto done;
    }
    if (library__load(a.library_path, a.componentdir, &lib, err, sizeof(err))) {
        fprintf(stderr, "msgflo-procfile: %s\n", err);
        goto done;
    }
    status = procfile(g, lib, &a, &out);
    if (status < 0)
        fprintf(stderr, "msgflo-procfile: out of memory\n");
    if (status == 0) {
        fwrite(out.data, 1, out.len, stdout);
        status = fflush(stdout) == 0 ? 0 : 1;
    }
    status = status < 0 ? 1 : status;
done:
    strbuf__cleanup(&out);
    free(a.ignore.items);
    free(a.include.items);
    library__free(lib);
    graph__free(g);
    return status;
}
