/* Failures that retrying cannot fix end at once, with the broker's own
 * reason: RabbitMQ refusing a login (403, a wrong password) or a vhost (530),
 * a mosquitto without anonymous access refusing the CONNECT (CONNACK "not
 * authorised"), and a host name that does not exist. Both a tool
 * (msgflo-send-message) and a participant (repeat) exit 1 with one line
 * naming the reason; the password is never printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

static const char *amqp_url;

static void send_message(const char *url, struct support_run *r)
{
    char prog[1024];
    char *argv[] = {(char *)support_program("msgflo-send-message", prog, sizeof prog),
                    "--broker",
                    (char *)url,
                    "--queue",
                    "refused-q",
                    "--json",
                    "{}",
                    "--timeout",
                    "20",
                    NULL};
    support_run_stderr(argv, 20000, r);
}

static void participant(const char *url, struct support_run *r)
{
    char prog[1024];
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog), "refusedrole",
                    (char *)url, NULL};
    support_run_stderr(argv, 20000, r);
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *at = hay; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        n++;
    return n;
}

/* msgflo-register (--forever by default, as the original) announcing one
 * device. */
static void register_device(const char *url, struct support_run *r)
{
    char prog[1024], yaml[] = "/tmp/msgflo-refused-XXXXXX.yaml", role[64];
    int fd = mkstemps(yaml, 5);
    assert_true(fd >= 0);
    static const char def[] = "component: Dev\ninports:\n  in:\n    queue: dev/in\n";
    assert_int_equal(write(fd, def, sizeof def - 1), (ssize_t)(sizeof def - 1));
    close(fd);
    snprintf(role, sizeof role, "dev:%s", yaml);
    char *argv[] = {(char *)support_program("msgflo-register", prog, sizeof prog),
                    "--broker",
                    (char *)url,
                    "--role",
                    role,
                    NULL};
    support_run_stderr(argv, 20000, r);
    unlink(yaml);
}

/* Asserts: exit 1 within `ms`, stderr holds `want`, never `secret`, and the
 * reason is said once (by the program's owner of the connection, not also
 * by the library under it). */
static void expect(const struct support_run *r, int ms, const char *want, const char *secret)
{
    const char *reason = strstr(want, "refused the login") ? "refused the login"
                         : strstr(want, "CONNACK")         ? "CONNACK"
                                                           : "not found";
    int said = occurrences(r->err, reason);
    if (r->status != 1 || !strstr(r->err, want) || said != 1)
        fprintf(stderr, "status %d after %lld ms, stderr:\n%s\nwanted: %s\n", r->status, r->took_ms,
                r->err, want);
    assert_int_equal(r->status, 1);
    assert_true(r->took_ms < ms);
    assert_non_null(strstr(r->err, want));
    assert_int_equal(said, 1);
    if (secret)
        assert_null(strstr(r->err, secret));
}

/* "HOST:PORT" of the test RabbitMQ. */
static void amqp_hostport(char *buf, size_t len)
{
    const char *at = strchr(amqp_url, '@');
    assert_non_null(at);
    snprintf(buf, len, "%s", at + 1);
    buf[strcspn(buf, "/")] = '\0';
}

static void test_amqp_wrong_password(void **state)
{
    (void)state;
    char hp[256], url[512], want[1024];
    amqp_hostport(hp, sizeof hp);
    snprintf(url, sizeof url, "amqp://guest:sEcReT-wrong@%s/", hp);
    struct support_run r;
    send_message(url, &r);
    snprintf(want, sizeof want,
             "msgflo-send-message: the broker at amqp://guest:***@%s/ refused the login: 403 "
             "ACCESS_REFUSED",
             hp);
    expect(&r, 2000, want, "sEcReT");
    participant(url, &r);
    snprintf(want, sizeof want, "the broker at amqp://guest:***@%s/ refused the login: 403 ", hp);
    expect(&r, 5000, want, "sEcReT");
}

static void test_amqp_no_such_vhost(void **state)
{
    (void)state;
    char hp[256], url[512], want[1024];
    amqp_hostport(hp, sizeof hp);
    snprintf(url, sizeof url, "amqp://guest:guest@%s/novhost", hp);
    struct support_run r;
    send_message(url, &r);
    snprintf(want, sizeof want,
             "msgflo-send-message: the broker at amqp://guest:***@%s/novhost refused the login: "
             "530 NOT_ALLOWED - vhost novhost not found",
             hp);
    expect(&r, 2000, want, NULL);
    participant(url, &r);
    expect(&r, 5000, "refused the login: 530 NOT_ALLOWED", NULL);
}

