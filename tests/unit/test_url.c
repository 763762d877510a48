/* Broker URL parsing: schemes, defaults, credentials, vhosts, options, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msgflo/errors.h"
#include "core/url_internal.h"

static msgflo_url *parse_ok(const char *text)
{
    msgflo_url *u = NULL;
    char err[200];
    int rc = msgflo_url_parse(text, &u, err, sizeof err);
    if (rc != 0)
        fail_msg("parse '%s' failed: %s", text, err);
    return u;
}

static void expect_error(const char *text, const char *fragment)
{
    msgflo_url *u = NULL;
    char err[200] = "";
    assert_int_equal(msgflo_url_parse(text, &u, err, sizeof err), MSGFLO_EURL);
    assert_null(u);
    if (!strstr(err, fragment))
        fail_msg("error for '%s' was '%s', expected it to mention '%s'", text, err, fragment);
}

static void test_mqtt_defaults(void **state)
{
    msgflo_url *u = parse_ok("mqtt://localhost");
    assert_int_equal(u->scheme, MSGFLO_SCHEME_MQTT);
    assert_false(u->is_amqp);
    assert_false(u->tls);
    assert_string_equal(u->host, "localhost");
    assert_int_equal(u->port, 1883);
    assert_null(u->user);
    assert_null(u->password);
    assert_int_equal(u->qos, 0);
    assert_int_equal(u->keepalive, 60);
    msgflo_url_free(u);
}

static void test_default_ports(void **state)
{
    static const struct {
        const char *url;
        int port;
        bool tls;
    } cases[] = {{"mqtts://h", 8883, true},
                 {"amqp://h", 5672, false},
                 {"amqps://h", 5671, true},
                 {"MQTT://h", 1883, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgflo_url *u = parse_ok(cases[i].url);
        assert_int_equal(u->port, cases[i].port);
        assert_int_equal(u->tls, cases[i].tls);
        msgflo_url_free(u);
    }
}

static void test_amqp_full(void **state)
{
    msgflo_url *u = parse_ok("amqp://us%40er:p%3Ass@broker.example:5673/my%2Fvhost?prefetch=50&"
                             "heartbeat=10&persistent=true");
    assert_true(u->is_amqp);
    assert_string_equal(u->user, "us@er");
    assert_string_equal(u->password, "p:ss");
    assert_string_equal(u->host, "broker.example");
    assert_int_equal(u->port, 5673);
    assert_string_equal(u->vhost, "my/vhost");
    assert_int_equal(u->prefetch, 50);
    assert_int_equal(u->heartbeat, 10);
    assert_true(u->persistent);
    msgflo_url_free(u);
}

static void test_amqp_vhost_default(void **state)
{
    msgflo_url *u = parse_ok("amqp://guest:guest@localhost");
    assert_string_equal(u->vhost, "/");
    assert_int_equal(u->prefetch, 2);
    msgflo_url_free(u);
    u = parse_ok("amqp://localhost/");
    assert_string_equal(u->vhost, "/");
    msgflo_url_free(u);
    u = parse_ok("amqp://localhost/%2F");
    assert_string_equal(u->vhost, "/");
    msgflo_url_free(u);
}

static void test_user_without_password(void **state)
{
    msgflo_url *u = parse_ok("mqtt://alice@h:1234");
    assert_string_equal(u->user, "alice");
    assert_null(u->password);
    assert_int_equal(u->port, 1234);
    msgflo_url_free(u);
}

static void test_ipv6(void **state)
{
    msgflo_url *u = parse_ok("mqtt://[::1]:1999");
    assert_string_equal(u->host, "::1");
    assert_int_equal(u->port, 1999);
    msgflo_url_free(u);
}

static void test_mqtt_options(void **state)
{
    msgflo_url *u = parse_ok("mqtt://h?qos=1&keepAlive=30&clientId=dev-1");
    assert_int_equal(u->qos, 1);
    assert_int_equal(u->keepalive, 30);
    assert_string_equal(u->client_id, "dev-1");
    msgflo_url_free(u);
}

/* Nothing is lost by default: persistent AMQP messages (the original's
 * default was transient); MQTT keeps the clean session unless asked. */
static void test_delivery_defaults(void **state)
{
    msgflo_url *u = parse_ok("amqp://h");
    assert_true(u->persistent);
    assert_true(u->clean);
    msgflo_url_free(u);
    u = parse_ok("amqp://h?persistent=0");
    assert_false(u->persistent);
    msgflo_url_free(u);
    u = parse_ok("mqtt://h?qos=1&clean=false");
    assert_false(u->clean);
    assert_null(u->client_id);
    msgflo_url_free(u);
    u = parse_ok("mqtt://h?cleanSession=no&clientId=motor-1");
    assert_false(u->clean);
    assert_string_equal(u->client_id, "motor-1");
    msgflo_url_free(u);
}

