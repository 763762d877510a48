/* Received messages: payload access, JSON access, ack and nack.
 *
 * A message lives from its delivery until it is acked or nacked (and at least
 * until the process callback returns). Outstanding messages are kept in a list
 * so that a stopped or freed participant can detach them: a late ack is then
 * harmless.
 */
#include "core/log.h"
#include "core/participant_internal.h"
#include "msgflo/errors.h"

#include <stdlib.h>
#include <string.h>

#define NS "msgflo:participant"

static void unlink_message(msgflo_message *m)
{
    if (!m->p)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        m->p->messages = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
}

static void message_free(msgflo_message *m)
{
    unlink_message(m);
    json_decref(m->json);
    free(m);
}

void message__deliver(msgflo_participant *p, const char *port, const struct transport_delivery *d,
                      const void *data, size_t len)
{
    msgflo_message *m = malloc(sizeof *m + len + 1);
    if (!m) {
        LOG_ERROR(NS, "out of memory for a %zu-byte message on %s; rejecting it", len, port);
        transport_nack(p->transport, d);
        return;
    }
    memset(m, 0, sizeof *m);
    m->p = p;
    m->port = port;
    m->delivery = *d;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    m->data[len] = '\0';
    m->next = p->messages;
    if (p->messages)
        p->messages->prev = m;
    p->messages = m;

    m->in_callback = true;
    p->process(p, port, m, p->userdata);
    m->in_callback = false;
    if (m->done)
        message_free(m);
}

void message__orphan_all(msgflo_participant *p)
{
    msgflo_message *m = p->messages;
    while (m) {
        msgflo_message *next = m->next;
        m->p = NULL;
        m->prev = m->next = NULL;
        m = next;
    }
    p->messages = NULL;
}

static int finish(msgflo_message *m, bool ack)
{
    if (!m)
        return MSGFLO_EINVAL;
    if (m->done)
        return MSGFLO_ESTATE;
    int rc = 0;
    if (m->p && m->p->transport) {
        rc = ack ? transport_ack(m->p->transport, &m->delivery)
                 : transport_nack(m->p->transport, &m->delivery);
        LOG_DEBUG(NS, "%s message on %s", ack ? "ack" : "nack", m->port);
    }
    m->done = true;
    if (!m->in_callback)
        message_free(m);
    return rc;
}

int msgflo_message_ack(msgflo_message *msg)
{
    return finish(msg, true);
}

int msgflo_message_nack(msgflo_message *msg)
{
    return finish(msg, false);
}

const void *msgflo_message_data(const msgflo_message *msg, size_t *len)
{
    if (len)
        *len = msg->len;
    return msg->data;
}

json_t *msgflo_message_json(msgflo_message *msg)
{
    if (!msg->json_parsed) {
        msg->json_parsed = true;
        msg->json = json_loadb((const char *)msg->data, msg->len, JSON_DECODE_ANY, NULL);
    }
    return msg->json;
}

const char *msgflo_message_port(const msgflo_message *msg)
{
    return msg->port;
}
