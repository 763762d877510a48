/* Broker URL parsing: scheme, credentials, host, port, vhost and options. */
#include "core/url_internal.h"

#include "core/boolean.h"
#include "msgflo/errors.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return MSGFLO_EURL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into a new string; NULL on a bad escape or NUL. */
static char *decode(const char *s, size_t len, bool *bad)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len) {
                *bad = true;
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                *bad = true;
                free(out);
                return NULL;
            }
            out[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static bool parse_int(const char *s, size_t len, long min, long max, int *out)
{
    if (len == 0 || len > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static int set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return MSGFLO_ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

static int apply_option(msgflo_url *u, const char *key, const char *value, char *errbuf,
                        size_t errlen)
{
    size_t vlen = strlen(value);
    bool b;
    if (strcmp(key, "prefetch") == 0) {
        if (!parse_int(value, vlen, 1, 65535, &u->prefetch))
            return fail(errbuf, errlen, "option prefetch: '%s' is not a number in 1..65535", value);
    } else if (strcmp(key, "heartbeat") == 0) {
        if (!parse_int(value, vlen, 0, 65535, &u->heartbeat))
            return fail(errbuf, errlen, "option heartbeat: '%s' is not a number in 0..65535",
                        value);
    } else if (strcmp(key, "qos") == 0) {
        if (!parse_int(value, vlen, 0, 1, &u->qos))
            return fail(errbuf, errlen, "option qos: '%s' is not 0 or 1", value);
    } else if (strcmp(key, "keepalive") == 0 || strcmp(key, "keepAlive") == 0) {
        if (!parse_int(value, vlen, 5, 65535, &u->keepalive))
            return fail(errbuf, errlen, "option keepalive: '%s' is not a number in 5..65535",
                        value);
    } else if (strcmp(key, "frameMax") == 0) {
        if (!parse_int(value, vlen, 4096, 2147483647, &u->frame_max))
            return fail(errbuf, errlen, "option frameMax: '%s' is not a number >= 4096", value);
    } else if (strcmp(key, "channelMax") == 0) {
        if (!parse_int(value, vlen, 0, 65535, &u->channel_max))
            return fail(errbuf, errlen, "option channelMax: '%s' is not a number in 0..65535",
                        value);
    } else if (strcmp(key, "locale") == 0) {
        /* amqplib passes it to the broker; RabbitMQ only knows en_US. */
    } else if (strcmp(key, "clientId") == 0) {
        if (vlen == 0 || vlen > 65535)
            return fail(errbuf, errlen, "option clientId: must not be empty");
        return set_string(&u->client_id, value);
    } else if (strcmp(key, "persistent") == 0) {
        if (!boolean__parse(value, &u->persistent))
            return fail(errbuf, errlen, "option persistent: '%s' is not a boolean", value);
    } else if (strcmp(key, "clean") == 0 || strcmp(key, "cleanSession") == 0) {
        /* cleanSession: msgflo-cpp's spelling of the same option. */
        if (!boolean__parse(value, &u->clean))
            return fail(errbuf, errlen, "option clean: '%s' is not a boolean", value);
    } else if (strcmp(key, "queueType") == 0 || strcmp(key, "queue_type") == 0) {
        /* queue_type: RabbitMQ's own spelling (x-queue-type, its HTTP API). */
        if (strcmp(value, "classic") == 0)
            u->queue_type = MSGFLO_QUEUE_CLASSIC;
        else if (strcmp(value, "quorum") == 0)
            u->queue_type = MSGFLO_QUEUE_QUORUM;
        else
            return fail(errbuf, errlen, "option queueType: '%s' is not classic or quorum", value);
    } else if (strcmp(key, "insecure") == 0) {
        if (!boolean__parse(value, &b))
            return fail(errbuf, errlen, "option insecure: '%s' is not a boolean", value);
        u->insecure = b;
    } else if (strcmp(key, "ca") == 0) {
        return set_string(&u->ca_file, value);
    } else if (strcmp(key, "cert") == 0) {
        return set_string(&u->cert_file, value);
    } else if (strcmp(key, "key") == 0) {
        return set_string(&u->key_file, value);
    } else {
        return fail(errbuf, errlen, "unknown option '%s'", key);
    }
    return 0;
}

static int parse_query(msgflo_url *u, const char *q, char *errbuf, size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n > 0) {
            const char *eq = memchr(q, '=', n);
            if (!eq)
                return fail(errbuf, errlen, "option '%.*s' has no value", (int)n, q);
            bool bad = false;
            char *key = decode(q, (size_t)(eq - q), &bad);
            char *value = key ? decode(eq + 1, n - (size_t)(eq - q) - 1, &bad) : NULL;
            int rc;
            if (!key || !value)
                rc = bad ? fail(errbuf, errlen, "bad %%-escape in option '%.*s'", (int)n, q)
                         : MSGFLO_ENOMEM;
            else
                rc = apply_option(u, key, value, errbuf, errlen);
            free(key);
            free(value);
            if (rc)
                return rc;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

static void set_defaults(msgflo_url *u)
{
    u->prefetch = 2;
    u->heartbeat = 60;
    u->qos = 0;
    u->keepalive = 60;
    /* Persistent messages survive a RabbitMQ restart in the durable queues
     * (the original published transient ones); ?persistent=0 trades that
     * for throughput. */
    u->persistent = true;
    u->clean = true;
}

static int parse_scheme(const char *text, msgflo_url *u, const char **rest, char *errbuf,
                        size_t errlen)
{
    static const struct {
        const char *name;
        enum msgflo_scheme scheme;
        int port;
    } schemes[] = {
        {"mqtt", MSGFLO_SCHEME_MQTT, 1883},
        {"mqtts", MSGFLO_SCHEME_MQTTS, 8883},
        {"amqp", MSGFLO_SCHEME_AMQP, 5672},
        {"amqps", MSGFLO_SCHEME_AMQPS, 5671},
    };
    const char *sep = strstr(text, "://");
    if (!sep)
        return fail(errbuf, errlen, "missing scheme, expected e.g. mqtt://localhost");
    size_t n = (size_t)(sep - text);
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (strlen(schemes[i].name) == n && strncasecmp(text, schemes[i].name, n) == 0) {
            u->scheme = schemes[i].scheme;
            u->port = schemes[i].port;
            u->tls = u->scheme == MSGFLO_SCHEME_MQTTS || u->scheme == MSGFLO_SCHEME_AMQPS;
            u->is_amqp = u->scheme == MSGFLO_SCHEME_AMQP || u->scheme == MSGFLO_SCHEME_AMQPS;
            *rest = sep + 3;
            return 0;
        }
    }
    return fail(errbuf, errlen, "unsupported scheme '%.*s' (use mqtt, mqtts, amqp or amqps)",
                (int)(n > 20 ? 20 : n), text);
}

/* Parses one "host[:port]" of length len; the port defaults to `port`. */
static int parse_host(const char *s, size_t len, struct msgflo_url_host *out, int port,
                      char *errbuf, size_t errlen)
{
    const char *host = s;
    size_t hostlen;
    const char *portstr = NULL;
    size_t portlen = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return fail(errbuf, errlen, "unterminated '[' in IPv6 host");
        host = s + 1;
        hostlen = (size_t)(close - s) - 1;
        size_t after = (size_t)(close - s) + 1;
        if (after < len) {
            if (s[after] != ':')
                return fail(errbuf, errlen, "unexpected text after ']' in host");
            portstr = s + after + 1;
            portlen = len - after - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        hostlen = colon ? (size_t)(colon - s) : len;
        if (colon) {
            portstr = colon + 1;
            portlen = len - hostlen - 1;
        }
    }
    if (hostlen == 0)
        return fail(errbuf, errlen, "missing host");
    for (size_t i = 0; i < hostlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%'))
            return fail(errbuf, errlen, "invalid character '%c' in host", c);
    }
    out->port = port;
    if (portstr && !parse_int(portstr, portlen, 1, 65535, &out->port))
        return fail(errbuf, errlen, "invalid port '%.*s'", (int)(portlen > 20 ? 20 : portlen),
                    portstr);
    out->host = strndup(host, hostlen);
    return out->host ? 0 : MSGFLO_ENOMEM;
}

/* Parses "[user[:password]@]host[:port][,host[:port]...]" of length len. */
static int parse_authority(msgflo_url *u, const char *s, size_t len, char *errbuf, size_t errlen)
{
    bool bad = false;
    const char *at = NULL;
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    }
    if (at) {
        size_t ulen = (size_t)(at - s);
        const char *colon = memchr(s, ':', ulen);
        size_t namelen = colon ? (size_t)(colon - s) : ulen;
        u->user = decode(s, namelen, &bad);
        if (u->user && colon)
            u->password = decode(colon + 1, ulen - namelen - 1, &bad);
        if (bad)
            return fail(errbuf, errlen, "bad %%-escape in user or password");
        if (!u->user || (colon && !u->password))
            return MSGFLO_ENOMEM;
        len -= ulen + 1;
        s = at + 1;
    }
    /* A failover list: host:port,host:port (as libpq and Spring AMQP's
     * addresses); no IPv6 literal holds a comma. */
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    if (n > 1 && !u->is_amqp)
        return fail(errbuf, errlen, "a list of hosts is for amqp:// and amqps:// only");
    if (n > MSGFLO_URL_MAX_HOSTS)
        return fail(errbuf, errlen, "more than %d hosts", MSGFLO_URL_MAX_HOSTS);
    u->hosts = calloc(n, sizeof *u->hosts);
    if (!u->hosts)
        return MSGFLO_ENOMEM;
    int port = u->port; /* the scheme's default */
    for (size_t i = 0; i < n; i++) {
        const char *comma = memchr(s, ',', len);
        size_t one = comma ? (size_t)(comma - s) : len;
        int rc = parse_host(s, one, &u->hosts[i], port, errbuf, errlen);
        if (rc)
            return rc;
        u->n_hosts = i + 1;
        if (comma) {
            len -= one + 1;
            s = comma + 1;
        }
    }
    u->host = u->hosts[0].host;
    u->port = u->hosts[0].port;
    return 0;
}

int msgflo_url_parse(const char *text, msgflo_url **out, char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!text || !*text)
        return fail(errbuf, errlen, "empty broker URL");
    for (const char *c = text; *c; c++) {
        if ((unsigned char)*c <= ' ')
            return fail(errbuf, errlen, "whitespace or control character in URL");
    }
    msgflo_url *u = calloc(1, sizeof *u);
    if (!u)
        return MSGFLO_ENOMEM;
    set_defaults(u);

    const char *rest = NULL;
    rc = parse_scheme(text, u, &rest, errbuf, errlen);
    if (rc)
        goto out;
    size_t authlen = strcspn(rest, "/?#");
    rc = parse_authority(u, rest, authlen, errbuf, errlen);
    if (rc)
        goto out;
    const char *path = rest + authlen;
    if (*path == '#') {
        rc = fail(errbuf, errlen, "fragments ('#') are not allowed in broker URLs");
        goto out;
    }
    size_t pathlen = strcspn(path, "?#");
    if (u->is_amqp) {
        bool bad = false;
        if (pathlen <= 1)
            u->vhost = strdup("/");
        else
            u->vhost = decode(path + 1, pathlen - 1, &bad);
        if (bad) {
            rc = fail(errbuf, errlen, "bad %%-escape in vhost");
            goto out;
        }
        if (!u->vhost) {
            rc = MSGFLO_ENOMEM;
            goto out;
        }
    } else if (pathlen > 1) {
        rc = fail(errbuf, errlen, "MQTT URLs take no path, got '%.*s'",
                  (int)(pathlen > 40 ? 40 : pathlen), path);
        goto out;
    }
    const char *query = path + pathlen;
    if (*query == '#') {
        rc = fail(errbuf, errlen, "fragments ('#') are not allowed in broker URLs");
        goto out;
    }
    if (*query == '?') {
        if (strchr(query, '#')) {
            rc = fail(errbuf, errlen, "fragments ('#') are not allowed in broker URLs");
            goto out;
        }
        rc = parse_query(u, query + 1, errbuf, errlen);
        if (rc)
            goto out;
    }
    if (u->tls == false && (u->ca_file || u->cert_file || u->key_file || u->insecure)) {
        rc = fail(errbuf, errlen, "TLS options need an mqtts:// or amqps:// URL");
        goto out;
    }
    if (u->queue_type != MSGFLO_QUEUE_CLASSIC && !u->is_amqp) {
        rc = fail(errbuf, errlen, "option queueType is for amqp:// and amqps:// only");
        goto out;
    }
    if ((u->cert_file == NULL) != (u->key_file == NULL)) {
        rc = fail(errbuf, errlen, "options cert and key must be given together");
        goto out;
    }
    *out = u;
    u = NULL;
out:
    msgflo_url_free(u);
    return rc;
}

void msgflo_url_free(msgflo_url *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_hosts; i++)
        free(u->hosts[i].host);
    free(u->hosts);
    free(u->user);
    free(u->password);
    free(u->vhost);
    free(u->client_id);
    free(u->ca_file);
    free(u->cert_file);
    free(u->key_file);
    free(u);
}

