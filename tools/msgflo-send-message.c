/* msgflo-send-message: put one message on a queue. */
#include "tools/common/cli.h"
#include "tools/common/session.h"
#include "msgflo/msgflo.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: msgflo-send-message [--broker URL] --queue QUEUE [--json DATA | --raw DATA]\n"
    "Sends one message to QUEUE (AMQP: through the default exchange, so to the\n"
    "queue of that name; MQTT: to the topic) and exits when the broker has it;\n"
    "exit status 1 when the broker refuses it (AMQP publisher confirm nack).\n"
    "\n"
    "  --broker URL   broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL)\n"
    "  --queue NAME   queue or topic to send to (required)\n"
    "  --json DATA    the message; must be valid JSON. Without --json and --raw,\n"
    "                 the message is read from standard input (a final newline is\n"
    "                 dropped); '-' also means standard input\n"
    "  --raw DATA     send DATA as it is, without checking that it is JSON\n"
    "  --timeout S    give up when the broker cannot be reached in S seconds, or\n"
    "                 does not confirm the message within S seconds of sending (10)\n"
    "  -h, --help     this text\n";

struct ctx {
    const char *queue;
    char *data;
    size_t len;
    long timeout_s;
    uv_timer_t confirm; /* from the first send: the broker must confirm in time */
    bool timing;
    struct session *s;
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

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"queue", required_argument, NULL, 'q'},
        {"json", required_argument, NULL, 'j'},
        {"raw", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *broker = NULL, *json = NULL, *raw = NULL;
    struct ctx c = {.timeout_s = 10};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            broker = optarg;
            break;
        case 'q':
            c.queue = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'r':
            raw = optarg;
            break;
        case 't':
            if (!cli__number(optarg, 1, LONG_MAX / 1000, &c.timeout_s)) {
                fprintf(stderr, "msgflo-send-message: --timeout: '%s' is not a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || !c.queue || !*c.queue || (json && raw)) {
        fprintf(stderr, "msgflo-send-message: %s\n",
                optind < argc ? "unexpected argument"
                : json && raw ? "give --json or --raw, not both"
                              : "missing queue to send to (--queue)");
        fputs(usage, stderr);
        return 2;
    }
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
    static const struct session_events events = {.connected = on_connected,
                                                 .stopping = on_stopping};
    int status = session__run(broker, "msgflo-send", 0, (uint64_t)c.timeout_s * 1000, &events, &c,
                              err, sizeof err);
    if (err[0])
        fprintf(stderr, "msgflo-send-message: %s\n", err);
    free(c.data);
    return status;
}
