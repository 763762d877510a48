/* The embedded default broker: a private mosquitto on a free loopback port.
 *
 * States: STARTING (spawned, polling the port), READY, FAILED, STOPPING,
 * STOPPED. The port is found by binding port 0 and closing the socket; should
 * another process take it before mosquitto binds it, mosquitto exits with
 * "Address already in use" and we try another port (a few times). */
#include "process/embedded_broker.h"

#include "process/supervisor.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS           "msgflo:broker"
#define POLL_MS      25
#define LOG_TAIL     2048
#define MAX_ATTEMPTS 3
#define ERR_LEN      (LOG_TAIL + 512)

enum broker_state { B_STARTING, B_READY, B_FAILED, B_STOPPING, B_STOPPED };

struct embedded_broker {
    uv_loop_t *loop;
    enum broker_state state;
    unsigned start_timeout_ms, grace_ms;
    embedded_broker_ready_fn ready;
    void *ready_ud;
    void (*done)(struct embedded_broker *b, void *ud);
    void *done_ud;
    char *program;    /* absolute path of mosquitto */
    char plugin[512]; /* the router plugin loaded, "" for none */
    char *setpriv;    /* absolute path of setpriv, or NULL */
    char dir[256];
    char conf[300];
    char url[64];
    int port;
    int attempts;
    bool dir_exists;
    uv_process_t process;
    bool running; /* process spawned, exit not yet seen */
    bool process_init;
    int status;
    uv_pipe_t pipes[2];
    bool pipe_open[2];
    uv_timer_t poll_timer, kill_timer, notify_timer;
    bool probing; /* a connect attempt is in flight */
    bool respawn; /* the port was taken: spawn again once handles closed */
    uint64_t deadline;
    int err;
    char errmsg[ERR_LEN];
    char tail[LOG_TAIL + 1];
    size_t tail_len;
    char partial[512];
    size_t partial_len;
    char readbuf[4096];
    bool waiting; /* in embedded_broker__wait: stop the loop when the start ends */
    int refs;     /* open handles and probes, plus one until freed */
    bool freed;
};

struct probe {
    struct embedded_broker *b;
    uv_tcp_t tcp;
    uv_connect_t req;
};

static void broker__release(struct embedded_broker *b)
{
    if (--b->refs > 0)
        return;
    free(b->program);
    free(b->setpriv);
    free(b);
}

static void on_handle_closed(uv_handle_t *h)
{
    broker__release(h->data);
}

static int broker__free_port(void)
{
    int port = -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static void broker__remove_dir(struct embedded_broker *b)
{
    if (!b->dir_exists)
        return;
    if (unlink(b->conf) != 0 && errno != ENOENT)
        LOG_WARNING(NS, "cannot remove %s: %s", b->conf, strerror(errno));
    if (rmdir(b->dir) != 0)
        LOG_WARNING(NS, "cannot remove %s: %s", b->dir, strerror(errno));
    b->dir_exists = false;
}

/* Collects mosquitto's output: debug lines, and a tail for error messages. */
static void broker__log(struct embedded_broker *b, const char *data, size_t n)
{
    if (n > LOG_TAIL) {
        data += n - LOG_TAIL;
        n = LOG_TAIL;
    }
    if (b->tail_len + n > LOG_TAIL) {
        size_t drop = b->tail_len + n - LOG_TAIL;
        memmove(b->tail, b->tail + drop, b->tail_len - drop);
        b->tail_len -= drop;
    }
    memcpy(b->tail + b->tail_len, data, n);
    b->tail_len += n;
    b->tail[b->tail_len] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n' || b->partial_len == sizeof b->partial - 1) {
            b->partial[b->partial_len] = '\0';
            LOG_DEBUG(NS, "mosquitto: %s", b->partial);
            b->partial_len = 0;
        }
        if (data[i] != '\n')
            b->partial[b->partial_len++] = data[i];
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct embedded_broker *b = h->data;
    buf->base = b->readbuf;
    buf->len = sizeof b->readbuf;
}

