/* The coordinator's per-role index: for each role the live graph refers to,
 * its node, edges (as source and as target), watched ports, IIPs and the
 * automatic edges reported for it. A discovery of a role marks only that
 * role's edges and watches for the pump, so N participants announcing cost
 * O(N) however large the graph is. See coordinator_internal.h. */
#include "coord/coordinator_internal.h"

#include <stdlib.h>
#include <string.h>

struct coord_role *coordinator_roles__find(struct coordinator *c, const char *name)
{
    struct coord_role *r;
    HASH_FIND_STR(c->roles, name, r);
    return r;
}

struct coord_role *coordinator_roles__get(struct coordinator *c, const char *name)
{
    struct coord_role *r = coordinator_roles__find(c, name);
    if (r)
        return r;
    size_t len = strlen(name);
    r = calloc(1, sizeof *r + len + 1);
    if (!r)
        return NULL;
    r->name = memcpy(r->text, name, len + 1);
    HASH_ADD_KEYPTR(hh, c->roles, r->name, len, r);
    c->status_records++;
    return r;
}

void coordinator_roles__release(struct coordinator *c, struct coord_role *r)
{
    if (!r || r->pins || r->node || r->out_edges || r->in_edges || r->watches || r->iips ||
        r->found_out || r->found_in)
        return;
    HASH_DEL(c->roles, r);
    c->status_records++;
    free(r);
}

void coordinator_roles__touch(struct coordinator *c, const char *role)
{
    struct coord_role *r = coordinator_roles__find(c, role);
    if (!r)
        return; /* nothing of the graph refers to it */
    struct edge *e;
    DL_FOREACH2(r->out_edges, e, snext)
    {
        e->failed = false; /* other queues: worth another try */
        coordinator_edges__dirty(c, e);
        coordinator_edges__pending(c, e);
    }
    DL_FOREACH2(r->in_edges, e, tnext)
    {
        e->failed = false;
        coordinator_edges__dirty(c, e);
        coordinator_edges__pending(c, e);
    }
    struct port_watch *w;
    DL_FOREACH2(r->watches, w, rnext)
    {
        coordinator_watches__dirty(c, w);
    }
}

void coordinator_roles__clear(struct coordinator *c)
{
    struct coord_role *r, *tmp;
    HASH_ITER(hh, c->roles, r, tmp)
    {
        HASH_DEL(c->roles, r);
        free(r);
    }
    c->status_records++;
}
