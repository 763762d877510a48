/* Foreign participant definitions (msgflo-register's YAML): ports as a map or
 * a list, #ROLE, default id, YAML types as js-yaml gives them, and errors
 * with their place in the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "foreign/foreign.h"
#include "msgflo/errors.h"

static char err[1024];

static json_t *parse_ok(const char *yaml, const char *role)
{
    json_t *p = NULL;
    int rc = foreign__parse(yaml, strlen(yaml), "t.yaml", role, &p, err, sizeof err);
    if (rc)
        fprintf(stderr, "unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(p);
    return p;
}

static void parse_fails(const char *yaml, const char *role, const char *expected)
{
    json_t *p = NULL;
    assert_int_equal(foreign__parse(yaml, strlen(yaml), "t.yaml", role, &p, err, sizeof err),
                     MSGFLO_EINVAL);
    assert_null(p);
    if (!strstr(err, expected))
        fprintf(stderr, "error was: %s\nexpected: %s\n", err, expected);
    assert_non_null(strstr(err, expected));
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *port(const json_t *payload, const char *kind, size_t i)
{
    return json_array_get(json_object_get(payload, kind), i);
}

static void test_map_form(void **state)
{
    json_t *p = parse_ok("component: ProcessSomething\n"
                         "label: Process input\n"
                         "icon: ambulance\n"
                         "inports:\n"
                         "  in:\n"
                         "    queue: process/#ROLE/in\n"
                         "    type: string\n"
                         "  config: {queue: process/config, type: object}\n"
                         "outports:\n"
                         "  out:\n"
                         "    queue: process/#ROLE/out\n"
                         "    type: string\n",
                         "A");
    assert_string_equal(str(p, "component"), "ProcessSomething");
    assert_string_equal(str(p, "label"), "Process input");
    assert_string_equal(str(p, "icon"), "ambulance");
    assert_string_equal(str(p, "role"), "A");
    assert_string_equal(str(p, "id"), "A");
    assert_int_equal(json_array_size(json_object_get(p, "inports")), 2);
    assert_string_equal(str(port(p, "inports", 0), "id"), "in");
    assert_string_equal(str(port(p, "inports", 0), "queue"), "process/A/in");
    assert_string_equal(str(port(p, "inports", 0), "type"), "string");
    assert_string_equal(str(port(p, "inports", 1), "id"), "config");
    assert_string_equal(str(port(p, "inports", 1), "queue"), "process/config");
    assert_int_equal(json_array_size(json_object_get(p, "outports")), 1);
    assert_string_equal(str(port(p, "outports", 0), "id"), "out");
    assert_string_equal(str(port(p, "outports", 0), "queue"), "process/A/out");
    json_decref(p);
}

/* The original's toggleswitch fixture: a list of ports with ids. */
static void test_list_form(void **state)
{
    json_t *p = parse_ok("component: 'my/ToggleSwitch'\n"
                         "icon: 'file-word-o'\n"
                         "inports: []\n"
                         "outports:\n"
                         "-\n"
                         "  id: 'state'\n"
                         "  type: 'boolean'\n"
                         "  description: 'ff'\n"
                         "  queue: '/myswitch/#ROLE/status'\n"
                         "- {id: level, queue: /myswitch/#ROLE/level}\n",
                         "switch1");
    assert_int_equal(json_array_size(json_object_get(p, "inports")), 0);
    assert_int_equal(json_array_size(json_object_get(p, "outports")), 2);
    json_t *state0 = port(p, "outports", 0);
    assert_string_equal(str(state0, "id"), "state");
    assert_string_equal(str(state0, "type"), "boolean");
    assert_string_equal(str(state0, "description"), "ff");
    assert_string_equal(str(state0, "queue"), "/myswitch/switch1/status");
    assert_string_equal(str(port(p, "outports", 1), "id"), "level");
    assert_string_equal(str(port(p, "outports", 1), "queue"), "/myswitch/switch1/level");
    json_decref(p);

    parse_fails("component: c\ninports:\n  - queue: a\n", "r", "t.yaml:3:5: inports[0] has no id");
    parse_fails("component: c\ninports: [a, b]\n", "r",
                "t.yaml:2:11: inports[0] must be a mapping");
}

