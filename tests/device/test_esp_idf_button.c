/* examples/esp-idf's Button (button.c + msgflo_esp_mqtt.c, the part written
 * against msgflo/device.h) compiled on the host against stub SDK headers
 * (stubs/esp-idf) and driven as esp-mqtt and the main loop would: events
 * queued from the "MQTT task", subscribe + announce on connect, a press of
 * the board's button and a message on `press` each send true, partial
 * messages dropped, silence when disconnected, re-announcement on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "button.h"
#include "esp_timer.h"
#include "freertos/queue.h"
#include "mqtt_client.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\nlog: %s\n", __FILE__, __LINE__, #cond,       \
                    sent);                                                                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static char sent[8192]; /* "sub T;" "pub T data;" (fbp: "pub fbp;") */
static int64_t now_us;
static esp_event_handler_t handler;
static void *handler_arg;
static char announcement[1024];

int64_t esp_timer_get_time(void)
{
    return now_us;
}

int esp_mqtt_client_publish(esp_mqtt_client_handle_t client, const char *topic, const char *data,
                            int len, int qos, int retain)
{
    (void)client;
    (void)qos;
    (void)retain;
    size_t n = strlen(sent);
    if (strcmp(topic, "fbp") == 0) {
        snprintf(announcement, sizeof announcement, "%.*s", len, data);
        snprintf(sent + n, sizeof sent - n, "pub fbp;");
    } else {
        snprintf(sent + n, sizeof sent - n, "pub %s %.*s;", topic, len, data);
    }
    return 1;
}

int esp_mqtt_client_subscribe(esp_mqtt_client_handle_t client, const char *topic, int qos)
{
    (void)client;
    (void)qos;
    size_t n = strlen(sent);
    snprintf(sent + n, sizeof sent - n, "sub %s;", topic);
    return 1;
}

esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t client, esp_mqtt_event_id_t event,
                                         esp_event_handler_t event_handler, void *arg)
{
    (void)client;
    CHECK(event == MQTT_EVENT_ANY);
    handler = event_handler;
    handler_arg = arg;
    return 0;
}

/* A FreeRTOS queue, one task's view. */
struct QueueDefinition {
    size_t item, len, head, count;
    unsigned char *items;
};

QueueHandle_t xQueueCreate(UBaseType_t length, UBaseType_t item_size)
{
    QueueHandle_t q = calloc(1, sizeof *q);
    q->item = item_size;
    q->len = length;
    q->items = calloc(length, item_size);
    return q;
}

BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t wait)
{
    (void)wait;
    if (q->count == q->len)
        return pdFALSE;
    memcpy(q->items + (q->head + q->count) % q->len * q->item, item, q->item);
    q->count++;
    return pdTRUE;
}

BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t wait)
{
    (void)wait;
    if (q->count == 0)
        return pdFALSE;
    memcpy(item, q->items + q->head * q->item, q->item);
    q->head = (q->head + 1) % q->len;
    q->count--;
    return pdTRUE;
}

/* What the MQTT task does: call the registered handler. */
static void event(esp_mqtt_event_id_t id, const char *topic, int topic_len, const char *data,
                  int len, int offset, int total)
{
    esp_mqtt_event_t e = {.event_id = id,
                          .topic = (char *)topic,
                          .topic_len = topic_len,
                          .data = (char *)data,
                          .data_len = len,
                          .current_data_offset = offset,
                          .total_data_len = total};
    handler(handler_arg, "MQTT_EVENTS", id, &e);
}

int main(void)
{
    esp_mqtt_client_handle_t mqtt = (esp_mqtt_client_handle_t)&now_us; /* any non-NULL handle */
    CHECK(button_init(mqtt, "button") == 0);
    CHECK(handler != NULL);

    /* queued by the MQTT task, done by the main loop's poll */
    event(MQTT_EVENT_CONNECTED, NULL, 0, NULL, 0, 0, 0);
    CHECK(strcmp(sent, "") == 0);
    button_poll(false);
    CHECK(strcmp(sent, "sub button.PRESS;pub fbp;") == 0);
    CHECK(strstr(announcement, "\"role\":\"button\",\"component\":\"iot/Button\",\"label\":"
                               "\"A push button\",\"icon\":\"hand-pointer-o\""));
    CHECK(strstr(announcement, "{\"id\":\"pressed\",\"type\":\"boolean\",\"queue\":"
                               "\"button.PRESSED\",\"hidden\":false,\"description\":"
                               "\"true on every press\"}"));
    sent[0] = '\0';

    /* the board's button: one send per press */
    button_poll(true);
    button_poll(true);
    button_poll(false);
    button_poll(true);
    CHECK(strcmp(sent, "pub button.PRESSED true;pub button.PRESSED true;") == 0);
    sent[0] = '\0';

    /* a message on `press` (esp-mqtt's topic is not NUL-terminated) */
    event(MQTT_EVENT_DATA, "button.PRESSxyz", 12, "1", 1, 0, 1);
    /* a piece of a bigger message, and an unknown topic: nothing */
    event(MQTT_EVENT_DATA, "button.PRESS", 12, "12", 2, 2, 4);
    event(MQTT_EVENT_DATA, "other", 5, "1", 1, 0, 1);
    button_poll(true);
    CHECK(strcmp(sent, "pub button.PRESSED true;") == 0);
    sent[0] = '\0';

    /* every 60 s / 2.2 */
    now_us = 27271000;
    button_poll(false);
    CHECK(strcmp(sent, "") == 0);
    now_us = 27272000;
    button_poll(false);
    CHECK(strcmp(sent, "pub fbp;") == 0);
    sent[0] = '\0';

    /* disconnected: silent; reconnected: subscribes and announces again */
    event(MQTT_EVENT_DISCONNECTED, NULL, 0, NULL, 0, 0, 0);
    button_poll(true);
    now_us += 60000000;
    button_poll(false);
    CHECK(strcmp(sent, "") == 0);
    event(MQTT_EVENT_CONNECTED, NULL, 0, NULL, 0, 0, 0);
    button_poll(false);
    CHECK(strcmp(sent, "sub button.PRESS;pub fbp;") == 0);
    printf("esp-idf Button: ok (announcement %zu bytes)\n", strlen(announcement));
    return 0;
}
