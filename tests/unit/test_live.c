/* The live layer (runtime/live.h) against a recording fake system: the
 * exact messages of fbp-test's Graph and Network groups, the system calls
 * each command makes, errors, events, components, runtime:packet, loading
 * a graph, and a graph of 10,000 nodes.
 *
 * With LIVE_DUMP=FILE set, every message emitted is also appended to FILE
 * (one JSON per line) for the schema check (tests/conformance). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

#include "msgflo/errors.h"
#include "fake_system.h"
#include "runtime/live.h"

/* ---- the fixture: protocol + live + fake, messages captured ---- */

struct fixture {
    struct protocol *p;
    struct live *l;
    struct fake_system fake;
    struct system sys;
    json_t *out;         /* [[dest "R"/"B", protocol, command, payload], ...] */
    int client, client2; /* two connections; "R" and "R2" mark replies to each */
    int changes;
    FILE *dump;
};

static void emit(struct protocol *p, void *client, const char *text, size_t len, void *ud)
{
    (void)p;
    struct fixture *f = ud;
    assert_int_equal(strlen(text), len);
    json_error_t e;
    json_t *msg = json_loads(text, 0, &e);
    assert_non_null(msg);
    assert_int_equal(json_object_size(msg), 3);
    if (f->dump)
        fprintf(f->dump, "%s\n", text);
    if (client)
        assert_true(client == &f->client || client == &f->client2);
    const char *dest = !client ? "B" : client == &f->client ? "R" : "R2";
    json_array_append_new(f->out, json_pack("[s, O, O, O]", dest, json_object_get(msg, "protocol"),
                                            json_object_get(msg, "command"),
                                            json_object_get(msg, "payload")));
    json_decref(msg);
}

static void on_change(void *ud)
{
    ((struct fixture *)ud)->changes++;
}

static struct fixture *fixture_new(const char *secret)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->out = json_array();
    const char *dump = getenv("LIVE_DUMP");
    if (dump && *dump)
        f->dump = fopen(dump, "a");
    const struct protocol_options o = {.id = "5f0d4ba3-2c4e-4d1e-9b7a-0c1d2e3f4a5b",
                                       .secret = secret};
    assert_int_equal(protocol__new(&o, emit, f, &f->p), 0);
    f->fake.components = json_array();
    f->sys.ops = &fake_system_ops;
    f->sys.self = &f->fake;
    assert_int_equal(live__new(f->p, &f->sys, &f->l), 0);
    f->sys.events = *live__system_events();
    f->sys.ud = f->l;
    live__on_change(f->l, on_change, f);
    return f;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    live__free(f->l);
    protocol__free(f->p);
    json_decref(f->out);
    json_decref(f->fake.components);
    if (f->dump)
        fclose(f->dump);
    free(f);
    return 0;
}

static int setup(void **state)
{
    *state = fixture_new(NULL);
    return 0;
}