static void test_role_substitution(void **state)
{
    json_t *p = parse_ok("component: c\n"
                         "inports: {in: {queue: '#ROLE/x/#ROLE.IN#ROL#ROLE'}}\n"
                         "outports: {out: {queue: no-marker-here, type: any}}\n",
                         "lamp");
    assert_string_equal(str(port(p, "inports", 0), "queue"), "lamp/x/lamp.IN#ROLlamp");
    assert_string_equal(str(port(p, "outports", 0), "queue"), "no-marker-here");
    json_decref(p);
}

static void test_id_and_role(void **state)
{
    /* id defaults to the role; an explicit id is kept; the caller's role wins */
    json_t *p = parse_ok("component: c\nrole: fromfile\n", "given");
    assert_string_equal(str(p, "role"), "given");
    assert_string_equal(str(p, "id"), "given");
    assert_int_equal(json_array_size(json_object_get(p, "inports")), 0);
    assert_int_equal(json_array_size(json_object_get(p, "outports")), 0);
    json_decref(p);

    p = parse_ok("component: c\nrole: fromfile\nid: device-42\n", NULL);
    assert_string_equal(str(p, "role"), "fromfile");
    assert_string_equal(str(p, "id"), "device-42");
    json_decref(p);

    parse_fails("component: my/Thing\n", NULL,
                "t.yaml: role is not defined for component my/Thing");
}

static void test_missing_component(void **state)
{
    parse_fails("label: x\ninports: {}\n", "r", "t.yaml: component is not defined");
    parse_fails("component:\n", "r", "component is not defined");
    parse_fails("component: ''\n", "r", "component is not defined");
    parse_fails("component: [a]\n", "r", "t.yaml:1:12: component must be a string");
}

/* What parses is a discovery message every coordinator accepts. */
static void test_not_discovery(void **state)
{
    parse_fails("component: c\nlabel: {a: 1}\n", "r",
                "t.yaml: not a valid discovery message: payload.label must be a string or null");
    parse_fails("component: c\nicon: [x]\n", "r",
                "t.yaml: not a valid discovery message: payload.icon");
}

static void test_missing_queue(void **state)
{
    parse_fails("component: c\n"
                "inports:\n"
                "  in:\n"
                "    type: string\n",
                "r", "t.yaml:3:3: port 'in' of inports has no queue");
    parse_fails("component: c\noutports:\n  out:\n", "r",
                "t.yaml:3:3: port 'out' of outports has no queue");
    parse_fails("component: c\noutports:\n  - {id: out, queue: ~}\n", "r",
                "t.yaml:3:5: port 'out' of outports has no queue");
    parse_fails("component: c\ninports: 5\n", "r",
                "t.yaml:2:10: inports must be a mapping of ports by id, or a list of ports");
}

static void test_bad_yaml(void **state)
{
    parse_fails("component: c\n"
                "inports:\n"
                "  in: {queue: a/b, type: string\n"
                "outports: []\n",
                "r", "t.yaml:4:9: did not find expected ',' or '}'");
    assert_non_null(strstr(err, "starts at 3:7"));
    parse_fails("component: c\n  label: x\n", "r", "t.yaml:2:8: mapping values are not allowed");
    parse_fails("component: c\ncomponent: d\n", "r", "t.yaml:2:1: duplicate key 'component'");
    parse_fails("a: 1\n---\nb: 2\n", "r", "t.yaml:2:1: expected a single document");
    parse_fails("component: *nope\n", "r", "t.yaml:1:12: unknown alias *nope");
    parse_fails("component: c\nx: !!binary aGVsbG8=\n", "r", "t.yaml:2:4: unsupported tag");
    parse_fails("component: c\nx: !!int abc\n", "r", "cannot read 'abc' as !!int");
}

static void test_not_a_mapping(void **state)
{
    parse_fails("- component: c\n", "r", "t.yaml:1:1: a definition must be a mapping");
    parse_fails("just text\n", "r", "t.yaml:1:1: a definition must be a mapping");
    parse_fails("", "r", "t.yaml: no definition found");
    parse_fails("# only a comment\n", "r", "t.yaml: no definition found");
}

