/* The broker's router (docs/msgrouter.md): on MQTT the coordinator looks for
 * one on every connection, through its retained status, and lets it keep the
 * bindings; without one the binder forwards them. */
#include "coord/coordinator_internal.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <string.h>

#define NS COORD_NS

#define ROUTER_PREFIX "/msgrouter/default/"
#define STATUS_TOPIC  ROUTER_PREFIX "status"
#define RESULT_TOPIC  ROUTER_PREFIX "result"
/* The retained status follows the broker's acknowledgement of its
 * subscription at once: none within this time after it means no router. */
#define ROUTER_WAIT_MS 300
/* A request not answered in this time is given up (its bindings are
 * forwarded): the status may be a stale retained one, the router gone. */
#define ROUTER_ANSWER_MS 5000

static bool mqtt(const struct coordinator *c)
{
    return c->t && c->binder && !transport_has_bindings(c->t);
}

static void decide(struct coordinator *c, enum binder_router mode, const char *who)
{
    uv_timer_stop(&c->router_timer);
    if (c->router_said != (int)mode + 1) {
        bool gone = c->router_said == BINDER_ROUTER_PRESENT + 1;
        c->router_said = (int)mode + 1;
        if (mode == BINDER_ROUTER_PRESENT)
            LOG_INFO(NS, "bindings kept by the broker's router %s", who);
        else if (gone)
            LOG_INFO(NS, "the broker's router is gone: forwarding");
        else
            LOG_INFO(NS, "no router on the broker: forwarding");
    }
    int rc = binder__set_router(c->binder, mode);
    if (rc)
        coordinator__report_error(c, "making the bindings failed: %s", msgflo_strerror(rc));
    c->gen_max = ++c->sub_gen; /* forwarding: its subscriptions acknowledged before settling */
    coordinator__schedule(c);
}

static void on_router_timer(uv_timer_t *t)
{
    struct coordinator *c = t->data;
    if (!c->closing && c->connected && mqtt(c) &&
        binder__router(c->binder) == BINDER_ROUTER_UNKNOWN)
        decide(c, BINDER_ROUTER_NONE, NULL);
}

static void on_answer_timer(uv_timer_t *t)
{
    struct coordinator *c = t->data;
    if (c->closing || !c->connected || !mqtt(c))
        return;
    size_t n = binder__give_up(c->binder, c->router_mark);
    if (n > 0) {
        coordinator__report_error(c,
                                  "the broker's router did not answer within %u s: %zu "
                                  "binding(s) forwarded by this process instead",
                                  ROUTER_ANSWER_MS / 1000, n);
        c->gen_max = ++c->sub_gen; /* the subscriptions acknowledged before settling */
    }
    coordinator__schedule(c); /* re-armed for later requests */
}

void coordinator_router__init(struct coordinator *c)
{
    uv_timer_init(c->loop, &c->router_timer);
    c->router_timer.data = c;
}

int coordinator_router__connected(struct coordinator *c)
{
    uv_timer_stop(&c->router_timer);
    if (!mqtt(c))
        return 0;
    int rc = binder__set_router(c->binder, BINDER_ROUTER_UNKNOWN);
    if (rc == 0)
        rc = transport_subscribe(c->t, STATUS_TOPIC);
    if (rc == 0)
        rc = transport_subscribe(c->t, RESULT_TOPIC);
    if (rc) {
        coordinator__report_error(c, "cannot look for a router on the broker: %s",
                                  msgflo_strerror(rc));
        decide(c, BINDER_ROUTER_NONE, NULL);
    }
    return rc;
}

void coordinator_router__disconnected(struct coordinator *c)
{
    uv_timer_stop(&c->router_timer);
}

void coordinator_router__pump(struct coordinator *c)
{
    /* the status subscription is acknowledged with the discovery channel */
    if (c->connected && mqtt(c) && binder__router(c->binder) == BINDER_ROUTER_UNKNOWN &&
        c->discovery_gen && c->sub_confirmed >= c->discovery_gen &&
        !uv_is_active((uv_handle_t *)&c->router_timer))
        uv_timer_start(&c->router_timer, on_router_timer, ROUTER_WAIT_MS, 0);
    /* requests awaiting their result: given up after ROUTER_ANSWER_MS */
    unsigned long last = c->connected && mqtt(c) ? binder__last_request(c->binder) : 0;
    if (last && binder__router(c->binder) == BINDER_ROUTER_PRESENT &&
        !uv_is_active((uv_handle_t *)&c->router_timer)) {
        c->router_mark = last;
        uv_timer_start(&c->router_timer, on_answer_timer, ROUTER_ANSWER_MS, 0);
    }
}

static void on_status(struct coordinator *c, const void *data, size_t len)
{
    json_t *s = len ? json_loadb(data, len, 0, NULL) : NULL;
    const char *protocol = json_string_value(json_object_get(s, "protocol"));
    const char *name = json_string_value(json_object_get(s, "router"));
    const char *version = json_string_value(json_object_get(s, "version"));
    if (!protocol) {
        json_decref(s);
        /* cleared: the router went away with the broker still up (a router
         * process's last will, an admin): this process forwards again.
         * Before a decision the timer decides. */
        if (len == 0 && binder__router(c->binder) == BINDER_ROUTER_PRESENT)
            decide(c, BINDER_ROUTER_NONE, NULL);
        return;
    }
    if (strncmp(protocol, "1.", 2) != 0 && strcmp(protocol, "1") != 0) {
        LOG_WARNING(NS, "the broker's router speaks /msgrouter %s, not 1.x: not used", protocol);
        json_decref(s);
        return;
    }
    if (binder__router(c->binder) != BINDER_ROUTER_PRESENT) {
        char who[256];
        snprintf(who, sizeof who, "%s %s", name ? name : "(unnamed)", version ? version : "");
        decide(c, BINDER_ROUTER_PRESENT, who);
    }
    json_decref(s);
}

bool coordinator_router__message(struct coordinator *c, const char *queue, const void *data,
                                 size_t len)
{
    if (strncmp(queue, ROUTER_PREFIX, strlen(ROUTER_PREFIX)) != 0 || !mqtt(c))
        return false;
    if (strcmp(queue, STATUS_TOPIC) == 0) {
        on_status(c, data, len);
    } else if (strcmp(queue, RESULT_TOPIC) == 0) {
        char err[768];
        if (binder__on_result(c->binder, data, len, err, sizeof err) != 0)
            coordinator__report_error(c, "%s", err);
        coordinator__schedule(c); /* settled once every result is in */
    }
    return true;
}
