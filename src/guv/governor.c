/* One poll of the governor over every role; see governor.h. */
#include "guv/governor.h"

#include "msgflo/errors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int guv_governor__init(struct guv_governor *g, const struct guv_config *cfg)
{
    memset(g, 0, sizeof *g);
    g->cfg = cfg;
    if (cfg->n_roles == 0)
        return 0;
    g->histories = calloc(cfg->n_roles, sizeof *g->histories);
    if (!g->histories)
        return MSGFLO_ENOMEM;
    size_t window = guv_history__window(&cfg->global);
    for (size_t i = 0; i < cfg->n_roles; i++) {
        if (guv_history__init(&g->histories[i], window) != 0) {
            g->n_roles = i;
            guv_governor__cleanup(g);
            return MSGFLO_ENOMEM;
        }
    }
    g->n_roles = cfg->n_roles;
    return 0;
}

void guv_governor__cleanup(struct guv_governor *g)
{
    for (size_t i = 0; i < g->n_roles; i++)
        guv_history__cleanup(&g->histories[i]);
    free(g->histories);
    memset(g, 0, sizeof *g);
}

uint64_t guv_governor__interval_ms(const struct guv_governor *g)
{
    double ms = g->cfg->global.pollinterval * 1000.0;
    if (!(ms >= 1.0))
        return 1;
    if (ms > 86400e3 * 365)
        return (uint64_t)(86400e3 * 365);
    return (uint64_t)llround(ms);
}

void guv_governor__step(struct guv_governor *g, const struct guv_poll *polls, struct guv_state *out)
{
    for (size_t i = 0; i < g->n_roles; i++) {
        const struct guv_poll *p = &polls[i];
        struct guv_state *s = &out[i];
        if (p->status != 0) {
            /* No statistics: nothing to decide, and no estimate for the window. */
            memset(s, 0, sizeof *s);
            s->consumers = GUV_NONE;
            s->current = p->current;
            s->estimate = GUV_NONE;
            s->next = GUV_NONE;
            guv_history__push(&g->histories[i], s);
            continue;
        }
        guv_scale__step(&g->cfg->roles[i], &g->histories[i], p->current, p->queue_length,
                        p->consumers, s);
    }
    g->polls++;
}
