/* Process supervisor: spawn, ready line, forwarding, stop, restart with backoff.
 *
 * Each process (`struct sup_proc`) lives until supervisor__free; each spawn of
 * it is a `struct sup_run` (process handle, two pipes, a drain timer) freed
 * when its handles are closed, so a restart never reuses a handle that is
 * still closing. A run is finished ("reaped") once the child has exited and
 * both pipes are at EOF, or shortly after the exit when something else (a
 * grandchild) still holds the pipes: then every line the child wrote is
 * handled before its exit is. The command line and environment of a spawn
 * come from supervisor_spawn.c. */
#include "process/supervisor.h"

#include "process/supervisor_spawn.h"
#include "core/log.h"
#include "msgflo/errors.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS           "msgflo:supervisor"
#define MAX_LINE     16384 /* longer lines are forwarded in pieces */
#define DRAIN_MS     200   /* after the exit, how long output may still arrive */
#define MSG_LEN      512
#define READ_BUF_LEN 16384

enum proc_state { PROC_STARTING, PROC_RUNNING, PROC_BACKOFF, PROC_DONE };

/* What to do when the current run ends, when that was decided before. */
enum proc_after { AFTER_DECIDE, AFTER_RESTART, AFTER_FAIL, AFTER_STOP };

struct linebuf {
    char *data;
    size_t len;
};

struct sup_run {
    struct supervisor *sup;
    struct sup_proc *proc; /* NULL once reaped */
    uv_process_t process;
    uv_pipe_t pipes[2]; /* [0] stdout, [1] stderr */
    uv_timer_t drain;
    int open;          /* handles not yet closed */
    bool open_pipe[2]; /* still reading */
    bool exited;
    int status;
    int pid;
    struct linebuf lines[2];
};

struct sup_proc {
    struct supervisor *sup;
    struct sup_proc *next;
    char *role;
    char *command;
    struct supervisor_callbacks cb;
    void *userdata;
    enum proc_state state;
    enum proc_after after;
    bool started_once;
    uint64_t started_at;
    uint64_t backoff_ms;
    char *spawn_error; /* reported by the start timer */
    struct sup_run *run;
    uv_timer_t start_timer, kill_timer, backoff_timer;
    int open;
    /* supervisor__stop: removed from the list once its run is reaped */
    bool removing;
    void (*stop_done)(struct supervisor *sup, void *ud);
    void *stop_ud;
};

struct supervisor {
    uv_loop_t *loop;
    struct supervisor_options opt;
    char *broker_env; /* "MSGFLO_BROKER=..." */
    char **env;       /* copied extra entries, NULL-terminated */
    char *setpriv;    /* path of setpriv (util-linux), or NULL */
    struct sup_proc *procs;
    bool stopping, freed;
    void (*done)(struct supervisor *sup, void *ud);
    void *done_ud;
    uv_timer_t done_timer;
    int refs; /* the done timer, procs and runs not yet freed */
    char readbuf[READ_BUF_LEN];
};

static void sup__release(struct supervisor *sup)
{
    if (--sup->refs > 0 || !sup->freed)
        return;
    for (char **e = sup->env; e && *e; e++)
        free(*e);
    free(sup->env);
    free(sup->broker_env);
    free(sup->setpriv);
    free((char *)sup->opt.shell);
    free((char *)sup->opt.cwd);
    free(sup);
}

static void sup__describe_status(int status, char *buf, size_t len)
{
    if (status >= 0)
        snprintf(buf, len, "exited with status %d", status);
    else
        snprintf(buf, len, "was killed by signal %d (%s)", -status, strsignal(-status));
}

/* --- runs --------------------------------------------------------------- */

static void run__handle_closed(uv_handle_t *h)
{
    struct sup_run *run = h->data;
    if (--run->open > 0)
        return;
    struct supervisor *sup = run->sup;
    free(run->lines[0].data);
    free(run->lines[1].data);
    free(run);
    sup__release(sup);
}

static void run__close_pipe(struct sup_run *run, int i)
{
    if (!run->open_pipe[i])
        return;
    run->open_pipe[i] = false;
    uv_read_stop((uv_stream_t *)&run->pipes[i]);
    uv_close((uv_handle_t *)&run->pipes[i], run__handle_closed);
}

