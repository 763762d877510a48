/* The runtime's coordinator (struct system) on real brokers, MQTT and AMQP,
 * with real participant processes (examples/repeat) started from a component
 * library: discovery, edges (bindings + data reports), IIPs (and again after
 * the process is killed and restarted), packets, edge removal, automatic
 * edges, malformed discovery messages, expiry; and transport watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord/coordinator.h"
#include "coord/registry.h"
#include "msgflo/errors.h"
#include "tools/common/session.h"
#include "support.h"

/* --- what the coordinator reports, as lines --------------------------------- */

struct rec {
    json_t *events; /* array of strings */
};

static void add(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct rec *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(r->events, json_string(line));
}

static void ev_data(void *ud, const char *role, const char *port, const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    add(ud, "data %s.%s %s", role, port, text);
    free(text);
}

static void ev_initial(void *ud, const char *role, const char *port, const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    add(ud, "iip %s.%s %s", role, port, text);
    free(text);
}

static void ev_added(void *ud, const char *role, const json_t *def)
{
    add(ud, "added %s %s", role, json_string_value(json_object_get(def, "component")));
}

static void ev_edge(void *ud, const char *sr, const char *sp, const char *tr, const char *tp)
{
    add(ud, "edge %s.%s>%s.%s", sr, sp, tr, tp);
}

static void ev_expired(void *ud, const char *role, const char *message)
{
    add(ud, "expired %s", role);
}

static void ev_process_error(void *ud, const char *role, const char *message)
{
    add(ud, "process_error %s: %s", role, message);
}

static void ev_error(void *ud, const char *message)
{
    add(ud, "error %s", message);
}

static void ev_components(void *ud)
{
    add(ud, "components");
}

static void ev_component(void *ud, const char *name)
{
    add(ud, "component %s", name);
}

static void ev_bound(void *ud, const char *sr, const char *sp, const char *tr, const char *tp,
                     const char *sq, const char *tq, const char *error)
{
    add(ud, "bound %s.%s>%s.%s %s %s%s%s", sr ? sr : "-", sp ? sp : "-", tr ? tr : "-",
        tp ? tp : "-", sq, tq, error ? " refused: " : "", error ? error : "");
}

static void ev_settled(void *ud)
{
    add(ud, "settled");
}

static const struct system_events events = {
    .edge_bound = ev_bound,
    .settled = ev_settled,
    .data = ev_data,
    .initial_sent = ev_initial,
    .participant_added = ev_added,
    .edge_found = ev_edge,
    .participant_expired = ev_expired,
    .process_error = ev_process_error,
    .error = ev_error,
    .components_changed = ev_components,
    .component_changed = ev_component,
};

/* How many recorded lines start with `prefix`. */
static size_t count(const struct rec *r, const char *prefix)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(r->events, i, v)
    {
        n += strncmp(json_string_value(v), prefix, strlen(prefix)) == 0;
    }
    return n;
}

