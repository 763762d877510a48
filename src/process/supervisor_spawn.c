/* What the supervisor runs for a participant: program lookup in PATH, the
 * command line (argv splitting, the shell, setpriv) and the environment.
 * See supervisor_spawn.h and docs/supervisor.md. */
#include "process/supervisor_spawn.h"

#include "process/supervisor.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static bool executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *supervisor__find_program(const char *name)
{
    if (strchr(name, '/'))
        return executable_file(name) ? strdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
    char buf[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 &&
            (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name) < sizeof buf &&
            executable_file(buf))
            return strdup(buf);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

/* --- environment ---------------------------------------------------------- */

static bool env__overridden(const char *entry, char *const *extra)
{
    size_t n = strcspn(entry, "=");
    for (char *const *e = extra; e && *e; e++)
        if (strncmp(*e, entry, n) == 0 && (*e)[n] == '=')
            return true;
    return false;
}

char **supervisor_spawn__env(const char *broker_env, char *const *extra_env)
{
    size_t n = 0, extra = 0;
    while (environ && environ[n])
        n++;
    while (extra_env && extra_env[extra])
        extra++;
    char **envp = calloc(n + extra + 2, sizeof *envp);
    if (!envp)
        return NULL;
    char *brk[] = {(char *)broker_env, NULL};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (env__overridden(environ[i], extra_env) ||
            (broker_env && env__overridden(environ[i], brk)))
            continue;
        envp[k++] = environ[i];
    }
    if (broker_env && !env__overridden(broker_env, extra_env))
        envp[k++] = (char *)broker_env;
    for (size_t i = 0; i < extra; i++)
        envp[k++] = extra_env[i];
    envp[k] = NULL;
    return envp;
}

/* --- command line --------------------------------------------------------- */

/* Splits on single spaces, keeping empty words, as the original does
 * (cmd.split(' ')). `copy` is modified; the result points into it. */
static char **args__split(char *copy)
{
    size_t n = 1;
    for (const char *c = copy; *c; c++)
        n += (*c == ' ');
    char **argv = calloc(n + 1, sizeof *argv);
    if (!argv)
        return NULL;
    size_t k = 0;
    char *word = copy;
    for (char *c = copy;; c++) {
        if (*c == ' ' || *c == '\0') {
            bool end = (*c == '\0');
            *c = '\0';
            argv[k++] = word;
            word = c + 1;
            if (end)
                break;
        }
    }
    argv[k] = NULL;
    return argv;
}

/* Whether `sh -c "exec <command>"` runs what `sh -c "<command>"` runs: one
 * simple command that starts with a program (a path, or a name found in
 * PATH: not a builtin such as `exit` or `cd`, nor a keyword); no list,
 * pipeline, background job, subshell, substitution or leading variable
 * assignment (`exec A=1 prog` would run a program named "A=1").
 * Conservative: a `;` or `|` inside quotes also says no, and the command
 * then runs unchanged. */
bool supervisor_spawn__execable(const char *command)
{
    const char *c = command + strspn(command, " \t");
    if (!*c || strpbrk(c, ";|(){}\n`#"))
        return false;
    for (const char *amp = strchr(c, '&'); amp; amp = strchr(amp + 1, '&')) {
        if (amp == c || (amp[-1] != '>' && amp[-1] != '<'))
            return false; /* `a & b`, `a && b`; `2>&1` is a redirection */
    }
    size_t n = strcspn(c, " \t");
    if (memchr(c, '=', n) || strpbrk(c, "'\"\\$") == c)
        return false;
    char word[1024];
    if (n >= sizeof word)
        return false;
    memcpy(word, c, n);
    word[n] = '\0';
    if (strchr(word, '/'))
        return strpbrk(word, "'\"\\$*?[") == NULL;
    char *path = supervisor__find_program(word);
    free(path);
    return path != NULL;
}

void supervisor_spawn__args(const char *command, const char *shell, const char *setpriv,
                            struct supervisor_spawn_args *out)
{
    char **argv = NULL;
    char *shell_argv[4];
    memset(out, 0, sizeof *out);
    if (shell) {
        /* The shell execs a simple command, so the participant is the process
         * the supervisor started: its parent-death signal, pid and exit
         * status are the participant's own, not those of a waiting shell. */
        size_t len = strlen(command) + sizeof "exec ";
        bool exec = supervisor_spawn__execable(command);
        if (exec && (out->words = malloc(len)) != NULL)
            snprintf(out->words, len, "exec %s", command);
        shell_argv[0] = (char *)shell;
        shell_argv[1] = "-c";
        shell_argv[2] = exec ? out->words : (char *)command;
        shell_argv[3] = NULL;
        argv = exec && !out->words ? NULL : shell_argv;
    } else if ((out->words = strdup(command)) != NULL) {
        argv = args__split(out->words);
    }
    /* Run through `setpriv --pdeathsig=TERM` (it execs the command in the
     * same process): children get SIGTERM if the supervisor dies. */
    size_t argc = 0;
    while (argv && argv[argc])
        argc++;
    if (argv && (out->argv = calloc(argc + 3, sizeof *out->argv)) != NULL) {
        size_t k = 0;
        if (setpriv) {
            out->argv[k++] = (char *)setpriv;
            out->argv[k++] = "--pdeathsig=TERM";
        }
        out->program = argv[0];
        for (size_t i = 0; i <= argc; i++)
            out->argv[k++] = argv[i];
    }
    if (argv != shell_argv)
        free(argv);
}

void supervisor_spawn__args_cleanup(struct supervisor_spawn_args *a)
{
    free(a->argv);
    free(a->words);
    memset(a, 0, sizeof *a);
}
