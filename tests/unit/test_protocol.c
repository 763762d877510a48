/* The runtime layer: the FBP protocol handler (envelope, runtime:getruntime,
 * secret, malformed frames, dispatch table), the pure helpers of the server
 * (WebSocket handshake, Flowhub link), and the server's send paths that the
 * protocol does not reach yet (broadcast, fragmented sends, closing from a
 * callback) with wslay clients on loopback. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "ws_client.h"

#include "msgflo/errors.h"
#include "runtime/front_page.h"
#include "runtime/http_server.h"
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

/* Without --allow-component-write, component:setsource is not offered, to
 * clients with the secret or without. */
static void test_getruntime_no_setsource(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-3", .secret = "s", .no_setsource = true};
    struct fixture *f = fixture_new(&o);
    handle(f, "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"s\"}");
    json_t *msg, *pl = output(f, 0, "runtime", "runtime", &msg);
    json_t *caps = json_object_get(pl, "capabilities");
    assert_int_equal(json_array_size(caps), 5);
    size_t i;
    json_t *c;
    json_array_foreach(caps, i, c)
    {
        assert_string_not_equal(json_string_value(c), "component:setsource");
    }
    assert_string_equal(json_string_value(json_array_get(caps, 4)), "component:getsource");
    json_decref(msg);
    handle(f, getruntime);
    pl = output(f, 0, "runtime", "runtime", &msg);
    assert_int_equal(json_array_size(json_object_get(pl, "capabilities")), 0);
    assert_int_equal(json_array_size(json_object_get(pl, "allCapabilities")), 5);
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

static int permitted_calls;
static void *permitted_client;

static void on_permitted(void *client, void *ud)
{
    (void)ud;
    permitted_calls++;
    permitted_client = client;
}

/* The transport hears of permitted requests only (to trust their client):
 * with the secret, known command or not; never for a bad frame or a
 * request without the secret; and without a secret set, for every
 * well-formed request. */
static void test_permitted_callback(void **state)
{
    (void)state;
    struct protocol_options o = {.id = "id-p", .secret = "pw", .permitted = on_permitted};
    struct fixture *f = fixture_new(&o);
    static const char *const refused[] = {
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"pwx\"}",
        "{\"protocol\":\"graph\",\"command\":\"clear\",\"payload\":{\"secret\":\"p\"}}",
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":7,\"secret\":\"pw\"}",
        "{\"protocol\":\"runtime\",\"secret\":\"pw\"}",
        "{not json \"pw\"",
    };
    permitted_calls = 0;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        handle(f, refused[i]);
    assert_int_equal(permitted_calls, 0);
    handle(f, "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"pw\"}");
    assert_int_equal(permitted_calls, 1);
    assert_ptr_equal(permitted_client, &f->client);
    handle(f, "{\"protocol\":\"x\",\"command\":\"nosuch\",\"payload\":{\"secret\":\"pw\"}}");
    assert_int_equal(permitted_calls, 2);
    fixture_free(f);

    o.secret = NULL;
    f = fixture_new(&o);
    permitted_calls = 0;
    handle(f, "{\"protocol\":\"runtime\",\"command\":\"getruntime\"}");
    handle(f, "[1]");
    assert_int_equal(permitted_calls, 1);
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

    /* Long non-ASCII names come back whole, as valid UTF-8. */
    char frame[1024], expect[1024];
    char name[400];
    for (int i = 0; i < 60; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2); /* é */
    name[120] = '\0';
    snprintf(frame, sizeof frame, "{\"protocol\":\"graph\",\"command\":\"%s\"}", name);
    snprintf(expect, sizeof expect, "graph:%s is not permitted", name);
    handle(f, frame);
    assert_int_equal(f->cap.n, 1);
    pl = output(f, 0, "graph", "error", &msg);
    assert_string_equal(json_string_value(json_object_get(pl, "message")), expect);
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

/* Mutated frames (bytes flipped, cut, duplicated), with and without a
 * secret: never more than one reply, always a parseable envelope, never the
 * secret. A seeded generator keeps failures reproducible. */
static void test_mutated_frames(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"payload\":{\"secret\":\"k3y\"}}",
        "{\"protocol\":\"graph\",\"command\":\"addnode\",\"secret\":\"k3y\",\"payload\":{\"id\":"
        "\"a\",\"component\":\"core/Repeat\",\"metadata\":{\"x\":1.5e3,\"y\":[true,null]}}}",
        "{\"protocol\":\"network\",\"command\":\"start\",\"payload\":{\"graph\":"
        "\"\\u00e9\\ud83d\\ude00\"}}",
    };
    for (int with_secret = 0; with_secret < 2; with_secret++) {
        const struct protocol_options o = {.id = "id-m", .secret = with_secret ? "k3y" : NULL};
        struct fixture *f = fixture_new(&o);
        unsigned seed = 12345u + (unsigned)with_secret;
        char buf[512];
        for (int iter = 0; iter < 20000; iter++) {
            const char *base = seeds[iter % 3];
            size_t len = strlen(base);
            memcpy(buf, base, len);
            int edits = 1 + (int)(rand_r(&seed) % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = (size_t)rand_r(&seed) % len;
                switch (rand_r(&seed) % 4) {
                case 0: /* flip a byte */
                    buf[at] = (char)(rand_r(&seed) & 0xff);
                    break;
                case 1: /* cut */
                    len = at + 1;
                    break;
                case 2: /* insert a structural character */
                    if (len < sizeof buf - 1) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = "{}[]\",:\\0"[rand_r(&seed) % 10];
                        len++;
                    }
                    break;
                default: /* duplicate a tail */
                    if (len + (len - at) < sizeof buf) {
                        memcpy(buf + len, buf + at, len - at);
                        len += len - at;
                    }
                }
            }
            capture_reset(&f->cap);
            assert_int_equal(protocol__handle(f->p, &f->client, buf, len), 0);
            assert_true(f->cap.n <= 1);
            for (int i = 0; i < f->cap.n; i++) {
                json_t *msg = json_loads(f->cap.text[i], 0, NULL);
                assert_non_null(msg);
                assert_true(json_is_string(json_object_get(msg, "protocol")));
                assert_true(json_is_string(json_object_get(msg, "command")));
                assert_true(json_is_object(json_object_get(msg, "payload")));
                json_decref(msg);
                assert_null(strstr(f->cap.text[i], "k3y"));
            }
        }
        fixture_free(f);
    }
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

static size_t listeners;

static size_t count_listeners(void *ud)
{
    (void)ud;
    return listeners;
}

/* With nobody connected a broadcast is skipped; a reply still goes out. */
static void test_broadcast_without_listeners(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-7", .listeners = count_listeners};
    struct fixture *f = fixture_new(&o);
    capture_reset(&f->cap);
    listeners = 0;
    assert_int_equal(protocol__send(f->p, NULL, "network", "data", json_pack("{si}", "n", 1)), 0);
    assert_int_equal(f->cap.n, 0);
    assert_int_equal(protocol__send(f->p, &f->client, "runtime", "x", json_pack("{si}", "n", 2)),
                     0);
    assert_int_equal(f->cap.n, 1);
    assert_ptr_equal(f->cap.client[0], &f->client);
    listeners = 1;
    assert_int_equal(protocol__send(f->p, NULL, "network", "data", json_pack("{si}", "n", 3)), 0);
    assert_int_equal(f->cap.n, 2);
    assert_null(f->cap.client[1]);
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
        front_page__flowhub_url("http://app.flowhub.io", "localhost", 3569, "abc-1", NULL, &url),
        0);
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
        front_page__flowhub_url("http://x/?a=\"<b>&c", "h st", 0, "i~d*('!')_.-", "", &url), 0);
    assert_string_equal(url, "http://x/?a=\"<b>&c#runtime/endpoint?protocol%3Dwebsocket%26"
                             "address%3Dws%3A%2F%2Fh%20st%3A0%26id%3Di~d*('!')_.-");
    assert_int_equal(front_page__html(url, &html), 0);
    assert_null(strstr(html, "\"<b>"));
    assert_non_null(strstr(html, "href=\"http://x/?a=&quot;&lt;b&gt;&amp;c#runtime"));
    assert_non_null(strstr(html, "id%3Di~d*(&#39;!&#39;)_.-\""));
    free(html);
    free(url);
    assert_int_equal(front_page__flowhub_url("x", "h", 70000, "i", NULL, &url), MSGFLO_EINVAL);
    assert_null(url);

    /* The secret as noflo-nodejs adds it, after the id. */
    assert_int_equal(
        front_page__flowhub_url("http://app.flowhub.io", "localhost", 3569, "abc-1", "0f3a", &url),
        0);
    assert_string_equal(url, "http://app.flowhub.io#runtime/endpoint?protocol%3Dwebsocket%26"
                             "address%3Dws%3A%2F%2Flocalhost%3A3569%26id%3Dabc-1%26secret%3D0f3a");
    free(url);
}

