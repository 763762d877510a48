/* RFC 6455 section 4.2: the server's checks and Sec-WebSocket-Accept. */
#include "runtime/ws_handshake.h"

#include "msgflo/errors.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool ws_handshake__valid_key(const char *key)
{
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return false;
    unsigned char raw[24];
    /* EVP_DecodeBlock counts the padding as data: 24 chars -> 18 bytes. */
    return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

int ws_handshake__accept(const char *key, char out[WS_ACCEPT_SIZE])
{
    if (!ws_handshake__valid_key(key))
        return MSGFLO_EINVAL;
    char buf[24 + sizeof ws_guid];
    memcpy(buf, key, 24);
    memcpy(buf + 24, ws_guid, sizeof ws_guid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(buf, strlen(buf), digest, &dlen, EVP_sha1(), NULL) != 1 || dlen != 20)
        return MSGFLO_ESYS;
    /* 20 bytes -> 28 characters + NUL. */
    if (EVP_EncodeBlock((unsigned char *)out, digest, 20) != 28)
        return MSGFLO_ESYS;
    return 0;
}

bool ws_handshake__has_token(const char *list, const char *token, bool nocase)
{
    if (!list || !token)
        return false;
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        size_t n = (size_t)(end - start);
        if (n == tlen && (nocase ? strncasecmp(start, token, n) : strncmp(start, token, n)) == 0)
            return true;
    }
    return false;
}
