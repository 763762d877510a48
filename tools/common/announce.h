/* The run of msgflo-register and msgflo-register-foreign: announces foreign
 * participants (foreign.h) on a broker until done, or until SIGINT/SIGTERM
 * when `forever`, printing "Sent discovery message for ROLE" per message.
 *
 *     int status = announce__run(&(struct announce_options){
 *         .prog = "msgflo-register", .what = "discovery messages",
 *         .broker = url, .payloads = p, .n = 2, .interval = 60, .forever = true});
 */
#ifndef MSGFLO_TOOLS_COMMON_ANNOUNCE_H
#define MSGFLO_TOOLS_COMMON_ANNOUNCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Every pointer is borrowed for the call. */
struct announce_options {
    const char *prog;   /* for messages */
    const char *what;   /* for errors: "could not send the WHAT to BROKER" */
    const char *broker; /* URL, as given (redacted in messages) */
    json_t **payloads;  /* n discovery payloads (foreign__load), borrowed */
    size_t n;
    double interval; /* discovery period, s */
    bool forever;
    /* print "--forever enabled" after each message when forever, as the
     * original's msgflo-register-foreign does */
    bool say_forever;
};

/* Returns the exit status: 0 sent (or stopped), 1 the broker did not take
 * them, 2 a bad broker URL. */
int announce__run(const struct announce_options *o);

#endif