static void run_ms(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* Runs the loop until `n` lines start with prefix (or 20 s pass). */
static void wait_for(uv_loop_t *loop, struct rec *r, const char *prefix, size_t n)
{
    for (int i = 0; i < 4000 && count(r, prefix) < n; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    if (count(r, prefix) < n) {
        char *all = json_dumps(r->events, JSON_INDENT(1));
        fail_msg("waited for %zu x '%s'; events: %s", n, prefix, all);
    }
}

/* --- set-up ------------------------------------------------------------------ */

struct world {
    uv_loop_t loop;
    struct rec rec;
    struct coordinator *c;
    struct system *sys;
    char dir[256];
    char err[512];
};

/* world_open_wait makes the coordinator bind by convention (msgflo-setup's options). */
static bool by_convention;

static void world_open_wait(struct world *w, const char *url, unsigned period_ms, unsigned expiry,
                            unsigned wait_ms)
{
    char prog[1024], lib[3000], path[400];
    snprintf(w->dir, sizeof w->dir, "/tmp/msgflo-coord-test-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    /* the shell wrapper leaves the participant's pid where the test finds it */
    snprintf(lib, sizeof lib,
             "{\"msgflo\":{\"components\":{\"test/Repeat\":"
             "\"echo $$ > %s/#ROLE.pid; exec %s #ROLE\","
             "\"test/Broken\":\"exit 3\"}}}",
             w->dir, support_program("repeat", prog, sizeof prog));
    snprintf(path, sizeof path, "%s/library.json", w->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(lib, f);
    fclose(f);
    char components[400];
    snprintf(components, sizeof components, "%s/participants", w->dir);
    uv_loop_init(&w->loop);
    w->rec.events = json_array();
    const struct coordinator_options o = {
        .broker = url,
        .library_path = path,
        .componentdir = components,
        .shell = "/bin/sh",
        .restart = true,
        .discovery_period_ms = period_ms,
        .expire_periods = expiry,
        .expire_periods_set = true,
        .start_timeout_ms = wait_ms,
        .allow_component_write = true,       /* test_component_source; msgflo's default is false */
        .bind_by_convention = by_convention, /* msgflo-setup's way */
        .edges_unwatched = by_convention,
        .trust_existing = by_convention,
    };
    assert_int_equal(coordinator__new(&w->loop, &o, &w->c, w->err, sizeof w->err), 0);
    w->sys = coordinator__system(w->c);
    w->sys->events = events;
    w->sys->ud = &w->rec;
    for (int i = 0; i < 2000 && !coordinator__connected(w->c); i++)
        run_ms(&w->loop, 5);
    assert_true(coordinator__connected(w->c));
}

static void world_open(struct world *w, const char *url, unsigned period_ms, unsigned expiry)
{
    world_open_wait(w, url, period_ms, expiry, 20000);
}

static void on_closed(void *ud)
{
    *(bool *)ud = true;
}

static void world_close(struct world *w)
{
    bool closed = false;
    coordinator__close(w->c, on_closed, &closed);
    for (int i = 0; i < 4000 && !closed; i++)
        run_ms(&w->loop, 5);
    assert_true(closed);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    json_decref(w->rec.events);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
}

#define OK(call) assert_int_equal((call), 0)

static pid_t read_pid(struct world *w, const char *role)
{
    char path[400], buf[32] = "";
    snprintf(path, sizeof path, "%s/%s.pid", w->dir, role);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    return (pid_t)strtol(buf, NULL, 10);
}

/* --- participants, edges, IIPs, packets --------------------------------------- */

static void check_graph(const char *url)
{
    struct world w;
    world_open(&w, url, 0, 0);
    struct system *s = w.sys;
    char a[64], b[64], line[256];
    support_role("ca", a, sizeof a);
    support_role("cb", b, sizeof b);
    OK(s->ops->add_node(s->self, a, "test/Repeat", w.err, sizeof w.err));
    OK(s->ops->add_node(s->self, b, "test/Repeat", w.err, sizeof w.err));
    assert_true(s->ops->busy(s->self));
    OK(s->ops->add_edge(s->self, a, "out", b, "in", w.err, sizeof w.err));
    OK(s->ops->watch(s->self, b, "out", w.err, sizeof w.err));
    json_t *hello = json_string("hello");
    OK(s->ops->add_initial(s->self, a, "in", hello, w.err, sizeof w.err));
    json_decref(hello);
    /* a packet before discovery is kept until the role is there */
    json_t *packet = json_pack("{s:i}", "x", 1);
    OK(s->ops->send(s->self, a, "in", packet, w.err, sizeof w.err));
    json_decref(packet);
    assert_int_equal(count(&w.rec, ""), 0); /* ops never report from within */

    /* the packet went to a as soon as it was discovered */
    snprintf(line, sizeof line, "data %s.out {\"x\":1}", a);
    wait_for(&w.loop, &w.rec, line, 1);
    snprintf(line, sizeof line, "added %s c/Repeat", a);
    assert_int_equal(count(&w.rec, line), 1);
    snprintf(line, sizeof line, "added %s c/Repeat", b);
    wait_for(&w.loop, &w.rec, line, 1);
    /* one definition, two roles: told once as discovered (c/Repeat), once as
     * the library's component of the nodes (test/Repeat) */
    assert_int_equal(count(&w.rec, "component test/Repeat"), 1);
    assert_int_equal(count(&w.rec, "component c/Repeat"), 1);
    assert_int_equal(count(&w.rec, "component "), 2);
    for (int i = 0; i < 400 && s->ops->busy(s->self); i++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self)); /* bound, and MQTT's forwarding subscribed */

    /* IIPs only once started */
    assert_int_equal(count(&w.rec, "iip "), 0);
    OK(s->ops->start(s->self, w.err, sizeof w.err));
    snprintf(line, sizeof line, "iip %s.in \"hello\"", a);
    wait_for(&w.loop, &w.rec, line, 1);
    snprintf(line, sizeof line, "data %s.out \"hello\"", b);
    wait_for(&w.loop, &w.rec, line, 1);
    assert_false(s->ops->busy(s->self));

    /* components: the library's, with the discovered ports */
    json_t *comps = s->ops->components(s->self);
    size_t i;
    json_t *comp;
    bool found = false;
    json_array_foreach(comps, i, comp)
    {
        if (strcmp(json_string_value(json_object_get(comp, "name")), "test/Repeat") == 0) {
            found = true;
            assert_int_equal(json_array_size(json_object_get(comp, "inports")), 1);
        }
    }
    assert_true(found);
    json_decref(comps);
    json_t *src = s->ops->component_source(s->self, "test/Repeat", w.err, sizeof w.err);
    assert_non_null(src);
    assert_string_equal(json_string_value(json_object_get(src, "language")), "discovery");
    json_decref(src);

    /* killed: restarted by the supervisor, a new instance, the IIP again */
    assert_int_equal(kill(read_pid(&w, a), SIGKILL), 0);
    snprintf(line, sizeof line, "process_error %s: participant '%s' was killed by signal 9", a, a);
    wait_for(&w.loop, &w.rec, line, 1);
    snprintf(line, sizeof line, "added %s c/Repeat", a);
    wait_for(&w.loop, &w.rec, line, 2);
    snprintf(line, sizeof line, "iip %s.in \"hello\"", a);
    wait_for(&w.loop, &w.rec, line, 2);
    snprintf(line, sizeof line, "data %s.out \"hello\"", b);
    wait_for(&w.loop, &w.rec, line, 2);

    /* edge removed: a's output no longer reaches b */
    OK(s->ops->watch(s->self, a, "out", w.err, sizeof w.err));
    OK(s->ops->remove_edge(s->self, a, "out", b, "in", w.err, sizeof w.err));
    assert_true(s->ops->busy(s->self)); /* unbound on the next loop turn */
    for (int k = 0; k < 400 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self));
    packet = json_string("after");
    OK(s->ops->send(s->self, a, "in", packet, w.err, sizeof w.err));
    json_decref(packet);
    snprintf(line, sizeof line, "data %s.out \"after\"", a);
    wait_for(&w.loop, &w.rec, line, 1);
    run_ms(&w.loop, 700);
    snprintf(line, sizeof line, "data %s.out \"after\"", b);
    assert_int_equal(count(&w.rec, line), 0);
    /* and added again: it binds again */
    OK(s->ops->add_edge(s->self, a, "out", b, "in", w.err, sizeof w.err));
    for (int k = 0; k < 400 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    packet = json_string("again");
    OK(s->ops->send(s->self, a, "in", packet, w.err, sizeof w.err));
    json_decref(packet);
    snprintf(line, sizeof line, "data %s.out \"again\"", b);
    wait_for(&w.loop, &w.rec, line, 1);

    /* removing a node stops its process; added again at once, a new process
     * starts once the old one is gone */
    pid_t pid = read_pid(&w, b);
    OK(s->ops->remove_node(s->self, b, w.err, sizeof w.err));
    OK(s->ops->add_node(s->self, b, "test/Repeat", w.err, sizeof w.err));
    for (int k = 0; k < 2000 && kill(pid, 0) == 0; k++)
        run_ms(&w.loop, 5);
    assert_int_not_equal(kill(pid, 0), 0);
    snprintf(line, sizeof line, "added %s c/Repeat", b);
    wait_for(&w.loop, &w.rec, line, 2);
    assert_int_not_equal(read_pid(&w, b), pid);
    assert_int_equal(count(&w.rec, "error "), 0);

    /* a process that exits before it is ready */
    char z[64];
    support_role("cz", z, sizeof z);
    OK(s->ops->add_node(s->self, z, "test/Broken", w.err, sizeof w.err));
    snprintf(line, sizeof line, "process_error %s: participant '%s'", z, z);
    wait_for(&w.loop, &w.rec, line, 1);

    /* closing stops the processes it started */
    pid_t pa = read_pid(&w, a), pb = read_pid(&w, b);
    world_close(&w);
    assert_int_not_equal(kill(pa, 0), 0);
    assert_int_not_equal(kill(pb, 0), 0);
}

static void test_graph_mqtt(void **state)
{
    check_graph(support_broker("MSGFLO_TEST_MQTT"));
}

static void test_graph_amqp(void **state)
{
    check_graph(support_broker("MSGFLO_TEST_AMQP"));
}

/* The broker restarts: lost and back reported, counted as one reconnect, the
 * edge bound again (MQTT: forwarding subscribed again) and the watches
 * re-established (the last message on one kept for system_ops.latest). */
static void check_reconnect(const char *url, const char *restart)
{
    struct world w;
    world_open(&w, url, 0, 0);
    struct system *s = w.sys;
    char a[64], b[64], line[256];
    support_role("ra", a, sizeof a);
    support_role("rb", b, sizeof b);
    OK(s->ops->add_node(s->self, a, "test/Repeat", w.err, sizeof w.err));
    OK(s->ops->add_node(s->self, b, "test/Repeat", w.err, sizeof w.err));
    OK(s->ops->add_edge(s->self, a, "out", b, "in", w.err, sizeof w.err));
    OK(s->ops->watch(s->self, b, "out", w.err, sizeof w.err));
    for (int k = 0; k < 4000 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self));
    struct system_counters before, after;
    s->ops->counters(s->self, &before);
    assert_true(before.connected);
    assert_int_equal(support_brokers(restart), 0);
    wait_for(&w.loop, &w.rec, "error broker connection lost", 1);
    wait_for(&w.loop, &w.rec, "error broker connection back", 1);
    /* what /metrics reports as msgflo_broker_reconnects_total */
    s->ops->counters(s->self, &after);
    assert_true(after.connected);
    assert_int_equal(after.reconnects, before.reconnects + 1);
    for (int k = 0; k < 4000 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self));
    /* the participants reconnect by themselves; send until one gets through */
    json_t *packet = json_string("back");
    snprintf(line, sizeof line, "data %s.out \"back\"", b);
    for (int k = 0; k < 40 && count(&w.rec, line) == 0; k++) {
        OK(s->ops->send(s->self, a, "in", packet, w.err, sizeof w.err));
        run_ms(&w.loop, 250);
    }
    json_decref(packet);
    wait_for(&w.loop, &w.rec, line, 1);
    /* the last message on the watched port, kept as bytes (system_ops.latest) */
    json_t *last = s->ops->latest(s->self, b, "out");
    assert_non_null(last);
    assert_string_equal(json_string_value(last), "back");
    json_decref(last);
    assert_null(s->ops->latest(s->self, b, "nope"));
    world_close(&w);
}

static void test_reconnect_mqtt(void **state)
{
    check_reconnect(support_broker("MSGFLO_TEST_MQTT"), "restart-mqtt");
}

static void test_reconnect_amqp(void **state)
{
    check_reconnect(support_broker("MSGFLO_TEST_AMQP"), "restart-amqp");
}

/* Components from source: written to the component directory, found by the
 * library with its handler, their text given back. */
static void test_component_source(void **state)
{
    struct world w;
    world_open(&w, support_broker("MSGFLO_TEST_MQTT"), 0, 0);
    struct system *s = w.sys;
    const char *code = "print('hi')\n";
    OK(s->ops->set_component_source(s->self, "test/Hello", "python", code, w.err, sizeof w.err));
    assert_int_equal(s->ops->set_component_source(s->self, "x/Y", "cobol", "", w.err, sizeof w.err),
                     MSGFLO_EINVAL);
    assert_non_null(strstr(w.err, "cobol"));
    /* Names that would leave the component directory or hide the file. */
    const char *bad[] = {"../../pwn", "test/../../pwn", "a/b/c", ".hidden", "test/.bashrc", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(
            s->ops->set_component_source(s->self, bad[k], "python", code, w.err, sizeof w.err),
            MSGFLO_EINVAL);
        assert_non_null(strstr(w.err, bad[k][0] ? "invalid component name" : "needs a name"));
    }
    char pwn[600];
    snprintf(pwn, sizeof pwn, "%s/pwn.py", w.dir);
    assert_int_equal(access(pwn, F_OK), -1);
    /* A symlink planted at the temporary name is not followed. */
    char target[600], link[600];
    snprintf(target, sizeof target, "%s/target", w.dir);
    snprintf(link, sizeof link, "%s/participants/Evil.py.tmp", w.dir);
    FILE *t = fopen(target, "w");
    assert_non_null(t);
    fputs("keep", t);
    fclose(t);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(
        s->ops->set_component_source(s->self, "test/Evil", "python", code, w.err, sizeof w.err),
        MSGFLO_ESYS);
    assert_non_null(strstr(w.err, "Evil.py.tmp"));
    char kept[16] = "";
    t = fopen(target, "r");
    assert_non_null(t);
    assert_non_null(fgets(kept, sizeof kept, t));
    fclose(t);
    assert_string_equal(kept, "keep");
    wait_for(&w.loop, &w.rec, "components", 1);
    json_t *src = s->ops->component_source(s->self, "test/Hello", w.err, sizeof w.err);
    assert_non_null(src);
    assert_string_equal(json_string_value(json_object_get(src, "name")), "Hello");
    assert_string_equal(json_string_value(json_object_get(src, "language")), "python");
    assert_string_equal(json_string_value(json_object_get(src, "code")), code);
    json_decref(src);
    json_t *comps = s->ops->components(s->self);
    size_t i;
    json_t *comp;
    bool found = false;
    json_array_foreach(comps, i, comp)
    {
        found |= strcmp(json_string_value(json_object_get(comp, "name")), "Hello") == 0;
    }
    json_decref(comps);
    assert_true(found);
    assert_null(s->ops->component_source(s->self, "nope/Nope", w.err, sizeof w.err));
    assert_non_null(strstr(w.err, "nope/Nope"));
    world_close(&w);
}

/* No broker given: the embedded one, stopped on close. */
static void test_embedded_broker(void **state)
{
    struct world w;
    world_open(&w, NULL, 0, 0);
    const char *url = coordinator__broker_url(w.c);
    assert_non_null(url);
    assert_int_equal(strncmp(url, "mqtt://127.0.0.1:", 17), 0);
    char a[64], line[256];
    support_role("ce", a, sizeof a);
    OK(w.sys->ops->add_node(w.sys->self, a, "test/Repeat", w.err, sizeof w.err));
    snprintf(line, sizeof line, "added %s c/Repeat", a);
    wait_for(&w.loop, &w.rec, line, 1);
    world_close(&w);
}

/* --- discovery: automatic edges, bad messages, expiry --------------------------- */

struct announcer {
    bool amqp;
    struct mqtt_client m;
    struct amqp_client a;
};

static void announce(struct announcer *an, const char *text)
{
    if (an->amqp)
        OK(amqp_client_send(&an->a, "fbp", text));
    else
        OK(mqtt_client_publish(&an->m, "fbp", text));
}

static void announce_participant(struct announcer *an, const char *id, const char *role,
                                 const char *inq, const char *outq)
{
    json_t *msg = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}}",
                            "protocol", "discovery", "command", "participant", "payload", "id", id,
                            "role", role, "component", "test/Fake", "inports", "id", "in", "queue",
                            inq, "outports", "id", "out", "queue", outq);
    char *text = json_dumps(msg, JSON_COMPACT);
    announce(an, text);
    free(text);
    json_decref(msg);
}

