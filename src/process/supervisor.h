/* Process supervisor: starts participant processes on the caller's libuv
 * loop, tells when each has started, forwards its output line by line, stops
 * them (SIGTERM, then SIGKILL after a grace period) and, with `forever`,
 * restarts a crashed one with exponential backoff. No threads; every callback
 * runs on the loop. See docs/supervisor.md.
 *
 * A process is "started" when its first line arrives on stdout (the ready line
 * every msgflo participant prints once connected and announced). Each process
 * runs in its own process group; signals go to the whole group, so a
 * `sh -c` wrapper and what it started are stopped together. Where setpriv
 * (util-linux) is installed, each child runs with a parent-death signal
 * (SIGTERM), so it also goes when the supervisor's process is killed.
 */
#ifndef MSGFLO_PROCESS_SUPERVISOR_H
#define MSGFLO_PROCESS_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct supervisor;

/* Which child streams are forwarded to `on_output` (a bit set). */
enum supervisor_forward {
    SUPERVISOR_FORWARD_NONE = 0,
    SUPERVISOR_FORWARD_STDOUT = 1,
    SUPERVISOR_FORWARD_STDERR = 2,
    SUPERVISOR_FORWARD_BOTH = 3,
};

/* Parses a --forward value: "", "stdout", "stderr" or both comma-separated
 * ("stderr,stdout"), into *out (a bit set of enum supervisor_forward).
 * Returns 0, or MSGFLO_EINVAL for another word (then *out is unchanged). */
int supervisor__parse_forward(const char *text, unsigned *out);

enum supervisor_stream {
    SUPERVISOR_STDOUT = 1,
    SUPERVISOR_STDERR = 2,
};

/* One forwarded line of `role`'s output: `line` is the text of one complete
 * line without its newline (`len` bytes, also NUL-terminated). The tool prints
 * it prefixed by the role, "<role>: <text>\n", with one write, so lines of
 * different children never interleave mid-line. `role` and `line` are valid
 * until the callback returns. It must not call supervisor__free. */
typedef void (*supervisor_output_fn)(const char *role, enum supervisor_stream stream,
                                     const char *line, size_t len, void *userdata);

/* Options of a supervisor; every string is copied by supervisor__new (the
 * caller keeps ownership of what it passed). Zeroed fields take the defaults. */
struct supervisor_options {
    /* Added to each child's environment as MSGFLO_BROKER=<url> (replacing an
     * inherited one); NULL leaves the environment as inherited. */
    const char *broker_url;
    /* Further "NAME=value" entries for every child, NULL-terminated; an entry
     * replaces an inherited variable of the same name. NULL: none. */
    const char *const *env;
    /* Non-empty: run each command as `<shell> -c "<command>"`. NULL or "":
     * split the command on single spaces, no quoting (as the original). */
    const char *shell;
    /* Working directory of the children; NULL: the caller's. */
    const char *cwd;
    /* Bit set of enum supervisor_forward. */
    unsigned forward;
    /* Receives forwarded lines; NULL discards them. */
    supervisor_output_fn on_output;
    void *output_userdata;
    /* Restart a started process that exits, with backoff. */
    bool forever;
    unsigned start_timeout_ms;   /* default 30000 */
    unsigned grace_ms;           /* SIGTERM -> SIGKILL, default 5000 */
    unsigned backoff_initial_ms; /* first restart delay, default 500 */
    unsigned backoff_max_ms;     /* doubling stops here, default 30000 */
    unsigned backoff_reset_ms;   /* up this long: next delay is the initial one, default 60000 */
    /* Names the deployment (msgflo-setup: one per graph file; the runtime:
     * its runtime id). Children get MSGFLO_SUPERVISOR_ID=<identity>, and
     * supervisor__new first stops the processes of an earlier supervisor of
     * the same identity that outlived it (supervisor__stop_orphans).
     * NULL: no mark, no search. */
    const char *identity;
};

/* Callbacks of one process; each may be NULL. `role`, `line` and `message`
 * are valid until the callback returns. A callback may call
 * supervisor__stop_all, never supervisor__free. */
