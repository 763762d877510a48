/* Prometheus text format helpers and the process's own metrics. */
#include "runtime/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void metrics__family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf__printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics__escape(struct strbuf *sb, const char *value)
{
    /* Runs of plain characters in one append: /metrics of 10,000 edges
     * writes 40,000 label values. */
    for (const char *s = value; *s;) {
        size_t n = strcspn(s, "\\\"\n");
        strbuf__append(sb, s, n);
        s += n;
        if (*s == '\\')
            strbuf__puts(sb, "\\\\");
        else if (*s == '"')
            strbuf__puts(sb, "\\\"");
        else if (*s == '\n')
            strbuf__puts(sb, "\\n");
        else
            break;
        s++;
    }
}

/* Writes s (n bytes) escaped at o; returns the end. At most 2 n bytes. */
static char *escape_to(char *o, const char *s, size_t n)
{
    for (const char *end = s + n; s < end;) {
        size_t run = strcspn(s, "\\\"\n");
        memcpy(o, s, run);
        o += run;
        s += run;
        if (s >= end)
            break;
        *o++ = '\\';
        *o++ = *s == '\n' ? 'n' : *s;
        s++;
    }
    return o;
}

void metrics__sample(struct strbuf *sb, const char *name, const char *const *labels, double value)
{
    /* The whole line is written into room made once: /metrics of 10,000
     * edges writes 10,000 lines of four labels each. */
    size_t name_len = strlen(name), need = name_len + 2 + 32; /* {} and the value */
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2)
        need += strlen(labels[i]) + 2 * strlen(labels[i + 1]) + 4; /* ,="" */
    strbuf__reserve(sb, need);
    if (sb->err)
        return;
    char *o = sb->data + sb->len;
    memcpy(o, name, name_len);
    o += name_len;
    if (labels && labels[0]) {
        *o++ = '{';
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
            if (i)
                *o++ = ',';
            size_t n = strlen(labels[i]);
            memcpy(o, labels[i], n);
            o += n;
            *o++ = '=';
            *o++ = '"';
            o = escape_to(o, labels[i + 1], strlen(labels[i + 1]));
            *o++ = '"';
        }
        *o++ = '}';
    }
    sb->len = (size_t)(o - sb->data);
    sb->data[sb->len] = '\0';
    /* Counters up to 2^53 print exactly; other values with 10 digits. */
    if (value >= 0 && value == floor(value) && value < 9007199254740992.0) {
        /* the common case (counts), without printf */
        char digits[24];
        size_t at = sizeof digits;
        digits[--at] = '\n';
        unsigned long long v = (unsigned long long)value;
        do {
            digits[--at] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        digits[--at] = ' ';
        strbuf__append(sb, digits + at, sizeof digits - at);
    } else if (value == floor(value) && fabs(value) < 9007199254740992.0)
        strbuf__printf(sb, " %.0f\n", value);
    else
        strbuf__printf(sb, " %.10g\n", value);
}

/* Fields 22 (starttime, ticks since boot) and 23 (vsize) of /proc/self/stat;
 * the command name (field 2) may hold spaces, so read after its ')'. */
static bool read_stat(double *start_ticks, double *vsize)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    unsigned long long start = 0, vs = 0;
    /* after ')': state (3) ... starttime (22), vsize (23) */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
               "%llu %llu",
               &start, &vs) != 2)
        return false;
    *start_ticks = (double)start;
    *vsize = (double)vs;
    return true;
}

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    double bt = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "btime %llu", &v) == 1) {
            bt = (double)v;
            break;
        }
    }
    fclose(f);
    return bt;
}

