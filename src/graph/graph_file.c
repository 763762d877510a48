/* Loading a graph file (.fbp or FBP JSON) for the tools; see graph_file.h. */
#include "graph/graph_file.h"
#include "graph/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads all of f; on a read error returns MSGFLO_ESYS with *read_errno set. */
static int read_stream(FILE *f, char **out, size_t *out_len, int *read_errno)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return MSGFLO_ENOMEM;
    for (;;) {
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return MSGFLO_ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        errno = 0;
        size_t n = fread(buf + len, 1, cap - len, f);
        *read_errno = errno ? errno : EIO;
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return MSGFLO_ESYS;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

bool graph__path_is_json(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcmp(path + n - 5, ".json") == 0;
}

static bool sniff_json(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
            continue;
        return text[i] == '{';
    }
    return false;
}

/* FBP JSON with port names kept as written: the document is read as
 * graph_json__read reads it, with "caseSensitive" forced to true. */
static int read_json_case_sensitive(const char *text, size_t len, struct graph **out,
                                    struct graph_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!doc) {
        snprintf(err->message, sizeof(err->message), "%s", jerr.text);
        err->line = jerr.line > 0 ? jerr.line : 0;
        err->column = jerr.column > 0 ? jerr.column : 0;
        return MSGFLO_EJSON;
    }
    int rc = 0;
    if (json_is_object(doc)) {
        /* a wrong type stays, for the reader to report */
        const json_t *cs = json_object_get(doc, "caseSensitive");
        if ((!cs || json_is_boolean(cs)) && json_object_set_new(doc, "caseSensitive", json_true()))
            rc = MSGFLO_ENOMEM;
    }
    if (rc == 0) {
        graph_json__normalize_numbers(doc);
        rc = graph_json__from_json(doc, out, err);
    }
    json_decref(doc);
    return rc;
}

/* Puts "PATH:LINE:COL: " or "PATH: " before err->message (truncated to fit). */
static void prefix_path(const char *path, struct graph_error *err, int rc)
{
    const char *msg = err->message[0]       ? err->message
                      : rc == MSGFLO_ENOMEM ? "out of memory"
                      : rc == MSGFLO_EJSON  ? "invalid JSON"
                                            : "invalid graph";
    char place[64] = "";
    if (err->line > 0)
        snprintf(place, sizeof(place), ":%d:%d", err->line, err->column);
    size_t plen = strlen(path), qlen = strlen(place), mlen = strlen(msg);
    char *text = malloc(plen + qlen + mlen + 3);
    if (!text)
        return; /* keep the message without the path */
    memcpy(text, path, plen);
    memcpy(text + plen, place, qlen);
    memcpy(text + plen + qlen, ": ", 2);
    memcpy(text + plen + qlen + 2, msg, mlen + 1);
    size_t n = strlen(text);
    if (n >= sizeof(err->message))
        n = sizeof(err->message) - 1;
    memcpy(err->message, text, n);
    err->message[n] = '\0';
    free(text);
}

int graph__load_file(const char *path, bool case_sensitive, struct graph **out,
                     struct graph_error *err)
{
    struct graph_error local;
    struct graph *g = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (!err)
        err = &local;
    memset(err, 0, sizeof(*err));
    *out = NULL;

    bool from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err->message, sizeof(err->message), "%s: cannot open: %s", path, strerror(e));
        return MSGFLO_ESYS;
    }
    int read_errno = 0;
    rc = read_stream(f, &text, &len, &read_errno);
    if (!from_stdin)
        fclose(f);
    if (rc) {
        snprintf(err->message, sizeof(err->message), "%s: cannot read: %s", path,
                 rc == MSGFLO_ENOMEM ? "out of memory" : strerror(read_errno));
        return rc;
    }

    bool json_in = from_stdin ? sniff_json(text, len) : graph__path_is_json(path);
    if (json_in) {
        rc = case_sensitive ? read_json_case_sensitive(text, len, &g, err)
                            : graph_json__read(text, len, &g, err);
        if (rc == 0)
            rc = graph__validate(g, err);
    } else {
        struct fbp_parse_options opts = {case_sensitive};
        rc = fbp__parse(text, len, &opts, &g, err);
    }
    free(text);
    if (rc) {
        graph__free(g);
        prefix_path(path, err, rc);
        return rc;
    }
    *out = g;
    return 0;
}
