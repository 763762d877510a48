/* libFuzzer target: the /msgrouter control messages (router_protocol.c) and
 * routing (router.c). The input is a sequence of records separated by
 * newlines: "a <json>" addbinding, "r <json>" removebinding, "l" list,
 * "m <topic>" a message on topic. After each step the table stays sound: the
 * count matches the listed bindings, a refused request changes nothing, and
 * no message is ever routed to a control topic. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_one(const struct router_binding_info *b, void *ud)
{
    (void)b;
    (*(size_t *)ud)++;
}

static size_t listed(const struct router *r)
{
    size_t n = 0;
    router__each(r, count_one, &n);
    return n;
}

static void control(struct router *r, const char *command, const char *body, size_t len)
{
    char topic[64];
    snprintf(topic, sizeof topic, "/msgrouter/default/%s", command);
    size_t before = router__count(r);
    struct router_replies rep;
    router__control(r, topic, body, len, &rep);
    if (rep.n != 1)
        abort(); /* every request of ours gets exactly one reply */
    json_t *o = json_loads(rep.items[0].payload, 0, NULL);
    if (!o)
        abort(); /* replies are JSON */
    json_t *ok = json_object_get(o, "ok");
    if (json_is_false(ok) && router__count(r) != before)
        abort(); /* a refusal changes nothing */
    json_decref(o);
    router__replies_cleanup(&rep);
    if (listed(r) != router__count(r))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct router *r;
    if (router__new(NULL, "fuzz", &r))
        return 0;
    char *text = malloc(size + 1);
    if (!text) {
        router__free(r);
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *line = text;
    while (line < text + size) {
        size_t len = strcspn(line, "\n");
        char *end = line + len;
        *end = '\0';
        const char *arg = len > 2 ? line + 2 : "";
        size_t arg_len = len > 2 ? len - 2 : 0;
        if (line[0] == 'a')
            control(r, "addbinding", arg, arg_len);
        else if (line[0] == 'r')
            control(r, "removebinding", arg, arg_len);
        else if (line[0] == 'l')
            control(r, "listbindings", arg, arg_len);
        else if (line[0] == 'm') {
            const char *const *targets;
            size_t n = router__route(r, arg, arg_len, &targets);
            for (size_t i = 0; i < n; i++)
                if (router__is_control(r, targets[i]) || strpbrk(targets[i], "+#"))
                    abort();
        }
        line = end + 1;
    }
    free(text);
    router__free(r);
    return 0;
}
