/* Process supervisor: ready line, start timeout, exit before start, spawn
 * failure, forwarding with prefixes and whole lines, environment, SIGTERM then
 * SIGKILL, restart with backoff under forever, stop_all. Real child processes
 * (/bin/sh scripts); every wait is for an event, bounded by a watchdog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "process_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/supervisor.h"
#include "process/supervisor_spawn.h"
#include "msgflo/errors.h"
#include "msgflo/log.h"

#define MAX_LINES 2000
#define MAX_LOGS  64

struct ctx {
    uv_loop_t loop;
    struct supervisor *sup;
    int started, exits, errors, done;
    int last_status;
    bool last_will_restart;
    char first_line[256];
    char last_line[256];
    char error[512];
    int pids[32];
    int npids;
    char *lines[MAX_LINES];
    enum supervisor_stream streams[MAX_LINES];
    int nlines;
    bool timed_out;
};

static char logs[MAX_LOGS][512];
static int nlogs;
static int debug_err1; /* debug lines that repeat the child's stderr line "err1" */

static void capture_log(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "LOG %s: %s\n", ns, message);
    if (level >= MSGFLO_LOG_WARNING && nlogs < MAX_LOGS)
        snprintf(logs[nlogs++], sizeof logs[0], "%s", message);
    if (level == MSGFLO_LOG_DEBUG && strstr(message, "stderr: err1"))
        debug_err1++;
}

static int count_logs(const char *fragment)
{
    int n = 0;
    for (int i = 0; i < nlogs; i++)
        n += strstr(logs[i], fragment) != NULL;
    return n;
}

static void on_started(const char *role, const char *line, void *ud)
{
    struct ctx *c = ud;
    uv_stop(&c->loop); /* UV_RUN_ONCE would go on to wait in poll */
    if (c->started == 0)
        snprintf(c->first_line, sizeof c->first_line, "%s", line);
    snprintf(c->last_line, sizeof c->last_line, "%s", line);
    c->started++;
    /* Scripts print "ready PID": remember the pids to check they are gone. */
    const char *sp = strchr(line, ' ');
    if (strncmp(line, "ready ", 6) == 0 && c->npids < 32) {
        char *end;
        long pid = strtol(sp + 1, &end, 10);
        if (end != sp + 1 && pid > 0)
            c->pids[c->npids++] = (int)pid;
    }
}

static void on_exit_cb(const char *role, int status, bool will_restart, void *ud)
{
    struct ctx *c = ud;
    uv_stop(&c->loop); /* UV_RUN_ONCE would go on to wait in poll */
    c->exits++;
    c->last_status = status;
    c->last_will_restart = will_restart;
}

static void on_error(const char *role, const char *message, void *ud)
{
    struct ctx *c = ud;
    uv_stop(&c->loop); /* UV_RUN_ONCE would go on to wait in poll */
    c->errors++;
    snprintf(c->error, sizeof c->error, "%s", message);
}

static const struct supervisor_callbacks callbacks = {on_started, on_exit_cb, on_error};

static void on_output(const char *role, enum supervisor_stream stream, const char *line, size_t len,
                      void *ud)
{
    struct ctx *c = ud;
    assert_int_equal(strlen(line), len);
    assert_null(memchr(line, '\n', len));
    if (c->nlines < MAX_LINES) {
        /* Printed as the tools do. */
        size_t n = strlen(role) + len + 4;
        c->lines[c->nlines] = malloc(n);
        assert_non_null(c->lines[c->nlines]);
        snprintf(c->lines[c->nlines], n, "%s: %s\n", role, line);
        c->streams[c->nlines++] = stream;
    }
}

static void on_done(struct supervisor *sup, void *ud)
{
    struct ctx *c = ud;
    uv_stop(&c->loop); /* UV_RUN_ONCE would go on to wait in poll */
    c->done++;
}

static void on_watchdog(uv_timer_t *t)
{
    struct ctx *c = t->data;
    c->timed_out = true;
    uv_stop(&c->loop);
}

