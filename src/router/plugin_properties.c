/* A message's MQTT 5 properties copied inside mosquitto, for the plugin's
 * republishing, whatever mosquitto 2.0 build loaded it.
 *
 * Debian 12's mosquitto 2.0.11 exports all of its functions; builds that
 * export only the plugin API of mosquitto's src/linker.syms (CMake builds
 * from 2.0.19, such as Debian 13's and bookworm-backports' 2.0.21, and any
 * make build) let a plugin add properties (mosquitto_property_add_*) and
 * free them, not read or copy them. So the properties are read with
 * libmosquitto's own readers, looked up in libmosquitto.so.1 itself, never in
 * the broker (they allocate what they read with calloc, so it is freed with
 * free()), and added with the broker's adders, so that what the broker frees
 * came from its own allocator (it counts its heap). The readers take the
 * broker's property structs: Debian's mosquitto depends on the libmosquitto1
 * of its own version. Property types come from libmosquitto's table
 * (mosquitto_string_to_property_info), read once.
 */
#include "router/plugin_properties.h"

#include <dlfcn.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct readers {
    void *lib;
    int users;            /* plugin instances that opened it (several plugin lines) */
    uint8_t type_of[256]; /* MQTT_PROP_TYPE_* by identifier; 0: none */
    const mosquitto_property *(*next)(const mosquitto_property *);
    int (*identifier)(const mosquitto_property *);
    const mosquitto_property *(*byte)(const mosquitto_property *, int, uint8_t *, bool);
    const mosquitto_property *(*int16)(const mosquitto_property *, int, uint16_t *, bool);
    const mosquitto_property *(*int32)(const mosquitto_property *, int, uint32_t *, bool);
    const mosquitto_property *(*varint)(const mosquitto_property *, int, uint32_t *, bool);
    const mosquitto_property *(*binary)(const mosquitto_property *, int, void **, uint16_t *, bool);
    const mosquitto_property *(*string)(const mosquitto_property *, int, char **, bool);
    const mosquitto_property *(*pair)(const mosquitto_property *, int, char **, char **, bool);
};

static struct readers libmosq;

/* dlsym's void * stored into a function pointer (ISO C has no conversion
 * between the two); NULL, and *missing set, when the symbol is missing. */
static void lookup(void *fn_ptr, const char *symbol, const char **missing)
{
    void *sym = dlsym(libmosq.lib, symbol);
    if (!sym)
        *missing = symbol;
    memcpy(fn_ptr, &sym, sizeof sym);
}

int plugin_properties__open(char *why, size_t why_size)
{
    if (libmosq.lib) {
        libmosq.users++;
        return 0;
    }
    libmosq.lib = dlopen("libmosquitto.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!libmosq.lib) {
        snprintf(why, why_size, "%s", dlerror());
        return -1;
    }
    const char *missing = NULL;
    const char *(*name)(int) = NULL;
    int (*info)(const char *, int *, int *) = NULL;
    lookup(&name, "mosquitto_property_identifier_to_string", &missing);
    lookup(&info, "mosquitto_string_to_property_info", &missing);
    lookup(&libmosq.next, "mosquitto_property_next", &missing);
    lookup(&libmosq.identifier, "mosquitto_property_identifier", &missing);
    lookup(&libmosq.byte, "mosquitto_property_read_byte", &missing);
    lookup(&libmosq.int16, "mosquitto_property_read_int16", &missing);
    lookup(&libmosq.int32, "mosquitto_property_read_int32", &missing);
    lookup(&libmosq.varint, "mosquitto_property_read_varint", &missing);
    lookup(&libmosq.binary, "mosquitto_property_read_binary", &missing);
    lookup(&libmosq.string, "mosquitto_property_read_string", &missing);
    lookup(&libmosq.pair, "mosquitto_property_read_string_pair", &missing);
    if (missing) {
        snprintf(why, why_size, "libmosquitto.so.1 has no %s", missing);
        dlclose(libmosq.lib);
        libmosq = (struct readers){0};
        return -1;
    }
    for (int id = 1; id < 256; id++) {
        const char *n = name(id);
        int listed, type;
        if (n && info(n, &listed, &type) == MOSQ_ERR_SUCCESS && listed == id && type > 0 &&
            type < 256)
            libmosq.type_of[id] = (uint8_t)type;
    }
    libmosq.users = 1;
    return 0;
}

void plugin_properties__close(void)
{
    if (!libmosq.lib || --libmosq.users > 0)
        return;
    dlclose(libmosq.lib);
    libmosq = (struct readers){0};
}

/* Adds one property read from p (identifier id, of the given type) to *to. */
static int copy_one(const mosquitto_property *p, int id, int type, mosquitto_property **to)
{
    switch (type) {
    case MQTT_PROP_TYPE_BYTE: {
        uint8_t v;
        return libmosq.byte(p, id, &v, false) ? mosquitto_property_add_byte(to, id, v)
                                              : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_INT16: {
        uint16_t v;
        return libmosq.int16(p, id, &v, false) ? mosquitto_property_add_int16(to, id, v)
                                               : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_INT32: {
        uint32_t v;
        return libmosq.int32(p, id, &v, false) ? mosquitto_property_add_int32(to, id, v)
                                               : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_VARINT: {
        uint32_t v;
        return libmosq.varint(p, id, &v, false) ? mosquitto_property_add_varint(to, id, v)
                                                : MOSQ_ERR_INVAL;
    }
    case MQTT_PROP_TYPE_BINARY: {
        void *v = NULL;
        uint16_t len = 0;
        int rc = libmosq.binary(p, id, &v, &len, false)
                     ? mosquitto_property_add_binary(to, id, v, len)
                     : MOSQ_ERR_INVAL;
        free(v);
        return rc;
    }
    case MQTT_PROP_TYPE_STRING: {
        char *v = NULL;
        int rc = libmosq.string(p, id, &v, false) ? mosquitto_property_add_string(to, id, v)
                                                  : MOSQ_ERR_INVAL;
        free(v);
        return rc;
    }
    case MQTT_PROP_TYPE_STRING_PAIR: {
        char *k = NULL, *v = NULL;
        int rc = libmosq.pair(p, id, &k, &v, false)
                     ? mosquitto_property_add_string_pair(to, id, k, v)
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
    if (!libmosq.lib)
        return MOSQ_ERR_NOT_SUPPORTED;
    /* The adders walk the list they are given to its end: given the last
     * property, each appends at once (a message may carry many). */
    mosquitto_property *last = NULL;
    for (const mosquitto_property *p = from; p; p = libmosq.next(p)) {
        int id = libmosq.identifier(p);
        int type = id > 0 && id < 256 ? libmosq.type_of[id] : 0;
        int rc = copy_one(p, id, type, last ? &last : to);
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_property_free_all(to);
            return rc;
        }
        last = (mosquitto_property *)(last ? libmosq.next(last) : *to);
    }
    return MOSQ_ERR_SUCCESS;
}
