/* Times our .fbp parser on a file: the best and the median of R runs of
 * fbp__parse (graph built, validated and freed; no I/O in the timing).
 *   bench_fbp_parse FILE [RUNS]
 * Prints: processes connections best_ms median_ms */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "graph/graph.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_fbp_parse FILE [RUNS]\n");
        return 2;
    }
    long runs = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    if (runs < 1 || runs > 1000)
        runs = 10;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    double *t = calloc((size_t)runs, sizeof(*t));
    size_t procs = 0, conns = 0;
    for (int r = 0; r < runs; r++) {
        struct graph *g = NULL;
        struct graph_error err;
        double t0 = now_ms();
        int rc = fbp__parse(text, (size_t)len, NULL, &g, &err);
        t[r] = now_ms() - t0;
        if (rc) {
            fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.column, err.message);
            return 1;
        }
        procs = g->n_processes;
        conns = g->n_connections;
        graph__free(g);
    }
    qsort(t, (size_t)runs, sizeof(*t), cmp_double);
    printf("%zu %zu %.3f %.3f\n", procs, conns, t[0], t[runs / 2]);
    free(t);
    free(text);
    return 0;
}