/* Runs the loop until *counter >= want; fails after `seconds`. */
static void run_until(struct ctx *c, const int *counter, int want, unsigned seconds)
{
    uv_timer_t watchdog;
    uv_timer_init(&c->loop, &watchdog);
    watchdog.data = c;
    c->timed_out = false;
    uv_timer_start(&watchdog, on_watchdog, seconds * 1000u, 0);
    while (*counter < want && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    if (*counter < want)
        fail_msg("timed out after %u s waiting for %d events (have %d)", seconds, want, *counter);
}

static void setup_sup(struct ctx *c, struct supervisor_options *o)
{
    memset(c, 0, sizeof *c);
    nlogs = 0;
    msgflo_log_set_handler(capture_log, NULL);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    if (o) {
        o->on_output = on_output;
        o->output_userdata = c;
    }
    assert_int_equal(supervisor__new(&c->loop, o, &c->sup), 0);
}

/* Runs the loop until no process runs or waits for a restart. */
static void run_until_idle(struct ctx *c, unsigned seconds)
{
    uv_timer_t watchdog;
    uv_timer_init(&c->loop, &watchdog);
    watchdog.data = c;
    c->timed_out = false;
    uv_timer_start(&watchdog, on_watchdog, seconds * 1000u, 0);
    while (supervisor__active(c->sup) > 0 && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    assert_int_equal(supervisor__active(c->sup), 0);
}

/* Stops everything, checks the done callback and that no child is left. */
static void teardown_sup(struct ctx *c)
{
    if (c->sup) {
        assert_int_equal(supervisor__stop_all(c->sup, on_done, c), 0);
        assert_int_equal(c->done, 0); /* never from within the call */
        run_until(c, &c->done, 1, 20);
        assert_int_equal(c->done, 1);
        assert_int_equal(supervisor__active(c->sup), 0);
        supervisor__free(c->sup);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    for (int i = 0; i < c->npids; i++)
        if (!process_gone(c->pids[i], 5))
            fail_msg("process %d survived the supervisor", c->pids[i]);
    for (int i = 0; i < c->nlines; i++)
        free(c->lines[i]);
    msgflo_log_set_handler(NULL, NULL);
}

static void test_started_on_first_line(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh"};
    setup_sup(&c, &o);
    assert_int_equal(
        supervisor__start(c.sup, "motor", "echo ready $$; exec sleep 30", &callbacks, &c), 0);
    assert_int_equal(c.started, 0); /* not from within the call */
    run_until(&c, &c.started, 1, 20);
    assert_int_equal(strncmp(c.first_line, "ready ", 6), 0);
    assert_int_equal(c.npids, 1);
    assert_int_equal(kill(c.pids[0], 0), 0);
    assert_int_equal(supervisor__active(c.sup), 1);
    /* The same role twice is refused. */
    assert_int_equal(supervisor__start(c.sup, "motor", "true", &callbacks, &c), MSGFLO_EINVAL);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.exits, 0);
    teardown_sup(&c);
}

static void test_start_timeout_names_role(void **state)
{
    struct ctx c;
    struct supervisor_options o = {
        .shell = "/bin/sh", .start_timeout_ms = 300, .forward = SUPERVISOR_FORWARD_STDERR};
    setup_sup(&c, &o);
    /* Output on stderr does not count as started. */
    assert_int_equal(supervisor__start(c.sup, "slow", "echo $$ >&2; exec sleep 30", &callbacks, &c),
                     0);
    run_until(&c, &c.errors, 1, 20);
    assert_non_null(strstr(c.error, "participant 'slow' (echo $$ >&2; exec sleep 30) did not "
                                    "start within 0.3 s"));
    assert_int_equal(c.started, 0);
    /* It is stopped after the timeout. */
    run_until_idle(&c, 20);
    assert_int_equal(c.nlines, 1);
    char *end;
    long pid = strtol(c.lines[0] + strlen("slow: "), &end, 10);
    assert_true(pid > 0);
    c.pids[c.npids++] = (int)pid;
    assert_true(process_gone((int)pid, 5));
    assert_int_equal(c.exits, 0);
    teardown_sup(&c);
}

static void test_exit_before_start(void **state)
{
    for (int forever = 0; forever <= 1; forever++) {
        struct ctx c;
        struct supervisor_options o = {.shell = "/bin/sh", .forever = forever};
        setup_sup(&c, &o);
        assert_int_equal(supervisor__start(c.sup, "crash", "exit 3", &callbacks, &c), 0);
        run_until(&c, &c.errors, 1, 20);
        assert_string_equal(c.error,
                            "participant 'crash' (exit 3) exited with status 3 before starting");
        assert_int_equal(c.started, 0);
        assert_int_equal(c.exits, 0);
        /* Never started: not restarted, even under forever. */
        assert_int_equal(supervisor__active(c.sup), 0);
        teardown_sup(&c);
    }
}

static void test_spawn_failure(void **state)
{
    struct ctx c;
    setup_sup(&c, NULL);
    assert_int_equal(supervisor__start(c.sup, "ghost", "/nonexistent/ghost --x", &callbacks, &c),
                     0);
    assert_int_equal(c.errors, 0);
    run_until(&c, &c.errors, 1, 20);
    assert_non_null(strstr(c.error, "participant 'ghost' (/nonexistent/ghost --x) could not be "
                                    "run: no such file or directory"));
    assert_int_equal(supervisor__start(c.sup, "", "x", &callbacks, &c), MSGFLO_EINVAL);
    assert_int_equal(supervisor__start(c.sup, "r", "", &callbacks, &c), MSGFLO_EINVAL);
    teardown_sup(&c);
}

static void test_split_on_single_spaces(void **state)
{
    struct ctx c;
    setup_sup(&c, NULL);
    /* As the original: no quoting, and two spaces give an empty argument. */
    assert_int_equal(supervisor__start(c.sup, "e", "/bin/echo 'a b'  c", &callbacks, &c), 0);
    run_until(&c, &c.started, 1, 20);
    assert_string_equal(c.first_line, "'a b'  c");
    run_until(&c, &c.exits, 1, 20);
    assert_int_equal(c.last_status, 0);
    assert_false(c.last_will_restart);
    teardown_sup(&c);
}

static void test_environment_and_cwd(void **state)
{
    struct ctx c;
    const char *env[] = {"EXTRA=x y", "MSGFLO_TEST_OVERRIDE=new", NULL};
    struct supervisor_options o = {
        .shell = "/bin/sh", .broker_url = "mqtt://127.0.0.1:1234", .env = env, .cwd = "/"};
    setenv("MSGFLO_BROKER", "amqp://old", 1);
    setenv("MSGFLO_TEST_OVERRIDE", "old", 1);
    setenv("MSGFLO_TEST_KEPT", "kept", 1);
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "env",
                                       "echo \"$MSGFLO_BROKER|$EXTRA|$MSGFLO_TEST_OVERRIDE|"
                                       "$MSGFLO_TEST_KEPT|$(pwd)\"",
                                       &callbacks, &c),
                     0);
    run_until(&c, &c.started, 1, 20);
    assert_string_equal(c.first_line, "mqtt://127.0.0.1:1234|x y|new|kept|/");
    unsetenv("MSGFLO_BROKER");
    unsetenv("MSGFLO_TEST_OVERRIDE");
    unsetenv("MSGFLO_TEST_KEPT");
    teardown_sup(&c);
}

