/* The server side of the RFC 6455 opening handshake: pure functions over
 * header values, so the HTTP server stays about HTTP. */
#ifndef MSGFLO_RUNTIME_WS_HANDSHAKE_H
#define MSGFLO_RUNTIME_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

/* Length of a Sec-WebSocket-Accept value plus its NUL. */
#define WS_ACCEPT_SIZE 29

/* Whether `key` (NUL-terminated, borrowed) is a valid Sec-WebSocket-Key: the
 * base64 of 16 bytes (24 characters ending in "=="). */
bool ws_handshake__valid_key(const char *key);

/* Writes base64(SHA-1(key + the RFC 6455 GUID)) into out (NUL-terminated).
 * Returns 0, or MSGFLO_EINVAL for an invalid key, MSGFLO_ESYS if OpenSSL
 * fails. */
int ws_handshake__accept(const char *key, char out[WS_ACCEPT_SIZE]);

/* Whether the comma-separated header value `list` (borrowed) holds `token`;
 * tokens are trimmed of spaces and tabs and compared ignoring case when
 * `nocase` (Connection, Upgrade) or exactly (Sec-WebSocket-Protocol). */
bool ws_handshake__has_token(const char *list, const char *token, bool nocase);

#endif
