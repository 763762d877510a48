/* The topics one MQTT connection is subscribed to, and why.
 *
 * A topic can be wanted for several reasons at once: a plain subscription (a
 * participant's inqueue, a forwarding source of msgflo-setup or the runtime,
 * discovery), which lasts as long as the connection, and any number of
 * watches (the runtime observing an edge or an exported port), which come and
 * go. The broker keeps one subscription per topic and client, so the first
 * reason sends SUBSCRIBE, the others nothing, and UNSUBSCRIBE goes out only
 * when no reason is left: unwatching an edge never stops a forwarding that
 * reads the same topic. Subscriptions end with the connection: clear the set
 * when it is lost; callers subscribe again once connected.
 */
#ifndef MSGFLO_TRANSPORT_MQTT_TOPICS_H
#define MSGFLO_TRANSPORT_MQTT_TOPICS_H

#include <stdbool.h>

struct mqtt_topic; /* opaque; a set is a `struct mqtt_topic *` starting NULL */

/* Records a reason for `topic` (watch: a counted watch; else a plain
 * subscription). *send tells whether SUBSCRIBE must go out (the topic was not
 * subscribed). Returns 0 or MSGFLO_ENOMEM. */
int mqtt_topics__want(struct mqtt_topic **set, const char *topic, bool watch, bool *send);
/* Takes back one watch of `topic` (none: nothing happens). *send tells
 * whether UNSUBSCRIBE must go out (no reason left; the topic is forgotten). */
void mqtt_topics__unwatch(struct mqtt_topic **set, const char *topic, bool *send);
/* Forgets `topic` whatever its reasons (its SUBSCRIBE could not be sent). */
void mqtt_topics__forget(struct mqtt_topic **set, const char *topic);
/* Forgets every topic (the connection is gone). */
void mqtt_topics__clear(struct mqtt_topic **set);
/* Whether `topic` itself (not a filter matching it) is subscribed. */
bool mqtt_topics__has(struct mqtt_topic *const *set, const char *topic);
/* How many topics are subscribed. */
unsigned mqtt_topics__count(struct mqtt_topic *const *set);

#endif
