/* Composite hash keys (core/key.h): the joined text, its length, keys built
 * in a caller's buffer or on the heap, strings put inline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/key.h"

static void test_join(void **state)
{
    (void)state;
    const char *parts[] = {"role", "out", "", "in"};
    char *k = key__join(parts, 4);
    assert_string_equal(k, "role\x1fout\x1f\x1fin");
    assert_int_equal(key__length(parts, 4), strlen(k) + 1);
    free(k);
    k = key__join(parts, 1);
    assert_string_equal(k, "role");
    assert_int_equal(key__length(parts, 1), 5);
    free(k);
    k = key__join(parts, 0);
    assert_string_equal(k, "");
    assert_int_equal(key__length(parts, 0), 1);
    free(k);
}

static void test_buffer(void **state)
{
    (void)state;
    const char *parts[] = {"abc", "de"};
    char buf[7]; /* "abc\x1f" "de" and its NUL: just fits */
    char *k = key__join_buf(buf, sizeof buf, parts, 2);
    assert_ptr_equal(k, buf);
    assert_string_equal(k, "abc\x1f"
                           "de");
    key__done(k, buf);
    k = key__join_buf(buf, 6, parts, 2); /* one byte short: on the heap */
    assert_ptr_not_equal(k, buf);
    assert_string_equal(k, "abc\x1f"
                           "de");
    key__done(k, buf);
}

static void test_put(void **state)
{
    (void)state;
    char text[16];
    char *at = text;
    char *a = key__put(&at, "ab");
    char *b = key__put(&at, "");
    char *c = key__put(&at, "xyz");
    assert_string_equal(a, "ab");
    assert_string_equal(b, "");
    assert_string_equal(c, "xyz");
    assert_int_equal(at - text, 3 + 1 + 4);
}

static void test_pack(void **state)
{
    (void)state;
    const char *parts[] = {"a", "bc", ""};
    char text[2 * 6];
    const char *names[3];
    assert_int_equal(key__length(parts, 3), 6);
    char *k = key__pack(text, parts, 3, names);
    assert_ptr_equal(k, text);
    assert_string_equal(k, "a\x1f"
                           "bc\x1f");
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "bc");
    assert_string_equal(names[2], "");
    assert_ptr_equal(names[2], text + 11); /* the last byte of the 2 x length */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