/* Drops time/uptime of started/stopped after checking their form. */
static void strip_times(json_t *out)
{
    size_t i;
    json_t *m;
    json_array_foreach(out, i, m)
    {
        json_t *pl = json_array_get(m, 3);
        const char *cmd = json_string_value(json_array_get(m, 2));
        if (strcmp(cmd, "started") != 0 && strcmp(cmd, "stopped") != 0)
            continue;
        const char *t = json_string_value(json_object_get(pl, "time"));
        assert_non_null(t);
        /* RFC 3339 UTC: 2026-11-22T05:49:18.123Z */
        assert_int_equal(strlen(t), 24);
        assert_true(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
        json_object_del(pl, "time");
        if (strcmp(cmd, "stopped") == 0) {
            assert_true(json_is_number(json_object_get(pl, "uptime")));
            json_object_del(pl, "uptime");
        }
    }
}

static void compare(struct fixture *f, const char *expected)
{
    json_t *want = J(expected);
    strip_times(f->out);
    if (!json_equal(want, f->out)) {
        char *a = json_dumps(f->out, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
        print_error("got:  %s\nwant: %s\n", a, b);
        free(a);
        free(b);
        fail();
    }
    json_decref(want);
    json_array_clear(f->out);
}

/* Sends a request {protocol, command, payload} from `client`. */
static void send_from(struct fixture *f, int *client, const char *proto, const char *cmd,
                      const char *payload)
{
    json_t *msg =
        json_pack("{s:s, s:s, s:o}", "protocol", proto, "command", cmd, "payload", J(payload));
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    assert_int_equal(protocol__handle(f->p, client, text, strlen(text)), 0);
    free(text);
}

static void send(struct fixture *f, const char *proto, const char *cmd, const char *payload)
{
    send_from(f, &f->client, proto, cmd, payload);
}

/* Sends a request and compares all output with `expected`. */
static void step(struct fixture *f, const char *proto, const char *cmd, const char *payload,
                 const char *expected)
{
    send(f, proto, cmd, payload);
    compare(f, expected);
}

static void calls(struct fixture *f, const char *expected)
{
    assert_string_equal(f->fake.calls, expected);
    f->fake.calls[0] = '\0';
}

static void count_settled(void *ud)
{
    (*(int *)ud)++;
}

/* The system's settled event reaches the listener (the runtime's "graph
 * up" line), and nothing without one. */
static void test_settled_listener(void **state)
{
    struct fixture *f = *state;
    const struct system_events *ev = live__system_events();
    ev->settled(f->l); /* no listener: nothing */
    int n = 0;
    live__on_settled(f->l, count_settled, &n);
    ev->settled(f->l);
    ev->settled(f->l);
    assert_int_equal(n, 2);
    live__on_settled(f->l, NULL, NULL);
    ev->settled(f->l);
    assert_int_equal(n, 2);
}

/* ---- fbp-test's Graph group, in its order ---- */

/* msgflo:getstatus (the live view): to the requester only, what the system
 * says of each node and edge; and the same as /metrics text. */
static void test_status_and_metrics(void **state)
{
    struct fixture *f = *state;
    FILE *dump = f->dump; /* not an fbp-protocol message: kept out of live_schemas */
    f->dump = NULL;
    send(f, "graph", "addnode", "{'id':'a','component':'R','graph':'default/main'}");
    send(f, "graph", "addnode", "{'id':'b','component':'R','graph':'default/main'}");
    send(f, "graph", "addedge",
         "{'src':{'node':'a','port':'out'},'tgt':{'node':'b','port':'in'},'graph':'default/main'}");
    json_array_clear(f->out);
    send(f, "msgflo", "getstatus", "{}");
    assert_int_equal(json_array_size(f->out), 1);
    json_t *m = json_array_get(f->out, 0);
    assert_string_equal(json_string_value(json_array_get(m, 0)), "R");
    json_t *pl = json_array_get(m, 3);
    assert_true(json_is_number(json_object_get(pl, "time")));
    json_object_del(pl, "time");
    compare(f, "[['R','msgflo','status',{'graph':'default/main',"
               "'nodes':{'a':{'state':'running','ours':true,'pid':42,'restarts':2,"
               "'instances':1,'lastSeen':1.5},"
               "'b':{'state':'expected','ours':false,'restarts':0,'instances':0}},"
               "'edges':[{'src':{'node':'a','port':'out'},'tgt':{'node':'b','port':'in'},"
               "'bound':true,'messages':7}],"
               "'counters':{'connected':true,'participants':1,'roles':1,'processes':1,"
               "'bindings':1,'discoveryMessages':5,'dataMessages':0,'iipsSent':1,"
               "'restarts':2,'reconnects':1}}]]");
    struct strbuf sb;
    strbuf__init(&sb);
    live__metrics(f->l, &sb);
    assert_int_equal(sb.err, 0);
    const char *lines[] = {
        "\nmsgflo_nodes{state=\"running\"} 1\n",
        "\nmsgflo_nodes{state=\"expected\"} 1\n",
        "\nmsgflo_nodes{state=\"failed\"} 0\n",
        "\nmsgflo_edge_messages_total{src=\"a\",src_port=\"out\",tgt=\"b\",tgt_port=\"in\"} 7\n",
        "\nmsgflo_edges{state=\"bound\"} 1\n",
        "\nmsgflo_discovery_messages_total 5\n",
        "\nmsgflo_process_restarts_total 2\n",
        "\nmsgflo_broker_reconnects_total 1\n",
        "\nmsgflo_broker_connected 1\n",
        "# TYPE msgflo_iips_sent_total counter\nmsgflo_iips_sent_total 1\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!strstr(sb.data, lines[i]))
            fail_msg("no %s in:\n%s", lines[i], sb.data);
    }
    strbuf__cleanup(&sb);
    /* The counts and missing roles of the runtime's progress lines. */
    struct live_progress pr;
    char missing[16];
    live__progress(f->l, &pr, missing, sizeof missing);
    assert_int_equal(pr.nodes, 2);
    assert_int_equal(pr.running, 1);
    assert_int_equal(pr.edges, 1);
    assert_int_equal(pr.bound, 1);
    assert_string_equal(missing, "b");
    send(f, "graph", "addnode", "{'id':'c_long_name','component':'R','graph':'default/main'}");
    send(f, "graph", "addnode", "{'id':'d','component':'R','graph':'default/main'}");
    live__progress(f->l, &pr, missing, sizeof missing);
    assert_int_equal(pr.nodes, 4);
    assert_string_equal(missing, "b, ..."); /* "b, c_long_name" does not fit with ", ..." */
    live__progress(f->l, &pr, missing, 8);
    assert_string_equal(missing, "b, ...");
    live__progress(f->l, &pr, missing, 4); /* room for neither "b, ..." nor "..." */
    assert_string_equal(missing, "");
    /* Without the secret: refused like any other command. */
    struct fixture *g = fixture_new("s3");
    if (g->dump)
        fclose(g->dump);
    g->dump = NULL;
    send(g, "msgflo", "getstatus", "{}");
    compare(g, "[['R','msgflo','error',{'message':'msgflo:getstatus is not permitted'}]]");
    void *gs = g;
    teardown(&gs);
    f->dump = dump;
}

static void test_fbp_test_graph(void **state)
{
    struct fixture *f = *state;
    step(f, "graph", "clear", "{'id':'foo','main':true,'name':'Foo graph','baseDir':'/x'}",
         "[['B','graph','clear',{'id':'foo','main':true,'name':'Foo graph'}]]");
    step(f, "graph", "addnode",
         "{'id':'Repeat1','component':'core/Repeat','metadata':{'hello':'World'},'graph':'foo'}",
         "[['B','graph','addnode',{'id':'Repeat1','component':'core/Repeat',"
         "'metadata':{'hello':'World'},'graph':'foo'}]]");
    step(f, "graph", "addnode",
         "{'id':'Drop1','component':'core/Drop','metadata':{},'graph':'foo'}",
         "[['B','graph','addnode',{'id':'Drop1','component':'core/Drop','metadata':{},"
         "'graph':'foo'}]]");
    step(f, "graph", "addedge",
         "{'src':{'node':'Repeat1','port':'out'},'tgt':{'node':'Drop1','port':'in'},"
         "'metadata':{'route':5},'graph':'foo'}",
         "[['B','graph','addedge',{'src':{'node':'Repeat1','port':'out'},"
         "'tgt':{'node':'Drop1','port':'in'},'metadata':{'route':5},'graph':'foo'}]]");
    calls(f, "add_node Repeat1 core/Repeat|add_node Drop1 core/Drop|"
             "add_edge Repeat1.out Drop1.in");
    step(f, "graph", "changenode", "{'id':'Drop1','metadata':{'sort':1},'graph':'foo'}",
         "[['B','graph','changenode',{'id':'Drop1','metadata':{'sort':1},'graph':'foo'}]]");
    step(f, "graph", "changenode", "{'id':'Drop1','metadata':{'tag':'awesome'},'graph':'foo'}",
         "[['B','graph','changenode',{'id':'Drop1','metadata':{'sort':1,'tag':'awesome'},"
         "'graph':'foo'}]]");
    step(f, "graph", "changenode", "{'id':'Drop1','metadata':{},'graph':'foo'}",
         "[['B','graph','changenode',{'id':'Drop1','metadata':{'sort':1,'tag':'awesome'},"
         "'graph':'foo'}]]");
    step(f, "graph", "changenode",
         "{'id':'Drop1','metadata':{'sort':null,'tag':null},'graph':'foo'}",
         "[['B','graph','changenode',{'id':'Drop1','metadata':{},'graph':'foo'}]]");
    step(f, "graph", "addinitial",
         "{'src':{'data':'Hello, world!'},'tgt':{'node':'Repeat1','port':'in'},"
         "'metadata':{},'graph':'foo'}",
         "[['B','graph','addinitial',{'src':{'data':'Hello, world!'},"
         "'tgt':{'node':'Repeat1','port':'in'},'metadata':{},'graph':'foo'}]]");
    step(f, "graph", "removenode", "{'id':'Drop1','graph':'foo'}",
         "[['B','graph','removeedge',{'src':{'node':'Repeat1','port':'out'},"
         "'tgt':{'node':'Drop1','port':'in'},'graph':'foo'}],"
         "['B','graph','removenode',{'id':'Drop1','graph':'foo'}]]");
    calls(f, "add_initial Repeat1.in \"Hello, world!\"|remove_edge Repeat1.out Drop1.in|"
             "remove_node Drop1");
    step(f, "graph", "removeinitial", "{'tgt':{'node':'Repeat1','port':'in'},'graph':'foo'}",
         "[['B','graph','removeinitial',{'src':{'data':'Hello, world!'},"
         "'tgt':{'node':'Repeat1','port':'in'},'graph':'foo'}]]");
    step(f, "graph", "renamenode", "{'from':'Repeat1','to':'RepeatRenamed','graph':'foo'}",
         "[['B','graph','renamenode',{'from':'Repeat1','to':'RepeatRenamed','graph':'foo'}]]");
    step(f, "graph", "addnode",
         "{'id':'Repeat2','component':'core/Repeat','graph':'another-graph'}",
         "[['R','graph','error',{'message':'Requested graph not found'}]]");
    step(f, "graph", "addnode", "{'id':'Repeat2','component':'core/Repeat'}",
         "[['R','graph','error',{'message':'No graph specified'}]]");
    step(f, "graph", "addinport",
         "{'public':'in','node':'RepeatRenamed','port':'in','graph':'foo'}",
         "[['B','graph','addinport',{'public':'in','node':'RepeatRenamed','port':'in',"
         "'graph':'foo'}],['B','runtime','ports',{'graph':'foo',"
         "'inPorts':[{'id':'in','type':'any'}],'outPorts':[]}]]");
    step(f, "graph", "addoutport",
         "{'public':'out','node':'RepeatRenamed','port':'out','graph':'foo'}",
         "[['B','graph','addoutport',{'public':'out','node':'RepeatRenamed','port':'out',"
         "'graph':'foo'}],['B','runtime','ports',{'graph':'foo',"
         "'inPorts':[{'id':'in','type':'any'}],'outPorts':[{'id':'out','type':'any'}]}]]");
    step(f, "graph", "removeoutport", "{'public':'out','graph':'foo'}",
         "[['B','graph','removeoutport',{'public':'out','graph':'foo'}],"
         "['B','runtime','ports',{'graph':'foo','inPorts':[{'id':'in','type':'any'}],"
         "'outPorts':[]}]]");
    calls(f, "remove_initial Repeat1.in|remove_node Repeat1|add_node RepeatRenamed core/Repeat|"
             "watch RepeatRenamed.out|unwatch RepeatRenamed.out");
    assert_true(f->changes >= 14);
}

/* ---- fbp-test's Network group ---- */

static void network_setup(struct fixture *f)
{
    step(f, "graph", "clear", "{'id':'bar','main':true}",
         "[['B','graph','clear',{'id':'bar','main':true}]]");
    step(f, "graph", "addnode", "{'id':'Hello','component':'core/Repeat','graph':'bar'}",
         "[['B','graph','addnode',{'id':'Hello','component':'core/Repeat','graph':'bar'}]]");
    step(f, "graph", "addnode", "{'id':'World','component':'core/Drop','graph':'bar'}",
         "[['B','graph','addnode',{'id':'World','component':'core/Drop','graph':'bar'}]]");
    step(f, "graph", "addedge",
         "{'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},'graph':'bar'}",
         "[['B','graph','addedge',{'src':{'node':'Hello','port':'out'},"
         "'tgt':{'node':'World','port':'in'},'graph':'bar'}]]");
    step(f, "graph", "addinitial",
         "{'src':{'data':'Hello, world!'},'tgt':{'node':'Hello','port':'in'},'graph':'bar'}",
         "[['B','graph','addinitial',{'src':{'data':'Hello, world!'},"
         "'tgt':{'node':'Hello','port':'in'},'graph':'bar'}]]");
}

/* --network-running busy: running only while the system is busy (fbp-test's
 * expectations, test 4 "Network"). */
static void test_fbp_test_network(void **state)
{
    struct fixture *f = *state;
    live__set_running(f->l, LIVE_RUNNING_BUSY);
    network_setup(f);
    f->fake.calls[0] = '\0';
    f->fake.busy = true;
    step(f, "network", "start", "{'graph':'bar'}",
         "[['B','network','started',{'graph':'bar','started':true,'running':true}]]");
    calls(f, "start");
    json_t *data = json_string("Hello, world!");
    f->sys.events.initial_sent(f->sys.ud, "Hello", "in", data);
    f->sys.events.data(f->sys.ud, "Hello", "out", data);
    json_decref(data);
    compare(f, "[['B','network','data',{'id':'DATA -> IN Hello()','graph':'bar',"
               "'tgt':{'node':'Hello','port':'in'},'data':'Hello, world!'}],"
               "['B','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':'Hello, world!'}]]");
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':true,'started':true}]]");
    f->fake.busy = false;
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':false,'started':true}]]");
    step(f, "network", "stop", "{'graph':'bar'}",
         "[['B','network','stopped',{'graph':'bar','running':false,'started':false}]]");
    f->fake.busy = true;
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':false,'started':false}]]");
    step(f, "network", "edges",
         "{'graph':'bar','edges':[{'src':{'node':'Hello','port':'out'},"
         "'tgt':{'node':'World','port':'in'}}]}",
         "[['R','network','edges',{'graph':'bar','edges':[{'src':{'node':'Hello','port':'out'},"
         "'tgt':{'node':'World','port':'in'}}]}]]");
    step(f, "network", "debug", "{'graph':'bar','enable':true}",
         "[['R','network','status',{'graph':'bar','running':false,'started':false,"
         "'debug':true}]]");
    step(f, "network", "persist", "{}",
         "[['R','network','error',{'message':'network:persist not supported'}]]");
    step(f, "network", "start", "{'graph':'foo'}",
         "[['R','network','error',{'message':'Requested graph not found'}]]");
    step(f, "network", "start", "{}", "[['R','network','error',{'message':'No graph specified'}]]");
    calls(f, "stop");
    /* clear stops a started network and takes everything out of the system. */
    step(f, "network", "start", "{'graph':'bar'}",
         "[['B','network','started',{'graph':'bar','started':true,'running':true}]]");
    f->fake.calls[0] = '\0';
    step(f, "graph", "clear", "{'id':'baz'}", "[['B','graph','clear',{'id':'baz'}]]");
    calls(f, "stop|remove_edge Hello.out World.in|remove_initial Hello.in|remove_node Hello|"
             "remove_node World");
    step(f, "network", "getstatus", "{'graph':'baz'}",
         "[['R','network','status',{'graph':'baz','running':false,'started':false}]]");
}

/* The default, as the original msgflo: running from network:start until
 * network:stop, whether or not work is in flight. */
static void test_network_running_started(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    f->fake.busy = false;
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':false,'started':false}]]");
    step(f, "network", "start", "{'graph':'bar'}",
         "[['B','network','started',{'graph':'bar','started':true,'running':true}]]");
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':true,'started':true}]]");
    f->fake.busy = true;
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':true,'started':true}]]");
    step(f, "network", "stop", "{'graph':'bar'}",
         "[['B','network','stopped',{'graph':'bar','running':false,'started':false}]]");
    step(f, "network", "getstatus", "{'graph':'bar'}",
         "[['R','network','status',{'graph':'bar','running':false,'started':false}]]");
    live__set_running(f->l, LIVE_RUNNING_BUSY);
    f->fake.busy = false;
    step(f, "network", "start", "{'graph':'bar'}",
         "[['B','network','started',{'graph':'bar','started':true,'running':false}]]");
}

/* network:edges per client: a client that selected edges gets network:data
 * of those only (the last message of each at once, when the system kept
 * one), one that never selected gets every edge's; the system is asked to
 * parse only what someone reads; a client gone drops its selection. */
static void test_edge_selection(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    FILE *dump = f->dump; /* "R2" is not an fbp-protocol message */
    f->dump = NULL;
    const struct system_events *ev = &f->sys.events;
    const char *status = "{'graph':'bar'}";
    send_from(f, &f->client2, "network", "getstatus", status);
    json_array_clear(f->out);
    json_t *d = json_string("x");
    /* Nobody selected: every edge to everyone. */
    assert_true(ev->data_wanted(f->sys.ud, "Hello", "out"));
    ev->data(f->sys.ud, "Hello", "out", d);
    compare(f, "[['B','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':'x'}]]");
    /* client2 selects nothing: only client (which never selected) gets data. */
    send_from(f, &f->client2, "network", "edges", "{'graph':'bar','edges':[]}");
    compare(f, "[['R2','network','edges',{'graph':'bar','edges':[]}]]");
    assert_true(ev->data_wanted(f->sys.ud, "Hello", "out"));
    ev->data(f->sys.ud, "Hello", "out", d);
    ev->initial_sent(f->sys.ud, "Hello", "in", d);
    compare(f, "[['R','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':'x'}],['R','network','data',{'id':'DATA -> IN Hello()','graph':'bar',"
               "'tgt':{'node':'Hello','port':'in'},'data':'x'}]]");
    /* Both select nothing: the data is not even wanted. */
    send(f, "network", "edges", "{'graph':'bar','edges':[]}");
    json_array_clear(f->out);
    assert_false(ev->data_wanted(f->sys.ud, "Hello", "out"));
    ev->data(f->sys.ud, "Hello", "out", d);
    ev->initial_sent(f->sys.ud, "Hello", "in", d);
    compare(f, "[]");
    /* client2 selects the edge (listed twice): only it gets it. */
    const char *edge = "{'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'}}";
    char sel[256];
    snprintf(sel, sizeof sel, "{'graph':'bar','edges':[%s,%s]}", edge, edge);
    f->fake.latest = json_string("last");
    send_from(f, &f->client2, "network", "edges", sel);
    json_decref(f->fake.latest);
    f->fake.latest = NULL;
    /* the acknowledgement, then the last message of the edge, once */
    json_t *ack = json_array_get(f->out, 0);
    assert_string_equal(json_string_value(json_array_get(ack, 2)), "edges");
    json_array_remove(f->out, 0);
    compare(f, "[['R2','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':'last'}]]");
    assert_true(ev->data_wanted(f->sys.ud, "Hello", "out"));
    assert_false(ev->data_wanted(f->sys.ud, "World", "out"));
    ev->data(f->sys.ud, "Hello", "out", d);
    compare(f, "[['R2','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':'x'}]]");
    /* An exported outport is read by every client (runtime:packet). */
    send(f, "graph", "addoutport", "{'public':'o','node':'World','port':'out','graph':'bar'}");
    json_array_clear(f->out);
    assert_true(ev->data_wanted(f->sys.ud, "World", "out"));
    send(f, "graph", "removeoutport", "{'public':'o','graph':'bar'}");
    json_array_clear(f->out);
    assert_false(ev->data_wanted(f->sys.ud, "World", "out"));
    /* client2 gone: its selection with it. */
    protocol__closed(f->p, &f->client2);
    assert_false(ev->data_wanted(f->sys.ud, "Hello", "out"));
    ev->data(f->sys.ud, "Hello", "out", d);
    compare(f, "[]");
    /* client selects it: a message to client alone, no broadcast. */
    snprintf(sel, sizeof sel, "{'graph':'bar','edges':[%s]}", edge);
    send(f, "network", "edges", sel);
    json_array_clear(f->out);
    ev->data(f->sys.ud, "Hello", "out", d);
    assert_int_equal(json_array_size(f->out), 1);
    assert_string_equal(json_string_value(json_array_get(json_array_get(f->out, 0), 0)), "R");
    json_array_clear(f->out);
    /* The last client gone: nobody selects, broadcasts as before. */
    protocol__closed(f->p, &f->client);
    assert_true(ev->data_wanted(f->sys.ud, "Hello", "out"));
    json_decref(d);
    f->dump = dump;
}

/* ---- system errors leave the store unchanged ---- */

static void test_system_errors(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    f->fake.fail = "add_node";
    step(f, "graph", "addnode", "{'id':'X','component':'core/Repeat','graph':'bar'}",
         "[['R','graph','error',{'message':'boom'}]]");
    f->fake.fail = "add_edge";
    step(f, "graph", "addedge",
         "{'src':{'node':'World','port':'out'},'tgt':{'node':'Hello','port':'in'},'graph':'bar'}",
         "[['R','graph','error',{'message':'boom'}]]");
    f->fake.fail = "remove_edge";
    step(f, "graph", "removenode", "{'id':'World','graph':'bar'}",
         "[['R','graph','error',{'message':'boom'}]]");
    f->fake.fail = "start";
    step(f, "network", "start", "{'graph':'bar'}", "[['R','network','error',{'message':'boom'}]]");
    f->fake.fail = NULL;
    json_t *g = live__graph_json(f->l);
    json_t *want = J("{'caseSensitive':true,'properties':{'main':true,'name':'bar',"
                     "'environment':{'type':'msgflo'}},'inports':{},'outports':{},'groups':[],"
                     "'processes':{'Hello':{'component':'core/Repeat','metadata':{}},"
                     "'World':{'component':'core/Drop','metadata':{}}},"
                     "'connections':[{'src':{'process':'Hello','port':'out'},"
                     "'tgt':{'process':'World','port':'in'}},{'data':'Hello, world!',"
                     "'tgt':{'process':'Hello','port':'in'}}]}");
    assert_true(json_equal(g, want));
    json_decref(g);
    json_decref(want);
    /* Unknown elements and bad payloads. */
    step(f, "graph", "removenode", "{'id':'Nope','graph':'bar'}",
         "[['R','graph','error',{'message':'Node Nope not found'}]]");
    step(f, "graph", "changenode", "{'id':'Nope','metadata':{},'graph':'bar'}",
         "[['R','graph','error',{'message':'Node Nope not found'}]]");
    step(f, "graph", "removeedge",
         "{'src':{'node':'World','port':'out'},'tgt':{'node':'Hello','port':'in'},'graph':'bar'}",
         "[['R','graph','error',{'message':'Edge not found'}]]");
    step(f, "graph", "addnode", "{'id':'Hello','component':'core/Repeat','graph':'bar'}",
         "[['R','graph','error',{'message':'Node Hello already exists'}]]");
    step(f, "graph", "addedge", "{'src':'x','tgt':{},'graph':'bar'}",
         "[['R','graph','error',{'message':'\\u0027src\\u0027 must be {node, port}'}]]");
    step(f, "graph", "clear", "{}", "[['R','graph','error',{'message':'No graph specified'}]]");
}

/* removenode takes its IIPs and exports along; renamenode moves everything
 * in the system; metadata x/y become integers. */
static void test_remove_and_rename(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    step(f, "graph", "addoutport", "{'public':'out','node':'World','port':'out','graph':'bar'}",
         "[['B','graph','addoutport',{'public':'out','node':'World','port':'out','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[],'outPorts':[{'id':'out','type':'any'}]"
         "}]]");
    f->fake.calls[0] = '\0';
    step(f, "graph", "renamenode", "{'from':'World','to':'Earth','graph':'bar'}",
         "[['B','graph','renamenode',{'from':'World','to':'Earth','graph':'bar'}]]");
    calls(f, "unwatch World.out|remove_edge Hello.out World.in|remove_node World|"
             "add_node Earth core/Drop|add_edge Hello.out Earth.in|watch Earth.out");
    step(f, "graph", "renamenode", "{'from':'Hello','to':'Earth','graph':'bar'}",
         "[['R','graph','error',{'message':'Node Earth already exists'}]]");
    step(f, "graph", "addnode", "{'id':'','component':'core/Repeat','graph':'bar'}",
         "[['R','graph','error',{'message':'A node needs a name and a component: one is "
         "empty'}]]");
    f->fake.calls[0] = '\0';
    step(f, "graph", "renamenode", "{'from':'Hello','to':'','graph':'bar'}",
         "[['R','graph','error',{'message':'The new name of the node is empty'}]]");
    calls(f, ""); /* Hello was not touched in the system */
    step(f, "graph", "changenode",
         "{'id':'Hello','metadata':{'x':10.6,'y':-3.2,'label':'h'},'graph':'bar'}",
         "[['B','graph','changenode',{'id':'Hello','metadata':{'x':11,'y':-3,'label':'h'},"
         "'graph':'bar'}]]");
    step(f, "graph", "removenode", "{'id':'Hello','graph':'bar'}",
         "[['B','graph','removeedge',{'src':{'node':'Hello','port':'out'},"
         "'tgt':{'node':'Earth','port':'in'},'graph':'bar'}],"
         "['B','graph','removeinitial',{'src':{'data':'Hello, world!'},"
         "'tgt':{'node':'Hello','port':'in'},'graph':'bar'}],"
         "['B','graph','removenode',{'id':'Hello','graph':'bar'}]]");
    f->fake.calls[0] = '\0';
    step(f, "graph", "removenode", "{'id':'Earth','graph':'bar'}",
         "[['B','graph','removeoutport',{'public':'out','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[],'outPorts':[]}],"
         "['B','graph','removenode',{'id':'Earth','graph':'bar'}]]");
    calls(f, "unwatch Earth.out|remove_node Earth");
}

/* ---- groups, edge metadata, port renames ---- */

static void test_groups_and_ports(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    step(f, "graph", "addgroup",
         "{'name':'g','nodes':['Hello','World'],'metadata':{'description':'d'},'graph':'bar'}",
         "[['B','graph','addgroup',{'name':'g','nodes':['Hello','World'],"
         "'metadata':{'description':'d'},'graph':'bar'}]]");
    step(f, "graph", "renamegroup", "{'from':'g','to':'h','graph':'bar'}",
         "[['B','graph','renamegroup',{'from':'g','to':'h','graph':'bar'}]]");
    step(f, "graph", "changegroup", "{'name':'h','metadata':{'x':1},'graph':'bar'}",
         "[['B','graph','changegroup',{'name':'h','metadata':{'description':'d','x':1},"
         "'graph':'bar'}]]");
    step(f, "graph", "removegroup", "{'name':'h','graph':'bar'}",
         "[['B','graph','removegroup',{'name':'h','graph':'bar'}]]");
    step(f, "graph", "removegroup", "{'name':'h','graph':'bar'}",
         "[['R','graph','error',{'message':'Group not found'}]]");
    step(f, "graph", "changeedge",
         "{'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
         "'metadata':{'route':3},'graph':'bar'}",
         "[['B','graph','changeedge',{'src':{'node':'Hello','port':'out'},"
         "'tgt':{'node':'World','port':'in'},'metadata':{'route':3},'graph':'bar'}]]");
    step(f, "graph", "addinport",
         "{'public':'a','node':'Hello','port':'in','graph':'bar',"
         "'metadata':{'x':1}}",
         "[['B','graph','addinport',{'public':'a','node':'Hello','port':'in','graph':'bar',"
         "'metadata':{'x':1}}],['B','runtime','ports',{'graph':'bar',"
         "'inPorts':[{'id':'a','type':'any'}],'outPorts':[]}]]");
    /* runtime:runtime names the live graph and is followed by its ports. */
    send(f, "runtime", "getruntime", "{}");
    assert_int_equal(json_array_size(f->out), 2);
    json_t *rt = json_array_get(f->out, 0);
    assert_string_equal(json_string_value(json_array_get(rt, 2)), "runtime");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rt, 3), "graph")), "bar");
    json_array_remove(f->out, 0);
    compare(f, "[['R','runtime','ports',{'graph':'bar','inPorts':[{'id':'a','type':'any'}],"
               "'outPorts':[]}]]");
    step(f, "graph", "renameinport", "{'from':'a','to':'b','graph':'bar'}",
         "[['B','graph','renameinport',{'from':'a','to':'b','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[{'id':'b','type':'any'}],"
         "'outPorts':[]}]]");
    step(f, "graph", "removeinport", "{'public':'a','graph':'bar'}",
         "[['R','graph','error',{'message':'Exported port a not found'}]]");
    step(f, "graph", "removeinport", "{'public':'b','graph':'bar'}",
         "[['B','graph','removeinport',{'public':'b','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[],'outPorts':[]}]]");
}

