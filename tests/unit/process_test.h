/* Shared by the unit tests that start processes (supervisor, embedded
 * broker): whether a process is gone. */
#ifndef MSGFLO_TESTS_PROCESS_TEST_H
#define MSGFLO_TESTS_PROCESS_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Dead, or a zombie waiting for init (an orphaned grandchild, a SIGKILLed
 * owner's child); polls up to `seconds`, since a killed process takes a
 * moment to go. */
static inline bool process_gone(int pid, int seconds)
{
    for (int i = 0; i < seconds * 100; i++) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return true;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *paren = strrchr(buf, ')');
            if (paren && (paren[2] == 'Z' || paren[2] == 'X'))
                return true;
        }
        usleep(10000);
    }
    return false;
}

#endif
