/* msgflo-router against a real mosquitto without the plugin: the /msgrouter
 * requests answered, forwarding byte for byte with the QoS, loops refused,
 * the bindings (and QoS 1 messages) kept across the router's restart,
 * forwarding resumed after mosquitto restarts, the status cleared when it
 * stops (SIGTERM) or dies (its will), msgflo-setup handing its bindings to
 * it and exiting, and the coordinator forwarding again once the router is
 * gone, and a router's late ok stopping the coordinator's forwarding; over
 * MQTT 5, chains that meet delivering once and a message's retain flag,
 * QoS 2 and properties carried; on RabbitMQ's MQTT 3.1.1, the fallback. Each
 * case starts its own mosquitto and router. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgrouter_client.h"
#include "support.h"

#include "msgflo/url.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATUS "/msgrouter/default/status"

/* Starts msgflo-router on b, its bindings kept in DIR/bindings.json, its
 * stderr copied to DIR/router.err, and waits for its line ("... with N
 * binding(s) ..."), copied to line. */
static void router_start(struct child *r, struct support_mosquitto *b, char *line, size_t len)
{
    char prog[512], cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "exec '%s' --broker '%s' --bindings '%s/bindings.json' 2> >(tee -a '%s/router.err' >&2)",
        support_program("msgflo-router", prog, sizeof prog), b->url, b->dir, b->dir);
    char *argv[] = {"/bin/bash", "-c", cmd, NULL};
    assert_int_equal(child_start(r, argv), 0);
    assert_true(child_read_line(r, 30000));
    assert_non_null(strstr(r->line, "msgflo-router: routing /msgrouter/default/"));
    snprintf(line, len, "%s", r->line);
}

/* The retained status a new subscriber receives: owned, NULL when there is none. */
static char *status_now(struct support_mosquitto *b)
{
    struct mqtt_client c;
    assert_int_equal(mqtt_client_open(&c, b->url), 0);
    assert_int_equal(mqtt_client_subscribe(&c, STATUS), 0);
    char *s = mqtt_client_wait(&c, STATUS, 500);
    if (s && !*s) { /* an empty retained message is none */
        free(s);
        s = NULL;
    }
    mqtt_client_close(&c);
    return s;
}

/* Publishes `data` (len bytes, QoS qos) on in and returns what arrives on
 * out within 3 s (owned), its QoS in *qos. */
static char *through(struct support_mosquitto *b, const char *in, const char *out, const void *data,
                     size_t len, int qos, int *got_qos)
{
    struct mqtt_client c;
    assert_int_equal(mqtt_client_open(&c, b->url), 0);
    assert_int_equal(mqtt_client_subscribe_qos(&c, out, 1), 0);
    assert_int_equal(mqtt_client_publish_qos(&c, in, data, len, qos), 0);
    char *got = mqtt_client_wait(&c, out, 3000);
    if (got_qos)
        *got_qos = c.last_qos;
    if (got)
        assert_null(mqtt_client_wait(&c, out, 300)); /* once */
    mqtt_client_close(&c);
    return got;
}