static void proc__signal(struct sup_proc *p, int sig)
{
    struct sup_run *run = p->run;
    if (!run || run->exited || run->pid <= 0)
        return;
    /* The child is a process group leader (UV_PROCESS_DETACHED). */
    if (kill(-run->pid, sig) != 0)
        uv_process_kill(&run->process, sig);
}

static void proc__started(struct sup_proc *p, const char *line)
{
    uv_timer_stop(&p->start_timer);
    p->state = PROC_RUNNING;
    p->started_once = true;
    p->started_at = uv_now(p->sup->loop);
    LOG_DEBUG(NS, "participant '%s' started: %s", p->role, line);
    if (p->cb.on_started)
        p->cb.on_started(p->role, line, p->userdata);
}

/* One complete line of a stream, without its newline, NUL-terminated. */
static void run__line(struct sup_run *run, int i, char *text, size_t len)
{
    struct sup_proc *p = run->proc;
    struct supervisor *sup = run->sup;
    unsigned bit = i == 0 ? SUPERVISOR_FORWARD_STDOUT : SUPERVISOR_FORWARD_STDERR;
    if ((sup->opt.forward & bit) && sup->opt.on_output)
        sup->opt.on_output(p->role, i == 0 ? SUPERVISOR_STDOUT : SUPERVISOR_STDERR, text, len,
                           sup->opt.output_userdata);
    else /* a forwarded line is printed once, not again under DEBUG */
        LOG_DEBUG(NS, "%s %s: %s", p->role, i == 0 ? "stdout" : "stderr", text);
    if (i == 0 && p->state == PROC_STARTING && p->after == AFTER_DECIDE)
        proc__started(p, text);
}

static void run__feed(struct sup_run *run, int i, const char *data, size_t n)
{
    struct linebuf *lb = &run->lines[i];
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (take > MAX_LINE - lb->len)
            take = MAX_LINE - lb->len;
        memcpy(lb->data + lb->len, data, take);
        lb->len += take;
        data += take;
        n -= take;
        bool complete = (n > 0 && *data == '\n');
        if (complete) {
            data++;
            n--;
        }
        if (complete || lb->len == MAX_LINE) {
            lb->data[lb->len] = '\0';
            size_t len = lb->len;
            lb->len = 0;
            run__line(run, i, lb->data, len);
            if (!run->proc) /* reaped from a callback (cannot happen today) */
                return;
        }
    }
}

static void run__flush(struct sup_run *run)
{
    for (int i = 0; i < 2; i++) {
        struct linebuf *lb = &run->lines[i];
        if (lb->len > 0 && run->proc) {
            lb->data[lb->len] = '\0';
            size_t len = lb->len;
            lb->len = 0;
            run__line(run, i, lb->data, len);
        }
    }
}

static void proc__spawn(struct sup_proc *p);
static void proc__schedule_restart(struct sup_proc *p, const char *what, int status, bool report);
static void proc__remove(struct sup_proc *p);

static void on_done_timer(uv_timer_t *t)
{
    struct supervisor *sup = t->data;
    void (*done)(struct supervisor *, void *) = sup->done;
    sup->done = NULL;
    if (done)
        done(sup, sup->done_ud); /* last: `done` may free the supervisor */
}

/* Once stopping and every run is reaped, calls `done` from the loop. */
static void sup__check_done(struct supervisor *sup)
{
    if (!sup->stopping || !sup->done)
        return;
    for (struct sup_proc *p = sup->procs; p; p = p->next)
        if (p->run)
            return;
    uv_timer_start(&sup->done_timer, on_done_timer, 0, 0);
}

