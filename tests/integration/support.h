/* Helpers for integration tests: child processes, and independent broker
 * clients written directly on libmosquitto and rabbitmq-c (blocking), so the
 * tests do not trust the transport code they test. */
#ifndef MSGFLO_TEST_SUPPORT_H
#define MSGFLO_TEST_SUPPORT_H

#include <amqp.h>
#include <jansson.h>
#include <mosquitto.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* --- environment ---------------------------------------------------------- */

/* Loads MSGFLO_TEST_* from $MSGFLO_TEST_BROKERS_ENV (written by
 * tests/integration/brokers) into the environment; returns the value of
 * `name` or NULL. */
const char *support_broker(const char *name);
/* Path of a built program, from $MSGFLO_TEST_BIN_DIR. */
const char *support_program(const char *name, char *buf, size_t len);
/* A role unique to this test run. */
const char *support_role(const char *prefix, char *buf, size_t len);
/* The role of a test participant and its default queues. */
struct names {
    char role[64];
    char in[128];
    char out[128];
};
void support_names(struct names *n, const char *prefix);
/* Runs tests/integration/brokers with `command` on the test brokers. */
int support_brokers(const char *command);

/* --- child processes ------------------------------------------------------- */

/* A program run to its end with stderr captured (stdout to /dev/null). */
struct support_run {
    char err[8192];
    int status; /* exit status, or -signal */
    long long took_ms;
};

/* Runs argv (found in PATH when it has no slash) until it exits, or kills it
 * with SIGKILL after `ms` (status -9). */
void support_run_stderr(char *const argv[], int ms, struct support_run *r);

struct child {
    pid_t pid;
    int out_fd; /* child's stdout */
    char line[1024];
};

/* Kills every child still running (a failed assertion skips child_stop);
 * a cmocka teardown: use SUPPORT_TEST(fn) instead of cmocka_unit_test(fn). */
int support_teardown(void **state);
#define SUPPORT_TEST(fn) cmocka_unit_test_teardown(fn, support_teardown)

/* Starts argv[0] with stdout piped (stderr inherited). */
int child_start(struct child *c, char *const argv[]);
/* Reads one line of stdout within timeout_ms; false on timeout or EOF. */
bool child_read_line(struct child *c, int timeout_ms);
/* Waits up to timeout_ms for the child to exit by itself; returns its exit
 * status (or -signal), or -1000 on timeout (the child is then killed). */
int child_wait(struct child *c, int timeout_ms);
/* SIGTERM (or `sig`), then waits up to 5 s, then SIGKILL. Returns exit status or -signal. */
int child_stop(struct child *c, int sig);

/* --- MQTT client ----------------------------------------------------------- */

struct mqtt_client {
    struct mosquitto *mosq;
    struct {
        char *topic;
        void *data;
        size_t len;
        int qos;
    } queue[256];
    size_t head, tail;
    int last_qos; /* the QoS of the message mqtt_client_wait returned last */
};

int mqtt_client_open(struct mqtt_client *c, const char *url);
int mqtt_client_subscribe(struct mqtt_client *c, const char *topic); /* QoS 0 */
int mqtt_client_subscribe_qos(struct mqtt_client *c, const char *topic, int qos);
int mqtt_client_publish(struct mqtt_client *c, const char *topic, const char *data); /* QoS 0 */
int mqtt_client_publish_qos(struct mqtt_client *c, const char *topic, const void *data, size_t len,
                            int qos);
/* Waits for the next message on `topic` (others are dropped); returns owned
 * payload (NUL-terminated, free()) or NULL on timeout. */
char *mqtt_client_wait(struct mqtt_client *c, const char *topic, int timeout_ms);
void mqtt_client_close(struct mqtt_client *c);

/* --- a private mosquitto ------------------------------------------------- */

struct support_mosquitto {
    char dir[64]; /* its temporary folder: mosquitto.conf, log */
    char url[64];
    int port;
    struct child proc;
};

/* A temporary folder and a free loopback port (b->url), nothing started.
 * 0 or -1. */
int support_mosquitto_prepare(struct support_mosquitto *b);
/* support_mosquitto_prepare, then support_mosquitto_start. 0 or -1. */
int support_mosquitto_new(struct support_mosquitto *b, const char *extra);
/* Starts mosquitto on b->port (listener on 127.0.0.1, anonymous,
 * set_tcp_nodelay, log to DIR/log, then the `extra` config lines) and waits
 * until it listens. 0 or -1. The broker is /usr/sbin/mosquitto (else
 * /usr/local/sbin/mosquitto), or the program MSGFLO_TEST_MOSQUITTO names. */
int support_mosquitto_start(struct support_mosquitto *b, const char *extra);
/* SIGTERM; returns its exit status. */
int support_mosquitto_stop(struct support_mosquitto *b);
/* Removes the folder (after support_mosquitto_stop). */
void support_mosquitto_free(struct support_mosquitto *b);

/* How often `needle` occurs in the text file at path (0 when it is missing). */
int support_file_count(const char *path, const char *needle);
/* Waits up to timeout_ms for `needle` to occur `times` times in the file. */
bool support_file_wait(const char *path, const char *needle, int times, int timeout_ms);

/* --- AMQP client ----------------------------------------------------------- */

struct amqp_client {
    amqp_connection_state_t conn;
};

int amqp_client_open(struct amqp_client *c, const char *url);
/* A fresh exclusive queue bound to `exchange` (fanout); its name in `name`. */
int amqp_client_tap(struct amqp_client *c, const char *exchange, char *name, size_t len);
/* amqp_client_tap + amqp_client_consume. */
int amqp_client_watch(struct amqp_client *c, const char *exchange);
int amqp_client_declare_fanout(struct amqp_client *c, const char *exchange);
int amqp_client_bind(struct amqp_client *c, const char *queue, const char *exchange);
/* Declares `queue` like msgflo-nodejs (durable, x-dead-letter-exchange). */
int amqp_client_declare_inqueue(struct amqp_client *c, const char *queue);
int amqp_client_declare_plain(struct amqp_client *c, const char *queue);
int amqp_client_consume(struct amqp_client *c, const char *queue);
/* Publishes to the default exchange with routing key `queue`. */
int amqp_client_send(struct amqp_client *c, const char *queue, const char *data);
/* Next delivery from any consumed queue within timeout_ms: owned payload or NULL. */
char *amqp_client_wait(struct amqp_client *c, int timeout_ms);
/* Number of ready messages in a queue (passive declare), or -1. */
int amqp_client_count(struct amqp_client *c, const char *queue);
void amqp_client_close(struct amqp_client *c);
/* Empties `queue` on url's broker, on a connection of its own (nothing
 * when it does not exist). */
void amqp_client_purge(const char *url, const char *queue);

/* --- discovery ------------------------------------------------------------- */

/* Whether `text` is a discovery message for `role`; returns its payload
 * (new reference) or NULL. */
json_t *support_discovery_for(const char *text, const char *role);

#endif
