/* Queue statistics from RabbitMQ's management API, as guv reads them
 * (npm amqp-stats): GET <base>/api/queues/<vhost>/<queue> with basic auth;
 * the queue length is `messages` (ready plus delivered and not yet
 * acknowledged), which a passive queue.declare cannot tell.
 *
 * The request is blocking (libcurl easy interface, 5 s timeout), as
 * rabbitmq-c's RPCs are: one short request per role per poll. msgflo-guv
 * asks on its statistics thread (guv/runner.c, transport/admin_worker.h),
 * never on its loop; a client is used by one thread at a time. */
#ifndef MSGFLO_GUV_STATS_HTTP_H
#define MSGFLO_GUV_STATS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct guv_http_stats;

/* A client for the management API at `base_url` (copied; e.g.
 * "http://localhost:15672"; user:password in it, else `user` / `password`,
 * else guest:guest), for queues of `vhost` (copied; NULL: "/").
 * Returns 0, MSGFLO_EINVAL (not an http(s) URL; reason in errbuf) or
 * MSGFLO_ENOMEM. *out is freed with guv_http_stats__free. */
int guv_http_stats__new(const char *base_url, const char *vhost, const char *user,
                        const char *password, struct guv_http_stats **out, char *errbuf,
                        size_t errlen);

/* The queue's length and consumers. Returns 0, MSGFLO_ENOPORT (404: no such
 * queue), MSGFLO_ECONNECT (no answer, or HTTP 401/5xx: logged with the
 * status), MSGFLO_EJSON (an answer without the numbers) or MSGFLO_ENOMEM. */
int guv_http_stats__queue(struct guv_http_stats *s, const char *queue, uint64_t *messages,
                          int *consumers);

/* The numbers of a management API answer for one queue (`body`, `len`
 * bytes): `messages`, else messages_ready + messages_unacknowledged, else 0
 * (RabbitMQ leaves them out until its first statistics tick), and
 * `consumers` (0 when absent). Returns 0 or MSGFLO_EJSON (not a JSON object,
 * or a field of the wrong type). */
int guv_http_stats__parse(const char *body, size_t len, uint64_t *messages, int *consumers);

/* NULL is a no-op. */
void guv_http_stats__free(struct guv_http_stats *s);

#endif
