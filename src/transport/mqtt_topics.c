/* The topics one MQTT connection is subscribed to; see mqtt_topics.h. */
#include "transport/mqtt_topics.h"

#include "msgflo/errors.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct mqtt_topic {
    char *name;
    bool plain;       /* subscribed for the connection's life */
    unsigned watches; /* watches not yet taken back */
    UT_hash_handle hh;
};

int mqtt_topics__want(struct mqtt_topic **set, const char *topic, bool watch, bool *send)
{
    struct mqtt_topic *t = NULL;
    HASH_FIND_STR(*set, topic, t);
    *send = t == NULL;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(topic))) {
            free(t);
            *send = false;
            return MSGFLO_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, *set, t->name, strlen(t->name), t);
    }
    if (watch)
        t->watches++;
    else
        t->plain = true;
    return 0;
}

static void forget(struct mqtt_topic **set, struct mqtt_topic *t)
{
    HASH_DEL(*set, t);
    free(t->name);
    free(t);
}

void mqtt_topics__unwatch(struct mqtt_topic **set, const char *topic, bool *send)
{
    struct mqtt_topic *t = NULL;
    HASH_FIND_STR(*set, topic, t);
    *send = false;
    if (!t || t->watches == 0)
        return;
    if (--t->watches == 0 && !t->plain) {
        forget(set, t);
        *send = true;
    }
}

void mqtt_topics__forget(struct mqtt_topic **set, const char *topic)
{
    struct mqtt_topic *t = NULL;
    HASH_FIND_STR(*set, topic, t);
    if (t)
        forget(set, t);
}

void mqtt_topics__clear(struct mqtt_topic **set)
{
    struct mqtt_topic *t, *tmp;
    HASH_ITER(hh, *set, t, tmp)
    {
        forget(set, t);
    }
}

bool mqtt_topics__has(struct mqtt_topic *const *set, const char *topic)
{
    struct mqtt_topic *t = NULL;
    HASH_FIND_STR(*set, topic, t);
    return t != NULL;
}

unsigned mqtt_topics__count(struct mqtt_topic *const *set)
{
    return HASH_COUNT(*set);
}
