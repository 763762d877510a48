/* Busy time of the loop's turns; see loop_stats.h. */
#include "runtime/loop_stats.h"

#include "msgflo/errors.h"

#include <stdlib.h>
#include <time.h>

struct loop_stats {
    uv_prepare_t prepare;
    uint64_t last_ns, last_idle_ns, last_cpu_ns; /* at the previous prepare */
    uint64_t max_ns, max_cpu_ns, turns;
};

/* CPU time of the calling thread (the loop's), ns. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_prepare(uv_prepare_t *h)
{
    struct loop_stats *s = h->data;
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(h->loop), cpu = cpu_ns();
    uint64_t wall = now - s->last_ns, waited = idle - s->last_idle_ns;
    uint64_t busy = wall > waited ? wall - waited : 0;
    if (busy > s->max_ns)
        s->max_ns = busy;
    if (cpu - s->last_cpu_ns > s->max_cpu_ns)
        s->max_cpu_ns = cpu - s->last_cpu_ns;
    s->turns++;
    s->last_ns = now;
    s->last_idle_ns = idle;
    s->last_cpu_ns = cpu;
}

int loop_stats__new(uv_loop_t *loop, struct loop_stats **out)
{
    struct loop_stats *s = calloc(1, sizeof *s);
    if (!s)
        return MSGFLO_ENOMEM;
    /* Only before the loop runs for the first time, or it is EBUSY: then the
     * idle time stays 0 and waiting counts as busy (the figures say so). */
    (void)uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    if (uv_prepare_init(loop, &s->prepare) != 0) {
        free(s);
        return MSGFLO_ESYS;
    }
    s->prepare.data = s;
    s->last_ns = uv_hrtime();
    s->last_idle_ns = uv_metrics_idle_time(loop);
    s->last_cpu_ns = cpu_ns();
    uv_prepare_start(&s->prepare, on_prepare);
    uv_unref((uv_handle_t *)&s->prepare); /* does not keep the loop alive */
    *out = s;
    return 0;
}

void loop_stats__take(struct loop_stats *s, uint64_t *max_ns, uint64_t *max_cpu_ns, uint64_t *turns)
{
    *max_ns = s->max_ns;
    *max_cpu_ns = s->max_cpu_ns;
    *turns = s->turns;
    s->max_ns = s->max_cpu_ns = 0;
    s->turns = 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void loop_stats__free(struct loop_stats *s)
{
    if (s)
        uv_close((uv_handle_t *)&s->prepare, on_closed);
}