/* Untagged plain scalars get js-yaml 3's types; quoted ones stay strings;
 * names are the text as written. */
static void test_scalar_types(void **state)
{
    json_t *p = parse_ok("component: c\n"
                         "a: true\nb: FALSE\nc: yes\nd: ~\ne:\n"
                         "f: 0x1F\ng: 0755\nh: 0b101\ni: -12_000\nj: 1:30\n"
                         "k: 2.5e4\nl: .5\nm: 1.0\nn: .inf\no: 1.2.3\np: '42'\nq: !!str 7\n"
                         "r: \"true\"\ns: 0o17\n"
                         "inports: {7: {queue: 1234}}\n",
                         "r");
    assert_true(json_is_true(json_object_get(p, "a")));
    assert_true(json_is_false(json_object_get(p, "b")));
    assert_string_equal(str(p, "c"), "yes"); /* YAML 1.1 booleans are strings in js-yaml */
    assert_true(json_is_null(json_object_get(p, "d")));
    assert_true(json_is_null(json_object_get(p, "e")));
    assert_int_equal(json_integer_value(json_object_get(p, "f")), 31);
    assert_int_equal(json_integer_value(json_object_get(p, "g")), 493);
    assert_int_equal(json_integer_value(json_object_get(p, "h")), 5);
    assert_int_equal(json_integer_value(json_object_get(p, "i")), -12000);
    assert_int_equal(json_integer_value(json_object_get(p, "j")), 90);
    assert_int_equal(json_integer_value(json_object_get(p, "k")), 25000);
    assert_true(json_is_real(json_object_get(p, "l")));
    assert_true(json_real_value(json_object_get(p, "l")) == 0.5);
    assert_true(json_is_integer(json_object_get(p, "m"))); /* JSON.stringify(1.0) is 1 */
    assert_true(json_is_null(json_object_get(p, "n")));    /* and Infinity is null */
    assert_string_equal(str(p, "o"), "1.2.3");
    assert_string_equal(str(p, "p"), "42");
    assert_string_equal(str(p, "q"), "7");
    assert_string_equal(str(p, "r"), "true");
    assert_string_equal(str(p, "s"), "0o17");
    assert_string_equal(str(port(p, "inports", 0), "id"), "7");
    assert_string_equal(str(port(p, "inports", 0), "queue"), "1234");
    json_decref(p);
}

/* An alias is a copy: ports sharing an anchored definition keep their own ids. */
static void test_aliases(void **state)
{
    json_t *p = parse_ok("component: c\n"
                         "inports:\n"
                         "  a: &port {queue: 'q/#ROLE', type: boolean}\n"
                         "  b: *port\n",
                         "r");
    assert_string_equal(str(port(p, "inports", 0), "id"), "a");
    assert_string_equal(str(port(p, "inports", 1), "id"), "b");
    assert_string_equal(str(port(p, "inports", 1), "queue"), "q/r");
    json_decref(p);

    /* exponential alias expansion is refused, not attempted */
    char yaml[2048];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "component: c\nl0: &l0 [x, x, x, x, x, x]\n");
    for (int i = 1; i < 12; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i - 1,
                              i - 1, i - 1, i - 1, i - 1, i - 1);
    parse_fails(yaml, "r", "document too large");
}

