/* msgflo-register and msgflo-register-foreign against real brokers: the
 * discovery messages they send on behalf of foreign devices (the original's
 * spec/register.coffee checks, on MQTT and AMQP), sending once or forever
 * (every interval/2.2 s and after a reconnect), exit codes and located
 * errors for bad YAML. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "msgflo/url.h"
#include "support.h"

#define FIXTURES MSGFLO_FOREIGN_FIXTURES

static const char *mqtt_url;
static const char *amqp_url;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts `tool` with args (NULL-terminated); with merge_stderr its stderr
 * comes on the same pipe as stdout (through sh). */
static void start_tool(struct child *c, const char *tool, bool merge_stderr, ...)
{
    char *argv[32];
    char cmd[4096];
    int n = 0;
    va_list ap;
    va_start(ap, merge_stderr);
    if (merge_stderr) {
        size_t len = (size_t)snprintf(cmd, sizeof cmd, "exec '%s'", tool);
        for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
            len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", a);
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " 2>&1");
        assert_true(len < sizeof cmd);
        argv[n++] = "/bin/sh";
        argv[n++] = "-c";
        argv[n++] = cmd;
    } else {
        argv[n++] = (char *)tool;
        for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 31;)
            argv[n++] = (char *)a;
    }
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(child_start(c, argv), 0);
}

/* Reads lines until the child closes its output (it exits) and returns its
 * exit status; `out` collects the lines. Fails on a timeout. */
static int expect_exit(struct child *c, int timeout_ms, char *out, size_t len)
{
    long long deadline = now_ms() + timeout_ms;
    size_t used = 0;
    out[0] = '\0';
    while (child_read_line(c, (int)(deadline - now_ms()))) {
        used += (size_t)snprintf(out + used, len - used, "%s\n", c->line);
        if (used >= len)
            used = len - 1;
    }
    assert_true(now_ms() < deadline); /* EOF, not a timeout */
    return child_stop(c, 0);
}

/* The envelope of a discovery message for `role`, or NULL. */
static json_t *envelope_for(const char *text, const char *role)
{
    json_t *msg = json_loads(text, 0, NULL);
    json_t *payload = json_object_get(msg, "payload");
    const char *r = json_string_value(json_object_get(payload, "role"));
    if (r && strcmp(r, role) == 0)
        return msg;
    json_decref(msg);
    return NULL;
}

static json_t *mqtt_discovery(struct mqtt_client *mc, const char *role, int timeout_ms)
{
    json_t *env = NULL;
    long long deadline = now_ms() + timeout_ms;
    while (!env && now_ms() < deadline) {
        char *msg = mqtt_client_wait(mc, "fbp", 100);
        if (msg)
            env = envelope_for(msg, role);
        free(msg);
    }
    return env;
}

static json_t *amqp_discovery(struct amqp_client *ac, const char *role, int timeout_ms)
{
    json_t *env = NULL;
    long long deadline = now_ms() + timeout_ms;
    while (!env && now_ms() < deadline) {
        char *msg = amqp_client_wait(ac, 100);
        if (msg)
            env = envelope_for(msg, role);
        free(msg);
    }
    return env;
}

/* spec/register.coffee's checks on the toggleswitch fixture. */
static void check_toggleswitch(json_t *env, const char *role)
{
    assert_non_null(env);
    assert_int_equal(json_object_size(env), 3); /* exactly protocol, command, payload */
    assert_string_equal(json_string_value(json_object_get(env, "protocol")), "discovery");
    assert_string_equal(json_string_value(json_object_get(env, "command")), "participant");
    json_t *p = json_object_get(env, "payload");
    static const char *const keys[] = {"id",       "role",  "component", "inports",
                                       "outports", "label", "icon"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(p, keys[i]));
    assert_string_equal(json_string_value(json_object_get(p, "id")), role);
    assert_true(strlen(role) > 5);
    assert_string_equal(json_string_value(json_object_get(p, "role")), role);
    assert_string_equal(json_string_value(json_object_get(p, "component")), "my/ToggleSwitch");
    assert_int_equal(json_array_size(json_object_get(p, "inports")), 0);
    assert_int_equal(json_array_size(json_object_get(p, "outports")), 1);
    json_t *port = json_array_get(json_object_get(p, "outports"), 0);
    assert_string_equal(json_string_value(json_object_get(port, "id")), "state");
    assert_string_equal(json_string_value(json_object_get(port, "type")), "boolean");
    char queue[128];
    snprintf(queue, sizeof queue, "/myswitch/%s/status", role);
    assert_string_equal(json_string_value(json_object_get(port, "queue")), queue);
}