/* A simple command behind --shell is exec'd by the shell: the process the
 * supervisor started (and set the parent-death signal of) is the command
 * itself, so its parent is us. It also learns our pid. */
static void test_shell_execs_simple_commands(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh"};
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "x",
                                       "/bin/sh -c 'echo parent $PPID $MSGFLO_SUPERVISOR_PID'",
                                       &callbacks, &c),
                     0);
    run_until(&c, &c.started, 1, 20);
    char want[64];
    snprintf(want, sizeof want, "parent %ld %ld", (long)getpid(), (long)getpid());
    assert_string_equal(c.first_line, want);
    run_until(&c, &c.exits, 1, 20);
    teardown_sup(&c);

    assert_true(supervisor_spawn__execable("build/examples/repeat a mqtt://h"));
    assert_true(supervisor_spawn__execable("  ./prog --x 'a b' > /tmp/log 2>&1"));
    assert_false(supervisor_spawn__execable("a; b"));
    assert_false(supervisor_spawn__execable("a | b"));
    assert_false(supervisor_spawn__execable("a && b"));
    assert_false(supervisor_spawn__execable("a &"));
    assert_false(supervisor_spawn__execable("A=1 prog"));
    assert_false(supervisor_spawn__execable("while true; do x; done"));
    assert_false(supervisor_spawn__execable("exec prog"));
    assert_false(supervisor_spawn__execable("exit 3"));
    assert_false(supervisor_spawn__execable("cd /tmp"));
    assert_false(supervisor_spawn__execable("if x"));
    assert_true(supervisor_spawn__execable("sleep 30"));
    assert_false(supervisor_spawn__execable("(prog)"));
    assert_false(supervisor_spawn__execable("a\nb"));
    assert_false(supervisor_spawn__execable(""));
    struct supervisor_spawn_args a;
    supervisor_spawn__args("./prog x", "/bin/sh", "/usr/bin/setpriv", &a);
    assert_string_equal(a.argv[0], "/usr/bin/setpriv");
    assert_string_equal(a.argv[2], "/bin/sh");
    assert_string_equal(a.argv[4], "exec ./prog x");
    assert_null(a.argv[5]);
    supervisor_spawn__args_cleanup(&a);
    supervisor_spawn__args("a | b", "/bin/sh", NULL, &a);
    assert_string_equal(a.argv[2], "a | b");
    supervisor_spawn__args_cleanup(&a);
}

