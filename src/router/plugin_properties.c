/* A message's MQTT 5 properties copied inside mosquitto, for the plugin's
 * republishing, whatever mosquitto 2.0 release loaded it.
 *
 * mosquitto 2.0.11 (Debian 12) exports all of its functions; later 2.0
 * releases (2.0.21: Debian 13, bookworm-backports) export the plugin API
 * only, which adds properties (mosquitto_property_add_*) and frees them but
 * cannot read or copy them. So the properties are read with libmosquitto's
 * own readers, looked up in libmosquitto.so.1 itself, never in the broker
 * (they allocate what they read with calloc, so it is freed with free()), and
 * added with the broker's adders, so that what the broker frees came from its
 * own allocator (it counts its heap). Property types come from libmosquitto's
 * table (mosquitto_string_to_property_info), not from one kept here.
 */
#include "router/plugin_properties.h"

#include <dlfcn.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>

struct readers {
    void *lib;
    const mosquitto_property *(*next)(const mosquitto_property *);
    int (*identifier)(const mosquitto_property *);
    const char *(*name)(int);
    int (*info)(const char *, int *, int *);
    const mosquitto_property *(*byte)(const mosquitto_property *, int, uint8_t *, bool);
    const mosquitto_property *(*int16)(const mosquitto_property *, int, uint16_t *, bool);
    const mosquitto_property *(*int32)(const mosquitto_property *, int, uint32_t *, bool);
    const mosquitto_property *(*varint)(const mosquitto_property *, int, uint32_t *, bool);
    const mosquitto_property *(*binary)(const mosquitto_property *, int, void **, uint16_t *, bool);
    const mosquitto_property *(*string)(const mosquitto_property *, int, char **, bool);
    const mosquitto_property *(*pair)(const mosquitto_property *, int, char **, char **, bool);
};

static struct readers R;
static int users; /* plugin instances that opened R (one .so, several plugin lines) */

/* Stores dlsym's void * into a function pointer as POSIX shows for dlsym
 * (ISO C has no conversion between the two). */
#define LOOKUP(field, symbol)                                                                      \
    do {                                                                                           \
        *(void **)(&R.field) = dlsym(R.lib, symbol);                                               \
        if (!R.field)                                                                              \
            missing = symbol;                                                                      \
    } while (0)

int plugin_properties__open(char *why, size_t why_size)
{
    if (R.lib) {
        users++;
        return 0;
    }
    R.lib = dlopen("libmosquitto.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!R.lib) {
        snprintf(why, why_size, "%s", dlerror());
        return -1;
    }
    const char *missing = NULL;
    LOOKUP(next, "mosquitto_property_next");
    LOOKUP(identifier, "mosquitto_property_identifier");
    LOOKUP(name, "mosquitto_property_identifier_to_string");
    LOOKUP(info, "mosquitto_string_to_property_info");
    LOOKUP(byte, "mosquitto_property_read_byte");
    LOOKUP(int16, "mosquitto_property_read_int16");
    LOOKUP(int32, "mosquitto_property_read_int32");
    LOOKUP(varint, "mosquitto_property_read_varint");
    LOOKUP(binary, "mosquitto_property_read_binary");
    LOOKUP(string, "mosquitto_property_read_string");
    LOOKUP(pair, "mosquitto_property_read_string_pair");
    if (missing) {
        snprintf(why, why_size, "libmosquitto.so.1 has no %s", missing);
        dlclose(R.lib);
        R = (struct readers){0};
        return -1;
    }
    users = 1;
    return 0;
}

void plugin_properties__close(void)
{
    if (!R.lib || --users > 0)
        return;
    dlclose(R.lib);
    R = (struct readers){0};
}

/* Adds one property read from p (identifier id, of the given type) to *to. */
static int copy_one(const mosquitto_property *p, int id, int type, mosquitto_property **to)
{
    switch (type) {
    case MQTT_PROP_TYPE_BYTE: {
        uint8_t v;
        return R.byte(p, id, &v, false) ? mosquitto_property_add_byte(to, id, v) : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_INT16: {
        uint16_t v;
        return R.int16(p, id, &v, false) ? mosquitto_property_add_int16(to, id, v) : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_INT32: {
        uint32_t v;
        return R.int32(p, id, &v, false) ? mosquitto_property_add_int32(to, id, v) : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_VARINT: {
        uint32_t v;
        return R.varint(p, id, &v, false) ? mosquitto_property_add_varint(to, id, v)
                                          : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_BINARY: {
        void *v = NULL;
        uint16_t len = 0;
        int rc = R.binary(p, id, &v, &len, false) ? mosquitto_property_add_binary(to, id, v, len)
                                                  : MOSQ_ERR_INVAL;
        free(v);
        return rc;
    }
    case MQTT_PROP_TYPE_STRING: {
        char *v = NULL;
        int rc =
            R.string(p, id, &v, false) ? mosquitto_property_add_string(to, id, v) : MOSQ_ERR_INVAL;
        free(v);
        return rc;
    }
    case MQTT_PROP_TYPE_STRING_PAIR: {
        char *k = NULL, *v = NULL;
        int rc = R.pair(p, id, &k, &v, false) ? mosquitto_property_add_string_pair(to, id, k, v)
                                              : MOSQ_ERR_INVAL;
        free(k);
        free(v);
        return rc;
    }
    default:
        return MOSQ_ERR_INVAL;
    }
}

int plugin_properties__copy(const mosquitto_property *from, mosquitto_property **to)
{
    *to = NULL;
    if (!from)
        return MOSQ_ERR_SUCCESS;
    if (!R.lib)
        return MOSQ_ERR_NOT_SUPPORTED;
    for (const mosquitto_property *p = from; p; p = R.next(p)) {
        int id = R.identifier(p), type = 0, listed;
        const char *name = R.name(id);
        int rc = name && R.info(name, &listed, &type) == MOSQ_ERR_SUCCESS
                     ? copy_one(p, id, type, to)
                     : MOSQ_ERR_INVAL;
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_property_free_all(to);
            return rc;
        }
    }
    return MOSQ_ERR_SUCCESS;
}