static void test_requests_forwarding_loops(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_new(&b, NULL), 0);
    struct child r;
    char line[1024];
    router_start(&r, &b, line, sizeof line);
    assert_non_null(strstr(line, "with 0 binding(s)"));
    char *status = status_now(&b);
    assert_non_null(status);
    assert_non_null(strstr(status, "\"router\":\"msgflo-router\""));
    assert_non_null(strstr(status, "\"protocol\":\"1.0\""));
    free(status);

    struct mqtt_client c;
    router_open_admin(&c, &b);
    json_t *o =
        router_request(&c, "addbinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\",\"id\":7}", "result");
    assert_true(json_is_true(json_object_get(o, "ok")));
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "added")), 1);
    json_decref(o);

    /* byte for byte (a NUL and a high byte inside), with the QoS */
    static const char bytes[] = {'{', 0, '\xff', '}'};
    int qos = -1;
    char *got = through(&b, "a.OUT", "b.IN", bytes, sizeof bytes, 1, &qos);
    assert_non_null(got);
    assert_memory_equal(got, bytes, sizeof bytes);
    assert_int_equal(qos, 1);
    free(got);
    got = through(&b, "a.OUT", "b.IN", "zero", 4, 0, &qos);
    assert_non_null(got);
    assert_int_equal(qos, 0);
    free(got);

    /* a chain goes on through the broker; a loop is refused and changes nothing */
    router_expect_ok(&c, "addbinding", "{\"src\":\"b.IN\",\"tgt\":\"c.IN\"}");
    got = through(&b, "a.OUT", "c.IN", "chained", 7, 0, NULL);
    assert_non_null(got);
    assert_string_equal(got, "chained");
    free(got);
    o = router_request(&c, "addbinding", "{\"src\":\"c.IN\",\"tgt\":\"a.OUT\"}", "result");
    assert_false(json_is_true(json_object_get(o, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "would loop"));
    json_decref(o);

    o = router_request(&c, "listbindings", "{}", "bindings");
    json_t *list = json_object_get(o, "bindings");
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(first, "src")), "a.OUT");
    assert_int_equal(json_integer_value(json_object_get(first, "messages")), 3);
    assert_int_equal(json_integer_value(json_object_get(first, "bytes")), 4 + 4 + 7);
    json_decref(o);

    o = router_request(&c, "removebinding", "{\"src\":\"a.OUT\",\"tgt\":\"b.IN\"}", "result");
    assert_true(json_is_true(json_object_get(o, "ok")));
    assert_int_equal(json_integer_value(json_object_get(o, "count")), 1);
    json_decref(o);
    assert_null(through(&b, "a.OUT", "b.IN", "after", 5, 0, NULL));

    mqtt_client_close(&c);
    assert_int_equal(child_stop(&r, SIGTERM), 0);
    assert_int_equal(support_mosquitto_stop(&b), 0);
    support_mosquitto_free(&b);
}

/* Stopped with SIGTERM, the router clears its status (exit 0); started
 * again, it has its bindings back from its file and forwards them, and the
 * QoS 1 and 2 messages published while it was away (its session is kept,
 * on MQTT 5 with no expiry). Killed,
 * its will clears the status. */
static void test_persists_and_clears_status(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_new(&b, NULL), 0);
    struct child r;
    char line[1024], file[128];
    router_start(&r, &b, line, sizeof line);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding",
                     "{\"bindings\":[{\"src\":\"p.OUT\",\"tgt\":\"q.IN\"},"
                     "{\"src\":\"p.OUT\",\"tgt\":\"r.IN\",\"type\":\"roundrobin\"}]}");
    mqtt_client_close(&c);
    snprintf(file, sizeof file, "%s/bindings.json", b.dir);
    assert_true(support_file_wait(file, "\"r.IN\"", 1, 2000)); /* written while it runs */
    assert_int_equal(child_stop(&r, SIGTERM), 0);
    assert_null(status_now(&b));

    /* QoS 1 and 2 messages while it is away wait in its kept session */
    struct mqtt_client away;
    assert_int_equal(mqtt_client_open(&away, b.url), 0);
    assert_int_equal(mqtt_client_subscribe_qos(&away, "q.IN", 2), 0);
    assert_int_equal(mqtt_client_publish_qos(&away, "p.OUT", "away", 4, 1), 0);
    assert_int_equal(mqtt_client_publish_qos(&away, "p.OUT", "away2", 5, 2), 0);

    router_start(&r, &b, line, sizeof line);
    assert_non_null(strstr(line, "with 2 binding(s)"));
    char *got = mqtt_client_wait(&away, "q.IN", 3000);
    assert_non_null(got);
    assert_string_equal(got, "away");
    free(got);
    got = mqtt_client_wait(&away, "q.IN", 3000);
    assert_non_null(got);
    assert_string_equal(got, "away2");
    assert_int_equal(away.last_qos, 2);
    free(got);
    mqtt_client_close(&away);
    got = through(&b, "p.OUT", "r.IN", "kept", 4, 0, NULL);
    assert_non_null(got);
    assert_string_equal(got, "kept");
    free(got);
    char *status = status_now(&b);
    assert_non_null(status);
    free(status);

    assert_int_equal(child_stop(&r, SIGKILL), -SIGKILL);
    for (int i = 0; i < 20 && (status = status_now(&b)) != NULL; i++)
        free(status);
    assert_null(status); /* the will */
    assert_int_equal(support_mosquitto_stop(&b), 0);
    support_mosquitto_free(&b);
}

