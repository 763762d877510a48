/* /metrics: the Prometheus text exposition format (version 0.0.4), sans-I/O
 * helpers. The runtime writes the process's own metrics and the WebSocket
 * clients (metrics__process, runtime.c); the live layer the system's
 * (live__metrics, live_status.c). docs/msgflo.md#metrics lists them.
 *
 *     struct strbuf sb;
 *     strbuf__init(&sb);
 *     metrics__family(&sb, "msgflo_roles", "gauge", "Roles known from discovery.");
 *     metrics__sample(&sb, "msgflo_roles", NULL, 3);
 */
#ifndef MSGFLO_RUNTIME_METRICS_H
#define MSGFLO_RUNTIME_METRICS_H

#include "core/strbuf.h"

#include <stdbool.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge). */
void metrics__family(struct strbuf *sb, const char *name, const char *type, const char *help);

/* "name{labels} value": `labels` NULL or NULL-terminated name, value pairs
 * (values escaped as the format says: backslash, double quote, newline). */
void metrics__sample(struct strbuf *sb, const char *name, const char *const *labels, double value);

/* Appends a label value escaped (backslash, double quote, newline). */
void metrics__escape(struct strbuf *sb, const char *value);

/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds and
 * process_open_fds, named as Prometheus' client libraries name them (from
 * getrusage and /proc/self; a value that cannot be read is left out). */
void metrics__process(struct strbuf *sb);

/* Whether a request may read /metrics: true without a secret (NULL or ""),
 * else when `authorization` is "Bearer SECRET" or the query has
 * secret=SECRET (percent-decoded); compared in constant time. */
bool metrics__authorized(const char *secret, const char *authorization, const char *query);

#endif
