/* TLS on both transports against the test brokers and the throw-away CA of
 * tests/integration/brokers: a certificate for IP 127.0.0.1 is accepted at
 * 127.0.0.1 (and for localhost at localhost); each refusal names its cause in
 * the participant's warning and in the tool's final error: an unknown CA, an
 * expired certificate, a certificate for another name, a plain port; and
 * insecure=1 warns once.
 *
 * The expired and other-name certificates are served by extra mosquitto TLS
 * listeners: a handshake fails before any MQTT or AMQP is spoken, so the
 * AMQP transport is tested against them too. */
#include "support.h"

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static const char *mqtts, *amqps, *mqtt_plain, *amqp_plain, *ca, *expired, *othername;

struct run {
    char out[4096];
    char err[16384];
    int status;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void take(int fd, char *buf, size_t len, bool *eof)
{
    size_t used = strlen(buf);
    ssize_t n = read(fd, buf + used, len - 1 - used);
    if (n <= 0)
        *eof = true;
    else
        buf[used + (size_t)n] = '\0';
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

/* Runs argv with stdout and stderr captured until it exits, or prints a line
 * on stdout (stop_on_out), or `err_lines` lines on stderr (0: no such stop),
 * or `ms` pass; then stops it with SIGTERM and takes the rest of stderr. */
static void run(char *const argv[], int ms, bool stop_on_out, int err_lines, struct run *r)
{
    int out[2], err[2];
    memset(r, 0, sizeof *r);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    assert_int_equal(rc, 0);
    bool out_eof = false, err_eof = false;
    long long deadline = now_ms() + ms;
    while (!(out_eof && err_eof) && now_ms() < deadline) {
        if ((stop_on_out && strchr(r->out, '\n')) ||
            (err_lines > 0 && count_lines(r->err) >= err_lines))
            break;
        struct pollfd p[2] = {{.fd = out_eof ? -1 : out[0], .events = POLLIN},
                              {.fd = err_eof ? -1 : err[0], .events = POLLIN}};
        if (poll(p, 2, (int)(deadline - now_ms())) <= 0)
            continue;
        if (p[0].revents)
            take(out[0], r->out, sizeof r->out, &out_eof);
        if (p[1].revents)
            take(err[0], r->err, sizeof r->err, &err_eof);
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    /* what it wrote while stopping (the count of collapsed repeats, say) */
    while (!err_eof && strlen(r->err) < sizeof r->err - 1)
        take(err[0], r->err, sizeof r->err, &err_eof);
    close(out[0]);
    close(err[0]);
}

/* The next line of *rest (cut off at its newline), or NULL at the end. */
static char *next_line(char **rest)
{
    char *line = *rest;
    if (!*line)
        return NULL;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *rest = nl + 1;
    } else {
        *rest = line + strlen(line);
    }
    return line;
}

static char *fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static char *fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
    return buf;
}

/* How many times `line` says `expected`: 1 for the line itself, N for its
 * collapsed repeats ("expected (N more times)"), 0 for another line. */
static unsigned times_said(const char *line, const char *expected)
{
    size_t n = strlen(expected);
    unsigned more;
    if (strcmp(line, expected) == 0)
        return 1;
    if (strncmp(line, expected, n) == 0 && sscanf(line + n, " (%u more time", &more) == 1)
        return more;
    return 0;
}

/* A participant at `url`: refused, retrying (at 0, 0.1, 0.3, 0.7 s, ...), and
 * every line it logs is `expected`, its repeats collapsed into one line. */
static void assert_refused(const char *url, const char *expected)
{
    char prog[1024], role[64];
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog),
                    (char *)support_role("tls", role, sizeof role), (char *)url, NULL};
    struct run r;
    run(argv, 2000, true, 0, &r);
    assert_string_equal(r.out, "");
    unsigned said = 0;
    char *rest = r.err;
    for (char *line; (line = next_line(&rest));) {
        unsigned n = times_said(line, expected);
        if (n == 0)
            fail_msg("unexpected line: %s (expected: %s)", line, expected);
        said += n;
    }
    assert_true(said >= 2);
}

/* A participant at `url` connects without a warning. */
static void assert_accepted(const char *url, const char *line_start)
{
    char prog[1024], role[64];
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog),
                    (char *)support_role("tls", role, sizeof role), (char *)url, NULL};
    struct run r;
    run(argv, 15000, true, 1, &r);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, line_start));
}

/* "127.0.0.1:PORT" of a URL "scheme://[user@]127.0.0.1:PORT[/...]". */
static const char *host_port(const char *url, char *buf, size_t len)
{
    const char *at = strchr(url, '@');
    const char *start = at ? at + 1 : strstr(url, "://") + 3;
    size_t n = strcspn(start, "/?");
    snprintf(buf, len, "%.*s", (int)n, start);
    return buf;
}

static const char *port_of(const char *url)
{
    char hp[128];
    static char port[16];
    host_port(url, hp, sizeof hp);
    snprintf(port, sizeof port, "%s", strrchr(hp, ':') + 1);
    return port;
}

