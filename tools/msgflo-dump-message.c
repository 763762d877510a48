/* msgflo-dump-message: take N messages off a queue and print them. */
#include "tools/common/cli.h"
#include "tools/common/session.h"
#include "msgflo/msgflo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_BROKER = 1, OPT_QUEUE, OPT_AMOUNT, OPT_TIMEOUT };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL)"},
    {OPT_QUEUE, "queue", CLI_VALUE, "NAME", "queue or topic (required)"},
    {OPT_AMOUNT, "amount", CLI_VALUE, "N", "how many messages (default 1)"},
    {OPT_TIMEOUT, "timeout", CLI_VALUE, "S",
     "give up when the broker cannot be reached in S seconds (10)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-dump-message",
    .usage = "Usage: msgflo-dump-message [--broker URL] --queue QUEUE [--amount N]\n"
             "Consumes N messages from QUEUE (acknowledging each), then prints them as\n"
             "one JSON value (N = 1) or a JSON array (N > 1) and exits. Payloads that are\n"
             "not JSON are printed as JSON strings. On AMQP the queue is declared as\n"
             "msgflo declares inports (durable, x-dead-letter-exchange); on MQTT QUEUE is\n"
             "the topic, and only messages sent after the subscription arrive.\n",
    .options = options,
};

struct ctx {
    const char *queue;
    long amount;
    json_t *received; /* array */
    bool subscribed;
};

static void on_subscribed(void *ud)
{
    (void)ud;
    /* Tests and scripts wait for this line before sending on MQTT. */
    fprintf(stderr, "msgflo-dump-message: waiting for messages\n");
}

static void on_connected(struct session *s, void *ud)
{
    struct ctx *c = ud;
    struct transport *t = session__transport(s);
    int rc = transport_declare_inqueue(t, c->queue);
    if (rc == 0)
        rc = transport_subscribe(t, c->queue);
    if (rc == 0)
        rc = transport_when_subscribed(t, on_subscribed, NULL);
    if (rc) {
        fprintf(stderr, "msgflo-dump-message: cannot consume %s: %s\n", c->queue,
                msgflo_strerror(rc));
        session__finish(s, 1);
    }
}

/* AMQP: the broker refused to declare or consume the queue (e.g. one
 * declared before with other arguments): trying again cannot help. */
static void on_lost(struct session *s, int err, void *ud)
{
    struct ctx *c = ud;
    if (err != MSGFLO_EPROTO)
        return; /* retried by the transport */
    const char *why = transport_last_error(session__transport(s));
    fprintf(stderr, "msgflo-dump-message: cannot consume %s: %s\n", c->queue,
            why[0] ? why : msgflo_strerror(err));
    session__finish(s, 1);
}

static void on_message(struct session *s, const char *queue, const struct transport_delivery *d,
                       const void *data, size_t len, void *ud)
{
    struct ctx *c = ud;
    if ((long)json_array_size(c->received) >= c->amount)
        return; /* beyond the amount: not acked, the broker keeps it */
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_stringn_nocheck(data, len);
    json_array_append_new(c->received, v);
    transport_ack(session__transport(s), d);
    if ((long)json_array_size(c->received) < c->amount)
        return;
    json_t *out = c->amount == 1 ? json_array_get(c->received, 0) : c->received;
    char *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        puts(text);
        fflush(stdout);
        free(text);
    }
    session__finish(s, text ? 0 : 1);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, const char **broker, long *timeout, struct ctx *c)
{
    struct cli cl;
    cli__init(&cl, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&cl)) != CLI_END;) {
        if (it != CLI_OPTION)
            return cli__stop(&cl, it);
        switch (cl.opt->id) {
        case OPT_BROKER:
            *broker = cl.value;
            break;
        case OPT_QUEUE:
            c->queue = cl.value;
            break;
        case OPT_AMOUNT:
            if (!cli__number(cl.value, 1, 100000000, &c->amount)) {
                fprintf(stderr, "msgflo-dump-message: --amount: '%s' is not a number >= 1\n",
                        cl.value);
                return 2;
            }
            break;
        case OPT_TIMEOUT:
            if (!cli__number(cl.value, 1, LONG_MAX, timeout)) {
                fprintf(stderr, "msgflo-dump-message: --timeout: '%s' is not a positive number\n",
                        cl.value);
                return 2;
            }
            break;
        }
    }
    if (!c->queue || !*c->queue)
        return cli__usage_error(&spec, "missing queue to dump (--queue)");
    return -1;
}

int main(int argc, char **argv)
{
    const char *broker = NULL;
    struct ctx c = {.amount = 1};
    long timeout = 10;
    int status = parse_args(argc, argv, &broker, &timeout, &c);
    if (status >= 0)
        return status;
    c.received = json_array();
    char err[512];
    static const struct session_events events = {
        .connected = on_connected, .message = on_message, .lost = on_lost};
    status = session__run(broker, "msgflo-dump", 1, (uint64_t)timeout * 1000, &events, &c, err,
                          sizeof err);
    if (err[0])
        fprintf(stderr, "msgflo-dump-message: %s\n", err);
    json_decref(c.received);
    return status;
}
