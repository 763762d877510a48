/* The checks every MQTT Repeat participant passes, whatever it is built on:
 * examples/repeat (libmsgflo) in test_mqtt and examples/device_repeat (the
 * device core on libmosquitto) in test_device_mqtt. `program` is the example's
 * name (support_program), `url` the test mosquitto. cmocka assertions. */
#ifndef MSGFLO_TESTS_REPEAT_CHECKS_H
#define MSGFLO_TESTS_REPEAT_CHECKS_H

#include "support.h"

#include <jansson.h>

/* Starts `program ROLE URL` and checks its ready line, the one supervisors
 * wait for: "ROLE(c/Repeat) connected to URL". */
void repeat_start(struct child *c, const char *program, const char *role, const char *url);

/* The next announcement of `role` on `fbp` within timeout_ms, or NULL. */
json_t *repeat_wait_announcement(struct mqtt_client *mc, const char *role, int timeout_ms);

/* It announces the seven keys with ROLE.IN as its inqueue, and bytes in
 * come out the same (JSON or not); SIGTERM stops it cleanly. */
void repeat_check_discovery_and_data(const char *program, const char *url);

/* Re-announced every MSGFLO_DISCOVERY_PERIOD/2.2 s (2.2: about once a second). */
void repeat_check_periodic_discovery(const char *program, const char *url);

/* After a broker restart it reconnects and subscribes again by itself. */
void repeat_check_reconnect_after_restart(const char *program, const char *url);

#endif
