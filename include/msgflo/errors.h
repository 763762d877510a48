/* msgflo-c: error codes.
 *
 * Every function of the library that can fail returns an int: 0 on success or
 * one of the negative MSGFLO_E* codes below. There is no global error state.
 */
#ifndef MSGFLO_ERRORS_H
#define MSGFLO_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

enum msgflo_error {
    MSGFLO_OK = 0,
    MSGFLO_ENOMEM = -1,     /* out of memory */
    MSGFLO_EINVAL = -2,     /* invalid argument or definition */
    MSGFLO_EURL = -3,       /* malformed or unsupported broker URL */
    MSGFLO_ENOTCONN = -4,   /* not connected to the broker */
    MSGFLO_ECONNECT = -5,   /* could not connect or log in to the broker */
    MSGFLO_EPROTO = -6,     /* broker refused an operation or broke the protocol */
    MSGFLO_ENOPORT = -7,    /* no such port */
    MSGFLO_ESTATE = -8,     /* operation not allowed in this state (e.g. double ack) */
    MSGFLO_EJSON = -9,      /* data is not valid JSON */
    MSGFLO_ENOBROKER = -10, /* no broker URL given and none in the environment */
    MSGFLO_ESYS = -11,      /* system call or event loop failure */
    MSGFLO_ETLS = -12,      /* TLS set-up failed */
    MSGFLO_ENOSPC = -13,    /* a caller's buffer is too small (nothing truncated) */
    MSGFLO_EREFUSED = -14,  /* the broker refused the login (credentials, vhost): not retried */
    MSGFLO_ENOHOST = -15,   /* the broker's host name does not exist: not retried */
};

/* Returns a static, human-readable description of an error code; never NULL. */
const char *msgflo_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