static void test_tls_options(void **state)
{
    msgflo_url *u = parse_ok("mqtts://h?ca=/tmp/ca.pem&cert=/tmp/c.pem&key=/tmp/k.pem&insecure=1");
    assert_string_equal(u->ca_file, "/tmp/ca.pem");
    assert_string_equal(u->cert_file, "/tmp/c.pem");
    assert_string_equal(u->key_file, "/tmp/k.pem");
    assert_true(u->insecure);
    msgflo_url_free(u);
}

static void test_errors(void **state)
{
    expect_error("", "empty");
    expect_error("localhost", "missing scheme");
    expect_error("http://localhost", "unsupported scheme 'http'");
    expect_error("mqtt://", "missing host");
    expect_error("mqtt://:1883", "missing host");
    expect_error("mqtt://h:99999", "invalid port '99999'");
    expect_error("mqtt://h:0", "invalid port");
    expect_error("mqtt://h:12ab", "invalid port '12ab'");
    expect_error("mqtt://h:", "invalid port");
    expect_error("mqtt://h/path", "MQTT URLs take no path");
    expect_error("amqp://h?prefetch=0", "option prefetch");
    expect_error("amqp://h?prefetch=lots", "option prefetch");
    expect_error("mqtt://h?qos=2", "option qos");
    expect_error("mqtt://h?bogus=1", "unknown option 'bogus'");
    expect_error("mqtt://h?qos", "option 'qos' has no value");
    expect_error("mqtt://h?ca=/x", "TLS options need");
    expect_error("mqtts://h?cert=/x", "cert and key");
    expect_error("mqtt://us%4@h", "escape");
    expect_error("mqtt://h#frag", "fragments");
    expect_error("mqtt://ho st", "whitespace");
    expect_error("mqtt://[::1", "unterminated");
    expect_error("mqtt://h\"x", "invalid character");
    expect_error("amqp://h?persistent=maybe", "option persistent");
    expect_error("mqtt://h?clean=2", "option clean: '2' is not a boolean");
}

static void test_null_and_long(void **state)
{
    msgflo_url *u = NULL;
    assert_int_equal(msgflo_url_parse(NULL, &u, NULL, 0), MSGFLO_EURL);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "mqtt://", 7);
    assert_int_equal(msgflo_url_parse(big, &u, NULL, 0), 0);
    msgflo_url_free(u);
    msgflo_url_free(NULL);
}

/* A failover list: every host in order, each with its port or the
 * scheme's; host and port are the first's. */
static void test_host_list(void **state)
{
    msgflo_url *u = parse_ok("amqp://guest:pw@127.0.0.1:5672,[::1]:5673,broker.example/vh");
    assert_int_equal(u->n_hosts, 3);
    assert_string_equal(u->hosts[0].host, "127.0.0.1");
    assert_int_equal(u->hosts[0].port, 5672);
    assert_string_equal(u->hosts[1].host, "::1");
    assert_int_equal(u->hosts[1].port, 5673);
    assert_string_equal(u->hosts[2].host, "broker.example");
    assert_int_equal(u->hosts[2].port, 5672);
    assert_string_equal(u->host, "127.0.0.1");
    assert_int_equal(u->port, 5672);
    assert_string_equal(u->password, "pw");
    assert_string_equal(u->vhost, "vh");
    msgflo_url_free(u);

    u = parse_ok("amqps://a,b:5000?ca=/x.pem");
    assert_int_equal(u->n_hosts, 2);
    assert_int_equal(u->hosts[0].port, 5671);
    assert_int_equal(u->hosts[1].port, 5000);
    msgflo_url_free(u);

    u = parse_ok("mqtt://h:1884");
    assert_int_equal(u->n_hosts, 1);
    assert_string_equal(u->hosts[0].host, "h");
    assert_int_equal(u->hosts[0].port, 1884);
    msgflo_url_free(u);

    expect_error("mqtt://a:1883,b:1883", "a list of hosts is for amqp:// and amqps:// only");
    expect_error("amqp://a,,b/", "missing host");
    expect_error("amqp://a,/", "missing host");
    expect_error("amqp://a:5672,b:99999/", "invalid port '99999'");
    expect_error("amqp://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q/", "more than 16 hosts");

    char buf[200];
    assert_int_equal(msgflo_url_redact("amqp://u:secret@a:1,b:2/", buf, sizeof buf), 0);
    assert_string_equal(buf, "amqp://u:***@a:1,b:2/");
}

