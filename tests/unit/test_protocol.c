/* The runtime layer's sans-I/O parts: the FBP protocol handler (envelope,
 * runtime:getruntime, secret, malformed frames, dispatch table), plus the
 * pure helpers of the server: the WebSocket handshake and the Flowhub link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msgflo/errors.h"
#include "runtime/front_page.h"
#include "runtime/protocol.h"
#include "runtime/ws_handshake.h"

#define MAX_OUT 16

/* What the handler emitted: JSON texts and their destination. */
struct capture {
    int n;
    void *client[MAX_OUT];
    char *text[MAX_OUT];
};

static void emit(struct protocol *p, void *client, const char *text, size_t len, void *ud)
{
    (void)p;
    struct capture *cap = ud;
    assert_true(cap->n < MAX_OUT);
    assert_int_equal(strlen(text), len);
    cap->client[cap->n] = client;
    cap->text[cap->n] = strdup(text);
    cap->n++;
}

static void capture_reset(struct capture *cap)
{
    for (int i = 0; i < cap->n; i++)
        free(cap->text[i]);
    memset(cap, 0, sizeof *cap);
}

struct fixture {
    struct protocol *p;
    struct capture cap;
    int client; /* its address stands for a connection */
};

static struct fixture *fixture_new(const struct protocol_options *opts)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(protocol__new(opts, emit, &f->cap, &f->p), 0);
    return f;
}

static void fixture_free(struct fixture *f)
{
    capture_reset(&f->cap);
    protocol__free(f->p);
    free(f);
}

static void handle(struct fixture *f, const char *frame)
{
    capture_reset(&f->cap);
    assert_int_equal(protocol__handle(f->p, &f->client, frame, strlen(frame)), 0);
}

/* Parses output i, checks envelope and destination; returns its payload
 * (owned by the returned message, *msg to json_decref). */
static json_t *output(struct fixture *f, int i, const char *protocol, const char *command,
                      json_t **msg)
{
    assert_true(i < f->cap.n);
    assert_ptr_equal(f->cap.client[i], &f->client);
    json_error_t err;
    *msg = json_loads(f->cap.text[i], 0, &err);
    assert_non_null(*msg);
    assert_int_equal(json_object_size(*msg), 3);
    assert_string_equal(json_string_value(json_object_get(*msg, "protocol")), protocol);
    assert_string_equal(json_string_value(json_object_get(*msg, "command")), command);
    json_t *payload = json_object_get(*msg, "payload");
    assert_non_null(payload);
    return payload;
}

static void assert_keys(json_t *obj, const char *const *keys)
{
    size_t n = 0;
    for (; keys[n]; n++)
        assert_non_null(json_object_get(obj, keys[n]));
    assert_int_equal(json_object_size(obj), n);
}

static void assert_full_capabilities(json_t *caps)
{
    const char *const *want = protocol__capabilities();
    size_t n = 0;
    for (; want[n]; n++) {
        assert_true(n < json_array_size(caps));
        assert_string_equal(json_string_value(json_array_get(caps, n)), want[n]);
    }
    assert_int_equal(json_array_size(caps), n);
}

static const char getruntime[] = "{\"protocol\":\"runtime\",\"command\":\"getruntime\","
                                 "\"payload\":{}}";

/* ---- runtime:getruntime ---- */

static void test_getruntime_fields(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "5f0d4ba3-2c4e-4d1e-9b7a-0c1d2e3f4a5b"};
    struct fixture *f = fixture_new(&o);
    handle(f, getruntime);
    assert_int_equal(f->cap.n, 1);
    json_t *msg, *pl = output(f, 0, "runtime", "runtime", &msg);
    static const char *const keys[] = {"id", "type", "version", "capabilities", "graph", NULL};
    assert_keys(pl, keys);
    assert_string_equal(json_string_value(json_object_get(pl, "id")), o.id);
    assert_string_equal(json_string_value(json_object_get(pl, "type")), "msgflo");
    assert_string_equal(json_string_value(json_object_get(pl, "version")), "0.7");
    assert_string_equal(json_string_value(json_object_get(pl, "graph")), "default/main");
    assert_full_capabilities(json_object_get(pl, "capabilities"));
    /* The original's six, in its order. */
    assert_int_equal(json_array_size(json_object_get(pl, "capabilities")), 6);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pl, "capabilities"), 0)),
                        "protocol:runtime");
    json_decref(msg);

    /* No payload at all is a getruntime too (the original accepts it). */
    handle(f, "{\"protocol\":\"runtime\",\"command\":\"getruntime\"}");
    assert_int_equal(f->cap.n, 1);
    output(f, 0, "runtime", "runtime", &msg);
    json_decref(msg);
    fixture_free(f);
}

