/* mosquitto_msgflo.so: MQTT bindings kept inside mosquitto (2.0 plugin API).
 * Every message a client publishes on a bound topic is republished by the
 * broker itself to the binding's targets, byte for byte with its QoS; the
 * bindings are managed over the /msgrouter protocol (router.h,
 * docs/msgrouter.md) and kept in a file across broker restarts.
 *
 * mosquitto.conf:
 *     plugin /usr/lib/x86_64-linux-gnu/mosquitto_msgflo.so
 *     plugin_opt_bindings_file /var/lib/mosquitto/msgflo-bindings.json   # optional
 *     plugin_opt_instance default                                         # optional
 *     plugin_opt_status_ttl 15                                            # optional
 */
#include "router/plugin_properties.h"
#include "router/router.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The retained status expires status_ttl seconds (plugin_opt_status_ttl)
 * after it was last published and is published again every third of that,
 * so that a broker restarted without the plugin (its retained messages
 * restored from its persistence file) stops announcing a router within
 * status_ttl. Clearing it at shutdown is not possible: mosquitto 2.0 calls
 * mosquitto_plugin_cleanup after its last loop turn and its last
 * persistence write, so a message published there never goes out. */
#define STATUS_TTL_S     15
#define STATUS_TTL_MIN_S 3
#define STATUS_TTL_MAX_S 86400

struct plugin {
    mosquitto_plugin_id_t *id;
    struct router *router;
    char *bindings_file;  /* NULL: bindings are not kept across restarts */
    time_t status_at;     /* when the status was last published; 0: never */
    long status_ttl;      /* seconds */
    bool properties_open; /* plugin_properties__open succeeded for this instance */
    bool properties_lost_said;
};

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

static void save(struct plugin *p)
{
    char err[512];
    if (!p->bindings_file || !router__dirty(p->router))
        return;
    if (router__save(p->router, p->bindings_file, err, sizeof err))
        mosquitto_log_printf(MOSQ_LOG_ERR, "msgflo: cannot save the bindings: %s", err);
}

static int on_message(int event, void *event_data, void *userdata)
{
    (void)event;
    struct plugin *p = userdata;
    struct mosquitto_evt_message *m = event_data;
    if (router__is_control(p->router, m->topic)) {
        struct router_replies replies;
        router__control(p->router, m->topic, m->payload, m->payloadlen, &replies);
        for (size_t i = 0; i < replies.n; i++) {
            const struct router_reply *r = &replies.items[i];
            mosquitto_broker_publish_copy(NULL, r->topic, (int)strlen(r->payload), r->payload, 1,
                                          r->retain, NULL);
        }
        router__replies_cleanup(&replies);
        return MOSQ_ERR_SUCCESS;
    }
    const char *const *targets;
    size_t n = router__route(p->router, m->topic, m->payloadlen, &targets);
    for (size_t i = 0; i < n; i++) {
        /* The MQTT 5 properties that describe the message (mosquitto keeps
         * only those on it: user properties, content type, payload format,
         * correlation data, response topic), a copy per target, which the
         * broker owns once the publish succeeded. None from 3.1.1 clients. */
        mosquitto_property *props = NULL;
        int rc = plugin_properties__copy(m->properties, &props);
        if (rc != MOSQ_ERR_SUCCESS && !p->properties_lost_said) {
            mosquitto_log_printf(MOSQ_LOG_WARNING,
                                 "msgflo: %s forwarded to %s without its MQTT 5 properties (%s); "
                                 "said once",
                                 m->topic, targets[i],
                                 rc == MOSQ_ERR_NOMEM           ? "out of memory"
                                 : rc == MOSQ_ERR_NOT_SUPPORTED ? "no libmosquitto.so.1"
                                                                : "a property it cannot read");
            p->properties_lost_said = true;
        }
        if (mosquitto_broker_publish_copy(NULL, targets[i], (int)m->payloadlen, m->payload, m->qos,
                                          m->retain, props) != MOSQ_ERR_SUCCESS)
            mosquitto_property_free_all(&props);
    }
    return MOSQ_ERR_SUCCESS;
}

