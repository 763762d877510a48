/* A /msgrouter client for the router tests (test_router_plugin: the
 * mosquitto plugin; test_router_daemon: msgflo-router): requests and their
 * replies on /msgrouter/default/, and msgflo-setup run on a private
 * mosquitto. cmocka assertions. */
#ifndef MSGFLO_TESTS_MSGROUTER_CLIENT_H
#define MSGFLO_TESTS_MSGROUTER_CLIENT_H

#include "support.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connects to b and subscribes to every topic of the default router. */
void router_open_admin(struct mqtt_client *c, const struct support_mosquitto *b);

/* Publishes `payload` on /msgrouter/default/COMMAND and returns the reply on
 * /msgrouter/default/REPLY within 5 s (owned JSON). */
json_t *router_request(struct mqtt_client *c, const char *command, const char *payload,
                       const char *reply);

/* router_request answered on `result`. */
json_t *router_control(struct mqtt_client *c, const char *command, const char *payload);

/* router_control whose result must say ok. */
void router_expect_ok(struct mqtt_client *c, const char *command, const char *payload);

/* How many bindings listbindings lists. */
size_t router_count_bindings(struct mqtt_client *c);

/* Starts msgflo-setup [--forever] --broker b on graph_text (written to
 * b->dir/graph.fbp), stdout and stderr to b->dir/setup.out, with the
 * coordinator's and binder's DEBUG lines. */
void router_setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever);

/* Runs msgflo-setup without --forever and without DEBUG to its end (30 s
 * at most); `out` gets what it printed. Returns its exit status. */
int router_setup_run(const struct support_mosquitto *b, const char *graph_text, char *out,
                     size_t len);

/* An MQTT 5 client (support's mqtt_client speaks 3.1.1): it subscribes
 * with retain-as-published, so it sees the retain flag of live messages,
 * and keeps the first message's properties. */
struct v5_client {
    struct mosquitto *mosq;
    int n;         /* messages received */
    char data[64]; /* the first one's */
    int qos;
    bool retain;
    char *key, *value; /* its first user property */
    char *content_type, *response_topic;
    void *correlation;
    uint16_t correlation_len;
    uint8_t format;  /* payload format indicator; 0xff: none */
    uint32_t expiry; /* message expiry left; 0: none */
};

/* Connects an MQTT 5 client to url. */
void v5_open(struct v5_client *c, const char *url);
/* Subscribes at QoS 2 with retain-as-published. */
void v5_subscribe(struct v5_client *c, const char *topic);
/* Runs the client's loop for ms milliseconds. */
void v5_run(struct v5_client *c, int ms);
void v5_close(struct v5_client *c);

/* Publishes data on topic at QoS 2, retained, with the MQTT 5 properties
 * that describe a message (user property trace=t-42, content type
 * text/plain, response topic reply.to, correlation data 01 02, payload
 * format 1) and, when expiry is not 0, that message expiry. */
void v5_publish_described(struct v5_client *pub, const char *topic, const char *data,
                          uint32_t expiry);

/* Runs pub and sub until sub has a message (3 s at most) and 300 ms more;
 * asserts it came once, as v5_publish_described sent data: QoS 2, retained,
 * its properties. */
void v5_expect_described(struct v5_client *sub, struct v5_client *pub, const char *data);

#endif
