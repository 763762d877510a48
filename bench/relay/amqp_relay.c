/* Raw AMQP relay: the broker's limit for the benchmark pipeline, with no
 * msgflo logic. Declares what a msgflo participant of role R declares (durable
 * queue R.IN with x-dead-letter-exchange dead-R.IN, fanout exchange R.IN bound
 * to it, fanout exchange R.OUT), optionally binds R.IN to another exchange (the
 * edge msgflo-setup binds), then consumes R.IN with acks and the URL's
 * prefetch: each message is published to R.OUT and acknowledged at once
 * (no publisher confirms), on rabbitmq-c's blocking API.
 *
 * With --confirm it gives msgflo-c's guarantee instead: the channel is in
 * confirm mode and a message is acknowledged only once the broker confirmed
 * its output (the same round trip msgflo-c pays), pipelined up to the prefetch.
 *
 *   amqp_relay --broker amqp://...[?prefetch=N] --role R [--bind-from EXCHANGE] [--confirm]
 *
 * Prints "ready" on stdout once consuming; runs until killed.
 */
#include "msgflo/url.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CH 1

static int failed(amqp_connection_state_t c, const char *what)
{
    if (amqp_get_rpc_reply(c).reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    fprintf(stderr, "amqp_relay: %s failed\n", what);
    return 1;
}

static int declare(amqp_connection_state_t c, const char *role, const char *bind_from)
{
    char in[256], out[256], dead[270];
    snprintf(in, sizeof in, "%s.IN", role);
    snprintf(out, sizeof out, "%s.OUT", role);
    snprintf(dead, sizeof dead, "dead-%s", in);
    amqp_table_entry_t arg = {
        .key = amqp_cstring_bytes("x-dead-letter-exchange"),
        .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(dead)},
    };
    amqp_table_t args = {.num_entries = 1, .entries = &arg};
    amqp_bytes_t fanout = amqp_cstring_bytes("fanout");
    amqp_queue_declare(c, CH, amqp_cstring_bytes(in), false, true, false, false, args);
    if (failed(c, "queue.declare"))
        return 1;
    amqp_exchange_declare(c, CH, amqp_cstring_bytes(in), fanout, false, true, false, false,
                          amqp_empty_table);
    amqp_queue_bind(c, CH, amqp_cstring_bytes(in), amqp_cstring_bytes(in), amqp_empty_bytes,
                    amqp_empty_table);
    amqp_exchange_declare(c, CH, amqp_cstring_bytes(out), fanout, false, true, false, false,
                          amqp_empty_table);
    if (failed(c, "exchange.declare"))
        return 1;
    if (bind_from) {
        amqp_exchange_declare(c, CH, amqp_cstring_bytes(bind_from), fanout, false, true, false,
                              false, amqp_empty_table);
        amqp_queue_bind(c, CH, amqp_cstring_bytes(in), amqp_cstring_bytes(bind_from),
                        amqp_empty_bytes, amqp_empty_table);
        if (failed(c, "queue.bind"))
            return 1;
    }
    amqp_basic_consume(c, CH, amqp_cstring_bytes(in), amqp_empty_bytes, false, false, false,
                       amqp_empty_table);
    return failed(c, "basic.consume");
}

/* Deliveries waiting for the confirm of their output (--confirm), in order. */
struct held {
    uint64_t *tags; /* delivery tag of the input of publish number i + 1 - base */
    size_t n, cap;
    uint64_t base; /* publish number of tags[0] */
};

static int hold(struct held *h, uint64_t tag)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        uint64_t *t = realloc(h->tags, cap * sizeof *t);
        if (!t)
            return 1;
        h->tags = t;
        h->cap = cap;
    }
    h->tags[h->n++] = tag;
    return 0;
}

/* Publishes up to `upto` are confirmed: acknowledge their inputs. */
static void release(amqp_connection_state_t c, struct held *h, uint64_t upto)
{
    size_t k = 0;
    while (k < h->n && h->base + k <= upto) {
        amqp_basic_ack(c, CH, h->tags[k], false);
        k++;
    }
    for (size_t i = k; i < h->n; i++)
        h->tags[i - k] = h->tags[i];
    h->n -= k;
    h->base += k;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"role", required_argument, NULL, 'r'},
        {"bind-from", required_argument, NULL, 'f'},
        {"confirm", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *broker = NULL, *role = NULL, *bind_from = NULL;
    bool confirm = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'b')
            broker = optarg;
        else if (opt == 'r')
            role = optarg;
        else if (opt == 'f')
            bind_from = optarg;
        else if (opt == 'c')
            confirm = true;
        else
            return 2;
    }
    msgflo_url *u = NULL;
    char err[200];
    if (!broker || !role || msgflo_url_parse(broker, &u, err, sizeof err) != 0 ||
        !msgflo_url_is_amqp(u)) {
        fprintf(stderr, "usage: amqp_relay --broker amqp://... --role R [--bind-from EXCHANGE]\n");
        return 2;
    }
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, msgflo_url_host(u), msgflo_url_port(u)) != AMQP_STATUS_OK ||
        amqp_login(c, msgflo_url_vhost(u), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                   msgflo_url_user(u) ? msgflo_url_user(u) : "guest",
                   msgflo_url_password(u) ? msgflo_url_password(u) : "guest")
                .reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "amqp_relay: cannot connect to %s:%d\n", msgflo_url_host(u),
                msgflo_url_port(u));
        return 1;
    }
    amqp_channel_open(c, CH);
    amqp_basic_qos(c, CH, 0, (uint16_t)msgflo_url_prefetch(u), false);
    if (failed(c, "basic.qos") || declare(c, role, bind_from))
        return 1;
    struct held held = {.base = 1};
    if (confirm) {
        amqp_confirm_select(c, CH);
        if (failed(c, "confirm.select"))
            return 1;
    }
    char out[256];
    snprintf(out, sizeof out, "%s.OUT", role);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t rep = amqp_consume_message(c, &env, NULL, 0);
        if (rep.reply_type != AMQP_RESPONSE_NORMAL) {
            if (rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                rep.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                amqp_frame_t f;
                if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK)
                    break;
                if (f.frame_type == AMQP_FRAME_METHOD &&
                    f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                    const amqp_basic_ack_t *m = f.payload.method.decoded;
                    /* All outputs go to one queue: RabbitMQ confirms them in order. */
                    release(c, &held, m->delivery_tag);
                }
                continue;
            }
            break;
        }
        amqp_basic_publish(c, CH, amqp_cstring_bytes(out), amqp_empty_bytes, false, false, NULL,
                           env.message.body);
        if (!confirm)
            amqp_basic_ack(c, CH, env.delivery_tag, false);
        else if (hold(&held, env.delivery_tag))
            break;
        amqp_destroy_envelope(&env);
    }
    fprintf(stderr, "amqp_relay: connection lost\n");
    amqp_destroy_connection(c);
    msgflo_url_free(u);
    return 1;
}
