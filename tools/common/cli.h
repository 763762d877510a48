/* Command-line option helpers shared by the tools. */
#ifndef MSGFLO_TOOLS_COMMON_CLI_H
#define MSGFLO_TOOLS_COMMON_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Whether argv element `arg` is option `name` ("--name" or "--name=..."). */
bool cli__is_option(const char *arg, const char *name);

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], advancing *i
 * past a separate value; NULL when absent. Points into argv. */
const char *cli__value(int argc, char **argv, int *i, const char *name);

/* Copies the option name of `arg` ("--name" of "--name=value") into name
 * (n bytes) and returns the text after '=', or NULL when there is none. */
const char *cli__split(const char *arg, char *name, size_t n);

/* A boolean option at argv[*i] whose text after '=' is `value` (NULL: none):
 * that value, else the next argument when it is a boolean word (then *i
 * advances past it), else true. Returns 0, or -1 when `value` is not a
 * boolean word (true/false, yes/no, on/off, 1/0). */
int cli__flag(int argc, char **argv, int *i, const char *value, bool *out);

/* A whole decimal number from min to max (the whole text). */
bool cli__number(const char *text, long min, long max, long *out);

/* A positive, finite number of seconds. */
bool cli__seconds(const char *text, double *out);

/* Names given as comma-separated lists, possibly over several options
 * ("--ignore a,b --ignore c"). items[] is NULL-terminated; the strings are
 * owned by the list. Zero-initialize, add, then cli__list_cleanup. */
#define CLI_LIST_MAX 256

struct cli_list {
    const char *items[CLI_LIST_MAX + 1];
    size_t n;
    char *owned[64];
    size_t n_owned;
};

/* Adds the non-empty names of `csv`. Returns 0, or -1 when the list is full
 * (CLI_LIST_MAX names or 64 options) or out of memory. */
int cli__list_add_csv(struct cli_list *l, const char *csv);

void cli__list_cleanup(struct cli_list *l);

#endif
