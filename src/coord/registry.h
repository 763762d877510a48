/* The participants a coordinator discovered (sans-I/O): what each announced,
 * when it was first and last seen, which queues its ports use, and which
 * ports share a queue (automatic edges, msgflo-original.md 2.5). Time is
 * passed in by the caller (milliseconds on any monotonic clock), so the
 * registry is tested without a loop. See docs/coordinator.md.
 *
 * Participants are keyed by their `id`; a role groups the participants that
 * announced it (several instances of one role share its queues). A role's
 * definition is the payload of the participant of that role seen last.
 *
 * Every operation is O(1) on average per participant and port (uthash), so
 * announcing N participants costs O(N). A participant is kept as its id, its
 * payload's compact JSON text and its ports' queues (a few hundred bytes).
 */
#ifndef MSGFLO_COORD_REGISTRY_H
#define MSGFLO_COORD_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct registry;

struct registry_options {
    /* The discovery period participants use (MSGFLO_DISCOVERY_PERIOD), in ms. */
    uint64_t period_ms;
    /* A participant not seen for expiry_periods * period_ms is forgotten by
     * registry__expire; 0: never (as the original). */
    unsigned expiry_periods;
    /* Caps on what discovery messages from outside can make the registry
     * hold (0: no cap): participants, and distinct component names among
     * them. An update that would pass one is refused (MSGFLO_ESTATE). */
    size_t max_participants, max_components;
    /* Called (may be NULL) when the last participant announcing a component
     * name is forgotten or announces another component: from within
     * registry__update, __expire, __forget_role (not __free); it must not
     * change the registry. `component` is valid for the call. */
    void (*component_gone)(const char *component, void *ud);
    void *ud;
};

/* What registry__update found (a bit set). */
enum registry_change {
    REGISTRY_NEW_ROLE = 1,     /* no participant of this role was known */
    REGISTRY_NEW_INSTANCE = 2, /* an id not seen before for this role (also set with NEW_ROLE) */
    REGISTRY_CHANGED = 4,      /* the stored payload changed (new fields or values) */
    REGISTRY_QUEUES = 8,       /* the role's port queues changed (also on a NEW_ROLE with ports) */
};

/* A port using a queue. Strings valid until the role is changed or removed. */
struct registry_port {
    const char *role;
    const char *port;
    bool inport;
};

/* Creates an empty registry (`options` copied; NULL: period 60 s, never
 * expire). *out is owned: free with registry__free. Returns 0 or
 * MSGFLO_ENOMEM. */
int registry__new(const struct registry_options *options, struct registry **out);
/* registry__free(NULL) is a no-op. */
void registry__free(struct registry *r);

/* Adds or updates the participant of a discovery payload validated by
 * discovery__parse (borrowed; its fields are copied): first seen / last seen
 * = now_ms, fields of the payload override the stored ones, fields it lacks
 * are kept. *changes (may be NULL) receives enum registry_change bits.
 * A participant announcing another role than before moves to that role.
 * Returns 0, MSGFLO_EINVAL (no string id or role), MSGFLO_ESTATE (a new
 * participant or component name past max_participants / max_components:
 * refused, the registry unchanged) or MSGFLO_ENOMEM. */
int registry__update(struct registry *r, const json_t *payload, uint64_t now_ms, unsigned *changes);

/* The whole handling of one discovery message's bytes: discovery__parse,
 * then registry__update (a benchmark of N participants announcing measures
 * this). Returns 0, MSGFLO_EJSON or MSGFLO_EINVAL (a bad message: reason in
 * err, errlen bytes; the registry is unchanged) or MSGFLO_ENOMEM. */
int registry__announce(struct registry *r, const void *data, size_t len, uint64_t now_ms,
                       unsigned *changes, char *err, size_t errlen);

/* The stored payload of participant `id` in *out: the registry keeps
 * payloads as compact JSON text and parses this one for the call, so *out is
 * a new reference owned by the caller (release with json_decref). Returns 0,
 * MSGFLO_ENOPORT (unknown id; *out NULL) or MSGFLO_ENOMEM. */
