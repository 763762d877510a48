/* msgflo-send-message on a real RabbitMQ: a message the broker refuses
 * (publisher confirm nack: a full queue with x-overflow=reject-publish) or
 * never confirms (publishing blocked by a memory alarm) is an error exit
 * with a line that says so, never a silent success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

static const char *amqp_url;

static void send_message(const char *queue, const char *timeout, struct support_run *r)
{
    char prog[1024];
    char *argv[] = {(char *)support_program("msgflo-send-message", prog, sizeof prog),
                    "--broker",
                    (char *)amqp_url,
                    "--queue",
                    (char *)queue,
                    "--json",
                    "{\"n\": 1}",
                    "--timeout",
                    (char *)timeout,
                    NULL};
    support_run_stderr(argv, 60000, r);
}

static void delete_queue(struct amqp_client *c, const char *queue)
{
    amqp_queue_delete(c->conn, 1, amqp_cstring_bytes(queue), false, false);
    assert_int_equal(amqp_get_rpc_reply(c->conn).reply_type, AMQP_RESPONSE_NORMAL);
}

/* A queue that refuses every message: RabbitMQ nacks the publish. */
static void declare_full_queue(struct amqp_client *c, const char *queue)
{
    amqp_table_entry_t e[] = {
        {.key = amqp_cstring_bytes("x-max-length"),
         .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 0}}},
        {.key = amqp_cstring_bytes("x-overflow"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8,
                   .value = {.bytes = amqp_cstring_bytes("reject-publish")}}},
    };
    amqp_table_t args = {.num_entries = 2, .entries = e};
    amqp_queue_declare(c->conn, 1, amqp_cstring_bytes(queue), false, false, false, false, args);
    assert_int_equal(amqp_get_rpc_reply(c->conn).reply_type, AMQP_RESPONSE_NORMAL);
}

static void test_nack_is_an_error(void **state)
{
    (void)state;
    char full[96], plain[96], want[512];
    support_role("sendfull", full, sizeof full);
    support_role("sendplain", plain, sizeof plain);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    declare_full_queue(&ac, full);
    assert_int_equal(amqp_client_declare_plain(&ac, plain), 0);

    struct support_run r;
    send_message(plain, "10", &r); /* the same tool, a queue with room: 0 */
    assert_int_equal(r.status, 0);
    assert_int_equal(amqp_client_count(&ac, plain), 1);

    send_message(full, "10", &r);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want,
             "msgflo-send-message: the broker refused the message for %s (publisher confirm "
             "nack: a full queue with overflow reject-publish, or a queue without a leader?)\n",
             full);
    assert_non_null(strstr(r.err, want));
    assert_int_equal(amqp_client_count(&ac, full), 0);
    delete_queue(&ac, full);
    delete_queue(&ac, plain);
    amqp_client_close(&ac);
}

/* A queue declared before with other arguments: RabbitMQ refuses the
 * declaration (which msgflo-dump-message no longer waits for) and the tool
 * ends at once with the broker's reason instead of reconnecting. */
static void test_dump_refused_declaration(void **state)
{
    (void)state;
    char plain[96], want[512], prog[1024];
    support_role("dumpplain", plain, sizeof plain);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, plain), 0); /* no dead-letter argument */
    char *argv[] = {(char *)support_program("msgflo-dump-message", prog, sizeof prog),
                    "--broker",
                    (char *)amqp_url,
                    "--queue",
                    plain,
                    NULL};
    struct support_run r;
    support_run_stderr(argv, 20000, &r);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want,
             "msgflo-dump-message: cannot consume %s: declare queue %s failed: 406 "
             "PRECONDITION_FAILED",
             plain, plain);
    assert_non_null(strstr(r.err, want));
    delete_queue(&ac, plain);
    amqp_client_close(&ac);
}

/* rabbitmqctl on the test broker (its node name is in the brokers folder). */
static int rabbitmqctl(const char *command, const char *arg)
{
    const char *env = getenv("MSGFLO_TEST_BROKERS_ENV");
    if (!env)
        return -1;
    char dir[1024], path[1100], node[256] = "";
    snprintf(dir, sizeof dir, "%s", env);
    snprintf(path, sizeof path, "%s/rabbitmq/node", dirname(dir));
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(node, sizeof node, f))
        node[0] = '\0';
    fclose(f);
    node[strcspn(node, "\n")] = '\0';
    char *argv[] = {"timeout", "60", "rabbitmqctl", "-n", node, (char *)command, (char *)arg, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "timeout", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Back to RabbitMQ's default, also when the test failed half way. */
static int lift_memory_alarm(void **state)
{
    rabbitmqctl("set_vm_memory_high_watermark", "0.4");
    return support_teardown(state);
}

static void test_unconfirmed_is_an_error(void **state)
{
    (void)state;
    char queue[96], want[512];
    support_role("sendblocked", queue, sizeof queue);
    struct amqp_client ac;
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    assert_int_equal(amqp_client_declare_plain(&ac, queue), 0);
    amqp_client_close(&ac);
    /* A memory alarm: RabbitMQ takes connections but stops reading from a
     * publishing one, so no confirm comes. */
    assert_int_equal(rabbitmqctl("set_vm_memory_high_watermark", "0"), 0);
    struct support_run r;
    send_message(queue, "2", &r);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want,
             "msgflo-send-message: the broker did not confirm the message for %s within 2 s\n",
             queue);
    assert_non_null(strstr(r.err, want));
    assert_int_equal(rabbitmqctl("set_vm_memory_high_watermark", "0.4"), 0);
    /* Whether it arrives is not known: RabbitMQ may still take what it had
     * read before blocking the connection (it did on 3.10). */
    assert_int_equal(amqp_client_open(&ac, amqp_url), 0);
    delete_queue(&ac, queue);
    amqp_client_close(&ac);
}

int main(void)
{
    amqp_url = support_broker("MSGFLO_TEST_AMQP");
    if (!amqp_url) {
        fprintf(stderr, "MSGFLO_TEST_AMQP not set: no broker, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_nack_is_an_error),
        SUPPORT_TEST(test_dump_refused_declaration),
        cmocka_unit_test_teardown(test_unconfirmed_is_an_error, lift_memory_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
