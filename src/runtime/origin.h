/* Which web pages may open a WebSocket to the runtime (the browser's
 * `Origin` header, RFC 6454). Pure functions and a small list; no I/O.
 *
 *     struct origin_policy *p;
 *     origin_policy__new(&p);
 *     origin_policy__allow(p, "http://app.flowhub.io/");     // the IDE: its origin
 *     origin_policy__allow_host(p, "http", "::1", 3569);      // http://[::1]:3569
 *     origin_policy__allows(p, NULL);                         // true: not a browser
 *     origin_policy__allows(p, "http://evil.example");        // false
 *     origin_policy__free(p);
 *
 * Browsers send Origin with every WebSocket handshake and let any page open a
 * WebSocket to localhost; other clients (fbp-test, fbp-spec, Node's ws) send
 * none. So a request without Origin is allowed and one with an Origin must
 * name an allowed page.
 */
#ifndef MSGFLO_RUNTIME_ORIGIN_H
#define MSGFLO_RUNTIME_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* The longest origin kept: scheme://host:port. */
#define ORIGIN_MAX 256

/* Writes the canonical origin of `s` to out (outlen bytes): "scheme://host"
 * or "scheme://host:port", scheme and host lowercased, the default port of
 * http (80) and https (443) dropped. The host is a name of letters, digits,
 * '-', '.', '_', or an IPv6 literal in brackets. With `url` true, s may go on
 * with a path, query or fragment (an --ide or --allow-origin value); else
 * (an Origin header) nothing may follow the port. Userinfo (`user@`) is
 * refused. Returns 0, or MSGFLO_EINVAL (not an origin, or too long). */
int origin__normalize(const char *s, bool url, char *out, size_t outlen);

struct origin_policy;

/* A policy allowing only requests without Origin. *out owned by the caller
 * (origin_policy__free). Returns 0 or MSGFLO_ENOMEM. */
int origin_policy__new(struct origin_policy **out);

/* Allows the origin of `url` (normalized, a path allowed), or every origin
 * for "*". Returns 0, MSGFLO_EINVAL (not an origin), MSGFLO_ENOMEM. */
int origin_policy__allow(struct origin_policy *p, const char *url);

/* Allows scheme://host:port; an IPv6 host (with ':') is put in brackets.
 * Returns as origin_policy__allow. */
int origin_policy__allow_host(struct origin_policy *p, const char *scheme, const char *host,
                              int port);

/* Whether "*" was allowed. */
bool origin_policy__allows_any(const struct origin_policy *p);

/* Whether a handshake with this Origin header may open a WebSocket: NULL (no
 * header) always; else when "*" is allowed or its canonical form is in the
 * list. "null" (sandboxed pages, file://) and malformed values are refused
 * unless "*" is allowed. */
bool origin_policy__allows(const struct origin_policy *p, const char *origin);

/* Whether the page may be served to a request with this Host header
 * (against DNS rebinding: a page of evil.example whose name now resolves to
 * 127.0.0.1 would read GET / and the secret in its link). Allowed: no header
 * (HTTP/1.0), an IP address (a rebinding needs a name), and a name that is
 * the host of an allowed origin (the server's own names, the IDE,
 * --allow-origin); every host when "*" is allowed. The port is not compared
 * (a reverse proxy forwards its own). */
bool origin_policy__serves_host(const struct origin_policy *p, const char *host);

/* Records a refused origin; true the first time this origin is refused (to
 * log a warning once per origin), for the first 32 distinct ones; false
 * after that, and for repeats. */
bool origin_policy__first_refusal(struct origin_policy *p, const char *origin);

/* NULL is a no-op. */
void origin_policy__free(struct origin_policy *p);

#endif
