/* The server's WebSocket deadlines with real wslay clients on loopback and
 * short timeouts: a trusted client that answers pings stays, one that stops
 * answering is dropped, a client without a permitted command is closed with
 * 1008 at the auth deadline, http_server__trust lifts that deadline. */
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
#include <wslay/wslay.h>

#include "msgflo/errors.h"
#include "runtime/http_server.h"

struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    wslay_event_context_ptr ws;
    bool upgraded, gone, deaf; /* deaf: reads but never answers */
    char head[1024];
    size_t head_len;
    const char *in;
    size_t in_len;
    char buf[65536];
    int pings, messages;
    uint16_t close_code;
    uint64_t gone_at;
};

static uv_loop_t loop;

static ssize_t cl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    struct client *cl = ud;
    if (cl->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < cl->in_len ? len : cl->in_len;
    memcpy(buf, cl->in, n);
    cl->in += n;
    cl->in_len -= n;
    return (ssize_t)n;
}

static void cl_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static ssize_t cl_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    (void)ctx;
    (void)flags;
    struct client *cl = ud;
    uv_write_t *req = malloc(sizeof *req + len);
    assert_non_null(req);
    memcpy(req + 1, data, len);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);
    if (uv_write(req, (uv_stream_t *)&cl->tcp, &b, 1, cl_written) != 0)
        free(req);
    return (ssize_t)len;
}

static int cl_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    (void)ctx;
    (void)ud;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rand();
    return 0;
}

static void cl_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *ud)
{
    (void)ctx;
    struct client *cl = ud;
    if (a->opcode == WSLAY_PING)
        cl->pings++;
    else if (a->opcode == WSLAY_CONNECTION_CLOSE)
        cl->close_code = a->status_code;
    else
        cl->messages++;
}

static const struct wslay_event_callbacks client_callbacks = {
    .recv_callback = cl_recv,
    .send_callback = cl_send,
    .genmask_callback = cl_genmask,
    .on_msg_recv_callback = cl_msg,
};

static void cl_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)size;
    struct client *cl = h->data;
    *buf = uv_buf_init(cl->buf, sizeof cl->buf);
}

static void cl_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct client *cl = stream->data;
    if (nread < 0) {
        cl->gone = true;
        cl->gone_at = uv_now(&loop);
        uv_close((uv_handle_t *)&cl->tcp, NULL);
        return;
    }
    const char *data = buf->base;
    size_t len = (size_t)nread;
    if (!cl->upgraded) {
        size_t n =
            len < sizeof cl->head - 1 - cl->head_len ? len : sizeof cl->head - 1 - cl->head_len;
        memcpy(cl->head + cl->head_len, data, n);
        cl->head_len += n;
        cl->head[cl->head_len] = '\0';
        char *end = strstr(cl->head, "\r\n\r\n");
        if (!end)
            return;
        cl->upgraded = true;
        size_t used = (size_t)(end + 4 - cl->head) - (cl->head_len - n);
        data += used;
        len -= used;
    }
    if (cl->deaf)
        return;
    cl->in = data;
    cl->in_len = len;
    assert_int_equal(wslay_event_recv(cl->ws), 0);
    assert_int_equal(wslay_event_send(cl->ws), 0);
}

static void cl_connected(uv_connect_t *req, int status)
{
    assert_int_equal(status, 0);
    struct client *cl = req->data;
    static const char hs[] =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: noflo\r\n\r\n";
    cl_send(cl->ws, (const uint8_t *)hs, sizeof hs - 1, 0, cl);
    assert_int_equal(uv_read_start((uv_stream_t *)&cl->tcp, cl_alloc, cl_read), 0);
}

static void client_start(struct client *cl, int port)
{
    memset(cl, 0, sizeof *cl);
    assert_int_equal(wslay_event_context_client_init(&cl->ws, &client_callbacks, cl), 0);
    uv_tcp_init(&loop, &cl->tcp);
    cl->tcp.data = cl;
    cl->connect.data = cl;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    assert_int_equal(
        uv_tcp_connect(&cl->connect, &cl->tcp, (const struct sockaddr *)&addr, cl_connected), 0);
}

static void client_send(struct client *cl, const char *text)
{
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)text, .msg_length = strlen(text)};
    assert_int_equal(wslay_event_queue_msg(cl->ws, &m), 0);
    assert_int_equal(wslay_event_send(cl->ws), 0);
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

static void run_for(uint64_t ms)
{
    uint64_t end = uv_now(&loop) + ms;
    while (uv_now(&loop) < end)
        uv_run(&loop, UV_RUN_ONCE);
}

static void run_until_upgraded(struct client *cl, int n)
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
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    struct http_server *s;
    const struct http_server_events ev = {.text = srv_text};
    const struct http_server_options o = {
        .limits = {.auth_timeout_ms = 600, .ping_interval_ms = 100, .ping_timeout_ms = 150}};
    assert_int_equal(http_server__new(&loop, &o, &ev, NULL, &s), 0);
    int port = http_server__port(s);

    /* 0: trusted, answers pings; 1: trusted, then deaf; 2: a guest that
     * answers pings but sends no permitted command; 3: a guest that sends
     * other messages. */
    struct client cl[4];
    for (int i = 0; i < 4; i++)
        client_start(&cl[i], port);
    run_until_upgraded(cl, 4);
    uint64_t t0 = uv_now(&loop);
    client_send(&cl[0], "trust");
    client_send(&cl[1], "trust");
    client_send(&cl[3], "hello");
    run_for(50);
    assert_int_equal(cl[0].messages, 1);
    assert_int_equal(cl[3].messages, 1);
    cl[1].deaf = true;

    /* Before the auth deadline: every one still there; the silent ones
     * got pings (after 100 ms of silence) and answered. */
    run_for(450);
    assert_int_equal(http_server__clients(s), 3); /* 1 dropped: no pong within 150 ms */
    assert_true(cl[1].gone);
    assert_true(cl[1].gone_at - t0 >= 200 && cl[1].gone_at - t0 < 500);
    assert_true(cl[0].pings >= 2);
    assert_true(cl[2].pings >= 2);
    assert_false(cl[0].gone || cl[2].gone || cl[3].gone);

    /* After it: the guests are closed with 1008; the trusted one stays. */
    run_for(400);
    assert_true(cl[2].gone && cl[3].gone);
    assert_int_equal(cl[2].close_code, 1008);
    assert_int_equal(cl[3].close_code, 1008);
    assert_true(cl[2].gone_at - t0 >= 500 && cl[2].gone_at - t0 < 900);
    assert_false(cl[0].gone);
    run_for(600); /* several ping rounds more */
    assert_false(cl[0].gone);
    assert_true(cl[0].pings >= 8);
    assert_int_equal(http_server__clients(s), 1);
    client_send(&cl[0], "still");
    run_for(50);
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
        wslay_event_context_free(cl[i].ws);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websocket_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