static void role_arg(char *buf, size_t len, const char *role, const char *file)
{
    snprintf(buf, len, "%s:%s/%s", role, FIXTURES, file);
}

static void test_mqtt_once(void **state)
{
    char role[64], arg[512], out[2048], expected[128];
    support_role("sw", role, sizeof role);
    role_arg(arg, sizeof arg, role, "toggleswitch.yaml");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);

    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--broker", mqtt_url, "--forever=false", "--role",
               arg, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    snprintf(expected, sizeof expected, "Sent discovery message for %s\n", role);
    assert_string_equal(out, expected);

    json_t *env = mqtt_discovery(&mc, role, 3000);
    check_toggleswitch(env, role);
    json_decref(env);
    /* sent once: nothing more comes */
    assert_null(mqtt_discovery(&mc, role, 1500));
    mqtt_client_close(&mc);
}

static void test_amqp_once(void **state)
{
    char role[64], arg[512], out[2048], expected[128];
    support_role("swa", role, sizeof role);
    role_arg(arg, sizeof arg, role, "toggleswitch.yaml");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, "fbp"), 0);
    assert_int_equal(amqp_client_consume(&ac, "fbp"), 0);

    /* the broker from the environment, "--forever false" as two arguments */
    setenv("MSGFLO_BROKER", amqp_url, 1);
    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--role", arg, "--forever", "false", NULL);
    unsetenv("MSGFLO_BROKER");
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    snprintf(expected, sizeof expected, "Sent discovery message for %s\n", role);
    assert_string_equal(out, expected);

    json_t *env = amqp_discovery(&ac, role, 3000);
    check_toggleswitch(env, role);
    json_decref(env);
    amqp_client_close(&ac);
}

/* Several roles, forever (the default): re-sent every interval/2.2 s. */
static void test_mqtt_forever(void **state)
{
    char r1[64], r2[64], a1[512], a2[512];
    support_role("ps", r1, sizeof r1);
    support_role("dev", r2, sizeof r2);
    role_arg(a1, sizeof a1, r1, "processsomething.yaml");
    snprintf(a2, sizeof a2, "%s:%s", r2, MSGFLO_EXAMPLES_DIR "/existingdevice.yml");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);

    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--broker", mqtt_url, "--interval", "2", "--role",
               a1, "--role", a2, NULL);
    assert_true(child_read_line(&c, 10000));
    char expected[128];
    snprintf(expected, sizeof expected, "Sent discovery message for %s", r1);
    assert_string_equal(c.line, expected);
    assert_true(child_read_line(&c, 5000));
    snprintf(expected, sizeof expected, "Sent discovery message for %s", r2);
    assert_string_equal(c.line, expected);

    json_t *env = mqtt_discovery(&mc, r1, 3000);
    assert_non_null(env);
    long long last = now_ms();
    json_t *in = json_array_get(json_object_get(json_object_get(env, "payload"), "inports"), 0);
    char queue[128];
    snprintf(queue, sizeof queue, "process/%s/in", r1);
    assert_string_equal(json_string_value(json_object_get(in, "queue")), queue);
    json_decref(env);
    /* 2 s / 2.2 = 909 ms apart */
    for (int i = 0; i < 2; i++) {
        env = mqtt_discovery(&mc, r1, 3000);
        assert_non_null(env);
        json_decref(env);
        long long gap = now_ms() - last;
        last = now_ms();
        assert_in_range(gap, 500, 1600);
    }
    env = mqtt_discovery(&mc, r2, 3000);
    assert_non_null(env);
    in = json_array_get(json_object_get(json_object_get(env, "payload"), "inports"), 0);
    snprintf(queue, sizeof queue, "/factory/%s/lamp/red/set", r2);
    assert_string_equal(json_string_value(json_object_get(in, "queue")), queue);
    json_decref(env);

    assert_int_equal(child_stop(&c, 0), 0); /* SIGTERM is a clean stop */
    mqtt_client_close(&mc);
}

