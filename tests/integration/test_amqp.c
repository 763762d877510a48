/* Participants on a real RabbitMQ: discovery, data, dead-lettering, shared
 * work, no loss of unacked messages, batched acks, a clean stop mid-stream,
 * reconnect after a broker restart, a failover list whose first host is
 * down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static const char *url;

static void start(struct child *c, const char *program, const char *role, const char *mode)
{
    char prog[1024];
    char *argv[] = {(char *)support_program(program, prog, sizeof prog), (char *)role, (char *)url,
                    (char *)mode, NULL};
    assert_int_equal(child_start(c, argv), 0);
    assert_true(child_read_line(c, 15000));
    assert_non_null(strstr(c->line, " connected to amqp://guest:***@"));
}

static json_t *wait_discovery(struct amqp_client *ac, const char *role, int timeout_ms)
{
    json_t *payload = NULL;
    for (int waited = 0; waited < timeout_ms && !payload; waited += 250) {
        char *msg = amqp_client_wait(ac, 250);
        if (msg)
            payload = support_discovery_for(msg, role);
        free(msg);
    }
    return payload;
}

static void test_discovery_and_data(void **state)
{
    struct names n;
    support_names(&n, "aq");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, "fbp"), 0);
    assert_int_equal(amqp_client_consume(&ac, "fbp"), 0);

    struct child c;
    start(&c, "repeat", n.role, NULL);
    json_t *payload = wait_discovery(&ac, n.role, 10000);
    assert_non_null(payload);
    assert_int_equal(json_object_size(payload), 7);
    assert_string_equal(json_string_value(json_object_get(payload, "component")), "c/Repeat");
    json_decref(payload);

    /* The participant declared its queue exactly as msgflo-nodejs does:
     * redeclaring it with the Node arguments must succeed. */
    assert_int_equal(amqp_client_declare_inqueue(&ac, n.in), 0);

    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "{\"bar\":\"foo\"}"), 0);
    char *got = NULL;
    for (int i = 0; i < 40 && !got; i++) {
        got = amqp_client_wait(&ac, 250);
        if (got && strcmp(got, "{\"bar\":\"foo\"}") != 0) { /* a late discovery */
            free(got);
            got = NULL;
        }
    }
    assert_non_null(got);
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&ac);
}

static void test_nack_goes_to_dead_letter(void **state)
{
    char role[64], in[128], dead[160], dlq[128];
    support_role("an", role, sizeof role);
    snprintf(in, sizeof in, "%s.IN", role);
    snprintf(dead, sizeof dead, "dead-%s", in);
    snprintf(dlq, sizeof dlq, "%s.DEAD", role);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_declare_fanout(&ac, dead), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, dlq), 0);
    assert_int_equal(amqp_client_bind(&ac, dlq, dead), 0);

    struct child c;
    start(&c, "fixture", role, "nack");
    assert_int_equal(amqp_client_send(&ac, in, "reject me"), 0);
    assert_int_equal(amqp_client_consume(&ac, dlq), 0);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "reject me");
    free(got);
    assert_int_equal(amqp_client_count(&ac, in), 0);
    child_stop(&c, 0);
    amqp_client_close(&ac);
}

static void test_same_role_shares_work(void **state)
{
    enum { N = 40 };
    struct names n;
    support_names(&n, "as");
    struct child a, b;
    start(&a, "fixture", n.role, "tag");
    start(&b, "fixture", n.role, "tag");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    for (int i = 0; i < N; i++) {
        char data[16];
        snprintf(data, sizeof data, "%d", i);
        assert_int_equal(amqp_client_send(&ac, n.in, data), 0);
    }
    int seen[N] = {0};
    char first_id[128] = "";
    int by_first = 0, total = 0;
    for (int i = 0; i < N; i++) {
        char *got = amqp_client_wait(&ac, 5000);
        assert_non_null(got);
        json_t *j = json_loads(got, 0, NULL);
        assert_non_null(j);
        const char *id = json_string_value(json_object_get(j, "id"));
        int k = (int)strtol(json_string_value(json_object_get(j, "data")), NULL, 10);
        assert_true(k >= 0 && k < N);
        seen[k]++;
        if (!first_id[0])
            snprintf(first_id, sizeof first_id, "%s", id);
        if (strcmp(first_id, id) == 0)
            by_first++;
        total++;
        json_decref(j);
        free(got);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(total, N);
    /* both workers took part */
    assert_true(by_first > 0 && by_first < N);
    child_stop(&a, 0);
    child_stop(&b, 0);
    amqp_client_close(&ac);
}

static void test_unacked_message_is_not_lost(void **state)
{
    struct names n;
    support_names(&n, "au");
    struct child holder;
    start(&holder, "fixture", n.role, "hold");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "precious"), 0);
    assert_true(child_read_line(&holder, 5000));
    assert_string_equal(holder.line, "holding");
    /* the holder declared <n.role>.OUT: watch it before anyone can repeat */
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    /* the worker dies while holding the message: the broker must requeue it */
    child_stop(&holder, SIGKILL);

    struct child c;
    start(&c, "repeat", n.role, NULL);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "precious");
    free(got);
    child_stop(&c, 0);
    amqp_client_close(&ac);
}

