/* Embedded broker: starts a real private mosquitto, carries a message between
 * two libmosquitto clients, stops with no process or folder left; missing or
 * failing mosquitto gives a clear error; free kills a running broker; a broker
 * whose owner is killed with SIGKILL goes too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "process_test.h"

#include <errno.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process/embedded_broker.h"
#include "msgflo/errors.h"
#include "msgflo/log.h"

struct ctx {
    uv_loop_t loop;
    int ready, done;
    int status;
    char text[4096];
};

static void quiet_log(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "%s: %s\n", ns, message);
}

static void on_ready(struct embedded_broker *b, int status, const char *text, void *ud)
{
    struct ctx *c = ud;
    c->ready++;
    c->status = status;
    snprintf(c->text, sizeof c->text, "%s", text);
}

static void on_done(struct embedded_broker *b, void *ud)
{
    struct ctx *c = ud;
    c->done++;
    uv_stop(&c->loop);
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void setup_ctx(struct ctx *c)
{
    memset(c, 0, sizeof *c);
    msgflo_log_set_handler(quiet_log, NULL);
    assert_int_equal(uv_loop_init(&c->loop), 0);
}

static void teardown_ctx(struct ctx *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    msgflo_log_set_handler(NULL, NULL);
}

/* Stops the broker and runs the loop until done (bounded by the grace). */
static void stop_broker(struct ctx *c, struct embedded_broker *b)
{
    assert_int_equal(embedded_broker__stop(b, on_done, c), 0);
    assert_int_equal(c->done, 0);
    assert_int_equal(embedded_broker__stop(b, on_done, c), MSGFLO_ESTATE);
    time_t deadline = time(NULL) + 20;
    while (c->done == 0 && time(NULL) < deadline)
        uv_run(&c->loop, UV_RUN_ONCE);
    assert_int_equal(c->done, 1);
}

static struct {
    char payload[512];
    int received;
} got;

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    snprintf(got.payload, sizeof got.payload, "%.*s", msg->payloadlen, (const char *)msg->payload);
    got.received++;
}

static struct mosquitto *client(const char *url)
{
    int port = 0;
    assert_int_equal(sscanf(url, "mqtt://127.0.0.1:%d", &port), 1);
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);
    assert_non_null(m);
    assert_int_equal(mosquitto_connect(m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    return m;
}

static void test_start_carry_stop(void **state)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[4096] = "";
    setup_ctx(&c);
    assert_int_equal(embedded_broker__start(&c.loop, NULL, on_ready, &c, &b), 0);
    assert_int_equal(c.ready, 0);
    int rc = embedded_broker__wait(b, err, sizeof err);
    if (rc != 0)
        fail_msg("embedded broker did not start: %s", err);
    const char *url = embedded_broker__url(b);
    assert_non_null(url);
    assert_int_equal(strncmp(url, "mqtt://127.0.0.1:", 17), 0);
    int pid = embedded_broker__pid(b);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), 0);
    /* The folder goes as soon as mosquitto has read its config. */
    char dir[256];
    snprintf(dir, sizeof dir, "%s", embedded_broker__dir(b));
    assert_non_null(strstr(dir, "msgflo-broker-"));
    assert_false(path_exists(dir));
    uv_run(&c.loop, UV_RUN_NOWAIT);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.status, 0);
    assert_string_equal(c.text, url);

    /* A message through it, between two independent clients. */
    mosquitto_lib_init();
    struct mosquitto *sub = client(url), *pub = client(url);
    mosquitto_message_callback_set(sub, on_message);
    got.received = 0;
    assert_int_equal(mosquitto_subscribe(sub, NULL, "embedded/test", 0), MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20; i++) /* SUBACK in */
        mosquitto_loop(sub, 50, 1);
    assert_int_equal(mosquitto_publish(pub, NULL, "embedded/test", 5, "hello", 0, false),
                     MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 200 && got.received == 0; i++) {
        mosquitto_loop(pub, 10, 1);
        mosquitto_loop(sub, 50, 1);
    }
    assert_int_equal(got.received, 1);
    assert_string_equal(got.payload, "hello");
    mosquitto_disconnect(sub);
    mosquitto_disconnect(pub);
    mosquitto_destroy(sub);
    mosquitto_destroy(pub);
    mosquitto_lib_cleanup();

    stop_broker(&c, b);
    assert_true(process_gone(pid, 1));
    assert_false(path_exists(dir));
    assert_null(embedded_broker__url(b));
    embedded_broker__free(b);
    teardown_ctx(&c);
}

