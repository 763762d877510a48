/* guv's proportional scaling and scale-down damping; see scale.h. */
#include "guv/scale.h"

#include "msgflo/errors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int guv_scale__estimate(const struct guv_role *role, uint64_t queue_length)
{
    /* Up to `concurrency` jobs take `processing` together, more take
     * multiples of it; no worker gets a job done faster than `processing`. */
    double waiting = ceil((double)queue_length / role->concurrency) * role->processing;
    double available = fmax(role->processing, role->target - role->processing);
    double workers = ceil(waiting / available);
    /* guv's bound(): min(max(v, lower), upper), NAN going to lower */
    if (!(workers > role->minimum))
        workers = role->minimum;
    if (!(workers < role->maximum))
        workers = role->maximum;
    return (int)workers;
}

size_t guv_history__window(const struct guv_role *global)
{
    double n = floor(global->history / global->pollinterval);
    if (!(n >= 0))
        return 0;
    if (n > 1e6) /* a day of 0.1 s polls; more is a config mistake */
        return 1000000;
    return (size_t)n;
}

int guv_history__init(struct guv_history *h, size_t capacity)
{
    memset(h, 0, sizeof *h);
    if (capacity == 0)
        return 0;
    h->states = calloc(capacity, sizeof *h->states);
    if (!h->states)
        return MSGFLO_ENOMEM;
    h->capacity = capacity;
    return 0;
}

void guv_history__cleanup(struct guv_history *h)
{
    free(h->states);
    memset(h, 0, sizeof *h);
}

void guv_history__push(struct guv_history *h, const struct guv_state *s)
{
    if (h->capacity == 0)
        return;
    h->states[(h->head + h->count) % h->capacity] = *s;
    if (h->count < h->capacity)
        h->count++;
    else
        h->head = (h->head + 1) % h->capacity;
}

const struct guv_state *guv_history__at(const struct guv_history *h, size_t i)
{
    if (i >= h->count)
        return NULL;
    return &h->states[(h->head + i) % h->capacity];
}

int guv_history__max_estimate(const struct guv_history *h)
{
    int max = GUV_NONE;
    for (size_t i = 0; h && i < h->count; i++) {
        int e = guv_history__at(h, i)->estimate;
        if (e != GUV_NONE && (max == GUV_NONE || e > max))
            max = e;
    }
    return max;
}

void guv_scale__decide(const struct guv_role *role, const struct guv_history *history, int current,
                       uint64_t queue_length, struct guv_state *out)
{
    int estimate = guv_scale__estimate(role, queue_length);
    out->queue_length = queue_length;
    out->consumers = GUV_NONE;
    out->current = current;
    out->estimate = estimate;
    out->next = GUV_NONE;

    if (current == GUV_NONE || estimate > current) {
        out->next = estimate; /* unknown direction: reset; up: at once */
    } else if (estimate < current) {
        /* Down only when the whole window agrees: booting workers costs. An
         * empty window compares as 0 in guv (null in JavaScript). */
        int window_max = guv_history__max_estimate(history);
        if (window_max == GUV_NONE)
            window_max = 0;
        if (estimate >= window_max)
            out->next = estimate;
        else if (window_max < current)
            out->next = window_max;
    }
}

void guv_scale__step(const struct guv_role *role, struct guv_history *history, int current,
                     uint64_t queue_length, int consumers, struct guv_state *out)
{
    guv_scale__decide(role, history, current, queue_length, out);
    out->consumers = consumers;
    guv_history__push(history, out);
}