static void test_amqp_forever(void **state)
{
    char role[64], arg[512];
    support_role("psa", role, sizeof role);
    role_arg(arg, sizeof arg, role, "processsomething.yaml");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, "fbp"), 0);
    assert_int_equal(amqp_client_consume(&ac, "fbp"), 0);

    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--broker", amqp_url, "--interval=2", "--forever",
               "--role", arg, NULL);
    assert_true(child_read_line(&c, 10000));
    json_t *env = amqp_discovery(&ac, role, 3000);
    assert_non_null(env);
    json_decref(env);
    long long last = now_ms();
    for (int i = 0; i < 2; i++) {
        env = amqp_discovery(&ac, role, 3000);
        assert_non_null(env);
        json_decref(env);
        long long gap = now_ms() - last;
        last = now_ms();
        assert_in_range(gap, 500, 1600);
    }
    assert_int_equal(child_stop(&c, SIGINT), 0);
    amqp_client_close(&ac);
}

/* After losing the broker connection the messages go out again at once, not
 * only at the next period. The connection is taken over by a client with the
 * same client id, which mosquitto answers by dropping the older one. */
static void test_resent_after_reconnect(void **state)
{
    char role[64], arg[512], url[512], client_id[64];
    support_role("rc", role, sizeof role);
    support_role("regtest", client_id, sizeof client_id);
    role_arg(arg, sizeof arg, role, "processsomething.yaml");
    snprintf(url, sizeof url, "%s?clientId=%s", mqtt_url, client_id);
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);

    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--broker", url, "--interval", "600", "--role", arg,
               NULL);
    assert_true(child_read_line(&c, 10000));
    json_t *env = mqtt_discovery(&mc, role, 3000);
    assert_non_null(env);
    json_decref(env);

    msgflo_url *u = NULL;
    assert_int_equal(msgflo_url_parse(mqtt_url, &u, NULL, 0), 0);
    mosquitto_lib_init();
    struct mosquitto *kicker = mosquitto_new(client_id, true, NULL);
    assert_non_null(kicker);
    assert_int_equal(mosquitto_connect(kicker, msgflo_url_host(u), msgflo_url_port(u), 30),
                     MOSQ_ERR_SUCCESS);
    msgflo_url_free(u);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(kicker, 20, 1);

    /* the period is 272 s: only a reconnect makes it come again */
    env = mqtt_discovery(&mc, role, 5000);
    assert_non_null(env);
    json_decref(env);
    mosquitto_disconnect(kicker);
    mosquitto_destroy(kicker);
    assert_int_equal(child_stop(&c, 0), 0);
    mqtt_client_close(&mc);
}

static void test_bad_definitions(void **state)
{
    char a1[512], a2[512], out[4096];
    role_arg(a1, sizeof a1, "r1", "bad-syntax.yaml");
    role_arg(a2, sizeof a2, "r2", "no-queue.yaml");
    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--broker", mqtt_url, "--forever=false", "--role",
               a1, "--role", a2, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 1);
    /* every bad file, each with its place */
    assert_non_null(strstr(out, "/bad-syntax.yaml:4:9: did not find expected ',' or '}'"));
    assert_non_null(strstr(out, "/no-queue.yaml:3:3: port 'in' of inports has no queue\n"));
    assert_null(strstr(out, "Sent discovery message"));

    role_arg(a1, sizeof a1, "r1", "no-component.yaml");
    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--broker", mqtt_url, "--role", a1, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 1);
    assert_non_null(strstr(out, "/no-component.yaml: component is not defined\n"));
}

