/* What discovery messages from outside can make a running `msgflo` keep
 * (docs/coordinator.md, "Limits"), on the test mosquitto with a real runtime
 * process whose memory is read from /proc/PID/status:
 * - messages over the size limit are dropped unparsed, with one warning line
 *   for a burst, and do not grow the runtime;
 * - participants with big definitions of their own components leave memory
 *   where it was once they expired (the components are forgotten with them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MB (1024 * 1024)

/* Whether the runtime's RSS means anything (not under a sanitizer's allocator). */
#if defined(MSGFLO_TEST_NO_RSS)
#define RSS_CHECKED false
#else
#define RSS_CHECKED true
#endif

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    if (f)
        fclose(f);
    assert_true(kb > 0);
    return kb;
}

/* The runtime with its log (DEBUG=msgflo:coordinator) on stdout, in an
 * empty directory (no package.json). */
static void start_runtime(struct child *rt, const char *url, const char *extra)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd /tmp && DEBUG=msgflo:coordinator exec %s --port 0 --broker %s %s 2>&1",
             MSGFLO_RUNTIME_TOOL, url, extra);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(child_start(rt, argv), 0);
    for (;;) {
        assert_true(child_read_line(rt, 10000));
        if (strstr(rt->line, "msgflo started on"))
            break;
    }
}

/* Reads the runtime's lines until `n` more contain `what` (other lines are
 * read too: the runtime must never block on its log); counts those
 * containing `also` (may be NULL) into *also_n. */
static void read_until(struct child *rt, const char *what, int n, int timeout_ms, const char *also,
                       int *also_n)
{
    int seen = 0;
    while (seen < n) {
        if (!child_read_line(rt, timeout_ms))
            fail_msg("saw %d of %d lines with '%s'", seen, n, what);
        seen += strstr(rt->line, what) != NULL;
        if (also && strstr(rt->line, also))
            (*also_n)++;
    }
}

/* Lets the runtime settle (startup allocations, broker connection). */
static long settled_rss(struct child *rt)
{
    for (int i = 0; i < 10; i++)
        child_read_line(rt, 100);
    return rss_kb(rt->pid);
}

/* Publishes on fbp and writes it all out (a big message takes many writes). */
static void publish(struct mqtt_client *pub, const char *text)
{
    assert_int_equal(mqtt_client_publish(pub, "fbp", text), 0);
    for (int i = 0; i < 2000 && mosquitto_want_write(pub->mosq); i++)
        assert_int_equal(mosquitto_loop(pub->mosq, 10, 1), MOSQ_ERR_SUCCESS);
    assert_false(mosquitto_want_write(pub->mosq));
}

static char *discovery(const char *id, const char *component, const char *label, const char *ports)
{
    size_t len = strlen(label) + strlen(ports) + strlen(id) * 2 + strlen(component) + 256;
    char *text = malloc(len);
    assert_non_null(text);
    snprintf(text, len,
             "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"%s\","
             "\"role\":\"%s\",\"component\":\"%s\",\"label\":\"%s\",\"inports\":[%s],"
             "\"outports\":[]}}",
             id, id, component, label, ports);
    return text;
}

/* Three 10 MB discovery messages: dropped before parsing, one warning
 * line, the runtime no bigger. */
static void test_oversized(void **state)
{
    (void)state;
    const char *url = support_broker("MSGFLO_TEST_MQTT");
    struct child rt;
    start_runtime(&rt, url, "");
    struct mqtt_client pub;
    assert_int_equal(mqtt_client_open(&pub, url), 0);
    long before = settled_rss(&rt);

    char *label = malloc(10 * MB);
    assert_non_null(label);
    memset(label, 'x', 10 * MB - 1);
    label[10 * MB - 1] = '\0';
    char role[64];
    support_role("big", role, sizeof role);
    char *big = discovery(role, role, label, "");
    free(label);
    for (int i = 0; i < 3; i++)
        publish(&pub, big);
    free(big);
    /* a small one after them: once it is taken in, so were they */
    char marker[64];
    support_role("marker", marker, sizeof marker);
    char *small = discovery(marker, "Marker", "small", "");
    publish(&pub, small);
    free(small);
    int warnings = 0;
    char want[128];
    snprintf(want, sizeof want, "discovered %s", marker);
    read_until(&rt, want, 1, 30000, "dropped a discovery message of", &warnings);
    assert_int_equal(warnings, 1); /* three dropped, one line */
    long after = rss_kb(rt.pid);
    print_message("RSS %ld kB before, %ld kB after three 10 MB discovery messages\n", before,
                  after);
    if (RSS_CHECKED)
        assert_true(after - before < 5 * 1024);
    mqtt_client_close(&pub);
    assert_int_equal(child_stop(&rt, 0), 0);
}

/* 1,000 participants of ~60 KB each, each its own component, taken in and
 * expired: the runtime's memory is back where it started. */
static void test_expired_components(void **state)
{
    (void)state;
    const char *url = support_broker("MSGFLO_TEST_MQTT");
    setenv("MSGFLO_DISCOVERY_PERIOD", "3", 1); /* expire 3 s after the last message */
    struct child rt;
    start_runtime(&rt, url, "--expire-periods 1");
    unsetenv("MSGFLO_DISCOVERY_PERIOD");
    struct mqtt_client pub;
    assert_int_equal(mqtt_client_open(&pub, url), 0);
    long before = settled_rss(&rt);

    /* 100 inports with a 500-byte description each: ~56 KB */
    char desc[501], port[700];
    memset(desc, 'd', 500);
    desc[500] = '\0';
    size_t cap = 100 * sizeof port;
    char *ports = malloc(cap), *at = ports;
    for (int i = 0; i < 100; i++) {
        int n = snprintf(port, sizeof port,
                         "%s{\"id\":\"in%d\",\"type\":\"string\",\"description\":\"%s\"}",
                         i ? "," : "", i, desc);
        memcpy(at, port, (size_t)n + 1);
        at += n;
    }
    char prefix[64];
    support_role("mem", prefix, sizeof prefix);
    const int total = 1000, batch = 100;
    size_t bytes = 0;
    int discovered = 0, forgotten = 0; /* the first ones expire while others come */
    for (int i = 0; i < total; i++) {
        char id[96], comp[96];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        snprintf(comp, sizeof comp, "C%s-%d", prefix, i);
        char *msg = discovery(id, comp, "a participant of its own component", ports);
        bytes += strlen(msg);
        publish(&pub, msg);
        free(msg);
        /* in batches, so the broker never drops what the runtime has not read */
        if (i % batch == batch - 1) {
            read_until(&rt, "discovered ", batch, 30000, ": forgotten", &forgotten);
            discovered += batch;
        }
    }
    free(ports);
    assert_int_equal(discovered, total);
    long peak = rss_kb(rt.pid);
    if (forgotten < total)
        read_until(&rt, ": forgotten", total - forgotten, 60000, NULL, NULL);
    for (int i = 0; i < 20; i++) /* the tick that forgot them trims the heap */
        child_read_line(&rt, 100);
    long after = rss_kb(rt.pid);
    print_message("RSS %ld kB before, %ld kB with the last of %d participants (%zu bytes of "
                  "discovery), %ld kB once all expired\n",
                  before, peak, total, bytes, after);
    if (RSS_CHECKED)
        assert_true(after - before < 5 * 1024);
    mqtt_client_close(&pub);
    assert_int_equal(child_stop(&rt, 0), 0);
}

int main(void)
{
    if (!support_broker("MSGFLO_TEST_MQTT")) {
        fprintf(stderr, "no test brokers\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_oversized),
        SUPPORT_TEST(test_expired_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
