/* Participants on a real mosquitto: discovery, data, reconnect after a
 * broker restart; subscriptions asked for inside a message handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/common/session.h"
#include "msgflo/msgflo.h"
#include "repeat_checks.h"
#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *url;

static void test_discovery_and_data(void **state)
{
    repeat_check_discovery_and_data("repeat", url);
}

static void test_reconnect_after_broker_restart(void **state)
{
    repeat_check_reconnect_after_restart("repeat", url);
}

/* mqtts:// with the test CA works; with another CA the broker is not trusted. */
static void test_tls(void **state)
{
    const char *tls_url = support_broker("MSGFLO_TEST_MQTTS");
    if (!tls_url)
        skip();
    char prog[1024];
    struct names n;
    support_names(&n, "mqs");
    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_subscribe(&mc, n.out), 0);

    struct child c;
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog), n.role, (char *)tls_url,
                    NULL};
    assert_int_equal(child_start(&c, argv), 0);
    assert_true(child_read_line(&c, 10000));
    assert_non_null(strstr(c.line, "connected to mqtts://"));
    assert_int_equal(mqtt_client_publish(&mc, n.in, "secret"), 0);
    char *got = mqtt_client_wait(&mc, n.out, 5000);
    assert_non_null(got);
    assert_string_equal(got, "secret");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);

    /* the system CAs did not sign the test broker's certificate */
    char wrong[1024];
    snprintf(wrong, sizeof wrong, "%.*s?ca=/etc/ssl/certs/ca-certificates.crt",
             (int)strcspn(tls_url, "?"), tls_url);
    argv[2] = wrong;
    assert_int_equal(child_start(&c, argv), 0);
    assert_false(child_read_line(&c, 2000));
    child_stop(&c, 0);
    mqtt_client_close(&mc);
}

/* Re-announced every MSGFLO_DISCOVERY_PERIOD/2.2 seconds (2.2 s: every 1 s). */
static void test_periodic_discovery(void **state)
{
    repeat_check_periodic_discovery("repeat", url);
}

enum { BATCH = 300 };

struct batch {
    uv_loop_t loop;
    struct session *s;
    bool connected, subscribed, asked;
    char prefix[64], ctl[96];
    int got[BATCH], dropped;
};

static void batch_connected(struct session *s, void *ud)
{
    (void)s;
    ((struct batch *)ud)->connected = true;
}

static void batch_subscribed(void *arg)
{
    ((struct batch *)arg)->subscribed = true;
}

/* On "go": BATCH subscriptions, and a watch taken back at once, all from
 * within the handler (they leave in batched SUBSCRIBEs at its end). */
static void batch_message(struct session *s, const char *queue, const struct transport_delivery *d,
                          const void *data, size_t len, void *ud)
{
    (void)d;
    (void)data;
    (void)len;
    struct batch *b = ud;
    struct transport *t = session__transport(s);
    size_t pl = strlen(b->prefix);
    if (strcmp(queue, b->ctl) == 0 && !b->asked) {
        b->asked = true;
        char topic[128];
        for (int i = 0; i < BATCH; i++) {
            snprintf(topic, sizeof topic, "%s/%d", b->prefix, i);
            assert_int_equal(transport_subscribe(t, topic), 0);
        }
        snprintf(topic, sizeof topic, "%s/drop", b->prefix);
        assert_int_equal(transport_watch(t, topic), 0);
        assert_int_equal(transport_unwatch(t, topic), 0);
        /* a topic no subscription may have */
        assert_int_not_equal(transport_subscribe(t, "bad/#/topic"), 0);
        assert_int_equal(transport_when_subscribed(t, batch_subscribed, b), 0);
    } else if (strncmp(queue, b->prefix, pl) == 0 && queue[pl] == '/') {
        if (strcmp(queue + pl + 1, "drop") == 0)
            b->dropped++;
        else
            b->got[strtoul(queue + pl + 1, NULL, 10) % BATCH]++;
    }
}

