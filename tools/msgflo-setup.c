/* msgflo-setup: bindings, participants and IIPs of a graph. */
#include "tools/common/setup_args.h"

#include <stdio.h>

static void print_line(enum setup_output where, const char *line, void *ud)
{
    (void)ud;
    FILE *f = where == SETUP_STDOUT ? stdout : stderr;
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

int main(int argc, char **argv)
{
    struct setup_args args;
    char msg[512];
    int status = 2;
    switch (setup__parse_args(argc, argv, &args, msg, sizeof msg)) {
    case SETUP_ARGS_HELP:
        cli__help(setup__args_spec(), stdout);
        status = 0;
        break;
    case SETUP_ARGS_VERSION:
        cli__version(setup__args_spec(), stdout);
        status = 0;
        break;
    case SETUP_ARGS_USAGE:
        fprintf(stderr, "%s\n", msg);
        cli__help(setup__args_spec(), stderr);
        break;
    default:
        args.options.print = print_line;
        status = setup__run(&args.options);
    }
    setup__args_cleanup(&args);
    return status;
}