/* The run has ended: every line handled, exit status known. */
static void run__reap(struct sup_run *run)
{
    struct sup_proc *p = run->proc;
    run__flush(run);
    run->proc = NULL;
    p->run = NULL;
    for (int i = 0; i < 2; i++)
        run__close_pipe(run, i);
    uv_close((uv_handle_t *)&run->drain, run__handle_closed);
    uv_close((uv_handle_t *)&run->process, run__handle_closed);
    /* Whatever the leader left behind in its group goes with it. The group id
     * cannot be reused while a member lives; without members this fails. */
    if (run->pid > 0)
        kill(-run->pid, SIGKILL);
    uv_timer_stop(&p->start_timer);
    uv_timer_stop(&p->kill_timer);

    struct supervisor *sup = p->sup;
    char what[128];
    sup__describe_status(run->status, what, sizeof what);
    LOG_DEBUG(NS, "participant '%s' (pid %d) %s", p->role, run->pid, what);
    enum proc_after after = p->after;
    p->after = AFTER_DECIDE;
    if (p->removing) {
        p->state = PROC_DONE;
        proc__remove(p);
    } else if (sup->stopping || after == AFTER_STOP || after == AFTER_FAIL) {
        p->state = PROC_DONE;
    } else if (after == AFTER_RESTART) {
        proc__schedule_restart(p, what, run->status, true);
    } else if (p->state == PROC_STARTING) {
        if (sup->opt.forever && p->started_once) {
            char w[160];
            snprintf(w, sizeof w, "%s before starting", what);
            proc__schedule_restart(p, w, run->status, true);
        } else {
            char msg[MSG_LEN];
            snprintf(msg, sizeof msg, "participant '%s' (%s) %s before starting", p->role,
                     p->command, what);
            p->state = PROC_DONE;
            LOG_DEBUG(NS, "%s", msg);
            if (p->cb.on_error)
                p->cb.on_error(p->role, msg, p->userdata);
        }
    } else if (sup->opt.forever) {
        if (uv_now(sup->loop) - p->started_at >= sup->opt.backoff_reset_ms)
            p->backoff_ms = sup->opt.backoff_initial_ms;
        proc__schedule_restart(p, what, run->status, true);
    } else {
        p->state = PROC_DONE;
        if (p->cb.on_exit)
            p->cb.on_exit(p->role, run->status, false, p->userdata);
    }
    sup__check_done(sup);
}

static void run__maybe_reap(struct sup_run *run)
{
    if (run->proc && run->exited && !run->open_pipe[0] && !run->open_pipe[1])
        run__reap(run);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sup_run *run = h->data;
    buf->base = run->sup->readbuf;
    buf->len = sizeof run->sup->readbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sup_run *run = s->data;
    int i = (s == (uv_stream_t *)&run->pipes[0]) ? 0 : 1;
    if (nread > 0 && run->proc)
        run__feed(run, i, buf->base, (size_t)nread);
    if (nread < 0) {
        run__close_pipe(run, i);
        run__maybe_reap(run);
    }
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct sup_run *run = t->data;
    if (run->proc)
        run__reap(run);
}

static void on_process_exit(uv_process_t *h, int64_t exit_status, int term_signal)
{
    struct sup_run *run = h->data;
    run->exited = true;
    run->status = term_signal ? -term_signal : (int)exit_status;
    if (run->proc && (run->open_pipe[0] || run->open_pipe[1]))
        uv_timer_start(&run->drain, on_drain_timeout, DRAIN_MS, 0);
    run__maybe_reap(run);
}

static void on_start_timeout(uv_timer_t *t);