static void check_discovery(const char *url, bool amqp)
{
    /* Announcements an earlier test left in the durable fbp queue (a
     * participant of test_guv's) would be taken in first and counted. */
    if (amqp)
        amqp_client_purge(url, "fbp");
    struct world w;
    world_open(&w, url, 200, 2); /* expires after 400 ms unseen */
    struct announcer an = {.amqp = amqp};
    if (amqp)
        OK(amqp_client_open(&an.a, url));
    else
        OK(mqtt_client_open(&an.m, url));
    char x[64], y[64], q[128], line[256];
    support_role("cx", x, sizeof x);
    support_role("cy", y, sizeof y);
    snprintf(q, sizeof q, "%s.shared", x);

    /* bad messages are dropped; the next good one is taken */
    announce(&an, "not json {");
    announce(&an,
             "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":1}}");
    announce_participant(&an, "x-1", x, "x.in", q);
    snprintf(line, sizeof line, "added %s test/Fake", x);
    wait_for(&w.loop, &w.rec, line, 1);
    assert_int_equal(count(&w.rec, "added "), 1);

    /* y consumes what x publishes: an automatic edge */
    announce_participant(&an, "y-1", y, q, "y.out");
    snprintf(line, sizeof line, "edge %s.out>%s.in", x, y);
    wait_for(&w.loop, &w.rec, line, 1);
    announce_participant(&an, "y-1", y, q, "y.out"); /* the same again: nothing new */
    run_ms(&w.loop, 100);
    assert_int_equal(count(&w.rec, "edge "), 1);
    assert_int_equal(count(&w.rec, "added "), 2);

    /* neither announces again: both expire */
    snprintf(line, sizeof line, "expired %s", x);
    wait_for(&w.loop, &w.rec, line, 1);
    snprintf(line, sizeof line, "expired %s", y);
    wait_for(&w.loop, &w.rec, line, 1);
    json_t *def = NULL;
    assert_int_equal(registry__role(coordinator__registry(w.c), x, &def), MSGFLO_ENOPORT);
    assert_null(def);
    if (amqp)
        amqp_client_close(&an.a);
    else
        mqtt_client_close(&an.m);
    world_close(&w);
}

