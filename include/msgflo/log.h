/* msgflo-c: logging.
 *
 * The library never prints. Everything it has to say goes through one log
 * handler, which the application may replace. The default handler writes
 * warnings and errors to stderr, and debug lines of the namespaces enabled by
 * the DEBUG environment variable (as the npm `debug` module does:
 * DEBUG=msgflo* or DEBUG=msgflo:mqtt,msgflo:amqp; a leading '-' excludes).
 *
 * Namespaces: msgflo:participant, msgflo:mqtt, msgflo:amqp, msgflo:url, ...
 */
#ifndef MSGFLO_LOG_H
#define MSGFLO_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum msgflo_log_level {
    MSGFLO_LOG_DEBUG = 0,
    MSGFLO_LOG_INFO = 1,
    MSGFLO_LOG_WARNING = 2,
    MSGFLO_LOG_ERROR = 3,
};

/* A log handler. `ns` and `message` are valid until the handler returns.
 * Debug records reach the handler only for namespaces enabled by DEBUG. */
typedef void (*msgflo_log_fn)(enum msgflo_log_level level, const char *ns, const char *message,
                              void *userdata);

/* Replaces the process-wide log handler; NULL restores the default
 * (msgflo_log_stderr). Not thread-safe: call it before starting participants. */
void msgflo_log_set_handler(msgflo_log_fn fn, void *userdata);

/* The default handler: "msgflo:mqtt warning: text" lines on stderr. */
void msgflo_log_stderr(enum msgflo_log_level level, const char *ns, const char *message,
                       void *userdata);

/* Whether debug logging is enabled for a namespace, per the DEBUG variable
 * read at the first call. */
bool msgflo_log_enabled(const char *ns);

/* Returns the name of a level ("debug", "info", "warning", "error"). */
const char *msgflo_log_level_name(enum msgflo_log_level level);

#ifdef __cplusplus
}
#endif
#endif