static void test_forwarding_with_prefixes(void **state)
{
    static const unsigned modes[] = {SUPERVISOR_FORWARD_BOTH, SUPERVISOR_FORWARD_STDOUT,
                                     SUPERVISOR_FORWARD_STDERR, SUPERVISOR_FORWARD_NONE};
    for (size_t m = 0; m < 4; m++) {
        struct ctx c;
        struct supervisor_options o = {.shell = "/bin/sh", .forward = modes[m]};
        setup_sup(&c, &o);
        debug_err1 = 0;
        assert_int_equal(supervisor__start(c.sup, "motor",
                                           "echo ready; echo err1 >&2; echo out1; printf part",
                                           &callbacks, &c),
                         0);
        run_until(&c, &c.exits, 1, 20);
        assert_int_equal(c.started, 1);
        int out = 0, err = 0;
        for (int i = 0; i < c.nlines; i++) {
            if (c.streams[i] == SUPERVISOR_STDOUT) {
                static const char *const want[] = {"motor: ready\n", "motor: out1\n",
                                                   "motor: part\n"};
                assert_true(out < 3);
                assert_string_equal(c.lines[i], want[out++]);
            } else {
                assert_string_equal(c.lines[i], "motor: err1\n");
                err++;
            }
        }
        assert_int_equal(out, (modes[m] & SUPERVISOR_FORWARD_STDOUT) ? 3 : 0);
        assert_int_equal(err, (modes[m] & SUPERVISOR_FORWARD_STDERR) ? 1 : 0);
        /* under DEBUG, a line is printed once: forwarded, or as a debug line */
        assert_int_equal(debug_err1, (modes[m] & SUPERVISOR_FORWARD_STDERR) ? 0 : 1);
        teardown_sup(&c);
    }
}

static void long_lines_script(char *buf, size_t len, char letter)
{
    snprintf(buf, len,
             "s=$(printf '%%05000d' 0); i=0; echo ready;"
             " while [ $i -lt 150 ]; do echo \"%c$s\"; echo \"%c$s\" >&2; i=$((i+1)); done",
             letter, letter);
}

