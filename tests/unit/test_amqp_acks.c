/* Held-back and batched acks of the AMQP transport (amqp_acks.c), with a
 * recording fake in place of the channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "transport/amqp_acks.h"

struct sent {
    uint64_t tag[64];
    bool multiple[64];
    int n;
};

static int record(void *ud, uint64_t tag, bool multiple)
{
    struct sent *s = ud;
    s->tag[s->n] = tag;
    s->multiple[s->n] = multiple;
    s->n++;
    return 0;
}

static void expect_sent(const struct sent *s, int i, uint64_t tag, bool multiple)
{
    assert_true(i < s->n);
    assert_int_equal(s->tag[i], tag);
    assert_int_equal(s->multiple[i], multiple);
}

static void test_ack_at_once_when_nothing_unconfirmed(void **state)
{
    (void)state;
    struct sent s = {0};
    struct amqp_acks k = {.send = record, .ud = &s};
    assert_int_equal(amqp_acks__ack(&k, 1), 0);
    assert_int_equal(s.n, 1);
    expect_sent(&s, 0, 1, true);
    assert_int_equal(amqp_acks__held(&k), 0);
    amqp_acks__free(&k);
}

static void test_held_until_confirmed_then_one_multiple_ack(void **state)
{
    (void)state;
    struct sent s = {0};
    struct amqp_acks k = {.send = record, .ud = &s};
    for (uint64_t tag = 1; tag <= 5; tag++) {
        assert_int_equal(amqp_acks__published(&k), 0); /* the output of `tag` */
        assert_int_equal(amqp_acks__ack(&k, tag), 0);
    }
    assert_int_equal(s.n, 0);
    assert_int_equal(amqp_acks__held(&k), 5);
    assert_int_equal(amqp_acks__confirmed(&k, 2, false), 1);
    assert_int_equal(amqp_acks__confirmed(&k, 1, false), 1);
    /* A confirm again settles none. */
    assert_int_equal(amqp_acks__confirmed(&k, 1, false), 0);
    assert_int_equal(s.n, 0); /* nothing before release */
    amqp_acks__release(&k);
    assert_int_equal(s.n, 1);
    expect_sent(&s, 0, 2, true); /* deliveries 1 and 2 in one */
    /* 3, 4 and 5. */
    assert_int_equal(amqp_acks__confirmed(&k, 5, true), 3);
    assert_true(amqp_acks__all_confirmed(&k));
    amqp_acks__release(&k);
    assert_int_equal(s.n, 2);
    expect_sent(&s, 1, 5, true);
    assert_int_equal(amqp_acks__held(&k), 0);
    amqp_acks__release(&k); /* nothing new */
    assert_int_equal(s.n, 2);
    amqp_acks__free(&k);
}

static void test_multiple_ack_never_covers_unsettled(void **state)
{
    (void)state;
    struct sent s = {0};
    struct amqp_acks k = {.send = record, .ud = &s};
    /* deliveries 1..4; 1 is still being processed */
    assert_int_equal(amqp_acks__published(&k), 0);
    assert_int_equal(amqp_acks__ack(&k, 3), 0);
    assert_int_equal(amqp_acks__ack(&k, 2), 0);
    assert_int_equal(amqp_acks__settled(&k, 4), 0); /* nacked */
    amqp_acks__confirmed(&k, 1, false);
    amqp_acks__release(&k);
    assert_int_equal(s.n, 2);
    expect_sent(&s, 0, 2, false);
    expect_sent(&s, 1, 3, false);
    /* 1 done at last: one multiple ack on 1 (2-4 are settled already, and a
     * multiple ack on an acked tag would close the channel) */
    assert_int_equal(amqp_acks__ack(&k, 1), 0);
    assert_int_equal(s.n, 3);
    expect_sent(&s, 2, 1, true);
    /* the floor moved over 1-4: 5 alone follows it */
    assert_int_equal(amqp_acks__ack(&k, 5), 0);
    expect_sent(&s, 3, 5, true);
    amqp_acks__free(&k);
}

static void test_settled_run_is_covered(void **state)
{
    (void)state;
    struct sent s = {0};
    struct amqp_acks k = {.send = record, .ud = &s};
    assert_int_equal(amqp_acks__settled(&k, 1), 0); /* a watch's delivery, no ack */
    assert_int_equal(amqp_acks__settled(&k, 3), 0);
    assert_int_equal(amqp_acks__ack(&k, 2), 0);
    expect_sent(&s, 0, 2, true); /* covers 1 (settled) and 2 */
    assert_int_equal(amqp_acks__ack(&k, 4), 0);
    expect_sent(&s, 1, 4, true); /* 3 settled before */
    assert_int_equal(s.n, 2);
    /* a new channel: tags start again */
    amqp_acks__reset(&k);
    assert_int_equal(amqp_acks__ack(&k, 1), 0);
    expect_sent(&s, 2, 1, true);
    amqp_acks__free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_at_once_when_nothing_unconfirmed),
        cmocka_unit_test(test_held_until_confirmed_then_one_multiple_ack),
        cmocka_unit_test(test_multiple_ack_never_covers_unsettled),
        cmocka_unit_test(test_settled_run_is_covered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
