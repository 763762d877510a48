/* msgflo-c: MsgFlo participants on microcontrollers.
 *
 * An allocation-free participant core in C99 for devices without an
 * operating system (ESP32, STM32, ...), also used by libmsgflo itself to
 * write its discovery message and default queue names. It needs nothing but
 * <string.h>: no heap, no clock, no network. The application (or an adapter)
 * brings the MQTT client through two function pointers and calls in:
 *
 *     static int pub(void *ctx, const char *topic, const void *data, size_t len)
 *     { return esp_mqtt_client_publish(ctx, topic, data, (int)len, 0, 0) < 0 ? -1 : 0; }
 *     static int sub(void *ctx, const char *topic)
 *     { return esp_mqtt_client_subscribe(ctx, topic, 0) < 0 ? -1 : 0; }
 *
 *     static void on_set(msgflo_device *dev, const msgflo_device_port *port,
 *                        const void *data, size_t len) { ... }
 *     static const msgflo_device_port in[] = {{.id = "on", .type = "boolean",
 *                                              .receive = on_set}, {0}};
 *     static const msgflo_device_definition def = {.role = "lamp", .id = "lamp-1",
 *         .component = "iot/Lamp", .inports = in};
 *     static msgflo_device_client client;  // borrowed by the device: keep it
 *     static char buf[512];        // discovery text and topics are written here
 *     static msgflo_device dev;
 *
 *     client = (msgflo_device_client){pub, sub, mqtt};  // ctx: the esp-mqtt handle
 *     msgflo_device_init(&dev, &def, &client, buf, sizeof buf);
 *     on MQTT connected:   msgflo_device_connected(&dev, now_ms);
 *     on MQTT disconnect:  msgflo_device_disconnected(&dev);
 *     on MQTT message:     msgflo_device_message(&dev, topic, topic_len, data, len);
 *     every so often:      msgflo_device_tick(&dev, now_ms);   // re-announces
 *     to send:             msgflo_device_send(&dev, "state", "true", 4);
 *
 * Memory: the definition, its ports and the client are the caller's (they may
 * live in flash); the device keeps pointers to them and to `buf`, which must
 * hold the discovery message (msgflo_device_discovery() tells its length) and
 * is used as scratch space for topics. Nothing is copied.
 *
 * Threading: none. Every call on one device must come from one task at a
 * time (the callbacks are called from within msgflo_device_* calls).
 *
 * Errors are the negative MSGFLO_E* codes of msgflo/errors.h; a client
 * function's own failure (any non-zero value) is returned as MSGFLO_EPROTO.
 */
#ifndef MSGFLO_DEVICE_H
#define MSGFLO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgflo/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default discovery period in milliseconds: the device re-announces
 * itself every period / 2.2, as every MsgFlo library does. */
#define MSGFLO_DEVICE_DISCOVERY_PERIOD_MS 60000u

typedef struct msgflo_device msgflo_device;
typedef struct msgflo_device_port msgflo_device_port;

/* Called for a message on an inport. `data` (not NUL-terminated) is valid
 * until the function returns. It may call msgflo_device_send(). */
typedef void (*msgflo_device_receive_fn)(msgflo_device *dev, const msgflo_device_port *port,
                                         const void *data, size_t len);

/* A port. Arrays of ports end with an entry whose id is NULL. */
struct msgflo_device_port {
    const char *id;                   /* required, unique among the ports of one direction */
    const char *type;                 /* NULL means "any" */
    const char *description;          /* optional */
    const char *queue;                /* optional topic; default <role>.<ID uppercased> */
    bool hidden;                      /* without a queue: no default one, not announced */
    msgflo_device_receive_fn receive; /* inports: the handler (NULL drops); outports: NULL */
};

/* What the participant is. All strings are borrowed for the device's life. */
typedef struct msgflo_device_definition {
    const char *role;                   /* required */
    const char *id;                     /* unique per device; NULL: the role */
    const char *component;              /* required, e.g. "iot/Button" */
    const char *label;                  /* NULL: "" */
    const char *icon;                   /* NULL: "file-word-o" */
    const msgflo_device_port *inports;  /* may be NULL: no inports */
    const msgflo_device_port *outports; /* may be NULL: no outports */
} msgflo_device_definition;

/* The MQTT client, supplied by the application. Each function returns 0 when
 * the request was queued or sent, anything else on failure. `topic` and
 * `data` are valid only during the call (copy them if sending later). */
