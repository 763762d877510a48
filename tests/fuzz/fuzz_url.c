/* libFuzzer target: broker URLs (msgflo_url_parse, msgflo_url_redact).
 * A URL that parses keeps its meaning when its password is redacted: the
 * redacted text parses to the same URL with the password "***". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/url_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_redacted(const char *text, const msgflo_url *u)
{
    size_t cap = strlen(text) + 8;
    char *red = malloc(cap);
    char err[256];
    msgflo_url *r = NULL;
    if (!red)
        return;
    if (msgflo_url_redact(text, red, cap) != 0)
        abort();
    if (msgflo_url_parse(red, &r, err, sizeof err) != 0)
        abort();
    if (r->scheme != u->scheme || r->port != u->port || !same(r->host, u->host) ||
        !same(r->user, u->user) || !same(r->vhost, u->vhost) || r->prefetch != u->prefetch ||
        r->heartbeat != u->heartbeat || r->qos != u->qos || r->keepalive != u->keepalive ||
        !same(r->client_id, u->client_id) || r->persistent != u->persistent ||
        !same(r->ca_file, u->ca_file) || r->insecure != u->insecure ||
        r->queue_type != u->queue_type || r->n_hosts != u->n_hosts)
        abort();
    for (size_t i = 0; i < u->n_hosts; i++) {
        if (!same(r->hosts[i].host, u->hosts[i].host) || r->hosts[i].port != u->hosts[i].port)
            abort();
    }
    if (u->password && strcmp(r->password, "***") != 0)
        abort();
    msgflo_url_free(r);
    free(red);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char err[256];
    msgflo_url *u = NULL;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (msgflo_url_parse(text, &u, err, sizeof err) == 0) {
        if (!u->host || !*u->host || u->port < 1 || u->port > 65535 || (u->is_amqp && !u->vhost) ||
            u->tls != (u->scheme == MSGFLO_SCHEME_MQTTS || u->scheme == MSGFLO_SCHEME_AMQPS) ||
            u->n_hosts < 1 || u->n_hosts > MSGFLO_URL_MAX_HOSTS ||
            (u->n_hosts > 1 && !u->is_amqp) || u->hosts[0].host != u->host ||
            u->hosts[0].port != u->port)
            abort();
        check_redacted(text, u);
        msgflo_url_free(u);
    } else if (u || !memchr(err, '\0', sizeof err)) {
        abort();
    }
    /* Redaction alone must not fail on any text, given room for it. */
    size_t cap = size + 8;
    char *red = malloc(cap);
    if (red && msgflo_url_redact(text, red, cap) != 0)
        abort();
    free(red);
    free(text);
    return 0;
}