/* Two children writing long lines at once: every forwarded line is whole. */
static void test_forwarding_keeps_lines_whole(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh", .forward = SUPERVISOR_FORWARD_BOTH};
    setup_sup(&c, &o);
    char a[256], b[256];
    long_lines_script(a, sizeof a, 'a');
    long_lines_script(b, sizeof b, 'b');
    assert_int_equal(supervisor__start(c.sup, "a", a, &callbacks, &c), 0);
    assert_int_equal(supervisor__start(c.sup, "b", b, &callbacks, &c), 0);
    run_until(&c, &c.exits, 2, 25);
    assert_int_equal(c.nlines, 2 * (1 + 300));
    int counts[2] = {0, 0};
    for (int i = 0; i < c.nlines; i++) {
        const char *l = c.lines[i];
        if (strcmp(l + 3, "ready\n") == 0)
            continue;
        assert_true(l[0] == 'a' || l[0] == 'b');
        assert_int_equal(strlen(l), 3 + 1 + 5000 + 1);
        assert_int_equal(l[1], ':');
        assert_int_equal(l[3], l[0]);
        assert_int_equal(strspn(l + 4, "0"), 5000);
        counts[l[0] - 'a']++;
    }
    assert_int_equal(counts[0], 300);
    assert_int_equal(counts[1], 300);
    teardown_sup(&c);
}

static void test_sigterm_then_sigkill(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh", .grace_ms = 400};
    setup_sup(&c, &o);
    assert_int_equal(
        supervisor__start(c.sup, "polite", "echo ready $$; exec sleep 30", &callbacks, &c), 0);
    assert_int_equal(supervisor__start(c.sup, "stubborn",
                                       "trap '' TERM; echo ready $$; while :; do sleep 1; done",
                                       &callbacks, &c),
                     0);
    run_until(&c, &c.started, 2, 20);
    uint64_t t0 = uv_now(&c.loop);
    assert_int_equal(supervisor__stop_all(c.sup, on_done, &c), 0);
    assert_int_equal(supervisor__stop_all(c.sup, on_done, &c), MSGFLO_ESTATE);
    assert_int_equal(supervisor__start(c.sup, "late", "true", &callbacks, &c), MSGFLO_ESTATE);
    run_until(&c, &c.done, 1, 20);
    uv_update_time(&c.loop);
    assert_true(uv_now(&c.loop) - t0 >= 400);
    assert_int_equal(count_logs("participant 'stubborn' did not exit within 0.4 s of SIGTERM; "
                                "sending SIGKILL"),
                     1);
    assert_int_equal(count_logs("'polite'"), 0);
    assert_int_equal(c.exits, 0); /* stopping is not reported as an exit */
    supervisor__free(c.sup);
    c.sup = NULL;
    teardown_sup(&c);
}

static void test_restart_with_backoff(void **state)
{
    struct ctx c;
    struct supervisor_options o = {
        .shell = "/bin/sh", .forever = true, .backoff_initial_ms = 50, .backoff_max_ms = 200};
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "x", "echo ready $$; exit 7", &callbacks, &c), 0);
    run_until(&c, &c.started, 5, 25);
    assert_true(c.exits >= 4);
    assert_int_equal(c.last_status, 7);
    assert_true(c.last_will_restart);
    assert_int_equal(c.errors, 0);
    /* 0.05, 0.1, 0.2, 0.2: doubling up to the maximum. */
    static const char *const delays[] = {"0.05", "0.1", "0.2", "0.2"};
    for (int i = 0; i < 4; i++) {
        char want[128];
        snprintf(want, sizeof want, "participant 'x' exited with status 7; restarting in %s s",
                 delays[i]);
        assert_string_equal(logs[i], want);
    }
    /* Each start is a new process. */
    assert_true(c.npids >= 5);
    assert_int_not_equal(c.pids[0], c.pids[1]);
    teardown_sup(&c);
}

