/* The demo's Button on the device core. */
#include "button.h"

#include "msgflo_esp_mqtt.h"

msgflo_device button_device;
static msgflo_device_definition def;
static msgflo_device_client client;
static char buf[512]; /* the discovery message (400 bytes for role "button") and topics */
static bool was_down;

static void press(msgflo_device *dev, const msgflo_device_port *port, const void *data, size_t len)
{
    (void)port;
    (void)data;
    (void)len;
    msgflo_device_send(dev, "pressed", "true", 4);
}

static const msgflo_device_port inports[] = {
    {.id = "press", .type = "any", .description = "press the button", .receive = press},
    {0},
};
static const msgflo_device_port outports[] = {
    {.id = "pressed", .type = "boolean", .description = "true on every press"},
    {0},
};

int button_init(esp_mqtt_client_handle_t mqtt, const char *role)
{
    def = (msgflo_device_definition){.role = role,
                                     .component = "iot/Button",
                                     .label = "A push button",
                                     .icon = "hand-pointer-o",
                                     .inports = inports,
                                     .outports = outports};
    if (msgflo_esp_mqtt_init(mqtt, &client) != 0)
        return MSGFLO_ENOMEM;
    return msgflo_device_init(&button_device, &def, &client, buf, sizeof buf);
}

void button_poll(bool down)
{
    msgflo_esp_mqtt_poll(&button_device);
    if (down && !was_down)
        msgflo_device_send(&button_device, "pressed", "true", 4);
    was_down = down;
}
