/* Reading a whole file; see file.h. */
#include "core/file.h"

#include "msgflo/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_SIZE (16u << 20)

int file__read(const char *path, char **text, size_t *len, char *errbuf, size_t errlen)
{
    int rc = 0;
    char *buf = NULL;
    size_t used = 0, cap = 0;
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return MSGFLO_EINVAL;
    }
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 4096;
            char *bigger = cap <= MAX_FILE_SIZE ? realloc(buf, cap) : NULL;
            if (!bigger) {
                rc = cap > MAX_FILE_SIZE ? MSGFLO_EINVAL : MSGFLO_ENOMEM;
                if (errbuf && errlen)
                    snprintf(errbuf, errlen, "%s: %s", path,
                             rc == MSGFLO_EINVAL ? "file too large" : "out of memory");
                goto out;
            }
            buf = bigger;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = MSGFLO_EINVAL;
        goto out;
    }
    *text = buf;
    *len = used;
    buf = NULL;
out:
    fclose(f);
    free(buf);
    return rc;
}