static void test_backoff_resets_after_uptime(void **state)
{
    struct ctx c;
    struct supervisor_options o = {
        .shell = "/bin/sh", .forever = true, .backoff_initial_ms = 50, .backoff_reset_ms = 200};
    setup_sup(&c, &o);
    assert_int_equal(
        supervisor__start(c.sup, "y", "echo ready $$; sleep 1; exit 2", &callbacks, &c), 0);
    run_until(&c, &c.started, 3, 25);
    assert_true(nlogs >= 2);
    for (int i = 0; i < 2; i++)
        assert_string_equal(logs[i], "participant 'y' exited with status 2; restarting in 0.05 s");
    teardown_sup(&c);
}

static void test_killed_participant_restarted(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh", .forever = true, .backoff_initial_ms = 50};
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "k", "echo ready $$; exec sleep 30", &callbacks, &c),
                     0);
    run_until(&c, &c.started, 1, 20);
    assert_int_equal(kill(c.pids[0], SIGKILL), 0);
    run_until(&c, &c.started, 2, 20);
    assert_int_equal(c.exits, 1);
    assert_int_equal(c.last_status, -SIGKILL);
    assert_true(c.last_will_restart);
    assert_non_null(strstr(logs[0], "participant 'k' was killed by signal 9"));
    assert_int_not_equal(c.pids[0], c.pids[1]);
    assert_int_equal(kill(c.pids[1], 0), 0);
    teardown_sup(&c);
}

static void test_no_restart_without_forever(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh", .backoff_initial_ms = 10};
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "once", "echo ready $$; exit 5", &callbacks, &c), 0);
    run_until(&c, &c.exits, 1, 20);
    assert_int_equal(c.last_status, 5);
    assert_false(c.last_will_restart);
    assert_int_equal(supervisor__active(c.sup), 0); /* no restart pending */
    assert_int_equal(c.started, 1);
    assert_int_equal(nlogs, 0);
    teardown_sup(&c);
}

static void test_stop_all_many_and_empty(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh"};
    setup_sup(&c, &o);
    char role[16];
    for (int i = 0; i < 4; i++) {
        snprintf(role, sizeof role, "p%d", i);
        /* A shell that started children: the whole group goes. */
        assert_int_equal(
            supervisor__start(c.sup, role, "sleep 30 & echo ready $!; wait", &callbacks, &c), 0);
    }
    run_until(&c, &c.started, 4, 20);
    assert_int_equal(c.npids, 4); /* pids of the background sleeps */
    teardown_sup(&c);

    /* Nothing to stop: done still comes from the loop. */
    setup_sup(&c, NULL);
    teardown_sup(&c);
}

static void test_stop_one(void **state)
{
    struct ctx c;
    struct supervisor_options o = {
        .shell = "/bin/sh", .forever = true, .backoff_initial_ms = 60000};
    setup_sup(&c, &o);
    assert_int_equal(
        supervisor__start(c.sup, "w.1", "echo ready $$; exec sleep 30", &callbacks, &c), 0);
    assert_int_equal(
        supervisor__start(c.sup, "w.2", "echo ready $$; exec sleep 30", &callbacks, &c), 0);
    run_until(&c, &c.started, 2, 20);
    assert_int_equal(supervisor__stop(c.sup, "w.9", on_done, &c), MSGFLO_EINVAL);
    /* Which pid is w.1's the lines do not tell: stop it and see that one goes. */
    assert_int_equal(supervisor__stop(c.sup, "w.1", on_done, &c), 0);
    assert_int_equal(supervisor__stop(c.sup, "w.1", on_done, &c), MSGFLO_ESTATE);
    assert_int_equal(supervisor__start(c.sup, "w.1", "true", &callbacks, &c), MSGFLO_EINVAL);
    assert_int_equal(c.done, 0); /* never from within the call */
    run_until(&c, &c.done, 1, 20);
    assert_int_equal(supervisor__active(c.sup), 1);
    assert_int_equal(c.exits, 0); /* a stop is not an exit, and nothing restarts */
    /* Reaped before `done`, so the stopped one no longer exists. */
    int alive = (kill(c.pids[0], 0) == 0) + (kill(c.pids[1], 0) == 0);
    assert_int_equal(alive, 1);
    /* The name is free again. */
    assert_int_equal(
        supervisor__start(c.sup, "w.1", "echo ready $$; exec sleep 30", &callbacks, &c), 0);
    run_until(&c, &c.started, 3, 20);
    assert_int_equal(supervisor__active(c.sup), 2);

    /* A process waiting for its restart is forgotten at once. */
    assert_int_equal(supervisor__start(c.sup, "crash", "echo ready $$; exit 3", &callbacks, &c), 0);
    run_until(&c, &c.exits, 1, 20);
    assert_true(c.last_will_restart);
    assert_int_equal(supervisor__active(c.sup), 3);
    assert_int_equal(supervisor__stop(c.sup, "crash", on_done, &c), 0);
    assert_int_equal(c.done, 1);
    run_until(&c, &c.done, 2, 20);
    assert_int_equal(supervisor__active(c.sup), 2);
    c.done = 0; /* teardown counts stop_all's */
    teardown_sup(&c);
}