/* mosquitto restarts (no persistence: every subscription and retained
 * message gone): the router reconnects, subscribes again, publishes its
 * status again and forwards. */
static void test_broker_restart(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_new(&b, NULL), 0);
    struct child r;
    char line[1024];
    router_start(&r, &b, line, sizeof line);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding", "{\"src\":\"x.OUT\",\"tgt\":\"y.IN\"}");
    mqtt_client_close(&c);
    assert_int_equal(support_mosquitto_stop(&b), 0);
    assert_int_equal(support_mosquitto_start(&b, NULL), 0);
    assert_true(child_read_line(&r, 15000)); /* routing again */
    assert_non_null(strstr(r.line, "with 1 binding(s)"));
    char *got = NULL;
    for (int i = 0; i < 20 && !got; i++) /* its subscriptions may trail its line */
        got = through(&b, "x.OUT", "y.IN", "again", 5, 1, NULL);
    assert_non_null(got);
    assert_string_equal(got, "again");
    free(got);
    char *status = status_now(&b);
    assert_non_null(status);
    free(status);
    assert_int_equal(child_stop(&r, SIGTERM), 0);
    assert_int_equal(support_mosquitto_stop(&b), 0);
    support_mosquitto_free(&b);
}

/* A private mosquitto, msgflo-router on it, two Repeats a and b (ready) and
 * the graph "a OUT -> IN b"; msgflo-setup's output goes to `out`. */
struct scene {
    struct support_mosquitto b; /* its url another broker's when not ours */
    bool own_broker;
    struct child r, p[2], s;
    struct names n[2];
    char graph[256], out[160];
};

/* On `url` (NULL: a private mosquitto of the scene's). */
static void scene_start_on(struct scene *sc, const char *prefix, const char *url)
{
    char line[1024], prog[512];
    sc->own_broker = url == NULL;
    if (url) {
        assert_int_equal(support_mosquitto_prepare(&sc->b), 0);
        snprintf(sc->b.url, sizeof sc->b.url, "%s", url);
    } else {
        assert_int_equal(support_mosquitto_new(&sc->b, NULL), 0);
    }
    router_start(&sc->r, &sc->b, line, sizeof line);
    support_program("repeat", prog, sizeof prog);
    for (int i = 0; i < 2; i++) {
        support_names(&sc->n[i], prefix);
        char *argv[] = {prog, sc->n[i].role, sc->b.url, NULL};
        assert_int_equal(child_start(&sc->p[i], argv), 0);
        assert_true(child_read_line(&sc->p[i], 10000));
    }
    snprintf(sc->graph, sizeof sc->graph, "%s(Repeat) OUT -> IN %s(Repeat)\n", sc->n[0].role,
             sc->n[1].role);
    snprintf(sc->out, sizeof sc->out, "%s/setup.out", sc->b.dir);
}

static void scene_start(struct scene *sc, const char *prefix)
{
    scene_start_on(sc, prefix, NULL);
}

/* a.IN -> b.OUT through the broker: `data` arrives once. */
static void scene_through(struct scene *sc, const char *data)
{
    char *got = through(&sc->b, sc->n[0].in, sc->n[1].out, data, strlen(data), 0, NULL);
    assert_non_null(got);
    assert_string_equal(got, data);
    free(got);
}

