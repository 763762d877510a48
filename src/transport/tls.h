/* TLS for both transports: one OpenSSL set-up from a broker URL, and one
 * sentence saying why a handshake failed.
 *
 * Both libraries take an SSL_CTX we configure (libmosquitto through
 * MOSQ_OPT_SSL_CTX without its defaults, rabbitmq-c through
 * amqp_ssl_socket_get_context), so verification is OpenSSL's own, the same on
 * both: the chain against the URL's `ca` (else the system CAs), the dates,
 * and the URL's host checked by X509_VERIFY_PARAM: a DNS name against the
 * certificate's DNS names (its CN when it has none), an IP address against
 * its IP addresses. rabbitmq-c 0.11's own host check compares DNS names only
 * (it refuses a certificate for IP 127.0.0.1 at amqps://127.0.0.1) and is off.
 *
 * Callbacks on the context fill a `struct tls_report` during each handshake:
 * the first verification failure with what the certificate says about it,
 * whether our ClientHello was sent, whether the broker answered in TLS at all,
 * and a fatal alert it sent. tls__explain turns that into the message.
 *
 *   struct tls_report r;
 *   tls__configure(ctx, url, &r, err, sizeof err);  // once per SSL_CTX
 *   tls__begin(&r, url);                             // before each handshake
 *   ... handshake fails ...
 *   if (tls__explain(&r, why, sizeof why)) LOG_WARNING(NS, "%s", why);
 */
#ifndef MSGFLO_TRANSPORT_TLS_H
#define MSGFLO_TRANSPORT_TLS_H

#include "core/url_internal.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct tls_report {
    const char *host; /* borrowed from the URL */
    int port;
    bool hello_sent;   /* our ClientHello was written: TCP is up */
    bool answered;     /* the broker sent a TLS handshake message or alert */
    bool done;         /* the handshake completed */
    int alert;         /* description of a fatal alert the broker sent, or -1 */
    long verify_error; /* the first X509_V_ERR_* of this handshake, or X509_V_OK */
    char detail[240];  /* what the certificate says about verify_error */
};

/* Configures `ctx` (borrowed) for the broker of `u` (borrowed): CA file or
 * system CAs, client certificate and key, TLS 1.2 at least, peer verification
 * with the host name or IP address check (none with insecure=1), and the
 * callbacks that fill `r` (borrowed: must stay valid while `ctx` makes
 * handshakes, or be detached with tls__attach(ctx, NULL)).
 * Returns 0, or MSGFLO_ETLS with a one-line reason in `err`. */
int tls__configure(SSL_CTX *ctx, const msgflo_url *u, struct tls_report *r, char *err,
                   size_t errlen);

/* Points the callbacks of `ctx` at `r` (NULL: they record nothing). */
void tls__attach(SSL_CTX *ctx, struct tls_report *r);

/* Clears `r` before a handshake with the broker of `u`. */
void tls__begin(struct tls_report *r, const msgflo_url *u);

/* Writes why the last handshake failed, as one sentence naming the broker,
 * and returns true; returns false when TLS is not to blame (the TCP
 * connection failed before our ClientHello was sent, or the handshake
 * completed and the broker sent no alert). */
bool tls__explain(const struct tls_report *r, char *buf, size_t len);

/* Logs, under `ns`, that the certificate of the broker of `u` is not
 * verified. The transports call it once per transport object. */
void tls__warn_insecure(const char *ns, const msgflo_url *u);

#endif