/* ---- runtime:packet and exported outport data ---- */

static void test_packets(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    step(f, "graph", "addinport", "{'public':'in','node':'Hello','port':'in','graph':'bar'}",
         "[['B','graph','addinport',{'public':'in','node':'Hello','port':'in','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[{'id':'in','type':'any'}],"
         "'outPorts':[]}]]");
    step(f, "graph", "addoutport", "{'public':'out','node':'Hello','port':'out','graph':'bar'}",
         "[['B','graph','addoutport',{'public':'out','node':'Hello','port':'out','graph':'bar'}],"
         "['B','runtime','ports',{'graph':'bar','inPorts':[{'id':'in','type':'any'}],"
         "'outPorts':[{'id':'out','type':'any'}]}]]");
    f->fake.calls[0] = '\0';
    step(f, "runtime", "packet",
         "{'port':'in','event':'data','payload':{'hello':'fbpspec'},'graph':'bar'}",
         "[['R','runtime','packetsent',{'port':'in','event':'data',"
         "'payload':{'hello':'fbpspec'},'graph':'bar'}]]");
    step(f, "runtime", "packet", "{'port':'in','event':'connect','graph':'bar'}",
         "[['R','runtime','packetsent',{'port':'in','event':'connect','graph':'bar'}]]");
    calls(f, "send Hello.in {\"hello\":\"fbpspec\"}");
    step(f, "runtime", "packet", "{'port':'nope','event':'data','payload':1,'graph':'bar'}",
         "[['R','runtime','error',{'message':'Port nope not found'}]]");
    step(f, "runtime", "packet", "{'port':'in','event':'data','payload':1,'graph':'x'}",
         "[['R','runtime','error',{'message':'Requested graph not found'}]]");
    json_t *d = J("{'hello':'fbpspec'}");
    f->sys.events.data(f->sys.ud, "Hello", "out", d);
    json_decref(d);
    compare(f, "[['B','network','data',{'id':'Hello() OUT -> IN World()','graph':'bar',"
               "'src':{'node':'Hello','port':'out'},'tgt':{'node':'World','port':'in'},"
               "'data':{'hello':'fbpspec'}}],['B','runtime','packet',{'port':'out',"
               "'event':'data','payload':{'hello':'fbpspec'},'graph':'bar'}]]");
    /* A port nothing reads: no message. */
    f->sys.events.data(f->sys.ud, "World", "out", d);
    compare(f, "[]");
}