int msgflo_url_redact(const char *text, char *buf, size_t buflen)
{
    if (!text || !buf || buflen == 0)
        return MSGFLO_EINVAL;
    const char *sep = strstr(text, "://");
    const char *auth = sep ? sep + 3 : text;
    size_t authlen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = authlen; i > 0; i--) {
        if (auth[i - 1] == '@') {
            at = auth + i - 1;
            break;
        }
    }
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    int n;
    if (colon)
        n = snprintf(buf, buflen, "%.*s:***%s", (int)(colon - text), text, at);
    else
        n = snprintf(buf, buflen, "%s", text);
    return (n < 0 || (size_t)n >= buflen) ? MSGFLO_EINVAL : 0;
}

const char *msgflo_url_resolve(const char *arg)
{
    if (arg && *arg)
        return arg;
    const char *env = getenv("MSGFLO_BROKER");
    if (env && *env)
        return env;
    env = getenv("CLOUDAMQP_URL");
    if (env && *env)
        return env;
    return NULL;
}

enum msgflo_scheme msgflo_url_scheme(const msgflo_url *url)
{
    return url->scheme;
}

bool msgflo_url_is_amqp(const msgflo_url *url)
{
    return url->is_amqp;
}

bool msgflo_url_is_tls(const msgflo_url *url)
{
    return url->tls;
}

