/* msgflo-send-message: put one message on a queue. */
#include "tools/common/cli.h"
#include "tools/common/session.h"
#include "msgflo/msgflo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_BROKER = 1, OPT_QUEUE, OPT_JSON, OPT_RAW, OPT_TIMEOUT };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL)"},
    {OPT_QUEUE, "queue", CLI_VALUE, "NAME", "queue or topic to send to (required)"},
    {OPT_JSON, "json", CLI_VALUE, "DATA",
     "the message; must be valid JSON. Without --json and --raw,\n"
     "the message is read from standard input (a final newline is\n"
     "dropped); '-' also means standard input"},
    {OPT_RAW, "raw", CLI_VALUE, "DATA", "send DATA as it is, without checking that it is JSON"},
    {OPT_TIMEOUT, "timeout", CLI_VALUE, "S",
     "give up when the broker cannot be reached in S seconds, or\n"
     "does not confirm the message within S seconds of sending (10)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = "msgflo-send-message",
    .usage = "Usage: msgflo-send-message [--broker URL] --queue QUEUE [--json DATA | --raw DATA]\n"
             "Sends one message to QUEUE (AMQP: through the default exchange, so to the\n"
             "queue of that name; MQTT: to the topic) and exits when the broker has it;\n"
             "exit status 1 when the broker refuses it (AMQP publisher confirm nack).\n",
    .options = options,
};

struct ctx {
    const char *queue;
    char *data;
    size_t len;
    long timeout_s;
    uv_timer_t confirm; /* from the first send: the broker must confirm in time */
    bool timing;
    struct session *s;
};

struct args {
    const char *broker, *json, *raw;
    long timeout;
};

static void confirm_closed(uv_handle_t *h)
{
    (void)h;
}

/* The timer must be closed for the session's loop to end. */
static void stop_timing(struct ctx *c)
{
    if (c->timing) {
        uv_timer_stop(&c->confirm);
        uv_close((uv_handle_t *)&c->confirm, confirm_closed);
        c->timing = false;
    }
}

static void finish(struct ctx *c, int status)
{
    stop_timing(c);
    session__finish(c->s, status);
}

/* The session ends by itself (SIGINT, SIGTERM). */
static void on_stopping(struct session *s, int status, void *ud)
{
    (void)s;
    (void)status;
    stop_timing(ud);
}

static void on_flushed(void *ud)
{
    struct ctx *c = ud;
    uint64_t refused = transport_refused(session__transport(c->s));
    if (refused)
        fprintf(stderr,
                "msgflo-send-message: the broker refused the message for %s (publisher confirm "
                "nack: a full queue with overflow reject-publish, or a queue without a leader?)\n",
                c->queue);
    finish(c, refused ? 1 : 0);
}

static void on_confirm_timeout(uv_timer_t *t)
{
    struct ctx *c = t->data;
    fprintf(stderr,
            "msgflo-send-message: the broker did not confirm the message for %s within %ld s\n",
            c->queue, c->timeout_s);
    finish(c, 1);
}

/* On every connection (again after a reconnect, when the message may not
 * have been confirmed: sent again, at least once). */
static void on_connected(struct session *s, void *ud)
{
    struct ctx *c = ud;
    struct transport *t = session__transport(s);
    c->s = s;
    if (!c->timing && uv_timer_init(t->loop, &c->confirm) == 0) {
        c->confirm.data = c;
        c->timing = true;
        uv_timer_start(&c->confirm, on_confirm_timeout, (uint64_t)c->timeout_s * 1000, 0);
    }
    int rc = transport_send_to_queue(t, c->queue, c->data, c->len);
    if (rc == 0)
        rc = transport_when_flushed(t, on_flushed, c);
    if (rc) {
        fprintf(stderr, "msgflo-send-message: sending to %s failed: %s\n", c->queue,
                msgflo_strerror(rc));
        finish(c, 1);
    }
}

static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf && n > 0 && buf[n - 1] == '\n')
        n--;
    *len = n;
    return buf;
}

/* On MQTT, + and # in a topic are wildcards: a subscription may hold them, a
 * message is published to one topic (the broker would refuse it, and the
 * client library refuses it first). Returns -1 to go on, else 2. */
static int wildcard_topic(const char *broker_arg, const char *topic)
{
    const char *broker = msgflo_url_resolve(broker_arg);
    msgflo_url *url = NULL;
    if (!strpbrk(topic, "+#") || !broker || msgflo_url_parse(broker, &url, NULL, 0) != 0)
        return -1; /* an AMQP queue may hold them; a bad URL is reported later */
    bool mqtt = !msgflo_url_is_amqp(url);
    msgflo_url_free(url);
    if (!mqtt)
        return -1;
    fprintf(stderr,
            "msgflo-send-message: cannot send to '%s': + and # are MQTT wildcards, for "
            "subscribing; a message goes to one topic\n",
            topic);
    return 2;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a, struct ctx *c)
{
    struct cli cl;
    cli__init(&cl, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&cl)) != CLI_END;) {
        if (it != CLI_OPTION)
            return cli__stop(&cl, it);
        switch (cl.opt->id) {
        case OPT_BROKER:
            a->broker = cl.value;
            break;
        case OPT_QUEUE:
            c->queue = cl.value;
            break;
        case OPT_JSON:
            a->json = cl.value;
            break;
        case OPT_RAW:
            a->raw = cl.value;
            break;
        case OPT_TIMEOUT:
            if (!cli__number(cl.value, 1, LONG_MAX / 1000, &a->timeout)) {
                fprintf(stderr, "msgflo-send-message: --timeout: '%s' is not a positive number\n",
                        cl.value);
                return 2;
            }
            break;
        }
    }
    if (!c->queue || !*c->queue)
        return cli__usage_error(&spec, "missing queue to send to (--queue)");
    if (a->json && a->raw)
        return cli__usage_error(&spec, "give --json or --raw, not both");
    return wildcard_topic(a->broker, c->queue);
}

int main(int argc, char **argv)
{
    struct args a = {.timeout = 10};
    struct ctx c = {0};
    int status = parse_args(argc, argv, &a, &c);
    if (status >= 0)
        return status;
    const char *json = a.json, *raw = a.raw;
    const char *text = json ? json : raw;
    if (text && strcmp(text, "-") != 0) {
        c.data = strdup(text);
        c.len = strlen(text);
    } else {
        c.data = read_stdin(&c.len);
    }
    if (!c.data) {
        fprintf(stderr, "msgflo-send-message: out of memory\n");
        return 1;
    }
    if (!raw) {
        json_error_t jerr;
        json_t *v = json_loadb(c.data, c.len, JSON_DECODE_ANY, &jerr);
        if (!v) {
            fprintf(stderr, "msgflo-send-message: invalid JSON at line %d column %d: %s\n",
                    jerr.line, jerr.column, jerr.text);
            free(c.data);
            return 1;
        }
        json_decref(v);
    }
    char err[512];
    c.timeout_s = a.timeout;
    static const struct session_events events = {.connected = on_connected,
                                                 .stopping = on_stopping};
    status = session__run(a.broker, "msgflo-send", 0, (uint64_t)a.timeout * 1000, &events, &c, err,
                          sizeof err);
    if (err[0])
        fprintf(stderr, "msgflo-send-message: %s\n", err);
    free(c.data);
    return status;
}