/* ---- what the system reports ---- */

static void test_events(void **state)
{
    struct fixture *f = *state;
    network_setup(f);
    json_t *def = J("{'id':'d1','role':'disc','component':'foo/Bar','inports':[],'outports':[]}");
    f->sys.events.participant_added(f->sys.ud, "disc", def);
    f->sys.events.participant_added(f->sys.ud, "Hello", def); /* known: nothing */
    json_decref(def);
    compare(f, "[['B','graph','addnode',{'id':'disc','component':'foo/Bar','metadata':{},"
               "'graph':'bar'}]]");
    f->fake.calls[0] = '\0';
    f->sys.events.edge_found(f->sys.ud, "disc", "out", "World", "in");
    f->sys.events.edge_found(f->sys.ud, "disc", "out", "World", "in");  /* known */
    f->sys.events.edge_found(f->sys.ud, "ghost", "out", "World", "in"); /* no node */
    compare(f, "[['B','graph','addedge',{'src':{'node':'disc','port':'out'},"
               "'tgt':{'node':'World','port':'in'},'graph':'bar'}]]");
    calls(f, "add_edge disc.out World.in");
    f->sys.events.participant_expired(f->sys.ud, "disc", "not seen for 3 periods");
    compare(f, "[['B','graph','removeedge',{'src':{'node':'disc','port':'out'},"
               "'tgt':{'node':'World','port':'in'},'graph':'bar'}],"
               "['B','graph','removenode',{'id':'disc','graph':'bar'}]]");
    f->sys.events.participant_expired(f->sys.ud, "World", "not seen for 3 periods");
    f->sys.events.process_error(f->sys.ud, "Hello", "exited with code 1");
    f->sys.events.error(f->sys.ud, "binding refused");
    compare(f, "[['B','network','processerror',{'id':'World','error':'not seen for 3 periods',"
               "'graph':'bar'}],['B','network','processerror',{'id':'Hello',"
               "'error':'exited with code 1','graph':'bar'}],"
               "['B','network','error',{'message':'binding refused','graph':'bar'}]]");
    /* A user addnode of a discovered role makes it the user's. */
    def = J("{'component':'foo/Bar'}");
    f->sys.events.participant_added(f->sys.ud, "d2", def);
    json_decref(def);
    json_array_clear(f->out);
    step(f, "graph", "addnode", "{'id':'d2','component':'foo/Bar','graph':'bar'}",
         "[['B','graph','addnode',{'id':'d2','component':'foo/Bar','graph':'bar'}]]");
    f->sys.events.participant_expired(f->sys.ud, "d2", "gone");
    compare(f, "[['B','network','processerror',{'id':'d2','error':'gone','graph':'bar'}]]");
}