/* Acks go out in batches (one multiple ack for a run of settled deliveries):
 * with nacks and a held message among acked ones, every acked message is
 * gone for good, the nacked ones are dead-lettered, the channel stays up (a
 * wrong multiple ack would close it and everything would come again), and
 * the held one survives the worker's death. */
static void test_batched_acks_skip_unsettled(void **state)
{
    enum { N = 30 };
    struct names n;
    support_names(&n, "ab");
    char dead[160], dlq[160], purl[512];
    snprintf(dead, sizeof dead, "dead-%s", n.in);
    snprintf(dlq, sizeof dlq, "%s.DEAD", n.role);
    snprintf(purl, sizeof purl, "%s%cprefetch=50", url, strchr(url, '?') ? '&' : '?');
    struct amqp_client ac, dl;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_open(&dl, url), 0);
    assert_int_equal(amqp_client_declare_fanout(&ac, dead), 0);
    assert_int_equal(amqp_client_declare_plain(&dl, dlq), 0);
    assert_int_equal(amqp_client_bind(&dl, dlq, dead), 0);

    const char *u = url;
    url = purl;
    struct child c;
    start(&c, "fixture", n.role, "mixed");
    url = u;
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    int sent = 0;
    for (int i = 0; i < N; i++) {
        char data[32];
        if (i == 7)
            snprintf(data, sizeof data, "hold-%d", i);
        else if (i % 5 == 3)
            snprintf(data, sizeof data, "nack-%d", i);
        else
            snprintf(data, sizeof data, "%d", i);
        sent += strncmp(data, "hold", 4) != 0 && strncmp(data, "nack", 4) != 0;
        assert_int_equal(amqp_client_send(&ac, n.in, data), 0);
    }
    for (int i = 0; i < sent; i++) {
        char *got = amqp_client_wait(&ac, 5000);
        assert_non_null(got);
        free(got);
    }
    assert_true(child_read_line(&c, 5000));
    assert_string_equal(c.line, "holding hold-7");
    assert_int_equal(amqp_client_consume(&dl, dlq), 0);
    for (int i = 3; i < N; i += 5) {
        char *got = amqp_client_wait(&dl, 5000);
        assert_non_null(got);
        assert_non_null(strstr(got, "nack-"));
        free(got);
    }
    /* nothing came twice (the channel was never closed) */
    char *extra = amqp_client_wait(&ac, 1000);
    assert_null(extra);
    child_stop(&c, SIGKILL);

    /* only the held message is left for the next worker */
    start(&c, "repeat", n.role, NULL);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "hold-7");
    free(got);
    assert_null(amqp_client_wait(&ac, 1000));
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&dl);
    amqp_client_close(&ac);
}

/* A clean stop (SIGTERM) in the middle of a stream: the close, on the loop,
 * waits for the confirms of the outputs and sends the acks they release
 * before connection.close, so no processed message is delivered again (and
 * none is lost): a second worker repeats exactly the rest. */
static void test_clean_stop_acks_what_it_processed(void **state)
{
    enum { N = 2000 };
    struct names n;
    support_names(&n, "as");
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    struct child c;
    start(&c, "repeat", n.role, NULL);
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    for (int i = 0; i < N; i++) {
        char data[16];
        snprintf(data, sizeof data, "%d", i);
        assert_int_equal(amqp_client_send(&ac, n.in, data), 0);
    }
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    int got = 0;
    for (char *m; got < N / 20 && (m = amqp_client_wait(&ac, 5000)) != NULL; free(m)) {
        long i = strtol(m, NULL, 10);
        assert_true(i >= 0 && i < N && !seen[i]);
        seen[i] = true;
        got++;
    }
    assert_int_equal(got, N / 20);
    assert_int_equal(child_stop(&c, SIGTERM), 0);
    /* what the first worker published before it stopped */
    for (char *m; got < N && (m = amqp_client_wait(&ac, 500)) != NULL; free(m)) {
        long i = strtol(m, NULL, 10);
        assert_true(i >= 0 && i < N && !seen[i]);
        seen[i] = true;
        got++;
    }
    assert_true(got < N); /* stopped mid-stream: the rest is the second worker's */
    start(&c, "repeat", n.role, NULL);
    for (char *m; got < N && (m = amqp_client_wait(&ac, 5000)) != NULL; free(m)) {
        long i = strtol(m, NULL, 10);
        assert_true(i >= 0 && i < N);
        if (seen[i])
            fail_msg("message %ld came twice: the stop did not ack it", i);
        seen[i] = true;
        got++;
    }
    assert_int_equal(got, N);
    assert_null(amqp_client_wait(&ac, 1000));
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&ac);
}

