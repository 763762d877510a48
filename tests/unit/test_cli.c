/* The tools' option walker (tools/common/cli.c) and msgflo-setup's command
 * line on it (tools/common/setup_args.c). */
#include "tools/common/cli.h"
#include "tools/common/setup_args.h"
#include "msgflo/version.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { OPT_BROKER = 1, OPT_FOREVER, OPT_FORWARD, OPT_QUIET, OPT_HIDDEN };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL", "the broker\nsecond line"},
    {OPT_FOREVER, "forever", CLI_BOOL, NULL, "keep running"},
    {OPT_FORWARD, "forward", CLI_OPTIONAL, "[WHAT]", "copy output"},
    {OPT_QUIET, "quiet", CLI_FLAG, NULL, "say less"},
    {OPT_HIDDEN, "hidden", CLI_VALUE, "X", NULL},
    {0},
};

static const struct cli_spec spec = {
    .prog = "tool",
    .usage = "Usage: tool [options] FILE\n",
    .options = options,
    .epilog = "The end.\n",
    .file_arguments = true,
};

/* Walks argv (NULL-terminated, without argv[0]) and writes one line per item
 * into out: "opt ID VALUE|-", "bool ID 0|1", "arg VALUE", "help", "version",
 * "error MESSAGE". */
static void walk(char *out, size_t len, ...)
{
    char *argv[32] = {"tool"};
    int argc = 1;
    va_list ap;
    va_start(ap, len);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    size_t used = 0;
    out[0] = '\0';
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        int n = 0;
        if (it == CLI_OPTION && c.opt->arg == CLI_BOOL)
            n = snprintf(out + used, len - used, "bool %d %d\n", c.opt->id, c.flag);
        else if (it == CLI_OPTION)
            n = snprintf(out + used, len - used, "opt %d %s\n", c.opt->id, c.value ? c.value : "-");
        else if (it == CLI_ARGUMENT)
            n = snprintf(out + used, len - used, "arg %s\n", c.value);
        else if (it == CLI_HELP)
            n = snprintf(out + used, len - used, "help\n");
        else if (it == CLI_VERSION)
            n = snprintf(out + used, len - used, "version\n");
        else
            n = snprintf(out + used, len - used, "error %s\n", c.error);
        assert_true(n > 0 && (size_t)n < len - used);
        used += (size_t)n;
    }
}

static void test_values(void **state)
{
    (void)state;
    char out[512];
    walk(out, sizeof out, "--broker", "mqtt://a", "--broker=mqtt://b", "--broker=", NULL);
    assert_string_equal(out, "opt 1 mqtt://a\nopt 1 mqtt://b\nopt 1 \n");
    /* a separate value is taken whatever it looks like */
    walk(out, sizeof out, "--broker", "--quiet", NULL);
    assert_string_equal(out, "opt 1 --quiet\n");
    walk(out, sizeof out, "--hidden", "x", "g.fbp", NULL);
    assert_string_equal(out, "opt 5 x\narg g.fbp\n");
}

static void test_unknown_option_anywhere(void **state)
{
    (void)state;
    char out[512];
    walk(out, sizeof out, "--bogus", "g.fbp", NULL);
    assert_string_equal(out, "error unknown option --bogus\n");
    /* after a positional argument, and before anything the tool would
     * refuse: the unknown option is the one error reported */
    walk(out, sizeof out, "g.fbp", "extra", "--bogus=1", NULL);
    assert_string_equal(out, "error unknown option --bogus\n");
    walk(out, sizeof out, "--quiet", "-x", NULL);
    assert_string_equal(out, "error unknown option -x\n");
    /* no prefix matching */
    walk(out, sizeof out, "--brok", "a", NULL);
    assert_string_equal(out, "error unknown option --brok\n");
    /* "--" ends the options; "-" is an argument */
    walk(out, sizeof out, "--", "--bogus", "-", NULL);
    assert_string_equal(out, "arg --bogus\narg -\n");
}

static void test_missing_and_extra_values(void **state)
{
    (void)state;
    char out[512];
    walk(out, sizeof out, "g.fbp", "--broker", NULL);
    assert_string_equal(out, "error option --broker needs a value\n");
    walk(out, sizeof out, "--quiet=yes", NULL);
    assert_string_equal(out, "error option --quiet takes no value\n");
    walk(out, sizeof out, "--forever=maybe", NULL);
    assert_string_equal(out, "error --forever needs true or false, not 'maybe'\n");
}