static void test_getruntime_optional_fields(void **state)
{
    (void)state;
    const struct protocol_options o = {
        .id = "id-1", .label = "My runtime", .namespace_ = "ns", .repository = "git://x"};
    struct fixture *f = fixture_new(&o);
    handle(f, getruntime);
    json_t *msg, *pl = output(f, 0, "runtime", "runtime", &msg);
    static const char *const keys[] = {
        "id", "type", "version", "capabilities", "graph", "label", "namespace", "repository", NULL};
    assert_keys(pl, keys);
    assert_string_equal(json_string_value(json_object_get(pl, "label")), "My runtime");
    assert_string_equal(json_string_value(json_object_get(pl, "namespace")), "ns");
    assert_string_equal(json_string_value(json_object_get(pl, "repository")), "git://x");
    json_decref(msg);
    fixture_free(f);
}

/* ---- secret ---- */

static void assert_no_secret_in_output(struct fixture *f, const char *secret)
{
    for (int i = 0; i < f->cap.n; i++) {
        assert_null(strstr(f->cap.text[i], secret));
        assert_null(strstr(f->cap.text[i], "\"secret\""));
    }
}

static void test_secret_getruntime(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-2", .secret = "s3cr3t-value"};
    struct fixture *f = fixture_new(&o);
    static const char *const anon_keys[] = {
        "id", "type", "version", "capabilities", "graph", "allCapabilities", NULL};
    static const char *const keys[] = {"id", "type", "version", "capabilities", "graph", NULL};
    static const char *const frames_without[] = {
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":\"wrong\"}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":\"s3cr3t\"}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":"
        "\"s3cr3t-valuex\"}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":5}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"\",\"payload\":{}}",
    };
    for (size_t i = 0; i < sizeof frames_without / sizeof *frames_without; i++) {
        handle(f, frames_without[i]);
        assert_int_equal(f->cap.n, 1);
        json_t *msg, *pl = output(f, 0, "runtime", "runtime", &msg);
        assert_keys(pl, anon_keys);
        assert_int_equal(json_array_size(json_object_get(pl, "capabilities")), 0);
        assert_full_capabilities(json_object_get(pl, "allCapabilities"));
        json_decref(msg);
        assert_no_secret_in_output(f, "s3cr3t-value");
    }
    static const char *const frames_with[] = {
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":"
        "\"s3cr3t-value\"}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"s3cr3t-value\","
        "\"payload\":{}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"s3cr3t-value\"}",
    };
    for (size_t i = 0; i < sizeof frames_with / sizeof *frames_with; i++) {
        handle(f, frames_with[i]);
        assert_int_equal(f->cap.n, 1);
        json_t *msg, *pl = output(f, 0, "runtime", "runtime", &msg);
        assert_keys(pl, keys);
        assert_full_capabilities(json_object_get(pl, "capabilities"));
        json_decref(msg);
        assert_no_secret_in_output(f, "s3cr3t-value");
    }
    fixture_free(f);
}

struct seen {
    int calls;
    bool permitted;
    bool had_secret;
    char command[32];
};

static int record(struct protocol *p, const struct protocol_request *req, void *ud)
{
    struct seen *s = ud;
    s->calls++;
    s->permitted = req->permitted;
    s->had_secret = json_object_get(req->payload, "secret") != NULL;
    snprintf(s->command, sizeof s->command, "%s", req->command);
    /* Echo the payload back, as graph commands do. */
    return protocol__reply(p, req, req->command, json_incref(req->payload));
}

