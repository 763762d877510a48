/* MQTT 5 properties copied inside mosquitto for the plugin's republishing
 * (plugin_properties.c: why libmosquitto's readers are used). */
#ifndef MSGFLO_ROUTER_PLUGIN_PROPERTIES_H
#define MSGFLO_ROUTER_PLUGIN_PROPERTIES_H

#include <mosquitto.h>
#include <stddef.h>

/* Finds libmosquitto's property readers, once. 0, or -1 with why filled in:
 * then plugin_properties__copy says MOSQ_ERR_NOT_SUPPORTED. */
int plugin_properties__open(char *why, size_t why_size);
/* Once per plugin_properties__open that returned 0. */
void plugin_properties__close(void);
/* *to: a copy of from made with the broker's adders (NULL for none), which
 * the caller frees with mosquitto_property_free_all unless the broker took
 * it. MOSQ_ERR_SUCCESS or an error; on error *to is NULL. */
int plugin_properties__copy(const mosquitto_property *from, mosquitto_property **to);

#endif
