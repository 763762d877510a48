/* msgflo-guv's local workers and command runs, with real child processes
 * (/bin/sh scripts) on a libuv loop: scaling a pool up and down (the newest
 * go first, names never reused), a worker that cannot start is dropped, and
 * a command's exit status comes back. Every wait is for an event, bounded by
 * a watchdog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "guv/act_command.h"
#include "guv/act_local.h"
#include "msgflo/errors.h"

#define MAX_LINES 64

struct ctx {
    uv_loop_t loop;
    struct supervisor *sup;
    char lines[MAX_LINES][128];
    int nlines;
    int done;
    int status;
    bool timed_out;
};

static void on_output(const char *name, enum supervisor_stream stream, const char *line, size_t len,
                      void *ud)
{
    struct ctx *c = ud;
    if (c->nlines < MAX_LINES)
        snprintf(c->lines[c->nlines++], sizeof c->lines[0], "%s: %s", name, line);
    uv_stop(&c->loop);
}

static void on_watchdog(uv_timer_t *t)
{
    struct ctx *c = t->data;
    c->timed_out = true;
    uv_stop(&c->loop);
}

/* Runs the loop until cond(c) holds; fails after `seconds`. */
static void run_until(struct ctx *c, bool (*cond)(struct ctx *, void *), void *arg,
                      unsigned seconds)
{
    uv_timer_t watchdog;
    uv_timer_init(&c->loop, &watchdog);
    watchdog.data = c;
    c->timed_out = false;
    uv_timer_start(&watchdog, on_watchdog, seconds * 1000u, 0);
    while (!cond(c, arg) && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    if (!cond(c, arg))
        fail_msg("timed out after %u s", seconds);
}

static bool has_lines(struct ctx *c, void *arg)
{
    return c->nlines >= *(int *)arg;
}

static bool is_done(struct ctx *c, void *arg)
{
    return c->done >= *(int *)arg;
}

static bool active_is(struct ctx *c, void *arg)
{
    return supervisor__active(c->sup) == (size_t) * (int *)arg;
}

static int count_lines(struct ctx *c, const char *text)
{
    int n = 0;
    for (int i = 0; i < c->nlines; i++)
        n += strcmp(c->lines[i], text) == 0;
    return n;
}

static void on_stopped(struct supervisor *sup, void *ud)
{
    struct ctx *c = ud;
    c->done++;
}

static void test_pool_up_and_down(void **state)
{
    struct ctx c = {0};
    assert_int_equal(uv_loop_init(&c.loop), 0);
    struct supervisor_options so = {.shell = "/bin/sh",
                                    .forever = true,
                                    .forward = SUPERVISOR_FORWARD_STDOUT,
                                    .on_output = on_output,
                                    .output_userdata = &c,
                                    .grace_ms = 2000};
    assert_int_equal(supervisor__new(&c.loop, &so, &c.sup), 0);
    struct guv_local *l;
    assert_int_equal(guv_local__new(c.sup, &l), 0);
    assert_int_equal(guv_local__add_role(l, "w", "echo up; exec sleep 30"), 0);
    assert_int_equal(guv_local__add_role(l, "w", "true"), MSGFLO_EINVAL);
    assert_int_equal(guv_local__add_role(l, "bad", "echo never >&2; exit 3"), 0);
    assert_int_equal(guv_local__current(l, "w"), 0);
    assert_int_equal(guv_local__current(l, "nope"), -1);
    assert_int_equal(guv_local__set(l, "nope", 1), MSGFLO_EINVAL);

    assert_int_equal(guv_local__set(l, "w", 3), 0);
    assert_int_equal(guv_local__current(l, "w"), 3); /* starting ones count */
    int want = 3;
    run_until(&c, has_lines, &want, 20);
    assert_int_equal(count_lines(&c, "w.1: up"), 1);
    assert_int_equal(count_lines(&c, "w.2: up"), 1);
    assert_int_equal(count_lines(&c, "w.3: up"), 1);
    assert_int_equal(guv_local__started(l, "w"), 3);

    /* Down to 1: w.3 and w.2 go; the supervisor forgets them. */
    assert_int_equal(guv_local__set(l, "w", 1), 0);
    assert_int_equal(guv_local__current(l, "w"), 1);
    want = 1;
    run_until(&c, active_is, &want, 20);
    /* Up again: new names, never reused. */
    assert_int_equal(guv_local__set(l, "w", 2), 0);
    want = 4;
    run_until(&c, has_lines, &want, 20);
    assert_int_equal(count_lines(&c, "w.4: up"), 1);
    assert_int_equal(guv_local__current(l, "w"), 2);

    /* A worker that exits before its ready line is dropped. */
    assert_int_equal(guv_local__set(l, "bad", 1), 0);
    assert_int_equal(guv_local__current(l, "bad"), 1);
    want = 2;
    run_until(&c, active_is, &want, 20);
    assert_int_equal(guv_local__current(l, "bad"), 0);
    assert_int_equal(guv_local__current(l, "w"), 2);

    int one = 1;
    assert_int_equal(supervisor__stop_all(c.sup, on_stopped, &c), 0);
    run_until(&c, is_done, &one, 20);
    guv_local__free(l);
    supervisor__free(c.sup);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

static void on_command(int status, void *ud)
{
    struct ctx *c = ud;
    c->status = status;
    c->done++;
}

static void test_command_status(void **state)
{
    struct ctx c = {0};
    assert_int_equal(uv_loop_init(&c.loop), 0);
    char path[] = "/tmp/guv-cmd-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "echo \"a b\" >> %s", path);
    assert_int_equal(guv_command__run(&c.loop, cmd, on_command, &c), 0);
    assert_int_equal(c.done, 0); /* never from within the call */
    int want = 1;
    run_until(&c, is_done, &want, 20);
    assert_int_equal(c.status, 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    assert_string_equal(line, "a b\n");

    assert_int_equal(guv_command__run(&c.loop, "exit 7", on_command, &c), 0);
    want = 2;
    run_until(&c, is_done, &want, 20);
    assert_int_equal(c.status, 7);
    assert_int_equal(guv_command__run(&c.loop, "kill -TERM $$", on_command, &c), 0);
    want = 3;
    run_until(&c, is_done, &want, 20);
    assert_int_equal(c.status, -SIGTERM);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_up_and_down),
        cmocka_unit_test(test_command_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
