/* An adapter between the device core (msgflo/device.h) and libmosquitto, for
 * device participants on Linux: it supplies the core's client functions and
 * calls the core when connected, disconnected, on each message and on each
 * turn of its loop. Copy it, or write the same thirty lines for another MQTT
 * client (examples/esp-idf and examples/arduino do).
 *
 *     struct device_mosquitto a;
 *     device_mosquitto_init(&a, &dev, url);            // dev: not yet initialized
 *     msgflo_device_init(&dev, &def, &a.client, buf, sizeof buf);
 *     device_mosquitto_connect(&a, on_ready, ud);      // blocks until connected
 *     while (!stop) device_mosquitto_step(&a, 200);    // reconnects by itself
 *     device_mosquitto_cleanup(&a);
 */
#ifndef MSGFLO_EXAMPLES_DEVICE_MOSQUITTO_H
#define MSGFLO_EXAMPLES_DEVICE_MOSQUITTO_H

#include <msgflo/device.h>
#include <msgflo/url.h>

#include <stdbool.h>
#include <stdint.h>

struct mosquitto;

struct device_mosquitto {
    struct mosquitto *mosq;
    msgflo_device *dev; /* borrowed */
    msgflo_device_client client;
    msgflo_url *url;                                        /* owned */
    void (*on_ready)(struct device_mosquitto *a, void *ud); /* after each announcement on connect */
    void *ud;
    unsigned backoff_ms; /* reconnect delay, doubled up to 2 s */
    bool up;
};

/* The current time in milliseconds (monotonic), as the core wants it. */
uint32_t device_mosquitto_now(void);

/* Parses `url` (mqtt:// only: user, password, qos, keepalive, clientId) and
 * makes the client. Returns 0 or a MSGFLO_E* code; errbuf gets a reason. */
int device_mosquitto_init(struct device_mosquitto *a, msgflo_device *dev, const char *url,
                          char *errbuf, size_t errlen);

/* Connects (retrying with backoff until it works or *stop becomes true);
 * the core subscribes and announces from the connect callback. */
int device_mosquitto_connect(struct device_mosquitto *a, volatile int *stop);

/* One turn: network I/O for up to timeout_ms, the core's tick, and a
 * reconnect attempt when the connection is down. */
void device_mosquitto_step(struct device_mosquitto *a, int timeout_ms);

void device_mosquitto_cleanup(struct device_mosquitto *a);

#endif
