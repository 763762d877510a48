/* msgflo-setup, msgflo-send-message and msgflo-dump-message on real brokers:
 * participants from a component library, pubsub forwarding on MQTT, IIPs,
 * roundrobin with dead-lettering and fan-out/fan-in on RabbitMQ, a refused
 * binding named while the others are made, clean stop. */
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

#include "support.h"

static const char *mqtt_url, *amqp_url;

/* A temporary folder with a graph, a component library and a component dir
 * holding the Repeat example as an executable component. */
struct workdir {
    char dir[256];
    char graph[300];
    char library[300];
    char components[300];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_workdir(struct workdir *w, const char *graph_text)
{
    char prog[1024], fixture[1024], link[400], lib[3000];
    snprintf(w->dir, sizeof w->dir, "/tmp/msgflo-setup-test-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->graph, sizeof w->graph, "%s/graph.fbp", w->dir);
    snprintf(w->library, sizeof w->library, "%s/library.json", w->dir);
    snprintf(w->components, sizeof w->components, "%s/participants", w->dir);
    write_file(w->graph, graph_text);
    assert_int_equal(mkdir(w->components, 0755), 0);
    snprintf(link, sizeof link, "%s/Repeat", w->components);
    assert_int_equal(symlink(support_program("repeat", prog, sizeof prog), link), 0);
    snprintf(lib, sizeof lib, "{\"msgflo\":{\"components\":{\"test/Nacker\":\"%s #ROLE - nack\"}}}",
             support_program("fixture", fixture, sizeof fixture));
    write_file(w->library, lib);
}

static void remove_workdir(struct workdir *w)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
}

static void read_until(struct child *c, const char *last, char *seen, size_t len);

static void start_setup_with(struct child *c, struct workdir *w, const char *url, bool forever,
                             const char *extra)
{
    char prog[1024];
    char *argv[] = {(char *)support_program("msgflo-setup", prog, sizeof prog),
                    "--broker",
                    (char *)url,
                    "--participants",
                    "--library",
                    w->library,
                    "--componentdir",
                    w->components,
                    "--timeout",
                    "20",
                    forever ? "--forever" : "--forever=false",
                    (char *)(extra ? extra : w->graph),
                    extra ? w->graph : NULL,
                    NULL};
    assert_int_equal(child_start(c, argv), 0);
}

static void start_setup(struct child *c, struct workdir *w, const char *url, bool forever)
{
    start_setup_with(c, w, url, forever, NULL);
}

static void add_component(struct workdir *w, const char *name, const char *text, mode_t mode)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", w->components, name);
    write_file(path, text);
    assert_int_equal(chmod(path, mode), 0);
}

/* msgflo-register (the .yml handler) must be found in PATH. */
static void tools_in_path(void)
{
    char prog[1024], path[4096];
    support_program("msgflo-register", prog, sizeof prog);
    char *slash = strrchr(prog, '/');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(path, sizeof path, "%s:%s", prog, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
}

/* A foreign device registered from YAML (the .yml handler runs msgflo-register)
 * announces a custom topic; --discover binds from it. */
static void test_mqtt_discover_foreign_device(void **state)
{
    struct workdir w;
    make_workdir(&w, "sw(Switch) STATE -> IN lamp(Repeat)\n");
    add_component(&w, "Switch.yml",
                  "component: iot/Switch\nlabel: A wall switch\n"
                  "outports:\n  state:\n    queue: /devices/#ROLE/state\n    type: boolean\n",
                  0644);
    tools_in_path();
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "lamp.OUT"), 0);
    struct child c;
    char seen[4096] = "";
    start_setup_with(&c, &w, mqtt_url, true, "--discover");
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);
    assert_non_null(strstr(seen, "Set up bindings:\n PUBSUB: \t /devices/sw/state -> lamp.IN\n"));
    assert_int_equal(mqtt_client_publish(&mc, "/devices/sw/state", "true"), 0);
    char *got = mqtt_client_wait(&mc, "lamp.OUT", 5000);
    assert_non_null(got);
    assert_string_equal(got, "true");
    free(got);
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    mqtt_client_close(&mc);
    remove_workdir(&w);
}

/* --discover says every few seconds which roles it waits for, and names the
 * roles that never announced themselves. */
