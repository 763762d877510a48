/* msgflo-router: the /msgrouter protocol (docs/msgrouter.md) as a broker
 * client, for brokers that cannot load mosquitto_msgflo.so. The router core
 * answers the control topics; the forwarder (router/forwarder.h) carries the
 * table out; the bindings are kept in a file. */
#include "router/forwarder.h"
#include "tools/common/cli.h"
#include "tools/common/session.h"
#include "msgflo/errors.h"
#include "msgflo/url.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "msgflo-router"
/* Changes are written at most this long after they were made (a burst of
 * requests, e.g. one removebinding per edge, is one write, not one fsync
 * each on the loop), and at once when the router stops. */
#define SAVE_DELAY_MS 100

enum { OPT_BROKER = 1, OPT_BINDINGS, OPT_INSTANCE };

static const struct cli_option options[] = {
    {OPT_BROKER, "broker", CLI_VALUE, "URL",
     "MQTT broker (default: $MSGFLO_BROKER, then $CLOUDAMQP_URL)"},
    {OPT_BINDINGS, "bindings", CLI_VALUE, "FILE",
     "keep the bindings in FILE across restarts: loaded at\n"
     "start (a missing file is none yet), written atomically\n"
     "soon after every change and at stop (default: not kept)"},
    {OPT_INSTANCE, "instance", CLI_VALUE, "NAME",
     "answer /msgrouter/NAME/ (default: default, which msgflo uses)"},
    {0},
};

static const struct cli_spec spec = {
    .prog = PROG,
    .usage = "Usage: msgflo-router [--broker URL] [--bindings FILE] [--instance NAME]\n"
             "Keeps MQTT bindings for msgflo on a broker that cannot load the\n"
             "mosquitto_msgflo.so plugin: answers addbinding, removebinding and\n"
             "listbindings on /msgrouter/NAME/, and republishes every message on a\n"
             "bound topic to its targets, byte for byte with its QoS, retain flag and\n"
             "MQTT 5 properties, along chains of bindings (each target once). It\n"
             "speaks MQTT 5; a broker that does not gets MQTT 3.1.1 (said once on\n"
             "stderr: no retain flag, no properties, QoS 2 at QoS 1, and a target\n"
             "where chains meet gets a message once per chain). Its\n"
             "retained status on /msgrouter/NAME/status tells msgflo-setup and the\n"
             "runtime to hand their bindings over; it is cleared when the router\n"
             "stops (SIGTERM, SIGINT: exit 0) and, by the broker, when its\n"
             "connection breaks. Reconnects after broker loss and subscribes again;\n"
             "the broker keeps its session (client id msgflo-router-NAME), so QoS 1\n"
             "and 2 messages published while it is away are forwarded when it is back.\n"
             "Prints one line on stdout once connected.\n",
    .options = options,
    .epilog = "See docs/msgrouter.md.\n",
};

struct daemon {
    const char *broker, *file, *instance;
    struct router *table;
    struct forwarder *fw;
    char *status_topic, *status;
    bool stopped;   /* by a signal: a clean stop */
    bool said_v311; /* the broker's refusal of MQTT 5 is told once */
    uv_timer_t saver;
    bool saver_ready;
};

/* Writes the bindings after a change (atomic: router__save). */
static void save(struct daemon *d)
{
    char err[600];
    if (d->file && router__dirty(d->table) && router__save(d->table, d->file, err, sizeof err))
        fprintf(stderr, PROG ": cannot save the bindings: %s\n", err);
}

static void on_saver(uv_timer_t *t)
{
    save(t->data);
}

static void on_connected(struct session *s, void *ud)
{
    struct daemon *d = ud;
    struct transport *t = session__transport(s);
    static const char *const words[] = {"addbinding", "removebinding", "listbindings"};
    int rc = forwarder__restore(d->fw);
    for (size_t i = 0; rc == 0 && i < sizeof words / sizeof *words; i++) {
        char topic[300];
        snprintf(topic, sizeof topic, ROUTER_PREFIX "%s/%s", d->instance, words[i]);
        rc = transport_subscribe(t, topic);
    }
    if (rc == 0)
        rc = transport_publish_as(t, d->status_topic, d->status, strlen(d->status), 1, true);
    if (rc) {
        fprintf(stderr, PROG ": cannot take up routing: %s\n", msgflo_strerror(rc));
        return; /* the transport reconnects when the connection is the cause */
    }
    if (!transport_is_mqtt5(t) && !d->said_v311) {
        fprintf(stderr, PROG ": the broker does not take MQTT 5: forwarding as an MQTT 3.1.1 "
                             "client (where chains meet a target gets a message once per chain; no "
                             "retain flag, no properties; QoS 2 goes on at QoS 1)\n");
        d->said_v311 = true;
    }
    printf(PROG ": routing /msgrouter/%s/ with %zu binding(s)%s%s\n", d->instance,
           router__count(d->table), d->file ? " kept in " : "", d->file ? d->file : "");
    fflush(stdout);
}

