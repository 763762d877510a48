/* The demo's Button (examples/button.c) as a device participant: `pressed`
 * sends true on each press of the board's button, a message on `press`
 * presses it too. */
#ifndef BUTTON_H
#define BUTTON_H

#include "mqtt_client.h"
#include "msgflo/device.h"

#include <stdbool.h>

extern msgflo_device button_device;

/* Sets the participant up on an esp-mqtt client (before it is started). */
int button_init(esp_mqtt_client_handle_t mqtt, const char *role);

/* Every few milliseconds from one task, with the button's level (true:
 * down): runs the device and sends on each press. */
void button_poll(bool down);

#endif
