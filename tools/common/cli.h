/* The tools' command lines: one option table per tool, walked the same way
 * by every tool, and the small value checks they share.
 *
 *     static const struct cli_option options[] = {
 *         {'b', "broker", CLI_VALUE, "URL", "broker (default: $MSGFLO_BROKER)"},
 *         {'f', "forever", CLI_BOOL, NULL, "keep running"},
 *         {0},
 *     };
 *     static const struct cli_spec spec = {"msgflo-x", "Usage: msgflo-x [options]\n",
 *                                          options, NULL};
 *     struct cli c;
 *     cli__init(&c, &spec, argc, argv);
 *     for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
 *         if (it != CLI_OPTION && it != CLI_ARGUMENT)
 *             return cli__stop(&c, it);   // --help, --version: 0; a usage error: 2
 *         ... c.opt->id, c.value, c.flag ...
 *     }
 *
 * Every tool thus takes `--name VALUE` and `--name=VALUE`, rejects an
 * unknown option wherever it stands ("unknown option --bogus", exit 2),
 * ends its options at `--`, and answers -h/--help (generated from the table)
 * and --version. */
#ifndef MSGFLO_TOOLS_COMMON_CLI_H
#define MSGFLO_TOOLS_COMMON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_arg {
    CLI_FLAG,     /* --name, no value (--name=x is an error) */
    CLI_VALUE,    /* --name VALUE or --name=VALUE; the next argument, whatever it is */
    CLI_OPTIONAL, /* --name, --name=VALUE, or --name VALUE when VALUE does not start
                     with "--" (nor holds a '.' when the tool takes file arguments) */
    CLI_BOOL,     /* --name (true), --name=BOOL, or --name BOOL when the next argument
                     is a boolean word (true/false, yes/no, on/off, 1/0); in c->flag */
};

struct cli_option {
    int id;           /* handed back to the tool; 0 ends the table */
    const char *name; /* without the leading "--" */
    enum cli_arg arg;
    const char *value_name; /* shown after the name in the help ("URL"); NULL: none
                               ("[BOOL]" for CLI_BOOL) */
    const char *help;       /* lines separated by '\n'; NULL: accepted but not shown */
};

struct cli_spec {
    const char *prog;  /* the tool's name, first word of its messages */
    const char *usage; /* "Usage: ..." and the description, before the options */
    const struct cli_option *options;
    const char *epilog;  /* after the options, or NULL */
    bool file_arguments; /* CLI_OPTIONAL does not take an argument with a '.' */
};

enum cli_item {
    CLI_END,      /* no more arguments */
    CLI_OPTION,   /* c->opt, with c->value (CLI_VALUE, CLI_OPTIONAL) or c->flag */
    CLI_ARGUMENT, /* a positional argument in c->value */
    CLI_HELP,     /* -h or --help */
    CLI_VERSION,  /* --version */
    CLI_ERROR,    /* a usage error, described in c->error */
};

struct cli {
    const struct cli_spec *spec;
    int argc;
    char **argv;
    int i;
    bool options_done;            /* after "--" */
    const struct cli_option *opt; /* CLI_OPTION */
    const char *value;            /* points into argv; NULL when none */
    bool flag;                    /* CLI_BOOL */
    char error[256];              /* CLI_ERROR, e.g. "unknown option --bogus" */
    char pending[256];            /* an error found ahead by cli__init */
};

void cli__init(struct cli *c, const struct cli_spec *spec, int argc, char **argv);

/* The next item of the command line. A malformed option anywhere on the
 * command line comes first, as the only item before CLI_END. Errors: "unknown option --NAME",
 * "option --NAME needs a value", "option --NAME takes no value",
 * "--NAME needs true or false, not 'WORD'". */
enum cli_item cli__next(struct cli *c);

/* The help generated from the spec: usage, "Options:", one line (or more)
 * per shown option, -h/--help, --version, epilog. */
void cli__help(const struct cli_spec *spec, FILE *f);

/* "PROG (msgflo-c) VERSION" with the version CMake generated. */
void cli__version(const struct cli_spec *spec, FILE *f);

/* Prints "PROG: MESSAGE" and the help on stderr; returns 2 (usage error). */
int cli__usage_error(const struct cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends a command line at CLI_HELP (help on stdout, returns 0), CLI_VERSION
 * (version on stdout, 0) or CLI_ERROR (cli__usage_error, 2). */
int cli__stop(struct cli *c, enum cli_item item);

/* Checks a broker URL (from an option or the environment) before anything
 * starts. Returns 0 (NULL is fine: the tool's default), or -1 with
 * "broker URL URL: REASON" (password hidden) in msg (len bytes): a usage
 * error, exit 2, in every tool. */
int cli__check_broker(const char *url, char *msg, size_t len);

/* For a tool that needs a broker: *broker (an option's value, or NULL)
 * resolved through the environment (msgflo_url_resolve) and checked.
 * Returns -1 when there is a usable one, else the exit status (2) after
 * saying why on stderr. */
int cli__need_broker(const struct cli_spec *spec, const char **broker);

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
