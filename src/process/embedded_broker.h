/* The embedded default broker: a private mosquitto on a free loopback port,
 * started and stopped by the tool (msgflo-setup, the runtime) when no broker
 * is configured. Runs on the caller's libuv loop. See docs/embedded-broker.md.
 *
 * Start: pick a free port on 127.0.0.1, write a config (listener, anonymous,
 * TCP_NODELAY, no persistence, the router plugin mosquitto_msgflo.so when
 * found: $MSGFLO_ROUTER_PLUGIN, the build tree, the installation) in a
 * private mkdtemp folder, spawn
 * `mosquitto -c FILE`, poll the port until it accepts connections. The folder
 * is removed as soon as mosquitto listens (it has read its config), and again
 * checked on stop.
 *
 * No stray broker: stop sends SIGTERM, then SIGKILL after a grace period, and
 * waits for the exit; free kills and reaps a broker still running. If the
 * owner itself dies (even by SIGKILL), the kernel sends mosquitto SIGTERM:
 * it runs under `setpriv --pdeathsig TERM` when setpriv (util-linux) is
 * installed, and when the owner runs as root, setpriv also drops mosquitto to
 * the `mosquitto` user (mosquitto's own drop would clear the death signal).
 * The death signal follows the thread that started the broker: start it from
 * the thread that lives as long as the owner (the loop thread).
 */
#ifndef MSGFLO_PROCESS_EMBEDDED_BROKER_H
#define MSGFLO_PROCESS_EMBEDDED_BROKER_H

#include <stddef.h>
#include <uv.h>

struct embedded_broker;

struct embedded_broker_options {
    /* The mosquitto program: a path, or a name looked up in PATH. NULL:
     * "mosquitto". Borrowed during embedded_broker__start only. */
    const char *program;
    unsigned start_timeout_ms; /* until the port accepts connections, default 10000 */
    unsigned grace_ms;         /* SIGTERM -> SIGKILL on stop, default 5000 */
};

/* Called once when the start ended: status 0 and `text` the URL
 * ("mqtt://127.0.0.1:PORT"), or a negative MSGFLO_E* and `text` a one-line
 * error that names the cause and includes mosquitto's log. `text` is valid
 * until the callback returns. Not called after embedded_broker__stop. */
typedef void (*embedded_broker_ready_fn)(struct embedded_broker *b, int status, const char *text,
                                         void *userdata);

/* Starts a broker on `loop` (borrowed; must outlive the broker). `options`
 * may be NULL; `ready` may be NULL (then use embedded_broker__wait). Failures
 * after the call returns (mosquitto missing, not listening in time, exiting)
 * come through `ready` from the loop, never from within this call.
 * On success *out is owned by the caller (free with embedded_broker__free).
 * Returns 0, MSGFLO_EINVAL or MSGFLO_ENOMEM. */
int embedded_broker__start(uv_loop_t *loop, const struct embedded_broker_options *options,
                           embedded_broker_ready_fn ready, void *userdata,
                           struct embedded_broker **out);

/* Runs the loop (UV_RUN_ONCE, so other handles' callbacks run too) until the
 * start has ended. Returns 0 when the broker listens, else the error code
 * with its message in `err` (`errlen` bytes, may be 0). */
int embedded_broker__wait(struct embedded_broker *b, char *err, size_t errlen);

/* "mqtt://127.0.0.1:PORT" once ready, else NULL. Valid until free. */
const char *embedded_broker__url(const struct embedded_broker *b);

/* The process id of the broker (or of setpriv, which execs it: the same
 * process), 0 when none was spawned. For tests and logs. */
int embedded_broker__pid(const struct embedded_broker *b);

/* The private folder ("$TMPDIR/msgflo-broker-XXXXXX"), kept as a name after
 * it is removed. Valid until free. For tests and logs. */
const char *embedded_broker__dir(const struct embedded_broker *b);

/* Stops the broker: SIGTERM, SIGKILL after the grace period, waits for the
 * exit, removes the folder, then calls `done` from the loop (never from
 * within this call; `done` may be NULL and may free the broker). Stopping
 * while starting abandons the start. Returns 0, or MSGFLO_ESTATE when already
 * stopping. */
int embedded_broker__stop(struct embedded_broker *b,
                          void (*done)(struct embedded_broker *b, void *ud), void *userdata);

/* Frees the broker; one still running is killed (SIGKILL) and reaped, and the
 * folder removed. Handles close asynchronously: run the loop once more before
 * uv_loop_close. NULL: no-op. */
void embedded_broker__free(struct embedded_broker *b);

#endif
