/* mosquitto_msgflo.so in a real mosquitto: bindings added, listed and removed
 * over /msgrouter, a pipeline of real participants routed by the broker,
 * fan-out and fan-in, QoS 1 kept, loops and malformed requests refused,
 * bindings kept across a broker restart, 10,000 bindings, and the control
 * topics closed by an ACL, msgflo-setup using the router (no --forever
 * needed). Each case starts its own mosquitto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgrouter_client.h"
#include "support.h"

#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MSGFLO_ROUTER_PLUGIN
#error "MSGFLO_ROUTER_PLUGIN: path of mosquitto_msgflo.so"
#endif

/* Starts mosquitto on b->port, with the plugin (its bindings in
 * DIR/bindings.json) or without, then the extra config lines. */
static void broker_start_with(struct support_mosquitto *b, const char *extra, bool plugin)
{
    char conf[2048];
    snprintf(conf, sizeof conf, "%s%s%s%s", plugin ? "plugin " MSGFLO_ROUTER_PLUGIN "\n" : "",
             plugin ? "plugin_opt_bindings_file " : "", plugin ? b->dir : "",
             plugin ? "/bindings.json\n" : "");
    size_t at = strlen(conf);
    snprintf(conf + at, sizeof conf - at, "%s", extra ? extra : "");
    assert_int_equal(support_mosquitto_start(b, conf), 0);
}

static void broker_start(struct support_mosquitto *b, const char *extra)
{
    broker_start_with(b, extra, true);
}

static void broker_new(struct support_mosquitto *b, const char *extra)
{
    assert_int_equal(support_mosquitto_prepare(b), 0);
    broker_start(b, extra);
}

static void broker_stop(struct support_mosquitto *b)
{
    assert_int_equal(support_mosquitto_stop(b), 0);
}

static void broker_free(struct support_mosquitto *b)
{
    support_mosquitto_free(b);
}

static void test_status_add_list_remove(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    char *status = mqtt_client_wait(&c, "/msgrouter/default/status", 3000); /* retained */
    assert_non_null(status);
    assert_non_null(strstr(status, "\"router\":\"mosquitto_msgflo\""));
    free(status);

    json_t *o = router_control(&c, "addbinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\",\"id\":1}");
    assert_true(json_is_true(json_object_get(o, "ok")));
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "added")), 1);
    json_decref(o);
    o = router_control(&c, "addbinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\"}");
    assert_int_equal(json_integer_value(json_object_get(o, "existing")), 1);
    json_decref(o);
    assert_int_equal(router_count_bindings(&c), 1);

    struct mqtt_client data;
    assert_int_equal(mqtt_client_open(&data, b.url), 0);
    assert_int_equal(mqtt_client_subscribe(&data, "b.IN"), 0);
    assert_int_equal(mqtt_client_publish(&data, "a.OUT", "{\"n\": 1}"), 0);
    char *got = mqtt_client_wait(&data, "b.IN", 3000);
    assert_non_null(got);
    assert_string_equal(got, "{\"n\": 1}"); /* byte for byte */
    free(got);

    o = router_request(&c, "listbindings", "", "bindings");
    json_t *first = json_array_get(json_object_get(o, "bindings"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "messages")), 1);
    assert_int_equal(json_integer_value(json_object_get(first, "bytes")), 8);
    json_decref(o);

    router_expect_ok(&c, "removebinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\"}");
    assert_int_equal(router_count_bindings(&c), 0);
    assert_int_equal(mqtt_client_publish(&data, "a.OUT", "after"), 0);
    got = mqtt_client_wait(&data, "b.IN", 500);
    assert_null(got); /* a removed binding delivers nothing */

    mqtt_client_close(&data);
    mqtt_client_close(&c);
    broker_stop(&b);
    broker_free(&b);
}

static void test_refusals_change_nothing(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding",
                     "{\"bindings\":[{\"src\":\"a\",\"tgt\":\"b\"},{\"src\":\"b\","
                     "\"tgt\":\"c\"}]}");
    const char *bad[] = {
        "{\"src\":\"c\",\"tgt\":\"a\"}",
        "not json",
        "{\"src\":\"x\"}",
        "{\"src\":\"x\",\"tgt\":\"y/#\"}",
        "{\"src\":\"x\",\"tgt\":\"$SYS/y\"}",
        "{\"src\":\"x\",\"tgt\":\"y\",\"type\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = router_control(&c, "addbinding", bad[i]);
        assert_true(json_is_false(json_object_get(o, "ok")));
        assert_true(json_is_string(json_object_get(o, "error")));
        json_decref(o);
    }
    assert_int_equal(router_count_bindings(&c), 2);
    mqtt_client_close(&c);
    broker_stop(&b);
    broker_free(&b);
}

