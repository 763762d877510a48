/* The demo of the MsgFlo talk (examples/motorcontrol.fbp) as msgflo-setup
 * runs it: the participants from examples/msgflo.json (its BUILD variable
 * pointed at this build), the bindings, the IIP. A press of the button
 * starts the motor and turns the warning light red, then green again when
 * the motor stops; on MQTT and AMQP test brokers, and on the embedded broker
 * with the button pressing itself (its bindings kept by the router plugin
 * the embedded broker loads), where SIGTERM must leave no process.
 * Last, the same in the msgflo runtime, as scripts/demo runs it. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static char library[256]; /* examples/msgflo.json with BUILD = this build */

static int write_library(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *lib = json_load_file(MSGFLO_EXAMPLES_DIR "/msgflo.json", 0, &jerr);
    if (!lib) {
        fprintf(stderr, "examples/msgflo.json:%d: %s\n", jerr.line, jerr.text);
        return -1;
    }
    json_t *vars = json_object_get(lib, "variables");
    snprintf(library, sizeof library, "/tmp/msgflo-test-demo-%ld.json", (long)getpid());
    int rc = vars ? json_object_set_new(vars, "BUILD", json_string(MSGFLO_BUILD_DIR)) : -1;
    if (rc == 0)
        rc = json_dump_file(lib, library, JSON_INDENT(2));
    json_decref(lib);
    return rc;
}

static int remove_library(void **state)
{
    (void)state;
    unlink(library);
    return 0;
}

/* Starts msgflo-setup on the demo graph (broker NULL: the embedded one,
 * the NULL also ending argv), with the participants' stdout forwarded. */
static void start_demo(struct child *c, const char *broker)
{
    char *argv[] = {MSGFLO_SETUP_TOOL,
                    "--participants",
                    "--forever",
                    "--library",
                    library,
                    "--forward",
                    "stdout",
                    MSGFLO_EXAMPLES_DIR "/motorcontrol.fbp",
                    broker ? "--broker" : NULL,
                    (char *)broker,
                    NULL};
    assert_int_equal(child_start(c, argv), 0);
}

/* Reads lines until one starts with `prefix`; fails after timeout_ms. */
static void expect_line(struct child *c, const char *prefix, int timeout_ms)
{
    while (child_read_line(c, timeout_ms)) {
        if (strncmp(c->line, prefix, strlen(prefix)) == 0)
            return;
    }
    fail_msg("msgflo-setup never printed '%s'", prefix);
}

/* Reads lines until both prefixes have been seen, in any order. */
static void expect_both(struct child *c, const char *a, const char *b, int timeout_ms)
{
    bool seen_a = false, seen_b = false;
    while (!(seen_a && seen_b) && child_read_line(c, timeout_ms)) {
        seen_a = seen_a || strncmp(c->line, a, strlen(a)) == 0;
        seen_b = seen_b || strncmp(c->line, b, strlen(b)) == 0;
    }
    if (!(seen_a && seen_b))
        fail_msg("msgflo-setup never printed '%s'", seen_a ? b : a);
}

/* The chain after one press: the motor starts, the light turns red, then
 * back to green when the motor stops (MOTOR_RUN_SECONDS=1). */
static void expect_press_handled(struct child *c)
{
    expect_line(c, "motor: starting", 15000);
    expect_line(c, "warninglight: red ON", 15000);
    expect_line(c, "motor: stopped", 15000);
    /* RED and GREEN are two queues: the lamp may take either first */
    expect_both(c, "warninglight: red off", "warninglight: green ON", 15000);
}

/* Up to the point where the bindings are in place, and with `iip` the IIP
 * that turns the light green. */
static void expect_running(struct child *c, bool iip)
{
    expect_line(c, "Set up participants [ 'button', 'motor', 'warninglight' ]", 15000);
    expect_line(c, "PUBSUB: \t motor.IDLE -> warninglight.GREEN", 5000);
    if (iip) {
        expect_line(c, "--forever enabled", 15000);
        expect_line(c, "warninglight: green ON", 15000);
    }
}

static void test_mqtt(void **state)
{
    const char *url = support_broker("MSGFLO_TEST_MQTT");
    if (!url)
        skip();
    struct mqtt_client watch;
    assert_int_equal(mqtt_client_open(&watch, url), 0);
    assert_int_equal(mqtt_client_subscribe(&watch, "motor.RUNNING"), 0);
    assert_int_equal(mqtt_client_subscribe(&watch, "warninglight.RED"), 0);
    struct child setup;
    start_demo(&setup, url);
    expect_running(&setup, true);

    assert_int_equal(mqtt_client_publish(&watch, "button.PRESS", "true"), 0);
    /* On the broker: the motor's outport, and msgflo-setup forwarding it. */
    char *m = mqtt_client_wait(&watch, "motor.RUNNING", 5000);
    assert_non_null(m);
    assert_string_equal(m, "true");
    free(m);
    m = mqtt_client_wait(&watch, "warninglight.RED", 5000);
    assert_non_null(m);
    assert_string_equal(m, "true");
    free(m);
    expect_press_handled(&setup);
    m = mqtt_client_wait(&watch, "warninglight.RED", 5000);
    assert_non_null(m);
    assert_string_equal(m, "false");
    free(m);

    assert_int_equal(child_stop(&setup, SIGTERM), 0);
    mqtt_client_close(&watch);
}