static void broker__close_pipe(struct embedded_broker *b, int i)
{
    if (!b->pipe_open[i])
        return;
    b->pipe_open[i] = false;
    uv_read_stop((uv_stream_t *)&b->pipes[i]);
    uv_close((uv_handle_t *)&b->pipes[i], on_handle_closed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct embedded_broker *b = s->data;
    if (nread > 0)
        broker__log(b, buf->base, (size_t)nread);
    else if (nread < 0)
        broker__close_pipe(b, s == (uv_stream_t *)&b->pipes[0] ? 0 : 1);
}

static void on_notify(uv_timer_t *t)
{
    struct embedded_broker *b = t->data;
    if (b->waiting)
        uv_stop(b->loop); /* else UV_RUN_ONCE goes on to wait in poll */
    if (b->state == B_STOPPED) {
        void (*done)(struct embedded_broker *, void *) = b->done;
        b->done = NULL;
        if (done)
            done(b, b->done_ud); /* last: may free b */
        return;
    }
    embedded_broker_ready_fn ready = b->ready;
    b->ready = NULL;
    if (!ready)
        return;
    if (b->state == B_READY)
        ready(b, 0, b->url, b->ready_ud);
    else if (b->state == B_FAILED)
        ready(b, b->err, b->errmsg, b->ready_ud);
}

static void broker__fail(struct embedded_broker *b, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void broker__fail(struct embedded_broker *b, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof b->errmsg && b->tail_len > 0)
        snprintf(b->errmsg + n, sizeof b->errmsg - (size_t)n, "; its log: %s", b->tail);
    /* One line: the log's newlines become " | ". */
    for (char *c = b->errmsg; *c; c++)
        if (*c == '\n')
            *c = (c[1] ? '|' : '\0');
    b->err = err;
    b->state = B_FAILED;
    uv_timer_stop(&b->poll_timer);
    broker__remove_dir(b);
    LOG_DEBUG(NS, "%s", b->errmsg);
    uv_timer_start(&b->notify_timer, on_notify, 0, 0);
}

static int broker__spawn(struct embedded_broker *b);

static void on_exit_cb(uv_process_t *h, int64_t exit_status, int term_signal)
{
    struct embedded_broker *b = h->data;
    b->running = false;
    b->status = term_signal ? -term_signal : (int)exit_status;
    uv_timer_stop(&b->kill_timer);
    LOG_DEBUG(NS, "mosquitto (pid %d) exited with %d", h->pid, b->status);
    uv_close((uv_handle_t *)h, on_handle_closed);
    b->process_init = false;
    /* mosquitto has no children: its exit ends its output. */
    broker__close_pipe(b, 0);
    broker__close_pipe(b, 1);
    if (b->state == B_STARTING) {
        if (strstr(b->tail, "in use") && b->attempts < MAX_ATTEMPTS) {
            LOG_DEBUG(NS, "port %d taken meanwhile; trying another", b->port);
            b->tail_len = 0;
            b->tail[0] = '\0';
            /* From the poll timer: the handles being closed are reused. */
            b->respawn = true;
            return;
        }
        if (b->plugin[0] && strstr(b->tail, "lugin")) {
            /* "Unable to load plugin", "Plugin returned N when initialising":
             * e.g. the user mosquitto runs as cannot read it, or another
             * mosquitto version. The broker matters more */
            char why[300];
            const char *from = strstr(b->tail, "Error");
            snprintf(why, sizeof why, "%.299s", from ? from : b->tail);
            for (char *ch = why; *ch; ch++) /* its lines, joined */
                if (*ch == '\n')
                    *ch = ch[1] ? ' ' : '\0';
            LOG_WARNING(NS,
                        "mosquitto did not start with the router plugin %s (%s): started "
                        "without it, bindings forwarded",
                        b->plugin, why);
            b->plugin[0] = '\0';
            b->tail_len = 0;
            b->tail[0] = '\0';
            b->respawn = true;
            return;
        }
        broker__fail(b, MSGFLO_ESYS, "mosquitto exited with status %d before listening on %s",
                     b->status, b->url);
    } else if (b->state == B_READY) {
        LOG_WARNING(NS, "embedded mosquitto on %s exited with status %d", b->url, b->status);
    } else if (b->state == B_STOPPING) {
        broker__remove_dir(b);
        b->state = B_STOPPED;
        uv_timer_start(&b->notify_timer, on_notify, 0, 0);
    }
}

static void on_probe_closed(uv_handle_t *h)
{
    struct probe *pr = h->data;
    struct embedded_broker *b = pr->b;
    free(pr);
    broker__release(b);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *pr = req->data;
    struct embedded_broker *b = pr->b;
    b->probing = false;
    uv_close((uv_handle_t *)&pr->tcp, on_probe_closed);
    if (status != 0 || b->state != B_STARTING)
        return;
    uv_timer_stop(&b->poll_timer);
    b->state = B_READY;
    broker__remove_dir(b); /* mosquitto has read its config */
    LOG_DEBUG(NS, "embedded mosquitto (pid %d) listens on %s", b->process.pid, b->url);
    uv_timer_start(&b->notify_timer, on_notify, 0, 0);
}

static void on_poll(uv_timer_t *t)
{
    struct embedded_broker *b = t->data;
    if (b->state != B_STARTING || b->probing)
        return;
    if (b->respawn) {
        b->respawn = false;
        uv_timer_stop(&b->poll_timer);
        broker__spawn(b);
        return;
    }
    if (uv_now(b->loop) >= b->deadline) {
        if (b->running)
            uv_process_kill(&b->process, SIGKILL);
        broker__fail(b, MSGFLO_ESYS, "mosquitto did not listen on %s within %g s", b->url,
                     (double)b->start_timeout_ms / 1000.0);
        return;
    }
    struct probe *pr = calloc(1, sizeof *pr);
    struct sockaddr_in addr;
    if (!pr)
        return;
    pr->b = b;
    b->refs++;
    uv_tcp_init(b->loop, &pr->tcp);
    pr->tcp.data = pr;
    pr->req.data = pr;
    uv_ip4_addr("127.0.0.1", b->port, &addr);
    if (uv_tcp_connect(&pr->req, &pr->tcp, (const struct sockaddr *)&addr, on_connect) == 0)
        b->probing = true;
    else
        uv_close((uv_handle_t *)&pr->tcp, on_probe_closed);
}

/* Whether path names a readable file that a mosquitto.conf line can hold
 * (its parser splits a line at spaces). */
static bool usable_plugin(const char *path)
{
    struct stat st;
    return *path && strlen(path) < 512 && !strpbrk(path, " \t\r\n") && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* Finds the router plugin (mosquitto_msgflo.so) into b->plugin, "" when
 * none is to be loaded: $MSGFLO_ROUTER_PLUGIN ("" or "none": none); else the
 * build tree's when this program runs from the build tree; else the library
 * directory beside the program's installation (<prefix>/bin/../<libdir>);
 * else the configured installation's. */
static void broker__find_plugin(struct embedded_broker *b)
{
    const char *env = getenv("MSGFLO_ROUTER_PLUGIN");
    b->plugin[0] = '\0';
    if (env) {
        if (!*env || strcmp(env, "none") == 0)
            LOG_DEBUG(NS, "MSGFLO_ROUTER_PLUGIN=%s: no router plugin, bindings forwarded", env);
        else if (usable_plugin(env))
            memcpy(b->plugin, env, strlen(env) + 1); /* < 512 bytes: usable_plugin */
        else
            LOG_WARNING(NS,
                        "MSGFLO_ROUTER_PLUGIN=%s: not a readable file (or holds a space): no "
                        "router plugin, bindings forwarded",
                        env);
        return;
    }
    char exe[PATH_MAX], cand[3][PATH_MAX + 64];
    size_t len = sizeof exe, n = 0;
    if (uv_exepath(exe, &len) == 0) {
        exe[len < sizeof exe ? len : sizeof exe - 1] = '\0';
        if (strncmp(exe, MSGFLO_BUILD_DIR "/", strlen(MSGFLO_BUILD_DIR) + 1) == 0)
            snprintf(cand[n++], sizeof cand[0], "%s", MSGFLO_ROUTER_PLUGIN_BUILD);
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[n++], sizeof cand[0], "%s/../%s/mosquitto_msgflo.so", exe,
                     MSGFLO_INSTALL_LIBDIR);
        }
    }
    snprintf(cand[n++], sizeof cand[0], "%s/mosquitto_msgflo.so", MSGFLO_INSTALL_FULL_LIBDIR);
    for (size_t i = 0; i < n; i++) {
        if (usable_plugin(cand[i])) {
            memcpy(b->plugin, cand[i], strlen(cand[i]) + 1);
            return;
        }
    }
    LOG_DEBUG(NS, "no router plugin (mosquitto_msgflo.so in %s or %s): bindings forwarded",
              n > 1 ? cand[n - 2] : cand[0], cand[n - 1]);
}

