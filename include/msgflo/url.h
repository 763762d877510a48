/* msgflo-c: broker URLs.
 *
 *   scheme://[user[:password]@]host[:port][,host[:port]...][/vhost][?option=value&...]
 *
 * A list of hosts (AMQP only, at most MSGFLO_URL_MAX_HOSTS) names the nodes
 * of a RabbitMQ cluster: a connection goes to the first that answers, and
 * after a loss to the next one of the list, with the usual backoff.
 *
 * Schemes: mqtt (port 1883), mqtts (8883, TLS), amqp (5672), amqps (5671, TLS).
 * user, password and vhost are percent-decoded. The AMQP vhost is the path
 * without its leading '/' ("/" when the path is empty or "/"); MQTT URLs take
 * no path. Options:
 *
 *   prefetch=N    AMQP consumer prefetch (1..65535, default 2 as msgflo-nodejs)
 *   heartbeat=S   AMQP heartbeat in seconds (0..65535, default 60)
 *   qos=N         MQTT QoS for subscribe and publish (0 or 1, default 0)
 *   keepalive=S   MQTT keepalive in seconds (5..65535, default 60); keepAlive too
 *   clientId=ID   MQTT client id (default: the participant id; with clean=false
 *                 the role, or <role>-$MSGFLO_INSTANCE)
 *   persistent=B  AMQP: publish with delivery mode 2 (default true; the original's
 *                 default was false)
 *   clean=B       MQTT clean session (default true); with clean=false the broker
 *                 keeps the session (subscriptions, QoS 1 messages) under a
 *                 stable client id; cleanSession too (msgflo-cpp's name)
 *   ca=FILE, cert=FILE, key=FILE   TLS: CA bundle, client certificate and key
 *   insecure=B    TLS: do not verify the broker's certificate (tests only)
 *   queueType=T   AMQP: classic (default, as msgflo-nodejs) or quorum: inport
 *                 queues and `fbp` declared with x-queue-type=quorum; every
 *                 participant and tool sharing the queues needs the same;
 *                 queue_type too
 *   frameMax, channelMax, locale   accepted for amqplib compatibility
 *
 * Booleans are 1/0, true/false, yes/no. Anything else is an error naming the
 * option.
 */
#ifndef MSGFLO_URL_H
#define MSGFLO_URL_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum msgflo_scheme {
    MSGFLO_SCHEME_MQTT,
    MSGFLO_SCHEME_MQTTS,
    MSGFLO_SCHEME_AMQP,
    MSGFLO_SCHEME_AMQPS,
};

/* Queue type of inport queues (and of the discovery queue `fbp`) on AMQP. */
enum msgflo_queue_type {
    MSGFLO_QUEUE_CLASSIC, /* declared as msgflo-nodejs does: no x-queue-type argument */
    MSGFLO_QUEUE_QUORUM,  /* x-queue-type=quorum: replicated on a RabbitMQ cluster */
};

#define MSGFLO_URL_MAX_HOSTS 16

/* A parsed broker URL. Opaque: read it through the accessors below, so that
 * options can be added without breaking programs built against an older
 * libmsgflo. Every string an accessor returns is owned by the URL and valid
 * until msgflo_url_free. */
typedef struct msgflo_url msgflo_url;

/* Parses `text` into a new URL (free with msgflo_url_free).
 * On failure returns MSGFLO_EURL (or MSGFLO_ENOMEM) and, when errbuf is not
 * NULL, writes a one-line reason there, e.g. "invalid port '99999'". */
int msgflo_url_parse(const char *text, msgflo_url **out, char *errbuf, size_t errlen);

/* Frees a URL; NULL is a no-op. */
void msgflo_url_free(msgflo_url *url);

/* Writes the URL without its password ("amqp://guest:***@host:5672/") to buf.
 * Returns MSGFLO_EINVAL if buf is too small. Safe to print or log. */
int msgflo_url_redact(const char *text, char *buf, size_t buflen);

/* --- accessors (url must not be NULL) ---------------------------------- */

enum msgflo_scheme msgflo_url_scheme(const msgflo_url *url);
/* amqp:// or amqps:// */
bool msgflo_url_is_amqp(const msgflo_url *url);
/* mqtts:// or amqps:// */
bool msgflo_url_is_tls(const msgflo_url *url);
/* The first host of the URL (no brackets for an IPv6 literal) and its port
 * (the scheme's default when the URL names none). */
const char *msgflo_url_host(const msgflo_url *url);
int msgflo_url_port(const msgflo_url *url);
/* AMQP failover lists: how many hosts (1 for MQTT), and host i (0-based;
 * NULL past the end) with its port in *port (may be NULL). */
size_t msgflo_url_host_count(const msgflo_url *url);
const char *msgflo_url_host_at(const msgflo_url *url, size_t i, int *port);
/* Percent-decoded user and password; NULL when absent. */
const char *msgflo_url_user(const msgflo_url *url);
const char *msgflo_url_password(const msgflo_url *url);
/* The AMQP vhost ("/" by default); NULL for MQTT. */
const char *msgflo_url_vhost(const msgflo_url *url);
/* clientId=, or NULL (the participant id is used). */
const char *msgflo_url_client_id(const msgflo_url *url);
/* The options above with their defaults filled in. */
int msgflo_url_prefetch(const msgflo_url *url);
int msgflo_url_heartbeat(const msgflo_url *url);
int msgflo_url_qos(const msgflo_url *url);
int msgflo_url_keepalive(const msgflo_url *url);
bool msgflo_url_clean(const msgflo_url *url);

/* The broker URL to use: `arg` when given, else $MSGFLO_BROKER, else
 * $CLOUDAMQP_URL. Returns a borrowed pointer, or NULL when none is set. */
const char *msgflo_url_resolve(const char *arg);

#ifdef __cplusplus
}
#endif
#endif