void metrics__process(struct strbuf *sb)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        metrics__family(sb, "process_cpu_seconds_total", "counter",
                        "Total user and system CPU time spent in seconds.");
        metrics__sample(sb, "process_cpu_seconds_total", NULL, cpu);
    }
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
            metrics__family(sb, "process_resident_memory_bytes", "gauge",
                            "Resident memory size in bytes.");
            metrics__sample(sb, "process_resident_memory_bytes", NULL,
                            (double)resident * (double)page);
        }
        fclose(f);
    }
    double start_ticks, vsize;
    long hz = sysconf(_SC_CLK_TCK);
    if (read_stat(&start_ticks, &vsize)) {
        metrics__family(sb, "process_virtual_memory_bytes", "gauge",
                        "Virtual memory size in bytes.");
        metrics__sample(sb, "process_virtual_memory_bytes", NULL, vsize);
        double bt = boot_time();
        if (bt >= 0 && hz > 0) {
            metrics__family(sb, "process_start_time_seconds", "gauge",
                            "Start time of the process since unix epoch in seconds.");
            metrics__sample(sb, "process_start_time_seconds", NULL, bt + start_ticks / (double)hz);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        double fds = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            fds += e->d_name[0] != '.';
        closedir(d);
        metrics__family(sb, "process_open_fds", "gauge", "Number of open file descriptors.");
        metrics__sample(sb, "process_open_fds", NULL, fds - 1); /* less the one reading */
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Constant time in the length of `want`. */
static bool same(const char *got, size_t got_len, const char *want)
{
    size_t n = strlen(want);
    unsigned char diff = got_len != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(i < got_len ? got[i] : 0) ^ (unsigned char)want[i];
    return diff == 0;
}

bool metrics__authorized(const char *secret, const char *authorization, const char *query)
{
    if (!secret || !*secret)
        return true;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            n--;
        if (same(t, n, secret))
            return true;
    }
    for (const char *q = query; q && *q;) {
        size_t len = strcspn(q, "&");
        if (len > 7 && strncmp(q, "secret=", 7) == 0) {
            char v[1024];
            size_t o = 0;
            for (size_t i = 7; i < len && o < sizeof v - 1; i++) {
                if (q[i] == '%' && i + 2 < len && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
                    v[o++] = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
                    i += 2;
                } else {
                    v[o++] = q[i] == '+' ? ' ' : q[i];
                }
            }
            if (same(v, o, secret))
                return true;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return false;
}

const char *const metrics__states[METRICS_N_STATES] = {
    "running", "starting", "restarting", "expected", "expired", "failed", "stopping"};

void metrics__count_state(size_t by_state[METRICS_N_STATES], const char *state)
{
    for (size_t i = 0; i < METRICS_N_STATES; i++) {
        if (strcmp(state, metrics__states[i]) == 0) {
            by_state[i]++;
            return;
        }
    }
}

void metrics__nodes(struct strbuf *sb, const size_t by_state[METRICS_N_STATES])
{
    metrics__family(sb, "msgflo_nodes", "gauge",
                    "Nodes (participant roles) of the live graph by state.");
    for (size_t i = 0; i < METRICS_N_STATES; i++) {
        const char *labels[] = {"state", metrics__states[i], NULL};
        metrics__sample(sb, "msgflo_nodes", labels, (double)by_state[i]);
    }
}

static void family(struct strbuf *sb, const char *name, const char *type, const char *help,
                   double value)
{
    metrics__family(sb, name, type, help);
    metrics__sample(sb, name, NULL, value);
}

void metrics__counters(struct strbuf *sb, const struct system_counters *c)
{
    family(sb, "msgflo_participants", "gauge", "Participants known from discovery.",
           (double)c->participants);
    family(sb, "msgflo_roles", "gauge", "Roles known from discovery.", (double)c->roles);
    family(sb, "msgflo_processes", "gauge",
           "Participant processes started by the runtime, running or about to restart.",
           (double)c->processes);
    family(sb, "msgflo_bindings", "gauge", "Queue bindings made by the runtime now.",
           (double)c->bindings);
    family(sb, "msgflo_broker_connected", "gauge", "1 while connected to the broker.",
           c->connected ? 1 : 0);
    family(sb, "msgflo_discovery_messages_total", "counter", "Discovery messages taken in.",
           (double)c->discovery_messages);
    family(sb, "msgflo_discovery_messages_dropped_total", "counter",
           "Discovery messages dropped: invalid, too big or over the limits.",
           (double)c->discovery_dropped);
    family(sb, "msgflo_data_messages_total", "counter",
           "Messages the runtime received on watched or forwarded queues.",
           (double)c->data_messages);
    family(sb, "msgflo_iips_sent_total", "counter", "Initial information packets sent.",
           (double)c->iips_sent);
    family(sb, "msgflo_process_restarts_total", "counter", "Participant processes restarted.",
           (double)c->restarts);
    family(sb, "msgflo_broker_reconnects_total", "counter",
           "Broker connections made again after a loss.", (double)c->reconnects);
}

void metrics__edges(struct strbuf *sb, size_t bound, size_t unbound)
{
    metrics__family(sb, "msgflo_edges", "gauge", "Edges of the live graph by state.");
    const char *b[] = {"state", "bound", NULL}, *u[] = {"state", "unbound", NULL};
    metrics__sample(sb, "msgflo_edges", b, (double)bound);
    metrics__sample(sb, "msgflo_edges", u, (double)unbound);
}

void metrics__respond(struct http_response *resp, struct strbuf *sb)
{
    if (sb->err) {
        strbuf__cleanup(sb);
        resp->status = 500;
        return;
    }
    resp->status = 200;
    resp->content_type = METRICS_CONTENT_TYPE;
    resp->body_len = sb->len;
    resp->body = strbuf__steal(sb);
    strbuf__cleanup(sb);
}