/* Merge keys (<<) as js-yaml: explicit keys win wherever they stand. */
static void test_merge_keys(void **state)
{
    json_t *p = parse_ok("x-bool: &bool {type: boolean, queue: 'lamp/#ROLE/default'}\n"
                         "component: c\n"
                         "inports:\n"
                         "  red: {<<: *bool, queue: 'lamp/#ROLE/red'}\n"
                         "  green: {queue: 'lamp/#ROLE/green', <<: *bool}\n"
                         "  other: {<<: [{type: string}, *bool]}\n",
                         "l1");
    json_t *red = port(p, "inports", 0), *green = port(p, "inports", 1);
    json_t *other = port(p, "inports", 2);
    assert_string_equal(str(red, "type"), "boolean");
    assert_string_equal(str(red, "queue"), "lamp/l1/red");
    assert_string_equal(str(green, "type"), "boolean");
    assert_string_equal(str(green, "queue"), "lamp/l1/green");
    assert_string_equal(str(other, "type"), "string"); /* the first source wins */
    assert_string_equal(str(other, "queue"), "lamp/l1/default");
    assert_null(json_object_get(red, "<<"));
    json_decref(p);

    /* ports merged from a shared map, one overridden */
    p = parse_ok("common: &ports {a: {queue: qa}, b: {queue: qb}}\n"
                 "component: c\n"
                 "outports: {<<: *ports, b: {queue: 'qb/#ROLE'}, c: {queue: qc}}\n",
                 "r");
    assert_int_equal(json_array_size(json_object_get(p, "outports")), 3);
    assert_string_equal(str(port(p, "outports", 0), "id"), "a");
    assert_string_equal(str(port(p, "outports", 1), "queue"), "qb/r");
    assert_string_equal(str(port(p, "outports", 2), "id"), "c");
    json_decref(p);

    parse_fails("component: c\nx: {<<: 5}\n", "r",
                "t.yaml:2:9: << merges a mapping or a list of mappings");
    parse_fails("component: c\nx: {<<: {a: 1}, a: 2, a: 3}\n", "r",
                "t.yaml:2:23: duplicate key 'a'");
}

static void test_message(void **state)
{
    json_t *p = parse_ok("component: my/Lamp\nlabel: L\nversion: 0.1\n"
                         "inports: {on: {queue: /lamp/#ROLE/on}}\n",
                         "lamp1");
    char *text = foreign__message(p);
    assert_non_null(text);
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    assert_int_equal(json_object_size(msg), 3);
    assert_string_equal(str(msg, "protocol"), "discovery");
    assert_string_equal(str(msg, "command"), "participant");
    assert_true(json_equal(json_object_get(msg, "payload"), p));
    /* reals print as JSON.stringify prints them */
    assert_non_null(strstr(text, "\"version\":0.1,"));
    /* keys in the original's order: from the file, then role and id */
    assert_non_null(strstr(text, "{\"component\":\"my/Lamp\",\"label\":\"L\",\"version\":0.1,"
                                 "\"inports\":[{\"queue\":\"/lamp/lamp1/on\",\"id\":\"on\"}],"
                                 "\"role\":\"lamp1\",\"id\":\"lamp1\",\"outports\":[]}"));
    json_decref(msg);
    free(text);
    json_decref(p);
}

static void test_fixture_files(void **state)
{
    json_t *p = NULL;
    assert_int_equal(
        foreign__load(MSGFLO_FOREIGN_FIXTURES "/lightbulb.yaml", NULL, &p, err, sizeof err), 0);
    assert_string_equal(str(p, "role"), "mybulb");
    assert_string_equal(str(port(p, "inports", 0), "id"), "enable");
    assert_string_equal(str(port(p, "inports", 0), "queue"), "/mylightbulb/ffo/1/set-on");
    assert_string_equal(str(port(p, "outports", 0), "queue"), "/mylightbulb/ffo/1/is-on");
    json_decref(p);

    assert_int_equal(
        foreign__load(MSGFLO_FOREIGN_FIXTURES "/bad-syntax.yaml", "r", &p, err, sizeof err),
        MSGFLO_EINVAL);
    assert_non_null(strstr(err, "bad-syntax.yaml:4:9: "));
    assert_int_equal(
        foreign__load(MSGFLO_FOREIGN_FIXTURES "/no-such-file.yaml", "r", &p, err, sizeof err),
        MSGFLO_EINVAL);
    assert_non_null(strstr(err, "no-such-file.yaml: cannot open: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_form),          cmocka_unit_test(test_list_form),
        cmocka_unit_test(test_role_substitution), cmocka_unit_test(test_id_and_role),
        cmocka_unit_test(test_missing_component), cmocka_unit_test(test_not_discovery),
        cmocka_unit_test(test_missing_queue),     cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_not_a_mapping),     cmocka_unit_test(test_scalar_types),
        cmocka_unit_test(test_aliases),           cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_message),           cmocka_unit_test(test_fixture_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
