/* /metrics helpers (runtime/metrics.h): the text format's escaping and
 * numbers, who may read it, the process's own metrics; the live view's
 * printed address (front_page__live_url). */
#include "msgflo/errors.h"
#include "runtime/front_page.h"
#include "runtime/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_sample_format(void **state)
{
    (void)state;
    struct strbuf sb;
    strbuf__init(&sb);
    metrics__family(&sb, "msgflo_x_total", "counter", "Things.");
    const char *labels[] = {"src", "a\"b\\c\nd", "port", "out", NULL};
    metrics__sample(&sb, "msgflo_x_total", labels, 42);
    metrics__sample(&sb, "msgflo_x_total", NULL, 9007199254740993.0); /* beyond 2^53 */
    metrics__sample(&sb, "process_cpu_seconds_total", NULL, 0.25);
    metrics__sample(&sb, "msgflo_y", NULL, 0);
    metrics__sample(&sb, "msgflo_y", NULL, -3);
    metrics__sample(&sb, "msgflo_y", NULL, 18446744073709551615.0);
    assert_int_equal(sb.err, 0);
    assert_string_equal(sb.data, "# HELP msgflo_x_total Things.\n"
                                 "# TYPE msgflo_x_total counter\n"
                                 "msgflo_x_total{src=\"a\\\"b\\\\c\\nd\",port=\"out\"} 42\n"
                                 "msgflo_x_total 9.007199255e+15\n"
                                 "process_cpu_seconds_total 0.25\n"
                                 "msgflo_y 0\n"
                                 "msgflo_y -3\n"
                                 "msgflo_y 1.844674407e+19\n");
    strbuf__cleanup(&sb);
}

static void test_authorized(void **state)
{
    (void)state;
    /* no secret: everyone */
    assert_true(metrics__authorized(NULL, "", ""));
    assert_true(metrics__authorized("", "", ""));
    /* Bearer, any case of the scheme, spaces around */
    assert_true(metrics__authorized("s3cr", "Bearer s3cr", ""));
    assert_true(metrics__authorized("s3cr", "bearer  s3cr ", ""));
    assert_false(metrics__authorized("s3cr", "Bearer s3c", ""));
    assert_false(metrics__authorized("s3cr", "Bearer s3cr3", ""));
    assert_false(metrics__authorized("s3cr", "Basic s3cr", ""));
    assert_false(metrics__authorized("s3cr", "s3cr", ""));
    assert_false(metrics__authorized("s3cr", "", ""));
    /* ?secret=, percent-decoded, among other parameters */
    assert_true(metrics__authorized("s3cr", "", "secret=s3cr"));
    assert_true(metrics__authorized("s3cr", "", "a=1&secret=s3cr&b=2"));
    assert_true(metrics__authorized("a b&c", "", "secret=a%20b%26c"));
    assert_true(metrics__authorized("a b", "", "secret=a+b"));
    assert_false(metrics__authorized("s3cr", "", "secret=s3c"));
    assert_false(metrics__authorized("s3cr", "", "secret="));
    assert_false(metrics__authorized("s3cr", "", "xsecret=s3cr"));
    assert_false(metrics__authorized("s3cr", "", "secret=s3cr%"));
    assert_false(metrics__authorized("s3cr", "Bearer nope", "secret=nope"));
}

static void test_process(void **state)
{
    (void)state;
    struct strbuf sb;
    strbuf__init(&sb);
    metrics__process(&sb);
    assert_int_equal(sb.err, 0);
    const char *names[] = {"\nprocess_cpu_seconds_total ", "\nprocess_resident_memory_bytes ",
                           "\nprocess_virtual_memory_bytes ", "\nprocess_start_time_seconds ",
                           "\nprocess_open_fds "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *at = strstr(sb.data, names[i]);
        assert_non_null(at);
        assert_true(strtod(at + strlen(names[i]), NULL) > 0 || i == 0);
    }
    strbuf__cleanup(&sb);
}

static void test_live_url(void **state)
{
    (void)state;
    char *u;
    assert_int_equal(front_page__live_url("localhost", 3569, "ab12", &u), 0);
    assert_string_equal(u, "http://localhost:3569/#secret=ab12");
    free(u);
    assert_int_equal(front_page__live_url("::1", 80, "a b&c", &u), 0);
    assert_string_equal(u, "http://[::1]:80/#secret=a%20b%26c");
    free(u);
    assert_int_equal(front_page__live_url("h", 1, NULL, &u), 0);
    assert_string_equal(u, "http://h:1/");
    free(u);
    assert_int_equal(front_page__live_url("h", 70000, NULL, &u), MSGFLO_EINVAL);
    assert_null(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_format),
        cmocka_unit_test(test_authorized),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_live_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