/* Spawns a new run. On failure sets p->spawn_error (owned) and returns < 0. */
static int proc__try_spawn(struct sup_proc *p)
{
    struct supervisor *sup = p->sup;
    int rc = MSGFLO_ENOMEM, err = 0;
    bool spawn_called = false;
    char *program = NULL;
    char **envp = NULL;
    struct supervisor_spawn_args args = {0};
    struct sup_run *run = calloc(1, sizeof *run);
    char msg[MSG_LEN];
    if (!run)
        goto out;
    run->sup = sup;
    sup->refs++;
    run->open = 4;
    run->lines[0].data = malloc(MAX_LINE + 1);
    run->lines[1].data = malloc(MAX_LINE + 1);
    envp = supervisor_spawn__env(sup->broker_env, sup->env);
    supervisor_spawn__args(p->command, sup->opt.shell, sup->setpriv, &args);
    uv_pipe_init(sup->loop, &run->pipes[0], 0);
    uv_pipe_init(sup->loop, &run->pipes[1], 0);
    uv_timer_init(sup->loop, &run->drain);
    run->pipes[0].data = run->pipes[1].data = run->drain.data = run->process.data = run;
    run->open_pipe[0] = run->open_pipe[1] = true;
    if (!args.argv || !envp || !run->lines[0].data || !run->lines[1].data) {
        err = UV_ENOMEM;
    } else if (sup->setpriv && (program = supervisor__find_program(args.program)) == NULL) {
        err = UV_ENOENT; /* said here: setpriv would only exit with 127 */
    } else {
        uv_stdio_container_t stdio[3] = {
            {.flags = UV_IGNORE},
            {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
             .data.stream = (uv_stream_t *)&run->pipes[0]},
            {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
             .data.stream = (uv_stream_t *)&run->pipes[1]},
        };
        uv_process_options_t po = {
            .exit_cb = on_process_exit,
            .file = args.argv[0],
            .args = args.argv,
            .env = envp,
            .cwd = sup->opt.cwd,
            .flags = UV_PROCESS_DETACHED,
            .stdio_count = 3,
            .stdio = stdio,
        };
        err = uv_spawn(sup->loop, &run->process, &po);
        spawn_called = true;
    }
    if (err != 0) {
        /* The handle is initialized even when uv_spawn fails. */
        if (spawn_called)
            uv_close((uv_handle_t *)&run->process, run__handle_closed);
        else
            run->open--;
        run__close_pipe(run, 0);
        run__close_pipe(run, 1);
        uv_close((uv_handle_t *)&run->drain, run__handle_closed);
        run = NULL;
        snprintf(msg, sizeof msg, "participant '%s' (%s) could not be run: %s", p->role, p->command,
                 uv_strerror(err));
        free(p->spawn_error);
        p->spawn_error = strdup(msg);
        rc = err == UV_ENOMEM ? MSGFLO_ENOMEM : MSGFLO_ESYS;
        goto out;
    }
    free(p->spawn_error);
    p->spawn_error = NULL;
    run->pid = run->process.pid;
    run->proc = p;
    p->run = run;
    uv_read_start((uv_stream_t *)&run->pipes[0], on_alloc, on_read);
    uv_read_start((uv_stream_t *)&run->pipes[1], on_alloc, on_read);
    p->state = PROC_STARTING;
    p->after = AFTER_DECIDE;
    uv_timer_start(&p->start_timer, on_start_timeout, sup->opt.start_timeout_ms, 0);
    LOG_DEBUG(NS, "participant '%s' spawned (pid %d): %s", p->role, run->pid, p->command);
    rc = 0;
out:
    free(envp);
    supervisor_spawn__args_cleanup(&args);
    free(program);
    return rc;
}

static void proc__spawn(struct sup_proc *p)
{
    if (proc__try_spawn(p) == 0)
        return;
    if (p->started_once && p->sup->opt.forever) {
        LOG_WARNING(NS, "%s", p->spawn_error ? p->spawn_error : "spawn failed");
        proc__schedule_restart(p, NULL, 0, false);
        return;
    }
    /* Reported from the loop, never from within supervisor__start. */
    p->state = PROC_DONE;
    uv_timer_start(&p->start_timer, on_start_timeout, 0, 0);
}

static void on_backoff(uv_timer_t *t)
{
    struct sup_proc *p = t->data;
    if (p->sup->stopping || p->state != PROC_BACKOFF)
        return;
    proc__spawn(p);
}

static void proc__schedule_restart(struct sup_proc *p, const char *what, int status, bool report)
{
    struct supervisor *sup = p->sup;
    uint64_t delay = p->backoff_ms;
    p->backoff_ms = delay * 2 > sup->opt.backoff_max_ms ? sup->opt.backoff_max_ms : delay * 2;
    p->state = PROC_BACKOFF;
    uv_timer_start(&p->backoff_timer, on_backoff, delay, 0);
    if (what)
        LOG_WARNING(NS, "participant '%s' %s; restarting in %g s", p->role, what,
                    (double)delay / 1000.0);
    else
        LOG_WARNING(NS, "participant '%s': retrying in %g s", p->role, (double)delay / 1000.0);
    if (report && p->cb.on_exit)
        p->cb.on_exit(p->role, status, true, p->userdata);
}

