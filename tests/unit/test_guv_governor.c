/* msgflo-guv's poll, sans-I/O: governor steps over several roles with fake
 * queue statistics (empty queue, clamps, concurrency, unknown current, failed
 * and missing polls, scale-down damping across polls: the worked example of
 * docs/guv.md), the decision line and JSON, and command templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guv_test_config.h"
#include "guv/act_command.h"
#include "guv/config.h"
#include "guv/governor.h"
#include "guv/report.h"
#include "guv/stats_http.h"
#include "msgflo/errors.h"

static struct guv_config *config(const char *yaml)
{
    struct guv_config *cfg = guv_test_config(yaml);
    assert_int_equal(cfg->n_errors, 0);
    return cfg;
}

static struct guv_poll ok_poll(uint64_t length, int consumers, int current)
{
    struct guv_poll p = {.queue_length = length, .consumers = consumers, .current = current};
    return p;
}

/* The worked example of docs/guv.md: defaults, max 20, polls every 30 s,
 * window 4; the queue fills, then drains; the current number is what the
 * previous poll set. */
static void test_worked_example(void **state)
{
    struct guv_config *cfg = config("r: {max: 20}\n");
    struct guv_governor g;
    assert_int_equal(guv_governor__init(&g, cfg), 0);
    assert_int_equal(g.histories[0].capacity, 4);
    assert_int_equal(guv_governor__interval_ms(&g), 30000);
    static const uint64_t queue[] = {40, 40, 0, 0, 0, 0, 0, 10};
    static const int want_estimate[] = {11, 11, 1, 1, 1, 1, 1, 3};
    static const int want_next[] = {11, -1, -1, -1, -1, -1, 1, 3};
    int current = GUV_NONE;
    for (int i = 0; i < 8; i++) {
        struct guv_poll p = ok_poll(queue[i], 0, current);
        struct guv_state s;
        guv_governor__step(&g, &p, &s);
        assert_int_equal(s.estimate, want_estimate[i]);
        assert_int_equal(s.next, want_next[i]);
        assert_int_equal(s.current, current);
        if (s.next != GUV_NONE)
            current = s.next;
    }
    assert_int_equal(g.polls, 8);
    guv_governor__cleanup(&g);
    guv_config__free(cfg);
}

/* Several roles in one step, each with its own window and settings. */
static void test_roles_independent(void **state)
{
    struct guv_config *cfg = config("'*': {pollinterval: 1, history: 2}\n"
                                    "empty: {min: 2, max: 6}\n"
                                    "full: {min: 2, max: 6}\n"
                                    "conc: {concurrency: 4, max: 50}\n"
                                    "zero: {min: 0, max: 3}\n");
    struct guv_governor g;
    assert_int_equal(guv_governor__init(&g, cfg), 0);
    assert_int_equal(guv_governor__interval_ms(&g), 1000);
    struct guv_poll p[4] = {ok_poll(0, 0, 5), ok_poll(1000000, 3, 3), ok_poll(40, 1, GUV_NONE),
                            ok_poll(0, 0, GUV_NONE)};
    struct guv_state s[4];
    guv_governor__step(&g, p, s);
    /* empty queue: the minimum, but down only once the window agrees (it is empty: 0) */
    assert_int_equal(s[0].estimate, 2);
    assert_int_equal(s[0].next, 2);
    assert_int_equal(s[1].estimate, 6); /* clamped to the maximum */
    assert_int_equal(s[1].next, 6);
    assert_int_equal(s[1].consumers, 3);
    assert_int_equal(s[2].estimate, 3); /* ceil(40 / 4) = 10 rounds of 10 s: 100 / 38.37 */
    assert_int_equal(s[2].next, 3);     /* unknown current: set at once */
    assert_int_equal(s[3].estimate, 0); /* min 0: no workers for an empty queue */
    assert_int_equal(s[3].next, 0);
    /* Second poll: each window holds the first. */
    p[0] = ok_poll(0, 0, 5); /* not applied: 2 still wanted, window [2]: down to 2 */
    p[1] = ok_poll(0, 6, 6); /* drained: 2 < window max 6, not below current: wait */
    guv_governor__step(&g, p, s);
    assert_int_equal(s[0].next, 2);
    assert_int_equal(s[1].estimate, 2);
    assert_int_equal(s[1].next, GUV_NONE);
    guv_governor__cleanup(&g);
    guv_config__free(cfg);
}

