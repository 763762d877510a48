/* The fields of a parsed broker URL, for libmsgflo's own code (transports,
 * participant, coordinator, tools). Programs outside the project see
 * msgflo_url as opaque and use the accessors of msgflo/url.h. */
#ifndef MSGFLO_CORE_URL_INTERNAL_H
#define MSGFLO_CORE_URL_INTERNAL_H

#include "msgflo/url.h"

#include <stdbool.h>
#include <stddef.h>

/* One address of an AMQP failover list. */
struct msgflo_url_host {
    char *host; /* without brackets for IPv6 literals */
    int port;
};

struct msgflo_url {
    enum msgflo_scheme scheme;
    bool tls;     /* mqtts or amqps */
    bool is_amqp; /* amqp or amqps */
    char *host;   /* the first host of the list (hosts[0].host); no brackets for IPv6 */
    int port;     /* hosts[0].port */
    /* AMQP: every host of the URL, in order (amqp://h1:p1,h2:p2/); a lost or
     * failed connection tries the next one. One for MQTT. */
    struct msgflo_url_host *hosts;
    size_t n_hosts;
    char *user;     /* NULL when absent */
    char *password; /* NULL when absent */
    char *vhost;    /* AMQP only; "/" by default */
    int prefetch;
    int heartbeat;
    int qos;
    int keepalive;
    int frame_max;   /* 0: library default */
    int channel_max; /* 0: library default */
    char *client_id; /* NULL: use the participant id */
    bool persistent;
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool insecure;
    bool clean;                        /* MQTT clean session; false: a persistent session */
    enum msgflo_queue_type queue_type; /* AMQP; classic by default */
};

#endif
