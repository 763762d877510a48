/* The poll loop of msgflo-guv; see runner.h. */
#include "guv/runner.h"

#include "core/log.h"
#include "guv/act_command.h"
#include "guv/governor.h"
#include "guv/report.h"
#include "msgflo/errors.h"
#include "runtime/metrics.h"
#include "transport/admin.h"
#include "transport/admin_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS "msgflo:guv"

struct role_run {
    struct guv_runner *r;
    size_t index;
    int current; /* command and dry-run modes: what was set, GUV_NONE unknown */
    int pending; /* command mode: the number a running command sets, GUV_NONE none */
    unsigned long long changes, errors; /* scalings asked; polls that failed */
};

struct guv_runner {
    uv_loop_t *loop;
    struct transport *t;
    struct guv_runner_options o;
    char *command, *publish;
    struct guv_governor gov;
    struct role_run *roles;
    struct guv_poll *polls;
    struct guv_state *states;
    uv_timer_t timer;
    /* statistics, asked on the worker's thread, not the loop: AMQP's, or
     * the management API's (`http`, owned; with a worker of no transport).
     * NULL: MQTT */
    struct admin_worker *worker;
    struct guv_http_stats *http;
    bool started, stopping, timer_closed, polled_once;
    int running; /* commands */
    void (*done)(void *ud);
    void *done_ud;
};

static void print(struct guv_runner *r, const char *line)
{
    if (r->o.print)
        r->o.print(line, r->o.ud);
}

static void check_finished(struct guv_runner *r)
{
    if (r->running > 0)
        return;
    if (r->stopping && r->timer_closed && r->done) {
        void (*done)(void *) = r->done;
        r->done = NULL;
        done(r->done_ud);
        return;
    }
    if (r->o.oneshot && r->polled_once && !r->stopping && r->o.finished) {
        void (*finished)(void *) = r->o.finished;
        r->o.finished = NULL;
        finished(r->o.ud);
    }
}

static void on_command_done(int status, void *ud)
{
    struct role_run *rr = ud;
    struct guv_runner *r = rr->r;
    const struct guv_role *role = &r->o.cfg->roles[rr->index];
    char line[512];
    if (status == 0) {
        rr->current = rr->pending;
        snprintf(line, sizeof line, "%s: command set %d workers", role->name, rr->pending);
    } else if (status == -1000) {
        snprintf(line, sizeof line, "%s: command could not be run; workers unchanged", role->name);
    } else if (status < 0) {
        snprintf(line, sizeof line, "%s: command killed by signal %d; workers unchanged",
                 role->name, -status);
    } else {
        snprintf(line, sizeof line, "%s: command failed with exit status %d; workers unchanged",
                 role->name, status);
    }
    if (status != 0)
        LOG_WARNING(NS, "%s", line);
    print(r, line);
    rr->pending = GUV_NONE;
    r->running--;
    check_finished(r);
}

static int current_of(struct guv_runner *r, size_t i)
{
    if (r->o.act == GUV_ACT_LOCAL)
        return guv_local__current(r->o.local, r->o.cfg->roles[i].name);
    return r->roles[i].current;
}