static void on_kill_timeout(uv_timer_t *t)
{
    struct sup_proc *p = t->data;
    if (!p->run || p->run->exited)
        return;
    LOG_WARNING(NS, "participant '%s' did not exit within %g s of SIGTERM; sending SIGKILL",
                p->role, (double)p->sup->opt.grace_ms / 1000.0);
    proc__signal(p, SIGKILL);
}

static void proc__terminate(struct sup_proc *p, enum proc_after after)
{
    p->after = after;
    if (!p->run || p->run->exited)
        return;
    proc__signal(p, SIGTERM);
    uv_timer_start(&p->kill_timer, on_kill_timeout, p->sup->opt.grace_ms, 0);
}

static void on_start_timeout(uv_timer_t *t)
{
    struct sup_proc *p = t->data;
    char msg[MSG_LEN];
    if (p->spawn_error && !p->run) { /* deferred report of a failed spawn */
        LOG_DEBUG(NS, "%s", p->spawn_error);
        char *err = p->spawn_error;
        p->spawn_error = NULL;
        if (p->cb.on_error)
            p->cb.on_error(p->role, err, p->userdata);
        free(err);
        return;
    }
    if (p->state != PROC_STARTING || !p->run)
        return;
    snprintf(msg, sizeof msg, "participant '%s' (%s) did not start within %g s", p->role,
             p->command, (double)p->sup->opt.start_timeout_ms / 1000.0);
    if (p->sup->opt.forever && p->started_once) {
        LOG_WARNING(NS, "%s; stopping it", msg);
        proc__terminate(p, AFTER_RESTART);
        return;
    }
    proc__terminate(p, AFTER_FAIL);
    LOG_DEBUG(NS, "%s", msg);
    if (p->cb.on_error)
        p->cb.on_error(p->role, msg, p->userdata);
}

/* --- public ------------------------------------------------------------- */

int supervisor__parse_forward(const char *text, unsigned *out)
{
    unsigned bits = SUPERVISOR_FORWARD_NONE;
    if (!text || !out)
        return MSGFLO_EINVAL;
    while (*text) {
        size_t n = strcspn(text, ",");
        if (n == 6 && strncmp(text, "stdout", 6) == 0)
            bits |= SUPERVISOR_FORWARD_STDOUT;
        else if (n == 6 && strncmp(text, "stderr", 6) == 0)
            bits |= SUPERVISOR_FORWARD_STDERR;
        else if (n > 0)
            return MSGFLO_EINVAL;
        text += n;
        if (*text == ',')
            text++;
    }
    *out = bits;
    return 0;
}

