/* libFuzzer target: the runtime's HTTP + WebSocket server (runtime/http_server.c)
 * as a client reaches it, with the FBP protocol and the live commands behind
 * it (runtime.c, live.c, the fake system of tests/support).
 *
 * Each input runs a fresh runtime listening on 127.0.0.1 (any port) on one
 * libuv loop. A client on the same loop connects over loopback TCP and
 * writes the input after its first byte (in chunks of that byte's value,
 * each write after the previous one completed; 0: all at once). Once it
 * has written everything and the loop has been idle for IDLE_ROUNDS rounds
 * (nothing more to read), or the server hung up, the client resets the
 * connection (no TIME_WAIT left behind: thousands of connections a second
 * would exhaust the loopback ports); then the runtime is closed and the
 * loop run until everything is freed. Seeds are an HTTP upgrade followed
 * by WebSocket frames masked with the key 0 (so their payload is plain
 * text for the fuzzer), and plain HTTP requests.
 *
 * Checks: no sanitizer report; whatever the server sends starts with an
 * HTTP/1.1 status line; each input ends within WATCHDOG_MS. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fake_system.h"
#include "msgflo/log.h"
#include "runtime/live.h"
#include "runtime/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WATCHDOG_MS 5000
#define IDLE_ROUNDS 4

struct exchange {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t watchdog;
    const uint8_t *data;
    size_t size, sent, chunk;
    char head[9]; /* the first bytes received */
    size_t head_len, received;
    bool written, client_closed, runtime_closed;
};

static void quiet(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    (void)level;
    (void)ns;
    (void)message;
    (void)ud;
}

static void on_client_closed(uv_handle_t *h)
{
    ((struct exchange *)h->data)->client_closed = true;
}

static void client_close(struct exchange *x)
{
    if (!uv_is_closing((uv_handle_t *)&x->tcp) &&
        uv_tcp_close_reset(&x->tcp, on_client_closed) != 0)
        abort();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char scratch[65536];
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct exchange *x = s->data;
    if (n < 0) {
        client_close(x);
        return;
    }
    size_t room = sizeof x->head - x->head_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(x->head + x->head_len, buf->base, take);
    x->head_len += take;
    x->received += (size_t)n;
}

static void write_next(struct exchange *x);

static void on_write(uv_write_t *req, int status)
{
    struct exchange *x = req->data;
    if (status < 0) { /* the server closed while we were writing */
        client_close(x);
        return;
    }
    write_next(x);
}

static void write_next(struct exchange *x)
{
    if (uv_is_closing((uv_handle_t *)&x->tcp))
        return;
    if (x->sent == x->size) {
        x->written = true;
        return;
    }
    size_t n = x->size - x->sent;
    if (x->chunk && n > x->chunk)
        n = x->chunk;
    uv_buf_t b = uv_buf_init((char *)x->data + x->sent, (unsigned)n);
    x->sent += n;
    x->write.data = x;
    if (uv_write(&x->write, (uv_stream_t *)&x->tcp, &b, 1, on_write) != 0)
        client_close(x);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct exchange *x = req->data;
    if (status < 0) {
        fprintf(stderr, "fuzz_http: connect: %s\n", uv_strerror(status));
        abort();
    }
    if (uv_read_start((uv_stream_t *)&x->tcp, on_alloc, on_read) != 0)
        abort();
    write_next(x);
}

static void on_watchdog(uv_timer_t *t)
{
    struct exchange *x = t->data;
    fprintf(stderr, "fuzz_http: no end of the exchange within %d ms (%zu of %zu bytes sent)\n",
            WATCHDOG_MS, x->sent, x->size);
    abort();
}

static void on_runtime_closed(void *ud)
{
    ((struct exchange *)ud)->runtime_closed = true;
}

static void on_watchdog_closed(uv_handle_t *h)
{
    (void)h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uv_loop_t loop;
    static bool ready;
    if (!ready) {
        msgflo_log_set_handler(quiet, NULL);
        signal(SIGPIPE, SIG_IGN); /* as tools/msgflo.c: a peer hanging up is EPIPE */
        if (uv_loop_init(&loop) != 0)
            abort();
        ready = true;
    }
    if (size < 1)
        return 0;

    static struct fake_system fake; /* 64 KiB: not allocated per input */
    struct exchange x = {.data = data + 1, .size = size - 1, .chunk = data[0]};
    struct system sys = {.ops = &fake_system_ops, .self = &fake};
    struct runtime *rt = NULL;
    struct live *l = NULL;
    const struct runtime_options o = {
        .listen = "127.0.0.1", .id = "5f0d4ba3-2c4e-4d1e-9b7a-0c1d2e3f4a5b", .label = "fuzz"};
    fake.calls[0] = '\0';
    fake.components = json_array();
    if (runtime__new(&loop, &o, &rt) != 0 || live__new(runtime__protocol(rt), &sys, &l) != 0)
        abort();
    sys.events = *live__system_events();
    sys.ud = l;

    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", runtime__port(rt), &addr);
    uv_tcp_init(&loop, &x.tcp);
    x.tcp.data = &x;
    uv_tcp_nodelay(&x.tcp, 1);
    x.connect.data = &x;
    if (uv_tcp_connect(&x.connect, &x.tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        abort();
    uv_timer_init(&loop, &x.watchdog);
    x.watchdog.data = &x;
    uv_timer_start(&x.watchdog, on_watchdog, WATCHDOG_MS, 0);
    size_t seen = 0;
    for (int idle = 0; !x.client_closed;) {
        uv_run(&loop, UV_RUN_NOWAIT);
        idle = x.received == seen ? idle + 1 : 0;
        seen = x.received;
        if (x.written && idle >= IDLE_ROUNDS)
            client_close(&x);
    }
    if (x.head_len > 0 && (x.head_len < sizeof x.head ? strncmp(x.head, "HTTP/1.1 ", x.head_len)
                                                      : memcmp(x.head, "HTTP/1.1 ", 9)) != 0)
        abort();

    live__free(l);
    runtime__close(rt, on_runtime_closed, &x);
    uv_close((uv_handle_t *)&x.watchdog, on_watchdog_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!x.runtime_closed)
        abort();
    json_decref(fake.components);
    return 0;
}