static void act(struct guv_runner *r, size_t i, int next)
{
    const struct guv_role *role = &r->o.cfg->roles[i];
    struct role_run *rr = &r->roles[i];
    char line[512];
    switch (r->o.act) {
    case GUV_ACT_DRY_RUN:
        rr->current = next;
        return;
    case GUV_ACT_LOCAL: {
        int rc = guv_local__set(r->o.local, role->name, next);
        if (rc != 0) {
            snprintf(line, sizeof line, "%s: cannot set %d workers: %s", role->name, next,
                     msgflo_strerror(rc));
            LOG_WARNING(NS, "%s", line);
            print(r, line);
        }
        return;
    }
    case GUV_ACT_COMMAND: {
        char *cmd = NULL;
        int rc = guv_command__expand(r->command, role, next, &cmd);
        if (rc == 0)
            rc = guv_command__run(r->loop, cmd, on_command_done, rr);
        if (rc == 0) {
            snprintf(line, sizeof line, "%s: running %s", role->name, cmd);
            print(r, line);
            rr->pending = next;
            r->running++;
        } else {
            LOG_ERROR(NS, "%s: cannot run the command: %s", role->name, msgflo_strerror(rc));
        }
        free(cmd);
        return;
    }
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void publish(struct guv_runner *r, size_t i)
{
    json_t *o = guv_report__json(&r->o.cfg->roles[i], &r->polls[i], &r->states[i], now_seconds());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = text ? transport_publish(r->t, r->publish, text, strlen(text)) : MSGFLO_ENOMEM;
    if (rc != 0)
        LOG_WARNING(NS, "cannot publish the decision of %s on %s: %s", r->o.cfg->roles[i].name,
                    r->publish, msgflo_strerror(rc));
    free(text);
    json_decref(o);
}

/* One role's statistics. */
static void record(struct guv_runner *r, size_t i, int status, uint64_t length, int consumers)
{
    struct guv_poll *p = &r->polls[i];
    p->status = status;
    /* A queue nobody declared yet holds nothing; its workers declare it. */
    p->missing = p->status == MSGFLO_ENOPORT;
    if (p->missing)
        p->status = 0;
    p->queue_length = length;
    p->consumers = p->status == 0 ? consumers : GUV_NONE;
    p->current = current_of(r, i);
    /* A command still running: its number is the one to compare with. */
    if (r->o.act == GUV_ACT_COMMAND && r->roles[i].pending != GUV_NONE)
        p->current = r->roles[i].pending;
}

/* The governor's step on the statistics recorded, its lines and actions. */
static void decide(struct guv_runner *r)
{
    const struct guv_config *cfg = r->o.cfg;
    guv_governor__step(&r->gov, r->polls, r->states);
    for (size_t i = 0; i < cfg->n_roles; i++) {
        char line[1024];
        guv_report__line(&cfg->roles[i], &r->polls[i], &r->states[i], line, sizeof line);
        print(r, line);
        if (r->publish)
            publish(r, i);
        if (r->polls[i].status != 0)
            r->roles[i].errors++;
        int next = r->states[i].next;
        if (next == GUV_NONE)
            continue;
        r->roles[i].changes++;
        if (r->o.act == GUV_ACT_COMMAND && r->roles[i].pending != GUV_NONE) {
            LOG_INFO(NS, "%s: the previous command still runs; not scaling now",
                     cfg->roles[i].name);
            continue;
        }
        act(r, i, next);
    }
    r->polled_once = true;
}

static const char *queue_of(const struct guv_role *role)
{
    return role->queue ? role->queue : role->name;
}

/* The statistics of every role, asked on the worker's thread: from the
 * management API when `http` is set, else by passive declares. */
struct stats_job {
    struct guv_runner *r;        /* read on the loop thread only */
    struct guv_http_stats *http; /* the runner's; the thread's while the job runs */
    size_t n;
    char **queues;
    int *status;
    uint64_t *length;
    int *consumers;
};

static void stats_job_free(void *arg)
{
    struct stats_job *j = arg;
    if (!j)
        return;
    for (size_t i = 0; j->queues && i < j->n; i++)
        free(j->queues[i]);
    free(j->queues);
    free(j->status);
    free(j->length);
    free(j->consumers);
    free(j);
}

static struct stats_job *stats_job_new(struct guv_runner *r)
{
    const struct guv_config *cfg = r->o.cfg;
    struct stats_job *j = calloc(1, sizeof *j);
    size_t n = cfg->n_roles ? cfg->n_roles : 1;
    if (!j)
        return NULL;
    j->r = r;
    j->http = r->http;
    j->n = cfg->n_roles;
    j->queues = calloc(n, sizeof *j->queues);
    j->status = calloc(n, sizeof *j->status);
    j->length = calloc(n, sizeof *j->length);
    j->consumers = calloc(n, sizeof *j->consumers);
    bool failed = !j->queues || !j->status || !j->length || !j->consumers;
    for (size_t i = 0; !failed && i < j->n; i++)
        failed = !(j->queues[i] = strdup(queue_of(&cfg->roles[i])));
    if (failed) {
        stats_job_free(j);
        return NULL;
    }
    return j;
}

/* On the worker's thread. A connection that cannot be opened fails the
 * roles after it too, without trying again (each try may wait 20 s). The
 * management API is asked for every role, as before (up to 5 s each). */
static void stats_work(struct amqp_topology **conn, const msgflo_url *node, void *arg)
{
    struct stats_job *j = arg;
    int down = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (j->http) {
            j->status[i] =
                guv_http_stats__queue(j->http, j->queues[i], &j->length[i], &j->consumers[i]);
            continue;
        }
        uint32_t ready = 0, consumers = 0;
        j->status[i] =
            down ? down : transport_queue_stats_on(conn, node, j->queues[i], &ready, &consumers);
        j->length[i] = ready;
        j->consumers[i] = (int)consumers;
        if (j->status[i] == MSGFLO_ENOTCONN && !*conn)
            down = MSGFLO_ENOTCONN;
    }
}

/* On the loop thread, after stats_work. */
static void stats_done(void *arg)
{
    struct stats_job *j = arg;
    struct guv_runner *r = j->r;
    if (!r->stopping) {
        for (size_t i = 0; i < j->n; i++)
            record(r, i, j->status[i], j->length[i], j->consumers[i]);
        decide(r);
        if (r->o.oneshot)
            check_finished(r);
    }
    stats_job_free(j);
}

static void poll_once(struct guv_runner *r)
{
    const struct guv_config *cfg = r->o.cfg;
    if (r->worker) {
        if (admin_worker__busy(r->worker)) {
            LOG_INFO(NS, "the last poll still waits for the broker; not polling now");
            return;
        }
        struct stats_job *j = stats_job_new(r);
        int rc = j ? admin_worker__run(r->worker, stats_work, stats_done, stats_job_free, j)
                   : MSGFLO_ENOMEM;
        if (rc == 0)
            return; /* stats_done goes on */
        stats_job_free(j);
        for (size_t i = 0; i < cfg->n_roles; i++)
            record(r, i, rc, 0, 0);
        decide(r);
        return;
    }
    for (size_t i = 0; i < cfg->n_roles; i++) { /* MQTT: no queue depth, at once */
        uint32_t ready = 0, n = 0;
        int status = transport_queue_stats(r->t, queue_of(&cfg->roles[i]), &ready, &n);
        record(r, i, status, ready, (int)n);
    }
    decide(r);
}

static void on_timer(uv_timer_t *t)
{
    struct guv_runner *r = t->data;
    if (r->stopping)
        return;
    if (r->o.oneshot && r->polled_once)
        return;
    poll_once(r);
    if (r->o.oneshot)
        check_finished(r);
}

int guv_runner__new(uv_loop_t *loop, struct transport *t, const struct guv_runner_options *o,
                    struct guv_runner **out)
{
    *out = NULL;
    if (!loop || !t || !o || !o->cfg || (o->act == GUV_ACT_LOCAL && !o->local) ||
        (o->act == GUV_ACT_COMMAND && (!o->command || !o->command[0])))
        return MSGFLO_EINVAL;
    struct guv_runner *r = calloc(1, sizeof *r);
    if (!r)
        return MSGFLO_ENOMEM;
    r->loop = loop;
    r->t = t;
    r->o = *o;
    size_t n = o->cfg->n_roles ? o->cfg->n_roles : 1;
    r->roles = calloc(n, sizeof *r->roles);
    r->polls = calloc(n, sizeof *r->polls);
    r->states = calloc(n, sizeof *r->states);
    if (o->command)
        r->command = strdup(o->command);
    if (o->publish)
        r->publish = strdup(o->publish);
    r->o.command = r->command;
    r->o.publish = r->publish;
    if (!r->roles || !r->polls || !r->states || (o->command && !r->command) ||
        (o->publish && !r->publish) || guv_governor__init(&r->gov, o->cfg) != 0) {
        guv_runner__free(r); /* the governor is zeroed or cleaned up */
        return MSGFLO_ENOMEM;
    }
    for (size_t i = 0; i < o->cfg->n_roles; i++) {
        r->roles[i].r = r;
        r->roles[i].index = i;
        r->roles[i].current = GUV_NONE;
        r->roles[i].pending = GUV_NONE;
    }
    if ((o->http || transport_has_bindings(t)) &&
        admin_worker__new(o->http ? NULL : t, loop, &r->worker) != 0) {
        guv_runner__free(r);
        return MSGFLO_ENOMEM;
    }
    r->http = o->http; /* ours from here on */
    r->o.http = NULL;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    *out = r;
    return 0;
}

void guv_runner__connected(struct guv_runner *r)
{
    if (r->stopping)
        return;
    if (r->publish) {
        int rc = transport_declare_outqueue(r->t, r->publish);
        if (rc != 0)
            LOG_WARNING(NS, "cannot declare %s for the decisions: %s", r->publish,
                        msgflo_strerror(rc));
    }
    if (r->started)
        return;
    r->started = true;
    uint64_t interval = guv_governor__interval_ms(&r->gov);
    uv_timer_start(&r->timer, on_timer, 0, r->o.oneshot ? 0 : interval);
}

static void free_http(void *ud)
{
    guv_http_stats__free(ud);
}

/* The worker, and the management API client once no job uses it (on the
 * job's thread when it ends after this). */
static void free_worker(struct guv_runner *r)
{
    if (r->worker)
        admin_worker__free(r->worker, free_http, r->http);
    else
        guv_http_stats__free(r->http);
    r->worker = NULL;
    r->http = NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct guv_runner *r = h->data;
    r->timer_closed = true;
    check_finished(r);
}

void guv_runner__stop(struct guv_runner *r, void (*done)(void *ud), void *ud)
{
    if (r->stopping)
        return;
    r->stopping = true;
    r->done = done;
    r->done_ud = ud;
    /* A poll still waiting for the broker ends on its own, unheeded: the
     * loop need not wait for it. */
    free_worker(r);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

void guv_runner__metrics(const struct guv_runner *r, struct strbuf *sb)
{
    const struct guv_config *cfg = r->o.cfg;
    metrics__family(sb, "msgflo_guv_polls_total", "counter", "Polls of the queues.");
    metrics__sample(sb, "msgflo_guv_polls_total", NULL, (double)r->gov.polls);
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"msgflo_guv_queue_messages", "gauge", "Messages in the role's queue at the last poll."},
        {"msgflo_guv_queue_consumers", "gauge", "Consumers on the role's queue at the last poll."},
        {"msgflo_guv_workers", "gauge", "Workers of the role at the last poll."},
        {"msgflo_guv_workers_wanted", "gauge", "Workers the last poll asked for."},
        {"msgflo_guv_scalings_total", "counter", "Changes of the number of workers asked."},
        {"msgflo_guv_poll_errors_total", "counter", "Polls whose queue statistics failed."},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        metrics__family(sb, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; r->polled_once && i < cfg->n_roles; i++) {
            const struct guv_role *role = &cfg->roles[i];
            const struct guv_poll *p = &r->polls[i];
            const struct guv_state *s = &r->states[i];
            const char *labels[] = {"role", role->name, "queue",
                                    role->queue ? role->queue : role->name, NULL};
            double v;
            switch (f) {
            case 0:
                v = p->status == 0 ? (double)p->queue_length : -1;
                break;
            case 1:
                v = p->consumers != GUV_NONE ? p->consumers : -1;
                break;
            case 2:
                v = p->current != GUV_NONE ? p->current : -1;
                break;
            case 3:
                v = s->estimate != GUV_NONE ? s->estimate : -1;
                break;
            case 4:
                v = (double)r->roles[i].changes;
                break;
            default:
                v = (double)r->roles[i].errors;
            }
            if (v >= 0) /* unknown: left out */
                metrics__sample(sb, families[f].name, labels, v);
        }
    }
    metrics__process(sb);
}

void guv_runner__free(struct guv_runner *r)
{
    if (!r)
        return;
    free_worker(r); /* a poll under way ends on its own */
    guv_governor__cleanup(&r->gov);
    free(r->roles);
    free(r->polls);
    free(r->states);
    free(r->command);
    free(r->publish);
    free(r);
}
