/* Bindings of a graph (the original's graphBindings and prettyFormatBindings)
 * and discovery message validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "binding/bindings.h"
#include "discovery/discovery.h"
#include "msgflo/errors.h"

static struct graph *parse(const char *text)
{
    struct fbp_parse_options opts = {false};
    struct graph *g = NULL;
    struct graph_error err;
    if (fbp__parse(text, strlen(text), &opts, &g, &err) != 0)
        fail_msg("parse failed: %s", err.message);
    return g;
}

static void expect_lines(const char *fbp, const char *lines, size_t count)
{
    struct graph *g = parse(fbp);
    struct bindings b;
    assert_int_equal(bindings__from_graph(g, &b), 0);
    assert_int_equal(b.count, count);
    char *text = bindings__format(&b);
    assert_string_equal(text, lines);
    free(text);
    bindings__cleanup(&b);
    graph__free(g);
}

/* msgflo's spec/fixtures/imgflo-server.fbp shape: one pubsub, one roundrobin */
static void test_imgflo_server(void **state)
{
    expect_lines("api(imgflo/Api) JOB -> IN rr(msgflo/RoundRobin) OUT -> IN worker(imgflo/W)\n"
                 "rr DEADLETTER -> IN failed(imgflo/Drop)\n"
                 "worker JOBRESULT -> IN api\n",
                 "PUBSUB: \t worker.JOBRESULT -> api.IN\n"
                 "DEADLETTER:\t worker.IN -> failed.IN\n"
                 "ROUNDROBIN:\t api.JOB -> worker.IN",
                 2);
}

static void test_pubsub_ignores_iips_and_pubsub_nodes(void **state)
{
    expect_lines("'x' -> IN a(A)\na OUT -> IN b(B)\nb OUT -> IN p(msgflo/PubSub)\n"
                 "p OUT -> IN c(C)\n",
                 "PUBSUB: \t a.OUT -> b.IN", 1);
}

static void test_fan_out_and_in(void **state)
{
    expect_lines("s(S) OUT -> IN t1(T)\ns OUT -> IN t2(T)\nt1 OUT -> IN j(J)\nt2 OUT -> IN j\n",
                 "PUBSUB: \t s.OUT -> t1.IN\nPUBSUB: \t s.OUT -> t2.IN\n"
                 "PUBSUB: \t t1.OUT -> j.IN\nPUBSUB: \t t2.OUT -> j.IN",
                 4);
}

static void test_discovery_parse(void **state)
{
    json_t *p = NULL;
    char err[300];
    const char *good = "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{"
                       "\"id\":\"r-1\",\"role\":\"r\",\"component\":\"c/R\",\"inports\":["
                       "{\"id\":\"in\",\"queue\":\"r.IN\"}],\"outports\":[]}}";
    assert_int_equal(discovery__parse(good, strlen(good), &p, err, sizeof err), 0);
    assert_string_equal(discovery__queue(p, 1, "in"), "r.IN");
    assert_null(discovery__queue(p, 0, "in"));
    json_decref(p);

    static const struct {
        const char *text;
        int rc;
        const char *fragment;
    } bad[] = {
        {"not json", MSGFLO_EJSON, "not JSON"},
        {"{\"protocol\":\"runtime\",\"command\":\"participant\",\"payload\":{}}", MSGFLO_EINVAL,
         "protocol"},
        {"{\"protocol\":\"discovery\",\"command\":\"participant\"}", MSGFLO_EINVAL, "payload"},
        {"{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"x\","
         "\"component\":\"c\",\"inports\":[],\"outports\":[]}}",
         MSGFLO_EINVAL, "payload.role"},
        {"{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"x\","
         "\"role\":\"r\",\"component\":\"c\",\"inports\":{},\"outports\":[]}}",
         MSGFLO_EINVAL, "payload.inports must be an array"},
        {"{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{\"id\":\"x\","
         "\"role\":\"r\",\"component\":\"c\",\"inports\":[],\"outports\":[{\"queue\":1}]}}",
         MSGFLO_EINVAL, "payload.outports[0]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(discovery__parse(bad[i].text, strlen(bad[i].text), &p, err, sizeof err),
                         bad[i].rc);
        assert_null(p);
        if (!strstr(err, bad[i].fragment))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, bad[i].fragment);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imgflo_server),
        cmocka_unit_test(test_pubsub_ignores_iips_and_pubsub_nodes),
        cmocka_unit_test(test_fan_out_and_in),
        cmocka_unit_test(test_discovery_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
