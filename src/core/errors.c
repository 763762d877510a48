#include "msgflo/errors.h"

const char *msgflo_strerror(int err)
{
    switch (err) {
    case MSGFLO_OK:
        return "success";
    case MSGFLO_ENOMEM:
        return "out of memory";
    case MSGFLO_EINVAL:
        return "invalid argument";
    case MSGFLO_EURL:
        return "malformed or unsupported broker URL";
    case MSGFLO_ENOTCONN:
        return "not connected to the broker";
    case MSGFLO_ECONNECT:
        return "could not connect to the broker";
    case MSGFLO_EPROTO:
        return "broker protocol error";
    case MSGFLO_ENOPORT:
        return "no such port";
    case MSGFLO_ESTATE:
        return "operation not allowed in this state";
    case MSGFLO_EJSON:
        return "invalid JSON";
    case MSGFLO_ENOBROKER:
        return "no broker URL configured";
    case MSGFLO_ESYS:
        return "system error";
    case MSGFLO_ETLS:
        return "TLS set-up failed";
    case MSGFLO_ENOSPC:
        return "buffer too small";
    case MSGFLO_EREFUSED:
        return "the broker refused the login";
    case MSGFLO_ENOHOST:
        return "the broker's host name does not exist";
    }
    return "unknown error";
}