/* A pipeline of real participants (examples/repeat), routed by the broker:
 * a -> b -> c as three Repeats, and fan-out/fan-in around them. */
static void test_participants_routed_by_broker(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    char prog[512];
    support_program("repeat", prog, sizeof prog);
    struct names n[3];
    struct child p[3];
    for (int i = 0; i < 3; i++) {
        support_names(&n[i], "rt");
        char *argv[] = {prog, n[i].role, b.url, NULL};
        assert_int_equal(child_start(&p[i], argv), 0);
        assert_true(child_read_line(&p[i], 10000));
    }
    struct mqtt_client c;
    router_open_admin(&c, &b);
    char req[1024];
    /* 0 -> 1 -> 2, and 0 fans out to 2 as well; fan-in at 2 from 0 and 1 */
    snprintf(req, sizeof req,
             "{\"bindings\":[{\"src\":\"%s\",\"tgt\":\"%s\"},{\"src\":\"%s\",\"tgt\":\"%s\"},"
             "{\"src\":\"%s\",\"tgt\":\"%s\"},{\"src\":\"%s\",\"tgt\":\"sink\"}]}",
             n[0].out, n[1].in, n[1].out, n[2].in, n[0].out, n[2].in, n[2].out);
    router_expect_ok(&c, "addbinding", req);

    struct mqtt_client data;
    assert_int_equal(mqtt_client_open(&data, b.url), 0);
    assert_int_equal(mqtt_client_subscribe(&data, "sink"), 0);
    assert_int_equal(mqtt_client_publish(&data, n[0].in, "\"hello\""), 0);
    /* through 2 directly (0 -> 2) and through 1 (0 -> 1 -> 2): twice */
    for (int i = 0; i < 2; i++) {
        char *got = mqtt_client_wait(&data, "sink", 5000);
        assert_non_null(got);
        assert_string_equal(got, "\"hello\"");
        free(got);
    }
    assert_null(mqtt_client_wait(&data, "sink", 300));
    mqtt_client_close(&data);
    mqtt_client_close(&c);
    for (int i = 0; i < 3; i++)
        child_stop(&p[i], SIGTERM);
    broker_stop(&b);
    broker_free(&b);
}

/* The MQTT 5 properties that describe a message (user property, content
 * type, response topic, correlation data, payload format) go along a chain
 * of bindings with the message, its QoS 2 and its retain flag. */
static void test_properties_carried(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding",
                     "{\"bindings\":[{\"src\":\"pp.a\",\"tgt\":\"pp.b\"},"
                     "{\"src\":\"pp.b\",\"tgt\":\"pp.c\"}]}");
    struct v5_client sub, pub;
    v5_open(&sub, b.url);
    v5_subscribe(&sub, "pp.c");
    v5_open(&pub, b.url);
    v5_publish_described(&pub, "pp.a", "with", 0);
    v5_expect_described(&sub, &pub, "with");
    v5_close(&sub);
    v5_close(&pub);
    mqtt_client_close(&c);
    broker_stop(&b);
    broker_free(&b);
}

/* A raw libmosquitto client that counts what arrives and the QoS it came with. */
struct counter {
    long messages;
    int qos_seen;
};

static void on_count(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    struct counter *c = ud;
    c->messages++;
    c->qos_seen = msg->qos;
}

static struct mosquitto *raw_client(struct support_mosquitto *b, struct counter *c)
{
    struct mosquitto *m = mosquitto_new(NULL, true, c);
    assert_non_null(m);
    mosquitto_message_callback_set(m, on_count);
    assert_int_equal(mosquitto_connect(m, "127.0.0.1", b->port, 30), MOSQ_ERR_SUCCESS);
    return m;
}

static void pump(struct mosquitto *m, struct counter *c, long want, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 10 && (!c || c->messages < want); i++)
        mosquitto_loop(m, 10, 1);
}

