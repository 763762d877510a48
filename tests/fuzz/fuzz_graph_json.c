/* libFuzzer target: the FBP JSON graph reader, then validation and every
 * writer on what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "graph/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct graph *g = NULL;
    struct graph_error err;
    char *json = NULL, *fbp = NULL, *dot = NULL;

    if (graph_json__read((const char *)data, size, &g, &err) != 0)
        return 0;
    (void)graph__validate(g, &err);
    if (graph_json__write(g, &json) != 0)
        abort();
    (void)fbp__write(g, &fbp, &err);
    if (dot__write(g, &dot) != 0)
        abort();
    free(json);
    free(fbp);
    free(dot);
    graph__free(g);
    return 0;
}
