/* The default log handler: debug lines as the npm debug module writes them
 * into a file or pipe (an ISO time first), warnings without one, DEBUG
 * patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* What the default handler writes to stderr for `fn`. */
static char *captured(void (*fn)(void))
{
    static char buf[4096];
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

static void matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("'%s' does not match %s", text, pattern);
}

static void write_lines(void)
{
    LOG_DEBUG("msgflo:test", "published to %s (%d bytes)", "a.OUT", 5);
    LOG_DEBUG("msgflo:other", "not enabled");
    LOG_WARNING("msgflo:test", "a warning");
}

static void test_debug_lines_have_iso_times(void **state)
{
    (void)state;
    const char *out = captured(write_lines);
    matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                 "msgflo:test debug: published to a\\.OUT \\(5 bytes\\)$");
    matches(out, "^msgflo:test warning: a warning$");
    assert_null(strstr(out, "not enabled"));
}

static void test_hide_date(void **state)
{
    (void)state;
    setenv("DEBUG_HIDE_DATE", "1", 1);
    const char *out = captured(write_lines);
    unsetenv("DEBUG_HIDE_DATE");
    matches(out, "^msgflo:test debug: published to a\\.OUT \\(5 bytes\\)$");
}

static void write_repeats(void)
{
    for (int i = 0; i < 5; i++)
        LOG_WARNING("msgflo:mqtt", "connection to localhost:1883 refused");
    LOG_DEBUG("msgflo:test", "in between");
    LOG_WARNING("msgflo:mqtt", "connection to localhost:1883 refused");
    LOG_WARNING("msgflo:amqp", "connection to localhost:1883 refused"); /* another namespace */
    LOG_ERROR("msgflo:amqp", "connection to localhost:1883 refused");   /* another level */
    LOG_ERROR("msgflo:amqp", "connection to localhost:1883 refused");
    LOG_WARNING("msgflo:test", "the end");
}

static void count_lines(const char *out, const char *needle, int expected)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    if (n != expected)
        fail_msg("%d lines of '%s', expected %d, in:\n%s", n, needle, expected, out);
}

/* Repeats collapse into one line with their count, per namespace and level. */
static void test_repeated_warnings_collapse(void **state)
{
    (void)state;
    const char *out = captured(write_repeats);
    matches(out, "^msgflo:mqtt warning: connection to localhost:1883 refused$");
    matches(out, "^msgflo:mqtt warning: connection to localhost:1883 refused \\(5 more times\\)$");
    matches(out, "^msgflo:amqp warning: connection to localhost:1883 refused$");
    matches(out, "^msgflo:amqp error: connection to localhost:1883 refused$");
    matches(out, "^msgflo:amqp error: connection to localhost:1883 refused \\(1 more time\\)$");
    count_lines(out, "msgflo:mqtt warning", 2);
    count_lines(out, "in between", 1);
}

static void write_slow_repeats(void)
{
    log__set_repeat_window(100);
    LOG_WARNING("msgflo:slow", "retrying");
    LOG_WARNING("msgflo:slow", "retrying");
    usleep(150 * 1000);
    LOG_WARNING("msgflo:slow", "retrying"); /* the window passed: printed with its count */
    LOG_WARNING("msgflo:slow", "retrying");
    log__set_repeat_window(60000);
    LOG_WARNING("msgflo:test", "done");
}

/* A warning that keeps repeating is still seen once per window. */
static void test_repeats_reported_per_window(void **state)
{
    (void)state;
    const char *out = captured(write_slow_repeats);
    matches(out, "^msgflo:slow warning: retrying$");
    matches(out, "^msgflo:slow warning: retrying \\(2 more times\\)$");
    matches(out, "^msgflo:slow warning: retrying \\(1 more time\\)$");
    count_lines(out, "msgflo:slow", 3);
}

/* A handler that records the lines and the thread that wrote them. */
static struct {
    char text[512];
    int n;
    bool other_thread;
    pthread_t main;
} seen;