static void test_secret_other_commands(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-3", .secret = "pw"};
    struct fixture *f = fixture_new(&o);
    struct seen seen = {0};
    assert_int_equal(protocol__set_handler(f->p, "graph", "clear", "protocol:graph", record, &seen),
                     0);

    /* Without the secret: an error naming the command, the handler never runs. */
    handle(f, "{\"protocol\":\"graph\",\"command\":\"clear\",\"payload\":{\"id\":\"g\"}}");
    assert_int_equal(f->cap.n, 1);
    json_t *msg, *pl = output(f, 0, "graph", "error", &msg);
    assert_string_equal(json_string_value(json_object_get(pl, "message")),
                        "graph:clear is not permitted");
    json_decref(msg);
    assert_int_equal(seen.calls, 0);

    handle(f, "{\"protocol\":\"graph\",\"command\":\"clear\",\"payload\":{\"id\":\"g\","
              "\"secret\":\"pX\"}}");
    output(f, 0, "graph", "error", &msg);
    json_decref(msg);
    assert_int_equal(seen.calls, 0);

    /* Unknown commands are refused the same way: nothing learnt without it. */
    handle(f, "{\"protocol\":\"network\",\"command\":\"start\",\"payload\":{}}");
    assert_int_equal(f->cap.n, 1);
    pl = output(f, 0, "network", "error", &msg);
    assert_string_equal(json_string_value(json_object_get(pl, "message")),
                        "network:start is not permitted");
    json_decref(msg);

    /* With it (payload or top level): the handler runs without the secret. */
    handle(f, "{\"protocol\":\"graph\",\"command\":\"clear\",\"payload\":{\"id\":\"g\","
              "\"secret\":\"pw\"}}");
    assert_int_equal(seen.calls, 1);
    assert_true(seen.permitted);
    assert_false(seen.had_secret);
    assert_int_equal(f->cap.n, 1);
    pl = output(f, 0, "graph", "clear", &msg);
    static const char *const keys[] = {"id", NULL};
    assert_keys(pl, keys);
    json_decref(msg);
    assert_no_secret_in_output(f, "pw");

    handle(f, "{\"secret\":\"pw\",\"protocol\":\"graph\",\"command\":\"clear\",\"payload\":{"
              "\"id\":\"h\"}}");
    assert_int_equal(seen.calls, 2);
    assert_no_secret_in_output(f, "pw");

    /* Unknown command with the secret: no reply, as the original. */
    handle(f, "{\"protocol\":\"network\",\"command\":\"start\",\"secret\":\"pw\",\"payload\":{}}");
    assert_int_equal(f->cap.n, 0);
    fixture_free(f);
}

/* ---- malformed frames ---- */

static void expect_error(struct fixture *f, const char *frame, size_t len, const char *protocol)
{
    capture_reset(&f->cap);
    assert_int_equal(protocol__handle(f->p, &f->client, frame, len), 0);
    assert_int_equal(f->cap.n, 1);
    json_t *msg, *pl = output(f, 0, protocol, "error", &msg);
    static const char *const keys[] = {"message", NULL};
    assert_keys(pl, keys);
    assert_true(json_string_length(json_object_get(pl, "message")) > 0);
    json_decref(msg);
}