/* The names in the certificate checked: an IP address and a DNS name. */
static void test_ip_and_dns_names_accepted(void **state)
{
    (void)state;
    char url[1024];
    assert_accepted(fmt(url, sizeof url, "mqtts://127.0.0.1:%s?ca=%s", port_of(mqtts), ca),
                    "connected to mqtts://127.0.0.1:");
    assert_accepted(fmt(url, sizeof url, "mqtts://localhost:%s?ca=%s", port_of(mqtts), ca),
                    "connected to mqtts://localhost:");
    /* rabbitmq-c 0.11 by itself refused this one: its host check knows DNS names only */
    assert_accepted(
        fmt(url, sizeof url, "amqps://guest:guest@127.0.0.1:%s/?ca=%s", port_of(amqps), ca),
        "connected to amqps://guest:***@127.0.0.1:");
    assert_accepted(
        fmt(url, sizeof url, "amqps://guest:guest@localhost:%s/?ca=%s", port_of(amqps), ca),
        "connected to amqps://guest:***@localhost:");
}

static void test_unknown_ca(void **state)
{
    (void)state;
    char url[1024], want[1024];
    const char *other = "/etc/ssl/certs/ca-certificates.crt";
    assert_refused(fmt(url, sizeof url, "mqtts://127.0.0.1:%s?ca=%s", port_of(mqtts), other),
                   fmt(want, sizeof want,
                       "msgflo:mqtt warning: the certificate of the broker at 127.0.0.1:%s is "
                       "signed by an unknown CA (issuer CN=msgflo-test-ca); give its CA with "
                       "?ca=FILE",
                       port_of(mqtts)));
    /* without ?ca= the system CAs are used: the same refusal */
    assert_refused(fmt(url, sizeof url, "mqtts://127.0.0.1:%s", port_of(mqtts)), want);
    /* RabbitMQ sends the CA with its certificate: OpenSSL finds a self-signed
     * root it does not trust, reported the same way */
    assert_refused(
        fmt(url, sizeof url, "amqps://guest:guest@127.0.0.1:%s/?ca=%s", port_of(amqps), other),
        fmt(want, sizeof want,
            "msgflo:amqp warning: the certificate of the broker at 127.0.0.1:%s is "
            "signed by an unknown CA (issuer CN=msgflo-test-ca); give its CA with "
            "?ca=FILE",
            port_of(amqps)));
    assert_refused(fmt(url, sizeof url, "amqps://guest:guest@127.0.0.1:%s/", port_of(amqps)), want);
}

static void test_expired(void **state)
{
    (void)state;
    char url[1024], want[1024];
    assert_refused(fmt(url, sizeof url, "mqtts://%s?ca=%s", expired, ca),
                   fmt(want, sizeof want,
                       "msgflo:mqtt warning: the certificate of the broker at %s expired on "
                       "2020-01-02 00:00:00 UTC",
                       expired));
    assert_refused(fmt(url, sizeof url, "amqps://%s/?ca=%s", expired, ca),
                   fmt(want, sizeof want,
                       "msgflo:amqp warning: the certificate of the broker at %s expired on "
                       "2020-01-02 00:00:00 UTC",
                       expired));
}

static void test_other_name(void **state)
{
    (void)state;
    char url[1024], want[1024];
    const char *port = strrchr(othername, ':') + 1;
    assert_refused(fmt(url, sizeof url, "mqtts://%s?ca=%s", othername, ca),
                   fmt(want, sizeof want,
                       "msgflo:mqtt warning: the certificate of the broker at %s is for "
                       "DNS:other.msgflo.test, not for 127.0.0.1",
                       othername));
    assert_refused(fmt(url, sizeof url, "mqtts://localhost:%s?ca=%s", port, ca),
                   fmt(want, sizeof want,
                       "msgflo:mqtt warning: the certificate of the broker at localhost:%s is for "
                       "DNS:other.msgflo.test, not for localhost",
                       port));
    assert_refused(fmt(url, sizeof url, "amqps://%s/?ca=%s", othername, ca),
                   fmt(want, sizeof want,
                       "msgflo:amqp warning: the certificate of the broker at %s is for "
                       "DNS:other.msgflo.test, not for 127.0.0.1",
                       othername));
}

static void test_plain_port(void **state)
{
    (void)state;
    char url[1024], want[1024], hp[128];
    host_port(mqtt_plain, hp, sizeof hp);
    assert_refused(fmt(url, sizeof url, "mqtts://%s?ca=%s", hp, ca),
                   fmt(want, sizeof want,
                       "msgflo:mqtt warning: the broker at %s did not answer TLS (is it a plain "
                       "port?)",
                       hp));
    host_port(amqp_plain, hp, sizeof hp);
    assert_refused(fmt(url, sizeof url, "amqps://guest:guest@%s/?ca=%s", hp, ca),
                   fmt(want, sizeof want,
                       "msgflo:amqp warning: the broker at %s did not answer TLS (is it a plain "
                       "port?)",
                       hp));
}