/* ---- components ---- */

static void test_components(void **state)
{
    struct fixture *f = *state;
    json_decref(f->fake.components);
    f->fake.components =
        J("[{'name':'core/Repeat','description':'Repeats','icon':'repeat',"
          "'inports':[{'id':'in','type':'any','queue':'q','hidden':false,'description':'x',"
          "'required':true,'values':[1,2],'schema':'https://x.org/s.json'}],"
          "'outports':[{'id':'out'}]},{'name':'core/Drop','icon':5,'inports':[{'id':'in'}],"
          "'outports':[]}]");
    step(f, "component", "list", "{}",
         "[['R','component','component',{'name':'core/Repeat','description':'Repeats',"
         "'icon':'repeat','subgraph':false,'inPorts':[{'id':'in','type':'any','description':'x',"
         "'required':true,'values':[1,2],'schema':'https://x.org/s.json'}],"
         "'outPorts':[{'id':'out','type':'any'}]}],"
         "['R','component','component',{'name':'core/Drop','description':'','subgraph':false,"
         "'inPorts':[{'id':'in','type':'any'}],'outPorts':[]}],"
         "['R','component','componentsready',2]]");
    step(f, "component", "getsource", "{'name':'core/Repeat'}",
         "[['R','component','source',{'name':'Repeat','library':'core','language':'yaml',"
         "'code':'component: Repeat\\n'}]]");
    step(f, "component", "getsource", "{'name':'core/Nope'}",
         "[['R','component','error',{'message':'Component core/Nope not found'}]]");
    f->fake.calls[0] = '\0';
    step(f, "component", "source",
         "{'name':'Repeat','library':'core','language':'python','code':'print(1)'}",
         "[['B','component','source',{'name':'Repeat','library':'core','language':'python',"
         "'code':'print(1)'}],['B','component','component',{'name':'core/Repeat',"
         "'description':'Repeats','icon':'repeat','subgraph':false,'inPorts':[{'id':'in',"
         "'type':'any','description':'x','required':true,'values':[1,2],"
         "'schema':'https://x.org/s.json'}],'outPorts':[{'id':'out','type':'any'}]}]]");
    calls(f, "set_component_source core/Repeat python 8");
    f->sys.events.components_changed(f->sys.ud);
    assert_int_equal(json_array_size(f->out), 2);
    json_array_clear(f->out);
    /* The live graph's source (Flowhub's live mode). */
    step(f, "graph", "addnode",
         "{'id':'a','component':'core/Repeat','graph':'default/main',"
         "'metadata':{'x':1,'y':2}}",
         "[['B','graph','addnode',{'id':'a','component':'core/Repeat','metadata':{'x':1,'y':2},"
         "'graph':'default/main'}]]");
    json_t *want = J("{'caseSensitive':true,'properties':{'name':'main',"
                     "'environment':{'type':'msgflo'}},'inports':{},'outports':{},'groups':[],"
                     "'processes':{'a':{'component':'core/Repeat','metadata':{'x':1,'y':2}}},"
                     "'connections':[]}");
    const char *names[] = {"{'name':'default/main'}", "{'name':'main'}"};
    for (int i = 0; i < 2; i++) {
        json_array_clear(f->out);
        send(f, "component", "getsource", names[i]);
        assert_int_equal(json_array_size(f->out), 1);
        json_t *pl = json_array_get(json_array_get(f->out, 0), 3);
        assert_string_equal(json_string_value(json_object_get(pl, "name")), "main");
        assert_string_equal(json_string_value(json_object_get(pl, "library")), "default");
        assert_string_equal(json_string_value(json_object_get(pl, "language")), "json");
        json_t *code = json_loads(json_string_value(json_object_get(pl, "code")), 0, NULL);
        assert_true(json_equal(code, want));
        json_decref(code);
    }
    json_decref(want);
    json_array_clear(f->out);
    /* After a clear, "default/main" still means the live graph. */
    step(f, "graph", "clear", "{'id':'proj/g'}", "[['B','graph','clear',{'id':'proj/g'}]]");
    send(f, "component", "getsource", "{'name':'default/main'}");
    json_t *pl = json_array_get(json_array_get(f->out, 0), 3);
    assert_string_equal(json_string_value(json_object_get(pl, "name")), "g");
    assert_string_equal(json_string_value(json_object_get(pl, "library")), "proj");
    json_array_clear(f->out);
}