typedef struct msgflo_device_client {
    int (*publish)(void *ctx, const char *topic, const void *data, size_t len);
    int (*subscribe)(void *ctx, const char *topic);
    void *ctx; /* passed to both */
} msgflo_device_client;

/* The device. Its members are private; it is declared here so that it can be
 * a static variable. */
struct msgflo_device {
    const msgflo_device_definition *def;
    const msgflo_device_client *client;
    char *buf;
    size_t buflen;
    void *userdata;
    uint32_t interval_ms; /* between announcements: period / 2.2 */
    uint32_t last_ms;     /* when it last announced */
    bool connected;
};

/* Sets a device up; it starts disconnected. `def`, `client` and `buf` are
 * borrowed and must outlive the device. Returns 0, MSGFLO_EINVAL (no client
 * function, a definition without role, component or port id, a string that
 * is not UTF-8), or MSGFLO_ENOSPC when `buf` cannot hold the discovery
 * message (every topic is shorter). Two inports on one topic: the first one
 * gets the messages. */
int msgflo_device_init(msgflo_device *dev, const msgflo_device_definition *def,
                       const msgflo_device_client *client, char *buf, size_t buflen);

/* Sets the discovery period in milliseconds (default
 * MSGFLO_DEVICE_DISCOVERY_PERIOD_MS); 0 is ignored. */
void msgflo_device_set_discovery_period(msgflo_device *dev, uint32_t period_ms);

/* The application's pointer, for handlers (default NULL). */
void msgflo_device_set_userdata(msgflo_device *dev, void *userdata);
void *msgflo_device_userdata(const msgflo_device *dev);

/* Call when the MQTT connection is up (again after each reconnect), with the
 * current time in milliseconds from any monotonic clock (it may wrap).
 * Subscribes every inport that has a topic, then announces on `fbp`.
 * Returns 0, or MSGFLO_EPROTO when a client function failed: the device
 * still counts as connected and announces again at the next period, but a
 * failed subscription is not retried (an adapter may drop the connection
 * and call again on reconnect). */
int msgflo_device_connected(msgflo_device *dev, uint32_t now_ms);

/* Call when the connection is lost: no announcing until connected again. */
void msgflo_device_disconnected(msgflo_device *dev);

/* Call periodically (every second is plenty) with the current time:
 * re-announces every discovery period / 2.2. Returns 0, or the announce's
 * error. */
int msgflo_device_tick(msgflo_device *dev, uint32_t now_ms);

/* Call for each message received. `topic` is `topic_len` bytes (it need not
 * be NUL-terminated, as esp-mqtt's is not). Calls the handler of the inport
 * on that topic. Returns 0, or MSGFLO_ENOPORT when no inport has the topic. */
int msgflo_device_message(msgflo_device *dev, const char *topic, size_t topic_len, const void *data,
                          size_t len);

/* Sends `len` bytes on an outport. Returns 0, MSGFLO_ENOPORT, MSGFLO_ENOTCONN
 * (nothing sent), MSGFLO_EPROTO (the client failed). A hidden port without a
 * queue accepts and drops the data, as in libmsgflo. */
int msgflo_device_send(msgflo_device *dev, const char *port, const void *data, size_t len);

/* Announces now (done by connected and tick). Returns 0, MSGFLO_ENOTCONN,
 * MSGFLO_EPROTO. */
int msgflo_device_announce(msgflo_device *dev);

/* --- the parts libmsgflo shares ------------------------------------------ */

/* Writes the discovery message of `def`, NUL-terminated, into buf:
 * {"protocol":"discovery","command":"participant","payload":{"id","role",
 * "component","label","icon","inports":[{"id","type","queue","hidden"
 * [,"description"]}],"outports":[...]}}, compact, with JSON escaping as
 * jansson's (ports without a queue are left out). `*len` (may be NULL)
 * receives the text's length without the NUL, also on MSGFLO_ENOSPC, where it
 * is the length needed and buf holds nothing usable. Returns 0, MSGFLO_ENOSPC
 * (never truncates), MSGFLO_EINVAL (missing role, component or port id, or a
 * string that is not UTF-8). `buf` may be NULL when buflen is 0. */
int msgflo_device_discovery(const msgflo_device_definition *def, char *buf, size_t buflen,
                            size_t *len);

/* Writes the default queue of a port, "<role>.<PORT uppercased>" (ASCII
 * letters only), NUL-terminated. Returns 0 or MSGFLO_ENOSPC; `*len` as
 * above. */
int msgflo_device_default_queue(const char *role, const char *port, char *buf, size_t buflen,
                                size_t *len);

#ifdef __cplusplus
}
#endif
#endif
