/* Participant definitions: validation, default ids and queues, and the exact
 * discovery message (the keys msgflo's heterogenous test requires). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/definition.h"
#include "msgflo/errors.h"
#include "msgflo/participant.h"

static const msgflo_port_def repeat_in[] = {{.id = "in", .type = "any"}, {0}};
static const msgflo_port_def repeat_out[] = {{.id = "out"}, {0}};

static const msgflo_definition repeat = {
    .component = "c/Repeat",
    .label = "Repeats",
    .inports = repeat_in,
    .outports = repeat_out,
};

static void test_default_queue(void **state)
{
    char *q = definition__default_queue("repeater", "in");
    assert_string_equal(q, "repeater.IN");
    free(q);
    q = definition__default_queue("a-b", "some_Port2");
    assert_string_equal(q, "a-b.SOME_PORT2");
    free(q);
}

static void test_instantiate_defaults(void **state)
{
    struct definition *d = NULL;
    assert_int_equal(definition__instantiate(&repeat, "repeater", &d, NULL, 0), 0);
    assert_string_equal(d->role, "repeater");
    assert_string_equal(d->icon, "file-word-o");
    assert_int_equal(strncmp(d->id, "repeater-", 9), 0);
    assert_int_equal(strlen(d->id), strlen("repeater-") + 36);
    assert_string_equal(d->inports[0].queue, "repeater.IN");
    assert_string_equal(d->outports[0].queue, "repeater.OUT");
    assert_string_equal(d->outports[0].type, "any");
    struct definition *d2 = NULL;
    assert_int_equal(definition__instantiate(&repeat, "repeater", &d2, NULL, 0), 0);
    assert_string_not_equal(d->id, d2->id);
    definition__free(d);
    definition__free(d2);
}

static void test_discovery_exact(void **state)
{
    static const msgflo_port_def in[] = {
        {.id = "in", .type = "object", .description = "input"},
        {.id = "secret", .hidden = true},
        {.id = "tap", .hidden = true, .queue = "custom/tap"},
        {0},
    };
    const msgflo_definition def = {
        .component = "iot/Lamp",
        .label = "A lamp",
        .icon = "lightbulb-o",
        .id = "lamp1",
        .inports = in,
    };
    struct definition *d = NULL;
    assert_int_equal(definition__instantiate(&def, "lamp", &d, NULL, 0), 0);
    json_t *msg = definition__discovery(d);
    json_error_t err;
    static const char exact[] =
        "{\"protocol\":\"discovery\",\"command\":\"participant\",\"payload\":{"
        "\"id\":\"lamp1\",\"role\":\"lamp\",\"component\":\"iot/Lamp\",\"label\":\"A lamp\","
        "\"icon\":\"lightbulb-o\",\"inports\":["
        "{\"id\":\"in\",\"type\":\"object\",\"queue\":\"lamp.IN\",\"hidden\":false,"
        "\"description\":\"input\"},"
        "{\"id\":\"tap\",\"type\":\"any\",\"queue\":\"custom/tap\",\"hidden\":true}],"
        "\"outports\":[]}}";
    json_t *expected = json_loads(exact, 0, &err);
    assert_non_null(expected);
    /* the text itself, written by the device core: byte for byte */
    char *text = NULL;
    assert_int_equal(definition__discovery_text(d, &text), 0);
    assert_string_equal(text, exact);
    free(text);
    if (!json_equal(msg, expected)) {
        char *got = json_dumps(msg, JSON_COMPACT);
        fail_msg("discovery message differs: %s", got);
    }
    /* exactly the keys of msgflo's heterogenous conformance test */
    json_t *payload = json_object_get(msg, "payload");
    assert_int_equal(json_object_size(payload), 7);
    assert_int_equal(json_object_size(msg), 3);
    json_decref(msg);
    json_decref(expected);
    definition__free(d);
}

static void expect_invalid(const msgflo_definition *def, const char *role, const char *fragment)
{
    struct definition *d = NULL;
    char err[200] = "";
    assert_int_equal(definition__instantiate(def, role, &d, err, sizeof err), MSGFLO_EINVAL);
    assert_null(d);
    if (!strstr(err, fragment))
        fail_msg("error '%s' does not mention '%s'", err, fragment);
}

