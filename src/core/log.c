/* Namespaced logging with a replaceable handler; DEBUG selects debug namespaces
 * with the same pattern rules as the npm `debug` module used by the original. */
#include "core/log.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PATTERNS 32
#define PATTERN_LEN  128

static msgflo_log_fn handler = msgflo_log_stderr;
static void *handler_data;

static struct {
    bool loaded;
    int count;
    struct {
        bool exclude;
        char glob[PATTERN_LEN];
    } patterns[MAX_PATTERNS];
} debug_env;

static void load_patterns(void)
{
    const char *env = getenv("DEBUG");
    debug_env.loaded = true;
    debug_env.count = 0;
    if (!env)
        return;
    const char *p = env;
    while (*p && debug_env.count < MAX_PATTERNS) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        bool exclude = (*p == '-');
        const char *start = exclude ? p + 1 : p;
        size_t len = n - (exclude ? 1 : 0);
        if (len > 0 && len < PATTERN_LEN) {
            debug_env.patterns[debug_env.count].exclude = exclude;
            memcpy(debug_env.patterns[debug_env.count].glob, start, len);
            debug_env.patterns[debug_env.count].glob[len] = '\0';
            debug_env.count++;
        }
        p += n;
    }
}

bool msgflo_log_enabled(const char *ns)
{
    if (!debug_env.loaded)
        load_patterns();
    bool enabled = false;
    for (int i = 0; i < debug_env.count; i++) {
        if (fnmatch(debug_env.patterns[i].glob, ns, 0) != 0)
            continue;
        if (debug_env.patterns[i].exclude)
            return false;
        enabled = true;
    }
    return enabled;
}

const char *msgflo_log_level_name(enum msgflo_log_level level)
{
    switch (level) {
    case MSGFLO_LOG_DEBUG:
        return "debug";
    case MSGFLO_LOG_INFO:
        return "info";
    case MSGFLO_LOG_WARNING:
        return "warning";
    case MSGFLO_LOG_ERROR:
        return "error";
    }
    return "log";
}

void msgflo_log_set_handler(msgflo_log_fn fn, void *userdata)
{
    handler = fn ? fn : msgflo_log_stderr;
    handler_data = fn ? userdata : NULL;
}

/* The previous warning or error of the default handler, and how often it
 * repeated since it was last printed. */
static struct {
    pthread_mutex_t lock;
    enum msgflo_log_level level;
    char ns[64];
    char message[1024];
    unsigned repeats;
    uint64_t printed_at; /* ms, monotonic */
    unsigned window_ms;
    bool at_exit;
} last = {.lock = PTHREAD_MUTEX_INITIALIZER, .window_ms = 60000};