struct supervisor_callbacks {
    /* The first stdout line arrived (again after every restart). */
    void (*on_started)(const char *role, const char *line, void *userdata);
    /* A started process exited on its own (not during stop_all). `status` is
     * the exit code, or -N when killed by signal N. With `forever` the
     * process is restarted after a backoff (`will_restart`); otherwise this
     * is the last report of the process. */
    void (*on_exit)(const char *role, int status, bool will_restart, void *userdata);
    /* The process could not be started: the command could not be run, did
     * not print a line within the start timeout (it is then stopped), or
     * exited before its first line. The last report of the process, e.g.
     * "participant 'motor' (./motor motor) did not start within 30 s". */
    void (*on_error)(const char *role, const char *message, void *userdata);
};

/* Creates a supervisor on `loop` (borrowed; must outlive the supervisor).
 * `options` may be NULL (defaults); it is copied. On success *out is an owned
 * supervisor (free with supervisor__free).
 * Returns 0, MSGFLO_EINVAL (NULL loop/out) or MSGFLO_ENOMEM. */
int supervisor__new(uv_loop_t *loop, const struct supervisor_options *options,
                    struct supervisor **out);

/* Stops processes left running by an earlier supervisor of `identity`: those
 * of our user whose environment says MSGFLO_SUPERVISOR_ID=<identity> and
 * whose MSGFLO_SUPERVISOR_PID no longer exists (children of a supervisor
 * that is still running, or whose pid is in use again, are left alone).
 * SIGTERM, then SIGKILL after grace_ms; blocks up to grace_ms (called before
 * anything is started). Logs each one. Returns how many were stopped. */
int supervisor__stop_orphans(const char *identity, unsigned grace_ms);

/* Starts a process for `role` running `command` (both copied); `callbacks`
 * is copied and may be NULL, `userdata` is passed to them. Outcomes come
 * through the callbacks, never from within this call: a command that cannot
 * be run is reported by on_error from the loop.
 * Returns 0, MSGFLO_EINVAL (empty role or command, or a role already
 * started), MSGFLO_ESTATE (after stop_all) or MSGFLO_ENOMEM. */
int supervisor__start(struct supervisor *sup, const char *role, const char *command,
                      const struct supervisor_callbacks *callbacks, void *userdata);

/* Stops every process: SIGTERM to each process group, SIGKILL to those still
 * running after the grace period; pending restarts are cancelled. `done` is
 * called once from the loop (never from within this call) when every process
 * is gone; supervisor__free may be called from `done`. on_exit is not called
 * for processes stopped this way. After this, supervisor__start fails.
 * Returns 0, or MSGFLO_ESTATE when already stopping. */
int supervisor__stop_all(struct supervisor *sup, void (*done)(struct supervisor *sup, void *ud),
                         void *userdata);

/* Stops the process of `role` (borrowed) alone: SIGTERM to its group, SIGKILL
 * after the grace period, a pending restart cancelled. Once it is gone it is
 * forgotten, so the name can be started again; `done` (may be NULL) is called
 * then, from the loop (never from within this call), unless the supervisor
 * was freed before. on_exit is not called for it. Until `done`, the process
 * still counts in supervisor__active and its name is taken.
 * Returns 0, MSGFLO_EINVAL (no process of that name), or MSGFLO_ESTATE (it
 * is being stopped already, or stop_all was called). */
int supervisor__stop(struct supervisor *sup, const char *role,
                     void (*done)(struct supervisor *sup, void *ud), void *userdata);

/* The absolute path of program `name` found in PATH (a name with a '/' is
 * taken as it is), if it exists and is executable; else NULL. Returns an owned
 * string (free with free()). */
char *supervisor__find_program(const char *name);

/* The pid of role's process while it runs, else 0 (O(processes)). */
int supervisor__pid(const struct supervisor *sup, const char *role);

/* Number of processes still running or about to be restarted. */
size_t supervisor__active(const struct supervisor *sup);

/* Frees the supervisor. Processes still running are killed (SIGKILL to the
 * group) and reaped; prefer supervisor__stop_all first. Handles close
 * asynchronously: run the loop once more before uv_loop_close. NULL: no-op. */
void supervisor__free(struct supervisor *sup);

#endif
