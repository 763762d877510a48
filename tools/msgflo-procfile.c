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

static const char usage[] =
    "Usage: msgflo-procfile [options] GRAPH\n"
    "\n"
    "Print a Procfile (Heroku, foreman, honcho) that starts every participant\n"
    "of GRAPH (.fbp, or FBP JSON if the name ends in .json): one line\n"
    "\"ROLE: COMMAND\" per process, commands from the component library.\n"
    "msgflo/RoundRobin and msgflo/PubSub nodes are not processes and are skipped.\n"
    "\n"
    "Options:\n"
    "  --library FILE      library configuration (default: package.json if it\n"
    "                      exists, else the default handlers only)\n"
    "  --components DIR    component directory (default: participants);\n"
    "                      --componentdir DIR is the same\n"
    "  --ignore NODE       no line for role NODE; repeatable, or NODE,NODE,...\n"
    "  --include DATA      add the line DATA as it is after the generated ones;\n"
    "                      repeatable\n"
    "  -h, --help          show this help\n"
    "\n"
    "Options take their value as --opt VALUE or --opt=VALUE.\n"
    "Exit status: 0 ok, 1 bad graph or library or a role without a command,\n"
    "2 usage error.\n";

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

/* Matches --name VALUE and --name=VALUE; *i advances past a separate value.
 * Returns 1 (matched, *value set), 0 (not this option), -1 (value missing). */
static int option(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

int main(int argc, char **argv)
{
    const char *library_path = NULL, *componentdir = LIBRARY_DEFAULT_COMPONENTDIR;
    const char *graph_path = NULL;
    struct list ignore = {NULL, 0}, include = {NULL, 0};
    struct graph *g = NULL;
    struct library *lib = NULL;
    struct graph_error gerr;
    struct strbuf out;
    char err[1024];
    size_t *order = NULL;
    int status = 1, rc;
    bool options_done = false;

    strbuf__init(&out);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int m = 0;
        if (!options_done && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0) {
                options_done = true;
                continue;
            }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                fputs(usage, stdout);
                status = 0;
                goto done;
            }
            if ((m = option(argc, argv, &i, "--library", &v)) == 1) {
                library_path = v;
            } else if (m == 0 && (m = option(argc, argv, &i, "--components", &v)) == 1) {
                componentdir = v;
            } else if (m == 0 && (m = option(argc, argv, &i, "--componentdir", &v)) == 1) {
                componentdir = v;
            } else if (m == 0 && (m = option(argc, argv, &i, "--ignore", &v)) == 1) {
                if (list_add(&ignore, v))
                    goto oom;
            } else if (m == 0 && (m = option(argc, argv, &i, "--include", &v)) == 1) {
                if (list_add(&include, v))
                    goto oom;
            }
            if (m == -1) {
                fprintf(stderr, "msgflo-procfile: option %s needs a value\n%s", a, usage);
                status = 2;
                goto done;
            }
            if (m == 0) {
                fprintf(stderr, "msgflo-procfile: unknown option %s\n%s", a, usage);
                status = 2;
                goto done;
            }
        } else if (!graph_path) {
            graph_path = a;
        } else {
            fprintf(stderr, "msgflo-procfile: too many arguments: %s\n%s", a, usage);
            status = 2;
            goto done;
        }
    }
    if (!graph_path) {
        fprintf(stderr, "msgflo-procfile: no graph file specified\n%s", usage);
        status = 2;
        goto done;
    }

    /* .fbp port names are lowercased (fbp's default), FBP JSON is taken as
     * written (the original reads it with JSON.parse) */
    rc = graph__load_file(graph_path, graph__path_is_json(graph_path), &g, &gerr);
    if (rc) {
        fprintf(stderr, "%s\n", gerr.message);
        goto done;
    }
    rc = library__load(library_path, componentdir, &lib, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "msgflo-procfile: %s\n", err);
        goto done;
    }

    order = library__process_order(g);
    if (!order && g->n_processes)
        goto oom;
    for (size_t k = 0; k < g->n_processes; k++) {
        const struct graph_process *p = &g->processes[order[k]];
        if (ignored(&ignore, p->name))
            continue;
        if (!library__is_participant(p->component))
            continue; /* a binding, not a process */
        json_t *iips;
        char *cmd;
        if (library__role_iips(g, p->name, &iips))
            goto oom;
        rc = library__command(lib, p->component, p->name, iips, &cmd, err, sizeof(err));
        json_decref(iips);
        if (rc == LIBRARY_ENOCOMMAND) {
            fprintf(stderr, "msgflo-procfile: %s\n", err);
            goto done;
        }
        if (rc)
            goto oom;
        if (out.len)
            strbuf__putc(&out, '\n');
        strbuf__printf(&out, "%s: %s", p->name, cmd);
        free(cmd);
    }
    /* "#{lines.join '\n'}\n#{includes.join '\n'}" printed by console.log */
    strbuf__putc(&out, '\n');
    for (size_t k = 0; k < include.n; k++) {
        if (k)
            strbuf__putc(&out, '\n');
        strbuf__puts(&out, include.items[k]);
    }
    strbuf__putc(&out, '\n');
    if (out.err)
        goto oom;
    fwrite(out.data, 1, out.len, stdout);
    status = fflush(stdout) == 0 ? 0 : 1;
    goto done;

oom:
    fprintf(stderr, "msgflo-procfile: out of memory\n");
    status = 1;
done:
    strbuf__cleanup(&out);
    free(order);
    free(ignore.items);
    free(include.items);
    library__free(lib);
    graph__free(g);
    return status;
}