static void test_parse_forward(void **state)
{
    static const struct {
        const char *text;
        int rc;
        unsigned bits;
    } cases[] = {
        {"", 0, SUPERVISOR_FORWARD_NONE},
        {"stdout", 0, SUPERVISOR_FORWARD_STDOUT},
        {"stderr", 0, SUPERVISOR_FORWARD_STDERR},
        {"stderr,stdout", 0, SUPERVISOR_FORWARD_BOTH},
        {"stdout,stderr", 0, SUPERVISOR_FORWARD_BOTH},
        {"stdout,", 0, SUPERVISOR_FORWARD_STDOUT},
        {"stdin", MSGFLO_EINVAL, 99},
        {"stdout,stderrx", MSGFLO_EINVAL, 99},
        {"true", MSGFLO_EINVAL, 99},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned bits = 99;
        assert_int_equal(supervisor__parse_forward(cases[i].text, &bits), cases[i].rc);
        assert_int_equal(bits, cases[i].bits);
    }
}

/* A tool stopping everything from a callback (e.g. a failed start). */
static struct ctx *stop_ctx;
static void stop_on_error(const char *role, const char *message, void *ud)
{
    on_error(role, message, ud);
    assert_int_equal(supervisor__stop_all(stop_ctx->sup, on_done, stop_ctx), 0);
}

static void test_stop_all_from_callback(void **state)
{
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh"};
    setup_sup(&c, &o);
    stop_ctx = &c;
    const struct supervisor_callbacks cb = {on_started, on_exit_cb, stop_on_error};
    assert_int_equal(supervisor__start(c.sup, "ok", "echo ready $$; exec sleep 30", &cb, &c), 0);
    run_until(&c, &c.started, 1, 20);
    assert_int_equal(supervisor__start(c.sup, "bad", "exit 1", &cb, &c), 0);
    run_until(&c, &c.done, 1, 20);
    assert_int_equal(c.errors, 1);
    assert_int_equal(supervisor__active(c.sup), 0);
    supervisor__free(c.sup);
    c.sup = NULL;
    teardown_sup(&c);
}

/* The supervisor's process is killed with SIGKILL: its children get the
 * parent-death signal (setpriv). This process is a subreaper, so the orphans
 * become its children and are reaped here. */