static void test_discovery_mqtt(void **state)
{
    check_discovery(support_broker("MSGFLO_TEST_MQTT"), false);
}

static void test_discovery_amqp(void **state)
{
    check_discovery(support_broker("MSGFLO_TEST_AMQP"), true);
}

/* A role announcing another inport queue: the edge's binding moves to it. */
static void check_rebind(const char *url, bool amqp)
{
    struct world w;
    world_open(&w, url, 0, 0);
    struct announcer an = {.amqp = amqp};
    if (amqp)
        OK(amqp_client_open(&an.a, url));
    else
        OK(mqtt_client_open(&an.m, url));
    char x[64], y[64], xo[128], yi1[128], yi2[128], line[256];
    support_role("mx", x, sizeof x);
    support_role("my", y, sizeof y);
    snprintf(xo, sizeof xo, "%s/out", x);
    snprintf(yi1, sizeof yi1, "%s/in1", y);
    snprintf(yi2, sizeof yi2, "%s/in2", y);
    announce_participant(&an, "mx-1", x, "mx/in", xo);
    announce_participant(&an, "my-1", y, yi1, "my/out");
    snprintf(line, sizeof line, "added %s", y);
    wait_for(&w.loop, &w.rec, line, 1);
    struct system *s = w.sys;
    OK(s->ops->add_edge(s->self, x, "out", y, "in", w.err, sizeof w.err));
    for (int k = 0; k < 2000 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self));
    if (!amqp)
        OK(mqtt_client_subscribe(&an.m, yi2));
    announce_participant(&an, "my-1", y, yi2, "my/out");
    char *q = NULL;
    for (int k = 0; k < 2000; k++) {
        free(q);
        OK(registry__queue(coordinator__registry(w.c), y, true, "in", &q, NULL));
        if (strcmp(q, yi2) == 0)
            break;
        run_ms(&w.loop, 5);
    }
    assert_string_equal(q, yi2);
    free(q);
    for (int k = 0; k < 2000 && s->ops->busy(s->self); k++)
        run_ms(&w.loop, 5);
    assert_false(s->ops->busy(s->self));
    if (amqp) {
        assert_int_equal(amqp_basic_publish(an.a.conn, 1, amqp_cstring_bytes(xo), amqp_empty_bytes,
                                            false, false, NULL, amqp_cstring_bytes("moved")),
                         AMQP_STATUS_OK);
        for (int k = 0; k < 400 && amqp_client_count(&an.a, yi2) < 1; k++)
            run_ms(&w.loop, 5);
        assert_int_equal(amqp_client_count(&an.a, yi2), 1);
        assert_int_equal(amqp_client_count(&an.a, yi1), 0); /* the old binding is gone */
        assert_int_equal(amqp_basic_publish(an.a.conn, 1, amqp_cstring_bytes(xo), amqp_empty_bytes,
                                            false, false, NULL,
                                            amqp_cstring_bytes("not json \xff")),
                         AMQP_STATUS_OK);
        amqp_client_close(&an.a);
    } else {
        OK(mqtt_client_publish(&an.m, xo, "moved"));
        char *got = NULL;
        for (int k = 0; k < 200 && !got; k++) {
            run_ms(&w.loop, 10); /* the coordinator forwards */
            got = mqtt_client_wait(&an.m, yi2, 10);
        }
        assert_non_null(got);
        assert_string_equal(got, "moved");
        free(got);
        OK(mqtt_client_publish(&an.m, xo, "not json \xff"));
        mqtt_client_close(&an.m);
    }
    /* data that is not JSON (nor UTF-8) is reported as a string of its bytes */
    snprintf(line, sizeof line, "data %s.out \"not json \xc3\xbf\"", x);
    wait_for(&w.loop, &w.rec, line, 1);
    world_close(&w);
}

