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

#include "coord/system.h"
#include "core/strbuf.h"
#include "runtime/http_server.h"

#include <stdbool.h>
#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge). */
/* Answers with sb as the body (taken; sb is left empty): 200 and the
 * Prometheus content type, or 500 when writing it ran out of memory. */
void metrics__respond(struct http_response *resp, struct strbuf *sb);

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

/* The node states of system_role_status, in the order msgflo_nodes lists
 * them. */
#define METRICS_N_STATES 7
extern const char *const metrics__states[METRICS_N_STATES];

/* Counts a node in state `state` (a system_role_status.state) in by_state. */
void metrics__count_state(size_t by_state[METRICS_N_STATES], const char *state);

/* msgflo_nodes{state} from the counts of metrics__count_state. */
void metrics__nodes(struct strbuf *sb, const size_t by_state[METRICS_N_STATES]);

/* The system's counters (coord/system.h) as msgflo_participants,
 * msgflo_roles, msgflo_processes, msgflo_bindings, msgflo_broker_connected,
 * msgflo_discovery_messages_total, msgflo_discovery_messages_dropped_total,
 * msgflo_data_messages_total, msgflo_iips_sent_total,
 * msgflo_process_restarts_total and msgflo_broker_reconnects_total. */
void metrics__counters(struct strbuf *sb, const struct system_counters *c);

/* msgflo_edges{state="bound"|"unbound"}. */
void metrics__edges(struct strbuf *sb, size_t bound, size_t unbound);

/* Whether a request may read /metrics: true without a secret (NULL or ""),
 * else when `authorization` is "Bearer SECRET" or the query has
 * secret=SECRET (percent-decoded); compared in constant time. */
bool metrics__authorized(const char *secret, const char *authorization, const char *query);

#endif
