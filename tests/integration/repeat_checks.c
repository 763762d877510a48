/* The checks every MQTT Repeat participant passes; see repeat_checks.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "repeat_checks.h"

#include <stdio.h>

void repeat_start(struct child *c, const char *program, const char *role, const char *url)
{
    char prog[1024];
    char *argv[] = {(char *)support_program(program, prog, sizeof prog), (char *)role, (char *)url,
                    NULL};
    assert_int_equal(child_start(c, argv), 0);
    assert_true(child_read_line(c, 10000));
    char expected[256];
    snprintf(expected, sizeof expected, "%s(c/Repeat) connected to %s", role, url);
    assert_string_equal(c->line, expected);
}

json_t *repeat_wait_announcement(struct mqtt_client *mc, const char *role, int timeout_ms)
{
    json_t *payload = NULL;
    for (int waited = 0; waited < timeout_ms && !payload; waited += 250) {
        char *msg = mqtt_client_wait(mc, "fbp", 250);
        if (msg)
            payload = support_discovery_for(msg, role);
        free(msg);
    }
    return payload;
}

static void expect_echo(struct mqtt_client *mc, const struct names *n, const char *data)
{
    assert_int_equal(mqtt_client_publish(mc, n->in, data), 0);
    char *got = mqtt_client_wait(mc, n->out, 5000);
    assert_non_null(got);
    assert_string_equal(got, data);
    free(got);
}

void repeat_check_discovery_and_data(const char *program, const char *url)
{
    struct names n;
    support_names(&n, "rd");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, n.out), 0);
    struct child c;
    repeat_start(&c, program, n.role, url);

    json_t *payload = repeat_wait_announcement(&mc, n.role, 10000);
    assert_non_null(payload);
    static const char *const keys[] = {"id",    "icon",    "role",    "component",
                                       "label", "inports", "outports"};
    assert_int_equal(json_object_size(payload), 7);
    for (size_t i = 0; i < 7; i++)
        assert_non_null(json_object_get(payload, keys[i]));
    json_t *in = json_array_get(json_object_get(payload, "inports"), 0);
    assert_string_equal(json_string_value(json_object_get(in, "queue")), n.in);
    json_decref(payload);

    expect_echo(&mc, &n, "{\"bar\":\"foo\"}");
    expect_echo(&mc, &n, "not json \x01\x7f"); /* bytes that are not JSON pass unchanged */

    assert_int_equal(child_stop(&c, 0), 0); /* SIGTERM is a clean stop */
    mqtt_client_close(&mc);
}

void repeat_check_periodic_discovery(const char *program, const char *url)
{
    struct names n;
    support_names(&n, "rp");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);
    setenv("MSGFLO_DISCOVERY_PERIOD", "2.2", 1);
    struct child c;
    repeat_start(&c, program, n.role, url);
    unsetenv("MSGFLO_DISCOVERY_PERIOD");
    int announcements = 0;
    for (int waited = 0; waited < 3500; waited += 100) {
        char *msg = mqtt_client_wait(&mc, "fbp", 100);
        json_t *p = msg ? support_discovery_for(msg, n.role) : NULL;
        announcements += p != NULL;
        json_decref(p);
        free(msg);
    }
    /* the one at start, then about one a second */
    assert_true(announcements >= 3 && announcements <= 5);
    assert_int_equal(child_stop(&c, 0), 0);
    mqtt_client_close(&mc);
}

void repeat_check_reconnect_after_restart(const char *program, const char *url)
{
    struct names n;
    support_names(&n, "rr");
    struct child c;
    repeat_start(&c, program, n.role, url);

    assert_int_equal(support_brokers("restart-mqtt"), 0);

    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, n.out), 0);
    /* It comes back by itself: keep sending until it answers. */
    char *got = NULL;
    for (int i = 0; i < 30 && !got; i++) {
        assert_int_equal(mqtt_client_publish(&mc, n.in, "after-restart"), 0);
        got = mqtt_client_wait(&mc, n.out, 500);
    }
    assert_non_null(got);
    assert_string_equal(got, "after-restart");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    mqtt_client_close(&mc);
}
