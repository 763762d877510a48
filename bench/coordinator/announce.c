/* Coordinator scale: participants announcing (issue #7).
 *
 *   announce inproc N              registry__announce of N distinct discovery
 *                                  messages, then the same N again
 *                                  (re-announcing); prints one line:
 *                                  "N new_s new_cpu_s re_s re_cpu_s maxrss_kb"
 *   announce publish URL N [TAG [chain|solo|distinct]]
 *                                  publishes N distinct discovery messages on
 *                                  topic "fbp" (QoS 0) to mqtt://HOST:PORT and
 *                                  exits once libmosquitto wrote them all;
 *                                  prints "published N SECONDS"
 *
 * The payloads are a Repeat participant's (one inport, one outport). Participant
 * i's outport queue is participant i+1's inport queue, so every announcement
 * also finds an automatic edge (the original's quadratic part). TAG (default
 * "p") prefixes roles and ids, so a second run of `publish` with the same TAG
 * re-announces the same participants. With "solo", participant i's outport
 * queue is its own (TAG<i>.OUT): no automatic edges. With "distinct", as solo
 * and participant i's component is its own (TAG<i>C): N components.
 */
#include "coord/registry.h"

#include <mosquitto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

enum shape { CHAIN, SOLO, DISTINCT };

static int message(char *buf, size_t size, const char *tag, size_t i, enum shape shape)
{
    bool chain = shape == CHAIN;
    char component[64] = "Repeat";
    if (shape == DISTINCT)
        snprintf(component, sizeof component, "%s%zuC", tag, i);
    int n =
        snprintf(buf, size,
                 "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":"
                 "{\"id\":\"%s%zu-3f9a1c\",\"role\":\"%s%zu\",\"component\":\"%s\","
                 "\"label\":\"Repeats the data it receives\",\"icon\":\"file-word-o\","
                 "\"inports\":[{\"id\":\"in\",\"type\":\"any\",\"queue\":\"%s%zu.IN\"}],"
                 "\"outports\":[{\"id\":\"out\",\"type\":\"any\",\"queue\":\"%s%zu.%s\"}]}}",
                 tag, i, tag, i, component, tag, i, tag, chain ? i + 1 : i, chain ? "IN" : "OUT");
    return n > 0 && (size_t)n < size ? n : -1;
}

static int announce_all(struct registry *r, size_t n, uint64_t now_ms)
{
    char buf[1024], err[256];
    for (size_t i = 0; i < n; i++) {
        int len = message(buf, sizeof buf, "p", i, CHAIN);
        if (len < 0 || registry__announce(r, buf, (size_t)len, now_ms, NULL, err, sizeof err)) {
            fprintf(stderr, "announce %zu failed\n", i);
            return -1;
        }
    }
    return 0;
}

static int run_inproc(size_t n)
{
    struct registry *r = NULL;
    if (registry__new(NULL, &r))
        return 1;
    double t0 = now_s(), c0 = cpu_s();
    int rc = announce_all(r, n, 1);
    double t1 = now_s(), c1 = cpu_s();
    if (!rc)
        rc = announce_all(r, n, 2);
    double t2 = now_s(), c2 = cpu_s();
    if (!rc && registry__count(r) != n) {
        fprintf(stderr, "registry holds %zu participants, expected %zu\n", registry__count(r), n);
        rc = -1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!rc)
        printf("%zu %.6f %.6f %.6f %.6f %ld\n", n, t1 - t0, c1 - c0, t2 - t1, c2 - c1,
               ru.ru_maxrss);
    registry__free(r);
    return rc ? 1 : 0;
}

struct pub {
    size_t n, written;
    int connect_rc;
    int connected;
};

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)m;
    struct pub *p = ud;
    p->connect_rc = rc;
    p->connected = 1;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    (void)m;
    (void)mid;
    struct pub *p = ud;
    p->written++;
}

static int parse_url(const char *url, char *host, size_t hostlen, int *port)
{
    const char *prefix = "mqtt://";
    if (strncmp(url, prefix, strlen(prefix)) != 0)
        return -1;
    const char *h = url + strlen(prefix);
    const char *colon = strrchr(h, ':');
    if (!colon || (size_t)(colon - h) >= hostlen)
        return -1;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    char *end = NULL;
    long v = strtol(colon + 1, &end, 10);
    if (v <= 0 || v > 65535 || (*end && *end != '/' && *end != '?'))
        return -1;
    *port = (int)v;
    return 0;
}

static int run_publish(const char *url, size_t n, const char *tag, enum shape shape)
{
    char host[256], buf[1024];
    int port = 0, rc = 1;
    if (parse_url(url, host, sizeof host, &port)) {
        fprintf(stderr, "bad broker url %s\n", url);
        return 1;
    }
    mosquitto_lib_init();
    struct pub p = {.n = n};
    struct mosquitto *m = mosquitto_new(NULL, true, &p);
    if (!m)
        goto out;
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, host, port, 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "cannot connect to %s\n", url);
        goto out;
    }
    while (!p.connected) {
        if (mosquitto_loop(m, 1000, 1) != MOSQ_ERR_SUCCESS)
            goto out;
    }
    if (p.connect_rc)
        goto out;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        int len = message(buf, sizeof buf, tag, i, shape);
        if (len < 0 || mosquitto_publish(m, NULL, "fbp", len, buf, 0, false) != MOSQ_ERR_SUCCESS)
            goto out;
        /* keep the outgoing queue short: write what can be written now */
        if (i % 64 == 63 && mosquitto_loop(m, 0, 1) != MOSQ_ERR_SUCCESS)
            goto out;
    }
    while (p.written < n) {
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
            goto out;
    }
    printf("published %zu %.6f\n", n, now_s() - t0);
    fflush(stdout);
    mosquitto_disconnect(m);
    rc = 0;
out:
    if (m)
        mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "inproc") == 0)
        return run_inproc(strtoul(argv[2], NULL, 10));
    if (argc >= 4 && argc <= 6 && strcmp(argv[1], "publish") == 0) {
        const char *sh = argc == 6 ? argv[5] : "chain";
        enum shape shape = strcmp(sh, "solo") == 0       ? SOLO
                           : strcmp(sh, "distinct") == 0 ? DISTINCT
                                                         : CHAIN;
        return run_publish(argv[2], strtoul(argv[3], NULL, 10), argc >= 5 ? argv[4] : "p", shape);
    }
    fprintf(stderr, "usage: announce inproc N | announce publish mqtt://HOST:PORT N "
                    "[TAG [chain|solo|distinct]]\n");
    return 2;
}
