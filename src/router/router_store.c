/* The router's bindings file: {"protocol":"1.0","instance":...,"bindings":[
 * {"src","tgt","type"},...]}, written atomically so a crash leaves the old or
 * the new file, never half of one. */
#include "router/router_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void save_one(const struct router_binding_info *b, void *ud)
{
    json_array_append_new(ud, json_pack("{s:s, s:s, s:s}", "src", b->src, "tgt", b->tgt, "type",
                                        router__type_name(b->type)));
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int router__save(struct router *r, const char *path, char *err, size_t errlen)
{
    json_t *list = json_array();
    router__each(r, save_one, list);
    json_t *doc = json_pack("{s:s, s:s, s:o}", "protocol", ROUTER_PROTOCOL_VERSION, "instance",
                            r->instance, "bindings", list);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    size_t n = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(n);
    int rc = -1;
    int fd = -1;
    if (!text || !tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    snprintf(tmp, n, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) || fsync(fd)) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd)) {
        fd = -1;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    r->dirty = false;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp)
        unlink(tmp);
    free(tmp);
    free(text);
    return rc;
}

int router__load(struct router *r, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!doc) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    json_t *list = json_object_get(doc, "bindings");
    int rc = 0;
    if (!json_is_array(list)) {
        snprintf(err, errlen, "%s: \"bindings\" must be an array", path);
        rc = -1;
        goto out;
    }
    size_t i;
    json_t *b;
    char why[512];
    json_array_foreach(list, i, b)
    {
        const char *src = json_string_value(json_object_get(b, "src"));
        const char *tgt = json_string_value(json_object_get(b, "tgt"));
        enum router_type type;
        json_t *tv = json_object_get(b, "type");
        if (!src || !tgt || (tv && !json_is_string(tv)) ||
            router__type_parse(json_string_value(tv), &type)) {
            snprintf(err, errlen, "%s: bindings[%zu]: needs \"src\", \"tgt\" and a known \"type\"",
                     path, i);
            rc = -1;
            break;
        }
        int added = router__add(r, src, tgt, type, why, sizeof why);
        if (added < 0) {
            snprintf(err, errlen, "%s: bindings[%zu]: %s", path, i,
                     added == -2 ? "out of memory" : why);
            rc = -1;
            break;
        }
    }
    if (rc) { /* nothing added: take back what this file added */
        size_t j;
        json_array_foreach(list, j, b)
        {
            if (j >= i)
                break;
            router__remove(r, json_string_value(json_object_get(b, "src")),
                           json_string_value(json_object_get(b, "tgt")));
        }
    }
    r->dirty = false;
out:
    json_decref(doc);
    return rc;
}