void log__set_repeat_window(unsigned ms)
{
    pthread_mutex_lock(&last.lock);
    last.window_ms = ms;
    pthread_mutex_unlock(&last.lock);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Prints the count of the previous line's repeats (the lock held). */
static void flush_repeats(void)
{
    if (last.repeats == 0)
        return;
    fprintf(stderr, "%s %s: %s (%u more time%s)\n", last.ns, msgflo_log_level_name(last.level),
            last.message, last.repeats, last.repeats == 1 ? "" : "s");
    last.repeats = 0;
}

void log__flush_repeats(void)
{
    pthread_mutex_lock(&last.lock);
    flush_repeats();
    pthread_mutex_unlock(&last.lock);
}

static void write_problem(enum msgflo_log_level level, const char *ns, const char *message)
{
    pthread_mutex_lock(&last.lock);
    uint64_t now = now_ms();
    if (last.printed_at && level == last.level && strcmp(ns, last.ns) == 0 &&
        strcmp(message, last.message) == 0) {
        last.repeats++;
        if (!last.at_exit) {
            last.at_exit = true;
            atexit(log__flush_repeats);
        }
        if (now - last.printed_at >= last.window_ms) {
            flush_repeats();
            last.printed_at = now;
        }
        pthread_mutex_unlock(&last.lock);
        return;
    }
    flush_repeats();
    fprintf(stderr, "%s %s: %s\n", ns, msgflo_log_level_name(level), message);
    last.level = level;
    snprintf(last.ns, sizeof last.ns, "%s", ns);
    snprintf(last.message, sizeof last.message, "%s", message);
    last.printed_at = now;
    pthread_mutex_unlock(&last.lock);
}

/* A debug line: time (or ""), namespace, level name, message. */
#define DEBUG_LINE "%s%s %s: %s\n"

/* Debug lines held while a loop turn runs (log__hold_per_turn). */
#define HELD_BYTES (16 * 1024)
static struct {
    pthread_mutex_t lock;
    bool on;
    bool at_exit;
    size_t len;
    char buf[HELD_BYTES];
} held = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Writes the held lines (the lock held). */
static void held_write(void)
{
    if (held.len)
        fwrite(held.buf, 1, held.len, stderr);
    held.len = 0;
}

void log__flush(void)
{
    pthread_mutex_lock(&held.lock);
    held_write();
    pthread_mutex_unlock(&held.lock);
}

/* Adds a formatted line to the held ones; false when holding is off (the
 * caller writes it). */
static bool held_add(const char *when, const char *ns, const char *level, const char *message)
{
    pthread_mutex_lock(&held.lock);
    if (!held.on) {
        pthread_mutex_unlock(&held.lock);
        return false;
    }
    for (int tries = 0; tries < 2; tries++) {
        size_t room = sizeof held.buf - held.len;
        int n = snprintf(held.buf + held.len, room, DEBUG_LINE, when, ns, level, message);
        if (n >= 0 && (size_t)n < room) {
            held.len += (size_t)n;
            pthread_mutex_unlock(&held.lock);
            return true;
        }
        held_write(); /* full: make room, then once more */
    }
    pthread_mutex_unlock(&held.lock);
    return false; /* longer than the whole buffer: written at once */
}

static void on_prepare(uv_prepare_t *h)
{
    (void)h;
    log__flush();
}

int log__hold_per_turn(uv_loop_t *loop, uv_prepare_t *h)
{
    uv_prepare_init(loop, h); /* cannot fail; log__hold_end closes it */
    int rc = uv_prepare_start(h, on_prepare);
    if (rc != 0)
        return rc;
    uv_unref((uv_handle_t *)h);
    pthread_mutex_lock(&held.lock);
    held.on = true;
    if (!held.at_exit) {
        held.at_exit = true;
        atexit(log__flush);
    }
    pthread_mutex_unlock(&held.lock);
    return 0;
}

void log__hold_end(uv_prepare_t *h)
{
    pthread_mutex_lock(&held.lock);
    held.on = false;
    held_write();
    pthread_mutex_unlock(&held.lock);
    uv_close((uv_handle_t *)h, NULL);
}

void msgflo_log_stderr(enum msgflo_log_level level, const char *ns, const char *message,
                       void *userdata)
{
    (void)userdata;
    if (level == MSGFLO_LOG_INFO && !msgflo_log_enabled(ns))
        return;
    if (level > MSGFLO_LOG_INFO) {
        log__flush(); /* in the order they were logged */
        write_problem(level, ns, message);
        return;
    }
    /* Debug output as the npm debug module writes it without colours (what
     * the original prints into a file or pipe): an ISO time first. */
    struct timespec now;
    struct tm tm;
    char when[32] = "";
    if (clock_gettime(CLOCK_REALTIME, &now) == 0 && gmtime_r(&now.tv_sec, &tm)) {
        size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + n, sizeof when - n, ".%03ldZ ", now.tv_nsec / 1000000);
    }
    const char *shown = getenv("DEBUG_HIDE_DATE") ? "" : when;
    if (!held_add(shown, ns, msgflo_log_level_name(level), message))
        fprintf(stderr, DEBUG_LINE, shown, ns, msgflo_log_level_name(level), message);
}

/* The capture of this thread (log__capture_begin), or NULL. */
static _Thread_local struct log_capture *capture;

void log__capture_begin(struct log_capture *c)
{
    capture = c;
}

void log__capture_end(void)
{
    capture = NULL;
}

static void capture_add(struct log_capture *c, enum msgflo_log_level level, const char *ns,
                        const char *text)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct log_record *r = realloc(c->records, cap * sizeof *r);
        if (!r) {
            c->lost++;
            return;
        }
        c->records = r;
        c->cap = cap;
    }
    char *copy = strdup(text);
    if (!copy) {
        c->lost++;
        return;
    }
    c->records[c->n++] = (struct log_record){.level = level, .ns = ns, .text = copy};
}

void log__capture_replay(struct log_capture *c)
{
    for (size_t i = 0; i < c->n; i++) {
        handler(c->records[i].level, c->records[i].ns, c->records[i].text, handler_data);
        free(c->records[i].text);
    }
    if (c->lost)
        log__write(MSGFLO_LOG_WARNING, "msgflo:log",
                   "%zu log line(s) of a worker lost (out of memory)", c->lost);
    free(c->records);
    *c = (struct log_capture){0};
}

void log__write(enum msgflo_log_level level, const char *ns, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (capture) {
        capture_add(capture, level, ns, buf);
        return;
    }
    handler(level, ns, buf, handler_data);
}
