/* Command-line option helpers; see cli.h. */
#include "tools/common/cli.h"

#include "core/boolean.h"

#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cli__is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

const char *cli__value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] == '\0' && *i + 1 < argc) {
        (*i)++;
        return argv[*i];
    }
    return NULL;
}

const char *cli__split(const char *arg, char *name, size_t n)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    snprintf(name, n, "%.*s", (int)len, arg);
    return eq ? eq + 1 : NULL;
}

int cli__flag(int argc, char **argv, int *i, const char *value, bool *out)
{
    if (value)
        return boolean__parse(value, out) ? 0 : -1;
    if (*i + 1 < argc && boolean__parse(argv[*i + 1], out)) {
        (*i)++;
        return 0;
    }
    *out = true;
    return 0;
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
