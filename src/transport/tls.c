/* TLS set-up and failure reports shared by the transports; see tls.h. */
#include "transport/tls.h"

#include "core/log.h"
#include "msgflo/errors.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The report of a context's current handshake (NULL: none). */
static struct tls_report *report_of(const SSL *ssl)
{
    return ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
}

static void name_text(const X509_NAME *name, char *buf, size_t len)
{
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

static void time_text(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, len, "(unreadable date)");
}

static void append(char *buf, size_t len, const char *sep, const char *text)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", used ? sep : "", text);
}

/* The names a certificate is for: its DNS and IP subjectAltNames, else its CN. */
static void names_text(X509 *cert, char *buf, size_t len)
{
    buf[0] = '\0';
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; san && i < sk_GENERAL_NAME_num(san); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
        char one[INET6_ADDRSTRLEN + 8] = "";
        if (g->type == GEN_DNS) {
            snprintf(one, sizeof one, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            int n = ASN1_STRING_length(g->d.iPAddress);
            char ip[INET6_ADDRSTRLEN];
            if ((n == 4 || n == 16) &&
                inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip,
                          sizeof ip))
                snprintf(one, sizeof one, "IP:%s", ip);
        }
        if (one[0])
            append(buf, len, ", ", one);
    }
    GENERAL_NAMES_free(san);
    if (!buf[0]) {
        char cn[200];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) >
            0) {
            append(buf, len, "", "CN=");
            append(buf, len, "", cn);
        } else {
            snprintf(buf, len, "no name");
        }
    }
}

static int on_verify(int ok, X509_STORE_CTX *sc)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_report *r = report_of(ssl);
    if (ok || !r || r->verify_error != X509_V_OK)
        return ok;
    X509 *cert = X509_STORE_CTX_get_current_cert(sc);
    r->verify_error = X509_STORE_CTX_get_error(sc);
    r->detail[0] = '\0';
    if (!cert)
        return ok;
    switch (r->verify_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        name_text(X509_get_issuer_name(cert), r->detail, sizeof r->detail);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        time_text(X509_get0_notAfter(cert), r->detail, sizeof r->detail);
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        time_text(X509_get0_notBefore(cert), r->detail, sizeof r->detail);
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        names_text(cert, r->detail, sizeof r->detail);
        break;
    default: /* self-signed ones and the rest: who the certificate is */
        name_text(X509_get_subject_name(cert), r->detail, sizeof r->detail);
        break;
    }
    return ok; /* never accept what OpenSSL refused */
}

/* Where the handshake got to: OpenSSL reports each message written or read
 * (SSL_CB_CONNECT_LOOP, in the state of that message) and each alert. */
static void on_info(const SSL *ssl, int where, int ret)
{
    struct tls_report *r = report_of(ssl);
    if (!r)
        return;
    if (where & SSL_CB_LOOP) {
        OSSL_HANDSHAKE_STATE state = SSL_get_state(ssl);
        if (state == TLS_ST_CW_CLNT_HELLO)
            r->hello_sent = true; /* written: the TCP connection is up */
        else if (r->hello_sent)
            r->answered = true; /* a message of the broker's was read */
    }
    if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ)) {
        r->answered = true;
        if ((ret >> 8) == SSL3_AL_FATAL && r->alert < 0)
            r->alert = ret & 0xff;
    }
    if (where & SSL_CB_HANDSHAKE_DONE)
        r->done = true;
}

static void openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, len, "%s", reason ? reason : "unknown reason");
    ERR_clear_error();
}

static bool is_ip(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int tls__configure(SSL_CTX *ctx, const msgflo_url *u, struct tls_report *r, char *err,
                   size_t errlen)
{
    char why[160];
    ERR_clear_error();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (u->ca_file ? SSL_CTX_load_verify_locations(ctx, u->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load %s%s: %s", u->ca_file ? "CA file " : "the system CAs",
                 u->ca_file ? u->ca_file : "", why);
        return MSGFLO_ETLS;
    }
    if (u->cert_file &&
        (!u->key_file || SSL_CTX_use_certificate_chain_file(ctx, u->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, u->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot use certificate %s with key %s: %s", u->cert_file,
                 u->key_file ? u->key_file : "(none)", why);
        return MSGFLO_ETLS;
    }
    if (u->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
        int ok;
        if (is_ip(u->host)) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(param, u->host);
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = X509_VERIFY_PARAM_set1_host(param, u->host, 0);
        }
        if (ok != 1) {
            snprintf(err, errlen, "cannot check the certificate for host '%s'", u->host);
            return MSGFLO_ETLS;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    }
    SSL_CTX_set_info_callback(ctx, on_info);
    tls__attach(ctx, r);
    tls__begin(r, u);
    return 0;
}

void tls__attach(SSL_CTX *ctx, struct tls_report *r)
{
    SSL_CTX_set_app_data(ctx, r);
}

void tls__begin(struct tls_report *r, const msgflo_url *u)
{
    memset(r, 0, sizeof *r);
    r->host = u->host;
    r->port = u->port;
    r->alert = -1;
    r->verify_error = X509_V_OK;
}

bool tls__explain(const struct tls_report *r, char *buf, size_t len)
{
    char at[300], why[160];
    bool v6 = strchr(r->host, ':') != NULL;
    snprintf(at, sizeof at, "%s%s%s:%d", v6 ? "[" : "", r->host, v6 ? "]" : "", r->port);
    const char *d = r->detail;
    switch (r->verify_error) {
    case X509_V_OK:
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: /* d: the untrusted root, the issuer */
        snprintf(buf, len,
                 "the certificate of the broker at %s is signed by an unknown CA (issuer %s); "
                 "give its CA with ?ca=FILE",
                 at, d);
        return true;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        snprintf(buf, len,
                 "the certificate of the broker at %s is self-signed (%s) and not trusted; "
                 "give it with ?ca=FILE",
                 at, d);
        return true;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(buf, len, "the certificate of the broker at %s expired on %s", at, d);
        return true;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(buf, len, "the certificate of the broker at %s is not valid before %s", at, d);
        return true;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(buf, len, "the certificate of the broker at %s is for %s, not for %s", at, d,
                 r->host);
        return true;
    default:
        snprintf(buf, len, "the certificate of the broker at %s failed verification: %s (%s)", at,
                 X509_verify_cert_error_string(r->verify_error), d);
        return true;
    }
    if (r->alert >= 0) {
        /* OpenSSL 3.0 has no text for TLS 1.3's certificate_required */
        bool cert_required = r->alert == 116;
        snprintf(buf, len, "the broker at %s refused the TLS connection: %s", at,
                 cert_required ? "certificate required (give one with ?cert=FILE&key=FILE)"
                               : SSL_alert_desc_string_long(r->alert));
        return true;
    }
    if (!r->hello_sent || r->done)
        return false;
    if (!r->answered) {
        snprintf(buf, len, "the broker at %s did not answer TLS (is it a plain port?)", at);
        return true;
    }
    openssl_reason(why, sizeof why);
    snprintf(buf, len, "the TLS handshake with the broker at %s failed: %s", at, why);
    return true;
}

void tls__warn_insecure(const char *ns, const msgflo_url *u)
{
    bool v6 = strchr(u->host, ':') != NULL;
    LOG_WARNING(ns,
                "insecure=1: the certificate of the broker at %s%s%s:%d is not verified; "
                "anyone on the network path can pose as the broker",
                v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}