static void test_reconnect_after_broker_restart(void **state)
{
    struct names n;
    support_names(&n, "ar");
    struct child c;
    start(&c, "repeat", n.role, NULL);

    assert_int_equal(support_brokers("restart-amqp"), 0);

    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, "fbp"), 0);
    assert_int_equal(amqp_client_consume(&ac, "fbp"), 0);
    /* re-announced after reconnecting (the periodic announce is 27 s away) */
    json_t *payload = wait_discovery(&ac, n.role, 25000);
    assert_non_null(payload);
    json_decref(payload);

    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "after-restart"), 0);
    char *got = NULL;
    for (int i = 0; i < 20 && !got; i++) {
        got = amqp_client_wait(&ac, 500);
        if (got && strcmp(got, "after-restart") != 0) {
            free(got);
            got = NULL;
        }
    }
    assert_non_null(got);
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&ac);
}

/* amqps:// with the test CA works; with another CA the broker is not trusted. */
static void test_tls(void **state)
{
    const char *tls_url = support_broker("MSGFLO_TEST_AMQPS");
    if (!tls_url)
        skip();
    struct names n;
    support_names(&n, "ats");
    char prog[1024];
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog), n.role, (char *)tls_url,
                    NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    assert_true(child_read_line(&c, 15000));
    assert_non_null(strstr(c.line, "connected to amqps://guest:***@"));
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "over tls"), 0);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "over tls");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);

    char wrong[1024];
    snprintf(wrong, sizeof wrong, "%.*s?ca=/etc/ssl/certs/ca-certificates.crt",
             (int)strcspn(tls_url, "?"), tls_url);
    argv[2] = wrong;
    assert_int_equal(child_start(&c, argv), 0);
    assert_false(child_read_line(&c, 2000));
    child_stop(&c, 0);
    amqp_client_close(&ac);
}

/* An idle participant keeps its connection: heartbeats are serviced while
 * nothing happens. With heartbeat=1 RabbitMQ closes a silent connection after
 * about 2 s; the participant would then reconnect and announce again. */
static void test_idle_heartbeats(void **state)
{
    struct names n;
    support_names(&n, "ahb");
    char hb_url[512], prog[1024];
    snprintf(hb_url, sizeof hb_url, "%s?heartbeat=1", url);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, "fbp"), 0);
    assert_int_equal(amqp_client_consume(&ac, "fbp"), 0);
    setenv("MSGFLO_DISCOVERY_PERIOD", "100000", 1); /* no periodic announcements */
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog), n.role, hb_url, NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    unsetenv("MSGFLO_DISCOVERY_PERIOD");
    assert_true(child_read_line(&c, 15000));
    int announcements = 0;
    for (int waited = 0; waited < 6000; waited += 250) {
        char *msg = amqp_client_wait(&ac, 250);
        json_t *p = msg ? support_discovery_for(msg, n.role) : NULL;
        announcements += p != NULL;
        json_decref(p);
        free(msg);
    }
    assert_int_equal(announcements, 1);
    /* and it still works */
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "awake"), 0);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "awake");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&ac);
}

/* A port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A failover list whose first host is down: the participant goes on to the
 * next one and works. */
static void test_failover_list(void **state)
{
    struct names n;
    support_names(&n, "afo");
    const char *at = strrchr(url, '@');
    assert_non_null(at);
    char list_url[512], prog[1024];
    snprintf(list_url, sizeof list_url, "%.*s127.0.0.1:%d,%s", (int)(at + 1 - url), url,
             dead_port(), at + 1);
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog), n.role, list_url, NULL};
    struct child c;
    assert_int_equal(child_start(&c, argv), 0);
    assert_true(child_read_line(&c, 15000));
    assert_non_null(strstr(c.line, " connected to amqp://guest:***@127.0.0.1:"));
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, url), 0);
    assert_int_equal(amqp_client_watch(&ac, n.out), 0);
    assert_int_equal(amqp_client_send(&ac, n.in, "via the second host"), 0);
    char *got = amqp_client_wait(&ac, 5000);
    assert_non_null(got);
    assert_string_equal(got, "via the second host");
    free(got);
    assert_int_equal(child_stop(&c, 0), 0);
    amqp_client_close(&ac);
}

int main(void)
{
    url = support_broker("MSGFLO_TEST_AMQP");
    if (!url) {
        fprintf(stderr, "MSGFLO_TEST_AMQP not set: no broker, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_discovery_and_data),
        SUPPORT_TEST(test_nack_goes_to_dead_letter),
        SUPPORT_TEST(test_same_role_shares_work),
        SUPPORT_TEST(test_unacked_message_is_not_lost),
        SUPPORT_TEST(test_batched_acks_skip_unsettled),
        SUPPORT_TEST(test_clean_stop_acks_what_it_processed),
        SUPPORT_TEST(test_reconnect_after_broker_restart),
        SUPPORT_TEST(test_tls),
        SUPPORT_TEST(test_idle_heartbeats),
        SUPPORT_TEST(test_failover_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
