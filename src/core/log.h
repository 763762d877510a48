/* Internal logging helpers: format a record and hand it to the handler. */
#ifndef MSGFLO_CORE_LOG_H
#define MSGFLO_CORE_LOG_H

#include "msgflo/log.h"

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

#define LOG_DEBUG(ns, ...)                                                                         \
    do {                                                                                           \
        if (msgflo_log_enabled(ns))                                                                \
            log__write(MSGFLO_LOG_DEBUG, ns, __VA_ARGS__);                                         \
    } while (0)
#define LOG_INFO(ns, ...)    log__write(MSGFLO_LOG_INFO, ns, __VA_ARGS__)
#define LOG_WARNING(ns, ...) log__write(MSGFLO_LOG_WARNING, ns, __VA_ARGS__)
#define LOG_ERROR(ns, ...)   log__write(MSGFLO_LOG_ERROR, ns, __VA_ARGS__)

#endif
