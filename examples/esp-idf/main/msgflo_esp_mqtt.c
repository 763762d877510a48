/* The device core on esp-mqtt: see msgflo_esp_mqtt.h. */
#include "msgflo_esp_mqtt.h"

#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

#include <string.h>

struct event {
    int32_t id;
    uint16_t topic_len, len;
    char topic[MSGFLO_ESP_MAX_TOPIC];
    char data[MSGFLO_ESP_MAX_DATA];
};

static QueueHandle_t events;

static int publish(void *ctx, const char *topic, const void *data, size_t len)
{
    return esp_mqtt_client_publish(ctx, topic, data, (int)len, 0, 0) < 0 ? -1 : 0;
}

static int subscribe(void *ctx, const char *topic)
{
    return esp_mqtt_client_subscribe(ctx, topic, 0) < 0 ? -1 : 0;
}

uint32_t msgflo_esp_millis(void)
{
    return (uint32_t)(esp_timer_get_time() / 1000);
}

/* In the MQTT task: copy and queue, nothing else. */
static void on_event(void *arg, esp_event_base_t base, int32_t id, void *event_data)
{
    esp_mqtt_event_handle_t ev = event_data;
    static struct event e; /* only the MQTT task writes it; the queue copies it */
    (void)arg;
    (void)base;
    e.id = id;
    e.topic_len = e.len = 0;
    if (id == MQTT_EVENT_DATA) {
        /* only whole messages (a big one comes in pieces); the topic is not
         * NUL-terminated */
        if (ev->current_data_offset != 0 || ev->data_len != ev->total_data_len ||
            ev->topic_len > MSGFLO_ESP_MAX_TOPIC || ev->data_len > MSGFLO_ESP_MAX_DATA)
            return;
        e.topic_len = (uint16_t)ev->topic_len;
        e.len = (uint16_t)ev->data_len;
        memcpy(e.topic, ev->topic, e.topic_len);
        memcpy(e.data, ev->data, e.len);
    } else if (id != MQTT_EVENT_CONNECTED && id != MQTT_EVENT_DISCONNECTED) {
        return;
    }
    xQueueSend(events, &e, 0); /* full: dropped (QoS 0 loses it anyway) */
}

int msgflo_esp_mqtt_init(esp_mqtt_client_handle_t mqtt, msgflo_device_client *client)
{
    if (!events && !(events = xQueueCreate(MSGFLO_ESP_QUEUE, sizeof(struct event))))
        return -1;
    client->publish = publish;
    client->subscribe = subscribe;
    client->ctx = mqtt;
    esp_mqtt_client_register_event(mqtt, MQTT_EVENT_ANY, on_event, NULL);
    return 0;
}

void msgflo_esp_mqtt_poll(msgflo_device *dev)
{
    static struct event e;
    while (xQueueReceive(events, &e, 0) == pdTRUE) {
        if (e.id == MQTT_EVENT_CONNECTED)
            msgflo_device_connected(dev, msgflo_esp_millis());
        else if (e.id == MQTT_EVENT_DISCONNECTED)
            msgflo_device_disconnected(dev);
        else
            msgflo_device_message(dev, e.topic, e.topic_len, e.data, e.len);
    }
    msgflo_device_tick(dev, msgflo_esp_millis());
}
