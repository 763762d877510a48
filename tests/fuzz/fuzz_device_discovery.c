/* libFuzzer target: the device core's discovery writer on definitions made of
 * arbitrary bytes. Checks: it never writes past the buffer (ASan), reports
 * the length it needs, and when it accepts a definition its text is exactly
 * jansson's compact dump of the same message (jansson refusing a string means
 * the writer must refuse it too: invalid UTF-8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msgflo/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_FIELDS = 5 + 2 * 4 * 4, MAX_PORTS = 4 };

/* The input split at NUL bytes into at most MAX_FIELDS strings. */
static size_t split(char *text, size_t size, const char **fields)
{
    size_t n = 0;
    char *s = text;
    for (size_t i = 0; i <= size && n < MAX_FIELDS; i++) {
        if (i == size || text[i] == '\0') {
            text[i] = '\0';
            fields[n++] = s;
            s = text + i + 1;
        }
    }
    return n;
}

static json_t *ports_json(const char *role, const msgflo_device_port *ports)
{
    json_t *arr = json_array();
    for (; ports->id; ports++) {
        if (ports->hidden && !ports->queue)
            continue;
        char q[4096];
        if (!ports->queue && msgflo_device_default_queue(role, ports->id, q, sizeof q, NULL) != 0)
            abort();
        json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "id", ports->id, "type",
                              ports->type ? ports->type : "any", "queue",
                              ports->queue ? ports->queue : q, "hidden", ports->hidden);
        if (!p) {
            json_decref(arr);
            return NULL;
        }
        if (ports->description) {
            json_t *d = json_string(ports->description);
            if (!d) {
                json_decref(p);
                json_decref(arr);
                return NULL;
            }
            json_object_set_new(p, "description", d);
        }
        json_array_append_new(arr, p);
    }
    return arr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    size_t cap = data[0] * 4u; /* the buffer offered, 0..1020 bytes */
    uint8_t flags = data[1];
    char *text = malloc(size - 1);
    memcpy(text, data + 2, size - 2);
    const char *f[MAX_FIELDS] = {0};
    size_t n = split(text, size - 2, f);
    msgflo_device_port in[MAX_PORTS + 1], out[MAX_PORTS + 1];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    msgflo_device_definition def = {.role = f[0],
                                    .id = (flags & 1) ? f[1] : NULL,
                                    .component = f[2],
                                    .label = (flags & 2) ? f[3] : NULL,
                                    .icon = (flags & 4) ? f[4] : NULL,
                                    .inports = in,
                                    .outports = out};
    size_t k = 5;
    for (int dir = 0; dir < 2; dir++) {
        msgflo_device_port *ports = dir ? out : in;
        for (int i = 0; i < MAX_PORTS && k + 3 < n; i++, k += 4) {
            ports[i].id = f[k];
            ports[i].type = *f[k + 1] ? f[k + 1] : NULL;
            ports[i].description = *f[k + 2] ? f[k + 2] : NULL;
            ports[i].queue = *f[k + 3] ? f[k + 3] : NULL;
            ports[i].hidden = (flags >> (3 + i)) & 1;
        }
    }

    char *buf = malloc(cap ? cap : 1);
    size_t len = 0, need = 0;
    int rc = msgflo_device_discovery(&def, cap ? buf : NULL, cap, &len);
    int rc_measure = msgflo_device_discovery(&def, NULL, 0, &need);
    if (rc == MSGFLO_ENOSPC && (len != need || len < cap))
        abort();
    if (rc == 0 && (len >= cap || strlen(buf) != len || rc_measure != MSGFLO_ENOSPC || need != len))
        abort();
    if (rc == MSGFLO_EINVAL && rc_measure != MSGFLO_EINVAL)
        abort();

    /* the oracle, when the writer accepted it */
    if (rc == 0) {
        json_t *inj = ports_json(def.role, in), *outj = ports_json(def.role, out);
        json_t *msg =
            (inj && outj)
                ? json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:O, s:O}}", "protocol",
                            "discovery", "command", "participant", "payload", "id",
                            def.id ? def.id : def.role, "role", def.role, "component",
                            def.component, "label", def.label ? def.label : "", "icon",
                            def.icon ? def.icon : "file-word-o", "inports", inj, "outports", outj)
                : NULL;
        if (!msg)
            abort(); /* the writer accepted what jansson calls invalid */
        char *want = json_dumps(msg, JSON_COMPACT);
        if (!want || strcmp(want, buf) != 0)
            abort();
        free(want);
        json_decref(msg);
        json_decref(inj);
        json_decref(outj);
    }
    free(buf);
    free(text);
    return 0;
}