/* ---- the secret gates every command ---- */

static void test_permissions(void **state)
{
    struct fixture *f = *state;
    teardown(state);
    f = fixture_new("s3cret");
    *state = f;
    step(f, "graph", "clear", "{'id':'x'}",
         "[['R','graph','error',{'message':'graph:clear is not permitted'}]]");
    step(f, "network", "getstatus", "{'graph':'default/main'}",
         "[['R','network','error',{'message':'network:getstatus is not permitted'}]]");
    step(f, "runtime", "packet", "{'graph':'default/main','port':'in','event':'data'}",
         "[['R','runtime','error',{'message':'runtime:packet is not permitted'}]]");
    step(f, "component", "list", "{}",
         "[['R','component','error',{'message':'component:list is not permitted'}]]");
    step(f, "graph", "clear", "{'id':'x','secret':'s3cret'}", "[['B','graph','clear',{'id':'x'}]]");
    assert_string_equal(f->fake.calls, "");
}

/* ---- loading a graph file ---- */

static void test_load_graph(void **state)
{
    struct fixture *f = *state;
    const char *fbp = "INPORT=a.IN:IN\nOUTPORT=b.OUT:OUT\n'5' -> IN a(core/Repeat)\n"
                      "a OUT -> IN b(core/Repeat)\n";
    struct graph *g;
    struct graph_error gerr;
    assert_int_equal(fbp__parse(fbp, strlen(fbp), NULL, &g, &gerr), 0);
    char err[256] = "";
    assert_int_equal(live__load_graph(f->l, g, err, sizeof err), 0);
    graph__free(g);
    calls(f, "add_node a core/Repeat|add_node b core/Repeat|add_initial a.in \"5\"|"
             "add_edge a.out b.in|watch b.out|start");
    assert_int_equal(json_array_size(f->out), 0);
    assert_int_equal(f->changes, 1);
    step(f, "network", "getstatus", "{'graph':'default/main'}",
         "[['R','network','status',{'graph':'default/main','running':true,'started':true}]]");
    json_t *doc = live__graph_json(f->l);
    json_t *want = J("{'caseSensitive':false,'properties':{'name':'main',"
                     "'environment':{'type':'msgflo'}},'inports':{'in':{'process':'a',"
                     "'port':'in'}},'outports':{'out':{'process':'b','port':'out'}},'groups':[],"
                     "'processes':{'a':{'component':'core/Repeat','metadata':{}},"
                     "'b':{'component':'core/Repeat','metadata':{}}},"
                     "'connections':[{'src':{'process':'a','port':'out'},"
                     "'tgt':{'process':'b','port':'in'}},"
                     "{'data':'5','tgt':{'process':'a','port':'in'}}]}");
    assert_true(json_equal(doc, want));
    json_decref(want);
    /* What it saves loads back to the same graph. */
    assert_int_equal(graph_json__from_json(doc, &g, &gerr), 0);
    json_decref(doc);
    assert_int_equal(live__load_graph(f->l, g, err, sizeof err), 0);
    graph__free(g);
    /* Saved: edges before IIPs, as fbp-graph writes them. */
    calls(f, "stop|remove_edge a.out b.in|remove_initial a.in|remove_node a|unwatch b.out|"
             "remove_node b|add_node a core/Repeat|add_node b core/Repeat|add_edge a.out b.in|"
             "add_initial a.in \"5\"|watch b.out|start");
    f->fake.fail = "add_edge";
    const char *bad = "a(core/Repeat) OUT -> IN b(core/Drop)\n";
    assert_int_equal(fbp__parse(bad, strlen(bad), NULL, &g, &gerr), 0);
    assert_int_equal(live__load_graph(f->l, g, err, sizeof err), MSGFLO_EINVAL);
    assert_string_equal(err, "boom");
    graph__free(g);
}

