/* Debounced, atomic auto-save of the live graph (autosave.h). */
#include "runtime/autosave.h"

#include "core/log.h"
#include "graph/graph.h"
#include "graph/graph_file.h"
#include "msgflo/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS "msgflo:autosave"

#define DEFAULT_DELAY_MS 500
/* A steady stream of changes is saved at the latest this many delays after
 * the first unsaved one. */
#define MAX_DELAYS 10

struct autosave {
    uv_timer_t timer;
    char *path;
    unsigned delay_ms;
    autosave_snapshot_fn snapshot;
    void *ud;
    bool pending;
    uint64_t first_change; /* uv_now of the first unsaved change */
};

int autosave__format(const char *path, const json_t *graph, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (graph__path_is_json(path)) {
        int rc = graph_json__dump(graph, 2, out);
        if (rc != 0)
            return rc;
        /* As the original's JSON.stringify, plus the final newline editors keep. */
        size_t n = strlen(*out);
        char *t = realloc(*out, n + 2);
        if (!t) {
            free(*out);
            *out = NULL;
            return MSGFLO_ENOMEM;
        }
        t[n] = '\n';
        t[n + 1] = '\0';
        *out = t;
        return 0;
    }
    struct graph *g = NULL;
    struct graph_error gerr = {0};
    int rc = graph_json__from_json(graph, &g, &gerr);
    if (rc == 0)
        rc = fbp__write(g, out, &gerr);
    graph__free(g);
    if (rc != 0 && rc != MSGFLO_ENOMEM) {
        snprintf(err, errlen, "%s: cannot write the graph as .fbp: %s", path, gerr.message);
        rc = MSGFLO_EINVAL;
    }
    return rc;
}

static int sys_error(const char *path, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s: %s", path, what, strerror(errno));
    return MSGFLO_ESYS;
}

/* fsync of the folder holding path, so the rename itself is durable. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
    char *copy = strdup(path);
    if (!copy)
        return MSGFLO_ENOMEM;
    int rc = 0;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = sys_error(path, "cannot sync its folder", err, errlen);
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int autosave__write_file(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[4096];
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    int n = snprintf(tmp, sizeof tmp, "%s.msgflo-autosave-%lld", path,
                     (long long)now.tv_sec * 1000 + now.tv_usec / 1000);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "%s: name too long", path);
        return MSGFLO_ESYS;
    }
    /* Keep the graph file's permissions. */
    mode_t mode = 0644;
    struct stat st;
    if (stat(path, &st) == 0)
        mode = st.st_mode & 07777;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return sys_error(tmp, "cannot create", err, errlen);
    int rc = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = sys_error(tmp, "cannot write", err, errlen);
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = sys_error(tmp, "cannot sync", err, errlen);
    if (close(fd) != 0 && rc == 0)
        rc = sys_error(tmp, "cannot close", err, errlen);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sys_error(path, "cannot replace", err, errlen);
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return sync_dir(path, err, errlen);
}

int autosave__flush(struct autosave *a)
{
    if (!a->pending)
        return 0;
    a->pending = false;
    uv_timer_stop(&a->timer);
    char err[512] = "";
    char *text = NULL;
    int rc = MSGFLO_ENOMEM;
    json_t *graph = a->snapshot(a->ud);
    if (graph)
        rc = autosave__format(a->path, graph, &text, err, sizeof err);
    if (rc == 0)
        rc = autosave__write_file(a->path, text, strlen(text), err, sizeof err);
    if (rc == 0)
        LOG_DEBUG(NS, "saved %s", a->path);
    else
        LOG_WARNING(NS, "auto-save failed: %s", *err ? err : msgflo_strerror(rc));
    free(text);
    json_decref(graph);
    return rc;
}

static void on_timer(uv_timer_t *t)
{
    autosave__flush(t->data);
}

int autosave__new(uv_loop_t *loop, const char *path, unsigned delay_ms,
                  autosave_snapshot_fn snapshot, void *ud, struct autosave **out)
{
    *out = NULL;
    if (!loop || !path || !*path || !snapshot)
        return MSGFLO_EINVAL;
    struct autosave *a = calloc(1, sizeof *a);
    if (!a)
        return MSGFLO_ENOMEM;
    a->path = strdup(path);
    if (!a->path) {
        free(a);
        return MSGFLO_ENOMEM;
    }
    a->delay_ms = delay_ms ? delay_ms : DEFAULT_DELAY_MS;
    a->snapshot = snapshot;
    a->ud = ud;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    *out = a;
    return 0;
}

void autosave__changed(struct autosave *a)
{
    uint64_t now = uv_now(a->timer.loop);
    if (!a->pending) {
        a->pending = true;
        a->first_change = now;
    }
    uint64_t latest = a->first_change + (uint64_t)a->delay_ms * MAX_DELAYS;
    uint64_t due = now + a->delay_ms;
    if (due > latest)
        due = latest > now ? latest : now;
    uv_timer_start(&a->timer, on_timer, due - now, 0);
}

static void on_closed(uv_handle_t *h)
{
    struct autosave *a = h->data;
    free(a->path);
    free(a);
}

void autosave__close(struct autosave *a)
{
    if (!a)
        return;
    autosave__flush(a);
    uv_close((uv_handle_t *)&a->timer, on_closed);
}
