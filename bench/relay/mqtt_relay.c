/* Raw MQTT relay: the broker's limit for the benchmark pipeline, with no
 * msgflo logic. Subscribes to one topic and republishes every message on
 * another, written naively on libmosquitto's own loop (one write system call
 * per message). The benchmark runs three: a (a.IN -> a.OUT), the forwarding
 * (a.OUT -> b.IN, what msgflo-setup does on MQTT) and b (b.IN -> b.OUT).
 *
 *   mqtt_relay --broker mqtt://HOST:PORT[?qos=1] --from TOPIC --to TOPIC
 *
 * Prints "ready" on stdout once the broker acknowledged the subscription;
 * runs until killed.
 */
#include "msgflo/url.h"

#include <getopt.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

struct relay {
    const char *from, *to;
    int qos;
};

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    struct relay *r = ud;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, r->from, r->qos);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    (void)m;
    (void)ud;
    (void)mid;
    (void)n;
    (void)granted;
    printf("ready\n");
    fflush(stdout);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    struct relay *r = ud;
    mosquitto_publish(m, NULL, r->to, msg->payloadlen, msg->payload, r->qos, false);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    struct relay r = {0};
    const char *broker = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'b')
            broker = optarg;
        else if (opt == 'f')
            r.from = optarg;
        else if (opt == 't')
            r.to = optarg;
        else
            return 2;
    }
    msgflo_url *u = NULL;
    char err[200];
    if (!broker || !r.from || !r.to || msgflo_url_parse(broker, &u, err, sizeof err) != 0 ||
        msgflo_url_is_amqp(u)) {
        fprintf(stderr, "usage: mqtt_relay --broker mqtt://HOST:PORT --from TOPIC --to TOPIC\n");
        return 2;
    }
    r.qos = msgflo_url_qos(u);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, &r);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    if (mosquitto_connect(m, msgflo_url_host(u), msgflo_url_port(u), 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt_relay: cannot connect to %s:%d\n", msgflo_url_host(u),
                msgflo_url_port(u));
        return 1;
    }
    int rc = mosquitto_loop_forever(m, -1, 1);
    fprintf(stderr, "mqtt_relay: %s\n", mosquitto_strerror(rc));
    mosquitto_destroy(m);
    msgflo_url_free(u);
    return 1;
}