static void test_qos1_and_restart(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding", "{\"src\":\"q.OUT\",\"tgt\":\"q.IN\"}");
    mqtt_client_close(&c);

    /* the bindings file is written within a tick; the broker restarts */
    char file[128];
    snprintf(file, sizeof file, "%s/bindings.json", b.dir);
    struct stat st;
    for (int i = 0; i < 100 && stat(file, &st) != 0; i++)
        usleep(20000);
    assert_int_equal(stat(file, &st), 0);
    broker_stop(&b);
    broker_start(&b, NULL);

    struct counter got = {0};
    struct mosquitto *sub = raw_client(&b, &got);
    assert_int_equal(mosquitto_subscribe(sub, NULL, "q.IN", 1), MOSQ_ERR_SUCCESS);
    pump(sub, NULL, 0, 200);
    struct mosquitto *pub = raw_client(&b, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(mosquitto_publish(pub, NULL, "q.OUT", 3, "abc", 1, false),
                         MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 1000 && got.messages < 100; i++) {
        mosquitto_loop(pub, 5, 1);
        mosquitto_loop(sub, 5, 1);
    }
    assert_int_equal(got.messages, 100);
    assert_int_equal(got.qos_seen, 1); /* the QoS of the message, kept */
    mosquitto_destroy(pub);
    mosquitto_destroy(sub);
    broker_stop(&b);
    broker_free(&b);
}

static void test_ten_thousand_bindings(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct support_mosquitto b;
    broker_new(&b, NULL);
    /* one addbinding of N: t/<i>/out -> t/<i>/in */
    size_t cap = (size_t)N * 48 + 64, at = 0;
    char *req = malloc(cap);
    at += (size_t)snprintf(req + at, cap - at, "{\"bindings\":[");
    for (int i = 0; i < N; i++)
        at += (size_t)snprintf(req + at, cap - at, "%s{\"src\":\"t/%d/out\",\"tgt\":\"t/%d/in\"}",
                               i ? "," : "", i, i);
    snprintf(req + at, cap - at, "]}");
    struct mqtt_client c;
    router_open_admin(&c, &b);
    json_t *o = router_control(&c, "addbinding", req);
    assert_int_equal(json_integer_value(json_object_get(o, "count")), N);
    json_decref(o);
    free(req);
    mqtt_client_close(&c);

    struct counter got = {0};
    struct mosquitto *sub = raw_client(&b, &got);
    assert_int_equal(mosquitto_subscribe(sub, NULL, "t/+/in", 0), MOSQ_ERR_SUCCESS);
    pump(sub, NULL, 0, 200);
    struct mosquitto *pub = raw_client(&b, NULL);
    char topic[32];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* in rounds of 200, each taken in before the next: QoS 0 messages a
     * slow subscriber cannot take are dropped by mosquitto, not by us */
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof topic, "t/%d/out", i);
        assert_int_equal(mosquitto_publish(pub, NULL, topic, 1, "x", 0, false), MOSQ_ERR_SUCCESS);
        if (i % 200 == 199 || i == N - 1) {
            for (int j = 0; j < 1000 && got.messages < i + 1; j++) {
                mosquitto_loop(pub, 0, 1);
                mosquitto_loop(sub, 2, 1);
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(got.messages, N);
    print_message("    %d bindings: one message through each in %.0f ms\n", N,
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    mosquitto_destroy(pub);
    mosquitto_destroy(sub);
    broker_stop(&b);
    broker_free(&b);
}

/* With the ACL of docs/msgrouter.md, an anonymous client's addbinding changes
 * nothing; the admin's works. */
static void test_acl_closes_control_topics(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_prepare(&b), 0);
    char acl[128], extra[256];
    snprintf(acl, sizeof acl, "%s/acl", b.dir);
    FILE *f = fopen(acl, "w");
    /* the lines of docs/msgrouter.md */
    fputs("topic readwrite #\ntopic deny /msgrouter/#\n\nuser admin\ntopic readwrite #\n", f);
    fclose(f);
    snprintf(extra, sizeof extra, "acl_file %s\n", acl);
    broker_start(&b, extra);

    struct mqtt_client anon;
    router_open_admin(&anon, &b);
    assert_int_equal(mqtt_client_publish(&anon, "/msgrouter/default/addbinding",
                                         "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\"}"),
                     0);
    assert_null(mqtt_client_wait(&anon, "/msgrouter/default/result", 1000));

    struct mqtt_client admin;
    char url[128];
    snprintf(url, sizeof url, "mqtt://admin@127.0.0.1:%d", b.port);
    assert_int_equal(mqtt_client_open(&admin, url), 0);
    assert_int_equal(mqtt_client_subscribe(&admin, "/msgrouter/default/+"), 0);
    assert_int_equal(router_count_bindings(&admin), 0);
    /* nor can it answer in the router's place */
    assert_int_equal(mqtt_client_publish(&anon, "/msgrouter/default/result",
                                         "{\"id\":\"msgflo-1\",\"ok\":true}"),
                     0);
    assert_null(mqtt_client_wait(&admin, "/msgrouter/default/result", 1000));
    router_expect_ok(&admin, "addbinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\"}");
    assert_int_equal(router_count_bindings(&admin), 1);
    mqtt_client_close(&admin);
    mqtt_client_close(&anon);
    broker_stop(&b);
    broker_free(&b);
}

/* msgflo-setup on a broker with the router: without --forever it asks the
 * router for the bindings, exits 0, and the pipeline keeps working after it
 * exited (a message into a.IN arrives at b.OUT through the broker alone). */
static void test_setup_uses_router(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    char prog[512];
    support_program("repeat", prog, sizeof prog);
    struct names n[2];
    struct child p[2];
    for (int i = 0; i < 2; i++) {
        support_names(&n[i], "su");
        char *argv[] = {prog, n[i].role, b.url, NULL};
        assert_int_equal(child_start(&p[i], argv), 0);
        assert_true(child_read_line(&p[i], 10000));
    }
    char graph[256], out[4096];
    snprintf(graph, sizeof graph, "%s(Repeat) OUT -> IN %s(Repeat)\n", n[0].role, n[1].role);
    int status = router_setup_run(&b, graph, out, sizeof out);
    if (status != 0)
        fprintf(stderr, "%s", out);
    assert_int_equal(status, 0);
    assert_null(strstr(out, "--forever"));

    struct mqtt_client c;
    router_open_admin(&c, &b);
    json_t *o = router_request(&c, "listbindings", "{}", "bindings");
    json_t *first = json_array_get(json_object_get(o, "bindings"), 0);
    assert_int_equal(json_array_size(json_object_get(o, "bindings")), 1);
    assert_string_equal(json_string_value(json_object_get(first, "src")), n[0].out);
    assert_string_equal(json_string_value(json_object_get(first, "tgt")), n[1].in);
    json_decref(o);

    struct mqtt_client data;
    assert_int_equal(mqtt_client_open(&data, b.url), 0);
    assert_int_equal(mqtt_client_subscribe(&data, n[1].out), 0);
    assert_int_equal(mqtt_client_publish(&data, n[0].in, "\"after setup\""), 0);
    char *got = mqtt_client_wait(&data, n[1].out, 5000);
    assert_non_null(got);
    assert_string_equal(got, "\"after setup\"");
    free(got);
    assert_null(mqtt_client_wait(&data, n[1].out, 300)); /* once: nobody forwards as well */
    mqtt_client_close(&data);
    mqtt_client_close(&c);
    for (int i = 0; i < 2; i++)
        child_stop(&p[i], SIGTERM);
    broker_stop(&b);
    broker_free(&b);
}

/* A binding the router refuses (it would loop through a binding an admin
 * made) is reported with the router's reason and forwarded instead: so
 * msgflo-setup without --forever exits 1 saying why. */
static void test_setup_router_refusal(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, NULL);
    struct names n[2];
    support_names(&n[0], "sr");
    support_names(&n[1], "sr");
    struct mqtt_client c;
    router_open_admin(&c, &b);
    char req[512], graph[256], out[4096];
    snprintf(req, sizeof req, "{\"src\":\"%s\",\"tgt\":\"%s\"}", n[1].in, n[0].out);
    router_expect_ok(&c, "addbinding", req);
    snprintf(graph, sizeof graph, "%s(Repeat) OUT -> IN %s(Repeat)\n", n[0].role, n[1].role);
    assert_int_equal(router_setup_run(&b, graph, out, sizeof out), 1);
    assert_non_null(strstr(out, "the broker's router refused bindings"));
    assert_non_null(strstr(out, "would loop"));
    assert_non_null(strstr(out, "Run with --forever"));
    assert_int_equal(router_count_bindings(&c), 1); /* the admin's only */
    mqtt_client_close(&c);
    broker_stop(&b);
    broker_free(&b);
}

/* A stale retained status (the router is not there: here the plugin serves
 * another instance) makes the coordinator ask; unanswered, the request is
 * given up after 5 s and the bindings forwarded: msgflo-setup without
 * --forever then exits 1 saying both. */
static void test_setup_router_not_answering(void **state)
{
    (void)state;
    struct support_mosquitto b;
    broker_new(&b, "plugin_opt_instance other\n");
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);
    assert_non_null(m);
    assert_int_equal(mosquitto_connect(m, "127.0.0.1", b.port, 30), MOSQ_ERR_SUCCESS);
    const char *status = "{\"router\":\"gone\",\"version\":\"0\",\"protocol\":\"1.0\"}";
    assert_int_equal(mosquitto_publish(m, NULL, "/msgrouter/default/status", (int)strlen(status),
                                       status, 1, true),
                     MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20; i++)
        mosquitto_loop(m, 10, 1);
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    struct names n[2];
    support_names(&n[0], "sn");
    support_names(&n[1], "sn");
    char graph[256], out[4096];
    snprintf(graph, sizeof graph, "%s(Repeat) OUT -> IN %s(Repeat)\n", n[0].role, n[1].role);
    assert_int_equal(router_setup_run(&b, graph, out, sizeof out), 1);
    assert_non_null(strstr(out, "the broker's router did not answer within 5 s"));
    assert_non_null(strstr(out, "Run with --forever"));
    broker_stop(&b);
    broker_free(&b);
}

