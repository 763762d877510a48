/* What the supervisor runs for a participant: its command line (split on
 * single spaces, or through a shell; behind setpriv where installed) and its
 * environment. Private to supervisor.c and supervisor_spawn.c. */
#ifndef MSGFLO_PROCESS_SUPERVISOR_SPAWN_H
#define MSGFLO_PROCESS_SUPERVISOR_SPAWN_H

#include <stdbool.h>

/* The command line of one spawn. */
struct supervisor_spawn_args {
    /* Owned array, NULL-terminated, or NULL when out of memory: what
     * uv_spawn runs. Its strings are borrowed from the arguments of
     * supervisor_spawn__args and from `words`. */
    char **argv;
    /* Borrowed from argv: the program of the command itself (the shell, or
     * the first word), after setpriv's arguments; NULL with argv. */
    const char *program;
    /* Owned: the copy of the command that the split words point into, or NULL. */
    char *words;
};

/* Whether a shell may exec `command` (one simple command: no `;`, `&`, `|`,
 * parentheses, braces, backquotes, comments, newlines, leading assignment or
 * shell keyword). */
bool supervisor_spawn__execable(const char *command);

/* Builds the command line of `command` into *out: `<shell> -c <command>`
 * when shell is not NULL (`<shell> -c "exec <command>"` when
 * supervisor_spawn__execable),  else command split on single spaces, keeping empty
 * words (the original's cmd.split(' ')); behind `<setpriv> --pdeathsig=TERM`
 * when setpriv is not NULL. command, shell and setpriv are borrowed until
 * supervisor_spawn__args_cleanup. Out of memory leaves out->argv NULL. */
void supervisor_spawn__args(const char *command, const char *shell, const char *setpriv,
                            struct supervisor_spawn_args *out);

/* Frees what a owns; a is then empty. */
void supervisor_spawn__args_cleanup(struct supervisor_spawn_args *a);

/* The child's environment: the parent's, minus the variables that
 * broker_env ("MSGFLO_BROKER=...", or NULL) and extra (NULL-terminated
 * "NAME=value" entries, or NULL) replace, plus those. Returns an owned array
 * (free with free()) of borrowed strings, NULL-terminated; NULL when out of
 * memory. */
char **supervisor_spawn__env(const char *broker_env, char *const *extra);

#endif
