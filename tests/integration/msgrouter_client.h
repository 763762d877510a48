/* A /msgrouter client for the router tests (test_router_plugin: the
 * mosquitto plugin; test_router_daemon: msgflo-router): requests and their
 * replies on /msgrouter/default/, and msgflo-setup run on a private
 * mosquitto. cmocka assertions. */
#ifndef MSGFLO_TESTS_MSGROUTER_CLIENT_H
#define MSGFLO_TESTS_MSGROUTER_CLIENT_H

#include "support.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Connects to b and subscribes to every topic of the default router. */
void router_open_admin(struct mqtt_client *c, const struct support_mosquitto *b);

/* Publishes `payload` on /msgrouter/default/COMMAND and returns the reply on
 * /msgrouter/default/REPLY within 5 s (owned JSON). */
json_t *router_request(struct mqtt_client *c, const char *command, const char *payload,
                       const char *reply);

/* router_request answered on `result`. */
json_t *router_control(struct mqtt_client *c, const char *command, const char *payload);

/* router_control whose result must say ok. */
void router_expect_ok(struct mqtt_client *c, const char *command, const char *payload);

/* How many bindings listbindings lists. */
size_t router_count_bindings(struct mqtt_client *c);

/* Starts msgflo-setup [--forever] --broker b on graph_text (written to
 * b->dir/graph.fbp), stdout and stderr to b->dir/setup.out, with the
 * coordinator's and binder's DEBUG lines. */
void router_setup_start(struct child *s, const struct support_mosquitto *b, const char *graph_text,
                        bool forever);

/* Runs msgflo-setup without --forever and without DEBUG to its end (30 s
 * at most); `out` gets what it printed. Returns its exit status. */
int router_setup_run(const struct support_mosquitto *b, const char *graph_text, char *out,
                     size_t len);

#endif