/* Whether a fresh subscriber to the status topic gets a retained status. */
static bool status_retained(struct support_mosquitto *b)
{
    struct mqtt_client c;
    assert_int_equal(mqtt_client_open(&c, b->url), 0);
    assert_int_equal(mqtt_client_subscribe(&c, "/msgrouter/default/status"), 0);
    char *got = mqtt_client_wait(&c, "/msgrouter/default/status", 300);
    bool there = got && *got;
    free(got);
    mqtt_client_close(&c);
    return there;
}

/* A mosquitto with persistence restarted without the plugin restores the
 * retained status, which then expires (plugin_opt_status_ttl, here 4 s):
 * after that msgflo-setup finds no router at once, instead of asking a
 * router that is gone and giving up after 5 s. */
static void test_status_expires_without_plugin(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_prepare(&b), 0);
    char extra[256];
    snprintf(extra, sizeof extra, "persistence true\npersistence_location %s/\n", b.dir);
    char with_ttl[320];
    snprintf(with_ttl, sizeof with_ttl, "%splugin_opt_status_ttl 4\n", extra);
    broker_start_with(&b, with_ttl, true);
    for (int i = 0; i < 20 && !status_retained(&b); i++)
        usleep(50000);
    assert_true(status_retained(&b));
    broker_stop(&b);
    broker_start_with(&b, extra, false);
    assert_true(status_retained(&b)); /* restored from the persistence file */
    bool gone = false;
    for (int i = 0; i < 20 && !gone; i++) {
        usleep(250000);
        gone = !status_retained(&b);
    }
    assert_true(gone);
    struct names n[2];
    support_names(&n[0], "se");
    support_names(&n[1], "se");
    char graph[256], out[4096];
    snprintf(graph, sizeof graph, "%s(Repeat) OUT -> IN %s(Repeat)\n", n[0].role, n[1].role);
    assert_int_equal(router_setup_run(&b, graph, out, sizeof out), 1);
    assert_null(strstr(out, "did not answer"));
    assert_non_null(strstr(out, "Run with --forever"));
    broker_stop(&b);
    broker_free(&b);
}

