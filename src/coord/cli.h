/* Command-line option helpers shared by the tools. */
#ifndef MSGFLO_COORD_CLI_H
#define MSGFLO_COORD_CLI_H

#include <stdbool.h>

/* Whether argv element `arg` is option `name` ("--name" or "--name=..."). */
bool cli__is_option(const char *arg, const char *name);

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], advancing *i
 * past a separate value; NULL when absent. Points into argv. */
const char *cli__value(int argc, char **argv, int *i, const char *name);

/* A positive, finite number of seconds. */
bool cli__seconds(const char *text, double *out);

#endif
