// examples/arduino/Lamp/Lamp.ino compiled on the host as C++ against stub
// Arduino, WiFi and PubSubClient headers (stubs/arduino) and driven as the
// Arduino core would: setup(), then loop() while the broker comes and goes;
// checks what it subscribes, announces and switches.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Lamp.ino"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\nlog: %s\n", __FILE__, __LINE__, #cond,       \
                    sent);                                                                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static char sent[8192];
static char announcement[1024];
static unsigned long now_ms;
static int pins[8];
static bool wifi_up, broker_up, is_connected;
static uint16_t buffer_size = 256;
static void (*deliver)(char *, uint8_t *, unsigned int);

static void add(const char *a, const char *b = "", const char *c = "")
{
    size_t n = strlen(sent);
    snprintf(sent + n, sizeof sent - n, "%.200s%.200s%.200s", a, b, c);
}

void pinMode(uint8_t, uint8_t)
{
}
void digitalWrite(uint8_t pin, uint8_t value)
{
    pins[pin] = value;
}
void delay(unsigned long ms)
{
    now_ms += ms;
}
unsigned long millis(void)
{
    return now_ms;
}
WiFiClass WiFi;
int WiFiClass::begin(const char *, const char *)
{
    return 0;
}
int WiFiClass::status()
{
    return wifi_up ? WL_CONNECTED : 0;
}
PubSubClient::PubSubClient(Client &)
{
}
PubSubClient &PubSubClient::setServer(const char *, uint16_t)
{
    return *this;
}
PubSubClient &PubSubClient::setCallback(void (*cb)(char *, uint8_t *, unsigned int))
{
    deliver = cb;
    return *this;
}
bool PubSubClient::setBufferSize(uint16_t size)
{
    buffer_size = size;
    return true;
}
bool PubSubClient::connect(const char *id)
{
    add("connect ", id, ";");
    is_connected = broker_up;
    return is_connected;
}
bool PubSubClient::connected()
{
    return is_connected;
}
bool PubSubClient::loop()
{
    return is_connected;
}
bool PubSubClient::publish(const char *topic, const uint8_t *payload, unsigned int len)
{
    CHECK(len + strlen(topic) + 5 <= buffer_size); // what PubSubClient can send
    if (strcmp(topic, "fbp") == 0) {
        snprintf(announcement, sizeof announcement, "%.*s", (int)len, (const char *)payload);
        add("pub ", topic, ";");
    } else {
        add("pub ", topic, " ");
        char data[64];
        snprintf(data, sizeof data, "%.*s", (int)len, (const char *)payload);
        add(data, ";");
    }
    return is_connected;
}
bool PubSubClient::subscribe(const char *topic)
{
    add("sub ", topic, ";");
    return is_connected;
}

static void message(const char *topic, const char *data)
{
    char t[64];
    snprintf(t, sizeof t, "%s", topic);
    deliver(t, (uint8_t *)data, (unsigned int)strlen(data));
}

int main()
{
    setup();
    CHECK(buffer_size >= 400);
    loop(); // no Wi-Fi yet
    CHECK(strcmp(sent, "") == 0);
    wifi_up = true;
    loop(); // the broker is down
    CHECK(strcmp(sent, "connect lamp;") == 0);
    sent[0] = '\0';
    broker_up = true;
    loop();
    CHECK(strcmp(sent, "connect lamp;sub lamp.RED;sub lamp.GREEN;pub fbp;") == 0);
    CHECK(strstr(announcement, "\"payload\":{\"id\":\"lamp\",\"role\":\"lamp\",\"component\":"
                               "\"iot/Lamp\""));
    CHECK(strstr(announcement, "\"inports\":[{\"id\":\"red\",\"type\":\"boolean\",\"queue\":"
                               "\"lamp.RED\",\"hidden\":false,\"description\":\"red bulb on or "
                               "off\"},{\"id\":\"green\""));
    CHECK(strstr(announcement, "\"outports\":[]}}"));
    sent[0] = '\0';

    message("lamp.RED", "true");
    CHECK(pins[red_pin] == HIGH && pins[green_pin] == LOW);
    message("lamp.GREEN", "\"true\"");
    message("lamp.RED", "false");
    CHECK(pins[red_pin] == LOW && pins[green_pin] == HIGH);
    message("lamp.BLUE", "true"); // no such port
    CHECK(pins[red_pin] == LOW);

    now_ms += 27272;
    loop();
    CHECK(strcmp(sent, "pub fbp;") == 0);
    sent[0] = '\0';

    // the broker goes away and comes back: subscribe and announce again
    is_connected = false;
    broker_up = false;
    loop();
    broker_up = true;
    loop();
    CHECK(strcmp(sent, "connect lamp;connect lamp;sub lamp.RED;sub lamp.GREEN;pub fbp;") == 0);
    printf("Arduino Lamp: ok (announcement %zu bytes)\n", strlen(announcement));
    return 0;
}