/* How many times `needle` is in the file at path (0 when it cannot be read). */
/* Sends n messages into `in` and counts what arrives on `out` until nothing
 * more comes for 500 ms. First waits (sending probes) until the pipeline
 * carries a message: participants and forwarders reconnect at their pace. */
static int count_through(struct support_mosquitto *b, const char *in, const char *out, int n)
{
    struct mqtt_client data;
    assert_int_equal(mqtt_client_open(&data, b->url), 0);
    assert_int_equal(mqtt_client_subscribe(&data, out), 0);
    char *m = NULL;
    for (int i = 0; i < 50 && !m; i++) {
        assert_int_equal(mqtt_client_publish(&data, in, "\"probe\""), 0);
        m = mqtt_client_wait(&data, out, 200);
    }
    assert_non_null(m);
    do
        free(m);
    while ((m = mqtt_client_wait(&data, out, 500)) != NULL);
    char msg[32];
    for (int i = 0; i < n; i++) {
        snprintf(msg, sizeof msg, "%d", i);
        assert_int_equal(mqtt_client_publish(&data, in, msg), 0);
    }
    int got = 0;
    while ((m = mqtt_client_wait(&data, out, got < n ? 5000 : 500)) != NULL) {
        free(m);
        got++;
    }
    mqtt_client_close(&data);
    return got;
}