static void test_rebind_mqtt(void **state)
{
    check_rebind(support_broker("MSGFLO_TEST_MQTT"), false);
}

static void test_rebind_amqp(void **state)
{
    check_rebind(support_broker("MSGFLO_TEST_AMQP"), true);
}

/* AMQP: a binding the broker refuses (the target queue exists with other
 * arguments) is reported once, not retried on every reconnect. */
static void test_binding_refused_amqp(void **state)
{
    const char *url = support_broker("MSGFLO_TEST_AMQP");
    struct world w;
    world_open(&w, url, 0, 0);
    struct announcer an = {.amqp = true};
    OK(amqp_client_open(&an.a, url));
    char x[64], y[64], xq[128], yq[128], line[512];
    support_role("fx", x, sizeof x);
    support_role("fy", y, sizeof y);
    snprintf(xq, sizeof xq, "%s.OUT", x);
    snprintf(yq, sizeof yq, "%s.IN", y);
    OK(amqp_client_declare_plain(&an.a, yq)); /* no dead-letter argument */
    announce_participant(&an, "fx-1", x, "fx.in", xq);
    announce_participant(&an, "fy-1", y, yq, "fy.out");
    struct system *s = w.sys;
    OK(s->ops->add_edge(s->self, x, "out", y, "in", w.err, sizeof w.err));
    snprintf(line, sizeof line, "error binding %s.out -> %s.in", x, y);
    wait_for(&w.loop, &w.rec, line, 1);
    run_ms(&w.loop, 1500);
    assert_int_equal(count(&w.rec, line), 1);
    /* the refusal closed only a channel of the topology batch (transport_topology) */
    assert_int_equal(count(&w.rec, "error broker connection lost"), 0);
    assert_false(s->ops->busy(s->self)); /* a refused edge is not waited for */
    snprintf(line, sizeof line, "bound %s.out>%s.in %s %s refused: ", x, y, xq, yq);
    assert_int_equal(count(&w.rec, line), 1);
    amqp_client_close(&an.a);
    world_close(&w);
}

