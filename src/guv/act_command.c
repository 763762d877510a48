/* Command templates for orchestrators; see act_command.h. */
#include "guv/act_command.h"

#include "library/library.h"
#include "core/log.h"
#include "msgflo/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:guv"

static bool shell_safe(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._-/:@+=,", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* value as one shell word: as it is when safe, else in single quotes with
 * each ' written as '\'' . Owned by the caller. */
static char *shell_word(const char *value)
{
    if (shell_safe(value))
        return strdup(value);
    size_t n = 3;
    for (const char *p = value; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '\'';
    for (const char *p = value; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

static int replace(char **text, const char *marker, const char *value)
{
    char *word = shell_word(value);
    char *next = NULL;
    int rc = MSGFLO_ENOMEM;
    if (word)
        rc = library__replace_marker(*text, marker, word, &next);
    free(word);
    if (rc != 0)
        return rc;
    free(*text);
    *text = next;
    return 0;
}

int guv_command__expand(const char *template, const struct guv_role *role, int workers, char **out)
{
    char n[16];
    snprintf(n, sizeof n, "%d", workers);
    char *text = strdup(template);
    int rc = text ? 0 : MSGFLO_ENOMEM;
    /* #WORKERS before #WORKER, whose name it starts with. */
    if (rc == 0)
        rc = replace(&text, "WORKERS", n);
    if (rc == 0)
        rc = replace(&text, "WORKER", role->worker ? role->worker : role->name);
    if (rc == 0)
        rc = replace(&text, "ROLE", role->name);
    if (rc == 0)
        rc = replace(&text, "APP", role->app ? role->app : "");
    if (rc == 0)
        rc = replace(&text, "QUEUE", role->queue ? role->queue : role->name);
    if (rc != 0) {
        free(text);
        text = NULL;
    }
    *out = text;
    return rc;
}

struct command_run {
    uv_process_t process;
    uv_timer_t report; /* reports a failed spawn from the loop */
    guv_command_done_fn done;
    void *ud;
    int status;
    int open;
};

static void on_closed(uv_handle_t *h)
{
    struct command_run *c = h->data;
    if (--c->open > 0)
        return;
    guv_command_done_fn done = c->done;
    void *ud = c->ud;
    int status = c->status;
    free(c);
    done(status, ud);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct command_run *c = p->data;
    c->status = term_signal ? -term_signal : (int)exit_status;
    uv_close((uv_handle_t *)&c->process, on_closed);
    uv_close((uv_handle_t *)&c->report, on_closed);
}

static void on_report(uv_timer_t *t)
{
    struct command_run *c = t->data;
    uv_close((uv_handle_t *)&c->report, on_closed);
}

int guv_command__run(uv_loop_t *loop, const char *command, guv_command_done_fn done, void *ud)
{
    struct command_run *c = calloc(1, sizeof *c);
    if (!c)
        return MSGFLO_ENOMEM;
    c->done = done;
    c->ud = ud;
    uv_timer_init(loop, &c->report);
    c->report.data = c->process.data = c;
    c->open = 2;
    char *args[] = {"/bin/sh", "-c", (char *)command, NULL};
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = args[0],
        .args = args,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int err = uv_spawn(loop, &c->process, &po);
    if (err != 0) {
        LOG_ERROR(NS, "cannot run /bin/sh -c '%s': %s", command, uv_strerror(err));
        c->status = -1000;
        uv_close((uv_handle_t *)&c->process, on_closed);
        uv_timer_start(&c->report, on_report, 0, 0);
        return 0;
    }
    LOG_DEBUG(NS, "running (pid %d): %s", c->process.pid, command);
    return 0;
}
