/* libFuzzer target: the .fbp parser, and what is done with what it returns.
 * Any input: parse with both case options; a parsed graph must survive
 * JSON out -> JSON in (the same graph), the .fbp writer and DOT. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Metadata the .fbp writer leaves out: null (x=abc) and empty-key values. */
static void drop_unwritable_metadata(json_t *doc)
{
    const char *name;
    json_t *proc;
    json_object_foreach(json_object_get(doc, "processes"), name, proc)
    {
        json_t *md = json_object_get(proc, "metadata");
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(md, tmp, key, v)
        {
            if (json_is_null(v) || !*key)
                json_object_del(md, key);
        }
        if (md && json_object_size(md) == 0)
            json_object_del(proc, "metadata");
    }
}

static void check(const uint8_t *data, size_t size, bool cs)
{
    struct fbp_parse_options opts = {cs};
    struct graph *g = NULL, *back = NULL;
    struct graph_error err;
    char *json = NULL, *fbp = NULL, *dot = NULL;
    json_t *a = NULL, *b = NULL;

    if (fbp__parse((const char *)data, size, &opts, &g, &err) != 0) {
        if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
            abort();
        return;
    }
    if (graph_json__write(g, &json) != 0)
        abort();
    if (graph_json__read(json, strlen(json), &back, &err) != 0)
        abort();
    if (graph_json__to_json(g, &a) != 0 || graph_json__to_json(back, &b) != 0)
        abort();
    if (!json_equal(a, b))
        abort();
    /* .fbp out -> .fbp in gives the same graph, less the metadata .fbp
     * cannot write; the writer may refuse names .fbp cannot hold */
    if (fbp__write(g, &fbp, &err) == 0) {
        struct graph *again = NULL;
        json_t *c = NULL;
        if (fbp__parse(fbp, strlen(fbp), &opts, &again, &err) != 0)
            abort();
        if (graph_json__to_json(again, &c) != 0)
            abort();
        drop_unwritable_metadata(a);
        if (!json_equal(a, c))
            abort();
        json_decref(c);
        graph__free(again);
    }
    if (dot__write(g, &dot) != 0)
        abort();
    json_decref(a);
    json_decref(b);
    free(json);
    free(fbp);
    free(dot);
    graph__free(back);
    graph__free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, false);
    check(data, size, true);
    return 0;
}