static void test_malformed(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-4"};
    struct fixture *f = fixture_new(&o);
    static const struct {
        const char *frame;
        const char *protocol;
    } cases[] = {
        {"", "runtime"},
        {"{bad", "runtime"},
        {"null", "runtime"},
        {"\"getruntime\"", "runtime"},
        {"[]", "runtime"},
        {"[{\"protocol\":\"runtime\",\"command\":\"getruntime\"}]", "runtime"},
        {"{}", "runtime"},
        {"{\"protocol\":\"graph\"}", "graph"},
        {"{\"command\":\"getruntime\"}", "runtime"},
        {"{\"protocol\":5,\"command\":\"getruntime\"}", "runtime"},
        {"{\"protocol\":\"runtime\",\"command\":null}", "runtime"},
        {"{\"protocol\":\"\",\"command\":\"getruntime\"}", "runtime"},
        {"{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":[1]}", "runtime"},
        {"{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":\"x\"}", "runtime"},
        {"{\"protocol\":\"runtime\",\"protocol\":\"graph\",\"command\":\"getruntime\"}", "runtime"},
        {"{\"protocol\":\"runtime\",\"command\":\"getruntime\"} trailing", "runtime"},
        {"{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"a\":\"\xff\"}}",
         "runtime"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_error(f, cases[i].frame, strlen(cases[i].frame), cases[i].protocol);

    /* An embedded NUL is not JSON. */
    static const char nul[] = "{\"protocol\":\"runtime\",\0\"command\":\"getruntime\"}";
    expect_error(f, nul, sizeof nul - 1, "runtime");

    /* Deep nesting is refused, not a stack overflow. */
    size_t depth = 200000;
    char *deep = malloc(depth);
    assert_non_null(deep);
    memset(deep, '[', depth);
    expect_error(f, deep, depth, "runtime");
    free(deep);

    /* A valid message with an unknown command: no reply. */
    handle(f, "{\"protocol\":\"runtime\",\"command\":\"nosuch\",\"payload\":{}}");
    assert_int_equal(f->cap.n, 0);

    /* Still serving. */
    handle(f, getruntime);
    assert_int_equal(f->cap.n, 1);
    json_t *msg;
    output(f, 0, "runtime", "runtime", &msg);
    json_decref(msg);
    fixture_free(f);
}

/* ---- dispatch table ---- */

static void test_dispatch_table(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-5"};
    struct fixture *f = fixture_new(&o);
    struct seen a = {0}, b = {0};
    assert_int_equal(protocol__set_handler(f->p, "graph", "addnode", "protocol:graph", record, &a),
                     0);
    handle(f, "{\"protocol\":\"graph\",\"command\":\"addnode\",\"payload\":{\"id\":\"n\"}}");
    assert_int_equal(a.calls, 1);
    assert_true(a.permitted); /* no secret set: everything permitted */
    assert_string_equal(a.command, "addnode");

    /* Replacing a row. */
    assert_int_equal(protocol__set_handler(f->p, "graph", "addnode", "protocol:graph", record, &b),
                     0);
    handle(f, "{\"protocol\":\"graph\",\"command\":\"addnode\",\"payload\":{}}");
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);

    /* Removing it: unknown again, no reply. */
    assert_int_equal(protocol__set_handler(f->p, "graph", "addnode", NULL, NULL, NULL), 0);
    handle(f, "{\"protocol\":\"graph\",\"command\":\"addnode\",\"payload\":{}}");
    assert_int_equal(b.calls, 1);
    assert_int_equal(f->cap.n, 0);

    /* Overriding a built-in works too. */
    assert_int_equal(protocol__set_handler(f->p, "runtime", "getruntime", NULL, record, &a), 0);
    handle(f, getruntime);
    assert_int_equal(a.calls, 2);
    assert_string_equal(a.command, "getruntime");

    assert_int_equal(protocol__set_handler(f->p, NULL, "x", NULL, record, &a), MSGFLO_EINVAL);
    fixture_free(f);
}

static void test_send_and_broadcast(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-6"};
    struct fixture *f = fixture_new(&o);
    capture_reset(&f->cap);
    assert_int_equal(protocol__send(f->p, NULL, "network", "status",
                                    json_pack("{sbsb}", "running", 0, "started", 1)),
                     0);
    assert_int_equal(f->cap.n, 1);
    assert_null(f->cap.client[0]);
    assert_string_equal(f->cap.text[0], "{\"protocol\":\"network\",\"command\":\"status\","
                                        "\"payload\":{\"running\":false,\"started\":true}}");
    /* A NULL payload (a failed json_pack) is reported, not sent. */
    assert_int_equal(protocol__send(f->p, NULL, "x", "y", NULL), MSGFLO_ENOMEM);
    assert_int_equal(f->cap.n, 1);
    fixture_free(f);
}

static void test_new_invalid(void **state)
{
    (void)state;
    struct protocol *p = (struct protocol *)1;
    const struct protocol_options none = {0};
    assert_int_equal(protocol__new(&none, emit, NULL, &p), MSGFLO_EINVAL);
    assert_null(p);
    const struct protocol_options o = {.id = "x"};
    assert_int_equal(protocol__new(&o, NULL, NULL, &p), MSGFLO_EINVAL);
    protocol__free(NULL);
}

/* ---- WebSocket handshake (RFC 6455) ---- */

static void test_ws_accept(void **state)
{
    (void)state;
    char accept[WS_ACCEPT_SIZE];
    /* The example of RFC 6455 section 1.3. */
    assert_int_equal(ws_handshake__accept("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_handshake__accept("", accept), MSGFLO_EINVAL);
    assert_int_equal(ws_handshake__accept("dGhlIHNhbXBsZSBub25jZQ", accept), MSGFLO_EINVAL);
    assert_int_equal(ws_handshake__accept("dGhlIHNhbXBsZSBub25jZQ==x", accept), MSGFLO_EINVAL);
    assert_int_equal(ws_handshake__accept("dGhlIHNhbXBsZSBub25jZ!==", accept), MSGFLO_EINVAL);
    assert_false(ws_handshake__valid_key(NULL));
}

static void test_ws_tokens(void **state)
{
    (void)state;
    assert_true(ws_handshake__has_token("keep-alive, Upgrade", "upgrade", true));
    assert_true(ws_handshake__has_token("Upgrade", "upgrade", true));
    assert_false(ws_handshake__has_token("keep-alive", "upgrade", true));
    assert_false(ws_handshake__has_token("upgrades", "upgrade", true));
    assert_true(ws_handshake__has_token("chat, noflo", "noflo", false));
    assert_true(ws_handshake__has_token(" noflo\t,x", "noflo", false));
    assert_false(ws_handshake__has_token("NoFlo", "noflo", false));
    assert_false(ws_handshake__has_token("", "noflo", false));
    assert_false(ws_handshake__has_token("nofl", "noflo", false));
    assert_false(ws_handshake__has_token(NULL, "noflo", false));
}

/* ---- front page ---- */

static void test_flowhub_url(void **state)
{
    (void)state;
    char *url = NULL;
    assert_int_equal(
        front_page__flowhub_url("http://app.flowhub.io", "localhost", 3569, "abc-1", &url), 0);
    /* What Node's querystring.escape makes of the original's parameters. */
    assert_string_equal(url, "http://app.flowhub.io#runtime/endpoint?protocol%3Dwebsocket%26"
                             "address%3Dws%3A%2F%2Flocalhost%3A3569%26id%3Dabc-1");
    char *html = NULL;
    assert_int_equal(front_page__html(url, &html), 0);
    assert_non_null(strstr(html, "<a id=\"flowhub_url\" href=\"http://app.flowhub.io#runtime/"
                                 "endpoint?protocol%3Dwebsocket"));
    free(html);
    free(url);

    /* Characters outside the unreserved set are escaped; the IDE is taken
     * as given but HTML-escaped in the page. */
    assert_int_equal(
        front_page__flowhub_url("http://x/?a=\"<b>&c", "h st", 0, "i~d*('!')_.-", &url), 0);
    assert_string_equal(url, "http://x/?a=\"<b>&c#runtime/endpoint?protocol%3Dwebsocket%26"
                             "address%3Dws%3A%2F%2Fh%20st%3A0%26id%3Di~d*('!')_.-");
    assert_int_equal(front_page__html(url, &html), 0);
    assert_null(strstr(html, "\"<b>"));
    assert_non_null(strstr(html, "href=\"http://x/?a=&quot;&lt;b&gt;&amp;c#runtime"));
    assert_non_null(strstr(html, "id%3Di~d*(&#39;!&#39;)_.-\""));
    free(html);
    free(url);
    assert_int_equal(front_page__flowhub_url("x", "h", 70000, "i", &url), MSGFLO_EINVAL);
    assert_null(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getruntime_fields),
        cmocka_unit_test(test_getruntime_optional_fields),
        cmocka_unit_test(test_secret_getruntime),
        cmocka_unit_test(test_secret_other_commands),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_dispatch_table),
        cmocka_unit_test(test_send_and_broadcast),
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_ws_accept),
        cmocka_unit_test(test_ws_tokens),
        cmocka_unit_test(test_flowhub_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
