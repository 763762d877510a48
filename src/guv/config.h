/* guv's configuration (guv 0.3.1, src/config.coffee and schemata/): a YAML (or
 * JSON) mapping of role names to settings; the role '*' holds settings every
 * role inherits.
 *
 *   '*': {app: imgflo, boot: 20, min: 2, max: 10}
 *   processing: {d: 6.0, p: 1.0, queue: 'imgflo_worker.IN'}
 *
 * Parsing is pure: text in, normalized roles out (defaults, short names,
 * inheritance from '*', environment fallbacks through a caller's getenv, the
 * computed target). What guv-validate rejects (an unknown key, a value of the
 * wrong type, a target that is not above the processing time) and the few
 * nonsense values guv would compute with (see docs/guv.md) are collected as
 * located errors next to a usable configuration, as guv keeps running with
 * them; a caller that wants guv-validate's strictness refuses a config with
 * errors. */
#ifndef MSGFLO_GUV_CONFIG_H
#define MSGFLO_GUV_CONFIG_H

#include <stddef.h>

#define GUV_GLOBAL_ROLE "*"

/* The settings of one role, all defaulted. Times are in seconds. */
struct guv_role {
    char *name;          /* owned by the config */
    double processing;   /* p: mean job time; default 10 */
    double stddev;       /* 1 sigma of job time; default processing / 2 (NAN in '*' when unset) */
    double deadline;     /* d: practically all jobs done within; default 60 */
    double percentile;   /* % of jobs that must meet the deadline; default 99 */
    double target;       /* effective deadline, computed (NAN in '*' when unset) */
    double boot;         /* informational; default 30 */
    double concurrency;  /* jobs in parallel per worker (AMQP prefetch); default 1 */
    int minimum;         /* min: default 1 */
    int maximum;         /* max: default 5 */
    double pollinterval; /* default 30; the governor uses the one of '*' */
    double history;      /* scale-down window; default 120; the governor uses the one of '*' */
    /* Strings are owned by the config; NULL when unset. worker and queue
     * default to the role name (NULL in '*'); app, broker, apikey and
     * statuspage fall back to the environment. */
    char *worker;     /* w: process type / deployment to scale */
    char *queue;      /* q: queue whose length drives the scaling */
    char *app;        /* GUV_APP */
    char *broker;     /* GUV_BROKER, else CLOUDAMQP_URL */
    char *apikey;     /* HEROKU_API_KEY */
    char *dynosize;   /* informational; no default (as guv) */
    char *statuspage; /* STATUSPAGE_ID */
    char *metric;
    unsigned line, column; /* of the role's key in the text, 1-based; 0 for an implicit '*' */
};

/* An error with its place: `message` is "FILE:LINE:COLUMN: text" or, without a
 * place, "FILE: text". Owned by the config. */
struct guv_config_error {
    char *message;
    char *role;            /* the role it concerns, or NULL */
    unsigned line, column; /* 1-based; 0 when unknown */
};

struct guv_config {
    struct guv_role global; /* '*', defaulted */
    struct guv_role *roles; /* every other role, in the order of the text; owned */
    size_t n_roles;
    struct guv_config_error *errors; /* owned; n_errors == 0 for a config guv-validate accepts */
    size_t n_errors;
};

/* Environment lookup; returns a string valid until the parse returns, or NULL. */
typedef const char *(*guv_getenv_fn)(const char *name, void *arg);

struct guv_config_options {
    const char *filename;          /* borrowed; names the text in messages; NULL: "config" */
    const char *const *allow_keys; /* borrowed, NULL-terminated; extra keys to ignore
                                      (guv-validate --allow-key); may be NULL */
    guv_getenv_fn getenv;          /* NULL: the process environment */
    void *getenv_arg;
};

/* Parses text[0..len). `options` is borrowed and may be NULL.
 *
 * Returns 0 and an owned config in *out (free with guv_config__free) that may
 * hold errors (check n_errors); MSGFLO_EINVAL with one line in errbuf when the
 * text is no config at all: empty ("Configuration is empty", as guv), not
 * YAML, or not a mapping at its top ("FILE:LINE:COLUMN: message"); or
 * MSGFLO_ENOMEM. */
int guv_config__parse(const char *text, size_t len, const struct guv_config_options *options,
                      struct guv_config **out, char *errbuf, size_t errlen);

/* guv_config__parse on the contents of the file at `path` (borrowed), which
 * names the text in messages (options->filename is not used). An unreadable
 * file is MSGFLO_EINVAL with "PATH: reason" in errbuf. */
int guv_config__load(const char *path, const struct guv_config_options *options,
                     struct guv_config **out, char *errbuf, size_t errlen);

/* The role named `name` (borrowed), '*' included, or NULL. Returns a pointer
 * into the config. */
const struct guv_role *guv_config__role(const struct guv_config *cfg, const char *name);

/* What guv_role__get finds. */
enum guv_value_kind { GUV_VALUE_UNKNOWN_KEY = -1, GUV_VALUE_NUMBER = 0, GUV_VALUE_STRING = 1 };

/* The setting `key` (borrowed; a long or a short name) of a role: a number in
 * *number (minimum and maximum too), or a string in *string (pointing into the
 * role, NULL when unset). Either out-parameter may be NULL. */
enum guv_value_kind guv_role__get(const struct guv_role *role, const char *key, double *number,
                                  const char **string);

/* Frees the config; NULL is a no-op. */
void guv_config__free(struct guv_config *cfg);

/* The target guv computes: deadline - z * stddev, z the standard normal
 * quantile at percentile/100 (2.326 at 99). */
double guv_config__target(double processing, double stddev, double deadline, double percentile);

/* The standard normal quantile function (inverse CDF) at p in (0, 1);
 * -INFINITY at 0, INFINITY at 1, NAN outside [0, 1]. Relative error below
 * 1e-14 (Acklam's rational approximation refined by one Halley step). */
double guv_normal__quantile(double p);

#endif