/* msgflo-setup's way: edges bound at once by convention (no participant
 * anywhere), each binding's result reported, then `settled`; an IIP whose
 * role never appears is waited for the wait timeout only. */
static void check_convention(const char *url)
{
    struct world w;
    by_convention = true;
    world_open_wait(&w, url, 0, 0, 3000);
    by_convention = false;
    char x[64], y[64], line[512];
    support_role("vx", x, sizeof x);
    support_role("vy", y, sizeof y);
    struct system *s = w.sys;
    OK(s->ops->add_edge(s->self, x, "out", y, "in", w.err, sizeof w.err));
    json_t *data = json_string("hello");
    OK(s->ops->add_initial(s->self, y, "in", data, w.err, sizeof w.err));
    json_decref(data);
    OK(s->ops->start(s->self, w.err, sizeof w.err));
    snprintf(line, sizeof line, "bound %s.out>%s.in %s.OUT %s.IN", x, y, x, y);
    wait_for(&w.loop, &w.rec, line, 1);
    assert_int_equal(count(&w.rec, "settled"), 0); /* the IIP waits for its role */
    wait_for(&w.loop, &w.rec, "settled", 1);
    assert_false(s->ops->busy(s->self));
    assert_int_equal(count(&w.rec, "iip "), 0);
    assert_int_equal(count(&w.rec, "data "), 0); /* edges unwatched */
    run_ms(&w.loop, 300);
    assert_int_equal(count(&w.rec, "settled"), 1); /* once */
    world_close(&w);
}

