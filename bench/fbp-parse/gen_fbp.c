/* Writes a generated .fbp graph of N processes and 2N connections to stdout:
 *   gen_fbp N
 * Each process is declared at its first mention with a component and
 * metadata; connections mix plain and array ports; one process in ten gets
 * an IIP (quoted strings and JSON values alternate); there are exports,
 * annotations and comments, so every part of the grammar is exercised. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    if (n < 10) {
        fprintf(stderr, "usage: gen_fbp N (N >= 10)\n");
        return 2;
    }
    printf("# @runtime msgflo\n# @name Bench%ld\n", n);
    printf("INPORT=p0.IN:input\nOUTPORT=p%ld.OUT:output\n\n", n - 1);
    /* ring: N edges, declaring every process */
    for (long i = 0; i < n; i++) {
        long j = (i + 1) % n;
        if (i == 0)
            printf("p0(core/Comp0:x=0,y=0) OUT -> IN p1(core/Comp%ld:x=%ld,y=%ld)\n", 1 % 50L,
                   1 * 10L, 1 % 100 * 10L);
        else if (j != 0)
            printf("p%ld OUT -> IN p%ld(core/Comp%ld:x=%ld,y=%ld)\n", i, j, j % 50, j * 10,
                   j % 100 * 10);
        else
            printf("p%ld OUT -> IN p0 # close the ring\n", i);
    }
    /* cross links with array ports, and IIPs: N more connections */
    for (long i = 0; i < n; i++) {
        if (i % 10 == 0) {
            if (i % 20 == 0)
                printf("'config for p%ld' -> CONF p%ld\n", i, i);
            else
                printf("{\"rate\": %ld, \"tags\": [\"a\", \"b\"], \"on\": true} -> CONF p%ld\n", i,
                       i);
        } else {
            printf("p%ld ERROR[%ld] -> ERRORS[%ld] p%ld\n", i, i % 4, i % 3, (i * 7 + 3) % n);
        }
    }
    return 0;
}