int supervisor__new(uv_loop_t *loop, const struct supervisor_options *options,
                    struct supervisor **out)
{
    if (!loop || !out)
        return MSGFLO_EINVAL;
    *out = NULL;
    struct supervisor *sup = calloc(1, sizeof *sup);
    if (!sup)
        return MSGFLO_ENOMEM;
    sup->loop = loop;
    if (options)
        sup->opt = *options;
    sup->opt.broker_url = NULL;
    sup->opt.env = NULL;
    sup->opt.shell = NULL;
    sup->opt.cwd = NULL;
    if (!sup->opt.start_timeout_ms)
        sup->opt.start_timeout_ms = 30000;
    if (!sup->opt.grace_ms)
        sup->opt.grace_ms = 5000;
    if (!sup->opt.backoff_initial_ms)
        sup->opt.backoff_initial_ms = 500;
    if (!sup->opt.backoff_max_ms)
        sup->opt.backoff_max_ms = 30000;
    if (!sup->opt.backoff_reset_ms)
        sup->opt.backoff_reset_ms = 60000;
    bool ok = true;
    if (options && options->shell && options->shell[0])
        ok = ok && (sup->opt.shell = strdup(options->shell)) != NULL;
    if (options && options->cwd)
        ok = ok && (sup->opt.cwd = strdup(options->cwd)) != NULL;
    if (options && options->broker_url) {
        size_t len = strlen(options->broker_url) + sizeof "MSGFLO_BROKER=";
        if (ok && (sup->broker_env = malloc(len)) != NULL)
            snprintf(sup->broker_env, len, "MSGFLO_BROKER=%s", options->broker_url);
        else
            ok = false;
    }
    size_t n = 0;
    while (options && options->env && options->env[n])
        n++;
    if (ok && (sup->env = calloc(n + 3, sizeof *sup->env)) == NULL)
        ok = false;
    for (size_t i = 0; ok && i < n; i++)
        ok = strchr(options->env[i], '=') && (sup->env[i] = strdup(options->env[i])) != NULL;
    /* Tells a libmsgflo participant (msgflo_main) to end with its parent, as
     * setpriv does for the process we start: so does one behind a shell that
     * could not exec it. */
    char pid_env[64];
    snprintf(pid_env, sizeof pid_env, "MSGFLO_SUPERVISOR_PID=%ld", (long)getpid());
    if (ok && (sup->env[n] = strdup(pid_env)) == NULL)
        ok = false;
    if (ok && options && options->identity && *options->identity) {
        size_t len = strlen(options->identity) + sizeof "MSGFLO_SUPERVISOR_ID=";
        if ((sup->env[n + 1] = malloc(len)) != NULL)
            snprintf(sup->env[n + 1], len, "MSGFLO_SUPERVISOR_ID=%s", options->identity);
        else
            ok = false;
        if (ok)
            supervisor__stop_orphans(options->identity, 2000);
    }
    sup->setpriv = supervisor__find_program("setpriv");
    uv_timer_init(loop, &sup->done_timer);
    sup->done_timer.data = sup;
    sup->refs = 1;
    if (!ok) {
        supervisor__free(sup);
        return MSGFLO_ENOMEM;
    }
    *out = sup;
    return 0;
}

static void proc__handle_closed(uv_handle_t *h)
{
    struct sup_proc *p = h->data;
    if (--p->open > 0)
        return;
    struct supervisor *sup = p->sup;
    void (*done)(struct supervisor *, void *) = p->stop_done;
    void *done_ud = p->stop_ud;
    free(p->role);
    free(p->command);
    free(p->spawn_error);
    free(p);
    if (done && !sup->freed)
        done(sup, done_ud); /* may free the supervisor: our reference keeps it */
    sup__release(sup);
}

/* Takes a process without a run out of the list and frees it; its stop_done
 * runs once its timers are closed. */
static void proc__remove(struct sup_proc *p)
{
    struct supervisor *sup = p->sup;
    for (struct sup_proc **q = &sup->procs; *q; q = &(*q)->next) {
        if (*q == p) {
            *q = p->next;
            break;
        }
    }
    p->next = NULL;
    uv_close((uv_handle_t *)&p->start_timer, proc__handle_closed);
    uv_close((uv_handle_t *)&p->kill_timer, proc__handle_closed);
    uv_close((uv_handle_t *)&p->backoff_timer, proc__handle_closed);
}

int supervisor__start(struct supervisor *sup, const char *role, const char *command,
                      const struct supervisor_callbacks *callbacks, void *userdata)
{
    if (!sup || !role || !role[0] || !command || !command[0])
        return MSGFLO_EINVAL;
    if (sup->stopping)
        return MSGFLO_ESTATE;
    for (struct sup_proc *q = sup->procs; q; q = q->next)
        if (strcmp(q->role, role) == 0)
            return MSGFLO_EINVAL;
    struct sup_proc *p = calloc(1, sizeof *p);
    if (!p)
        return MSGFLO_ENOMEM;
    p->role = strdup(role);
    p->command = strdup(command);
    if (!p->role || !p->command) {
        free(p->role);
        free(p->command);
        free(p);
        return MSGFLO_ENOMEM;
    }
    p->sup = sup;
    if (callbacks)
        p->cb = *callbacks;
    p->userdata = userdata;
    p->backoff_ms = sup->opt.backoff_initial_ms;
    uv_timer_init(sup->loop, &p->start_timer);
    uv_timer_init(sup->loop, &p->kill_timer);
    uv_timer_init(sup->loop, &p->backoff_timer);
    p->start_timer.data = p->kill_timer.data = p->backoff_timer.data = p;
    p->open = 3;
    sup->refs++;
    p->next = sup->procs;
    sup->procs = p;
    proc__spawn(p);
    return 0;
}