static void test_convention_mqtt(void **state)
{
    check_convention(support_broker("MSGFLO_TEST_MQTT"));
}

static void test_convention_amqp(void **state)
{
    check_convention(support_broker("MSGFLO_TEST_AMQP"));
}

/* --- transport watches ---------------------------------------------------------- */

struct watch_ctx {
    bool connected;
    json_t *got; /* ["queue payload"] */
};

static void w_connected(struct session *s, void *ud)
{
    ((struct watch_ctx *)ud)->connected = true;
}

static void w_message(struct session *s, const char *queue, const struct transport_delivery *d,
                      const void *data, size_t len, void *ud)
{
    struct watch_ctx *c = ud;
    char line[512];
    snprintf(line, sizeof line, "%s %.*s", queue, (int)len, (const char *)data);
    json_array_append_new(c->got, json_string(line));
}

static void on_subscribed(void *arg)
{
    *(bool *)arg = true;
}

static void check_watch(const char *url)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct watch_ctx c = {.got = json_array()};
    struct session *s;
    char err[256], topic[128], expect[256];
    static const struct session_events ev = {.connected = w_connected, .message = w_message};
    OK(session__new(&loop, url, "test-watch", 0, &ev, &c, &s, err, sizeof err));
    OK(session__start(s, 10000));
    for (int i = 0; i < 2000 && !c.connected; i++)
        run_ms(&loop, 5);
    assert_true(c.connected);
    struct transport *t = session__transport(s);
    support_role("cw", topic, sizeof topic);
    strncat(topic, ".OUT", sizeof topic - strlen(topic) - 1);
    /* another consumer of the outqueue keeps getting everything: the watch
     * takes nothing away */
    bool amqp = transport_has_bindings(t);
    struct mqtt_client m;
    struct amqp_client a;
    if (amqp) {
        OK(amqp_client_open(&a, url));
        OK(amqp_client_declare_fanout(&a, topic));
        OK(amqp_client_watch(&a, topic));
    } else {
        OK(mqtt_client_open(&m, url));
        OK(mqtt_client_subscribe(&m, topic));
    }
    OK(transport_watch(t, topic));
    bool subscribed = false;
    OK(transport_when_subscribed(t, on_subscribed, &subscribed));
    for (int i = 0; i < 2000 && !subscribed; i++)
        run_ms(&loop, 5);
    assert_true(subscribed);
    OK(transport_publish(t, topic, "one", 3));
    snprintf(expect, sizeof expect, "%s one", topic);
    for (int i = 0; i < 2000 && json_array_size(c.got) == 0; i++)
        run_ms(&loop, 5);
    assert_int_equal(json_array_size(c.got), 1);
    assert_string_equal(json_string_value(json_array_get(c.got, 0)), expect);
    char *other = amqp ? amqp_client_wait(&a, 5000) : mqtt_client_wait(&m, topic, 5000);
    assert_non_null(other);
    assert_string_equal(other, "one");
    free(other);
    OK(transport_unwatch(t, topic));
    OK(transport_unwatch(t, topic)); /* not watched: no error */
    run_ms(&loop, 300);
    OK(transport_publish(t, topic, "two", 3));
    run_ms(&loop, 500);
    assert_int_equal(json_array_size(c.got), 1);
    if (!amqp) {
        /* MQTT: a watch taken back on a topic the connection also reads for
         * another reason (a forwarding) leaves that subscription alone */
        OK(transport_subscribe(t, topic));
        OK(transport_watch(t, topic));
        subscribed = false;
        OK(transport_when_subscribed(t, on_subscribed, &subscribed));
        for (int i = 0; i < 2000 && !subscribed; i++)
            run_ms(&loop, 5);
        assert_true(subscribed);
        OK(transport_unwatch(t, topic));
        run_ms(&loop, 300);
        OK(transport_publish(t, topic, "three", 5));
        for (int i = 0; i < 2000 && json_array_size(c.got) < 2; i++)
            run_ms(&loop, 5);
        assert_int_equal(json_array_size(c.got), 2);
        snprintf(expect, sizeof expect, "%s three", topic);
        assert_string_equal(json_string_value(json_array_get(c.got, 1)), expect);
    }
    if (amqp) {
        /* AMQP: a watch taken back before the broker named its private queue
         * (the declaration is not waited for) is never started; the next is */
        OK(transport_watch(t, topic));
        OK(transport_unwatch(t, topic));
        OK(transport_watch(t, topic));
        subscribed = false;
        OK(transport_when_subscribed(t, on_subscribed, &subscribed));
        for (int i = 0; i < 2000 && !subscribed; i++)
            run_ms(&loop, 5);
        assert_true(subscribed);
        OK(transport_publish(t, topic, "three", 5));
        for (int i = 0; i < 2000 && json_array_size(c.got) < 2; i++)
            run_ms(&loop, 5);
        run_ms(&loop, 300);
        assert_int_equal(json_array_size(c.got), 2); /* once: one watch */
        snprintf(expect, sizeof expect, "%s three", topic);
        assert_string_equal(json_string_value(json_array_get(c.got, 1)), expect);
        OK(transport_unwatch(t, topic));
    }
    if (amqp)
        amqp_client_close(&a);
    else
        mqtt_client_close(&m);
    session__finish(s, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    session__free(s);
    uv_loop_close(&loop);
    json_decref(c.got);
}