/* Starts a broker with MSGFLO_ROUTER_PLUGIN set to `plugin` (NULL: unset)
 * and returns whether a router announces itself on it (its retained status). */
static bool router_in_broker(const char *plugin)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[4096] = "";
    setup_ctx(&c);
    if (plugin)
        setenv("MSGFLO_ROUTER_PLUGIN", plugin, 1);
    else
        unsetenv("MSGFLO_ROUTER_PLUGIN");
    assert_int_equal(embedded_broker__start(&c.loop, NULL, NULL, NULL, &b), 0);
    unsetenv("MSGFLO_ROUTER_PLUGIN");
    if (embedded_broker__wait(b, err, sizeof err) != 0)
        fail_msg("embedded broker did not start: %s", err);
    mosquitto_lib_init();
    struct mosquitto *sub = client(embedded_broker__url(b));
    mosquitto_message_callback_set(sub, on_message);
    got.received = 0;
    got.payload[0] = '\0';
    assert_int_equal(mosquitto_subscribe(sub, NULL, "/msgrouter/default/status", 0),
                     MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20 && got.received == 0; i++) /* retained: with the SUBACK */
        mosquitto_loop(sub, 50, 1);
    mosquitto_disconnect(sub);
    mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    stop_broker(&c, b);
    embedded_broker__free(b);
    teardown_ctx(&c);
    return got.received > 0 && strstr(got.payload, "mosquitto_msgflo") != NULL;
}

/* The router plugin is loaded from the build tree (this test runs there);
 * MSGFLO_ROUTER_PLUGIN=none leaves it out; one mosquitto cannot load (not a
 * plugin) leaves it out too, and the broker starts anyway. */
static void test_router_plugin(void **state)
{
    assert_true(router_in_broker(NULL));
    assert_true(router_in_broker(MSGFLO_ROUTER_PLUGIN_BUILD));
    assert_false(router_in_broker("none"));
    assert_false(router_in_broker("/etc/hostname"));
    assert_false(router_in_broker("/nonexistent/mosquitto_msgflo.so"));
}

static void test_missing_mosquitto(void **state)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[4096] = "";
    setup_ctx(&c);
    struct embedded_broker_options o = {.program = "/nonexistent/mosquitto"};
    assert_int_equal(embedded_broker__start(&c.loop, &o, on_ready, &c, &b), 0);
    assert_int_equal(c.ready, 0); /* from the loop, not from within the call */
    assert_int_equal(embedded_broker__wait(b, err, sizeof err), MSGFLO_ESYS);
    assert_non_null(strstr(err, "'/nonexistent/mosquitto' not found"));
    assert_non_null(strstr(err, "install mosquitto"));
    assert_null(embedded_broker__url(b));
    assert_int_equal(embedded_broker__pid(b), 0);
    uv_run(&c.loop, UV_RUN_NOWAIT);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.status, MSGFLO_ESYS);
    embedded_broker__free(b);
    teardown_ctx(&c);
}

