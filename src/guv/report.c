/* Decision lines and JSON; see report.h. */
#include "guv/report.h"

#include "msgflo/errors.h"

#include <inttypes.h>
#include <stdio.h>

static const char *number(int n, char *buf, size_t len, const char *none)
{
    if (n == GUV_NONE)
        return none;
    snprintf(buf, len, "%d", n);
    return buf;
}

/* What a failed statistics query means for a queue. */
static const char *describe(int status)
{
    switch (status) {
    case MSGFLO_ENOPORT:
        return "no such queue";
    case MSGFLO_EINVAL:
        return "no queue length on this broker (MQTT)";
    case MSGFLO_ENOTCONN:
        return "not connected to the broker";
    default:
        return msgflo_strerror(status);
    }
}

int guv_report__line(const struct guv_role *role, const struct guv_poll *poll,
                     const struct guv_state *state, char *buf, size_t len)
{
    const char *queue = role->queue ? role->queue : role->name;
    if (poll->status != 0)
        return snprintf(buf, len, "%s: queue=%s error=%s", role->name, queue,
                        describe(poll->status));
    char c[16], cur[16], est[16], next[16];
    return snprintf(
        buf, len, "%s: queue=%s%s length=%" PRIu64 " consumers=%s current=%s estimate=%s new=%s",
        role->name, queue, poll->missing ? " (missing)" : "", state->queue_length,
        number(state->consumers, c, sizeof c, "?"), number(state->current, cur, sizeof cur, "?"),
        number(state->estimate, est, sizeof est, "?"), number(state->next, next, sizeof next, "-"));
}

static json_t *json_number(int n)
{
    return n == GUV_NONE ? json_null() : json_integer(n);
}

json_t *guv_report__json(const struct guv_role *role, const struct guv_poll *poll,
                         const struct guv_state *state, double time)
{
    const char *queue = role->queue ? role->queue : role->name;
    const char *worker = role->worker ? role->worker : role->name;
    json_t *o;
    if (poll->status != 0)
        o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "role", role->name, "queue", queue, "worker",
                      worker, "error", describe(poll->status), "time", time);
    else
        o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:o, s:o, s:f}", "role", role->name,
                      "queue", queue, "worker", worker, "missing", (int)poll->missing, "length",
                      (json_int_t)state->queue_length, "consumers", json_number(state->consumers),
                      "current", json_number(state->current), "estimate",
                      json_number(state->estimate), "new", json_number(state->next), "time", time);
    return o;
}
