/* msgflo-c: MsgFlo participants in C. Include this one header.
 *
 * Build with: cc prog.c $(pkg-config --cflags --libs msgflo)
 */
#ifndef MSGFLO_MSGFLO_H
#define MSGFLO_MSGFLO_H

#include <jansson.h>

#include "msgflo/device.h"
#include "msgflo/errors.h"
#include "msgflo/log.h"
#include "msgflo/participant.h"
#include "msgflo/url.h"
#include "msgflo/version.h"

#endif
