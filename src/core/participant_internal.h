/* What participant.c and message.c share. */
#ifndef MSGFLO_CORE_PARTICIPANT_INTERNAL_H
#define MSGFLO_CORE_PARTICIPANT_INTERNAL_H

#include "core/definition.h"
#include "msgflo/participant.h"
#include "transport/transport.h"

#include <jansson.h>
#include <uv.h>

enum participant_state {
    PARTICIPANT_IDLE,
    PARTICIPANT_RUNNING,
    PARTICIPANT_STOPPING,
    PARTICIPANT_STOPPED,
};

struct msgflo_message {
    msgflo_participant *p; /* NULL once the participant is gone */
    const char *port;      /* borrowed from the definition */
    struct transport_delivery delivery;
    json_t *json;
    bool json_parsed;
    bool in_callback;
    bool done;
    struct msgflo_message *prev, *next; /* the participant's outstanding messages */
    size_t len;
    unsigned char data[]; /* payload, NUL-terminated for convenience */
};

struct msgflo_participant {
    struct definition *def;
    char *broker;    /* URL text */
    char *discovery; /* discovery message, compact JSON */
    msgflo_process_fn process;
    void *userdata;
    msgflo_ready_fn on_ready;
    msgflo_disconnect_fn on_disconnect;
    double discovery_period;
    enum participant_state state;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool own_loop_used;
    struct transport *transport;
    uv_timer_t *announce_timer;
    int open_handles; /* transport + timer, while stopping */
    void (*stop_done)(msgflo_participant *p, void *userdata);
    bool free_when_stopped;
    struct msgflo_message *messages; /* outstanding (not acked) */
};

/* Delivers a transport message to the process callback (message.c). */
void message__deliver(msgflo_participant *p, const char *port, const struct transport_delivery *d,
                      const void *data, size_t len);
/* Detaches every outstanding message from its participant (message.c). */
void message__orphan_all(msgflo_participant *p);

#endif