static void test_validation(void **state)
{
    static const msgflo_port_def dup[] = {{.id = "in"}, {.id = "in"}, {0}};
    static const msgflo_port_def empty_id[] = {{.id = ""}, {0}};
    static const msgflo_port_def bad_queue[] = {{.id = "in", .queue = "a/+/b"}, {0}};
    msgflo_definition def = repeat;
    expect_invalid(&def, NULL, "role");
    expect_invalid(&def, "", "role");
    expect_invalid(&def, "a b", "role");
    expect_invalid(&def, "a/#", "role");
    def.component = NULL;
    expect_invalid(&def, "r", "component");
    def.component = "c/X";
    def.inports = dup;
    expect_invalid(&def, "r", "inport 'in' is defined twice");
    def.inports = empty_id;
    expect_invalid(&def, "r", "port id");
    def.inports = bad_queue;
    expect_invalid(&def, "r", "queue");
    expect_invalid(NULL, "r", "no definition");

    /* the discovery protocol's limits: at the limit fine, one byte more refused */
    static char name[DEFINITION_MAX_NAME + 2], text[DEFINITION_MAX_TEXT + 2];
    memset(name, 'n', DEFINITION_MAX_NAME + 1);
    memset(text, 't', DEFINITION_MAX_TEXT + 1);
    struct definition *d = NULL;
    char err[256];
    def = repeat;
    def.label = text + 1; /* 4096 bytes */
    def.component = name + 1;
    assert_int_equal(definition__instantiate(&def, "r", &d, err, sizeof err), 0);
    definition__free(d);
    def.label = text;
    expect_invalid(&def, "r", "label and icon must be at most 4096 bytes");
    def.label = NULL;
    def.component = name;
    expect_invalid(&def, "r", "component and id must be at most 1024 bytes");
    def = repeat;
    msgflo_port_def long_type[] = {{.id = "in", .type = name}, {0}};
    def.inports = long_type;
    expect_invalid(&def, "r", "inport 0: id and type must be at most 1024 bytes");
    static msgflo_port_def many[DEFINITION_MAX_PORTS + 2];
    static char ids[DEFINITION_MAX_PORTS + 1][8];
    for (size_t i = 0; i <= DEFINITION_MAX_PORTS; i++) {
        snprintf(ids[i], sizeof ids[i], "p%zu", i);
        many[i].id = ids[i];
    }
    def = repeat;
    def.outports = many + 1; /* 256 */
    assert_int_equal(definition__instantiate(&def, "r", &d, err, sizeof err), 0);
    definition__free(d);
    def.outports = many;
    expect_invalid(&def, "r", "257 outports, more than 256");
}

static void test_role_from_definition(void **state)
{
    msgflo_definition def = repeat;
    def.role = "fromdef";
    struct definition *d = NULL;
    assert_int_equal(definition__instantiate(&def, NULL, &d, NULL, 0), 0);
    assert_string_equal(d->role, "fromdef");
    assert_string_equal(d->inports[0].queue, "fromdef.IN");
    definition__free(d);
}

static void test_no_ports(void **state)
{
    const msgflo_definition def = {.component = "x/Y"};
    struct definition *d = NULL;
    assert_int_equal(definition__instantiate(&def, "r", &d, NULL, 0), 0);
    json_t *msg = definition__discovery(d);
    json_t *payload = json_object_get(msg, "payload");
    assert_int_equal(json_array_size(json_object_get(payload, "inports")), 0);
    assert_true(json_is_array(json_object_get(payload, "outports")));
    assert_string_equal(json_string_value(json_object_get(payload, "label")), "");
    json_decref(msg);
    definition__free(d);
}

static void noop(msgflo_participant *p, const char *port, msgflo_message *m, void *ud)
{
}

static void test_participant_new_errors(void **state)
{
    msgflo_participant *p = NULL;
    char err[300];
    unsetenv("MSGFLO_BROKER");
    unsetenv("CLOUDAMQP_URL");
    assert_int_equal(msgflo_participant_new(&p, &repeat, "r", NULL, noop, NULL, err, sizeof err),
                     MSGFLO_ENOBROKER);
    assert_non_null(strstr(err, "MSGFLO_BROKER"));
    assert_int_equal(
        msgflo_participant_new(&p, &repeat, "r", "amqp://u:pw@h:x", noop, NULL, err, sizeof err),
        MSGFLO_EURL);
    assert_non_null(strstr(err, "invalid port"));
    assert_null(strstr(err, "pw")); /* never show a password */
    assert_int_equal(
        msgflo_participant_new(&p, &repeat, "r", "mqtt://h", NULL, NULL, err, sizeof err),
        MSGFLO_EINVAL);
    const msgflo_definition bad_utf8 = {.component = "c/\xff"};
    assert_int_equal(
        msgflo_participant_new(&p, &bad_utf8, "r", "mqtt://h", noop, NULL, err, sizeof err),
        MSGFLO_EINVAL);
    assert_null(p);
}

static void test_participant_accessors(void **state)
{
    msgflo_participant *p = NULL;
    assert_int_equal(msgflo_participant_new(&p, &repeat, "rep", "mqtt://h", noop, NULL, NULL, 0),
                     0);
    assert_string_equal(msgflo_participant_role(p), "rep");
    assert_string_equal(msgflo_participant_component(p), "c/Repeat");
    assert_string_equal(msgflo_participant_queue(p, true, "in"), "rep.IN");
    assert_string_equal(msgflo_participant_queue(p, false, "out"), "rep.OUT");
    assert_null(msgflo_participant_queue(p, false, "nope"));
    assert_int_equal(msgflo_participant_send(p, "nope", "x", 1), MSGFLO_ENOPORT);
    assert_int_equal(msgflo_participant_send(p, "out", "x", 1), MSGFLO_ENOTCONN);
    char *disc = msgflo_participant_discovery(p);
    json_t *j = json_loads(disc, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "payload"), "id")),
                        msgflo_participant_id(p));
    json_decref(j);
    free(disc);
    msgflo_participant_free(p);
    msgflo_participant_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_queue),          cmocka_unit_test(test_instantiate_defaults),
        cmocka_unit_test(test_discovery_exact),        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_role_from_definition),   cmocka_unit_test(test_no_ports),
        cmocka_unit_test(test_participant_new_errors), cmocka_unit_test(test_participant_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
