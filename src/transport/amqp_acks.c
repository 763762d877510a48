/* Publisher confirms and held-back acks of the AMQP data channel; see amqp_acks.h. */
#include "transport/amqp_acks.h"

#include "msgflo/errors.h"

#include <stdlib.h>
#include <string.h>

void amqp_acks__reset(struct amqp_acks *k)
{
    k->publish_seq = 0;
    k->n_unconfirmed = 0;
    k->n_held = 0;
    k->floor = 0;
    k->n_settled = 0;
    k->due = false;
}

void amqp_acks__free(struct amqp_acks *k)
{
    free(k->unconfirmed);
    free(k->held);
    free(k->settled);
    k->unconfirmed = NULL;
    k->held = NULL;
    k->settled = NULL;
    k->cap_unconfirmed = k->cap_held = k->cap_settled = 0;
    amqp_acks__reset(k);
}

/* The array `p` of `size`-byte elements (room for *cap, n used) with room
 * for one more: p itself, or grown; NULL when out of memory (p unchanged). */
static void *room_for_one(void *p, size_t size, size_t n, size_t *cap)
{
    if (n < *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 64;
    void *grown = realloc(p, c * size);
    if (grown)
        *cap = c;
    return grown;
}

static uint64_t confirmed_upto(const struct amqp_acks *k)
{
    return k->n_unconfirmed ? k->unconfirmed[0] - 1 : k->publish_seq;
}

bool amqp_acks__all_confirmed(const struct amqp_acks *k)
{
    return k->n_unconfirmed == 0;
}

size_t amqp_acks__held(const struct amqp_acks *k)
{
    return k->n_held;
}

int amqp_acks__published(struct amqp_acks *k)
{
    uint64_t *u = room_for_one(k->unconfirmed, sizeof *u, k->n_unconfirmed, &k->cap_unconfirmed);
    if (!u)
        return MSGFLO_ENOMEM;
    k->unconfirmed = u;
    k->unconfirmed[k->n_unconfirmed++] = ++k->publish_seq;
    return 0;
}

size_t amqp_acks__confirmed(struct amqp_acks *k, uint64_t tag, bool multiple)
{
    size_t keep = 0, was = k->n_unconfirmed;
    for (size_t i = 0; i < k->n_unconfirmed; i++) {
        uint64_t s = k->unconfirmed[i];
        bool done = multiple ? s <= tag : s == tag;
        if (!done)
            k->unconfirmed[keep++] = s;
    }
    k->n_unconfirmed = keep;
    k->due = true;
    return was - keep;
}

/* Records that delivery `tag` needs no (further) ack from us. */
static int settle(struct amqp_acks *k, uint64_t tag)
{
    if (tag <= k->floor)
        return 0;
    uint64_t *s = room_for_one(k->settled, sizeof *s, k->n_settled, &k->cap_settled);
    if (!s)
        return MSGFLO_ENOMEM;
    k->settled = s;
    size_t i = k->n_settled;
    while (i > 0 && k->settled[i - 1] > tag) /* tags come nearly in order */
        i--;
    if (i > 0 && k->settled[i - 1] == tag)
        return 0;
    memmove(k->settled + i + 1, k->settled + i, (k->n_settled - i) * sizeof *k->settled);
    k->settled[i] = tag;
    k->n_settled++;
    return 0;
}

/* Drops the first n settled tags (the floor moved over them). */
static void drop_settled(struct amqp_acks *k, size_t n)
{
    if (n == 0)
        return;
    memmove(k->settled, k->settled + n, (k->n_settled - n) * sizeof *k->settled);
    k->n_settled -= n;
}

int amqp_acks__settled(struct amqp_acks *k, uint64_t tag)
{
    int rc = settle(k, tag);
    if (rc)
        return rc;
    size_t j = 0;
    while (j < k->n_settled && k->settled[j] == k->floor + 1) {
        k->floor++;
        j++;
    }
    drop_settled(k, j);
    return 0;
}

static int cmp_tag(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Acks `tags` (sorted here): the longest run that, with the tags settled
 * before, follows the floor without a gap goes as one multiple ack on its
 * highest tag (a tag not acked before, or the broker would close the
 * channel); the rest one by one. */
static int send_acks(struct amqp_acks *k, uint64_t *tags, size_t n)
{
    qsort(tags, n, sizeof *tags, cmp_tag);
    uint64_t run = k->floor, multi = 0;
    size_t i = 0, j = 0;
    for (;;) {
        if (i < n && tags[i] == run + 1)
            multi = tags[i++];
        else if (j < k->n_settled && k->settled[j] == run + 1)
            j++;
        else
            break;
        run++;
    }
    int rc;
    if (multi && (rc = k->send(k->ud, multi, true)) != 0)
        return rc;
    k->floor = run;
    drop_settled(k, j);
    for (; i < n; i++) {
        if ((rc = k->send(k->ud, tags[i], false)) != 0 || (rc = settle(k, tags[i])) != 0)
            return rc;
    }
    return 0;
}

int amqp_acks__ack(struct amqp_acks *k, uint64_t tag)
{
    if (confirmed_upto(k) >= k->publish_seq && k->n_held == 0)
        return send_acks(k, &tag, 1);
    struct amqp_held_ack *h = room_for_one(k->held, sizeof *h, k->n_held, &k->cap_held);
    if (!h)
        return MSGFLO_ENOMEM;
    k->held = h;
    k->held[k->n_held].tag = tag;
    k->held[k->n_held].needed_seq = k->publish_seq;
    k->n_held++;
    return 0;
}

void amqp_acks__release(struct amqp_acks *k)
{
    if (!k->due)
        return;
    k->due = false;
    uint64_t upto = confirmed_upto(k);
    uint64_t tags[64];
    while (k->n_held > 0 && k->held[0].needed_seq <= upto) {
        size_t n = 0;
        while (n < k->n_held && n < sizeof tags / sizeof *tags && k->held[n].needed_seq <= upto) {
            tags[n] = k->held[n].tag;
            n++;
        }
        memmove(k->held, k->held + n, (k->n_held - n) * sizeof *k->held);
        k->n_held -= n;
        if (send_acks(k, tags, n) != 0)
            return;
    }
}