static int broker__write_config(struct embedded_broker *b)
{
    FILE *f = fopen(b->conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "persistence false\nlog_dest stderr\n",
            b->port);
    if (b->plugin[0])
        fprintf(f, "plugin %s\n", b->plugin);
    if (fclose(f) != 0)
        return -1;
    /* Readable by the unprivileged user mosquitto runs as when we are root. */
    if (chmod(b->conf, 0644) != 0 || chmod(b->dir, 0711) != 0)
        return -1;
    return 0;
}

/* Picks a port, writes the config and spawns mosquitto. Failures are
 * reported through broker__fail; returns < 0 then. */
static int broker__spawn(struct embedded_broker *b)
{
    char *argv[10];
    char uid[64], gid[64];
    int n = 0, err;
    b->attempts++;
    b->port = broker__free_port();
    if (b->port <= 0) {
        broker__fail(b, MSGFLO_ESYS, "no free port on 127.0.0.1: %s", strerror(errno));
        return -1;
    }
    snprintf(b->url, sizeof b->url, "mqtt://127.0.0.1:%d", b->port);
    if (broker__write_config(b) != 0) {
        broker__fail(b, MSGFLO_ESYS, "cannot write %s: %s", b->conf, strerror(errno));
        return -1;
    }
    if (b->setpriv) {
        argv[n++] = b->setpriv;
        if (geteuid() == 0) {
            const char *user = getpwnam("mosquitto") ? "mosquitto" : "nobody";
            struct passwd *pw = getpwnam(user);
            if (pw) {
                snprintf(uid, sizeof uid, "--reuid=%lu", (unsigned long)pw->pw_uid);
                snprintf(gid, sizeof gid, "--regid=%lu", (unsigned long)pw->pw_gid);
                argv[n++] = uid;
                argv[n++] = gid;
                argv[n++] = "--clear-groups";
            }
        }
        argv[n++] = "--pdeathsig=TERM";
    }
    argv[n++] = b->program;
    argv[n++] = "-c";
    argv[n++] = b->conf;
    argv[n] = NULL;
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(b->loop, &b->pipes[i], 0);
        b->pipes[i].data = b;
        b->pipe_open[i] = true;
        b->refs++;
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&b->pipes[0]},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&b->pipes[1]},
    };
    /* Its own process group: a terminal's Ctrl-C reaches the runtime (or
     * msgflo-setup), which stops the participants first and the broker last,
     * instead of the broker dying under connected participants. */
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .flags = UV_PROCESS_DETACHED,
        .file = argv[0],
        .args = argv,
        .stdio_count = 3,
        .stdio = stdio,
    };
    b->process.data = b;
    err = uv_spawn(b->loop, &b->process, &po);
    b->refs++; /* the process handle, initialized even on failure */
    if (err != 0) {
        uv_close((uv_handle_t *)&b->process, on_handle_closed);
        broker__close_pipe(b, 0);
        broker__close_pipe(b, 1);
        broker__fail(b, MSGFLO_ESYS, "cannot run %s: %s", argv[0], uv_strerror(err));
        return -1;
    }
    b->process_init = true;
    b->running = true;
    uv_read_start((uv_stream_t *)&b->pipes[0], on_alloc, on_read);
    uv_read_start((uv_stream_t *)&b->pipes[1], on_alloc, on_read);
    LOG_DEBUG(NS, "started mosquitto (pid %d) on port %d, config %s, router plugin %s",
              b->process.pid, b->port, b->conf, b->plugin[0] ? b->plugin : "none");
    uv_timer_start(&b->poll_timer, on_poll, POLL_MS, POLL_MS);
    return 0;
}

