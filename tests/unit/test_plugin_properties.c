/* The plugin's copy of a message's MQTT 5 properties (plugin_properties.c),
 * here with libmosquitto's adders standing in for the broker's: every type,
 * empty values, order, a long list, nothing before the readers are open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/plugin_properties.h"

#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_nothing_before_open(void **state)
{
    (void)state;
    mosquitto_property *from = NULL, *to = (mosquitto_property *)&from;
    assert_int_equal(mosquitto_property_add_string(&from, MQTT_PROP_CONTENT_TYPE, "text/plain"),
                     MOSQ_ERR_SUCCESS);
    assert_int_equal(plugin_properties__copy(from, &to), MOSQ_ERR_NOT_SUPPORTED);
    assert_null(to);
    mosquitto_property_free_all(&from);
}

static void test_every_type_in_order(void **state)
{
    (void)state;
    char why[300] = "";
    assert_int_equal(plugin_properties__open(why, sizeof why), 0);
    mosquitto_property *from = NULL, *to = NULL;
    assert_int_equal(mosquitto_property_add_string_pair(&from, MQTT_PROP_USER_PROPERTY, "k1", "v1"),
                     0);
    assert_int_equal(mosquitto_property_add_byte(&from, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1), 0);
    assert_int_equal(mosquitto_property_add_string(&from, MQTT_PROP_CONTENT_TYPE, ""), 0);
    assert_int_equal(mosquitto_property_add_binary(&from, MQTT_PROP_CORRELATION_DATA, NULL, 0), 0);
    assert_int_equal(mosquitto_property_add_int16(&from, MQTT_PROP_TOPIC_ALIAS, 7), 0);
    assert_int_equal(mosquitto_property_add_int32(&from, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 90), 0);
    assert_int_equal(mosquitto_property_add_varint(&from, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 300),
                     0);
    assert_int_equal(mosquitto_property_add_string(&from, MQTT_PROP_RESPONSE_TOPIC, "r/t"), 0);
    assert_int_equal(mosquitto_property_add_string_pair(&from, MQTT_PROP_USER_PROPERTY, "k2", ""),
                     0);
    assert_int_equal(plugin_properties__copy(from, &to), MOSQ_ERR_SUCCESS);
    assert_non_null(to);
    assert_ptr_not_equal(to, from);

    int ids[] = {MQTT_PROP_USER_PROPERTY,
                 MQTT_PROP_PAYLOAD_FORMAT_INDICATOR,
                 MQTT_PROP_CONTENT_TYPE,
                 MQTT_PROP_CORRELATION_DATA,
                 MQTT_PROP_TOPIC_ALIAS,
                 MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                 MQTT_PROP_SUBSCRIPTION_IDENTIFIER,
                 MQTT_PROP_RESPONSE_TOPIC,
                 MQTT_PROP_USER_PROPERTY};
    const mosquitto_property *p = to;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++, p = mosquitto_property_next(p)) {
        assert_non_null(p);
        assert_int_equal(mosquitto_property_identifier(p), ids[i]);
    }
    assert_null(p);

    char *k = NULL, *v = NULL;
    p = mosquitto_property_read_string_pair(to, MQTT_PROP_USER_PROPERTY, &k, &v, false);
    assert_string_equal(k, "k1");
    assert_string_equal(v, "v1");
    free(k);
    free(v);
    mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, true);
    assert_string_equal(k, "k2");
    assert_string_equal(v, "");
    free(k);
    free(v);
    uint8_t byte = 0;
    assert_non_null(
        mosquitto_property_read_byte(to, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, &byte, false));
    assert_int_equal(byte, 1);
    char *s = NULL;
    assert_non_null(mosquitto_property_read_string(to, MQTT_PROP_CONTENT_TYPE, &s, false));
    assert_string_equal(s, "");
    free(s);
    void *bin = NULL;
    uint16_t len = 1;
    assert_non_null(
        mosquitto_property_read_binary(to, MQTT_PROP_CORRELATION_DATA, &bin, &len, false));
    assert_int_equal(len, 0);
    free(bin);
    uint16_t i16 = 0;
    assert_non_null(mosquitto_property_read_int16(to, MQTT_PROP_TOPIC_ALIAS, &i16, false));
    assert_int_equal(i16, 7);
    uint32_t i32 = 0;
    assert_non_null(
        mosquitto_property_read_int32(to, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &i32, false));
    assert_int_equal(i32, 90);
    assert_non_null(
        mosquitto_property_read_varint(to, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &i32, false));
    assert_int_equal(i32, 300);
    assert_non_null(mosquitto_property_read_string(to, MQTT_PROP_RESPONSE_TOPIC, &s, false));
    assert_string_equal(s, "r/t");
    free(s);

    mosquitto_property_free_all(&from);
    mosquitto_property_free_all(&to);
    plugin_properties__close();
}

/* A message may carry thousands of user properties: all copied, in order. */
static void test_long_list(void **state)
{
    (void)state;
    char why[300] = "";
    assert_int_equal(plugin_properties__open(why, sizeof why), 0);
    enum { N = 20000 };
    mosquitto_property *from = NULL, *to = NULL, *last = NULL;
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        assert_int_equal(mosquitto_property_add_string_pair(last ? &last : &from,
                                                            MQTT_PROP_USER_PROPERTY, name, "v"),
                         0);
        last = (mosquitto_property *)(last ? mosquitto_property_next(last) : from);
    }
    assert_int_equal(plugin_properties__copy(from, &to), MOSQ_ERR_SUCCESS);
    int n = 0;
    for (const mosquitto_property *p = to; p; p = mosquitto_property_next(p), n++) {
        char *k = NULL, *v = NULL, want[16];
        mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false);
        snprintf(want, sizeof want, "%d", n);
        assert_string_equal(k, want);
        free(k);
        free(v);
    }
    assert_int_equal(n, N);
    mosquitto_property_free_all(&from);
    mosquitto_property_free_all(&to);
    plugin_properties__close();
}

/* Two plugin instances: the readers stay until the last one closes. */
static void test_shared_by_instances(void **state)
{
    (void)state;
    char why[300] = "";
    assert_int_equal(plugin_properties__open(why, sizeof why), 0);
    assert_int_equal(plugin_properties__open(why, sizeof why), 0);
    plugin_properties__close();
    mosquitto_property *from = NULL, *to = NULL;
    assert_int_equal(mosquitto_property_add_string(&from, MQTT_PROP_CONTENT_TYPE, "a/b"), 0);
    assert_int_equal(plugin_properties__copy(from, &to), MOSQ_ERR_SUCCESS);
    mosquitto_property_free_all(&to);
    plugin_properties__close();
    assert_int_equal(plugin_properties__copy(from, &to), MOSQ_ERR_NOT_SUPPORTED);
    assert_int_equal(plugin_properties__copy(NULL, &to), MOSQ_ERR_SUCCESS);
    assert_null(to);
    mosquitto_property_free_all(&from);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_before_open),
        cmocka_unit_test(test_every_type_in_order),
        cmocka_unit_test(test_long_list),
        cmocka_unit_test(test_shared_by_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