/* msgflo-setup --forever with a router from the start never subscribes to
 * the source topic: every message arrives once, routed by the broker alone.
 * When mosquitto comes back without the plugin, setup forwards (each message
 * once). When it comes back with the plugin (its bindings file kept the
 * binding), setup forwards at first (it cannot know yet), hands the binding
 * over once the router confirmed it and unsubscribes from the source topic
 * (the broker logs it): each message still arrives once. */
static void test_setup_hands_over_to_router(void **state)
{
    (void)state;
    const char *logs = "log_type error\nlog_type warning\nlog_type unsubscribe\n";
    struct support_mosquitto b;
    broker_new(&b, logs);
    char prog[512], setup[512], graph[160], out[160], log[160], cmd[1200], text[256];
    support_program("repeat", prog, sizeof prog);
    struct names n[2];
    struct child p[2], s;
    for (int i = 0; i < 2; i++) {
        support_names(&n[i], "ho");
        char *argv[] = {prog, n[i].role, b.url, NULL};
        assert_int_equal(child_start(&p[i], argv), 0);
        assert_true(child_read_line(&p[i], 10000));
    }
    snprintf(graph, sizeof graph, "%s/graph.fbp", b.dir);
    snprintf(out, sizeof out, "%s/out", b.dir);
    snprintf(log, sizeof log, "%s/log", b.dir);
    FILE *f = fopen(graph, "w");
    assert_non_null(f);
    fprintf(f, "%s(Repeat) OUT -> IN %s(Repeat)\n", n[0].role, n[1].role);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "DEBUG=msgflo:coordinator exec '%s' --forever --broker '%s' '%s' >'%s' 2>&1",
             support_program("msgflo-setup", setup, sizeof setup), b.url, graph, out);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(child_start(&s, argv), 0);

    /* the router from the start: setup never reads a.OUT */
    snprintf(text, sizeof text, " %s\n", n[0].out); /* "<time>: <client> <topic>" */
    assert_true(support_file_wait(out, "bindings kept by the broker's router", 1, 10000));
    assert_int_equal(count_through(&b, n[0].in, n[1].out, 50), 50);
    assert_int_equal(support_file_count(log, text), 0);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    json_t *o = router_request(&c, "listbindings", "{}", "bindings");
    json_t *first = json_array_get(json_object_get(o, "bindings"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "messages")), 51); /* + a probe */
    json_decref(o);
    mqtt_client_close(&c);

    /* mosquitto without the plugin: setup forwards */
    broker_stop(&b);
    broker_start_with(&b, logs, false);
    assert_true(support_file_wait(out, "the broker's router is gone: forwarding", 1, 10000));
    assert_int_equal(count_through(&b, n[0].in, n[1].out, 50), 50);

    /* with the plugin again: the router takes over, setup unsubscribes */
    broker_stop(&b);
    broker_start_with(&b, logs, true);
    assert_true(support_file_wait(out, "bindings kept by the broker's router", 2, 10000));
    assert_true(support_file_wait(log, text, 1, 5000));
    assert_int_equal(count_through(&b, n[0].in, n[1].out, 50), 50);

    assert_int_equal(child_stop(&s, SIGTERM), 0);
    for (int i = 0; i < 2; i++)
        child_stop(&p[i], SIGTERM);
    broker_stop(&b);
    broker_free(&b);
}

int main(void)
{
    mosquitto_lib_init();
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_status_add_list_remove),
        SUPPORT_TEST(test_refusals_change_nothing),
        SUPPORT_TEST(test_participants_routed_by_broker),
        SUPPORT_TEST(test_setup_uses_router),
        SUPPORT_TEST(test_setup_router_refusal),
        SUPPORT_TEST(test_setup_router_not_answering),
        SUPPORT_TEST(test_setup_hands_over_to_router),
        SUPPORT_TEST(test_status_expires_without_plugin),
        SUPPORT_TEST(test_properties_carried),
        SUPPORT_TEST(test_qos1_and_restart),
        SUPPORT_TEST(test_ten_thousand_bindings),
        SUPPORT_TEST(test_acl_closes_control_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