/* Stops the participants and the broker (the router and msgflo-setup are
 * the test's). */
static void scene_stop(struct scene *sc)
{
    for (int i = 0; i < 2; i++)
        child_stop(&sc->p[i], SIGTERM);
    if (sc->own_broker)
        assert_int_equal(support_mosquitto_stop(&sc->b), 0);
    support_mosquitto_free(&sc->b);
}

/* Two Repeats on a plain mosquitto with msgflo-router: msgflo-setup without
 * --forever hands the edge to the router and exits 0; messages flow after
 * it exited, once each. */
static void test_setup_without_forever(void **state)
{
    (void)state;
    struct scene sc;
    scene_start(&sc, "rd");
    router_setup_start(&sc.s, &sc.b, sc.graph, false);
    int status = child_wait(&sc.s, 30000);
    if (status != 0) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", sc.out);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(status, 0);
    assert_int_equal(
        support_file_count(sc.out, "bindings kept by the broker's router msgflo-router"), 1);
    scene_through(&sc, "\"after setup\"");
    assert_int_equal(child_stop(&sc.r, SIGTERM), 0);
    scene_stop(&sc);
}

/* msgflo-setup --forever with msgflo-router: the router keeps the edge;
 * when the router dies (SIGKILL: its will clears the status) setup forwards
 * the edge itself, each message once. */
static void test_coordinator_falls_back(void **state)
{
    (void)state;
    struct scene sc;
    scene_start(&sc, "rf");
    router_setup_start(&sc.s, &sc.b, sc.graph, true);
    assert_true(support_file_wait(sc.out, "bindings kept by the broker's router", 1, 10000));
    scene_through(&sc, "1");
    assert_int_equal(child_stop(&sc.r, SIGKILL), -SIGKILL);
    assert_true(support_file_wait(sc.out, "the broker's router is gone: forwarding", 1, 10000));
    char *got = NULL;
    for (int i = 0; i < 20 && !got; i++) /* its subscription may trail its line */
        got = through(&sc.b, sc.n[0].in, sc.n[1].out, "2", 1, 0, NULL);
    assert_non_null(got);
    assert_string_equal(got, "2");
    free(got);
    assert_int_equal(child_stop(&sc.s, SIGTERM), 0);
    scene_stop(&sc);
}

/* A router slower than the coordinator's 5 s (msgflo-router paused with
 * SIGSTOP while msgflo-setup --forever asks it): setup gives up and forwards
 * the edge itself; once the router resumes, its ok stops that forwarding.
 * Every message arrives once, not twice (the router's copy and setup's). */
static void test_late_ok_stops_forwarding(void **state)
{
    (void)state;
    struct scene sc;
    scene_start(&sc, "rl");
    assert_int_equal(kill(sc.r.pid, SIGSTOP), 0);
    router_setup_start(&sc.s, &sc.b, sc.graph, true);
    assert_true(support_file_wait(sc.out, "did not answer within 5 s", 1, 15000));
    scene_through(&sc, "given up"); /* setup forwards */
    assert_int_equal(kill(sc.r.pid, SIGCONT), 0);
    assert_true(support_file_wait(sc.out, "the broker's router answered late", 1, 10000));
    for (int i = 0; i < 5; i++) /* the router's copy only */
        scene_through(&sc, "late");
    assert_int_equal(child_stop(&sc.s, SIGTERM), 0);
    assert_int_equal(child_stop(&sc.r, SIGTERM), 0);
    scene_stop(&sc);
}

/* How often msgflo-router said on b that it fell back to MQTT 3.1.1. */
static int router_fell_back(const struct support_mosquitto *b)
{
    char file[128];
    snprintf(file, sizeof file, "%s/router.err", b->dir);
    return support_file_count(file, "the broker does not take MQTT 5");
}

