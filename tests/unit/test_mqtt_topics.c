/* The MQTT connection's topic set: one SUBSCRIBE per topic, UNSUBSCRIBE only
 * when neither a plain subscription nor a watch needs the topic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "transport/mqtt_topics.h"

static void test_first_reason_subscribes(void **state)
{
    (void)state;
    struct mqtt_topic *set = NULL;
    bool send;
    assert_int_equal(mqtt_topics__want(&set, "a.OUT", false, &send), 0);
    assert_true(send);
    assert_int_equal(mqtt_topics__want(&set, "a.OUT", false, &send), 0);
    assert_false(send);
    assert_int_equal(mqtt_topics__want(&set, "a.OUT", true, &send), 0);
    assert_false(send);
    assert_int_equal(mqtt_topics__want(&set, "b.OUT", true, &send), 0);
    assert_true(send);
    assert_int_equal(mqtt_topics__count(&set), 2);
    assert_true(mqtt_topics__has(&set, "a.OUT"));
    assert_false(mqtt_topics__has(&set, "a/OUT")); /* the topic itself only */
    mqtt_topics__clear(&set);
    assert_null(set);
    assert_false(mqtt_topics__has(&set, "a.OUT"));
}

static void test_unwatch_keeps_plain_subscription(void **state)
{
    (void)state;
    struct mqtt_topic *set = NULL;
    bool send;
    assert_int_equal(mqtt_topics__want(&set, "a.OUT", true, &send), 0);
    assert_int_equal(mqtt_topics__want(&set, "a.OUT", false, &send), 0); /* a forwarding */
    mqtt_topics__unwatch(&set, "a.OUT", &send);
    assert_false(send);
    assert_int_equal(mqtt_topics__count(&set), 1);
    /* a second unwatch has nothing to take back */
    mqtt_topics__unwatch(&set, "a.OUT", &send);
    assert_false(send);
    mqtt_topics__clear(&set);
}

static void test_last_watch_unsubscribes(void **state)
{
    (void)state;
    struct mqtt_topic *set = NULL;
    bool send;
    assert_int_equal(mqtt_topics__want(&set, "x", true, &send), 0);
    assert_true(send);
    assert_int_equal(mqtt_topics__want(&set, "x", true, &send), 0);
    assert_false(send);
    mqtt_topics__unwatch(&set, "x", &send);
    assert_false(send);
    mqtt_topics__unwatch(&set, "x", &send);
    assert_true(send);
    assert_int_equal(mqtt_topics__count(&set), 0);
    /* subscribing again after that sends again */
    assert_int_equal(mqtt_topics__want(&set, "x", true, &send), 0);
    assert_true(send);
    mqtt_topics__unwatch(&set, "unknown", &send);
    assert_false(send);
    mqtt_topics__forget(&set, "x");
    assert_null(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_reason_subscribes),
        cmocka_unit_test(test_unwatch_keeps_plain_subscription),
        cmocka_unit_test(test_last_watch_unsubscribes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