static void on_message(struct session *s, const char *topic, const struct transport_delivery *dl,
                       const void *data, size_t len, void *ud)
{
    struct daemon *d = ud;
    struct transport *t = session__transport(s);
    if (!router__is_control(d->table, topic)) {
        forwarder__on_message(d->fw, topic, dl, data, len);
        return;
    }
    /* A request someone published retained, handed out again on every
     * (re)subscription over MQTT 3.1.1 (MQTT 5 never hands them out here):
     * it was taken when it was published, as by the plugin. */
    if (dl && dl->retained && !dl->forwarding)
        return;
    struct router_replies replies;
    router__control(d->table, topic, data, len, &replies);
    for (size_t i = 0; i < replies.n; i++) {
        const struct router_reply *r = &replies.items[i];
        int rc = transport_publish_as(t, r->topic, r->payload, strlen(r->payload), 1, r->retain);
        if (rc)
            fprintf(stderr, PROG ": cannot reply on %s: %s\n", r->topic, msgflo_strerror(rc));
    }
    router__replies_cleanup(&replies);
    if (!router__dirty(d->table))
        return;
    int rc = forwarder__sync(d->fw);
    if (rc)
        fprintf(stderr, PROG ": cannot subscribe to a bound topic: %s\n", msgflo_strerror(rc));
    if (d->file && !uv_is_active((uv_handle_t *)&d->saver))
        uv_timer_start(&d->saver, on_saver, SAVE_DELAY_MS, 0);
}

/* SIGTERM, SIGINT: the status is cleared before the clean disconnect (which
 * the broker answers by dropping the will, not publishing it). */
static void on_stopping(struct session *s, int status, void *ud)
{
    struct daemon *d = ud;
    d->stopped = status == 128 + SIGTERM || status == 128 + SIGINT;
    if (d->stopped)
        transport_publish_as(session__transport(s), d->status_topic, "", 0, 1, true);
    uv_timer_stop(&d->saver);
    save(d);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct daemon *d)
{
    struct cli c;
    cli__init(&c, &spec, argc, argv);
    for (enum cli_item it; (it = cli__next(&c)) != CLI_END;) {
        if (it != CLI_OPTION)
            return it == CLI_ARGUMENT ? cli__usage_error(&spec, "unexpected argument '%s'", c.value)
                                      : cli__stop(&c, it);
        if (c.opt->id == OPT_BROKER)
            d->broker = c.value;
        else if (c.opt->id == OPT_BINDINGS)
            d->file = *c.value ? c.value : NULL;
        else
            d->instance = c.value;
    }
    if (router__new(d->instance, PROG, &d->table) != 0)
        return cli__usage_error(&spec,
                                "--instance '%s': a name of at most 128 bytes without '/', '+' "
                                "or '#' is needed",
                                d->instance ? d->instance : "");
    d->instance = router__instance(d->table);
    return cli__need_broker(&spec, &d->broker);
}

/* Loads the bindings, connects with a will that clears the status. Returns
 * 0, or 1 after saying why. */
static int prepare(struct daemon *d, struct session *s, uv_loop_t *loop)
{
    char err[600];
    struct transport *t = session__transport(s);
    if (transport_has_bindings(t)) {
        if (msgflo_url_redact(d->broker, err, sizeof err) != 0)
            snprintf(err, sizeof err, "the broker");
        fprintf(stderr, PROG ": %s is not an MQTT broker (AMQP keeps bindings itself)\n", err);
        return 1;
    }
    if (d->file && router__load(d->table, d->file, err, sizeof err)) {
        fprintf(stderr, PROG ": cannot load the bindings: %s\n", err);
        return 1;
    }
    uv_timer_init(loop, &d->saver);
    d->saver.data = d;
    d->saver_ready = true;
    if (router__status(d->table, &d->status_topic, &d->status) ||
        forwarder__new(t, d->table, &d->fw) || transport_set_forwarding(t) ||
        transport_set_will(t, d->status_topic, "", 0, true) || session__start(s, 0)) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon d = {0};
    int status = parse_args(argc, argv, &d);
    if (status >= 0) {
        router__free(d.table);
        return status;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct session_events events = {
        .connected = on_connected, .message = on_message, .stopping = on_stopping};
    struct session *s = NULL;
    char err[512];
    char cid[300];
    snprintf(cid, sizeof cid, PROG "-%s", d.instance); /* one session per instance, kept */
    if (session__new_kept(&loop, d.broker, cid, &events, &d, &s, err, sizeof err)) {
        fprintf(stderr, PROG ": %s\n", err);
        status = 1;
    } else if ((status = prepare(&d, s, &loop)) == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        status = d.stopped ? 0 : session__status(s) ? session__status(s) : 1;
        if (!d.stopped && *session__error(s))
            fprintf(stderr, PROG ": %s\n", session__error(s));
    }
    if (d.saver_ready)
        uv_close((uv_handle_t *)&d.saver, NULL);
    session__free(s);
    uv_run(&loop, UV_RUN_DEFAULT); /* the closes */
    forwarder__free(d.fw);
    router__free(d.table);
    free(d.status_topic);
    free(d.status);
    uv_loop_close(&loop);
    return status;
}