const char *msgflo_url_host(const msgflo_url *url)
{
    return url->host;
}

int msgflo_url_port(const msgflo_url *url)
{
    return url->port;
}

size_t msgflo_url_host_count(const msgflo_url *url)
{
    return url->n_hosts;
}

const char *msgflo_url_host_at(const msgflo_url *url, size_t i, int *port)
{
    if (i >= url->n_hosts)
        return NULL;
    if (port)
        *port = url->hosts[i].port;
    return url->hosts[i].host;
}

const char *msgflo_url_user(const msgflo_url *url)
{
    return url->user;
}

const char *msgflo_url_password(const msgflo_url *url)
{
    return url->password;
}

const char *msgflo_url_vhost(const msgflo_url *url)
{
    return url->is_amqp ? url->vhost : NULL;
}

const char *msgflo_url_client_id(const msgflo_url *url)
{
    return url->client_id;
}

int msgflo_url_prefetch(const msgflo_url *url)
{
    return url->prefetch;
}

int msgflo_url_heartbeat(const msgflo_url *url)
{
    return url->heartbeat;
}

int msgflo_url_qos(const msgflo_url *url)
{
    return url->qos;
}

int msgflo_url_keepalive(const msgflo_url *url)
{
    return url->keepalive;
}

bool msgflo_url_clean(const msgflo_url *url)
{
    return url->clean;
}
