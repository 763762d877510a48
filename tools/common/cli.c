/* The tools' command lines; see cli.h. */
#include "tools/common/cli.h"

#include "core/boolean.h"
#include "msgflo/url.h"
#include "msgflo/version.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Help column: option names wider than this get their text on the next line. */
#define HELP_COLUMN_MAX 27

static enum cli_item error(struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum cli_item error(struct cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return CLI_ERROR;
}

static const struct cli_option *find(const struct cli_spec *spec, const char *name, size_t len)
{
    for (const struct cli_option *o = spec->options; o && o->id; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

/* The option's value, from "=VALUE" (`value`) or the next argument. */
static enum cli_item option_value(struct cli *c, const char *value)
{
    const struct cli_option *o = c->opt;
    const char *next = c->i + 1 < c->argc ? c->argv[c->i + 1] : NULL;
    switch (o->arg) {
    case CLI_FLAG:
        if (value)
            return error(c, "option --%s takes no value", o->name);
        break;
    case CLI_VALUE:
        if (!value && !next)
            return error(c, "option --%s needs a value", o->name);
        if (!value) {
            value = next;
            c->i++;
        }
        break;
    case CLI_OPTIONAL:
        if (!value && next && strncmp(next, "--", 2) != 0 &&
            !(c->spec->file_arguments && strchr(next, '.'))) {
            value = next;
            c->i++;
        }
        break;
    case CLI_BOOL:
        if (value && !boolean__parse(value, &c->flag))
            return error(c, "--%s needs true or false, not '%s'", o->name, value);
        if (!value && next && boolean__parse(next, &c->flag))
            c->i++;
        else if (!value)
            c->flag = true;
        value = NULL;
        break;
    }
    c->value = value;
    return CLI_OPTION;
}

void cli__init(struct cli *c, const struct cli_spec *spec, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->spec = spec;
    c->argc = argc;
    c->argv = argv;
    /* A malformed option is reported first, wherever it stands: before a
     * tool complains of an argument it does not take. */
    struct cli scan = *c;
    enum cli_item it;
    while ((it = cli__next(&scan)) != CLI_END && it != CLI_ERROR)
        ;
    if (it == CLI_ERROR)
        memcpy(c->pending, scan.error, sizeof c->pending);
}

enum cli_item cli__next(struct cli *c)
{
    if (c->pending[0]) {
        memcpy(c->error, c->pending, sizeof c->error);
        c->pending[0] = '\0';
        c->i = c->argc;
        return CLI_ERROR;
    }
    c->opt = NULL;
    c->value = NULL;
    c->flag = false;
    c->error[0] = '\0';
    if (c->i + 1 >= c->argc)
        return CLI_END;
    const char *arg = c->argv[++c->i];
    if (c->options_done || arg[0] != '-' || arg[1] == '\0') {
        c->value = arg;
        return CLI_ARGUMENT;
    }
    if (strcmp(arg, "--") == 0) {
        c->options_done = true;
        return cli__next(c);
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
        return CLI_HELP;
    if (strcmp(arg, "--version") == 0)
        return CLI_VERSION;
    if (arg[1] != '-')
        return error(c, "unknown option %s", arg);
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    c->opt = find(c->spec, name, len);
    if (!c->opt)
        return error(c, "unknown option --%.*s", (int)len, name);
    return option_value(c, eq ? eq + 1 : NULL);
}

static void option_label(const struct cli_option *o, char *buf, size_t n)
{
    const char *v = o->value_name ? o->value_name : o->arg == CLI_BOOL ? "[BOOL]" : NULL;
    snprintf(buf, n, "  --%s%s%s", o->name, v ? " " : "", v ? v : "");
}

static void help_entry(FILE *f, const char *label, const char *text, int column)
{
    int len = (int)strlen(label);
    fputs(label, f);
    if (len + 1 > column) {
        fputc('\n', f);
        len = 0;
    }
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%*s%.*s\n", column - len, "", n, p);
        len = 0;
        p += n + (nl ? 1 : 0);
    }
}

void cli__help(const struct cli_spec *spec, FILE *f)
{
    char label[128];
    int column = (int)strlen("  -h, --help") + 2;
    for (const struct cli_option *o = spec->options; o && o->id; o++) {
        option_label(o, label, sizeof label);
        int want = (int)strlen(label) + 2;
        if (o->help && want > column && want <= HELP_COLUMN_MAX)
            column = want;
    }
    fputs(spec->usage, f);
    fputs("\nOptions:\n", f);
    for (const struct cli_option *o = spec->options; o && o->id; o++) {
        if (!o->help)
            continue;
        option_label(o, label, sizeof label);
        help_entry(f, label, o->help, column);
    }
    help_entry(f, "  -h, --help", "show this help", column);
    help_entry(f, "  --version", "show the version", column);
    if (spec->epilog) {
        fputc('\n', f);
        fputs(spec->epilog, f);
    }
}

void cli__version(const struct cli_spec *spec, FILE *f)
{
    fprintf(f, "%s (msgflo-c) %s\n", spec->prog, MSGFLO_VERSION);
}

int cli__usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", spec->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cli__help(spec, stderr);
    return 2;
}

int cli__stop(struct cli *c, enum cli_item item)
{
    switch (item) {
    case CLI_HELP:
        cli__help(c->spec, stdout);
        return 0;
    case CLI_VERSION:
        cli__version(c->spec, stdout);
        return 0;
    case CLI_ERROR:
        return cli__usage_error(c->spec, "%s", c->error);
    default:
        return cli__usage_error(c->spec, "unexpected argument '%s'", c->value ? c->value : "");
    }
}

int cli__check_broker(const char *url, char *msg, size_t len)
{
    char reason[256], shown[512];
    msgflo_url *parsed = NULL;
    if (!url || msgflo_url_parse(url, &parsed, reason, sizeof reason) == 0) {
        msgflo_url_free(parsed);
        return 0;
    }
    if (msgflo_url_redact(url, shown, sizeof shown) != 0)
        snprintf(shown, sizeof shown, "(not shown)");
    snprintf(msg, len, "broker URL %s: %s", shown, reason);
    return -1;
}

int cli__need_broker(const struct cli_spec *spec, const char **broker)
{
    *broker = msgflo_url_resolve(*broker);
    if (!*broker)
        return cli__usage_error(spec, "no broker: use --broker URL or set MSGFLO_BROKER "
                                      "(e.g. mqtt://localhost)");
    char why[512];
    if (cli__check_broker(*broker, why, sizeof why) != 0) {
        fprintf(stderr, "%s: %s\n", spec->prog, why);
        return 2;
    }
    return -1;
}

bool cli__number(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli__seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v <= 0)
        return false;
    *out = v;
    return true;
}

int cli__list_add_csv(struct cli_list *l, const char *csv)
{
    if (l->n_owned == sizeof l->owned / sizeof l->owned[0])
        return -1;
    char *copy = strdup(csv);
    if (!copy)
        return -1;
    l->owned[l->n_owned++] = copy;
    for (char *p = copy; *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p) {
            if (l->n == CLI_LIST_MAX)
                return -1;
            l->items[l->n++] = p;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    l->items[l->n] = NULL;
    return 0;
}

void cli__list_cleanup(struct cli_list *l)
{
    for (size_t k = 0; k < l->n_owned; k++)
        free(l->owned[k]);
    l->n_owned = 0;
    l->n = 0;
    l->items[0] = NULL;
}