/* A tool that gives up names the cause in its last line. */
static void test_tool_names_the_cause(void **state)
{
    (void)state;
    char prog[1024], url[1024], want[1024], hp[128];
    host_port(amqp_plain, hp, sizeof hp);
    char *argv[] = {(char *)support_program("msgflo-send-message", prog, sizeof prog),
                    "--broker",
                    fmt(url, sizeof url, "amqps://%s/", hp),
                    "--queue",
                    "tls-test",
                    "--raw",
                    "x",
                    "--timeout",
                    "1",
                    NULL};
    struct run r;
    run(argv, 10000, false, 0, &r);
    assert_int_equal(r.status, 1);
    char *last = r.err + strlen(r.err) - 1;
    assert_true(last > r.err && *last == '\n');
    *last = '\0';
    last = strrchr(r.err, '\n') ? strrchr(r.err, '\n') + 1 : r.err;
    assert_string_equal(last, fmt(want, sizeof want,
                                  "msgflo-send-message: could not reach the broker at amqps://%s/: "
                                  "the broker at %s did not answer TLS (is it a plain port?)",
                                  hp, hp));

    argv[2] = fmt(url, sizeof url, "mqtts://%s?ca=%s", expired, ca);
    run(argv, 10000, false, 0, &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, fmt(want, sizeof want,
                                      "msgflo-send-message: could not reach the broker at %s: the "
                                      "certificate of the broker at %s expired on 2020-01-02 "
                                      "00:00:00 UTC\n",
                                      url, expired)));
}

/* insecure=1 says once that the broker's certificate is not verified,
 * however often the participant reconnects. */
static void test_insecure_warns_once(void **state)
{
    (void)state;
    char prog[1024], role[64], url[1024], want[1024], hp[128];
    const struct {
        const char *plain, *scheme, *ns, *user, *path;
    } cases[] = {{mqtt_plain, "mqtts", "mqtt", "", ""},
                 {amqp_plain, "amqps", "amqp", "guest@", "/"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        host_port(cases[i].plain, hp, sizeof hp);
        char *argv[] = {(char *)support_program("repeat", prog, sizeof prog),
                        (char *)support_role("tls", role, sizeof role),
                        fmt(url, sizeof url, "%s://%s%s%s?insecure=1", cases[i].scheme,
                            cases[i].user, hp, cases[i].path),
                        NULL};
        struct run r;
        run(argv, 2000, true, 0, &r); /* the warning and attempts at 0, 0.1, 0.3, 0.7 s, ... */
        assert_string_equal(r.out, "");
        int warnings = 0, attempts = 0;
        fmt(want, sizeof want,
            "msgflo:%s warning: insecure=1: the certificate of the broker at %s is not "
            "verified; anyone on the network path can pose as the broker",
            cases[i].ns, hp);
        char refused[512];
        fmt(refused, sizeof refused,
            "msgflo:%s warning: the broker at %s did not answer TLS (is it a plain port?)",
            cases[i].ns, hp);
        char *rest = r.err;
        for (char *line; (line = next_line(&rest));) {
            if (strcmp(line, want) == 0)
                warnings++;
            else if (times_said(line, refused) > 0)
                attempts += (int)times_said(line, refused);
            else
                fail_msg("unexpected line: %s", line);
        }
        assert_int_equal(warnings, 1);
        if (attempts < 3)
            fail_msg("%d attempts in:\n%s", attempts, r.err);
    }
    /* and it connects to the TLS port without verifying */
    char want_line[256];
    fmt(want_line, sizeof want_line,
        "msgflo:mqtt warning: insecure=1: the certificate of the broker at 127.0.0.1:%s is not "
        "verified; anyone on the network path can pose as the broker\n",
        port_of(mqtts));
    char *argv[] = {(char *)support_program("repeat", prog, sizeof prog),
                    (char *)support_role("tls", role, sizeof role),
                    fmt(url, sizeof url, "mqtts://127.0.0.1:%s?insecure=1", port_of(mqtts)), NULL};
    struct run r;
    run(argv, 10000, true, 0, &r);
    assert_string_equal(r.err, want_line);
    assert_non_null(strstr(r.out, "connected to mqtts://127.0.0.1:"));
}

int main(void)
{
    mqtts = support_broker("MSGFLO_TEST_MQTTS");
    amqps = support_broker("MSGFLO_TEST_AMQPS");
    mqtt_plain = support_broker("MSGFLO_TEST_MQTT");
    amqp_plain = support_broker("MSGFLO_TEST_AMQP");
    ca = support_broker("MSGFLO_TEST_TLS_CA");
    expired = support_broker("MSGFLO_TEST_TLS_EXPIRED");
    othername = support_broker("MSGFLO_TEST_TLS_OTHERNAME");
    if (!mqtts || !amqps || !mqtt_plain || !amqp_plain || !ca || !expired || !othername) {
        fprintf(stderr, "MSGFLO_TEST_* TLS brokers not set: skipping\n");
        return 77;
    }
    unsetenv("DEBUG"); /* the exact warnings only */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_and_dns_names_accepted),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_other_name),
        cmocka_unit_test(test_plain_port),
        cmocka_unit_test(test_tool_names_the_cause),
        cmocka_unit_test(test_insecure_warns_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