static void test_discover_timeout_names_missing(void **state)
{
    struct workdir w;
    make_workdir(&w, "da(Repeat) OUT -> IN ghost(Repeat)\n");
    char prog[1024], cmd[2048];
    snprintf(cmd, sizeof cmd, "exec '%s' --broker '%s' --discover --timeout 6 '%s' 2>&1",
             support_program("msgflo-setup", prog, sizeof prog), amqp_url, w.graph);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    char seen[4096] = "";
    size_t used = 0;
    while (child_read_line(&c, 20000)) {
        int n = snprintf(seen + used, sizeof seen - used, "%s\n", c.line);
        if (n > 0 && (size_t)n < sizeof seen - used)
            used += (size_t)n;
    }
    assert_int_equal(child_wait(&c, 20000), 1);
    if (!strstr(seen, "msgflo-setup: waiting for da, ghost (5 s)\n") ||
        !strstr(seen, "msgflo-setup: participant discovery timed out; never seen: da, ghost\n"))
        fail_msg("output:\n%s", seen);
    remove_workdir(&w);
}

/* Under --forever a crashed participant is restarted and works again. */
static void test_forever_restarts_crashed(void **state)
{
    struct workdir w;
    make_workdir(&w, "flaky(Flaky) OUT -> IN after(Repeat)\n");
    char prog[1024], script[2048];
    support_program("repeat", prog, sizeof prog);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "# the first run starts like a participant, then crashes\n"
             "if [ ! -e '%s/ran' ]; then touch '%s/ran'; echo started; sleep 1; exit 3; fi\n"
             "exec '%s' \"$1\"\n",
             w.dir, w.dir, prog);
    add_component(&w, "Flaky", script, 0755);
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "after.OUT"), 0);
    struct child c;
    char seen[4096] = "";
    start_setup(&c, &w, mqtt_url, true);
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);
    char *got = NULL;
    for (int i = 0; i < 40 && !got; i++) { /* until the restarted one answers */
        assert_int_equal(mqtt_client_publish(&mc, "flaky.IN", "again"), 0);
        got = mqtt_client_wait(&mc, "after.OUT", 250);
    }
    assert_non_null(got);
    assert_string_equal(got, "again");
    free(got);
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    mqtt_client_close(&mc);
    remove_workdir(&w);
}

/* Reads setup's stdout until `last`; the lines seen are appended to `seen`. */
static void read_until(struct child *c, const char *last, char *seen, size_t len)
{
    size_t used = strlen(seen);
    for (;;) {
        if (!child_read_line(c, 30000))
            fail_msg("msgflo-setup stopped before printing '%s'; saw:\n%s", last, seen);
        int n = snprintf(seen + used, len - used, "%s\n", c->line);
        if (n > 0 && (size_t)n < len - used)
            used += (size_t)n;
        if (strcmp(c->line, last) == 0)
            return;
    }
}

static void test_mqtt_participants_forwarding_iips(void **state)
{
    struct workdir w;
    make_workdir(&w, "{\"hello\":1} -> IN sa(Repeat)\n'text' -> IN sa\nsa OUT -> IN sb(Repeat)\n");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "sb.OUT"), 0);

    struct child c;
    char seen[4096] = "";
    start_setup(&c, &w, mqtt_url, true);
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);
    assert_non_null(strstr(seen, "Set up participants [ 'sa', 'sb' ]\n"));
    assert_non_null(strstr(seen, "Set up bindings:\n PUBSUB: \t sa.OUT -> sb.IN\n"));

    /* the IIPs went into sa, through sa, and were forwarded to sb; as JSON,
     * like the original (a string IIP arrives as a JSON string) */
    char *got = mqtt_client_wait(&mc, "sb.OUT", 10000);
    assert_non_null(got);
    assert_string_equal(got, "{\"hello\":1}");
    free(got);
    got = mqtt_client_wait(&mc, "sb.OUT", 10000);
    assert_non_null(got);
    assert_string_equal(got, "\"text\"");
    free(got);
    assert_int_equal(mqtt_client_publish(&mc, "sa.IN", "bytes \x01 as they are"), 0);
    got = mqtt_client_wait(&mc, "sb.OUT", 5000);
    assert_non_null(got);
    assert_string_equal(got, "bytes \x01 as they are");
    free(got);

    /* SIGTERM: participants stopped, clean exit */
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    mqtt_client_close(&mc);
    remove_workdir(&w);
}

static void test_mqtt_needs_forever(void **state)
{
    struct workdir w;
    make_workdir(&w, "ma(Repeat) OUT -> IN mb(Repeat)\n");
    struct child c;
    start_setup(&c, &w, mqtt_url, false);
    /* bindings on MQTT die with the process: refused with a clear error,
     * before any participant is started (nothing printed on stdout) */
    if (child_read_line(&c, 30000))
        fail_msg("printed before refusing: %s", c.line);
    assert_int_equal(child_wait(&c, 30000), 1);
    remove_workdir(&w);
}