static void test_amqp(void **state)
{
    const char *url = support_broker("MSGFLO_TEST_AMQP");
    if (!url)
        skip();
    struct child setup;
    start_demo(&setup, url);
    /* Not waiting for the IIP's line here: on RabbitMQ the lamp's discovery
     * may wait behind older announcements in the shared `fbp` queue. */
    expect_running(&setup, false);
    struct amqp_client c;
    assert_int_equal(amqp_client_open(&c, url), 0);
    /* The motor's outport exchange, to which the red lamp's queue is bound. */
    assert_int_equal(amqp_client_watch(&c, "motor.RUNNING"), 0);
    assert_int_equal(amqp_client_send(&c, "button.PRESS", "true"), 0);
    expect_press_handled(&setup);
    char *m = amqp_client_wait(&c, 5000);
    assert_non_null(m);
    assert_string_equal(m, "true");
    free(m);
    amqp_client_close(&c);
    assert_int_equal(child_stop(&setup, SIGTERM), 0);
}

/* The children of `parent` (from /proc); returns how many. */
static size_t children_of(pid_t parent, pid_t *pids, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *e; n < max && (e = readdir(d)) != NULL;) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[len] = '\0';
        char *end = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        long ppid;
        if (end && sscanf(end + 1, " %*c %ld", &ppid) == 1 && ppid == (long)parent)
            pids[n++] = (pid_t)strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return n;
}

/* scripts/demo's way: no broker configured, the button presses itself. */
static void test_embedded_demo_mode(void **state)
{
    setenv("BUTTON_PRESS_EVERY", "0.5", 1);
    setenv("BUTTON_PRESSES", "1", 1);
    char *saved = getenv("MSGFLO_BROKER") ? strdup(getenv("MSGFLO_BROKER")) : NULL;
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    struct child setup;
    start_demo(&setup, NULL);
    unsetenv("BUTTON_PRESS_EVERY");
    unsetenv("BUTTON_PRESSES");
    if (saved)
        setenv("MSGFLO_BROKER", saved, 1);
    free(saved);

    expect_line(&setup, "Started embedded broker mqtt://127.0.0.1:", 10000);
    char url[64];
    snprintf(url, sizeof url, "%s", strstr(setup.line, "mqtt://"));
    url[strcspn(url, " \r\n")] = '\0';
    expect_running(&setup, true);
    pid_t kids[16];
    size_t n = children_of(setup.pid, kids, 16);
    assert_int_equal(n, 4); /* mosquitto and three participants */
    expect_line(&setup, "button: pressed (demo, press 1)", 5000);
    expect_press_handled(&setup);
    /* the embedded broker's router keeps the three edges, and carried the press */
    struct mqtt_client admin;
    assert_int_equal(mqtt_client_open(&admin, url), 0);
    assert_int_equal(mqtt_client_subscribe(&admin, "/msgrouter/default/bindings"), 0);
    assert_int_equal(mqtt_client_publish(&admin, "/msgrouter/default/listbindings", "{}"), 0);
    char *text = mqtt_client_wait(&admin, "/msgrouter/default/bindings", 5000);
    assert_non_null(text);
    json_t *o = json_loads(text, 0, NULL), *list = json_object_get(o, "bindings");
    assert_int_equal(json_array_size(list), 3);
    size_t k;
    json_t *bnd;
    json_array_foreach(list, k, bnd)
    {
        if (strcmp(json_string_value(json_object_get(bnd, "src")), "button.PRESSED") == 0)
            assert_true(json_integer_value(json_object_get(bnd, "messages")) >= 1);
    }
    json_decref(o);
    free(text);
    mqtt_client_close(&admin);
    /* BUTTON_PRESSES=1: no second press. */
    while (child_read_line(&setup, 1500))
        assert_null(strstr(setup.line, "press 2"));

    assert_int_equal(child_stop(&setup, SIGTERM), 0);
    for (size_t i = 0; i < n; i++) {
        errno = 0;
        assert_int_equal(kill(kids[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
}

/* scripts/demo: the runtime with --graph on the embedded broker. The button
 * presses itself soon after it is up, so the edges must be bound by then
 * (the runtime starts participants only once it listens for discovery). */
static void test_runtime_demo(void **state)
{
    setenv("BUTTON_PRESS_EVERY", "1", 1);
    setenv("BUTTON_PRESSES", "1", 1);
    char *saved = getenv("MSGFLO_BROKER") ? strdup(getenv("MSGFLO_BROKER")) : NULL;
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    char *argv[] = {MSGFLO_RUNTIME_TOOL,
                    "--graph",
                    MSGFLO_EXAMPLES_DIR "/motorcontrol.fbp",
                    "--library",
                    library,
                    "--port",
                    "0",
                    "--forward",
                    "stdout",
                    NULL};
    struct child rt;
    assert_int_equal(child_start(&rt, argv), 0);
    unsetenv("BUTTON_PRESS_EVERY");
    unsetenv("BUTTON_PRESSES");
    if (saved)
        setenv("MSGFLO_BROKER", saved, 1);
    free(saved);

    expect_line(&rt, "msgflo started on ws://localhost:", 10000);
    expect_line(&rt, "warninglight: green ON", 15000); /* the IIP */
    expect_line(&rt, "button: pressed (demo, press 1)", 15000);
    expect_press_handled(&rt);
    pid_t kids[16];
    size_t n = children_of(rt.pid, kids, 16);
    assert_int_equal(n, 4); /* mosquitto and three participants */
    assert_int_equal(child_stop(&rt, SIGTERM), 0);
    for (size_t i = 0; i < n; i++) {
        errno = 0;
        assert_int_equal(kill(kids[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
}

int main(void)
{
    setenv("MOTOR_RUN_SECONDS", "1", 1);
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_mqtt),
        SUPPORT_TEST(test_amqp),
        SUPPORT_TEST(test_embedded_demo_mode),
        SUPPORT_TEST(test_runtime_demo),
    };
    return cmocka_run_group_tests(tests, write_library, remove_library);
}