/* Where two chains meet (a -> b, a -> c, b -> d, c -> d), d gets a message
 * once, as from the plugin: the router speaks MQTT 5, is not sent its own
 * republications (no-local), and forwards the whole chain itself. Before,
 * it forwarded each topic's own bindings and got its copies on b and c
 * back: d got the message twice. */
static void test_chains_meet_once(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_new(&b, NULL), 0);
    struct child r;
    char line[1024];
    router_start(&r, &b, line, sizeof line);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(
        &c, "addbinding",
        "{\"bindings\":[{\"src\":\"m.a\",\"tgt\":\"m.b\"},{\"src\":\"m.a\",\"tgt\":"
        "\"m.c\"},{\"src\":\"m.b\",\"tgt\":\"m.d\"},{\"src\":\"m.c\",\"tgt\":\"m.d\"}]}");
    for (int qos = 0; qos <= 1; qos++) {
        char *got = through(&b, "m.a", "m.d", "meet", 4, qos, NULL); /* asserts: once */
        assert_non_null(got);
        assert_string_equal(got, "meet");
        free(got);
    }
    char *got = through(&b, "m.a", "m.b", "b", 1, 1, NULL);
    assert_non_null(got);
    free(got);
    got = through(&b, "m.b", "m.d", "from b", 6, 1, NULL); /* a participant on b: its own chain */
    assert_non_null(got);
    assert_string_equal(got, "from b");
    free(got);
    json_t *o = router_request(&c, "listbindings", "{}", "bindings");
    json_t *list = json_object_get(o, "bindings");
    assert_int_equal(json_array_size(list), 4);
    for (size_t i = 0; i < 4; i++) { /* m.b -> m.d crossed by 3 from m.a and 1 from m.b */
        json_t *e = json_array_get(list, i);
        bool bd = strcmp(json_string_value(json_object_get(e, "src")), "m.b") == 0;
        assert_int_equal(json_integer_value(json_object_get(e, "messages")), bd ? 4 : 3);
    }
    json_decref(o);
    mqtt_client_close(&c);
    assert_int_equal(router_fell_back(&b), 0);
    assert_int_equal(child_stop(&r, SIGTERM), 0);
    assert_int_equal(support_mosquitto_stop(&b), 0);
    support_mosquitto_free(&b);
}

/* A message published retained, at QoS 2, with properties, on a bound
 * source arrives on the end of the chain once, retained, at QoS 2, with
 * its properties as published; it stays retained there (a later subscriber
 * gets it). A retained message published before its topic was bound is
 * not forwarded when the binding comes (nor by the plugin). */
static void test_retain_qos2_properties(void **state)
{
    (void)state;
    struct support_mosquitto b;
    assert_int_equal(support_mosquitto_new(&b, NULL), 0);
    struct child r;
    char line[1024];
    router_start(&r, &b, line, sizeof line);
    struct mqtt_client c;
    router_open_admin(&c, &b);
    router_expect_ok(&c, "addbinding",
                     "{\"bindings\":[{\"src\":\"k.a\",\"tgt\":\"k.b\"},"
                     "{\"src\":\"k.b\",\"tgt\":\"k.c\"}]}");

    struct v5_client sub, pub;
    v5_open(&sub, b.url);
    v5_subscribe(&sub, "k.c");
    v5_open(&pub, b.url);
    v5_publish_described(&pub, "k.a", "kept", 600);
    v5_expect_described(&sub, &pub, "kept");
    assert_true(sub.expiry > 590 && sub.expiry <= 600); /* what is left of it */
    v5_close(&sub);

    /* retained on the targets: a new subscriber of k.b gets it */
    struct mqtt_client late;
    assert_int_equal(mqtt_client_open(&late, b.url), 0);
    assert_int_equal(mqtt_client_subscribe(&late, "k.b"), 0);
    char *got = mqtt_client_wait(&late, "k.b", 2000);
    assert_non_null(got);
    assert_string_equal(got, "kept");
    free(got);

    /* retained before the binding: not forwarded when it comes */
    assert_int_equal(mosquitto_publish(pub.mosq, NULL, "k.x", 6, "before", 1, true), 0);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(pub.mosq, 20, 1);
    assert_int_equal(mqtt_client_subscribe(&late, "k.y"), 0);
    router_expect_ok(&c, "addbinding", "{\"src\":\"k.x\",\"tgt\":\"k.y\"}");
    assert_null(mqtt_client_wait(&late, "k.y", 700));
    got = through(&b, "k.x", "k.y", "after", 5, 0, NULL);
    assert_non_null(got);
    free(got);
    mqtt_client_close(&late);
    v5_close(&pub);
    mqtt_client_close(&c);
    assert_int_equal(child_stop(&r, SIGTERM), 0);
    assert_int_equal(support_mosquitto_stop(&b), 0);
    support_mosquitto_free(&b);
}

