/* RabbitMQ management API client for queue statistics; see stats_http.h. */
#include "guv/stats_http.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS         "msgflo:guv"
#define TIMEOUT_MS 5000L
#define MAX_BODY   (1 << 20)

struct guv_http_stats {
    CURL *curl;
    char *base;            /* without a trailing '/' */
    char *shown;           /* base without user:password, for messages */
    char *vhost;           /* URL-escaped */
    char *user, *password; /* NULL: the URL's own */
    char *body;
    size_t len;
    bool too_long;
};

static void strip_slashes(char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
}

/* url without the user:password of its authority (for messages); NULL when
 * out of memory. */
static char *without_userinfo(const char *url)
{
    char *shown = strdup(url);
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    size_t alen = strcspn(authority, "/?#");
    const char *at = memchr(authority, '@', alen);
    if (shown && at) {
        size_t start = (size_t)(authority - url);
        memmove(shown + start, shown + start + (size_t)(at + 1 - authority), strlen(at + 1) + 1);
    }
    return shown;
}

int guv_http_stats__new(const char *base_url, const char *vhost, const char *user,
                        const char *password, struct guv_http_stats **out, char *errbuf,
                        size_t errlen)
{
    *out = NULL;
    if (!base_url ||
        (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        char *shown = base_url ? without_userinfo(base_url) : NULL;
        snprintf(errbuf, errlen, "management API: '%s' is not an http:// or https:// URL",
                 shown ? shown : "");
        free(shown);
        return MSGFLO_EINVAL;
    }
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    struct guv_http_stats *s = calloc(1, sizeof *s);
    if (!s)
        return MSGFLO_ENOMEM;
    s->curl = curl_easy_init();
    s->base = strdup(base_url);
    char *escaped = s->curl ? curl_easy_escape(s->curl, vhost ? vhost : "/", 0) : NULL;
    s->vhost = escaped ? strdup(escaped) : NULL;
    curl_free(escaped);
    /* user:password in the URL's authority win */
    const char *authority = strstr(base_url, "://") + 3;
    size_t alen = strcspn(authority, "/?#");
    bool in_url = memchr(authority, '@', alen) != NULL;
    if (!in_url) {
        s->user = strdup(user ? user : "guest");
        s->password = strdup(password ? password : "guest");
    }
    s->shown = without_userinfo(base_url);
    if (!s->curl || !s->base || !s->shown || !s->vhost || (!in_url && (!s->user || !s->password))) {
        guv_http_stats__free(s);
        return MSGFLO_ENOMEM;
    }
    strip_slashes(s->base);
    strip_slashes(s->shown);
    *out = s;
    return 0;
}

void guv_http_stats__free(struct guv_http_stats *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s->base);
    free(s->shown);
    free(s->vhost);
    free(s->user);
    free(s->password);
    free(s->body);
    free(s);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct guv_http_stats *s = ud;
    size_t n = size * nmemb;
    if (s->len + n > MAX_BODY) {
        s->too_long = true;
        return 0; /* aborts the transfer */
    }
    char *body = realloc(s->body, s->len + n + 1);
    if (!body)
        return 0;
    memcpy(body + s->len, data, n);
    s->body = body;
    s->len += n;
    s->body[s->len] = '\0';
    return n;
}

/* A non-negative whole number field, or `fallback` when absent. */
static bool count_field(const json_t *o, const char *key, json_int_t fallback, json_int_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *out = fallback;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = json_integer_value(v);
    return true;
}

int guv_http_stats__parse(const char *body, size_t len, uint64_t *messages, int *consumers)
{
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    int rc = MSGFLO_EJSON;
    json_int_t total, ready, unacked, cons;
    if (!json_is_object(o))
        goto out;
    if (!count_field(o, "messages_ready", 0, &ready) ||
        !count_field(o, "messages_unacknowledged", 0, &unacked) ||
        !count_field(o, "messages", -1, &total) || !count_field(o, "consumers", 0, &cons) ||
        cons > INT32_MAX)
        goto out;
    /* Summed unsigned: two counts up to INT64_MAX overflow a json_int_t. */
    *messages = total >= 0 ? (uint64_t)total : (uint64_t)ready + (uint64_t)unacked;
    *consumers = (int)cons;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int guv_http_stats__queue(struct guv_http_stats *s, const char *queue, uint64_t *messages,
                          int *consumers)
{
    int rc = MSGFLO_ENOMEM;
    char *q = curl_easy_escape(s->curl, queue, 0);
    char *url = NULL;
    if (!q)
        goto out;
    size_t n = strlen(s->base) + strlen(s->vhost) + strlen(q) + sizeof "/api/queues//";
    url = malloc(n);
    if (!url)
        goto out;
    snprintf(url, n, "%s/api/queues/%s/%s", s->base, s->vhost, q);
    s->len = 0;
    s->too_long = false;
    curl_easy_reset(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    if (s->user) {
        curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->password);
    }
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    CURLcode res = curl_easy_perform(s->curl);
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK) {
        LOG_WARNING(NS, "management API %s/api/queues/%s/%s: %s", s->shown, s->vhost, q,
                    s->too_long ? "answer too long" : curl_easy_strerror(res));
        rc = MSGFLO_ECONNECT;
    } else if (status == 404) {
        rc = MSGFLO_ENOPORT;
    } else if (status != 200) {
        LOG_WARNING(NS, "management API %s/api/queues/%s/%s: HTTP %ld", s->shown, s->vhost, q,
                    status);
        rc = MSGFLO_ECONNECT;
    } else {
        rc = guv_http_stats__parse(s->body ? s->body : "", s->len, messages, consumers);
        if (rc != 0)
            LOG_WARNING(NS, "management API %s/api/queues/%s/%s: no queue statistics in the answer",
                        s->shown, s->vhost, q);
    }
out:
    curl_free(q);
    free(url);
    return rc;
}
