/* The /msgrouter protocol's control messages and replies (docs/msgrouter.md):
 * addbinding, removebinding, listbindings in; result, bindings, status out. */
#include "msgflo/version.h"
#include "router/router_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *router__type_name(enum router_type type)
{
    return type == ROUTER_ROUNDROBIN ? "roundrobin" : "pubsub";
}

int router__type_parse(const char *name, enum router_type *out)
{
    if (!name || strcmp(name, "pubsub") == 0)
        *out = ROUTER_PUBSUB;
    else if (strcmp(name, "roundrobin") == 0)
        *out = ROUTER_ROUNDROBIN;
    else
        return -1;
    return 0;
}

void router__replies_cleanup(struct router_replies *replies)
{
    for (size_t i = 0; i < replies->n; i++) {
        free(replies->items[i].topic);
        free(replies->items[i].payload);
    }
    replies->n = 0;
}

/* Queues a reply on /msgrouter/<instance>/<what>; takes `body`. */
static void reply(struct router *r, struct router_replies *replies, const char *what, json_t *body)
{
    if (!body || replies->n == sizeof replies->items / sizeof replies->items[0]) {
        json_decref(body);
        return;
    }
    size_t n = strlen(r->control_prefix) + strlen(what) + 1;
    char *topic = malloc(n);
    char *payload = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!topic || !payload) {
        free(topic);
        free(payload);
        return;
    }
    snprintf(topic, n, "%s%s", r->control_prefix, what);
    replies->items[replies->n++] = (struct router_reply){.topic = topic, .payload = payload};
}

static json_t *result(json_t *id, const char *command)
{
    json_t *o = json_object();
    if (id)
        json_object_set(o, "id", id);
    json_object_set_new(o, "command", json_string(command));
    return o;
}

static void error_reply(struct router *r, struct router_replies *replies, json_t *id,
                        const char *command, const char *error)
{
    json_t *o = result(id, command);
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(error));
    reply(r, replies, "result", o);
}

struct change {
    const char *src, *tgt;
    enum router_type type;
};

/* The bindings of a request: {"src","tgt","type"} or {"bindings":[...]}.
 * Returns their number, or -1 with the reason in err. *changes is owned. */
static long read_bindings(json_t *msg, bool with_type, struct change **changes, char *err,
                          size_t errlen)
{
    json_t *list = json_object_get(msg, "bindings");
    json_t *one = NULL;
    size_t n = 1;
    if (list) {
        if (!json_is_array(list)) {
            snprintf(err, errlen, "\"bindings\" must be an array of bindings");
            return -1;
        }
        n = json_array_size(list);
    } else {
        one = msg;
    }
    *changes = calloc(n ? n : 1, sizeof **changes);
    if (!*changes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *b = one ? one : json_array_get(list, i);
        const char *src = json_string_value(json_object_get(b, "src"));
        const char *tgt = json_string_value(json_object_get(b, "tgt"));
        json_t *type = json_object_get(b, "type");
        char where[48] = "";
        if (!one)
            snprintf(where, sizeof where, "bindings[%zu]: ", i);
        if (!json_is_object(b) || !src || !tgt) {
            snprintf(err, errlen, "%sa binding needs \"src\" and \"tgt\" strings", where);
            return -1;
        }
        if (with_type && type && !json_is_string(type)) {
            snprintf(err, errlen, "%s\"type\" must be \"pubsub\" or \"roundrobin\"", where);
            return -1;
        }
        if (with_type && router__type_parse(json_string_value(type), &(*changes)[i].type)) {
            snprintf(err, errlen, "%sunknown binding type '%.40s' (pubsub or roundrobin)", where,
                     json_string_value(type));
            return -1;
        }
        (*changes)[i].src = src;
        (*changes)[i].tgt = tgt;
    }
    return (long)n;
}

/* All or nothing: a refused binding takes back the ones added before it, and
 * the types the ones before it changed. */
static void add_bindings(struct router *r, struct router_replies *replies, json_t *id,
                         const struct change *c, size_t n)
{
    char err[512];
    size_t added = 0, existing = 0;
    /* per change: -1 added by it, else the type its binding had before */
    int *was = calloc(n ? n : 1, sizeof *was);
    if (!was) {
        error_reply(r, replies, id, "addbinding", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        enum router_type before;
        was[i] = router__type_of(r, c[i].src, c[i].tgt, &before) == 0 ? (int)before : -1;
        int rc = router__add(r, c[i].src, c[i].tgt, c[i].type, err, sizeof err);
        if (rc < 0) {
            for (size_t j = i; j-- > 0;) {
                if (was[j] < 0)
                    router__remove(r, c[j].src, c[j].tgt);
                else /* an existing binding: no new error */
                    router__add(r, c[j].src, c[j].tgt, (enum router_type)was[j], NULL, 0);
            }
            error_reply(r, replies, id, "addbinding", rc == -2 ? "out of memory" : err);
            free(was);
            return;
        }
        if (rc == 0)
            added++;
        else
            existing++;
    }
    free(was);
    json_t *o = result(id, "addbinding");
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "added", json_integer((json_int_t)added));
    json_object_set_new(o, "existing", json_integer((json_int_t)existing));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    reply(r, replies, "result", o);
}

