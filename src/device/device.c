/* The device participant: subscribing and announcing on connect, periodic
 * re-announcement, dispatch of a message to its inport, sending on an
 * outport. Sans-I/O: the client functions do the talking, time is passed in. */
#include "msgflo/device.h"

#include <string.h>

static const char discovery_topic[] = "fbp";

/* period / 2.2 without floating point (and without overflow) */
static uint32_t interval_of(uint32_t period_ms)
{
    return period_ms / 11 * 5 + period_ms % 11 * 5 / 11;
}

int msgflo_device_init(msgflo_device *dev, const msgflo_device_definition *def,
                       const msgflo_device_client *client, char *buf, size_t buflen)
{
    if (!dev || !def || !client || !client->publish || !client->subscribe || (!buf && buflen))
        return MSGFLO_EINVAL;
    memset(dev, 0, sizeof *dev);
    dev->def = def;
    dev->client = client;
    dev->buf = buf;
    dev->buflen = buflen;
    dev->interval_ms = interval_of(MSGFLO_DEVICE_DISCOVERY_PERIOD_MS);
    /* Every topic is part of the discovery text, so if that fits, they fit. */
    return msgflo_device_discovery(def, buf, buflen, NULL);
}

void msgflo_device_set_discovery_period(msgflo_device *dev, uint32_t period_ms)
{
    if (period_ms > 0)
        dev->interval_ms = interval_of(period_ms);
}

void msgflo_device_set_userdata(msgflo_device *dev, void *userdata)
{
    dev->userdata = userdata;
}

void *msgflo_device_userdata(const msgflo_device *dev)
{
    return dev->userdata;
}

/* The topic of a port (its own queue, or the default written into buf), or
 * NULL for a hidden port without one. */
static const char *topic_of(msgflo_device *dev, const msgflo_device_port *port)
{
    if (port->queue)
        return port->queue;
    if (port->hidden)
        return NULL;
    msgflo_device_default_queue(dev->def->role, port->id, dev->buf, dev->buflen, NULL);
    return dev->buf;
}

int msgflo_device_announce(msgflo_device *dev)
{
    size_t len;
    if (!dev->connected)
        return MSGFLO_ENOTCONN;
    int rc = msgflo_device_discovery(dev->def, dev->buf, dev->buflen, &len);
    if (rc)
        return rc;
    return dev->client->publish(dev->client->ctx, discovery_topic, dev->buf, len) ? MSGFLO_EPROTO
                                                                                  : 0;
}

int msgflo_device_connected(msgflo_device *dev, uint32_t now_ms)
{
    int rc = 0;
    dev->connected = true;
    dev->last_ms = now_ms;
    for (const msgflo_device_port *p = dev->def->inports; p && p->id; p++) {
        const char *topic = topic_of(dev, p);
        if (topic && dev->client->subscribe(dev->client->ctx, topic) != 0)
            rc = MSGFLO_EPROTO;
    }
    /* MQTT keeps one connection's packets in order: the broker has the
     * subscriptions before it sees the announcement. */
    int arc = msgflo_device_announce(dev);
    return rc ? rc : arc;
}

void msgflo_device_disconnected(msgflo_device *dev)
{
    dev->connected = false;
}

int msgflo_device_tick(msgflo_device *dev, uint32_t now_ms)
{
    if (!dev->connected || (uint32_t)(now_ms - dev->last_ms) < dev->interval_ms)
        return 0;
    dev->last_ms = now_ms;
    return msgflo_device_announce(dev);
}

/* Whether `topic` is the port's topic, without writing the default one. */
static bool has_topic(const msgflo_device *dev, const msgflo_device_port *port, const char *topic,
                      size_t len)
{
    if (port->queue)
        return strlen(port->queue) == len && memcmp(port->queue, topic, len) == 0;
    if (port->hidden)
        return false;
    const char *role = dev->def->role;
    size_t rlen = strlen(role), plen = strlen(port->id);
    if (len != rlen + 1 + plen || memcmp(topic, role, rlen) != 0 || topic[rlen] != '.')
        return false;
    for (size_t i = 0; i < plen; i++) {
        char c = port->id[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (topic[rlen + 1 + i] != c)
            return false;
    }
    return true;
}

int msgflo_device_message(msgflo_device *dev, const char *topic, size_t topic_len, const void *data,
                          size_t len)
{
    for (const msgflo_device_port *p = dev->def->inports; p && p->id; p++) {
        if (has_topic(dev, p, topic, topic_len)) {
            if (p->receive)
                p->receive(dev, p, data, len);
            return 0;
        }
    }
    return MSGFLO_ENOPORT;
}

/* strcmp() == 0, without pulling newlib's strcmp (700 bytes on Cortex-M4). */
static bool same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int msgflo_device_send(msgflo_device *dev, const char *port, const void *data, size_t len)
{
    const msgflo_device_port *p = dev->def->outports;
    while (p && p->id && !same(p->id, port))
        p++;
    if (!p || !p->id)
        return MSGFLO_ENOPORT;
    if (p->hidden && !p->queue)
        return 0;
    if (!dev->connected)
        return MSGFLO_ENOTCONN;
    const char *topic = topic_of(dev, p);
    return dev->client->publish(dev->client->ctx, topic, data, len) ? MSGFLO_EPROTO : 0;
}
