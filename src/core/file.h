/* Reading a whole configuration or definition file for the tools. */
#ifndef MSGFLO_CORE_FILE_H
#define MSGFLO_CORE_FILE_H

#include <stddef.h>

/* Reads `path` whole (at most 16 MiB: this only stops reading /dev/zero).
 * On success *text is owned by the caller (free()), not NUL-terminated, and
 * may be NULL when the file is empty. On failure returns MSGFLO_EINVAL (cannot
 * open, cannot read, too large) or MSGFLO_ENOMEM, with "PATH: reason" in
 * errbuf (may be NULL). */
int file__read(const char *path, char **text, size_t *len, char *errbuf, size_t errlen);

#endif