/* ---- 10,000 nodes and edges: built, data routed, cleared ---- */

static void test_large_graph(void **state)
{
    struct fixture *f = *state;
    enum { N = 10000 };
    char payload[200];
    for (int i = 0; i < N; i++) {
        snprintf(payload, sizeof payload,
                 "{\"protocol\":\"graph\",\"command\":\"addnode\",\"payload\":{\"id\":\"n%d\","
                 "\"component\":\"core/Repeat\",\"graph\":\"default/main\"}}",
                 i);
        assert_int_equal(protocol__handle(f->p, &f->client, payload, strlen(payload)), 0);
    }
    for (int i = 0; i + 1 < N; i++) {
        snprintf(payload, sizeof payload,
                 "{\"protocol\":\"graph\",\"command\":\"addedge\",\"payload\":{\"src\":{\"node\":"
                 "\"n%d\",\"port\":\"out\"},\"tgt\":{\"node\":\"n%d\",\"port\":\"in\"},\"graph\":"
                 "\"default/main\"}}",
                 i, i + 1);
        assert_int_equal(protocol__handle(f->p, &f->client, payload, strlen(payload)), 0);
    }
    assert_int_equal(json_array_size(f->out), 2 * N - 1);
    json_array_clear(f->out);
    json_t *d = json_integer(7);
    for (int i = 0; i < N; i += 1000) {
        snprintf(payload, sizeof payload, "n%d", i);
        f->sys.events.data(f->sys.ud, payload, "out", d);
    }
    json_decref(d);
    assert_int_equal(json_array_size(f->out), N / 1000);
    json_t *last = json_array_get(json_array_get(f->out, N / 1000 - 1), 3);
    assert_string_equal(json_string_value(json_object_get(last, "id")),
                        "n9000() OUT -> IN n9001()");
    json_array_clear(f->out);
    step(f, "graph", "removenode", "{'id':'n5000','graph':'default/main'}",
         "[['B','graph','removeedge',{'src':{'node':'n4999','port':'out'},"
         "'tgt':{'node':'n5000','port':'in'},'graph':'default/main'}],"
         "['B','graph','removeedge',{'src':{'node':'n5000','port':'out'},"
         "'tgt':{'node':'n5001','port':'in'},'graph':'default/main'}],"
         "['B','graph','removenode',{'id':'n5000','graph':'default/main'}]]");
    f->fake.calls[0] = '\0';
    step(f, "graph", "clear", "{'id':'x'}", "[['B','graph','clear',{'id':'x'}]]");
    json_t *doc = live__graph_json(f->l);
    assert_int_equal(json_object_size(json_object_get(doc, "processes")), 0);
    json_decref(doc);
}

