/* msgflo: the runtime (FBP protocol over WebSocket for Flowhub, fbp-spec,
 * fbp-test). This slice serves the protocol's runtime:getruntime and the front
 * page; the coordinator options are accepted and reported as not yet
 * implemented (docs/msgflo.md). */
#include "msgflo/msgflo.h"
#include "runtime/runtime.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>
#include <uv.h>

static const char usage[] =
    "Usage: msgflo [options]\n"
    "Runs the MsgFlo runtime: the FBP network protocol over WebSocket (subprotocol\n"
    "noflo) for Flowhub, fbp-spec and fbp-test, and a front page linking to Flowhub.\n"
    "\n"
    "  --host HOSTNAME          host advertised in ws://HOST:PORT (default localhost)\n"
    "  --port PORT              HTTP/WebSocket port (default 3569; 0: any free port)\n"
    "  --listen ADDRESS         address to listen on (default 127.0.0.1; 0.0.0.0 or ::\n"
    "                           for every interface, as the original)\n"
    "  --ide URL                Flowhub base URL (default http://app.flowhub.io)\n"
    "  --runtime-id UUID        runtime id (default $MSGFLO_RUNTIME_ID, else a new uuid4)\n"
    "  --secret SECRET          clients must send it (default $MSGFLO_SECRET; none)\n"
    "  -h, --help               this text\n"
    "\n"
    "Accepted but not yet implemented (the coordinator comes in later versions):\n"
    "  --broker URL, --library FILE.json, --componentdir DIR, --graph FILE,\n"
    "  --ignore ROLE (repeatable), --forward [stderr,stdout], --auto-save [BOOL],\n"
    "  --wait-timeout SECONDS, --ping-url URL, --ping-method METHOD,\n"
    "  --ping-interval SECONDS\n";

/* Options of the original that are accepted but do nothing yet. */
static const char *const not_yet[] = {
    "--broker",       "--library",  "--componentdir", "--graph",         "--ignore",
    "--wait-timeout", "--ping-url", "--ping-method",  "--ping-interval", NULL,
};
/* Of those, the ones whose value is optional. */
static const char *const not_yet_optional[] = {"--forward", "--auto-save", NULL};

struct app {
    uv_loop_t *loop;
    struct runtime *rt;
    uv_signal_t sigint, sigterm;
};

static bool in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], name) == 0)
            return true;
    }
    return false;
}

static int usage_error(const char *before, const char *arg, const char *after)
{
    fprintf(stderr, "msgflo: %s%s%s\n", before, arg, after);
    fputs(usage, stderr);
    return 2;
}

static int parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *app = h->data;
    fprintf(stderr, "msgflo: %s, shutting down\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    runtime__close(app->rt, NULL, NULL);
    app->rt = NULL;
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
}

int main(int argc, char **argv)
{
    struct runtime_options o = {
        .host = "localhost", .listen = "127.0.0.1", .port = 3569, .ide = "http://app.flowhub.io"};
    const char *runtime_id = NULL, *secret = NULL;
    char uuid[37];
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0)
            return usage_error("unexpected argument '", a, "'");
        char name[64];
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(name, sizeof name, "%.*s", (int)nlen, a);
        const char *value = eq ? eq + 1 : NULL;
        if (in_list(not_yet_optional, name)) {
            if (!value && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                value = argv[++i];
            fprintf(stderr, "msgflo: %s is not yet implemented; ignored\n", name);
            continue;
        }
        if (!value && i + 1 < argc)
            value = argv[++i];
        if (!value)
            return usage_error("", name, " needs a value");
        if (in_list(not_yet, name)) {
            fprintf(stderr, "msgflo: %s is not yet implemented; ignored\n", name);
        } else if (strcmp(name, "--host") == 0) {
            o.host = value;
        } else if (strcmp(name, "--port") == 0) {
            if (parse_port(value, &o.port) != 0)
                return usage_error("--port: '", value, "' is not a port number (0-65535)");
        } else if (strcmp(name, "--listen") == 0) {
            o.listen = value;
        } else if (strcmp(name, "--ide") == 0) {
            o.ide = value;
        } else if (strcmp(name, "--runtime-id") == 0) {
            runtime_id = value;
        } else if (strcmp(name, "--secret") == 0) {
            secret = value;
        } else {
            return usage_error("unknown option ", name, "");
        }
    }
    if (!runtime_id || !*runtime_id)
        runtime_id = getenv("MSGFLO_RUNTIME_ID");
    if (!runtime_id || !*runtime_id) {
        uuid_t uu;
        uuid_generate_random(uu);
        uuid_unparse_lower(uu, uuid);
        runtime_id = uuid;
    }
    if (!secret)
        secret = getenv("MSGFLO_SECRET");
    o.id = runtime_id;
    o.secret = secret && *secret ? secret : NULL;

    signal(SIGPIPE, SIG_IGN); /* a client hanging up: EPIPE, not death */
    struct app app = {.loop = uv_default_loop()};
    int rc = runtime__new(app.loop, &o, &app.rt);
    if (rc != 0) {
        fprintf(stderr, "msgflo: cannot start the runtime on %s port %d: %s\n", o.listen, o.port,
                msgflo_strerror(rc));
        status = 1;
        goto out;
    }
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_init(app.loop, &app.sigterm);
    app.sigint.data = app.sigterm.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);

    printf("msgflo started on %s\n", runtime__address(app.rt));
    printf("Open in Flowhub: %s\n", runtime__flowhub_url(app.rt));
    fflush(stdout); /* fbp-test waits for the first line on a pipe */

    uv_run(app.loop, UV_RUN_DEFAULT);
    status = 0;
out:
    /* Let close callbacks of a failed start run, then release the loop. */
    uv_run(app.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(app.loop) != 0)
        fprintf(stderr, "msgflo: event loop still had open handles at exit\n");
    return status;
}
