/* Participants of an earlier run that outlived their supervisor: found by
 * the marks every child carries in its environment, stopped at start.
 * See supervisor.h (supervisor__stop_orphans) and docs/supervisor.md. */
#include "process/supervisor.h"

#include "core/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS          "msgflo:supervisor"
#define MAX_ORPHANS 256
#define ENV_MAX     (256 * 1024)

/* Reads /proc/<pid>/environ (the environment the process was started with)
 * into buf; returns its length, or -1 when it cannot be read (gone, or
 * another user's). */
static ssize_t read_environ(long pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    return (ssize_t)n;
}

static const char *env_value(const char *env, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t at = 0; at < len;) {
        const char *e = env + at;
        size_t el = strnlen(e, len - at);
        if (el > nl && strncmp(e, name, nl) == 0 && e[nl] == '=')
            return e + nl + 1;
        at += el + 1;
    }
    return NULL;
}

/* No such process, or a zombie (dead, not reaped yet). */
static bool gone(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *paren = strrchr(text, ')'); /* the name may hold spaces and parentheses */
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* Ours and orphaned: started by a supervisor of this identity (exact match
 * of MSGFLO_SUPERVISOR_ID), owned by our user, and that supervisor's process
 * no longer exists. A supervisor of the same identity that is still running
 * (another msgflo-setup of the same graph, or a reused pid) keeps its
 * processes: when in doubt, nothing is killed. */
static bool is_orphan(long pid, const char *identity, char *buf)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%ld", pid);
    if (stat(path, &st) != 0 || st.st_uid != geteuid())
        return false;
    ssize_t n = read_environ(pid, buf, ENV_MAX - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *id = env_value(buf, (size_t)n, "MSGFLO_SUPERVISOR_ID");
    const char *sup = env_value(buf, (size_t)n, "MSGFLO_SUPERVISOR_PID");
    if (!id || !sup || strcmp(id, identity) != 0)
        return false;
    char *end;
    errno = 0;
    long sup_pid = strtol(sup, &end, 10);
    if (errno || *end || sup_pid <= 1 || sup_pid == (long)getpid())
        return false;
    return gone(sup_pid);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int supervisor__stop_orphans(const char *identity, unsigned grace_ms)
{
    if (!identity || !*identity)
        return 0;
    DIR *proc = opendir("/proc");
    char *buf = malloc(ENV_MAX);
    long found[MAX_ORPHANS];
    int n = 0;
    if (!proc || !buf) {
        if (proc)
            closedir(proc);
        free(buf);
        return 0;
    }
    struct dirent *d;
    while ((d = readdir(proc)) != NULL && n < MAX_ORPHANS) {
        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        long pid = strtol(d->d_name, NULL, 10);
        if (pid <= 1 || pid == (long)getpid() || !is_orphan(pid, identity, buf))
            continue;
        LOG_WARNING(NS, "stopping pid %ld, left running by an earlier %s", pid, identity);
        if (kill((pid_t)pid, SIGTERM) == 0)
            found[n++] = pid;
    }
    closedir(proc);
    free(buf);
    /* Wait for them (they are not our children: poll), then SIGKILL. */
    for (unsigned waited = 0; waited < grace_ms; waited += 20) {
        bool left = false;
        for (int i = 0; i < n; i++)
            left = left || !gone(found[i]);
        if (!left)
            break;
        sleep_ms(20);
    }
    for (int i = 0; i < n; i++) {
        if (!gone(found[i])) {
            LOG_WARNING(NS, "pid %ld did not exit within %u ms of SIGTERM; sending SIGKILL",
                        found[i], grace_ms);
            kill((pid_t)found[i], SIGKILL);
        }
    }
    return n;
}