/* ---- random sessions: commands with missing or mistyped fields, system
 * failures and events in any order; the graph stays consistent ---- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

static const char *pick(const char *const *from, size_t n)
{
    return from[rnd((uint32_t)n)];
}

#define PICK(a) pick(a, sizeof a / sizeof a[0])

static const char *const names[] = {"a", "b", "c", "d"};
static const char *const ports[] = {"in", "out", "IN"};

/* A value for a field: mostly the right kind, sometimes anything. */
static json_t *value(const char *kind)
{
    switch (rnd(12)) {
    case 0:
        return json_integer(rnd(5));
    case 1:
        return json_null();
    case 2:
        return json_pack("[s]", PICK(names));
    case 3:
        return json_pack("{s:f, s:s}", "x", (double)rnd(1000) / 7.0, "y", "z");
    default:
        break;
    }
    if (strcmp(kind, "node") == 0)
        return json_string(PICK(names));
    if (strcmp(kind, "port") == 0)
        return json_pack("{s:s, s:s}", "node", PICK(names), "port", PICK(ports));
    if (strcmp(kind, "portname") == 0)
        return json_string(PICK(ports));
    if (strcmp(kind, "meta") == 0)
        return json_pack("{s:f, s:i, s:n}", "x", (double)rnd(100) / 3.0, "y", rnd(9), "k");
    if (strcmp(kind, "nodes") == 0)
        return json_pack("[s, s]", PICK(names), PICK(names));
    if (strcmp(kind, "bool") == 0)
        return json_boolean(rnd(2));
    if (strcmp(kind, "graph") == 0)
        return json_string(rnd(8) ? "default/main" : "other");
    return json_string(PICK(names)); /* any other string */
}

static const struct {
    const char *protocol, *command, *fields; /* "key:kind ..." */
} shapes[] = {
    {"graph", "addnode", "id:node component:str metadata:meta"},
    {"graph", "removenode", "id:node"},
    {"graph", "renamenode", "from:node to:node"},
    {"graph", "changenode", "id:node metadata:meta"},
    {"graph", "addedge", "src:port tgt:port metadata:meta"},
    {"graph", "removeedge", "src:port tgt:port"},
    {"graph", "changeedge", "src:port tgt:port metadata:meta"},
    {"graph", "addinitial", "src:data tgt:port metadata:meta"},
    {"graph", "removeinitial", "tgt:port"},
    {"graph", "addinport", "public:portname node:node port:portname metadata:meta"},
    {"graph", "addoutport", "public:portname node:node port:portname"},
    {"graph", "removeinport", "public:portname"},
    {"graph", "removeoutport", "public:portname"},
    {"graph", "renameinport", "from:portname to:portname"},
    {"graph", "renameoutport", "from:portname to:portname"},
    {"graph", "addgroup", "name:str nodes:nodes metadata:meta"},
    {"graph", "removegroup", "name:str"},
    {"graph", "renamegroup", "from:str to:str"},
    {"graph", "changegroup", "name:str metadata:meta"},
    {"network", "start", ""},
    {"network", "stop", ""},
    {"network", "getstatus", ""},
    {"network", "edges", "edges:nodes"},
    {"network", "debug", "enable:bool"},
    {"runtime", "packet", "port:portname event:str payload:meta"},
    {"component", "getsource", "name:graph"},
    {"component", "list", ""},
};

static void random_request(struct fixture *f)
{
    size_t i = rnd(sizeof shapes / sizeof shapes[0]);
    json_t *payload = json_object();
    if (rnd(10))
        json_object_set_new(payload, "graph", value("graph"));
    char fields[128];
    snprintf(fields, sizeof fields, "%s", shapes[i].fields);
    for (char *save = NULL, *tok = strtok_r(fields, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        if (rnd(10) == 0)
            continue; /* left out */
        json_t *v = strcmp(colon + 1, "data") == 0 ? json_pack("{s:o}", "data", value("meta"))
                                                   : value(colon + 1);
        json_object_set_new(payload, tok, v);
    }
    json_t *msg = json_pack("{s:s, s:s, s:o}", "protocol", shapes[i].protocol, "command",
                            shapes[i].command, "payload", payload);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    assert_int_equal(protocol__handle(f->p, &f->client, text, strlen(text)), 0);
    free(text);
}

static void random_event(struct fixture *f)
{
    json_t *d = value("meta");
    const char *role = PICK(names);
    switch (rnd(5)) {
    case 0:
        f->sys.events.data(f->sys.ud, role, PICK(ports), d);
        break;
    case 1:
        f->sys.events.initial_sent(f->sys.ud, role, PICK(ports), d);
        break;
    case 2:
        f->sys.events.participant_added(f->sys.ud, role, d);
        break;
    case 3:
        f->sys.events.edge_found(f->sys.ud, role, PICK(ports), PICK(names), PICK(ports));
        break;
    default:
        f->sys.events.participant_expired(f->sys.ud, role, "gone");
    }
    json_decref(d);
}

/* Every connection, export and group member names a node of the graph. */
static void assert_consistent(struct fixture *f)
{
    json_t *doc = live__graph_json(f->l);
    assert_non_null(doc);
    json_t *procs = json_object_get(doc, "processes");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "connections"), i, c)
    {
        assert_non_null(json_object_get(
            procs, json_string_value(json_object_get(json_object_get(c, "tgt"), "process"))));
        json_t *src = json_object_get(c, "src");
        if (src)
            assert_non_null(
                json_object_get(procs, json_string_value(json_object_get(src, "process"))));
    }
    const char *sets[] = {"inports", "outports"};
    for (int s = 0; s < 2; s++) {
        const char *k;
        json_t *e;
        json_object_foreach(json_object_get(doc, sets[s]), k, e)
        {
            assert_non_null(
                json_object_get(procs, json_string_value(json_object_get(e, "process"))));
        }
    }
    json_decref(doc);
}

static void test_random_sessions(void **state)
{
    struct fixture *f = *state;
    static const char *const failing[] = {
        "add_node", "remove_node", "add_edge", "remove_edge", "add_initial", "remove_initial",
        "watch",    "unwatch",     "send",     "start",       "stop"};
    for (int i = 0; i < 20000; i++) {
        f->fake.fail = rnd(10) == 0 ? PICK(failing) : NULL;
        f->fake.busy = rnd(2);
        if (rnd(4) == 0)
            random_event(f);
        else
            random_request(f);
        if (rnd(500) == 0)
            send(f, "graph", "clear", "{'id':'default/main'}");
        f->fake.calls[0] = '\0';
        json_array_clear(f->out);
        if (i % 50 == 0)
            assert_consistent(f);
    }
    f->fake.fail = NULL;
    assert_consistent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fbp_test_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settled_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fbp_test_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_running_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_and_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_components, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
