/* libFuzzer target: the .fbp parser, and what is done with what it returns.
 * Any input: parse with both case options; a parsed graph must survive
 * JSON out -> JSON in (the same graph), the .fbp writer and DOT. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    (void)fbp__write(g, &fbp, &err); /* may refuse names .fbp cannot write */
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