static void record(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    (void)ud;
    size_t len = strlen(seen.text);
    snprintf(seen.text + len, sizeof seen.text - len, "%s %s: %s|", ns,
             msgflo_log_level_name(level), message);
    seen.n++;
    seen.other_thread = seen.other_thread || !pthread_equal(pthread_self(), seen.main);
}

static void *worker_logs(void *arg)
{
    log__capture_begin(arg);
    LOG_WARNING("msgflo:test", "from the worker %d", 1);
    LOG_DEBUG("msgflo:test", "debug from the worker");
    LOG_DEBUG("msgflo:other", "not enabled");
    LOG_ERROR("msgflo:test", "from the worker %d", 2);
    log__capture_end();
    return NULL;
}

static void test_capture_on_a_worker(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    seen.main = pthread_self();
    msgflo_log_set_handler(record, NULL);
    struct log_capture c = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker_logs, &c), 0);
    pthread_join(t, NULL);
    assert_int_equal(seen.n, 0); /* nothing written by the worker itself */
    assert_int_equal(c.n, 3);
    LOG_INFO("msgflo:test", "after");
    log__capture_replay(&c);
    msgflo_log_set_handler(NULL, NULL);
    assert_false(seen.other_thread);
    assert_string_equal(seen.text, "msgflo:test info: after|"
                                   "msgflo:test warning: from the worker 1|"
                                   "msgflo:test debug: debug from the worker|"
                                   "msgflo:test error: from the worker 2|");
    assert_int_equal(c.n, 0);
    assert_null(c.records);
}

/* Bytes written to stderr so far (a file while captured). */
static long stderr_size(void)
{
    struct stat st;
    assert_int_equal(fstat(2, &st), 0);
    return (long)st.st_size;
}

static void on_work(uv_timer_t *t)
{
    (void)t;
}

static void write_held(void)
{
    uv_loop_t loop;
    uv_prepare_t h;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(log__hold_per_turn(&loop, &h), 0);
    LOG_DEBUG("msgflo:test", "first");
    LOG_DEBUG("msgflo:test", "second");
    assert_int_equal(stderr_size(), 0); /* held while the turn runs */
    LOG_WARNING("msgflo:test", "a problem");
    long after_warning = stderr_size();
    assert_true(after_warning > 0); /* the held lines, then the warning */
    LOG_DEBUG("msgflo:test", "third");
    assert_int_equal(stderr_size(), after_warning);
    uv_timer_t work; /* something for the loop's turn to do */
    assert_int_equal(uv_timer_init(&loop, &work), 0);
    assert_int_equal(uv_timer_start(&work, on_work, 0, 0), 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* the loop is about to wait: written */
    uv_close((uv_handle_t *)&work, NULL);
    assert_true(stderr_size() > after_warning);
    LOG_DEBUG("msgflo:test", "fourth");
    log__hold_end(&h); /* written, and no longer held */
    LOG_DEBUG("msgflo:test", "fifth");
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_held_per_turn(void **state)
{
    (void)state;
    setenv("DEBUG_HIDE_DATE", "1", 1);
    const char *out = captured(write_held);
    unsetenv("DEBUG_HIDE_DATE");
    assert_string_equal(out, "msgflo:test debug: first\n"
                             "msgflo:test debug: second\n"
                             "msgflo:test warning: a problem\n"
                             "msgflo:test debug: third\n"
                             "msgflo:test debug: fourth\n"
                             "msgflo:test debug: fifth\n");
}

int main(void)
{
    setenv("DEBUG", "msgflo:test,-msgflo:other", 1); /* read at the first call */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_lines_have_iso_times),
        cmocka_unit_test(test_hide_date),
        cmocka_unit_test(test_repeated_warnings_collapse),
        cmocka_unit_test(test_repeats_reported_per_window),
        cmocka_unit_test(test_capture_on_a_worker),
        cmocka_unit_test(test_held_per_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