/* A private mosquitto that takes only the users of its password file. */
struct mosq {
    char dir[64];
    pid_t pid;
    int port;
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int spawn_wait(char *const argv[])
{
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void mosq_start(struct mosq *m)
{
    snprintf(m->dir, sizeof m->dir, "/tmp/msgflo-refused-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    chmod(m->dir, 0755); /* mosquitto started as root reads it as user mosquitto */
    char pw[128], conf[128];
    snprintf(pw, sizeof pw, "%s/passwd", m->dir);
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", m->dir);
    char *passwd[] = {"mosquitto_passwd", "-c", "-b", pw, "user", "right", NULL};
    assert_int_equal(spawn_wait(passwd), 0);
    m->port = free_port();
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", m->port, pw);
    fclose(f);
    char *argv[] = {"mosquitto", "-c", conf, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&m->pid, "mosquitto", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    for (int i = 0; i < 100 && !port_open(m->port); i++)
        usleep(50 * 1000);
    assert_true(port_open(m->port));
}

static void mosq_stop(struct mosq *m)
{
    if (m->pid <= 0)
        return;
    kill(m->pid, SIGTERM);
    waitpid(m->pid, NULL, 0);
    m->pid = 0;
    char *rm[] = {"rm", "-rf", m->dir, NULL};
    spawn_wait(rm);
}

static struct mosq mosq; /* stopped by stop_mosq also when an assertion failed */

static int stop_mosq(void **state)
{
    mosq_stop(&mosq);
    return support_teardown(state);
}

static void test_mqtt_not_authorised(void **state)
{
    (void)state;
    struct mosq *m = &mosq;
    mosq_start(m);
    char url[256], want[512];
    struct support_run r;
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", m->port);
    send_message(url, &r);
    snprintf(want, sizeof want,
             "msgflo-send-message: the broker at mqtt://127.0.0.1:%d refused the login: CONNACK ",
             m->port);
    expect(&r, 2000, want, NULL);
    participant(url, &r);
    expect(&r, 5000, "refused the login: CONNACK ", NULL);

    snprintf(url, sizeof url, "mqtt://user:sEcReT-wrong@127.0.0.1:%d", m->port);
    send_message(url, &r);
    expect(&r, 2000, "refused the login: CONNACK ", "sEcReT");
    register_device(url, &r);
    snprintf(want, sizeof want,
             "msgflo-register: could not send the discovery messages to "
             "mqtt://user:***@127.0.0.1:%d: CONNACK ",
             m->port);
    expect(&r, 2000, want, "sEcReT");

    /* The right password is taken: the refusal was the login's, not the broker's. */
    snprintf(url, sizeof url, "mqtt://user:right@127.0.0.1:%d", m->port);
    send_message(url, &r);
    mosq_stop(m);
    assert_int_equal(r.status, 0);
}

static void test_unknown_host(void **state)
{
    (void)state;
    struct support_run r;
    send_message("mqtt://no-such-host.invalid", &r);
    expect(&r, 2000,
           "msgflo-send-message: cannot reach the broker at mqtt://no-such-host.invalid: host name "
           "no-such-host.invalid not found",
           NULL);
    send_message("amqp://guest:guest@no-such-host.invalid/", &r);
    expect(&r, 2000, "host name no-such-host.invalid not found", NULL);
    participant("mqtt://no-such-host.invalid", &r);
    expect(&r, 5000, "host name no-such-host.invalid not found", NULL);
    register_device("mqtt://no-such-host.invalid", &r);
    expect(&r, 2000,
           "msgflo-register: could not send the discovery messages to mqtt://no-such-host.invalid: "
           "host name no-such-host.invalid not found",
           NULL);
}

int main(void)
{
    amqp_url = support_broker("MSGFLO_TEST_AMQP");
    if (!amqp_url) {
        fprintf(stderr, "MSGFLO_TEST_AMQP not set: no broker, skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        SUPPORT_TEST(test_amqp_wrong_password),
        SUPPORT_TEST(test_amqp_no_such_vhost),
        cmocka_unit_test_teardown(test_mqtt_not_authorised, stop_mosq),
        SUPPORT_TEST(test_unknown_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
