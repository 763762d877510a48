/* Integration test helpers; see support.h. */
#include "support.h"

#include "msgflo/url.h"

#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void load_env(void)
{
    static bool loaded;
    if (loaded)
        return;
    loaded = true;
    const char *path = getenv("MSGFLO_TEST_BROKERS_ENV");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
    }
    fclose(f);
}

const char *support_broker(const char *name)
{
    load_env();
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *support_program(const char *name, char *buf, size_t len)
{
    const char *dirs = getenv("MSGFLO_TEST_BIN_DIR");
    if (!dirs)
        dirs = ".";
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        snprintf(buf, len, "%.*s/%s", (int)n, dirs, name);
        if (access(buf, X_OK) == 0)
            return buf;
        dirs += n;
        if (*dirs == ':')
            dirs++;
    }
    snprintf(buf, len, "%s", name);
    return buf;
}

const char *support_role(const char *prefix, char *buf, size_t len)
{
    static unsigned counter;
    snprintf(buf, len, "%s%d-%u", prefix, (int)getpid(), counter++);
    return buf;
}

void support_names(struct names *n, const char *prefix)
{
    support_role(prefix, n->role, sizeof n->role);
    snprintf(n->in, sizeof n->in, "%s.IN", n->role);
    snprintf(n->out, sizeof n->out, "%s.OUT", n->role);
}

int support_brokers(const char *command)
{
    const char *script = getenv("MSGFLO_TEST_BROKERS_SCRIPT");
    const char *envfile = getenv("MSGFLO_TEST_BROKERS_ENV");
    if (!script || !envfile)
        return -1;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", envfile);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    pid_t pid;
    char *argv[] = {(char *)script, (char *)command, dir, NULL};
    if (posix_spawn(&pid, script, NULL, NULL, argv, environ) != 0)
        return -1;
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- child processes -------------------------------------------------------- */

#define MAX_CHILDREN 32
static pid_t live[MAX_CHILDREN];

static void track(pid_t pid, bool add)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (add ? live[i] == 0 : live[i] == pid) {
            live[i] = add ? pid : 0;
            return;
        }
    }
}

static void kill_all(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
}

int support_teardown(void **state)
{
    (void)state;
    kill_all();
    return 0;
}

int child_start(struct child *c, char *const argv[])
{
    int fds[2];
    memset(c, 0, sizeof *c);
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    c->out_fd = fds[0];
    static bool registered;
    if (!registered) {
        atexit(kill_all);
        registered = true;
    }
    track(c->pid, true);
    return 0;
}

bool child_read_line(struct child *c, int timeout_ms)
{
    size_t n = 0;
    long long deadline = now_ms() + timeout_ms;
    while (n < sizeof c->line - 1) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = c->out_fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        char ch;
        ssize_t r = read(c->out_fd, &ch, 1);
        if (r <= 0)
            return false;
        if (ch == '\n')
            break;
        c->line[n++] = ch;
    }
    c->line[n] = '\0';
    return true;
}

int child_wait(struct child *c, int timeout_ms)
{
    int status = 0;
    long long deadline = now_ms() + timeout_ms;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            child_stop(c, SIGKILL);
            return -1000;
        }
        usleep(10000);
    }
    close(c->out_fd);
    track(c->pid, false);
    c->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int child_stop(struct child *c, int sig)
{
    if (c->pid <= 0)
        return -1;
    kill(c->pid, sig ? sig : SIGTERM);
    int status = 0;
    long long deadline = now_ms() + 5000;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    close(c->out_fd);
    track(c->pid, false);
    c->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/* --- MQTT ----------------------------------------------------------------------- */

static void on_mqtt_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    struct mqtt_client *c = obj;
    (void)m;
    size_t next = (c->tail + 1) % 256;
    if (next == c->head)
        return; /* full: drop */
    c->queue[c->tail].topic = strdup(msg->topic);
    c->queue[c->tail].data = calloc(1, (size_t)msg->payloadlen + 1);
    if (msg->payloadlen > 0) /* an empty message has no payload (NULL) */
        memcpy(c->queue[c->tail].data, msg->payload, (size_t)msg->payloadlen);
    c->queue[c->tail].len = (size_t)msg->payloadlen;
    c->queue[c->tail].qos = msg->qos;
    c->tail = next;
}

int mqtt_client_open(struct mqtt_client *c, const char *url)
{
    memset(c, 0, sizeof *c);
    msgflo_url *u;
    if (msgflo_url_parse(url, &u, NULL, 0) != 0)
        return -1;
    mosquitto_lib_init();
    c->mosq = mosquitto_new(NULL, true, c);
    mosquitto_message_callback_set(c->mosq, on_mqtt_message);
    if (msgflo_url_user(u))
        mosquitto_username_pw_set(c->mosq, msgflo_url_user(u), msgflo_url_password(u));
    int rc = mosquitto_connect(c->mosq, msgflo_url_host(u), msgflo_url_port(u), 30);
    msgflo_url_free(u);
    if (rc != MOSQ_ERR_SUCCESS)
        return -1;
    for (int i = 0; i < 5; i++)
        mosquitto_loop(c->mosq, 20, 1);
    return 0;
}

