/* Administration off the event loop; see admin_worker.h. */
#include "transport/admin_worker.h"

#include "core/log.h"
#include "msgflo/errors.h"
#include "transport/amqp_topology.h"

#include <pthread.h>
#include <stdlib.h>

#define NS "msgflo:admin"

/* One job. Until it starts it waits for the data connection's replies
 * (`waiting`); then it runs on `thread` (or, without a thread, on the loop
 * thread) and `wake` brings its end to the loop. */
struct job {
    struct admin_worker *w;
    pthread_t thread;
    uv_async_t *wake; /* the loop's: on_job_done; closed by the loop */
    pthread_mutex_t lock;
    bool waiting;  /* for transport_when_replied */
    bool threaded; /* `thread` runs (else the job ran on the loop thread) */
    bool finished; /* the thread is done with the worker (lock) */
    bool orphaned; /* admin_worker__free came first: the thread frees all (lock) */
    admin_worker_fn *work;
    void (*done)(void *arg);
    void (*free_arg)(void *arg);
    void *arg;
    struct log_capture logs; /* what the thread logged, written by the loop */
};

struct admin_worker {
    struct transport *t;
    uv_loop_t *loop;
    /* owned by the job's thread while `job` runs, else by the loop thread */
    struct amqp_topology *conn;
    msgflo_url *node;
    struct job *job;
    void (*release)(void *ud); /* admin_worker__free during a job */
    void *release_ud;
};

int admin_worker__new(struct transport *t, uv_loop_t *loop, struct admin_worker **out)
{
    if (t && !transport_has_bindings(t))
        return MSGFLO_EINVAL;
    struct admin_worker *w = calloc(1, sizeof *w);
    if (!w)
        return MSGFLO_ENOMEM;
    w->t = t;
    w->loop = loop;
    *out = w;
    return 0;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void discard_logs(struct log_capture *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->records[i].text);
    free(c->records);
}

static void free_job(struct job *j)
{
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* The worker after its job was orphaned (on whichever thread ends it). */
static void destroy(struct admin_worker *w)
{
    amqp_topology__free(w->conn, false);
    msgflo_url_free(w->node);
    if (w->release)
        w->release(w->release_ud);
    free(w);
}

static void *job_thread(void *arg)
{
    struct job *j = arg;
    struct admin_worker *w = j->w;
    log__capture_begin(&j->logs);
    j->work(&w->conn, w->node, j->arg);
    log__capture_end();
    pthread_mutex_lock(&j->lock);
    bool orphaned = j->orphaned;
    j->finished = true;
    if (!orphaned)
        uv_async_send(j->wake);
    pthread_mutex_unlock(&j->lock);
    if (orphaned) { /* the wake handle was closed by admin_worker__free */
        if (j->free_arg)
            j->free_arg(j->arg);
        discard_logs(&j->logs);
        free_job(j);
        destroy(w);
    }
    return NULL;
}

static void on_job_done(uv_async_t *h)
{
    struct job *j = h->data;
    struct admin_worker *w = j->w;
    if (j->threaded)
        pthread_join(j->thread, NULL);
    w->job = NULL;
    uv_close((uv_handle_t *)h, free_handle);
    log__capture_replay(&j->logs);
    void (*done)(void *) = j->done;
    void *arg = j->arg;
    free_job(j);
    done(arg);
}

/* The data connection's replies are in (rc 0), or it is gone: the thread
 * starts. */
static void on_replied(void *arg, int rc)
{
    struct job *j = arg;
    (void)rc;
    j->waiting = false;
    if (j->orphaned) { /* admin_worker__free came first */
        uv_close((uv_handle_t *)j->wake, free_handle);
        if (j->free_arg)
            j->free_arg(j->arg);
        struct admin_worker *w = j->w;
        free_job(j);
        destroy(w);
        return;
    }
    if (pthread_create(&j->thread, NULL, job_thread, j) == 0) {
        j->threaded = true;
        return;
    }
    LOG_WARNING("msgflo:admin",
                "no thread for administration: done on the event loop, blocking it");
    job_thread(j); /* done comes from the loop all the same (wake) */
}

int admin_worker__run(struct admin_worker *w, admin_worker_fn *work, void (*done)(void *arg),
                      void (*free_arg)(void *arg), void *arg)
{
    if (w->job)
        return MSGFLO_EINVAL;
    (void)msgflo_log_enabled("msgflo:amqp"); /* DEBUG read here, on the loop thread */
    msgflo_url *node = NULL;
    int rc = w->t ? transport_admin_node(w->t, &node) : 0;
    if (rc)
        return rc;
    if (w->t && (!w->node || !transport_admin_same_node(w->node, node))) {
        amqp_topology__free(w->conn, false); /* another node: its own connection */
        w->conn = NULL;
        msgflo_url_free(w->node);
        w->node = node;
    } else {
        msgflo_url_free(node);
    }
    struct job *j = calloc(1, sizeof *j);
    uv_async_t *wake = malloc(sizeof *wake);
    if (!j || !wake) {
        free(j);
        free(wake);
        return MSGFLO_ENOMEM;
    }
    *j = (struct job){.w = w,
                      .wake = wake,
                      .waiting = true,
                      .work = work,
                      .done = done,
                      .free_arg = free_arg,
                      .arg = arg};
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        free(j);
        free(wake);
        return MSGFLO_ESYS;
    }
    if (uv_async_init(w->loop, wake, on_job_done) != 0) {
        free_job(j);
        free(wake);
        return MSGFLO_ESYS;
    }
    wake->data = j;
    w->job = j;
    if (!w->t) { /* nothing to wait for: the thread starts now */
        on_replied(j, 0);
        return 0;
    }
    rc = transport_when_replied(w->t, on_replied, j);
    if (rc) {
        w->job = NULL;
        uv_close((uv_handle_t *)wake, free_handle);
        free_job(j);
    }
    return rc;
}

bool admin_worker__busy(const struct admin_worker *w)
{
    return w && w->job != NULL;
}

void admin_worker__free(struct admin_worker *w, void (*release)(void *ud), void *ud)
{
    if (!w)
        return;
    w->release = release;
    w->release_ud = ud;
    struct job *j = w->job;
    if (j && j->waiting) {
        j->orphaned = true; /* the transport still holds the job: on_replied frees all */
        return;
    }
    if (j) {
        /* A job still on its thread (a broker that does not answer): the
         * loop does not wait for it; the thread frees the worker. */
        pthread_mutex_lock(&j->lock);
        bool finished = j->finished;
        /* read before the unlock: an orphaned job's thread may free j at once */
        uv_async_t *wake = j->wake;
        pthread_t thread = j->thread;
        j->orphaned = !finished;
        pthread_mutex_unlock(&j->lock);
        uv_close((uv_handle_t *)wake, free_handle);
        if (!finished) {
            pthread_detach(thread);
            return;
        }
        if (j->threaded)
            pthread_join(j->thread, NULL);
        log__capture_replay(&j->logs);
        if (j->free_arg)
            j->free_arg(j->arg);
        free_job(j);
    }
    destroy(w);
}