static void test_owner_killed(void **state)
{
    int fds[2];
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    assert_int_equal(pipe(fds), 0);
    pid_t owner = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        struct ctx c;
        struct supervisor_options o = {.shell = "/bin/sh"};
        close(fds[0]);
        setup_sup(&c, &o);
        supervisor__start(c.sup, "orphan", "echo ready $$; exec sleep 30", &callbacks, &c);
        while (c.started == 0)
            uv_run(&c.loop, UV_RUN_ONCE);
        if (write(fds[1], &c.pids[0], sizeof c.pids[0]) != sizeof c.pids[0])
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    int pid = 0;
    assert_int_equal(read(fds[0], &pid, sizeof pid), (ssize_t)sizeof pid);
    close(fds[0]);
    assert_true(pid > 0);
    assert_int_equal(kill(owner, SIGKILL), 0);
    assert_int_equal(waitpid(owner, NULL, 0), owner);
    int status = 0;
    pid_t reaped = 0;
    for (int i = 0; i < 1000 && reaped == 0; i++) {
        reaped = waitpid(pid, &status, WNOHANG);
        if (reaped == 0)
            usleep(10000);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    if (reaped != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("participant %d survived its supervisor", pid);
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
}

/* A process started with the given supervisor marks: sleeps until killed. */
static pid_t start_marked(const char *identity, long supervisor_pid)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[128], sup[64];
        snprintf(id, sizeof id, "MSGFLO_SUPERVISOR_ID=%s", identity);
        snprintf(sup, sizeof sup, "MSGFLO_SUPERVISOR_PID=%ld", supervisor_pid);
        char *const argv[] = {"sleep", "30", NULL};
        char *const envp[] = {id, sup, NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    return pid;
}

/* Only processes marked with our identity whose supervisor is gone are
 * stopped; another identity, or a supervisor still running, keeps them. */
static void test_orphans_of_an_earlier_run(void **state)
{
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char identity[64], other[64];
    snprintf(identity, sizeof identity, "test-orphans-%ld", (long)getpid());
    snprintf(other, sizeof other, "test-orphans-other-%ld", (long)getpid());
    pid_t orphan = start_marked(identity, dead);
    pid_t foreign = start_marked(other, dead);
    pid_t kept = start_marked(identity, getppid()); /* its supervisor lives */
    usleep(200000);                                 /* exec'd, environ readable */
    assert_int_equal(supervisor__stop_orphans(identity, 1000), 1);
    int status = 0;
    assert_int_equal(waitpid(orphan, &status, 0), orphan);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_int_equal(waitpid(foreign, &status, WNOHANG), 0);
    assert_int_equal(waitpid(kept, &status, WNOHANG), 0);
    kill(foreign, SIGKILL);
    kill(kept, SIGKILL);
    waitpid(foreign, NULL, 0);
    waitpid(kept, NULL, 0);
    assert_int_equal(supervisor__stop_orphans(identity, 1000), 0);

    /* Children are marked with the identity. */
    struct ctx c;
    struct supervisor_options o = {.shell = "/bin/sh", .identity = identity};
    setup_sup(&c, &o);
    assert_int_equal(supervisor__start(c.sup, "x", "echo id $MSGFLO_SUPERVISOR_ID", &callbacks, &c),
                     0);
    run_until(&c, &c.started, 1, 20);
    char want[128];
    snprintf(want, sizeof want, "id %s", identity);
    assert_string_equal(c.first_line, want);
    run_until(&c, &c.exits, 1, 20);
    teardown_sup(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setenv("DEBUG", "msgflo:supervisor", 1); /* read at the first log line */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_started_on_first_line),
        cmocka_unit_test(test_start_timeout_names_role),
        cmocka_unit_test(test_exit_before_start),
        cmocka_unit_test(test_spawn_failure),
        cmocka_unit_test(test_split_on_single_spaces),
        cmocka_unit_test(test_environment_and_cwd),
        cmocka_unit_test(test_shell_execs_simple_commands),
        cmocka_unit_test(test_forwarding_with_prefixes),
        cmocka_unit_test(test_forwarding_keeps_lines_whole),
        cmocka_unit_test(test_sigterm_then_sigkill),
        cmocka_unit_test(test_restart_with_backoff),
        cmocka_unit_test(test_backoff_resets_after_uptime),
        cmocka_unit_test(test_killed_participant_restarted),
        cmocka_unit_test(test_no_restart_without_forever),
        cmocka_unit_test(test_stop_all_many_and_empty),
        cmocka_unit_test(test_stop_one),
        cmocka_unit_test(test_parse_forward),
        cmocka_unit_test(test_stop_all_from_callback),
        cmocka_unit_test(test_owner_killed),
        cmocka_unit_test(test_orphans_of_an_earlier_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
