/* A /msgrouter client for the router tests; see msgrouter_client.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msgrouter_client.h"

#include "msgflo/url.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>

#define PREFIX "/msgrouter/default/"

void router_open_admin(struct mqtt_client *c, const struct support_mosquitto *b)
{
    assert_int_equal(mqtt_client_open(c, b->url), 0);
    assert_int_equal(mqtt_client_subscribe(c, PREFIX "+"), 0);
}

json_t *router_request(struct mqtt_client *c, const char *command, const char *payload,
                       const char *reply)
{
    char topic[128];
    snprintf(topic, sizeof topic, PREFIX "%s", command);
    assert_int_equal(mqtt_client_publish(c, topic, payload), 0);
    snprintf(topic, sizeof topic, PREFIX "%s", reply);
    char *text = mqtt_client_wait(c, topic, 5000);
    assert_non_null(text);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(o);
    return o;
}

json_t *router_control(struct mqtt_client *c, const char *command, const char *payload)
{
    return router_request(c, command, payload, "result");
}

void router_expect_ok(struct mqtt_client *c, const char *command, const char *payload)
{
    json_t *o = router_control(c, command, payload);
    if (!json_is_true(json_object_get(o, "ok")))
        fail_msg("%s %s: %s", command, payload, json_dumps(o, 0));
    json_decref(o);
}

size_t router_count_bindings(struct mqtt_client *c)
{
    json_t *o = router_request(c, "listbindings", "{}", "bindings");
    size_t n = json_array_size(json_object_get(o, "bindings"));
    json_decref(o);
    return n;
}

static void setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever, bool debug)
{
    char graph[160], setup[512], cmd[1400], out[160];
    snprintf(graph, sizeof graph, "%s/graph.fbp", b->dir);
    snprintf(out, sizeof out, "%s/setup.out", b->dir);
    FILE *f = fopen(graph, "w");
    assert_non_null(f);
    fputs(graph_text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s exec '%s' %s --broker '%s' '%s' >'%s' 2>&1",
             debug ? "DEBUG=msgflo:coordinator,msgflo:binder" : "",
             support_program("msgflo-setup", setup, sizeof setup), forever ? "--forever" : "",
             b->url, graph, out);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(child_start(s, argv), 0);
}

void router_setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever)
{
    setup_start(s, b, graph_text, forever, true);
}

int router_setup_run(const struct support_mosquitto *b, const char *graph_text, char *out,
                     size_t len)
{
    struct child s;
    setup_start(&s, b, graph_text, false, false);
    int status = child_wait(&s, 30000);
    char path[160];
    snprintf(path, sizeof path, "%s/setup.out", b->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    return status;
}

static void v5_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                          const mosquitto_property *props)
{
    (void)mosq;
    struct v5_client *c = obj;
    if (c->n++ > 0)
        return;
    snprintf(c->data, sizeof c->data, "%.*s", m->payloadlen, (const char *)m->payload);
    c->qos = m->qos;
    c->retain = m->retain;
    mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &c->key, &c->value, false);
    mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, &c->content_type, false);
    mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &c->response_topic, false);
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &c->correlation,
                                   &c->correlation_len, false);
    c->format = 0xff;
    mosquitto_property_read_byte(props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, &c->format, false);
    mosquitto_property_read_int32(props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &c->expiry, false);
}

void v5_open(struct v5_client *c, const char *url)
{
    memset(c, 0, sizeof *c);
    msgflo_url *u;
    assert_int_equal(msgflo_url_parse(url, &u, NULL, 0), 0);
    c->mosq = mosquitto_new(NULL, true, c);
    assert_non_null(c->mosq);
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_message_v5_callback_set(c->mosq, v5_on_message);
    assert_int_equal(mosquitto_connect(c->mosq, msgflo_url_host(u), msgflo_url_port(u), 30), 0);
    msgflo_url_free(u);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(c->mosq, 20, 1);
}

void v5_subscribe(struct v5_client *c, const char *topic)
{
    assert_int_equal(
        mosquitto_subscribe_v5(c->mosq, NULL, topic, 2, MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL), 0);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(c->mosq, 20, 1);
}

/* Runs the client's loop for ms milliseconds. */
void v5_run(struct v5_client *c, int ms)
{
    for (int i = 0; i < ms / 20; i++)
        mosquitto_loop(c->mosq, 20, 1);
}

void v5_close(struct v5_client *c)
{
    mosquitto_disconnect(c->mosq);
    mosquitto_destroy(c->mosq);
    free(c->key);
    free(c->value);
    free(c->content_type);
    free(c->response_topic);
    free(c->correlation);
}

void v5_publish_described(struct v5_client *pub, const char *topic, const char *data,
                          uint32_t expiry)
{
    mosquitto_property *props = NULL;
    assert_int_equal(
        mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "trace", "t-42"), 0);
    assert_int_equal(mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/plain"),
                     0);
    assert_int_equal(mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "reply.to"),
                     0);
    assert_int_equal(
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "\x01\x02", 2), 0);
    assert_int_equal(mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1), 0);
    if (expiry)
        assert_int_equal(
            mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry), 0);
    assert_int_equal(
        mosquitto_publish_v5(pub->mosq, NULL, topic, (int)strlen(data), data, 2, true, props), 0);
    mosquitto_property_free_all(&props);
}

void v5_expect_described(struct v5_client *sub, struct v5_client *pub, const char *data)
{
    for (int i = 0; i < 150 && sub->n == 0; i++) {
        mosquitto_loop(pub->mosq, 10, 1);
        mosquitto_loop(sub->mosq, 10, 1);
    }
    v5_run(sub, 300); /* once */
    assert_int_equal(sub->n, 1);
    assert_string_equal(sub->data, data);
    assert_int_equal(sub->qos, 2);
    assert_true(sub->retain);
    assert_non_null(sub->key);
    assert_string_equal(sub->key, "trace");
    assert_string_equal(sub->value, "t-42");
    assert_non_null(sub->content_type);
    assert_string_equal(sub->content_type, "text/plain");
    assert_non_null(sub->response_topic);
    assert_string_equal(sub->response_topic, "reply.to");
    assert_int_equal(sub->correlation_len, 2);
    assert_memory_equal(sub->correlation, "\x01\x02", 2);
    assert_int_equal(sub->format, 1);
}
