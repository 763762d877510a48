// MsgFlo's demo Lamp on an ESP32 (or ESP8266) with Arduino and PubSubClient:
// a red and a green bulb (LEDs), each switched by its inport. `true` (or the
// JSON string "true") switches a bulb on, anything else off, as
// examples/lamp.c does.
//
// The device core is an Arduino library made from msgflo-c's tree (see
// docs/device.md): libraries/msgflo-device/src/{device.c, discovery_text.c,
// msgflo/device.h, msgflo/errors.h}.
#include <Arduino.h>
#include <PubSubClient.h>
#if defined(ESP8266)
#include <ESP8266WiFi.h>
#else
#include <WiFi.h>
#endif
#include <string.h>

#include <msgflo/device.h>

static const char *wifi_ssid = "my-network";
static const char *wifi_password = "my-password";
static const char *broker_host = "192.168.1.10";
static const uint16_t broker_port = 1883;
static const char *role = "lamp"; // the id announced too: one role per board
static const int red_pin = 2, green_pin = 4;

static WiFiClient net;
static PubSubClient mqtt(net);
static msgflo_device lamp;
static char buf[512]; // the discovery message (about 400 bytes) and topics

static bool is_true(const void *data, size_t len)
{
    return (len == 4 && memcmp(data, "true", 4) == 0) ||
           (len == 6 && memcmp(data, "\"true\"", 6) == 0);
}

static void set_red(msgflo_device *, const msgflo_device_port *, const void *data, size_t len)
{
    digitalWrite(red_pin, is_true(data, len) ? HIGH : LOW);
}

static void set_green(msgflo_device *, const msgflo_device_port *, const void *data, size_t len)
{
    digitalWrite(green_pin, is_true(data, len) ? HIGH : LOW);
}

// id, type, description, queue (NULL: lamp.RED), hidden, handler
static const msgflo_device_port inports[] = {
    {"red", "boolean", "red bulb on or off", NULL, false, set_red},
    {"green", "boolean", "green bulb on or off", NULL, false, set_green},
    {NULL, NULL, NULL, NULL, false, NULL},
};
// role, id (NULL: the role), component, label, icon, inports, outports
static const msgflo_device_definition definition = {
    role,          NULL,    "iot/Lamp", "A warning light with a red and a green bulb",
    "lightbulb-o", inports, NULL,
};

// The core's client: PubSubClient sends at once and copies nothing later.
static int publish(void *, const char *topic, const void *data, size_t len)
{
    return mqtt.publish(topic, (const uint8_t *)data, (unsigned int)len) ? 0 : -1;
}

static int subscribe(void *, const char *topic)
{
    return mqtt.subscribe(topic) ? 0 : -1;
}

static const msgflo_device_client client = {publish, subscribe, NULL};

static void on_message(char *topic, uint8_t *payload, unsigned int len)
{
    msgflo_device_message(&lamp, topic, strlen(topic), payload, len);
}

void setup()
{
    pinMode(red_pin, OUTPUT);
    pinMode(green_pin, OUTPUT);
    WiFi.begin(wifi_ssid, wifi_password);
    mqtt.setServer(broker_host, broker_port);
    mqtt.setCallback(on_message);
    mqtt.setBufferSize(sizeof buf); // PubSubClient's 256 bytes cannot hold the announcement
    if (msgflo_device_init(&lamp, &definition, &client, buf, sizeof buf) != 0)
        for (;;)
            delay(1000); // a definition too big for buf: fix it
}

void loop()
{
    if (!mqtt.connected()) {
        msgflo_device_disconnected(&lamp);
        if (WiFi.status() != WL_CONNECTED || !mqtt.connect(role)) {
            delay(500);
            return;
        }
        msgflo_device_connected(&lamp, millis()); // subscribes, announces
    }
    mqtt.loop(); // on_message for what arrived
    msgflo_device_tick(&lamp, millis());
}