/* Failed polls decide nothing and do not count in the window. */
static void test_failed_poll(void **state)
{
    struct guv_config *cfg = config("'*': {pollinterval: 1, history: 2}\nr: {max: 20}\n");
    struct guv_governor g;
    assert_int_equal(guv_governor__init(&g, cfg), 0);
    struct guv_state s;
    struct guv_poll p = ok_poll(40, 2, 2);
    guv_governor__step(&g, &p, &s);
    assert_int_equal(s.next, 11);
    struct guv_poll bad = {.status = MSGFLO_ENOTCONN, .current = 11, .consumers = GUV_NONE};
    guv_governor__step(&g, &bad, &s);
    assert_int_equal(s.estimate, GUV_NONE);
    assert_int_equal(s.next, GUV_NONE);
    assert_int_equal(s.current, 11);
    /* Window: [11, failed]. An empty queue: 1 < 11 = H, H not below current: wait. */
    p = ok_poll(0, 11, 11);
    guv_governor__step(&g, &p, &s);
    assert_int_equal(s.next, GUV_NONE);
    /* Window: [failed, 1]: the only estimate is 1: down. */
    guv_governor__step(&g, &p, &s);
    assert_int_equal(s.next, 1);
    guv_governor__cleanup(&g);
    guv_config__free(cfg);
}

/* A window of 0 polls (history < pollinterval) scales down at once. */
static void test_no_window(void **state)
{
    struct guv_config *cfg = config("'*': {pollinterval: 10, history: 5}\nr: {max: 20}\n");
    struct guv_governor g;
    assert_int_equal(guv_governor__init(&g, cfg), 0);
    assert_int_equal(g.histories[0].capacity, 0);
    struct guv_state s;
    struct guv_poll p = ok_poll(0, 0, 9);
    guv_governor__step(&g, &p, &s);
    assert_int_equal(s.next, 1);
    guv_governor__cleanup(&g);
    guv_config__free(cfg);
}

static void test_report_line_and_json(void **state)
{
    struct guv_config *cfg =
        config("proc: {queue: 'imgflo_worker.IN', worker: imgflo, max: 20}\nbare: {}\n");
    const struct guv_role *proc = &cfg->roles[0];
    const struct guv_role *bare = &cfg->roles[1];
    char line[256];
    struct guv_poll p = ok_poll(40, 2, 2);
    struct guv_state s = {
        .queue_length = 40, .consumers = 2, .current = 2, .estimate = 11, .next = 11};
    guv_report__line(proc, &p, &s, line, sizeof line);
    assert_string_equal(
        line, "proc: queue=imgflo_worker.IN length=40 consumers=2 current=2 estimate=11 new=11");
    struct guv_state same = {.queue_length = 0,
                             .consumers = GUV_NONE,
                             .current = GUV_NONE,
                             .estimate = 1,
                             .next = GUV_NONE};
    struct guv_poll missing = ok_poll(0, 0, GUV_NONE);
    missing.missing = true;
    guv_report__line(bare, &missing, &same, line, sizeof line);
    assert_string_equal(
        line, "bare: queue=bare (missing) length=0 consumers=? current=? estimate=1 new=-");
    struct guv_poll bad = {.status = MSGFLO_ENOTCONN};
    guv_report__line(bare, &bad, &same, line, sizeof line);
    assert_string_equal(line, "bare: queue=bare error=not connected to the broker");
    /* Truncation is safe and tells the length needed. */
    char small[8];
    int n = guv_report__line(bare, &bad, &same, small, sizeof small);
    assert_int_equal(n, (int)strlen("bare: queue=bare error=not connected to the broker"));
    assert_string_equal(small, "bare: q");

    json_t *o = guv_report__json(proc, &p, &s, 12.5);
    assert_non_null(o);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"consumers\":2,\"current\":2,\"estimate\":11,\"length\":40,"
                              "\"missing\":false,\"new\":11,\"queue\":\"imgflo_worker.IN\","
                              "\"role\":\"proc\",\"time\":12.5,\"worker\":\"imgflo\"}");
    free(text);
    json_decref(o);
    o = guv_report__json(bare, &missing, &same, 1);
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"consumers\":null,\"current\":null,\"estimate\":1,\"length\":0,"
                              "\"missing\":true,\"new\":null,\"queue\":\"bare\",\"role\":\"bare\","
                              "\"time\":1.0,\"worker\":\"bare\"}");
    free(text);
    json_decref(o);
    o = guv_report__json(bare, &bad, &same, 2);
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"error\":\"not connected to the broker\",\"queue\":\"bare\","
                              "\"role\":\"bare\",\"time\":2.0,\"worker\":\"bare\"}");
    free(text);
    json_decref(o);
    guv_config__free(cfg);
}