/* ---- the server with wslay clients on loopback ---- */

struct server_state {
    struct http_server *s;
    int opens, closes;
    bool closed;
};

static void srv_open(struct http_server *s, struct ws_conn *c, void *ud)
{
    (void)s;
    (void)c;
    ((struct server_state *)ud)->opens++;
}

static void srv_close(struct http_server *s, struct ws_conn *c, void *ud)
{
    (void)s;
    assert_int_equal(http_server__send(c, "late", 4), MSGFLO_ESTATE);
    ((struct server_state *)ud)->closes++;
}

static void srv_closed(void *ud)
{
    ((struct server_state *)ud)->closed = true;
}

/* Echo; "all:..." is broadcast; "close-server" closes the server from here. */
static void srv_text(struct http_server *s, struct ws_conn *c, const char *data, size_t len,
                     void *ud)
{
    if (len == 12 && memcmp(data, "close-server", 12) == 0)
        http_server__close(s, srv_closed, ud);
    else if (len > 4 && memcmp(data, "all:", 4) == 0)
        assert_int_equal(http_server__broadcast(s, data, len), 0);
    else if (len == 5 && memcmp(data, "trust", 5) == 0) {
        http_server__trust(c); /* as the runtime does after a permitted command */
        assert_int_equal(http_server__send(c, "trusted", 7), 0);
    } else
        assert_int_equal(http_server__send(c, data, len), 0);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag (an int) reaches want, at most 5 s. */
static void run_until(uv_loop_t *loop, const int *value, int want)
{
    uint64_t deadline = uv_now(loop) + 5000;
    while (*value < want && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(*value, want);
}

static void test_server_send_paths(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 20, 20);

    struct server_state st = {0};
    const struct http_server_events ev = {.open = srv_open, .text = srv_text, .close = srv_close};
    const struct http_server_options o = {.listen = "127.0.0.1", .port = 0, .max_frame = 1000};
    assert_int_equal(http_server__new(&loop, &o, &ev, &st, &st.s), 0);
    int port = http_server__port(st.s);
    assert_true(port > 0);

    struct ws_client cl[3];
    for (int i = 0; i < 3; i++)
        ws_client__start(&loop, &cl[i], port);
    run_until(&loop, &st.opens, 3);
    assert_int_equal(http_server__clients(st.s), 3);
    for (int i = 0; i < 3; i++) {
        int up = 0;
        while (!cl[i].upgraded && up++ < 100)
            uv_run(&loop, UV_RUN_ONCE);
        assert_true(cl[i].upgraded);
        assert_non_null(strstr(cl[i].head, "HTTP/1.1 101 "));
        assert_non_null(strstr(cl[i].head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert_non_null(strstr(cl[i].head, "Sec-WebSocket-Protocol: noflo\r\n"));
    }

    /* Echo to the sender only. */
    ws_client__send(&cl[0], "hello", 5);
    run_until(&loop, &cl[0].messages, 1);
    assert_string_equal(cl[0].last, "hello");
    assert_int_equal(cl[0].frames, 1);

    /* A broadcast reaches the trusted clients only (1 and 2, not 0). */
    ws_client__send(&cl[1], "trust", 5);
    ws_client__send(&cl[2], "trust", 5);
    run_until(&loop, &cl[1].messages, 1);
    run_until(&loop, &cl[2].messages, 1);
    assert_int_equal(http_server__trusted_clients(st.s), 2);
    ws_client__send(&cl[1], "all:x", 5);
    run_until(&loop, &cl[2].messages, 2);
    run_until(&loop, &cl[1].messages, 2);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 1; i < 3; i++)
        assert_string_equal(cl[i].last, "all:x");
    assert_int_equal(cl[0].messages, 1);
    assert_string_equal(cl[0].last, "hello");
    assert_int_equal(cl[1].frames, 2);

    /* A message over max_frame goes out in several frames, intact. */
    size_t big_len = 10000;
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    ws_client__send(&cl[2], big, big_len);
    run_until(&loop, &cl[2].messages, 3);
    assert_int_equal(cl[2].last_len, big_len);
    assert_memory_equal(cl[2].last, big, big_len);
    assert_true(cl[2].frames >= 4); /* 2 + at least 2 for 10000 bytes */
    free(big);

    /* A client's close: answered, the server forgets it. */
    assert_int_equal(wslay_event_queue_close(cl[1].ws, 1000, NULL, 0), 0);
    assert_int_equal(wslay_event_send(cl[1].ws), 0);
    run_until(&loop, &st.closes, 1);
    assert_int_equal(http_server__clients(st.s), 2);
    assert_int_equal(http_server__trusted_clients(st.s), 1);

    /* Closing the server from a callback: 1001 to everyone left, then freed. */
    ws_client__send(&cl[0], "close-server", 12);
    int closed = 0;
    uint64_t deadline = uv_now(&loop) + 5000;
    while (!(st.closed && cl[0].gone && cl[1].gone && cl[2].gone) && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    closed = st.closed;
    assert_true(closed);
    assert_int_equal(st.closes, 3);
    assert_int_equal(cl[0].close_code, 1001);
    assert_int_equal(cl[2].close_code, 1001);
    assert_int_equal(cl[1].close_code, 1000);
    assert_true(cl[0].gone && cl[1].gone && cl[2].gone);

    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int i = 0; i < 3; i++)
        ws_client__cleanup(&cl[i]);
}

static bool want_other(void *client, void *ud)
{
    return client != ud;
}

static void on_gone(void *client, void *ud)
{
    *(void **)ud = client;
}

/* protocol__send_each reaches the clients with a permitted request, each
 * one it wants, with one serialisation; a closed client is forgotten and
 * reported; a client refused for want of the secret is never reached. */
static void test_send_each_and_closed(void **state)
{
    (void)state;
    const struct protocol_options o = {.id = "id-e", .secret = "pw"};
    struct fixture *f = fixture_new(&o);
    int a, b, stranger;
    void *gone = NULL;
    protocol__on_closed(f->p, on_gone, &gone);
    const char *ok = "{\"protocol\":\"runtime\",\"command\":\"getruntime\",\"secret\":\"pw\"}";
    const char *no = "{\"protocol\":\"runtime\",\"command\":\"getruntime\"}";
    assert_int_equal(protocol__handle(f->p, &a, ok, strlen(ok)), 0);
    assert_int_equal(protocol__handle(f->p, &b, ok, strlen(ok)), 0);
    assert_int_equal(protocol__handle(f->p, &a, ok, strlen(ok)), 0);
    assert_int_equal(protocol__handle(f->p, &stranger, no, strlen(no)), 0);
    assert_int_equal(protocol__clients(f->p), 2);
    capture_reset(&f->cap);
    assert_int_equal(
        protocol__send_each(f->p, "network", "data", json_pack("{si}", "n", 1), want_other, &b), 0);
    assert_int_equal(f->cap.n, 1);
    assert_ptr_equal(f->cap.client[0], &a);
    assert_string_equal(f->cap.text[0],
                        "{\"protocol\":\"network\",\"command\":\"data\",\"payload\":{\"n\":1}}");
    protocol__closed(f->p, &stranger); /* never permitted: not reported */
    assert_null(gone);
    protocol__closed(f->p, &a);
    assert_ptr_equal(gone, &a);
    assert_int_equal(protocol__clients(f->p), 1);
    capture_reset(&f->cap);
    assert_int_equal(
        protocol__send_each(f->p, "network", "data", json_pack("{si}", "n", 2), want_other, &a), 0);
    assert_int_equal(f->cap.n, 1);
    assert_ptr_equal(f->cap.client[0], &b);
    capture_reset(&f->cap);
    assert_int_equal(
        protocol__send_each(f->p, "network", "data", json_pack("{si}", "n", 3), want_other, &b), 0);
    assert_int_equal(f->cap.n, 0);
    assert_int_equal(protocol__send_each(f->p, "network", "data", NULL, want_other, &b),
                     MSGFLO_ENOMEM);
    fixture_free(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server test's clients write to closed sockets */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getruntime_fields),
        cmocka_unit_test(test_getruntime_optional_fields),
        cmocka_unit_test(test_getruntime_no_setsource),
        cmocka_unit_test(test_secret_getruntime),
        cmocka_unit_test(test_secret_other_commands),
        cmocka_unit_test(test_permitted_callback),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mutated_frames),
        cmocka_unit_test(test_dispatch_table),
        cmocka_unit_test(test_send_and_broadcast),
        cmocka_unit_test(test_broadcast_without_listeners),
        cmocka_unit_test(test_send_each_and_closed),
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_ws_accept),
        cmocka_unit_test(test_ws_tokens),
        cmocka_unit_test(test_flowhub_url),
        cmocka_unit_test(test_server_send_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