int supervisor__stop_all(struct supervisor *sup, void (*done)(struct supervisor *sup, void *ud),
                         void *userdata)
{
    if (!sup || sup->stopping)
        return MSGFLO_ESTATE;
    sup->stopping = true;
    sup->done = done;
    sup->done_ud = userdata;
    for (struct sup_proc *p = sup->procs; p; p = p->next) {
        uv_timer_stop(&p->backoff_timer);
        uv_timer_stop(&p->start_timer);
        if (p->run)
            proc__terminate(p, AFTER_STOP);
        else
            p->state = PROC_DONE;
    }
    sup__check_done(sup);
    return 0;
}

int supervisor__stop(struct supervisor *sup, const char *role,
                     void (*done)(struct supervisor *sup, void *ud), void *userdata)
{
    if (!sup || !role)
        return MSGFLO_EINVAL;
    if (sup->stopping)
        return MSGFLO_ESTATE;
    struct sup_proc *p = sup->procs;
    while (p && strcmp(p->role, role) != 0)
        p = p->next;
    if (!p)
        return MSGFLO_EINVAL;
    if (p->removing)
        return MSGFLO_ESTATE;
    p->removing = true;
    p->stop_done = done;
    p->stop_ud = userdata;
    uv_timer_stop(&p->backoff_timer);
    uv_timer_stop(&p->start_timer);
    LOG_DEBUG(NS, "stopping participant '%s'", p->role);
    if (p->run && !p->run->exited)
        proc__terminate(p, AFTER_STOP);
    else if (!p->run)
        proc__remove(p); /* closing its timers defers `done` to the loop */
    /* else: exited, its output still draining; the reap removes it */
    return 0;
}

int supervisor__pid(const struct supervisor *sup, const char *role)
{
    for (const struct sup_proc *p = sup ? sup->procs : NULL; p; p = p->next) {
        if (strcmp(p->role, role) == 0)
            return p->run && !p->run->exited ? p->run->pid : 0;
    }
    return 0;
}

size_t supervisor__active(const struct supervisor *sup)
{
    size_t n = 0;
    for (const struct sup_proc *p = sup ? sup->procs : NULL; p; p = p->next)
        n += (p->run != NULL || p->state == PROC_BACKOFF);
    return n;
}

static void sup__done_timer_closed(uv_handle_t *h)
{
    sup__release(h->data);
}

void supervisor__free(struct supervisor *sup)
{
    if (!sup)
        return;
    sup->freed = true;
    sup->done = NULL;
    struct sup_proc *p = sup->procs;
    sup->procs = NULL;
    while (p) {
        struct sup_proc *next = p->next;
        struct sup_run *run = p->run;
        if (run) {
            run->proc = NULL;
            p->run = NULL;
            for (int i = 0; i < 2; i++)
                run__close_pipe(run, i);
            uv_close((uv_handle_t *)&run->drain, run__handle_closed);
            if (!run->exited && run->pid > 0) {
                kill(-run->pid, SIGKILL);
                kill(run->pid, SIGKILL);
            }
            /* Closing the handle stops libuv from reaping it: reap it here. */
            uv_close((uv_handle_t *)&run->process, run__handle_closed);
            if (!run->exited && run->pid > 0)
                while (waitpid(run->pid, NULL, 0) < 0 && errno == EINTR)
                    ;
        }
        uv_close((uv_handle_t *)&p->start_timer, proc__handle_closed);
        uv_close((uv_handle_t *)&p->kill_timer, proc__handle_closed);
        uv_close((uv_handle_t *)&p->backoff_timer, proc__handle_closed);
        p = next;
    }
    uv_close((uv_handle_t *)&sup->done_timer, sup__done_timer_closed);
}
