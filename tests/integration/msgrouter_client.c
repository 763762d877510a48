/* A /msgrouter client for the router tests; see msgrouter_client.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msgrouter_client.h"

#include <stdio.h>

#define PREFIX "/msgrouter/default/"

void router_open_admin(struct mqtt_client *c, const struct support_mosquitto *b)
{
    assert_int_equal(mqtt_client_open(c, b->url), 0);
    assert_int_equal(mqtt_client_subscribe(c, PREFIX "+"), 0);
}

json_t *router_request(struct mqtt_client *c, const char *command, const char *payload,
                       const char *reply)
{
    char topic[128];
    snprintf(topic, sizeof topic, PREFIX "%s", command);
    assert_int_equal(mqtt_client_publish(c, topic, payload), 0);
    snprintf(topic, sizeof topic, PREFIX "%s", reply);
    char *text = mqtt_client_wait(c, topic, 5000);
    assert_non_null(text);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(o);
    return o;
}

json_t *router_control(struct mqtt_client *c, const char *command, const char *payload)
{
    return router_request(c, command, payload, "result");
}

void router_expect_ok(struct mqtt_client *c, const char *command, const char *payload)
{
    json_t *o = router_control(c, command, payload);
    if (!json_is_true(json_object_get(o, "ok")))
        fail_msg("%s %s: %s", command, payload, json_dumps(o, 0));
    json_decref(o);
}

size_t router_count_bindings(struct mqtt_client *c)
{
    json_t *o = router_request(c, "listbindings", "{}", "bindings");
    size_t n = json_array_size(json_object_get(o, "bindings"));
    json_decref(o);
    return n;
}

static void setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever, bool debug)
{
    char graph[160], setup[512], cmd[1400], out[160];
    snprintf(graph, sizeof graph, "%s/graph.fbp", b->dir);
    snprintf(out, sizeof out, "%s/setup.out", b->dir);
    FILE *f = fopen(graph, "w");
    assert_non_null(f);
    fputs(graph_text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s exec '%s' %s --broker '%s' '%s' >'%s' 2>&1",
             debug ? "DEBUG=msgflo:coordinator,msgflo:binder" : "",
             support_program("msgflo-setup", setup, sizeof setup), forever ? "--forever" : "",
             b->url, graph, out);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(child_start(s, argv), 0);
}

void router_setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever)
{
    setup_start(s, b, graph_text, forever, true);
}

int router_setup_run(const struct support_mosquitto *b, const char *graph_text, char *out,
                     size_t len)
{
    struct child s;
    setup_start(&s, b, graph_text, false, false);
    int status = child_wait(&s, 30000);
    char path[160];
    snprintf(path, sizeof path, "%s/setup.out", b->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    return status;
}
