/* The device core (msgflo/device.h) on ESP-IDF's esp-mqtt.
 *
 * esp-mqtt calls its event handlers from its own task while holding its API
 * lock, and the application reads its sensors in another task: the device
 * must not be used from both. So the handler only queues the events, and the
 * application's task, the one that owns the device, feeds them to it in
 * msgflo_esp_mqtt_poll(). Messages up to MSGFLO_ESP_MAX_DATA bytes on topics
 * up to MSGFLO_ESP_MAX_TOPIC bytes pass; larger ones are dropped. */
#ifndef MSGFLO_ESP_MQTT_H
#define MSGFLO_ESP_MQTT_H

#include "mqtt_client.h"
#include "msgflo/device.h"

#define MSGFLO_ESP_MAX_TOPIC 96
#define MSGFLO_ESP_MAX_DATA  160
#define MSGFLO_ESP_QUEUE     8 /* events waiting for the application's task */

/* Fills the device's client for `mqtt` (call before esp_mqtt_client_start)
 * and registers the event handler. Returns 0, or -1 when out of memory. */
int msgflo_esp_mqtt_init(esp_mqtt_client_handle_t mqtt, msgflo_device_client *client);

/* From the task that owns the device, every few milliseconds: connects,
 * disconnects and delivers what the MQTT task queued, then ticks. */
void msgflo_esp_mqtt_poll(msgflo_device *dev);

/* Milliseconds since boot. */
uint32_t msgflo_esp_millis(void);

#endif