/* A "mosquitto" that fails: its exit status and output are in the error. */
static void test_failing_mosquitto(void **state)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[4096] = "", script[] = "/tmp/msgflo-fake-mosquitto-XXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    const char text[] = "#!/bin/sh\necho \"Error: cannot open config $2\" >&2\nexit 3\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(chmod(script, 0755), 0);
    setup_ctx(&c);
    struct embedded_broker_options o = {.program = script};
    assert_int_equal(embedded_broker__start(&c.loop, &o, NULL, NULL, &b), 0);
    assert_int_equal(embedded_broker__wait(b, err, sizeof err), MSGFLO_ESYS);
    unlink(script);
    assert_non_null(strstr(err, "mosquitto exited with status 3 before listening on "
                                "mqtt://127.0.0.1:"));
    assert_non_null(strstr(err, "its log: Error: cannot open config"));
    assert_null(strchr(err, '\n'));
    assert_false(path_exists(embedded_broker__dir(b)));
    embedded_broker__free(b);
    teardown_ctx(&c);
}

static void test_free_kills_running_broker(void **state)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[4096] = "";
    setup_ctx(&c);
    assert_int_equal(embedded_broker__start(&c.loop, NULL, NULL, NULL, &b), 0);
    if (embedded_broker__wait(b, err, sizeof err) != 0)
        fail_msg("embedded broker did not start: %s", err);
    int pid = embedded_broker__pid(b);
    assert_int_equal(kill(pid, 0), 0);
    embedded_broker__free(b);
    assert_true(process_gone(pid, 1));
    teardown_ctx(&c);
}

/* Stopping while it starts abandons the start: no ready call, nothing left. */
static void test_stop_while_starting(void **state)
{
    struct ctx c;
    struct embedded_broker *b = NULL;
    char err[256] = "";
    setup_ctx(&c);
    assert_int_equal(embedded_broker__start(&c.loop, NULL, on_ready, &c, &b), 0);
    int pid = embedded_broker__pid(b);
    assert_true(pid > 0);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", embedded_broker__dir(b));
    assert_true(path_exists(dir));
    stop_broker(&c, b);
    assert_int_equal(c.ready, 0);
    assert_true(process_gone(pid, 1));
    assert_false(path_exists(dir));
    assert_int_equal(embedded_broker__wait(b, err, sizeof err), MSGFLO_ESTATE);
    assert_non_null(strstr(err, "stopped"));
    embedded_broker__free(b);
    teardown_ctx(&c);
}

/* The owner dies by SIGKILL: the kernel's parent-death signal ends the
 * broker. This test process is a subreaper, so the orphaned broker becomes
 * its child and is reaped here (no zombie left for a non-reaping init). */
static void test_owner_killed(void **state)
{
    int fds[2];
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    assert_int_equal(pipe(fds), 0);
    pid_t owner = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        uv_loop_t loop;
        struct embedded_broker *b = NULL;
        char err[1024];
        close(fds[0]);
        msgflo_log_set_handler(quiet_log, NULL);
        uv_loop_init(&loop);
        int pid = 0;
        if (embedded_broker__start(&loop, NULL, NULL, NULL, &b) == 0 &&
            embedded_broker__wait(b, err, sizeof err) == 0)
            pid = embedded_broker__pid(b);
        if (write(fds[1], &pid, sizeof pid) != sizeof pid)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    int pid = 0;
    assert_int_equal(read(fds[0], &pid, sizeof pid), (ssize_t)sizeof pid);
    close(fds[0]);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(kill(owner, SIGKILL), 0);
    assert_int_equal(waitpid(owner, NULL, 0), owner);
    int status = 0;
    pid_t reaped = 0;
    for (int i = 0; i < 1000 && reaped == 0; i++) {
        reaped = waitpid(pid, &status, WNOHANG);
        if (reaped == 0)
            usleep(10000);
    }
    if (reaped != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("mosquitto %d survived its owner", pid);
    }
    /* It got SIGTERM and shut down. */
    assert_true(WIFEXITED(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_carry_stop),
        cmocka_unit_test(test_router_plugin),
        cmocka_unit_test(test_missing_mosquitto),
        cmocka_unit_test(test_failing_mosquitto),
        cmocka_unit_test(test_free_kills_running_broker),
        cmocka_unit_test(test_stop_while_starting),
        cmocka_unit_test(test_owner_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