int mqtt_client_subscribe(struct mqtt_client *c, const char *topic)
{
    return mqtt_client_subscribe_qos(c, topic, 0);
}

int mqtt_client_subscribe_qos(struct mqtt_client *c, const char *topic, int qos)
{
    int rc = mosquitto_subscribe(c->mosq, NULL, topic, qos);
    for (int i = 0; i < 5; i++)
        mosquitto_loop(c->mosq, 20, 1);
    return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

int mqtt_client_publish(struct mqtt_client *c, const char *topic, const char *data)
{
    return mqtt_client_publish_qos(c, topic, data, strlen(data), 0);
}

int mqtt_client_publish_qos(struct mqtt_client *c, const char *topic, const void *data, size_t len,
                            int qos)
{
    int rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, data, qos, false);
    mosquitto_loop(c->mosq, 10, 1);
    return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

char *mqtt_client_wait(struct mqtt_client *c, const char *topic, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        while (c->head != c->tail) {
            size_t i = c->head;
            c->head = (c->head + 1) % 256;
            bool match = strcmp(c->queue[i].topic, topic) == 0;
            free(c->queue[i].topic);
            c->last_qos = c->queue[i].qos;
            if (match)
                return c->queue[i].data;
            free(c->queue[i].data);
        }
        if (now_ms() > deadline)
            return NULL;
        if (mosquitto_loop(c->mosq, 50, 1) != MOSQ_ERR_SUCCESS) {
            usleep(100000);
            mosquitto_reconnect(c->mosq);
        }
    }
}

void mqtt_client_close(struct mqtt_client *c)
{
    while (c->head != c->tail) {
        free(c->queue[c->head].topic);
        free(c->queue[c->head].data);
        c->head = (c->head + 1) % 256;
    }
    if (c->mosq) {
        mosquitto_disconnect(c->mosq);
        mosquitto_destroy(c->mosq);
        c->mosq = NULL;
    }
}

/* --- AMQP ----------------------------------------------------------------------- */

static int amqp_ok(struct amqp_client *c)
{
    return amqp_get_rpc_reply(c->conn).reply_type == AMQP_RESPONSE_NORMAL ? 0 : -1;
}

int amqp_client_open(struct amqp_client *c, const char *url)
{
    memset(c, 0, sizeof *c);
    msgflo_url *u;
    if (msgflo_url_parse(url, &u, NULL, 0) != 0)
        return -1;
    c->conn = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c->conn);
    int rc = amqp_socket_open(s, msgflo_url_host(u), msgflo_url_port(u));
    if (rc == AMQP_STATUS_OK) {
        amqp_rpc_reply_t r = amqp_login(c->conn, msgflo_url_vhost(u), 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                                        AMQP_SASL_METHOD_PLAIN, "guest", "guest");
        rc = r.reply_type == AMQP_RESPONSE_NORMAL ? 0 : -1;
    }
    msgflo_url_free(u);
    if (rc != 0)
        return -1;
    amqp_channel_open(c->conn, 1);
    return amqp_ok(c);
}

int amqp_client_tap(struct amqp_client *c, const char *exchange, char *name, size_t len)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, 1, amqp_empty_bytes, false, false,
                                                     true, true, amqp_empty_table);
    if (!ok)
        return -1;
    snprintf(name, len, "%.*s", (int)ok->queue.len, (const char *)ok->queue.bytes);
    return amqp_client_bind(c, name, exchange);
}

int amqp_client_watch(struct amqp_client *c, const char *exchange)
{
    char tap[256];
    if (amqp_client_tap(c, exchange, tap, sizeof tap) != 0)
        return -1;
    return amqp_client_consume(c, tap);
}

int amqp_client_declare_fanout(struct amqp_client *c, const char *exchange)
{
    amqp_exchange_declare(c->conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes("fanout"),
                          false, true, false, false, amqp_empty_table);
    return amqp_ok(c);
}

int amqp_client_bind(struct amqp_client *c, const char *queue, const char *exchange)
{
    amqp_queue_bind(c->conn, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_empty_bytes, amqp_empty_table);
    return amqp_ok(c);
}

int amqp_client_declare_inqueue(struct amqp_client *c, const char *queue)
{
    char dlx[300];
    snprintf(dlx, sizeof dlx, "dead-%s", queue);
    amqp_table_entry_t e = {
        .key = amqp_cstring_bytes("x-dead-letter-exchange"),
        .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = amqp_cstring_bytes(dlx)}}};
    amqp_table_t args = {.num_entries = 1, .entries = &e};
    amqp_queue_declare(c->conn, 1, amqp_cstring_bytes(queue), false, true, false, false, args);
    return amqp_ok(c);
}

int amqp_client_declare_plain(struct amqp_client *c, const char *queue)
{
    amqp_queue_declare(c->conn, 1, amqp_cstring_bytes(queue), false, true, false, false,
                       amqp_empty_table);
    return amqp_ok(c);
}

