/* The runtime's front page and its link to Flowhub. */
#ifndef MSGFLO_RUNTIME_FRONT_PAGE_H
#define MSGFLO_RUNTIME_FRONT_PAGE_H

/* Builds the "Open in Flowhub" URL as the original prints it:
 *   <ide>#runtime/endpoint?<escaped "protocol=websocket&address=ws://HOST:PORT&id=ID">
 * and with a secret (NULL or "": none) "...&id=ID&secret=SECRET" as
 * noflo-nodejs does (Flowhub sends it with every request), escaped as Node's
 * querystring.escape (everything but A-Z a-z 0-9 - _ . ! ~ * ' ( )
 * percent-encoded). Arguments are borrowed; *out is owned by the caller
 * (free()). Returns 0, MSGFLO_EINVAL, MSGFLO_ENOMEM. */
int front_page__flowhub_url(const char *ide, const char *host, int port, const char *id,
                            const char *secret, char **out);

/* The live view's address as msgflo prints it: http://HOST:PORT/, and with a
 * secret #secret=SECRET (escaped as above; in the fragment, so browsers
 * never send it, and the page takes it off the address bar). *out owned by
 * the caller (free()). Returns 0, MSGFLO_EINVAL, MSGFLO_ENOMEM. */
int front_page__live_url(const char *host, int port, const char *secret, char **out);

/* The live view's page (web/index.html) with <a id="flowhub_url"
 * href="URL">, the URL HTML-escaped. *out is owned by the caller (free()).
 * Returns 0, MSGFLO_ENOMEM. */
int front_page__html(const char *flowhub_url, char **out);

/* A file of the live view by its path ("/live.js"), or NULL. */
struct web_asset;
const struct web_asset *front_page__asset(const char *path);
/* Its Content-Type, from the extension (.js, .css, else HTML). */
const char *front_page__content_type(const char *path);

#endif
