/* Origins: canonical form, the allowed list, refusals logged once. */
#include "msgflo/errors.h"
#include "runtime/origin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void norm(const char *in, bool url, const char *want)
{
    char out[ORIGIN_MAX];
    int rc = origin__normalize(in, url, out, sizeof out);
    if (!want) {
        if (rc != MSGFLO_EINVAL)
            fail_msg("'%s' accepted as '%s'", in, out);
        return;
    }
    if (rc != 0)
        fail_msg("'%s' refused", in);
    assert_string_equal(out, want);
}

static void test_normalize(void **state)
{
    (void)state;
    norm("http://app.flowhub.io", false, "http://app.flowhub.io");
    norm("HTTP://App.FlowHub.IO", false, "http://app.flowhub.io");
    norm("http://localhost:3569", false, "http://localhost:3569");
    norm("http://example.com:80", false, "http://example.com");
    norm("https://example.com:443", false, "https://example.com");
    norm("https://example.com:80", false, "https://example.com:80");
    norm("http://[::1]:3569", false, "http://[::1]:3569");
    norm("http://[FE80::1]", false, "http://[fe80::1]");
    norm("chrome-extension://abcdef", false, "chrome-extension://abcdef");
    /* URLs (--ide, --allow-origin): path, query and fragment dropped. */
    norm("http://app.flowhub.io/", true, "http://app.flowhub.io");
    norm("https://ide.test:8443/x/y?z#w", true, "https://ide.test:8443");
    norm("http://app.flowhub.io/", false, NULL); /* a header has no path */
    /* Not origins. */
    const char *bad[] = {"null",
                         "",
                         "evil.example",
                         "http://",
                         "http:///x",
                         "://x",
                         "1http://x",
                         "http://user@host",
                         "http://host:",
                         "http://host:65536",
                         "http://host:123456",
                         "http://host:12a",
                         "http://ho st",
                         "http://a,http://b",
                         "http://[::1",
                         "http://[]",
                         "http://[::g]",
                         "http://x\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        norm(bad[i], false, NULL);
        norm(bad[i], true, NULL);
    }
    char small[10];
    assert_int_equal(origin__normalize("http://example.com", false, small, sizeof small),
                     MSGFLO_EINVAL);
    char longhost[400];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "http://", 7);
    longhost[sizeof longhost - 1] = '\0';
    char out[ORIGIN_MAX];
    assert_int_equal(origin__normalize(longhost, false, out, sizeof out), MSGFLO_EINVAL);
}

static void test_policy(void **state)
{
    (void)state;
    struct origin_policy *p;
    assert_int_equal(origin_policy__new(&p), 0);
    /* Nothing allowed yet: only clients without Origin. */
    assert_true(origin_policy__allows(p, NULL));
    assert_false(origin_policy__allows(p, "http://localhost:3569"));
    assert_int_equal(origin_policy__allow(p, "http://app.flowhub.io/"), 0);
    assert_int_equal(origin_policy__allow_host(p, "http", "localhost", 3569), 0);
    assert_int_equal(origin_policy__allow_host(p, "http", "::1", 3569), 0);
    assert_int_equal(origin_policy__allow(p, "not an origin"), MSGFLO_EINVAL);
    assert_int_equal(origin_policy__allow_host(p, "http", "x", 70000), MSGFLO_EINVAL);
    assert_int_equal(origin_policy__allow(p, "http://app.flowhub.io"), 0); /* twice: once */
    assert_false(origin_policy__allows_any(p));

    assert_true(origin_policy__allows(p, "http://app.flowhub.io"));
    assert_true(origin_policy__allows(p, "http://APP.flowhub.io:80"));
    assert_true(origin_policy__allows(p, "http://localhost:3569"));
    assert_true(origin_policy__allows(p, "http://[::1]:3569"));
    /* The attack and its near misses. */
    assert_false(origin_policy__allows(p, "http://evil.example"));
    assert_false(origin_policy__allows(p, "https://app.flowhub.io")); /* not added here */
    assert_false(origin_policy__allows(p, "http://app.flowhub.io.evil.example"));
    assert_false(origin_policy__allows(p, "http://localhost:3570"));
    assert_false(origin_policy__allows(p, "http://localhost"));
    assert_false(origin_policy__allows(p, "http://127.0.0.1:3569"));
    assert_false(origin_policy__allows(p, "null"));
    assert_false(origin_policy__allows(p, ""));
    assert_false(origin_policy__allows(p, "http://app.flowhub.io,http://evil.example"));
    assert_false(origin_policy__allows(p, "http://app.flowhub.io/path"));

    /* Refusals: true once per origin, for 32 distinct ones. */
    assert_true(origin_policy__first_refusal(p, "http://evil.example"));
    assert_false(origin_policy__first_refusal(p, "http://evil.example"));
    assert_true(origin_policy__first_refusal(p, "null"));
    char o[64];
    int fresh = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(o, sizeof o, "http://e%d.example", i);
        fresh += origin_policy__first_refusal(p, o);
    }
    assert_int_equal(fresh, 30);

    /* "*" lets every page in, malformed ones too. */
    assert_int_equal(origin_policy__allow(p, "*"), 0);
    assert_true(origin_policy__allows_any(p));
    assert_true(origin_policy__allows(p, "http://evil.example"));
    assert_true(origin_policy__allows(p, "null"));
    origin_policy__free(p);
    origin_policy__free(NULL);
}

/* GET / against DNS rebinding: the page (and the secret in its link) only
 * for our own names, the allowed origins' hosts and IP addresses. */
static void test_serves_host(void **state)
{
    (void)state;
    struct origin_policy *p;
    assert_int_equal(origin_policy__new(&p), 0);
    assert_int_equal(origin_policy__allow(p, "http://app.flowhub.io/"), 0);
    assert_int_equal(origin_policy__allow_host(p, "http", "localhost", 3569), 0);
    assert_int_equal(origin_policy__allow_host(p, "http", "runtime.example.org", 3569), 0);
    assert_true(origin_policy__serves_host(p, NULL)); /* HTTP/1.0 */
    assert_true(origin_policy__serves_host(p, "localhost:3569"));
    assert_true(origin_policy__serves_host(p, "LOCALHOST"));
    assert_true(origin_policy__serves_host(p, "runtime.example.org")); /* behind a proxy */
    assert_true(origin_policy__serves_host(p, "127.0.0.1:3569"));
    assert_true(origin_policy__serves_host(p, "192.168.1.5:3569"));
    assert_true(origin_policy__serves_host(p, "[::1]:3569"));
    assert_false(origin_policy__serves_host(p, "evil.example:3569"));
    assert_false(origin_policy__serves_host(p, "localhost.evil.example"));
    assert_false(origin_policy__serves_host(p, "127.0.0.1.evil.example"));
    assert_false(origin_policy__serves_host(p, "1.2.3"));
    assert_false(origin_policy__serves_host(p, "a b"));
    assert_false(origin_policy__serves_host(p, "localhost:3569/x"));
    assert_int_equal(origin_policy__allow(p, "*"), 0);
    assert_true(origin_policy__serves_host(p, "evil.example"));
    origin_policy__free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_serves_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