static void test_usage_errors(void **state)
{
    char arg[512], out[4096];
    role_arg(arg, sizeof arg, "r1", "toggleswitch.yaml");
    struct child c;
    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--broker", mqtt_url, "--forever=maybe", "--role",
               arg, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 2);
    assert_non_null(strstr(out, "--forever needs true or false, not 'maybe'"));

    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--broker", mqtt_url, "--role", "nofile", NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 2);
    assert_non_null(strstr(out, "--role needs ROLE:FILE.yaml"));

    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--role", arg, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 2);
    assert_non_null(strstr(out, "no broker"));

    /* other spellings of false: the run ends by itself */
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--broker", mqtt_url, "--forever=0", "--role", arg,
               NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    assert_string_equal(out, "Sent discovery message for r1\n");
    start_tool(&c, MSGFLO_REGISTER_TOOL, false, "--forever", "no", "--broker", mqtt_url, "--role",
               arg, NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);

    start_tool(&c, MSGFLO_REGISTER_TOOL, true, "--help", NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    assert_non_null(strstr(out, "--interval SECONDS"));
}

/* The deprecated tool: role from the file (or --role), sends once by default. */
static void test_register_foreign(void **state)
{
    char role[64], out[4096], expected[128];
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, mqtt_url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);

    struct child c;
    start_tool(&c, MSGFLO_REGISTER_FOREIGN_TOOL, true, "--broker", mqtt_url,
               FIXTURES "/lightbulb.yaml", NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    assert_non_null(strstr(out, "DEPRECATED: Instead use msgflo-register --role"));
    assert_non_null(strstr(out, "Sent discovery message for mybulb\n"));
    json_t *env = mqtt_discovery(&mc, "mybulb", 3000);
    assert_non_null(env);
    json_t *in = json_array_get(json_object_get(json_object_get(env, "payload"), "inports"), 0);
    assert_string_equal(json_string_value(json_object_get(in, "queue")),
                        "/mylightbulb/ffo/1/set-on");
    json_decref(env);

    support_role("sw", role, sizeof role);
    start_tool(&c, MSGFLO_REGISTER_FOREIGN_TOOL, false, "--broker", mqtt_url, "--role", role,
               FIXTURES "/toggleswitch.yaml", NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 0);
    snprintf(expected, sizeof expected, "Sent discovery message for %s\n", role);
    assert_string_equal(out, expected);
    env = mqtt_discovery(&mc, role, 3000);
    check_toggleswitch(env, role);
    json_decref(env);

    /* no role anywhere */
    start_tool(&c, MSGFLO_REGISTER_FOREIGN_TOOL, true, "--broker", mqtt_url,
               FIXTURES "/toggleswitch.yaml", NULL);
    assert_int_equal(expect_exit(&c, 10000, out, sizeof out), 1);
    assert_non_null(strstr(out, "role is not defined for component my/ToggleSwitch"));
    mqtt_client_close(&mc);
}

int main(void)
{
    mqtt_url = support_broker("MSGFLO_TEST_MQTT");
    amqp_url = support_broker("MSGFLO_TEST_AMQP");
    if (!mqtt_url || !amqp_url) {
        fprintf(stderr, "MSGFLO_TEST_MQTT or MSGFLO_TEST_AMQP not set: no brokers, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_mqtt_once),
        SUPPORT_TEST(test_amqp_once),
        SUPPORT_TEST(test_mqtt_forever),
        SUPPORT_TEST(test_amqp_forever),
        SUPPORT_TEST(test_resent_after_reconnect),
        SUPPORT_TEST(test_bad_definitions),
        SUPPORT_TEST(test_usage_errors),
        SUPPORT_TEST(test_register_foreign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