static void test_queue_type(void **state)
{
    msgflo_url *u = parse_ok("amqp://h/");
    assert_int_equal(u->queue_type, MSGFLO_QUEUE_CLASSIC);
    msgflo_url_free(u);
    u = parse_ok("amqp://h/?queueType=quorum");
    assert_int_equal(u->queue_type, MSGFLO_QUEUE_QUORUM);
    msgflo_url_free(u);
    u = parse_ok("amqp://h/?queue_type=quorum&queueType=classic");
    assert_int_equal(u->queue_type, MSGFLO_QUEUE_CLASSIC);
    msgflo_url_free(u);
    expect_error("amqp://h/?queueType=stream",
                 "option queueType: 'stream' is not classic or quorum");
    expect_error("mqtt://h?queueType=quorum", "option queueType is for amqp:// and amqps:// only");
}

static void test_redact(void **state)
{
    char buf[200];
    assert_int_equal(msgflo_url_redact("amqp://user:secret@h:5672/v", buf, sizeof buf), 0);
    assert_string_equal(buf, "amqp://user:***@h:5672/v");
    assert_int_equal(msgflo_url_redact("mqtt://h", buf, sizeof buf), 0);
    assert_string_equal(buf, "mqtt://h");
    assert_int_equal(msgflo_url_redact("mqtt://alice@h", buf, sizeof buf), 0);
    assert_string_equal(buf, "mqtt://alice@h");
    assert_int_equal(msgflo_url_redact("amqp://u:s@h", buf, 5), MSGFLO_EINVAL);
}

static void test_resolve(void **state)
{
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    assert_null(msgflo_url_resolve(NULL));
    setenv("CLOUDAMQP_URL", "amqp://cloud", 1);
    assert_string_equal(msgflo_url_resolve(NULL), "amqp://cloud");
    setenv("MSGFLO_BROKER", "mqtt://env", 1);
    assert_string_equal(msgflo_url_resolve(NULL), "mqtt://env");
    assert_string_equal(msgflo_url_resolve("mqtt://arg"), "mqtt://arg");
    assert_string_equal(msgflo_url_resolve(""), "mqtt://env");
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
}

/* The public accessors read what the parser filled in, defaults included. */
static void test_accessors(void **state)
{
    (void)state;
    msgflo_url *u = NULL;
    char err[256];
    assert_int_equal(msgflo_url_parse("amqps://us%40r:pw@h1:1,[::1]:2/v%2Fx?prefetch=5&heartbeat=7",
                                      &u, err, sizeof err),
                     0);
    assert_int_equal(msgflo_url_scheme(u), MSGFLO_SCHEME_AMQPS);
    assert_true(msgflo_url_is_amqp(u));
    assert_true(msgflo_url_is_tls(u));
    assert_string_equal(msgflo_url_host(u), "h1");
    assert_int_equal(msgflo_url_port(u), 1);
    assert_int_equal(msgflo_url_host_count(u), 2);
    int port = 0;
    assert_string_equal(msgflo_url_host_at(u, 1, &port), "::1");
    assert_int_equal(port, 2);
    assert_null(msgflo_url_host_at(u, 2, &port));
    assert_string_equal(msgflo_url_user(u), "us@r");
    assert_string_equal(msgflo_url_password(u), "pw");
    assert_string_equal(msgflo_url_vhost(u), "v/x");
    assert_int_equal(msgflo_url_prefetch(u), 5);
    assert_int_equal(msgflo_url_heartbeat(u), 7);
    msgflo_url_free(u);

    assert_int_equal(
        msgflo_url_parse("mqtt://h?qos=1&keepalive=9&clientId=c&clean=false", &u, err, sizeof err),
        0);
    assert_false(msgflo_url_is_amqp(u));
    assert_false(msgflo_url_is_tls(u));
    assert_int_equal(msgflo_url_port(u), 1883);
    assert_null(msgflo_url_user(u));
    assert_null(msgflo_url_vhost(u));
    assert_int_equal(msgflo_url_qos(u), 1);
    assert_int_equal(msgflo_url_keepalive(u), 9);
    assert_string_equal(msgflo_url_client_id(u), "c");
    assert_false(msgflo_url_clean(u));
    msgflo_url_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mqtt_defaults),
        cmocka_unit_test(test_default_ports),
        cmocka_unit_test(test_amqp_full),
        cmocka_unit_test(test_amqp_vhost_default),
        cmocka_unit_test(test_user_without_password),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_mqtt_options),
        cmocka_unit_test(test_delivery_defaults),
        cmocka_unit_test(test_tls_options),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_null_and_long),
        cmocka_unit_test(test_host_list),
        cmocka_unit_test(test_queue_type),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
