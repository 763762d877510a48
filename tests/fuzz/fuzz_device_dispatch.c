/* libFuzzer target: the device core driven by arbitrary events (messages on
 * arbitrary topics, sends on arbitrary port names, ticks at arbitrary times,
 * connects and disconnects) with handlers that send. Checks: no access
 * outside the caller's buffer (ASan), every topic handed to the client is a
 * NUL-terminated string that fits the buffer, a message on a port's topic
 * reaches that port and only a port's topic is accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msgflo/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char buf[1024];
static const msgflo_device_port *last_port;

static int publish(void *ctx, const char *topic, const void *d, size_t len)
{
    (void)ctx;
    (void)d;
    (void)len;
    if (strlen(topic) >= sizeof buf)
        abort();
    return 0;
}

static int subscribe(void *ctx, const char *topic)
{
    (void)ctx;
    if (strlen(topic) >= sizeof buf)
        abort();
    return 0;
}

static void receive(msgflo_device *dev, const msgflo_device_port *port, const void *d, size_t len)
{
    last_port = port;
    (void)msgflo_device_send(dev, "out", d, len);
    (void)msgflo_device_send(dev, port->id, d, len); /* an inport's name: ENOPORT */
}

static const msgflo_device_port in[] = {
    {.id = "in", .receive = receive},
    {.id = "Mixed_Case", .receive = receive},
    {.id = "custom", .queue = "dev/custom/in", .receive = receive},
    {.id = "hidden", .hidden = true, .receive = receive},
    {.id = "nohandler"},
    {0},
};
static const msgflo_device_port out[] = {
    {.id = "out"}, {.id = "log", .queue = "dev/log"}, {.id = "void", .hidden = true}, {0}};
static const msgflo_device_definition def = {
    .role = "dev", .component = "fuzz/Device", .inports = in, .outports = out};
static const msgflo_device_client client = {publish, subscribe, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgflo_device dev;
    if (msgflo_device_init(&dev, &def, &client, buf, sizeof buf) != 0)
        abort();
    size_t i = 0;
    uint32_t now = 0;
    while (i + 2 <= size) {
        uint8_t op = data[i], n = data[i + 1];
        i += 2;
        if (n > size - i)
            n = (uint8_t)(size - i);
        const char *arg = (const char *)data + i;
        i += n;
        switch (op % 6) {
        case 0: {
            last_port = NULL;
            int rc = msgflo_device_message(&dev, arg, n, arg, n);
            if ((rc == 0) != (last_port != NULL || (n == 13 && !memcmp(arg, "dev.NOHANDLER", 13))))
                abort();
            break;
        }
        case 1: {
            char name[256];
            memcpy(name, arg, n);
            name[n] = '\0';
            (void)msgflo_device_send(&dev, name, arg, n);
            break;
        }
        case 2:
            now += (uint32_t)n * 1000u;
            (void)msgflo_device_tick(&dev, now);
            break;
        case 3:
            (void)msgflo_device_connected(&dev, now);
            break;
        case 4:
            msgflo_device_disconnected(&dev);
            break;
        case 5:
            msgflo_device_set_discovery_period(&dev, (uint32_t)n * 100u);
            break;
        }
    }
    return 0;
}
