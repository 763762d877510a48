/* Booleans as people write them in options and URLs. */
#ifndef MSGFLO_CORE_BOOLEAN_H
#define MSGFLO_CORE_BOOLEAN_H

#include <stdbool.h>

/* true/false, yes/no, on/off, 1/0 in any case. Returns false (and leaves
 * *out alone) for anything else, including NULL. */
bool boolean__parse(const char *text, bool *out);

#endif
