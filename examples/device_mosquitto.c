/* The device core on libmosquitto: see device_mosquitto.h. */
#include "device_mosquitto.h"

#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint32_t device_mosquitto_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* --- the core's client functions ------------------------------------------ */

static int publish(void *ctx, const char *topic, const void *data, size_t len)
{
    struct device_mosquitto *a = ctx;
    if (len > INT32_MAX)
        return -1;
    return mosquitto_publish(a->mosq, NULL, topic, (int)len, data, msgflo_url_qos(a->url), false);
}

static int subscribe(void *ctx, const char *topic)
{
    struct device_mosquitto *a = ctx;
    return mosquitto_subscribe(a->mosq, NULL, topic, msgflo_url_qos(a->url));
}

/* --- libmosquitto's callbacks: calls into the core ------------------------- */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct device_mosquitto *a = obj;
    (void)m;
    if (rc != 0)
        return;
    a->up = true;
    a->backoff_ms = 100;
    int err = msgflo_device_connected(a->dev, device_mosquitto_now());
    if (err)
        fprintf(stderr, "announcing failed: %s\n", msgflo_strerror(err));
    if (a->on_ready)
        a->on_ready(a, a->ud);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    struct device_mosquitto *a = obj;
    (void)m;
    (void)rc;
    a->up = false;
    msgflo_device_disconnected(a->dev);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    struct device_mosquitto *a = obj;
    (void)m;
    msgflo_device_message(a->dev, msg->topic, strlen(msg->topic), msg->payload,
                          (size_t)msg->payloadlen);
}

int device_mosquitto_init(struct device_mosquitto *a, msgflo_device *dev, const char *url,
                          char *errbuf, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int rc = msgflo_url_parse(url, &a->url, errbuf, errlen);
    if (rc)
        return rc;
    if (msgflo_url_scheme(a->url) != MSGFLO_SCHEME_MQTT) {
        snprintf(errbuf, errlen, "only mqtt:// URLs: this adapter speaks plain MQTT");
        return MSGFLO_EURL;
    }
    mosquitto_lib_init();
    a->mosq = mosquitto_new(msgflo_url_client_id(a->url), true, a);
    if (!a->mosq)
        return MSGFLO_ENOMEM;
    if (msgflo_url_user(a->url))
        mosquitto_username_pw_set(a->mosq, msgflo_url_user(a->url), msgflo_url_password(a->url));
    mosquitto_int_option(a->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(a->mosq, on_connect);
    mosquitto_disconnect_callback_set(a->mosq, on_disconnect);
    mosquitto_message_callback_set(a->mosq, on_message);
    a->dev = dev;
    a->client = (msgflo_device_client){publish, subscribe, a};
    a->backoff_ms = 100;
    return 0;
}

static void backoff(struct device_mosquitto *a)
{
    usleep(a->backoff_ms * 1000u);
    a->backoff_ms = a->backoff_ms < 1000 ? a->backoff_ms * 2 : 2000;
}

int device_mosquitto_connect(struct device_mosquitto *a, volatile int *stop)
{
    while (!*stop) {
        if (mosquitto_connect(a->mosq, msgflo_url_host(a->url), msgflo_url_port(a->url),
                              msgflo_url_keepalive(a->url)) == MOSQ_ERR_SUCCESS)
            return 0;
        backoff(a);
    }
    return MSGFLO_ECONNECT;
}

void device_mosquitto_step(struct device_mosquitto *a, int timeout_ms)
{
    int rc = mosquitto_loop(a->mosq, timeout_ms, 1);
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO) {
        if (a->up) {
            a->up = false;
            msgflo_device_disconnected(a->dev);
        }
        backoff(a);
        mosquitto_reconnect(a->mosq);
    }
    msgflo_device_tick(a->dev, device_mosquitto_now());
}

void device_mosquitto_cleanup(struct device_mosquitto *a)
{
    if (a->mosq) {
        if (a->up)
            mosquitto_disconnect(a->mosq);
        mosquitto_destroy(a->mosq);
        mosquitto_lib_cleanup();
    }
    msgflo_url_free(a->url);
    memset(a, 0, sizeof *a);
}