int embedded_broker__start(uv_loop_t *loop, const struct embedded_broker_options *options,
                           embedded_broker_ready_fn ready, void *userdata,
                           struct embedded_broker **out)
{
    if (!loop || !out)
        return MSGFLO_EINVAL;
    *out = NULL;
    struct embedded_broker *b = calloc(1, sizeof *b);
    if (!b)
        return MSGFLO_ENOMEM;
    b->loop = loop;
    b->refs = 1;
    b->ready = ready;
    b->ready_ud = userdata;
    b->start_timeout_ms = options && options->start_timeout_ms ? options->start_timeout_ms : 10000;
    b->grace_ms = options && options->grace_ms ? options->grace_ms : 5000;
    uv_timer_t *timers[] = {&b->poll_timer, &b->kill_timer, &b->notify_timer};
    for (size_t i = 0; i < 3; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = b;
        b->refs++;
    }
    b->state = B_STARTING;
    b->deadline = uv_now(loop) + b->start_timeout_ms;
    *out = b;

    const char *program = options && options->program ? options->program : "mosquitto";
    const char *tmp = getenv("TMPDIR");
    b->program = supervisor__find_program(program);
    b->setpriv = supervisor__find_program("setpriv");
    if (!b->program) {
        broker__fail(b, MSGFLO_ESYS,
                     "cannot start the embedded broker: '%s' not found (install mosquitto, "
                     "or give a broker with --broker or MSGFLO_BROKER)",
                     program);
        return 0;
    }
    if (!tmp || !*tmp || strlen(tmp) > 200)
        tmp = "/tmp";
    snprintf(b->dir, sizeof b->dir, "%s/msgflo-broker-XXXXXX", tmp);
    if (!mkdtemp(b->dir)) {
        broker__fail(b, MSGFLO_ESYS, "cannot create a folder in %s: %s", tmp, strerror(errno));
        return 0;
    }
    b->dir_exists = true;
    snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", b->dir);
    broker__find_plugin(b);
    broker__spawn(b);
    return 0;
}

