/* Repeat on the device core: every message on `in` is sent unchanged on
 * `out`, as examples/repeat.c, but through msgflo/device.h (no heap, no event
 * loop library) and libmosquitto by way of device_mosquitto.c: the way a
 * microcontroller runs a participant, on Linux.
 * Run: device_repeat ROLE [BROKER_URL]   (mqtt:// only; default $MSGFLO_BROKER) */
#include "device_mosquitto.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void repeat(msgflo_device *dev, const msgflo_device_port *port, const void *data, size_t len)
{
    (void)port;
    int rc = msgflo_device_send(dev, "out", data, len);
    if (rc)
        fprintf(stderr, "repeat: not sent: %s\n", msgflo_strerror(rc));
}

/* The first line on stdout says we are up: supervisors wait for it. */
static void on_ready(struct device_mosquitto *a, void *ud)
{
    const char *url = ud;
    msgflo_device *dev = a->dev;
    char shown[512];
    if (!url)
        return; /* printed already: a reconnect */
    if (msgflo_url_redact(url, shown, sizeof shown) != 0)
        snprintf(shown, sizeof shown, "broker");
    printf("%s(%s) connected to %s\n", dev->def->role, dev->def->component, shown);
    fflush(stdout);
    a->ud = NULL;
}

/* $MSGFLO_DISCOVERY_PERIOD in seconds, as libmsgflo reads it. */
static uint32_t discovery_period_ms(void)
{
    const char *env = getenv("MSGFLO_DISCOVERY_PERIOD");
    char *end;
    double s = env ? strtod(env, &end) : 0;
    if (!env || !*env || *end || !(s > 0) || s > 1e6)
        return MSGFLO_DEVICE_DISCOVERY_PERIOD_MS;
    return (uint32_t)(s * 1000.0);
}

int main(int argc, char **argv)
{
    static const msgflo_device_port inports[] = {{.id = "in", .type = "any", .receive = repeat},
                                                 {0}};
    static const msgflo_device_port outports[] = {{.id = "out", .type = "any"}, {0}};
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: %s ROLE [BROKER_URL]\n", argv[0]);
        return 2;
    }
    const char *url = msgflo_url_resolve(argc == 3 ? argv[2] : NULL);
    if (!url) {
        fprintf(stderr, "%s: no broker URL: pass one, or set MSGFLO_BROKER\n", argv[0]);
        return 2;
    }
    /* A unique id per run, as libmsgflo's <role>-<uuid>; a device would use
     * its MAC address or serial number. */
    char id[256];
    snprintf(id, sizeof id, "%.200s-%ld", argv[1], (long)getpid());
    const msgflo_device_definition def = {
        .role = argv[1],
        .id = id,
        .component = "c/Repeat",
        .label = "Repeats in data without changes",
        .icon = "file-word-o",
        .inports = inports,
        .outports = outports,
    };
    static char buf[4096]; /* the discovery message and topics */
    static msgflo_device dev;
    struct device_mosquitto a;
    char err[256] = "";
    int rc = device_mosquitto_init(&a, &dev, url, err, sizeof err);
    if (rc == 0 && (rc = msgflo_device_init(&dev, &def, &a.client, buf, sizeof buf)) != 0)
        snprintf(err, sizeof err, "definition: %s", msgflo_strerror(rc));
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        device_mosquitto_cleanup(&a);
        return 1;
    }
    msgflo_device_set_discovery_period(&dev, discovery_period_ms());
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    a.on_ready = on_ready;
    a.ud = (void *)url;
    if (device_mosquitto_connect(&a, &stop) == 0) {
        while (!stop)
            device_mosquitto_step(&a, 100);
    }
    device_mosquitto_cleanup(&a);
    return 0;
}