int amqp_client_consume(struct amqp_client *c, const char *queue)
{
    amqp_basic_consume(c->conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, false, true, false,
                       amqp_empty_table);
    return amqp_ok(c);
}

int amqp_client_send(struct amqp_client *c, const char *queue, const char *data)
{
    return amqp_basic_publish(c->conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), false, false,
                              NULL, amqp_cstring_bytes(data)) == AMQP_STATUS_OK
               ? 0
               : -1;
}

char *amqp_client_wait(struct amqp_client *c, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    amqp_envelope_t env;
    amqp_maybe_release_buffers(c->conn);
    amqp_rpc_reply_t r = amqp_consume_message(c->conn, &env, &tv, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return NULL;
    char *out = calloc(1, env.message.body.len + 1);
    memcpy(out, env.message.body.bytes, env.message.body.len);
    amqp_destroy_envelope(&env);
    return out;
}

int amqp_client_count(struct amqp_client *c, const char *queue)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, 1, amqp_cstring_bytes(queue), true,
                                                     false, false, false, amqp_empty_table);
    return ok ? (int)ok->message_count : -1;
}

void amqp_client_purge(const char *url, const char *queue)
{
    struct amqp_client c;
    if (amqp_client_open(&c, url) != 0)
        return;
    amqp_queue_purge(c.conn, 1, amqp_cstring_bytes(queue)); /* none there: the channel closes */
    amqp_client_close(&c);
}

void amqp_client_close(struct amqp_client *c)
{
    if (!c->conn)
        return;
    amqp_channel_close(c->conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c->conn);
    c->conn = NULL;
}

json_t *support_discovery_for(const char *text, const char *role)
{
    json_t *msg = json_loads(text, 0, NULL);
    json_t *payload = json_object_get(msg, "payload");
    const char *r = json_string_value(json_object_get(payload, "role"));
    const char *proto = json_string_value(json_object_get(msg, "protocol"));
    if (!r || strcmp(r, role) != 0 || !proto || strcmp(proto, "discovery") != 0) {
        json_decref(msg);
        return NULL;
    }
    json_incref(payload);
    json_decref(msg);
    return payload;
}

/* --- a program run to its end ----------------------------------------------- */

void support_run_stderr(char *const argv[], int ms, struct support_run *r)
{
    int err[2];
    memset(r, 0, sizeof *r);
    if (pipe(err) != 0) {
        perror("support_run_stderr: pipe");
        abort();
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    long long start = now_ms();
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(err[1]);
    if (rc != 0) {
        fprintf(stderr, "support_run_stderr: cannot run %s: %s\n", argv[0], strerror(rc));
        abort();
    }
    long long deadline = start + ms;
    size_t used = 0;
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = err[0], .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
            continue;
        ssize_t n = read(err[0], r->err + used, sizeof r->err - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        r->err[used] = '\0';
    }
    if (now_ms() >= deadline)
        kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    r->took_ms = now_ms() - start;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    close(err[0]);
}

/* --- a private mosquitto ------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int support_mosquitto_prepare(struct support_mosquitto *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/test_mosquitto_XXXXXX");
    if (!mkdtemp(b->dir) || (b->port = free_port()) < 0)
        return -1;
    snprintf(b->url, sizeof b->url, "mqtt://127.0.0.1:%d", b->port);
    return 0;
}

int support_mosquitto_new(struct support_mosquitto *b, const char *extra)
{
    return support_mosquitto_prepare(b) == 0 ? support_mosquitto_start(b, extra) : -1;
}

int support_mosquitto_start(struct support_mosquitto *b, const char *extra)
{
    char path[128];
    snprintf(path, sizeof path, "%s/mosquitto.conf", b->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "log_dest file %s/log\n%s",
            b->port, b->dir, extra ? extra : "");
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    fclose(f);
    /* MSGFLO_TEST_MOSQUITTO: another broker (tests/integration/mosquitto-newer). */
    const char *bin = getenv("MSGFLO_TEST_MOSQUITTO");
    if (!bin || !*bin)
        bin = access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto"
                                                       : "/usr/local/sbin/mosquitto";
    char *argv[] = {(char *)bin, "-c", path, NULL};
    if (child_start(&b->proc, argv) != 0)
        return -1;
    for (int i = 0; i < 200 && !port_open(b->port); i++)
        usleep(20000);
    return port_open(b->port) ? 0 : -1;
}

int support_mosquitto_stop(struct support_mosquitto *b)
{
    return child_stop(&b->proc, SIGTERM);
}

void support_mosquitto_free(struct support_mosquitto *b)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", b->dir);
}

int support_file_count(const char *path, const char *needle)
{
    static char buf[1 << 18];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    int k = 0;
    for (const char *at = buf; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        k++;
    return k;
}

bool support_file_wait(const char *path, const char *needle, int times, int timeout_ms)
{
    for (int i = 0; i <= timeout_ms / 50; i++) {
        if (support_file_count(path, needle) >= times)
            return true;
        usleep(50000);
    }
    return false;
}