int embedded_broker__wait(struct embedded_broker *b, char *err, size_t errlen)
{
    if (!b)
        return MSGFLO_EINVAL;
    b->waiting = true;
    while (b->state == B_STARTING)
        uv_run(b->loop, UV_RUN_ONCE);
    b->waiting = false;
    if (b->state == B_READY)
        return 0;
    if (errlen > 0)
        snprintf(err, errlen, "%s", b->state == B_FAILED ? b->errmsg : "embedded broker stopped");
    return b->state == B_FAILED ? b->err : MSGFLO_ESTATE;
}

const char *embedded_broker__url(const struct embedded_broker *b)
{
    return b && b->state == B_READY ? b->url : NULL;
}

int embedded_broker__pid(const struct embedded_broker *b)
{
    return b ? b->process.pid : 0;
}

const char *embedded_broker__dir(const struct embedded_broker *b)
{
    return b ? b->dir : NULL;
}

static void on_kill_timeout(uv_timer_t *t)
{
    struct embedded_broker *b = t->data;
    if (!b->running)
        return;
    LOG_WARNING(NS, "mosquitto (pid %d) did not exit within %g s of SIGTERM; sending SIGKILL",
                b->process.pid, (double)b->grace_ms / 1000.0);
    uv_process_kill(&b->process, SIGKILL);
}

int embedded_broker__stop(struct embedded_broker *b,
                          void (*done)(struct embedded_broker *b, void *ud), void *userdata)
{
    if (!b || b->state == B_STOPPING || b->state == B_STOPPED)
        return MSGFLO_ESTATE;
    b->done = done;
    b->done_ud = userdata;
    b->ready = NULL;
    uv_timer_stop(&b->poll_timer);
    uv_timer_stop(&b->notify_timer);
    b->state = B_STOPPING;
    if (b->running) {
        uv_process_kill(&b->process, SIGTERM);
        uv_timer_start(&b->kill_timer, on_kill_timeout, b->grace_ms, 0);
        return 0;
    }
    broker__remove_dir(b);
    b->state = B_STOPPED;
    uv_timer_start(&b->notify_timer, on_notify, 0, 0);
    return 0;
}

void embedded_broker__free(struct embedded_broker *b)
{
    if (!b || b->freed)
        return;
    b->freed = true;
    if (b->process_init) {
        int pid = b->process.pid;
        bool running = b->running;
        if (running)
            uv_process_kill(&b->process, SIGKILL);
        /* Closing the handle stops libuv from reaping it: reap it here. */
        uv_close((uv_handle_t *)&b->process, on_handle_closed);
        b->process_init = false;
        b->running = false;
        if (running && pid > 0)
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
    }
    broker__remove_dir(b);
    broker__close_pipe(b, 0);
    broker__close_pipe(b, 1);
    uv_close((uv_handle_t *)&b->poll_timer, on_handle_closed);
    uv_close((uv_handle_t *)&b->kill_timer, on_handle_closed);
    uv_close((uv_handle_t *)&b->notify_timer, on_handle_closed);
    broker__release(b);
}