/* Publishes the retained status, with its expiry (see STATUS_TTL_S). */
static void publish_status(struct plugin *p, time_t now)
{
    char *topic, *payload;
    if (router__status(p->router, &topic, &payload) != 0)
        return;
    mosquitto_property *props = NULL;
    if (mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                                     (uint32_t)p->status_ttl) != MOSQ_ERR_SUCCESS)
        props = NULL; /* out of memory: a status without expiry still tells */
    if (mosquitto_broker_publish_copy(NULL, topic, (int)strlen(payload), payload, 1, true, props) !=
        MOSQ_ERR_SUCCESS)
        mosquitto_property_free_all(&props); /* owned by the broker only on success */
    free(topic);
    free(payload);
    p->status_at = now;
}

/* The status is published on the first tick (the broker is not ready to take
 * messages during init) and refreshed before it expires; the bindings are
 * saved at most once a tick. */
static int on_tick(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    struct plugin *p = userdata;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    time_t now = ts.tv_sec + 1; /* never 0 */
    if (!p->status_at || now - p->status_at >= p->status_ttl / 3)
        publish_status(p, now);
    save(p);
    return MOSQ_ERR_SUCCESS;
}

static void release(struct plugin *p)
{
    if (!p)
        return;
    router__free(p->router);
    if (p->properties_open)
        plugin_properties__close();
    free(p->bindings_file);
    free(p);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    const char *instance = NULL, *file = NULL;
    long ttl = STATUS_TTL_S;
    for (int i = 0; i < option_count; i++) {
        if (strcmp(options[i].key, "instance") == 0) {
            instance = options[i].value;
        } else if (strcmp(options[i].key, "bindings_file") == 0) {
            file = options[i].value;
        } else if (strcmp(options[i].key, "status_ttl") == 0) {
            char *end;
            errno = 0;
            ttl = strtol(options[i].value, &end, 10);
            if (errno || end == options[i].value || *end || ttl < STATUS_TTL_MIN_S ||
                ttl > STATUS_TTL_MAX_S) {
                mosquitto_log_printf(MOSQ_LOG_ERR,
                                     "msgflo: plugin_opt_status_ttl '%s': seconds from %d to %d "
                                     "are needed",
                                     options[i].value, STATUS_TTL_MIN_S, STATUS_TTL_MAX_S);
                return MOSQ_ERR_INVAL;
            }
        } else {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "msgflo: unknown option plugin_opt_%s (known: instance, "
                                 "bindings_file, status_ttl)",
                                 options[i].key);
            return MOSQ_ERR_INVAL;
        }
    }
    struct plugin *p = calloc(1, sizeof *p);
    if (!p)
        return MOSQ_ERR_NOMEM;
    char why[300];
    p->properties_open = plugin_properties__open(why, sizeof why) == 0;
    if (!p->properties_open)
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "msgflo: MQTT 5 properties will not be forwarded: %s", why);
    p->id = identifier;
    p->status_ttl = ttl;
    int rc = router__new(instance, "mosquitto_msgflo", &p->router);
    if (rc) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             rc == -1 ? "msgflo: plugin_opt_instance '%s': a name of at most 128 "
                                        "bytes without '/', '+' or '#' is needed"
                                      : "msgflo: out of memory (instance %s)",
                             instance ? instance : "");
        release(p);
        return rc == -1 ? MOSQ_ERR_INVAL : MOSQ_ERR_NOMEM;
    }
    if (file && *file) {
        char err[600];
        p->bindings_file = strdup(file);
        if (!p->bindings_file) {
            release(p);
            return MOSQ_ERR_NOMEM;
        }
        if (router__load(p->router, file, err, sizeof err)) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "msgflo: cannot load the bindings: %s", err);
            release(p);
            return MOSQ_ERR_INVAL;
        }
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "msgflo: routing /msgrouter/%s/ with %zu binding(s)%s%s%s",
                         router__instance(p->router), router__count(p->router),
                         p->bindings_file ? " kept in " : "",
                         p->bindings_file ? p->bindings_file : "",
                         p->bindings_file ? ""
                                          : " (not kept across restarts: set "
                                            "plugin_opt_bindings_file)");
    if (mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, p) ||
        mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, p)) {
        mosquitto_callback_unregister(identifier, MOSQ_EVT_MESSAGE, on_message, NULL);
        release(p);
        return MOSQ_ERR_UNKNOWN;
    }
    *userdata = p;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    (void)options;
    (void)option_count;
    struct plugin *p = userdata;
    if (!p)
        return MOSQ_ERR_SUCCESS;
    save(p);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_MESSAGE, on_message, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
    release(p);
    return MOSQ_ERR_SUCCESS;
}