/* RabbitMQ's MQTT side (the rabbitmq_mqtt plugin of the test RabbitMQ).
 * RabbitMQ cannot keep such a binding itself (it routes without changing a
 * message's topic: docs/msgrouter.md), msgflo-router does: msgflo-setup
 * without --forever exits 0 and a -> b flows, each message once. RabbitMQ
 * delivers a message published on `b.OUT` under the topic `b/OUT` (its '.'
 * and '/' swapped one way only); the participants and the router take it as
 * the topic they subscribed to, so this works at all. */
static void test_rabbitmq_mqtt(void **state)
{
    (void)state;
    const char *url = support_broker("MSGFLO_TEST_RABBITMQ_MQTT");
    assert_non_null(url); /* the brokers fixture enables rabbitmq_mqtt */
    struct scene sc;
    scene_start_on(&sc, "rq", url);
    char cmd[200];
    router_setup_start(&sc.s, &sc.b, sc.graph, false);
    int status = child_wait(&sc.s, 30000);
    if (status != 0) {
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", sc.out);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(status, 0);
    assert_int_equal(
        support_file_count(sc.out, "bindings kept by the broker's router msgflo-router"), 1);
    char swapped[128];
    snprintf(swapped, sizeof swapped, "%s", sc.n[1].out);
    swapped[strcspn(swapped, ".")] = '/';
    struct mqtt_client c;
    assert_int_equal(mqtt_client_open(&c, url), 0);
    assert_int_equal(mqtt_client_subscribe(&c, sc.n[1].out), 0);
    for (int i = 0; i < 3; i++) {
        char data[16];
        snprintf(data, sizeof data, "m%d", i);
        assert_int_equal(mqtt_client_publish(&c, sc.n[0].in, data), 0);
        char *got = mqtt_client_wait(&c, swapped, 5000);
        assert_non_null(got);
        assert_string_equal(got, data);
        free(got);
    }
    assert_null(mqtt_client_wait(&c, swapped, 300)); /* once each */
    mqtt_client_close(&c);
    assert_int_equal(router_fell_back(&sc.b), 1); /* RabbitMQ 3.10 speaks 3.1.1 only: said once */
    /* RabbitMQ keeps the retained status; the router clears it at its stop */
    assert_int_equal(child_stop(&sc.r, SIGTERM), 0);
    scene_stop(&sc);
}

int main(void)
{
    mosquitto_lib_init();
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_requests_forwarding_loops),
        SUPPORT_TEST(test_persists_and_clears_status),
        SUPPORT_TEST(test_broker_restart),
        SUPPORT_TEST(test_setup_without_forever),
        SUPPORT_TEST(test_coordinator_falls_back),
        SUPPORT_TEST(test_late_ok_stops_forwarding),
        SUPPORT_TEST(test_chains_meet_once),
        SUPPORT_TEST(test_retain_qos2_properties),
        SUPPORT_TEST(test_rabbitmq_mqtt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