static void test_command_expand(void **state)
{
    struct guv_config *cfg = config("'*': {app: imgflo}\n"
                                    "proc: {queue: 'imgflo_worker.IN', worker: web}\n"
                                    "\"odd role\": {app: \"it's\"}\n");
    char *cmd = NULL;
    assert_int_equal(guv_command__expand("kubectl scale deployment/#ROLE --replicas=#WORKERS",
                                         &cfg->roles[0], 7, &cmd),
                     0);
    assert_string_equal(cmd, "kubectl scale deployment/proc --replicas=7");
    free(cmd);
    assert_int_equal(guv_command__expand("heroku ps:scale #WORKER=#WORKERS --app #APP q=#QUEUE",
                                         &cfg->roles[0], 0, &cmd),
                     0);
    assert_string_equal(cmd, "heroku ps:scale web=0 --app imgflo q=imgflo_worker.IN");
    free(cmd);
    /* Values that are not plain words are quoted for the shell. */
    assert_int_equal(guv_command__expand("x #ROLE #WORKER #APP #QUEUE", &cfg->roles[1], 2, &cmd),
                     0);
    assert_string_equal(cmd, "x 'odd role' 'odd role' 'it'\\''s' 'odd role'");
    free(cmd);
    guv_config__free(cfg);
}

/* The management API's answer for a queue, and its URL. */
static void test_management_answer(void **state)
{
    uint64_t m = 99;
    int c = 99;
    const char *full = "{\"name\":\"q\",\"messages\":9,\"messages_ready\":7,"
                       "\"messages_unacknowledged\":2,\"consumers\":1,\"vhost\":\"/\"}";
    assert_int_equal(guv_http_stats__parse(full, strlen(full), &m, &c), 0);
    assert_int_equal(m, 9);
    assert_int_equal(c, 1);
    /* Before RabbitMQ's first statistics tick: no `messages` yet. */
    const char *early = "{\"messages_ready\":3,\"messages_unacknowledged\":1}";
    assert_int_equal(guv_http_stats__parse(early, strlen(early), &m, &c), 0);
    assert_int_equal(m, 4);
    assert_int_equal(c, 0);
    assert_int_equal(guv_http_stats__parse("{}", 2, &m, &c), 0);
    assert_int_equal(m, 0);
    /* Counts as large as JSON integers go: their sum is no signed overflow
     * (found by fuzz_yaml under UBSan). */
    const char *huge = "{\"messages_ready\":9223372036854775807,"
                       "\"messages_unacknowledged\":9223372036854775807}";
    assert_int_equal(guv_http_stats__parse(huge, strlen(huge), &m, &c), 0);
    assert_true(m == UINT64_MAX - 1);
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"messages\":-1}",
                                      "{\"messages\":\"9\"}",
                                      "{\"consumers\":1.5}",
                                      "{\"messages\":9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(guv_http_stats__parse(bad[i], strlen(bad[i]), &m, &c), MSGFLO_EJSON);

    struct guv_http_stats *s = NULL;
    char err[256];
    assert_int_equal(guv_http_stats__new("ftp://x", NULL, NULL, NULL, &s, err, sizeof err),
                     MSGFLO_EINVAL);
    assert_null(s);
    assert_string_equal(err, "management API: 'ftp://x' is not an http:// or https:// URL");
    /* the broker's URL given by mistake: its password is not repeated */
    assert_int_equal(
        guv_http_stats__new("amqp://me:s3cret@host:5672/v", NULL, NULL, NULL, &s, err, sizeof err),
        MSGFLO_EINVAL);
    assert_string_equal(err,
                        "management API: 'amqp://host:5672/v' is not an http:// or https:// URL");
    assert_int_equal(
        guv_http_stats__new("http://u:p@localhost:15672/", "/", NULL, NULL, &s, err, sizeof err),
        0);
    guv_http_stats__free(s);
    guv_http_stats__free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),       cmocka_unit_test(test_roles_independent),
        cmocka_unit_test(test_failed_poll),          cmocka_unit_test(test_no_window),
        cmocka_unit_test(test_report_line_and_json), cmocka_unit_test(test_command_expand),
        cmocka_unit_test(test_management_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