static void test_watch_mqtt(void **state)
{
    check_watch(support_broker("MSGFLO_TEST_MQTT"));
}

static void test_watch_amqp(void **state)
{
    check_watch(support_broker("MSGFLO_TEST_AMQP"));
}

/* A packet for a role that is never discovered is dropped (and reported) once
 * the wait timeout has passed, so the queue does not grow without end and the
 * system is not busy for ever. */
static void test_packet_undiscovered_mqtt(void **state)
{
    (void)state;
    struct world w;
    world_open_wait(&w, support_broker("MSGFLO_TEST_MQTT"), 0, 0, 300);
    struct system *s = w.sys;
    char role[64], line[256];
    support_role("nobody", role, sizeof role);
    /* no library component: expected to run elsewhere, never started */
    OK(s->ops->add_node(s->self, role, "test/Elsewhere", w.err, sizeof w.err));
    json_t *data = json_integer(7);
    OK(s->ops->send(s->self, role, "in", data, w.err, sizeof w.err));
    OK(s->ops->send(s->self, role, "in", data, w.err, sizeof w.err));
    json_decref(data);
    assert_true(s->ops->busy(s->self));
    snprintf(line, sizeof line, "error packet to %s.in dropped", role);
    wait_for(&w.loop, &w.rec, line, 2);
    assert_false(s->ops->busy(s->self));
    /* the role never seen is said once (a warning too), not only under DEBUG */
    snprintf(line, sizeof line, "error participant '%s' not seen within", role);
    wait_for(&w.loop, &w.rec, line, 1);
    run_ms(&w.loop, 400);
    assert_int_equal(count(&w.rec, line), 1);
    world_close(&w);
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_MQTT") || !support_broker("MSGFLO_TEST_AMQP")) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_watch_mqtt),           SUPPORT_TEST(test_watch_amqp),
        SUPPORT_TEST(test_discovery_mqtt),       SUPPORT_TEST(test_discovery_amqp),
        SUPPORT_TEST(test_graph_mqtt),           SUPPORT_TEST(test_graph_amqp),
        SUPPORT_TEST(test_embedded_broker),      SUPPORT_TEST(test_reconnect_mqtt),
        SUPPORT_TEST(test_reconnect_amqp),       SUPPORT_TEST(test_component_source),
        SUPPORT_TEST(test_binding_refused_amqp), SUPPORT_TEST(test_rebind_mqtt),
        SUPPORT_TEST(test_rebind_amqp),          SUPPORT_TEST(test_packet_undiscovered_mqtt),
        SUPPORT_TEST(test_convention_mqtt),      SUPPORT_TEST(test_convention_amqp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
