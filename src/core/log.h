/* Internal logging helpers: format a record and hand it to the handler. */
#ifndef MSGFLO_CORE_LOG_H
#define MSGFLO_CORE_LOG_H

#include "msgflo/log.h"

#include <stddef.h>
#include <uv.h>

void log__write(enum msgflo_log_level level, const char *ns, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The default handler collapses a warning or error that repeats the previous
 * one (same namespace, level and text): the first is printed, the repeats are
 * counted and printed as one line "... (N more times)" when another line
 * comes, at exit, or once per window (60 s by default; ms here, for tests). */
void log__set_repeat_window(unsigned ms);

/* Prints the count of repeats not yet printed, now (a tool does before its
 * last line, so that the line saying why it ends stays the last one). */
void log__flush_repeats(void);

/* Holds the default handler's debug lines while `loop` runs a turn and writes
 * them in one write() just before it waits for events (the prepare handle
 * `h`, which does not keep the loop alive), before a warning or an error, and
 * at exit: a runtime logging a line per discovery message makes one system
 * call a loop turn instead of one a line. A crash loses the lines of the turn
 * it happened in. `h` is initialised whatever the result (close it with
 * log__hold_end); on an error (libuv's code) lines are written one by one. */
int log__hold_per_turn(uv_loop_t *loop, uv_prepare_t *h);
/* Writes what is held and stops holding; closes `h`. */
void log__hold_end(uv_prepare_t *h);
/* Writes what is held now. */
void log__flush(void);

/* Log lines of a worker thread, kept to be written by the loop thread: the
 * handler (replaceable, msgflo_log_set_handler) need not be thread-safe.
 * `ns` must be a string literal (the LOG_* macros' namespaces are). */
struct log_record {
    enum msgflo_log_level level;
    const char *ns;
    char *text; /* owned */
};
struct log_capture {
    struct log_record *records;
    size_t n, cap, lost;
};

/* From here on, until log__capture_end, what this thread logs goes to `c`
 * (borrowed; zero-initialised before the first use) instead of the handler.
 * The debug namespaces (DEBUG) must have been read before, on the loop
 * thread (msgflo_log_enabled reads them at its first call). */
void log__capture_begin(struct log_capture *c);
void log__capture_end(void);
/* Writes the records of `c` through the handler, in order, and empties it. */
void log__capture_replay(struct log_capture *c);

#define LOG_DEBUG(ns, ...)                                                                         \
    do {                                                                                           \
        if (msgflo_log_enabled(ns))                                                                \
            log__write(MSGFLO_LOG_DEBUG, ns, __VA_ARGS__);                                         \
    } while (0)
#define LOG_INFO(ns, ...)    log__write(MSGFLO_LOG_INFO, ns, __VA_ARGS__)
#define LOG_WARNING(ns, ...) log__write(MSGFLO_LOG_WARNING, ns, __VA_ARGS__)
#define LOG_ERROR(ns, ...)   log__write(MSGFLO_LOG_ERROR, ns, __VA_ARGS__)

#endif
