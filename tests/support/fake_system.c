/* A recording fake of the running system (coord/system.h), shared by the
 * live layer's unit test and the protocol fuzz target: every operation
 * appends "op args" to calls, and fails with "boom" when its name is the
 * one in `fail`. */
#include "fake_system.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgflo/errors.h"

__attribute__((format(printf, 2, 3))) static void record(struct fake_system *s, const char *fmt,
                                                         ...)
{
    size_t at = strlen(s->calls);
    va_list ap;
    va_start(ap, fmt);
    if (at > 0 && at + 1 < sizeof s->calls)
        s->calls[at++] = '|';
    vsnprintf(s->calls + at, sizeof s->calls - at, fmt, ap);
    va_end(ap);
}

static int outcome(struct fake_system *s, const char *op, char *err, size_t errlen)
{
    if (s->fail && strcmp(s->fail, op) == 0) {
        snprintf(err, errlen, "boom");
        return MSGFLO_EINVAL;
    }
    return 0;
}

static int f_add_node(void *sys, const char *role, const char *component, char *err, size_t n)
{
    record(sys, "add_node %s %s", role, component);
    return outcome(sys, "add_node", err, n);
}

static int f_remove_node(void *sys, const char *role, char *err, size_t n)
{
    record(sys, "remove_node %s", role);
    return outcome(sys, "remove_node", err, n);
}

static int f_add_edge(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                      char *err, size_t n)
{
    record(sys, "add_edge %s.%s %s.%s", sr, sp, tr, tp);
    return outcome(sys, "add_edge", err, n);
}

static int f_remove_edge(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                         char *err, size_t n)
{
    record(sys, "remove_edge %s.%s %s.%s", sr, sp, tr, tp);
    return outcome(sys, "remove_edge", err, n);
}

static int f_add_initial(void *sys, const char *role, const char *port, const json_t *data,
                         char *err, size_t n)
{
    char *d = json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
    record(sys, "add_initial %s.%s %s", role, port, d);
    free(d);
    return outcome(sys, "add_initial", err, n);
}

static int f_remove_initial(void *sys, const char *role, const char *port, char *err, size_t n)
{
    record(sys, "remove_initial %s.%s", role, port);
    return outcome(sys, "remove_initial", err, n);
}

static int f_start(void *sys, char *err, size_t n)
{
    record(sys, "start");
    return outcome(sys, "start", err, n);
}

static int f_stop(void *sys, char *err, size_t n)
{
    record(sys, "stop");
    return outcome(sys, "stop", err, n);
}

static bool f_busy(void *sys)
{
    return ((struct fake_system *)sys)->busy;
}

static int f_send(void *sys, const char *role, const char *port, const json_t *data, char *err,
                  size_t n)
{
    char *d = json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
    record(sys, "send %s.%s %s", role, port, d);
    free(d);
    return outcome(sys, "send", err, n);
}

static int f_watch(void *sys, const char *role, const char *port, char *err, size_t n)
{
    record(sys, "watch %s.%s", role, port);
    return outcome(sys, "watch", err, n);
}

static int f_unwatch(void *sys, const char *role, const char *port, char *err, size_t n)
{
    record(sys, "unwatch %s.%s", role, port);
    return outcome(sys, "unwatch", err, n);
}

static json_t *f_components(void *sys)
{
    struct fake_system *s = sys;
    return json_deep_copy(s->components);
}

static json_t *f_component_source(void *sys, const char *name, char *err, size_t n)
{
    record(sys, "component_source %s", name);
    if (strcmp(name, "core/Repeat") != 0) {
        snprintf(err, n, "Component %s not found", name);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Repeat", "library", "core", "language",
                     "yaml", "code", "component: Repeat\n", "queue", "x");
}

static int f_set_component_source(void *sys, const char *name, const char *language,
                                  const char *code, char *err, size_t n)
{
    record(sys, "set_component_source %s %s %zu", name, language, strlen(code));
    return outcome(sys, "set_component_source", err, n);
}

/* role "a" runs (ours, pid 42, restarted twice, seen 1.5 s ago); others expected */
static void f_role_status(void *sys, const char *role, struct system_role_status *out)
{
    (void)sys;
    bool a = strcmp(role, "a") == 0;
    *out = (struct system_role_status){.state = a ? "running" : "expected",
                                       .ours = a,
                                       .pid = a ? 42 : 0,
                                       .restarts = a ? 2 : 0,
                                       .instances = a,
                                       .last_seen_s = a ? 1.5 : -1};
}

/* edges from "a" are bound and carried 7 messages */
static void f_edge_status(void *sys, const char *sr, const char *sp, const char *tr, const char *tp,
                          bool *bound, unsigned long long *messages)
{
    (void)sys, (void)sp, (void)tr, (void)tp;
    *bound = strcmp(sr, "a") == 0;
    *messages = *bound ? 7 : 0;
}

static void f_counters(void *sys, struct system_counters *out)
{
    (void)sys;
    *out = (struct system_counters){.discovery_messages = 5,
                                    .iips_sent = 1,
                                    .restarts = 2,
                                    .reconnects = 1,
                                    .participants = 1,
                                    .roles = 1,
                                    .processes = 1,
                                    .bindings = 1,
                                    .connected = true};
}

static json_t *f_latest(void *sys, const char *role, const char *port)
{
    (void)role, (void)port;
    struct fake_system *f = sys;
    return json_incref(f->latest);
}

const struct system_ops fake_system_ops = {
    .latest = f_latest,
    .role_status = f_role_status,
    .edge_status = f_edge_status,
    .counters = f_counters,
    .add_node = f_add_node,
    .remove_node = f_remove_node,
    .add_edge = f_add_edge,
    .remove_edge = f_remove_edge,
    .add_initial = f_add_initial,
    .remove_initial = f_remove_initial,
    .start = f_start,
    .stop = f_stop,
    .busy = f_busy,
    .send = f_send,
    .watch = f_watch,
    .unwatch = f_unwatch,
    .components = f_components,
    .component_source = f_component_source,
    .set_component_source = f_set_component_source,
};
