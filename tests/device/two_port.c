/* A two-port device participant (the demo's Button: inport press, outport
 * pressed) built for Cortex-M by cross_size.sh, to measure what the device
 * core costs in flash and RAM. The MQTT client is two stubs: their cost
 * belongs to the application's MQTT library, not to us. */
#include "msgflo/device.h"

int app_mqtt_publish(void *ctx, const char *topic, const void *data, size_t len);
int app_mqtt_subscribe(void *ctx, const char *topic);
uint32_t app_millis(void);
int main(void);

static msgflo_device dev;
static char buf[320]; /* the caller's buffer: the discovery message and topics */

static void press(msgflo_device *d, const msgflo_device_port *port, const void *data, size_t len)
{
    (void)port;
    (void)data;
    (void)len;
    msgflo_device_send(d, "pressed", "true", 4);
}

static const msgflo_device_port inports[] = {{.id = "press", .receive = press}, {0}};
static const msgflo_device_port outports[] = {{.id = "pressed", .type = "boolean"}, {0}};
static const msgflo_device_definition def = {
    .role = "button",
    .id = "button-1",
    .component = "iot/Button",
    .label = "A push button",
    .icon = "hand-pointer-o",
    .inports = inports,
    .outports = outports,
};
static const msgflo_device_client client = {app_mqtt_publish, app_mqtt_subscribe, 0};

/* What an MQTT library's callbacks and the main loop would do. */
volatile int app_event;
const char *volatile app_topic;
volatile size_t app_topic_len;

int main(void)
{
    if (msgflo_device_init(&dev, &def, &client, buf, sizeof buf) != 0)
        return 1;
    for (;;) {
        switch (app_event) {
        case 1:
            msgflo_device_connected(&dev, app_millis());
            break;
        case 2:
            msgflo_device_disconnected(&dev);
            break;
        case 3:
            msgflo_device_message(&dev, app_topic, app_topic_len, "x", 1);
            break;
        }
        msgflo_device_tick(&dev, app_millis());
    }
}
