/* The server's WebSocket deadlines with real wslay clients on loopback and
 * short timeouts: a trusted client that answers pings stays, one that stops
 * answering is dropped, a client without a permitted command is closed with
 * 1008 at the auth deadline, http_server__trust lifts that deadline; a
 * client that stops reading is disconnected, whatever the size of the
 * messages it is sent. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "msgflo/errors.h"
#include "runtime/http_server.h"
#include "ws_client.h"

static uv_loop_t loop;

static void client_send(struct ws_client *cl, const char *text)
{
    ws_client__send(cl, text, strlen(text));
}

/* "trust" is the permitted command: the server trusts its sender. */
static void srv_text(struct http_server *s, struct ws_conn *c, const char *data, size_t len,
                     void *ud)
{
    (void)s;
    (void)ud;
    if (len == 5 && memcmp(data, "trust", 5) == 0)
        http_server__trust(c);
    assert_int_equal(http_server__send(c, data, len), 0);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* The loop, with a timer ticking so that UV_RUN_ONCE never blocks long. */
static void loop_start(uv_timer_t *tick)
{
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, tick);
    uv_timer_start(tick, on_tick, 10, 10);
}

static void run_for(uint64_t ms)
{
    uint64_t end = uv_now(&loop) + ms;
    while (uv_now(&loop) < end)
        uv_run(&loop, UV_RUN_ONCE);
}

static void run_until_upgraded(struct ws_client *cl, int n)
{
    uint64_t end = uv_now(&loop) + 5000;
    for (;;) {
        int up = 0;
        for (int i = 0; i < n; i++)
            up += cl[i].upgraded;
        if (up == n || uv_now(&loop) >= end)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < n; i++)
        assert_true(cl[i].upgraded);
}

static void test_websocket_deadlines(void **state)
{
    (void)state;
    uv_timer_t tick;
    loop_start(&tick);
    struct http_server *s;
    const struct http_server_events ev = {.text = srv_text};
    const struct http_server_options o = {
        .limits = {.auth_timeout_ms = 1200, .ping_interval_ms = 200, .ping_timeout_ms = 300}};
    assert_int_equal(http_server__new(&loop, &o, &ev, NULL, &s), 0);
    int port = http_server__port(s);

    /* 0: trusted, answers pings; 1: trusted, then deaf; 2: a guest that
     * answers pings but sends no permitted command; 3: a guest that sends
     * other messages. */
    struct ws_client cl[4];
    for (int i = 0; i < 4; i++)
        ws_client__start(&loop, &cl[i], port);
    run_until_upgraded(cl, 4);
    uint64_t t0 = uv_now(&loop);
    client_send(&cl[0], "trust");
    client_send(&cl[1], "trust");
    client_send(&cl[3], "hello");
    run_for(100);
    assert_int_equal(cl[0].messages, 1);
    assert_int_equal(cl[3].messages, 1);
    cl[1].deaf = true;

    /* Before the auth deadline: every one still there; the silent ones
     * got pings (after 200 ms of silence) and answered. */
    run_for(900);
    assert_int_equal(http_server__clients(s), 3); /* 1 dropped: no pong within 300 ms */
    assert_true(cl[1].gone);
    assert_true(cl[1].gone_at - t0 >= 400 && cl[1].gone_at - t0 < 1000);
    assert_true(cl[0].pings >= 2);
    assert_true(cl[2].pings >= 2);
    assert_false(cl[0].gone || cl[2].gone || cl[3].gone);

    /* After it: the guests are closed with 1008; the trusted one stays. */
    run_for(800);
    assert_true(cl[2].gone && cl[3].gone);
    assert_int_equal(cl[2].close_code, 1008);
    assert_int_equal(cl[3].close_code, 1008);
    assert_true(cl[2].gone_at - t0 >= 1000 && cl[2].gone_at - t0 < 1800);
    assert_false(cl[0].gone);
    run_for(1200); /* several ping rounds more */
    assert_false(cl[0].gone);
    assert_true(cl[0].pings >= 8);
    assert_int_equal(http_server__clients(s), 1);
    client_send(&cl[0], "still");
    run_for(100);
    assert_int_equal(cl[0].messages, 2);

    http_server__close(s, NULL, NULL);
    uint64_t end = uv_now(&loop) + 5000;
    while (!cl[0].gone && uv_now(&loop) < end)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(cl[0].close_code, 1001);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int i = 0; i < 4; i++)
        ws_client__cleanup(&cl[i]);
}

static struct ws_conn *last_conn;

static void srv_keep(struct http_server *s, struct ws_conn *c, const char *data, size_t len,
                     void *ud)
{
    (void)s;
    (void)data;
    (void)len;
    (void)ud;
    last_conn = c;
}

/* A client that stops reading while it is sent messages longer than
 * max_frame (sent in fragments, which wslay does not count in its queue):
 * it is disconnected once its backlog passes the bound (16 MiB queued in
 * the server on top of 16 MiB handed to libuv), not buffered without end. */
static void test_unread_fragments_bounded(void **state)
{
    (void)state;
    uv_timer_t tick;
    loop_start(&tick);
    struct http_server *s;
    const struct http_server_events ev = {.text = srv_keep};
    const struct http_server_options o = {.max_frame = 4096};
    assert_int_equal(http_server__new(&loop, &o, &ev, NULL, &s), 0);
    struct ws_client cl;
    ws_client__start(&loop, &cl, http_server__port(s));
    run_until_upgraded(&cl, 1);
    last_conn = NULL;
    client_send(&cl, "hello");
    uint64_t end = uv_now(&loop) + 5000;
    while (!last_conn && uv_now(&loop) < end)
        uv_run(&loop, UV_RUN_ONCE);
    assert_non_null(last_conn);
    uv_read_stop((uv_stream_t *)&cl.tcp);

    enum { BIG = 2 << 20, MAX_SENDS = 40 }; /* 80 MiB if never stopped */
    char *big = malloc(BIG);
    assert_non_null(big);
    memset(big, 'x', BIG);
    int sent = 0, rc = 0;
    while (sent < MAX_SENDS && (rc = http_server__send(last_conn, big, BIG)) == 0) {
        sent++;
        for (int k = 0; k < 10; k++)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    free(big);
    assert_int_equal(rc, MSGFLO_ESTATE);
    assert_true(sent >= 8 && sent < MAX_SENDS); /* 16 MiB queued at least */

    http_server__close(s, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    if (!uv_is_closing((uv_handle_t *)&cl.tcp))
        uv_close((uv_handle_t *)&cl.tcp, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ws_client__cleanup(&cl);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websocket_deadlines),
        cmocka_unit_test(test_unread_fragments_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
