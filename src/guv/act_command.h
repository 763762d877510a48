/* Command mode of msgflo-guv: every change of a role's workers runs a
 * command template, e.g.
 *   kubectl scale deployment/#ROLE --replicas=#WORKERS
 *   heroku ps:scale #WORKER=#WORKERS --app #APP
 * through /bin/sh -c on the caller's libuv loop (never system(): the loop
 * goes on), with its output inherited and its exit status reported.
 *
 * Markers: #ROLE (the role), #WORKER (its `worker`, default the role),
 * #WORKERS (the number to set), #APP (`app`, "" when unset), #QUEUE (its
 * queue). A value made of anything but letters, digits and ._-/:@+=, is
 * inserted single-quoted for the shell (guv's names never need it). */
#ifndef MSGFLO_GUV_ACT_COMMAND_H
#define MSGFLO_GUV_ACT_COMMAND_H

#include "guv/config.h"

#include <stddef.h>
#include <uv.h>

/* The command for `role` (borrowed) and `workers` from `template` (borrowed):
 * *out is owned by the caller (free()). Returns 0 or MSGFLO_ENOMEM. */
int guv_command__expand(const char *template, const struct guv_role *role, int workers, char **out);

/* The command finished: `status` is its exit status (0: success), -N when
 * killed by signal N, or -1000 when it could not be run. */
typedef void (*guv_command_done_fn)(int status, void *ud);

/* Runs `command` (copied) as /bin/sh -c COMMAND on `loop`; `done` is called
 * once from the loop (never from within this call) when it has exited.
 * Returns 0, or MSGFLO_ENOMEM. */
int guv_command__run(uv_loop_t *loop, const char *command, guv_command_done_fn done, void *ud);

#endif