static void remove_bindings(struct router *r, struct router_replies *replies, json_t *id,
                            const struct change *c, size_t n)
{
    size_t removed = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (router__remove(r, c[i].src, c[i].tgt) == 0)
            removed++;
        else
            missing++;
    }
    json_t *o = result(id, "removebinding");
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "removed", json_integer((json_int_t)removed));
    json_object_set_new(o, "missing", json_integer((json_int_t)missing));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    reply(r, replies, "result", o);
}

static void list_one(const struct router_binding_info *b, void *ud)
{
    json_t *o = json_object();
    json_object_set_new(o, "src", json_string(b->src));
    json_object_set_new(o, "tgt", json_string(b->tgt));
    json_object_set_new(o, "type", json_string(router__type_name(b->type)));
    json_object_set_new(o, "messages", json_integer((json_int_t)b->messages));
    json_object_set_new(o, "bytes", json_integer((json_int_t)b->bytes));
    json_array_append_new(ud, o);
}

/* The list in one message; a list larger than an MQTT message can carry
 * (hundreds of thousands of long topics) is an error result instead. */
static void list_bindings(struct router *r, struct router_replies *replies, json_t *id)
{
    json_t *o = json_object();
    if (id)
        json_object_set(o, "id", id);
    json_t *list = json_array();
    router__each(r, list_one, list);
    json_object_set_new(o, "bindings", list);
    size_t before = replies->n;
    reply(r, replies, "bindings", o);
    size_t len = replies->n > before ? strlen(replies->items[before].payload) : 0;
    if (len > ROUTER_MAX_MESSAGE) {
        char err[160];
        snprintf(err, sizeof err,
                 "the list of %zu bindings (%zu bytes) is larger than an MQTT message can be",
                 r->count, len);
        free(replies->items[before].topic);
        free(replies->items[before].payload);
        replies->n = before;
        error_reply(r, replies, id, "listbindings", err);
    }
}

void router__control(struct router *r, const char *topic, const void *payload, size_t len,
                     struct router_replies *replies)
{
    replies->n = 0;
    size_t plen = strlen(r->control_prefix);
    if (strncmp(topic, r->control_prefix, plen) != 0)
        return; /* another router's */
    const char *command = topic + plen;
    bool add = strcmp(command, "addbinding") == 0;
    bool remove = strcmp(command, "removebinding") == 0;
    bool list = strcmp(command, "listbindings") == 0;
    if (!add && !remove && !list)
        return; /* our own replies and status, or no command of ours */

    json_error_t jerr;
    json_t *msg = NULL;
    if (len > 0)
        msg = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    else if (list)
        msg = json_object(); /* listbindings needs no body */
    char err[512];
    if (!msg) {
        snprintf(err, sizeof err, "%s: the message is not JSON (%s at offset %d)", command,
                 len ? jerr.text : "empty", len ? jerr.position : 0);
        error_reply(r, replies, NULL, command, err);
        return;
    }
    if (!json_is_object(msg)) {
        error_reply(r, replies, NULL, command, "the message must be a JSON object");
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    if (list) {
        list_bindings(r, replies, id);
        json_decref(msg);
        return;
    }
    struct change *changes = NULL;
    long n = read_bindings(msg, add, &changes, err, sizeof err);
    if (n < 0)
        error_reply(r, replies, id, command, err);
    else if (add)
        add_bindings(r, replies, id, changes, (size_t)n);
    else
        remove_bindings(r, replies, id, changes, (size_t)n);
    free(changes);
    json_decref(msg);
}

int router__status(const struct router *r, char **topic, char **payload)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:[s,s,s,s]}", "router", r->name, "version", MSGFLO_VERSION,
                  "protocol", ROUTER_PROTOCOL_VERSION, "instance", r->instance, "capabilities",
                  "pubsub", "roundrobin", "counters", "chains");
    size_t n = strlen(r->control_prefix) + sizeof "status";
    *topic = malloc(n);
    *payload = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!*topic || !*payload) {
        free(*topic);
        free(*payload);
        *topic = *payload = NULL;
        return -1;
    }
    snprintf(*topic, n, "%sstatus", r->control_prefix);
    return 0;
}