static void test_amqp_roundrobin_deadletter(void **state)
{
    struct workdir w;
    make_workdir(&w, "api(Repeat) OUT -> IN rr(msgflo/RoundRobin) OUT -> IN worker(test/Nacker)\n"
                     "rr DEADLETTER -> IN dead(Repeat)\n");
    struct child c;
    char seen[4096] = "";
    start_setup(&c, &w, amqp_url, true);
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);
    assert_non_null(strstr(seen, "DEADLETTER:\t worker.IN -> dead.IN\n"));
    assert_non_null(strstr(seen, "ROUNDROBIN:\t api.OUT -> worker.IN\n"));

    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_watch(&ac, "dead.OUT"), 0);
    assert_int_equal(amqp_client_send(&ac, "api.IN", "fail me"), 0);
    char *got = amqp_client_wait(&ac, 10000);
    assert_non_null(got);
    assert_string_equal(got, "fail me"); /* nacked by the worker, repeated by dead */
    free(got);
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    amqp_client_close(&ac);
    remove_workdir(&w);
}

/* Bindings only (no --participants) on RabbitMQ, one of them refused (its
 * target queue exists with other arguments): msgflo-setup exits 1 naming the
 * queue and the broker's reason; the other edges are bound all the same. */
static void test_amqp_binding_refused_named(void **state)
{
    char a[64], b[64], c1[64], d[64], graph[512], bq[128], cq[128], dq[128];
    support_role("ra", a, sizeof a);
    support_role("rb", b, sizeof b);
    support_role("rc", c1, sizeof c1);
    support_role("rd", d, sizeof d);
    snprintf(graph, sizeof graph,
             "%s(Repeat) OUT -> IN %s(Repeat)\n%s(Repeat) OUT -> IN %s(Repeat)\n", c1, d, a, b);
    snprintf(bq, sizeof bq, "%s.IN", b);
    snprintf(cq, sizeof cq, "%s.OUT", c1);
    snprintf(dq, sizeof dq, "%s.IN", d);
    struct workdir w;
    make_workdir(&w, graph);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, bq), 0); /* no dead-letter argument */
    char prog[1024], cmd[4096], errpath[400];
    snprintf(errpath, sizeof errpath, "%s/stderr", w.dir);
    snprintf(cmd, sizeof cmd, "exec '%s' --broker '%s' '%s' 2>'%s'",
             support_program("msgflo-setup", prog, sizeof prog), amqp_url, w.graph, errpath);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    assert_int_equal(child_wait(&c, 30000), 1);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    char err[8192];
    size_t n = fread(err, 1, sizeof err - 1, f);
    fclose(f);
    err[n] = '\0';
    char want[256];
    snprintf(want, sizeof want, "declare queue %s failed: 406 PRECONDITION_FAILED", bq);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "setting up bindings failed"));
    /* the other edge is bound */
    assert_int_equal(amqp_client_count(&ac, dq), 0);
    assert_int_equal(amqp_basic_publish(ac.conn, 1, amqp_cstring_bytes(cq), amqp_empty_bytes, false,
                                        false, NULL, amqp_cstring_bytes("through")),
                     AMQP_STATUS_OK);
    int got = 0;
    for (int k = 0; k < 500 && (got = amqp_client_count(&ac, dq)) == 0; k++)
        usleep(10000);
    assert_int_equal(got, 1);
    amqp_client_close(&ac);
    remove_workdir(&w);
}

static void test_amqp_fanout_fanin(void **state)
{
    struct workdir w;
    make_workdir(&w, "fs(Repeat) OUT -> IN f1(Repeat)\nfs OUT -> IN f2(Repeat)\n"
                     "fs OUT -> IN f3(Repeat)\nf1 OUT -> IN fj(Repeat)\n"
                     "f2 OUT -> IN fj\nf3 OUT -> IN fj\n");
    struct child c;
    char seen[4096] = "";
    start_setup(&c, &w, amqp_url, true);
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_watch(&ac, "fj.OUT"), 0);
    assert_int_equal(amqp_client_send(&ac, "fs.IN", "one"), 0);
    for (int i = 0; i < 3; i++) { /* 1 -> 3 -> 1: three copies */
        char *got = amqp_client_wait(&ac, 10000);
        assert_non_null(got);
        assert_string_equal(got, "one");
        free(got);
    }
    assert_null(amqp_client_wait(&ac, 500));
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    amqp_client_close(&ac);
    remove_workdir(&w);
}

static int run_tool(char *const argv[])
{
    struct child c;
    if (child_start(&c, argv) != 0)
        return -1;
    return child_wait(&c, 20000);
}

