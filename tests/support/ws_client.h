/* A WebSocket client for unit tests of the runtime's server: wslay on a
 * libuv TCP connection to 127.0.0.1, cmocka assertions on every failure.
 *
 *     struct ws_client cl;
 *     ws_client__start(&loop, &cl, port);   // connects, sends the upgrade
 *     ... uv_run until cl.upgraded ...
 *     ws_client__send(&cl, "hello", 5);
 *     ... uv_run until cl.messages == 1; cl.last is "hello" ...
 *     ws_client__cleanup(&cl);
 */
#ifndef MSGFLO_TESTS_WS_CLIENT_H
#define MSGFLO_TESTS_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <wslay/wslay.h>

struct ws_client {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t connect;
    wslay_event_context_ptr ws;
    bool upgraded; /* the server's 101 answer is in head */
    bool gone;     /* the connection is closed; at gone_at (loop time) */
    bool deaf;     /* set by the test: reads but never answers (not even pings) */
    uint64_t gone_at;
    char head[1024];
    size_t head_len;
    int frames;   /* text and continuation frames received */
    int messages; /* messages received, pings and closes not counted */
    int pings;
    char *last; /* the latest message, NUL-terminated */
    size_t last_len;
    uint16_t close_code; /* of the server's close frame */
    /* reading */
    const char *in;
    size_t in_len;
    char buf[65536];
};

/* Connects to 127.0.0.1:port and asks for the "noflo" subprotocol. */
void ws_client__start(uv_loop_t *loop, struct ws_client *cl, int port);

/* Sends one text message. */
void ws_client__send(struct ws_client *cl, const char *text, size_t len);

/* Releases the wslay context and the latest message (the TCP handle is
 * closed when the server goes, or by the test). */
void ws_client__cleanup(struct ws_client *cl);

#endif
