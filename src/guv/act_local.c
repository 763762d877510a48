/* Local worker pools on the supervisor; see act_local.h. */
#include "guv/act_local.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "msgflo:guv"

struct worker {
    struct local_role *role;
    char name[160]; /* "<role>.<n>" */
    bool started;
};

struct local_role {
    struct guv_local *pool;
    char *name;
    char *command;
    struct worker **workers; /* oldest first */
    size_t n_workers, cap_workers;
    unsigned long next_index;
};

struct guv_local {
    struct supervisor *sup;
    struct local_role *roles;
    size_t n_roles;
};

int guv_local__new(struct supervisor *sup, struct guv_local **out)
{
    *out = NULL;
    if (!sup)
        return MSGFLO_EINVAL;
    struct guv_local *l = calloc(1, sizeof *l);
    if (!l)
        return MSGFLO_ENOMEM;
    l->sup = sup;
    *out = l;
    return 0;
}

static struct local_role *find_role(const struct guv_local *l, const char *role)
{
    for (size_t i = 0; l && i < l->n_roles; i++)
        if (strcmp(l->roles[i].name, role) == 0)
            return &l->roles[i];
    return NULL;
}

int guv_local__add_role(struct guv_local *l, const char *role, const char *command)
{
    if (!role || !role[0] || !command || !command[0] || find_role(l, role))
        return MSGFLO_EINVAL;
    struct local_role *roles = realloc(l->roles, (l->n_roles + 1) * sizeof *roles);
    if (!roles)
        return MSGFLO_ENOMEM;
    l->roles = roles;
    struct local_role *r = &roles[l->n_roles];
    memset(r, 0, sizeof *r);
    r->name = strdup(role);
    r->command = strdup(command);
    if (!r->name || !r->command) {
        free(r->name);
        free(r->command);
        return MSGFLO_ENOMEM;
    }
    r->pool = l;
    r->next_index = 1;
    l->n_roles++;
    /* The workers point at their role: fix them up after the move. */
    for (size_t i = 0; i < l->n_roles; i++)
        for (size_t j = 0; j < roles[i].n_workers; j++)
            roles[i].workers[j]->role = &roles[i];
    return 0;
}

int guv_local__current(const struct guv_local *l, const char *role)
{
    const struct local_role *r = find_role(l, role);
    return r ? (int)r->n_workers : -1;
}

int guv_local__started(const struct guv_local *l, const char *role)
{
    const struct local_role *r = find_role(l, role);
    if (!r)
        return -1;
    int n = 0;
    for (size_t i = 0; i < r->n_workers; i++)
        n += r->workers[i]->started;
    return n;
}

/* Takes worker w out of its role's list (it is no longer counted). */
static void unlist(struct worker *w)
{
    struct local_role *r = w->role;
    for (size_t i = 0; i < r->n_workers; i++) {
        if (r->workers[i] == w) {
            memmove(&r->workers[i], &r->workers[i + 1],
                    (r->n_workers - i - 1) * sizeof *r->workers);
            r->n_workers--;
            return;
        }
    }
}

static void on_started(const char *name, const char *line, void *ud)
{
    struct worker *w = ud;
    w->started = true;
    LOG_INFO(NS, "worker %s started: %s", name, line);
}

static void on_exit_cb(const char *name, int status, bool will_restart, void *ud)
{
    struct worker *w = ud;
    w->started = false;
    LOG_WARNING(NS, "worker %s exited (%d)%s", name, status, will_restart ? "; restarting" : "");
    if (!will_restart) {
        unlist(w);
        supervisor__stop(w->role->pool->sup, name, NULL, NULL); /* forget it */
        free(w);
    }
}

static void on_error(const char *name, const char *message, void *ud)
{
    struct worker *w = ud;
    LOG_WARNING(NS, "worker %s: %s", name, message);
    unlist(w);
    supervisor__stop(w->role->pool->sup, name, NULL, NULL); /* forget it */
    free(w);
}

static const struct supervisor_callbacks worker_callbacks = {on_started, on_exit_cb, on_error};

static int start_one(struct local_role *r)
{
    if (r->n_workers == r->cap_workers) {
        size_t cap = r->cap_workers ? 2 * r->cap_workers : 8;
        struct worker **ws = realloc(r->workers, cap * sizeof *ws);
        if (!ws)
            return MSGFLO_ENOMEM;
        r->workers = ws;
        r->cap_workers = cap;
    }
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return MSGFLO_ENOMEM;
    w->role = r;
    snprintf(w->name, sizeof w->name, "%s.%lu", r->name, r->next_index++);
    int rc = supervisor__start(r->pool->sup, w->name, r->command, &worker_callbacks, w);
    if (rc != 0) {
        free(w);
        return rc;
    }
    LOG_DEBUG(NS, "starting worker %s: %s", w->name, r->command);
    r->workers[r->n_workers++] = w;
    return 0;
}

static int stop_newest(struct local_role *r)
{
    struct worker *w = r->workers[r->n_workers - 1];
    int rc = supervisor__stop(r->pool->sup, w->name, NULL, NULL);
    /* Once asked to stop, the supervisor reports nothing more of it. */
    LOG_DEBUG(NS, "stopping worker %s", w->name);
    r->n_workers--;
    free(w);
    return rc;
}

int guv_local__set(struct guv_local *l, const char *role, int n)
{
    struct local_role *r = find_role(l, role);
    if (!r || n < 0)
        return MSGFLO_EINVAL;
    int rc = 0;
    while (rc == 0 && r->n_workers < (size_t)n)
        rc = start_one(r);
    while (rc == 0 && r->n_workers > (size_t)n)
        rc = stop_newest(r);
    return rc;
}

void guv_local__free(struct guv_local *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_roles; i++) {
        for (size_t j = 0; j < l->roles[i].n_workers; j++)
            free(l->roles[i].workers[j]);
        free(l->roles[i].workers);
        free(l->roles[i].name);
        free(l->roles[i].command);
    }
    free(l->roles);
    free(l);
}