static void test_booleans_and_optional_values(void **state)
{
    (void)state;
    char out[512];
    walk(out, sizeof out, "--forever", "--forever", "false", "--forever=0", "--forever", "g.fbp",
         NULL);
    assert_string_equal(out, "bool 2 1\nbool 2 0\nbool 2 0\nbool 2 1\narg g.fbp\n");
    walk(out, sizeof out, "--forever", "no", "--forever", "maybe", NULL);
    assert_string_equal(out, "bool 2 0\nbool 2 1\narg maybe\n");
    /* an optional value is not an option nor (file_arguments) a file name */
    walk(out, sizeof out, "--forward", "stderr", "--forward", "--quiet", "--forward", "g.fbp",
         "--forward=", NULL);
    assert_string_equal(out, "opt 3 stderr\nopt 3 -\nopt 4 -\nopt 3 -\narg g.fbp\nopt 3 \n");
}

static void test_help_and_version_items(void **state)
{
    (void)state;
    char out[512];
    walk(out, sizeof out, "g.fbp", "--help", NULL);
    assert_string_equal(out, "arg g.fbp\nhelp\n");
    walk(out, sizeof out, "-h", NULL);
    assert_string_equal(out, "help\n");
    walk(out, sizeof out, "--version", NULL);
    assert_string_equal(out, "version\n");
}

static char *printed(void (*print)(const struct cli_spec *, FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    print(&spec, f);
    fclose(f);
    return text;
}

static void test_generated_help(void **state)
{
    (void)state;
    char *text = printed(cli__help);
    assert_string_equal(text, "Usage: tool [options] FILE\n"
                              "\n"
                              "Options:\n"
                              "  --broker URL      the broker\n"
                              "                    second line\n"
                              "  --forever [BOOL]  keep running\n"
                              "  --forward [WHAT]  copy output\n"
                              "  --quiet           say less\n"
                              "  -h, --help        show this help\n"
                              "  --version         show the version\n"
                              "\n"
                              "The end.\n");
    free(text);
    text = printed(cli__version);
    assert_string_equal(text, "tool (msgflo-c) " MSGFLO_VERSION "\n");
    free(text);
}

static int setup_args(struct setup_args *a, char *msg, size_t len, ...)
{
    char *argv[32] = {"msgflo-setup"};
    int argc = 1;
    va_list ap;
    va_start(ap, len);
    for (char *x; (x = va_arg(ap, char *)) != NULL;)
        argv[argc++] = x;
    va_end(ap);
    static char *keep[32];
    memcpy(keep, argv, sizeof keep); /* the options point into argv */
    return setup__parse_args(argc, keep, a, msg, len);
}

static void test_setup_command_line(void **state)
{
    (void)state;
    struct setup_args a;
    char msg[512];
    assert_int_equal(setup_args(&a, msg, sizeof msg, "--participants", "false", "--forever",
                                "--only", "a,b", "--only=c", "--ignore", "d", "--forward", "g.fbp",
                                "--broker=mqtt://x", NULL),
                     SETUP_ARGS_RUN);
    assert_false(a.options.participants);
    assert_true(a.options.forever);
    assert_string_equal(a.options.graph_path, "g.fbp");
    assert_string_equal(a.options.broker, "mqtt://x");
    assert_int_equal(a.only.n, 3);
    assert_string_equal(a.options.only[2], "c");
    assert_string_equal(a.options.ignore[0], "d");
    assert_int_not_equal(a.options.forward, 0);
    setup__args_cleanup(&a);

    assert_int_equal(setup_args(&a, msg, sizeof msg, "g.fbp", "--bogus", NULL), SETUP_ARGS_USAGE);
    assert_string_equal(msg, "msgflo-setup: unknown option --bogus");
    setup__args_cleanup(&a);
    assert_int_equal(setup_args(&a, msg, sizeof msg, "--forever=perhaps", "g.fbp", NULL),
                     SETUP_ARGS_USAGE);
    assert_string_equal(msg, "msgflo-setup: --forever needs true or false, not 'perhaps'");
    setup__args_cleanup(&a);
    assert_int_equal(setup_args(&a, msg, sizeof msg, "--forever", NULL), SETUP_ARGS_USAGE);
    assert_string_equal(msg, "ERROR: No graph file specified");
    setup__args_cleanup(&a);
    assert_int_equal(setup_args(&a, msg, sizeof msg, "--version", NULL), SETUP_ARGS_VERSION);
    setup__args_cleanup(&a);
    assert_int_equal(setup_args(&a, msg, sizeof msg, "--help", NULL), SETUP_ARGS_HELP);
    setup__args_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_unknown_option_anywhere),
        cmocka_unit_test(test_missing_and_extra_values),
        cmocka_unit_test(test_booleans_and_optional_values),
        cmocka_unit_test(test_help_and_version_items),
        cmocka_unit_test(test_generated_help),
        cmocka_unit_test(test_setup_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
