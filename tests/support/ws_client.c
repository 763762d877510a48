/* The unit tests' WebSocket client; see ws_client.h. */
#include "ws_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static ssize_t cl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    struct ws_client *cl = ud;
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
    struct ws_client *cl = ud;
    uv_write_t *req = malloc(sizeof *req + len);
    assert_non_null(req);
    memcpy(req + 1, data, len);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);
    /* Fails (EPIPE) when answering the close of a server already gone. */
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

static void cl_frame(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_start_arg *a, void *ud)
{
    (void)ctx;
    struct ws_client *cl = ud;
    if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_CONTINUATION_FRAME)
        cl->frames++;
}

static void cl_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *ud)
{
    (void)ctx;
    struct ws_client *cl = ud;
    if (a->opcode == WSLAY_PING) {
        cl->pings++;
        return;
    }
    if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        cl->close_code = a->status_code;
        return;
    }
    if (a->opcode == WSLAY_PONG)
        return;
    cl->messages++;
    free(cl->last);
    cl->last = malloc(a->msg_length + 1);
    assert_non_null(cl->last);
    memcpy(cl->last, a->msg, a->msg_length);
    cl->last[a->msg_length] = '\0';
    cl->last_len = a->msg_length;
}

static const struct wslay_event_callbacks client_callbacks = {
    .recv_callback = cl_recv,
    .send_callback = cl_send,
    .genmask_callback = cl_genmask,
    .on_frame_recv_start_callback = cl_frame,
    .on_msg_recv_callback = cl_msg,
};

static void cl_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)size;
    struct ws_client *cl = h->data;
    *buf = uv_buf_init(cl->buf, sizeof cl->buf);
}

static void cl_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ws_client *cl = stream->data;
    if (nread < 0) {
        cl->gone = true;
        cl->gone_at = uv_now(cl->loop);
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
    struct ws_client *cl = req->data;
    static const char hs[] =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: x, noflo\r\n\r\n";
    cl_send(cl->ws, (const uint8_t *)hs, sizeof hs - 1, 0, cl);
    assert_int_equal(uv_read_start((uv_stream_t *)&cl->tcp, cl_alloc, cl_read), 0);
}

void ws_client__start(uv_loop_t *loop, struct ws_client *cl, int port)
{
    memset(cl, 0, sizeof *cl);
    cl->loop = loop;
    assert_int_equal(wslay_event_context_client_init(&cl->ws, &client_callbacks, cl), 0);
    uv_tcp_init(loop, &cl->tcp);
    cl->tcp.data = cl;
    cl->connect.data = cl;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    assert_int_equal(
        uv_tcp_connect(&cl->connect, &cl->tcp, (const struct sockaddr *)&addr, cl_connected), 0);
}

void ws_client__send(struct ws_client *cl, const char *text, size_t len)
{
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)text, .msg_length = len};
    assert_int_equal(wslay_event_queue_msg(cl->ws, &m), 0);
    assert_int_equal(wslay_event_send(cl->ws), 0);
}

void ws_client__cleanup(struct ws_client *cl)
{
    wslay_event_context_free(cl->ws);
    cl->ws = NULL;
    free(cl->last);
    cl->last = NULL;
}