static void test_send_and_dump(void **state)
{
    char send[1024], dump[1024];
    support_program("msgflo-send-message", send, sizeof send);
    support_program("msgflo-dump-message", dump, sizeof dump);
    /* AMQP: the queue keeps messages until dumped */
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_inqueue(&ac, "sd.IN"), 0);
    char *s1[] = {send,    "--broker", (char *)amqp_url,  "--queue",
                  "sd.IN", "--json",   "{\"a\": [1, 2]}", NULL};
    char *s2[] = {send,    "--broker", (char *)amqp_url, "--queue",
                  "sd.IN", "--json",   "\"two\"",        NULL};
    char *bad[] = {send, "--broker", (char *)amqp_url, "--queue", "sd.IN", "--json", "{nope", NULL};
    assert_int_equal(run_tool(s1), 0);
    assert_int_equal(run_tool(s2), 0);
    assert_int_equal(run_tool(bad), 1);
    struct child c;
    char *d[] = {dump, "--broker", (char *)amqp_url, "--queue", "sd.IN", "--amount", "2", NULL};
    assert_int_equal(child_start(&c, d), 0);
    assert_true(child_read_line(&c, 10000));
    assert_string_equal(c.line, "[{\"a\":[1,2]},\"two\"]");
    assert_int_equal(child_wait(&c, 5000), 0);
    assert_int_equal(amqp_client_count(&ac, "sd.IN"), 0); /* acked */
    amqp_client_close(&ac);

    /* MQTT: only what is sent after the dump subscribed arrives */
    char *dm[] = {dump, "--broker", (char *)mqtt_url, "--queue", "sd/topic", NULL};
    char *sm[] = {send, "--broker", (char *)mqtt_url, "--queue", "sd/topic", "--json", "42", NULL};
    assert_int_equal(child_start(&c, dm), 0);
    bool got = false;
    for (int i = 0; i < 50 && !got; i++) {
        assert_int_equal(run_tool(sm), 0);
        got = child_read_line(&c, 200);
    }
    assert_true(got);
    assert_string_equal(c.line, "42");
    assert_int_equal(child_wait(&c, 5000), 0);
}

/* No broker configured: a private mosquitto for this run, stopped at the end. */
static void test_embedded_broker(void **state)
{
    struct workdir w;
    make_workdir(&w, "ea(Repeat) OUT -> IN eb(Repeat)\n");
    char prog[1024];
    char *argv[] = {(char *)support_program("msgflo-setup", prog, sizeof prog),
                    "--participants",
                    "--forever",
                    "--library",
                    w.library,
                    "--componentdir",
                    w.components,
                    w.graph,
                    NULL};
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    assert_true(child_read_line(&c, 15000));
    const char *prefix = "Started embedded broker ";
    assert_int_equal(strncmp(c.line, prefix, strlen(prefix)), 0);
    char url[1024];
    snprintf(url, sizeof url, "%s", c.line + strlen(prefix));
    assert_int_equal(strncmp(url, "mqtt://127.0.0.1:", 17), 0);
    char seen[4096] = "";
    read_until(&c, "--forever enabled, keeping alive", seen, sizeof seen);

    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "eb.OUT"), 0);
    assert_int_equal(mqtt_client_publish(&mc, "ea.IN", "private"), 0);
    char *got = mqtt_client_wait(&mc, "eb.OUT", 5000);
    assert_non_null(got);
    assert_string_equal(got, "private");
    free(got);
    mqtt_client_close(&mc);

    assert_int_equal(child_stop(&c, SIGTERM), 0);
    /* the broker is gone with it */
    assert_int_equal(mqtt_client_open(&mc, url), -1);
    mqtt_client_close(&mc);
    remove_workdir(&w);
}

int main(void)
{
    mqtt_url = support_broker("MSGFLO_TEST_MQTT");
    amqp_url = support_broker("MSGFLO_TEST_AMQP");
    if (!mqtt_url || !amqp_url) {
        fprintf(stderr, "MSGFLO_TEST_MQTT/AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_mqtt_participants_forwarding_iips),
        SUPPORT_TEST(test_mqtt_needs_forever),
        SUPPORT_TEST(test_amqp_roundrobin_deadletter),
        SUPPORT_TEST(test_amqp_fanout_fanin),
        SUPPORT_TEST(test_amqp_binding_refused_named),
        SUPPORT_TEST(test_send_and_dump),
        SUPPORT_TEST(test_mqtt_discover_foreign_device),
        SUPPORT_TEST(test_discover_timeout_names_missing),
        SUPPORT_TEST(test_forever_restarts_crashed),
        SUPPORT_TEST(test_embedded_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