int registry__participant(const struct registry *r, const char *id, json_t **out);
/* The first and last time participant `id` was seen; MSGFLO_ENOPORT when
 * unknown. */
int registry__seen(const struct registry *r, const char *id, uint64_t *first, uint64_t *last);

/* The definition of `role` (the payload of its participant seen last) in
 * *out, owned as above. Returns 0, MSGFLO_ENOPORT (no participant of the
 * role is known; *out NULL) or MSGFLO_ENOMEM. To ask whether a role is known,
 * use registry__role_instances: it parses nothing. */
int registry__role(const struct registry *r, const char *role, json_t **out);
/* The number of participants of `role` (0 when unknown). */
size_t registry__role_instances(const struct registry *r, const char *role);

/* When a participant of `role` was last seen (ms, the caller's clock);
 * MSGFLO_ENOPORT when the role is unknown. O(1). */
int registry__role_seen(const struct registry *r, const char *role, uint64_t *last);

/* For a caller that asks about the same roles again and again (/metrics,
 * the live view): the record of `role`, or NULL while no participant of it
 * is known (borrowed). What it returns, a record or NULL, stays right while
 * registry__role_records is unchanged: that counts the role records made
 * and freed. */
struct registry_role;
const struct registry_role *registry__role_record(const struct registry *r, const char *role);
unsigned long long registry__role_records(const struct registry *r);
/* As registry__role_instances and registry__role_seen, for a record (NULL:
 * 0 and MSGFLO_ENOPORT). */
size_t registry__record_instances(const struct registry_role *ro);
int registry__record_seen(const struct registry_role *ro, uint64_t *last);

size_t registry__count(const struct registry *r);            /* participants */
size_t registry__role_count(const struct registry *r);       /* roles */
size_t registry__component_count(const struct registry *r);  /* component names */
size_t registry__max_participants(const struct registry *r); /* the caps (0: none) */
size_t registry__max_components(const struct registry *r);
/* The number of known participants announcing `component` (0: none). */
size_t registry__component_participants(const struct registry *r, const char *component);

/* The queue of role's port: the queue the role announced for it (port ids
 * matched case-insensitively), else definition__default_queue(role, port)
 * (also when the role is unknown). *out is owned (free()). Returns 0 or
 * MSGFLO_ENOMEM. `*announced` (may be NULL) tells whether the role is known
 * and announced the port. */
int registry__queue(const struct registry *r, const char *role, bool inport, const char *port,
                    char **out, bool *announced);

/* The ports (of known roles) that use `queue`: an array of *n entries,
 * borrowed until the registry changes; NULL when none. */
const struct registry_port *registry__queue_ports(const struct registry *r, const char *queue,
                                                  size_t *n);

/* Calls fn for every automatic edge touching `role`: an outport of some role
 * whose queue is an inport queue of another, with one side being `role`.
 * An outport and an inport of the same role on one queue are not an edge. */
typedef void (*registry_edge_fn)(const char *src_role, const char *src_port, const char *tgt_role,
                                 const char *tgt_port, const char *queue, void *ud);
void registry__edges(const struct registry *r, const char *role, registry_edge_fn fn, void *ud);

/* Forgets the participants not seen for expiry_periods * period_ms before
 * now_ms (nothing when expiry_periods is 0), calling fn (may be NULL) with
 * each one's role and id once it is removed (fn may change the registry).
 * Returns the number removed. */
typedef void (*registry_expired_fn)(const char *role, const char *id, void *ud);
size_t registry__expire(struct registry *r, uint64_t now_ms, registry_expired_fn fn, void *ud);
/* As registry__expire, forgetting at most `max` (the oldest first), so a
 * caller on an event loop can spread a mass expiry over several turns. */
size_t registry__expire_max(struct registry *r, uint64_t now_ms, size_t max, registry_expired_fn fn,
                            void *ud);
/* The first time registry__expire has something to forget (the participants
 * are kept in order of last seen, so this and each expiry cost O(1) per
 * participant forgotten); UINT64_MAX when never. */
uint64_t registry__next_expiry(const struct registry *r);

/* Forgets every participant of `role`. Returns the number removed. */
size_t registry__forget_role(struct registry *r, const char *role);

#endif
