/* Publisher confirms and the acks they hold back, for the AMQP data channel.
 *
 * No loss: an ack of a received message is held back until the broker has
 * confirmed every message published before it, so the output of a message is
 * safe before its input is forgotten. Acks released together go out as one
 * basic.ack with multiple=true on the highest tag of the run of settled
 * deliveries (acked, nacked, or taken without ack) that follows the last
 * acked tag; a delivery acked out of order goes alone, so a multiple ack
 * never covers a message still being processed.
 *
 * Sans I/O: acks go out through `send`; the transport feeds publishes,
 * confirms and deliveries in. Delivery tags and sequence numbers start again
 * on a new channel: amqp_acks__reset.
 */
#ifndef MSGFLO_TRANSPORT_AMQP_ACKS_H
#define MSGFLO_TRANSPORT_AMQP_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct amqp_held_ack {
    uint64_t tag;
    uint64_t needed_seq; /* publishes up to this sequence number must be confirmed */
};

struct amqp_acks {
    /* basic.ack(tag, multiple); returns 0 or a negative MSGFLO_E* (then the
     * connection is gone and the transport resets this). */
    int (*send)(void *ud, uint64_t tag, bool multiple);
    void *ud;
    /* private below */
    uint64_t publish_seq;  /* last sequence number published */
    uint64_t *unconfirmed; /* sorted ascending */
    size_t n_unconfirmed, cap_unconfirmed;
    struct amqp_held_ack *held; /* FIFO waiting for confirms */
    size_t n_held, cap_held;
    /* settled deliveries: every tag <= floor, and those in `settled`
     * (sorted ascending, all > floor) */
    uint64_t floor;
    uint64_t *settled;
    size_t n_settled, cap_settled;
    bool due; /* confirms came: release held acks at amqp_acks__release */
};

/* A new channel: nothing published, delivered or held. */
void amqp_acks__reset(struct amqp_acks *k);
void amqp_acks__free(struct amqp_acks *k);
/* A message was published: it waits for its confirm. 0 or MSGFLO_ENOMEM. */
int amqp_acks__published(struct amqp_acks *k);
/* The broker confirmed (or nacked) `tag`, or every one up to it (multiple).
 * The acks this frees go out at the next amqp_acks__release, so a burst of
 * confirms releases them together. Returns how many publishes still waiting
 * for their confirm this settled. */
size_t amqp_acks__confirmed(struct amqp_acks *k, uint64_t tag, bool multiple);
/* Every publish confirmed. */
bool amqp_acks__all_confirmed(const struct amqp_acks *k);
/* Acks delivery `tag`: at once when every publish is confirmed and nothing is
 * held, else held until then. 0, MSGFLO_ENOMEM or send's error. */
int amqp_acks__ack(struct amqp_acks *k, uint64_t tag);
/* Delivery `tag` needs no ack from us (nacked, or consumed without acks). */
int amqp_acks__settled(struct amqp_acks *k, uint64_t tag);
/* Sends the acks confirms have freed since the last call. */
void amqp_acks__release(struct amqp_acks *k);
/* Acks still held back. */
size_t amqp_acks__held(const struct amqp_acks *k);

#endif
