/* examples/device_repeat (the device core on libmosquitto) on a real
 * mosquitto, held to examples/repeat's checks: the ready line, the announced
 * keys, bytes in -> the same bytes out, periodic re-announcement, coming back
 * after a broker restart, subscribing and announcing at once after losing
 * its connection; the runtime's coordinator discovers it; its announcement equals
 * libmsgflo's repeat's but for the id; msgflo-setup --discover finds two of
 * them and wires them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord/coordinator.h"
#include "coord/registry.h"
#include "msgflo/url.h"
#include "repeat_checks.h"
#include "support.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *url;

static void test_discovery_and_data(void **state)
{
    repeat_check_discovery_and_data("device_repeat", url);
}

/* One implementation: the device and libmsgflo announce the same Repeat. */
static void test_same_announcement_as_repeat(void **state)
{
    struct names n;
    support_names(&n, "dvs");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);
    json_t *payloads[2];
    const char *programs[2] = {"repeat", "device_repeat"};
    for (int i = 0; i < 2; i++) {
        struct child c;
        repeat_start(&c, programs[i], n.role, url);
        payloads[i] = repeat_wait_announcement(&mc, n.role, 5000);
        assert_non_null(payloads[i]);
        assert_int_equal(child_stop(&c, 0), 0);
        json_object_del(payloads[i], "id");
    }
    if (!json_equal(payloads[0], payloads[1])) {
        char *a = json_dumps(payloads[0], JSON_COMPACT), *b = json_dumps(payloads[1], JSON_COMPACT);
        fail_msg("repeat: %s\ndevice_repeat: %s", a, b);
    }
    json_decref(payloads[0]);
    json_decref(payloads[1]);
    mqtt_client_close(&mc);
}

static void test_periodic_discovery(void **state)
{
    repeat_check_periodic_discovery("device_repeat", url);
}

static void test_reconnect_after_broker_restart(void **state)
{
    repeat_check_reconnect_after_restart("device_repeat", url);
}

/* A lost connection is followed by subscribing and announcing at once, not
 * at the next period (27 s): the broker drops the device's connection when
 * another client logs in with its client id, while the test stays
 * subscribed to `fbp`. */
static void test_announces_on_reconnect(void **state)
{
    struct names n;
    support_names(&n, "dva");
    char client_id[96], dev_url[512];
    snprintf(client_id, sizeof client_id, "%s-client", n.role);
    snprintf(dev_url, sizeof dev_url, "%s%sclientId=%s", url, strchr(url, '?') ? "&" : "?",
             client_id);
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, "fbp"), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, n.out), 0);
    char prog[1024];
    char *argv[] = {(char *)support_program("device_repeat", prog, sizeof prog), n.role, dev_url,
                    NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    assert_true(child_read_line(&c, 10000));
    json_t *payload = repeat_wait_announcement(&mc, n.role, 5000);
    assert_non_null(payload);
    json_decref(payload);

    /* the takeover: the device is disconnected and comes back */
    struct mosquitto *thief = mosquitto_new(client_id, true, NULL);
    assert_non_null(thief);
    msgflo_url *u;
    assert_int_equal(msgflo_url_parse(url, &u, NULL, 0), 0);
    assert_int_equal(mosquitto_connect(thief, msgflo_url_host(u), msgflo_url_port(u), 30),
                     MOSQ_ERR_SUCCESS);
    msgflo_url_free(u);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(thief, 20, 1);
    payload = repeat_wait_announcement(&mc, n.role, 10000);
    assert_non_null(payload);
    json_decref(payload);
    mosquitto_destroy(thief);
    /* and it is subscribed again */
    char *got = NULL;
    for (int i = 0; i < 20 && !got; i++) {
        assert_int_equal(mqtt_client_publish(&mc, n.in, "after-takeover"), 0);
        got = mqtt_client_wait(&mc, n.out, 500);
    }
    assert_non_null(got);
    assert_string_equal(got, "after-takeover");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    mqtt_client_close(&mc);
}

/* --- discovered by the runtime's coordinator ---------------------------------- */

struct seen {
    char role[64];
    char component[64];
    int count;
    bool closed;
};

static void on_added(void *ud, const char *role, const json_t *definition)
{
    struct seen *s = ud;
    if (strcmp(role, s->role) != 0)
        return;
    snprintf(s->component, sizeof s->component, "%s",
             json_string_value(json_object_get(definition, "component")));
    s->count++;
}

static void on_closed(void *ud)
{
    ((struct seen *)ud)->closed = true;
}

