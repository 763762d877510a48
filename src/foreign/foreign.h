/* Foreign participants: devices and services that are not MsgFlo-aware, and
 * whose discovery messages msgflo-register sends on their behalf.
 *
 * A definition is a YAML mapping (as msgflo's msgflo-register reads it):
 *
 *   component: my/LightBulb            required
 *   label: A light bulb                optional, like icon, description, ...
 *   inports:                           a map keyed by port id ...
 *     on: {queue: /bulb/#ROLE/on, type: boolean}
 *   outports:                          ... or a list of ports with an `id`
 *     - {id: state, queue: /bulb/#ROLE/state, type: boolean}
 *
 * `role` is given by the caller (or read from the YAML), `id` defaults to the
 * role, `#ROLE` in a queue becomes the role, and every other key is passed
 * through with YAML's types as js-yaml gives them (strings, numbers,
 * booleans, null, lists, maps).
 *
 * Parsing (foreign__parse) is pure: text in, JSON out. Announcing
 * (foreign__announcer_*) sends the messages over a transport on a libuv loop.
 */
#ifndef MSGFLO_FOREIGN_FOREIGN_H
#define MSGFLO_FOREIGN_FOREIGN_H

#include "msgflo/url.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Parses the YAML definition in text[0..len) into a discovery payload.
 * `filename` (borrowed) only names the text in error messages. `role`
 * (borrowed, may be NULL) overrides the YAML's `role`; without either the
 * definition is invalid.
 *
 * Returns 0 and a new reference in *payload, or MSGFLO_EINVAL with one line in
 * errbuf: "FILE:LINE:COLUMN: message" when the error has a place in the text
 * (YAML syntax, a missing queue, ...), else "FILE: message"; or MSGFLO_ENOMEM. */
int foreign__parse(const char *text, size_t len, const char *filename, const char *role,
                   json_t **payload, char *errbuf, size_t errlen);

/* foreign__parse on the contents of the file at `path` (borrowed). An
 * unreadable file is MSGFLO_EINVAL with "PATH: reason" in errbuf. */
int foreign__load(const char *path, const char *role, json_t **payload, char *errbuf,
                  size_t errlen);

/* The discovery message {"protocol":"discovery","command":"participant",
 * "payload":PAYLOAD} as compact JSON text. `payload` is borrowed. Returns
 * owned memory (free()) or NULL when out of memory. */
char *foreign__message(const json_t *payload);

/* --- announcing ------------------------------------------------------------ */

struct foreign_announcer;

struct foreign_announcer_events {
    /* A definition's message was handed to the broker for the first time.
     * `id` is valid during the call. */
    void (*sent)(void *ud, const char *id);
    /* Connecting failed or the connection was lost (a reconnect is scheduled). */
    void (*disconnected)(void *ud, int err);
    /* The announcer is finished and freed: status 0 after a one-shot run
     * whose messages all reached the broker, or after foreign__announcer_stop;
     * a negative MSGFLO_E* code when sending failed, with the broker's
     * reason in `why` when it gave one (else ""; said nowhere else). */
    void (*done)(void *ud, int status, const char *why);
};

/* Creates an announcer for `n` payloads (borrowed: the messages are built
 * here). `url` is taken over, also on failure. The announcer in *out frees
 * itself after events.done; `events` is copied, `ud` borrowed. With `forever`, the messages are
 * sent on every (re)connect and every `interval` s / 2.2; without it they are sent once, and the
 * announcer finishes once the broker has them. Nothing happens until foreign__announcer_start. */
int foreign__announcer_new(struct foreign_announcer **out, uv_loop_t *loop, msgflo_url *url,
                           json_t *const *payloads, size_t n, double interval, bool forever,
                           const struct foreign_announcer_events *events, void *ud);

/* Stops the announcer (as foreign__announcer_stop) on SIGINT and SIGTERM,
 * for programs whose only work it is. */
int foreign__announcer_stop_on_signals(struct foreign_announcer *a);

/* Connects; events follow on the loop. */
int foreign__announcer_start(struct foreign_announcer *a);

/* Closes the connection; events.done(ud, 0) follows when everything is
 * closed and the announcer freed. Safe to call more than once. */
void foreign__announcer_stop(struct foreign_announcer *a);

#endif