static void batch_run(struct batch *b, bool *until)
{
    for (int i = 0; i < 1000 && !*until; i++) {
        uv_run(&b->loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_true(*until);
}

static void test_subscriptions_in_a_handler(void **state)
{
    static const struct session_events ev = {.connected = batch_connected,
                                             .message = batch_message};
    struct batch b;
    char err[256];
    memset(&b, 0, sizeof b);
    uv_loop_init(&b.loop);
    support_role("mqb", b.prefix, sizeof b.prefix);
    snprintf(b.ctl, sizeof b.ctl, "%s/ctl", b.prefix);
    assert_int_equal(session__new(&b.loop, url, "test-batch", 0, &ev, &b, &b.s, err, sizeof err),
                     0);
    assert_int_equal(session__start(b.s, 30000), 0);
    batch_run(&b, &b.connected);
    struct transport *t = session__transport(b.s);
    assert_int_equal(transport_subscribe(t, b.ctl), 0);
    assert_int_equal(transport_when_subscribed(t, batch_subscribed, &b), 0);
    batch_run(&b, &b.subscribed);
    b.subscribed = false;

    struct mqtt_client mc;
    assert_int_equal(mqtt_client_open(&mc, url), 0);
    assert_int_equal(mqtt_client_publish(&mc, b.ctl, "go"), 0);
    batch_run(&b, &b.subscribed);
    /* In order from one publisher: the unwatched topic first, then each one. */
    char topic[128];
    snprintf(topic, sizeof topic, "%s/drop", b.prefix);
    assert_int_equal(mqtt_client_publish(&mc, topic, "x"), 0);
    for (int i = 0; i < BATCH; i++) {
        snprintf(topic, sizeof topic, "%s/%d", b.prefix, i);
        assert_int_equal(mqtt_client_publish(&mc, topic, "x"), 0);
    }
    bool all = false;
    for (int round = 0; round < 500 && !all; round++) {
        uv_run(&b.loop, UV_RUN_NOWAIT);
        usleep(10000);
        all = true;
        for (int i = 0; i < BATCH; i++)
            all = all && b.got[i] == 1;
    }
    assert_true(all);
    assert_int_equal(b.dropped, 0);
    mqtt_client_close(&mc);
    session__finish(b.s, 0);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    session__free(b.s);
    uv_loop_close(&b.loop);
}

/* The broker socket is close-on-exec: a participant's or a supervisor's
 * children must not keep it open (the connection would outlive a reconnect,
 * and epoll would report its errors for the next socket of that number). */
static void cloexec_ready(msgflo_participant *p, void *ud)
{
    (void)p;
    *(bool *)ud = true;
}

static void cloexec_process(msgflo_participant *p, const char *inport, msgflo_message *msg,
                            void *ud)
{
    (void)p;
    (void)inport;
    (void)ud;
    msgflo_message_ack(msg);
}

static void test_socket_close_on_exec(void **state)
{
    (void)state;
    char role[64];
    support_role("mqx", role, sizeof role);
    msgflo_url *u;
    char err[256];
    assert_int_equal(msgflo_url_parse(url, &u, err, sizeof err), 0);
    const msgflo_port_def in[] = {{.id = "in"}, {0}};
    const msgflo_definition def = {.component = "test/Cloexec", .role = role, .inports = in};
    msgflo_participant *p;
    bool ready = false;
    assert_int_equal(
        msgflo_participant_new(&p, &def, NULL, url, cloexec_process, &ready, err, sizeof err), 0);
    msgflo_participant_set_callbacks(p, cloexec_ready, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(msgflo_participant_start(p, &loop), 0);
    for (int i = 0; i < 1000 && !ready; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_true(ready);
    int found = 0;
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 || peer.sin_family != AF_INET ||
            ntohs(peer.sin_port) != msgflo_url_port(u))
            continue;
        found++;
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    assert_true(found >= 1);
    msgflo_participant_stop(p, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    msgflo_participant_free(p);
    uv_loop_close(&loop);
    msgflo_url_free(u);
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
        SUPPORT_TEST(test_reconnect_after_broker_restart),
        SUPPORT_TEST(test_tls),
        SUPPORT_TEST(test_periodic_discovery),
        SUPPORT_TEST(test_subscriptions_in_a_handler),
        SUPPORT_TEST(test_socket_close_on_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