static void run_until(uv_loop_t *loop, const int *count, const bool *flag, int ms)
{
    for (int i = 0; i < ms / 5 && !(count ? *count : *flag); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* The coordinator of the msgflo runtime (struct system) adds the device to
 * its registry: the component, and the queues it announced. */
static void test_discovered_by_coordinator(void **state)
{
    char dir[256], library[300], components[300];
    snprintf(dir, sizeof dir, "/tmp/msgflo-device-coord-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(library, sizeof library, "%s/library.json", dir);
    snprintf(components, sizeof components, "%s/participants", dir);
    assert_int_equal(mkdir(components, 0755), 0);
    FILE *f = fopen(library, "w");
    assert_non_null(f);
    fputs("{\"msgflo\":{\"components\":{}}}", f);
    fclose(f);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct seen seen = {.count = 0};
    support_role("dvc", seen.role, sizeof seen.role);
    const struct coordinator_options o = {
        .broker = url, .library_path = library, .componentdir = components};
    struct coordinator *coord = NULL;
    char err[512];
    assert_int_equal(coordinator__new(&loop, &o, &coord, err, sizeof err), 0);
    struct system *sys = coordinator__system(coord);
    sys->events.participant_added = on_added;
    sys->ud = &seen;
    for (int i = 0; i < 2000 && !coordinator__connected(coord); i++)
        run_until(&loop, NULL, &seen.closed, 5);
    assert_true(coordinator__connected(coord));

    struct child c;
    repeat_start(&c, "device_repeat", seen.role, url);
    run_until(&loop, &seen.count, NULL, 10000);
    assert_int_equal(seen.count, 1);
    assert_string_equal(seen.component, "c/Repeat");
    char *q = NULL, want[128];
    assert_int_equal(registry__queue(coordinator__registry(coord), seen.role, true, "in", &q, NULL),
                     0);
    snprintf(want, sizeof want, "%s.IN", seen.role);
    assert_string_equal(q, want);
    free(q);
    assert_int_equal(child_stop(&c, 0), 0);

    coordinator__close(coord, on_closed, &seen);
    run_until(&loop, NULL, &seen.closed, 20000);
    assert_true(seen.closed);
    uv_loop_close(&loop);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* --- found and wired by msgflo-setup --discover (the coordinator's discovery) --- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_discovered_by_setup(void **state)
{
    char dir[256], graph[300], library[300], components[300], link[400], prog[1024], text[512];
    char a[64], b[64], ain[128], bout[128];
    snprintf(dir, sizeof dir, "/tmp/msgflo-device-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(graph, sizeof graph, "%s/graph.fbp", dir);
    snprintf(library, sizeof library, "%s/library.json", dir);
    snprintf(components, sizeof components, "%s/participants", dir);
    assert_int_equal(mkdir(components, 0755), 0);
    snprintf(link, sizeof link, "%s/DeviceRepeat", components);
    assert_int_equal(symlink(support_program("device_repeat", prog, sizeof prog), link), 0);
    write_file(library, "{\"msgflo\":{\"components\":{}}}");
    support_role("dsa", a, sizeof a);
    support_role("dsb", b, sizeof b);
    snprintf(text, sizeof text, "%s(DeviceRepeat) OUT -> IN %s(DeviceRepeat)\n", a, b);
    write_file(graph, text);
    snprintf(ain, sizeof ain, "%s.IN", a);
    snprintf(bout, sizeof bout, "%s.OUT", b);

    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, bout), 0);
    char setup[1024];
    char *argv[] = {(char *)support_program("msgflo-setup", setup, sizeof setup),
                    "--broker",
                    (char *)url,
                    "--participants",
                    "--discover",
                    "--library",
                    library,
                    "--componentdir",
                    components,
                    "--timeout",
                    "20",
                    "--forever",
                    graph,
                    NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    char seen[4096] = "";
    size_t used = 0;
    for (;;) {
        if (!child_read_line(&c, 30000))
            fail_msg("msgflo-setup stopped; saw:\n%s", seen);
        int k = snprintf(seen + used, sizeof seen - used, "%s\n", c.line);
        if (k > 0 && (size_t)k < sizeof seen - used)
            used += (size_t)k;
        if (strcmp(c.line, "--forever enabled, keeping alive") == 0)
            break;
    }
    char binding[300];
    snprintf(binding, sizeof binding, "PUBSUB: \t %s.OUT -> %s.IN\n", a, b);
    if (!strstr(seen, binding))
        fail_msg("no binding '%s' in:\n%s", binding, seen);
    assert_int_equal(mqtt_client_publish(&mc, ain, "through two devices"), 0);
    char *got = mqtt_client_wait(&mc, bout, 5000);
    assert_non_null(got);
    assert_string_equal(got, "through two devices");
    free(got);
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    mqtt_client_close(&mc);
    snprintf(text, sizeof text, "rm -rf '%s'", dir);
    assert_int_equal(system(text), 0);
}

int main(void)
{
    url = support_broker("MSGFLO_TEST_MQTT");
    if (!url) {
        fprintf(stderr, "MSGFLO_TEST_MQTT not set: no broker, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_discovery_and_data),
        SUPPORT_TEST(test_same_announcement_as_repeat),
        SUPPORT_TEST(test_periodic_discovery),
        SUPPORT_TEST(test_reconnect_after_broker_restart),
        SUPPORT_TEST(test_announces_on_reconnect),
        SUPPORT_TEST(test_discovered_by_coordinator),
        SUPPORT_TEST(test_discovered_by_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
