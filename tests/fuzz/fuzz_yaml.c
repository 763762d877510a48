/* libFuzzer target: the YAML reader (yaml/yaml_reader.c) through its two
 * users: foreign definitions (msgflo-register-foreign) and guv's
 * configuration. A foreign definition that parses must make a discovery
 * message the coordinator accepts. guv's other input, the management API's
 * JSON answer for a queue (guv/stats_http.c), gets the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/discovery.h"
#include "foreign/foreign.h"
#include "guv/config.h"
#include "guv/stats_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *no_env(const char *name, void *arg)
{
    (void)name;
    (void)arg;
    return NULL;
}

static void check_foreign(const char *text, size_t size, const char *role)
{
    json_t *payload = NULL, *back = NULL;
    char err[512];
    if (foreign__parse(text, size, "fuzz.yaml", role, &payload, err, sizeof err) != 0) {
        if (payload || !memchr(err, '\0', sizeof err))
            abort();
        return;
    }
    char *msg = foreign__message(payload);
    if (!msg)
        abort();
    if (discovery__parse(msg, strlen(msg), &back, err, sizeof err) != 0)
        abort();
    json_decref(back);
    free(msg);
    json_decref(payload);
}

static void check_guv(const char *text, size_t size)
{
    static const char *const keys[] = {"processing", "p",       "stddev", "deadline",
                                       "d",          "minimum", "max",    "worker",
                                       "queue",      "broker",  "target", "nonsense"};
    const struct guv_config_options opts = {.filename = "fuzz.guv.yaml", .getenv = no_env};
    struct guv_config *cfg = NULL;
    char err[512];
    if (guv_config__parse(text, size, &opts, &cfg, err, sizeof err) != 0) {
        if (cfg || !memchr(err, '\0', sizeof err))
            abort();
        return;
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        const struct guv_role *r = &cfg->roles[i];
        if (!r->name || guv_config__role(cfg, r->name) == NULL)
            abort();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            double number;
            const char *string;
            (void)guv_role__get(r, keys[k], &number, &string);
        }
    }
    for (size_t i = 0; i < cfg->n_errors; i++) {
        if (!cfg->errors[i].message)
            abort();
    }
    guv_config__free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Both readers take text with a length; a copy of exactly size bytes
     * lets ASan see a read past it. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    check_foreign(text, size, NULL);
    check_foreign(text, size, "fuzzrole");
    check_guv(text, size);
    uint64_t messages;
    int consumers;
    if (guv_http_stats__parse(text, size, &messages, &consumers) == 0 && consumers < 0)
        abort();
    free(text);
    return 0;
}
