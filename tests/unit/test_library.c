/* The component library: msgflo's spec/library.coffee re-expressed (variables,
 * #ROLE, #IIPS, components from config and disk), plus the rules of
 * src/library.coffee that spec leaves implicit: default handlers, namespace,
 * lookup order, which definition wins, template order; our executable
 * handler; and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "library/library.h"
#include "msgflo/log.h"

#ifndef MSGFLO_FIXTURES
#error "MSGFLO_FIXTURES (path of tests/fixtures) must be defined"
#endif

/* ---- helpers ---- */

static char warnings[8192];

static void capture(enum msgflo_log_level level, const char *ns, const char *message, void *ud)
{
    (void)ud;
    if (level < MSGFLO_LOG_WARNING)
        return;
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof(warnings) - n, "%s: %s\n", ns, message);
}

static int setup(void **state)
{
    warnings[0] = '\0';
    msgflo_log_set_handler(capture, NULL);
    return 0;
}

static int teardown(void **state)
{
    msgflo_log_set_handler(NULL, NULL);
    return 0;
}

/* A fresh temporary directory; *path is free()d by the caller. */
static char *temp_dir(void)
{
    char *dir = strdup("/tmp/test_library.XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Removes a temp_dir() and frees its name. */
static void remove_tree(char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* A library from JSON text and a component directory. */
static struct library *from_text(const char *json, const char *componentdir)
{
    json_error_t jerr;
    json_t *doc = json ? json_loads(json, 0, &jerr) : NULL;
    if (json && !doc)
        fail_msg("bad test JSON: %s", jerr.text);
    struct library *lib = NULL;
    char err[512] = "";
    int rc = library__from_json(doc, "test.json", componentdir ? componentdir : "/nonexistent",
                                &lib, err, sizeof(err));
    json_decref(doc);
    if (rc)
        fail_msg("library__from_json: %d %s", rc, err);
    return lib;
}

/* The template of a component, asserting that it exists. */
static const char *command_of(const struct library *lib, const char *name)
{
    const struct library_component *c = library__find(lib, name);
    if (!c)
        fail_msg("no component %s", name);
    return c->command;
}

/* library__command, asserting success; returns a static copy. */
static const char *instantiate(const struct library *lib, const char *component, const char *role,
                               const char *iips_json)
{
    static char result[2048];
    json_t *iips = iips_json ? json_loads(iips_json, JSON_DECODE_ANY, NULL) : NULL;
    char *cmd = NULL, err[256] = "";
    int rc = library__command(lib, component, role, iips, &cmd, err, sizeof(err));
    json_decref(iips);
    if (rc)
        fail_msg("library__command(%s, %s): %d %s", component, role, rc, err);
    snprintf(result, sizeof(result), "%s", cmd);
    free(cmd);
    return result;
}

/* ---- spec/library.coffee ---- */

static void test_variables_are_expanded(void **state)
{
    struct library *lib = NULL;
    char err[256];
    assert_int_equal(library__load(MSGFLO_FIXTURES "/library-nontrivial.json", "/nonexistent", &lib,
                                   err, sizeof(err)),
                     0);
    assert_int_equal(library__count(lib), 4);
    static const char *expected[][2] = {
        {"api/ConvertDocument",
         "noflo-runtime-msgflo --name #ROLE --graph api/ConvertDocument --prefetch=1 "
         "--deadletter=in"},
        {"api/SendMessageToUser",
         "noflo-runtime-msgflo --name #ROLE --graph api/SendMessageToUser --prefetch=10"},
        {"api/PropagateItem", "noflo-runtime-msgflo --name #ROLE --graph api/PropagateItem "
                              "--prefetch=1 --deadletter propagate,unpropagate"},
        {"api/Router",
         "noflo-runtime-msgflo --name #ROLE --graph api/Router --prefetch=1 --deadletter in"},
    };
    for (size_t i = 0; i < 4; i++) {
        const struct library_component *c = library__get(lib, i);
        assert_string_equal(c->name, expected[i][0]);
        assert_string_equal(c->command, expected[i][1]);
        assert_null(c->language);
        assert_null(c->filename);
    }
    assert_null(library__get(lib, 4));
    assert_null(library__namespace(lib));
    assert_null(library__repository(lib));
    library__free(lib);
}

static void test_config_and_disk_components(void **state)
{
    struct library *lib = NULL;
    char err[256];
    assert_int_equal(library__load(MSGFLO_FIXTURES "/library-nontrivial.json", MSGFLO_FIXTURES,
                                   &lib, err, sizeof(err)),
                     0);
    assert_non_null(library__find(lib, "api/ConvertDocument"));
    assert_non_null(library__find(lib, "api/Router"));
    /* files through the default handlers (no namespace: the file has no name) */
    const struct library_component *c = library__find(lib, "ProduceFoo");
    assert_non_null(c);
    assert_string_equal(c->name, "ProduceFoo");
    assert_string_equal(c->language, "coffeescript");
    assert_string_equal(c->filename, MSGFLO_FIXTURES "/ProduceFoo.coffee");
    assert_string_equal(c->command,
                        "msgflo-nodejs --name #ROLE " MSGFLO_FIXTURES "/ProduceFoo.coffee");
    c = library__find(lib, "library-simple");
    assert_non_null(c);
    assert_null(c->language);
    assert_string_equal(c->command,
                        "noflo-runtime-msgflo --name #ROLE --graph library-simple --iips #IIPS");
    assert_non_null(library__find(lib, "iips"));
    assert_string_equal(library__componentdir(lib), MSGFLO_FIXTURES);
    library__free(lib);
}

/* Names a client may write a component file under (component:source). */
static void test_component_names(void **state)
{
    (void)state;
    const char *good[] = {"Hello", "core/Repeat", "my-lib/to_number.v2", "a", "A1/b-2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[256] = "";
        if (library__check_component_name(good[i], err, sizeof err) != 0)
            fail_msg("'%s' refused: %s", good[i], err);
    }
    const char *bad[] = {"",
                         "..",
                         ".",
                         "../pwn",
                         "core/../../pwn",
                         "a/b/c",
                         "/etc/passwd",
                         "core/",
                         "/Name",
                         ".hidden",
                         "core/.bashrc",
                         ".lib/Name",
                         "name with space",
                         "semi;colon",
                         "back\\slash",
                         "ctl\x01",
                         "\xc3\xa9t\xc3\xa9",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        if (library__check_component_name(bad[i], err, sizeof err) != MSGFLO_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err, "invalid component name '"));
        /* What is shown back is printable ASCII. */
        for (const char *q = err; *q; q++)
            assert_true(*q >= 0x20 && *q < 0x7f);
    }
    char err[256] = "";
    assert_int_equal(library__check_component_name(NULL, err, sizeof err), MSGFLO_EINVAL);
    assert_int_equal(library__check_component_name("../x", NULL, 0), MSGFLO_EINVAL);
}

static void test_role_is_replaced(void **state)
{
    struct library *lib =
        from_text("{\"components\": {\"project/Foo\": "
                  "\"msgflo-nodejs --name #ROLE --file api/#COMPONENTNAME.js --option 1\"}}",
                  NULL);
    assert_string_equal(instantiate(lib, "project/Foo", "myrole", NULL),
                        "msgflo-nodejs --name myrole --file api/Foo.js --option 1");
    library__free(lib);
}

static void test_iips_are_replaced(void **state)
{
    struct library *lib = from_text(
        "{\"components\": {\"project/Foo\": "
        "\"msgflo-nodejs --name #ROLE --file api/#COMPONENTNAME.js --option 1 --iips #IIPS\"}}",
        NULL);
    assert_string_equal(
        instantiate(lib, "project/Foo", "myrole", "{\"portA\": \"valueA\", \"portB\": 3.14}"),
        "msgflo-nodejs --name myrole --file api/Foo.js --option 1 --iips "
        "'{\"portA\":\"valueA\",\"portB\":3.14}'");
    /* no IIPs: the original's default {} */
    assert_string_equal(instantiate(lib, "project/Foo", "r", NULL),
                        "msgflo-nodejs --name r --file api/Foo.js --option 1 --iips '{}'");
    /* JSON.stringify: array-index keys first, numbers as JavaScript prints them */
    assert_string_equal(instantiate(lib, "project/Foo", "r",
                                    "{\"b\": [1.0, 1e21, 1e-7, null], \"2\": \"\\u00e9\\n\"}"),
                        "msgflo-nodejs --name r --file api/Foo.js --option 1 --iips "
                        "'{\"2\":\"\xc3\xa9\\n\",\"b\":[1,1e+21,1e-7,null]}'");
    library__free(lib);
}

/* ---- templates ---- */

static void test_template_order(void **state)
{
    /* variables in JavaScript key order ("2" first), each replacing what
     * the earlier ones produced; then #FILENAME, #COMPONENTNAME, #COMPONENT
     * (expected strings from the original's library.coffee) */
    struct library *lib = from_text(
        "{\"variables\": {\"b\": \"#A-b\", \"A\": \"a#COMPONENTNAME\", \"2\": \"two\", "
        "\"n\": 5, \"r\": 2.50, \"t\": true},"
        " \"components\": {\"p/Bar\": \"bar #2 #B #N #T\", \"x/y/z\": \"#COMPONENTNAME "
        "#COMPONENT\", \"Solo\": \"#COMPONENTNAME #FILENAME\", \"/lead\": \"#COMPONENTNAME\","
        " \"a//b\": \"#COMPONENTNAME\", \"Ro\": \"#R #ROLE\"}}",
        NULL);
    assert_string_equal(command_of(lib, "p/Bar"), "bar two aBar-b 5 true");
    assert_string_equal(command_of(lib, "x/y/z"), "y x/y/z");
    assert_string_equal(command_of(lib, "Solo"), "Solo #FILENAME");
    assert_string_equal(command_of(lib, "/lead"), "lead");
    assert_string_equal(command_of(lib, "a//b"), "a//b");
    /* markers are prefixes of each other, as in the original: #R inside #ROLE */
    assert_string_equal(command_of(lib, "Ro"), "2.5 2.5OLE");
    library__free(lib);

    /* a variable named COMPONENT keeps its place among the variables and
     * gets the component's name, so it comes before #COMPONENTNAME and eats
     * its prefix: what the original does too */
    lib = from_text("{\"variables\": {\"COMPONENT\": \"ignored\", \"A\": \"a#COMPONENTNAME\"},"
                    " \"components\": {\"x/y/z\": \"#COMPONENTNAME #COMPONENT #A\"}}",
                    NULL);
    assert_string_equal(command_of(lib, "x/y/z"), "x/y/zNAME x/y/z ay");
    library__free(lib);
}

static void test_replacement_is_literal(void **state)
{
    /* the original used String#replace, where $& and $$ in a value are
     * patterns; here a value is copied as it is */
    struct library *lib = from_text(
        "{\"variables\": {\"D\": \"$$ $& x\"}, \"components\": {\"C\": \"c #D #ROLE\"}}", NULL);
    assert_string_equal(instantiate(lib, "C", "r$&", NULL), "c $$ $& x r$&");
    char *out = NULL;
    assert_int_equal(library__replace_marker("#A#AB #A", "A", "[#A]", &out), 0);
    assert_string_equal(out, "[#A][#A]B [#A]");
    free(out);
    assert_int_equal(library__replace_marker("", "A", "x", &out), 0);
    assert_string_equal(out, "");
    free(out);
    library__free(lib);
}

/* ---- component directory ---- */

static void test_default_handlers(void **state)
{
    char *dir = temp_dir();
    const char *files[] = {"Reg.yml", "Js.js",      "Cs.coffee", "Py.py",  "Gj.json",
                           "Gf.fbp",  ".hidden.py", "Other.txt", "Cpp.cpp"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        write_file(dir, files[i], "", 0644);
    struct library *lib = from_text("{\"name\": \"proj\"}", dir);
    char expect[1024];
#define EXPECT(name, lang, fmt)                                                                    \
    do {                                                                                           \
        const struct library_component *c_ = library__find(lib, name);                             \
        assert_non_null(c_);                                                                       \
        snprintf(expect, sizeof(expect), fmt, dir);                                                \
        assert_string_equal(c_->command, expect);                                                  \
        if (lang)                                                                                  \
            assert_string_equal(c_->language, (const char *)lang);                                 \
        else                                                                                       \
            assert_null(c_->language);                                                             \
    } while (0)
    EXPECT("proj/Reg", "yaml", "msgflo-register --role #ROLE:%s/Reg.yml");
    EXPECT("proj/Js", "javascript", "msgflo-nodejs --name #ROLE %s/Js.js");
    EXPECT("proj/Cs", "coffeescript", "msgflo-nodejs --name #ROLE %s/Cs.coffee");
    EXPECT("proj/Py", "python", "msgflo-python %s/Py.py #ROLE");
    /* #COMPONENT of a file is its base name, without the namespace */
    assert_string_equal(command_of(lib, "proj/Gj"),
                        "noflo-runtime-msgflo --name #ROLE --graph Gj --iips #IIPS");
    assert_string_equal(command_of(lib, "proj/Gf"),
                        "noflo-runtime-msgflo --name #ROLE --graph Gf --iips #IIPS");
    assert_null(library__find(lib, "proj/Gf")->language);
    /* .hidden.py has extension .py (path.extname), as in the original;
     * .txt and .cpp have no handler */
    EXPECT("proj/.hidden", "python", "msgflo-python %s/.hidden.py #ROLE");
    assert_null(library__find(lib, "proj/Other"));
    assert_null(library__find(lib, "proj/Cpp"));
    assert_int_equal(library__count(lib), 7);
    /* in file name order */
    assert_string_equal(library__get(lib, 0)->name, "proj/.hidden");
    assert_string_equal(library__get(lib, 1)->name, "proj/Cs");
    assert_string_equal(library__get(lib, 6)->name, "proj/Reg");
    assert_string_equal(library__namespace(lib), "proj");
    library__free(lib);
    remove_tree(dir);
}

static void test_configured_handlers(void **state)
{
    char *dir = temp_dir();
    write_file(dir, "A.sh", "", 0644);
    write_file(dir, "B.py", "", 0644);
    write_file(dir, "C.js", "", 0644);
    write_file(dir, "D", "", 0644);
    write_file(dir, "E.q", "", 0644);
    struct library *lib =
        from_text("{\"variables\": {\"PY\": \"python3\"}, \"handlers\": {\".sh\": \"sh #FILENAME "
                  "#COMPONENTNAME\", \".py\": \"#PY #FILENAME --role #ROLE\", \".js\": \"\", \"\": "
                  "\"run #FILENAME\", \".q\": \"\"}}",
                  dir);
    char expect[1024];
    EXPECT("A", NULL, "sh %s/A.sh A");
    EXPECT("B", "python", "python3 %s/B.py --role #ROLE");
    /* an empty handler falls back to the default */
    EXPECT("C", "javascript", "msgflo-nodejs --name #ROLE %s/C.js");
    /* "" handles files without an extension, as path.extname gives "" */
    EXPECT("D", NULL, "run %s/D");
    /* an empty handler without a default: a component with no command */
    assert_string_equal(command_of(lib, "E"), "");
    char *cmd = NULL, err[256];
    assert_int_equal(library__command(lib, "E", "e", NULL, &cmd, err, sizeof(err)),
                     LIBRARY_ENOCOMMAND);
    assert_null(cmd);
    assert_string_equal(err, "No component E defined for role e");
    library__free(lib);
    remove_tree(dir);
}

static void test_executable_handler(void **state)
{
    char *dir = temp_dir();
    write_file(dir, "repeat", "#!/bin/sh\n", 0755);
    write_file(dir, "tool.sh", "#!/bin/sh\n", 0755);
    write_file(dir, "data", "", 0644);
    write_file(dir, ".secret", "#!/bin/sh\n", 0755);
    /* an executable .py is still a Python component */
    write_file(dir, "Py.py", "", 0755);
    /* a handled file wins over an executable of the same name */
    write_file(dir, "Both", "#!/bin/sh\n", 0755);
    write_file(dir, "Both.js", "", 0644);
    char sub[1100];
    snprintf(sub, sizeof(sub), "%s/subdir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    struct library *lib = from_text("{\"name\": \"c\"}", dir);
    char expect[1024];
    EXPECT("c/repeat", NULL, "%s/repeat #ROLE");
    EXPECT("c/tool", NULL, "%s/tool.sh #ROLE");
    EXPECT("c/Py", "python", "msgflo-python %s/Py.py #ROLE");
    EXPECT("c/Both", "javascript", "msgflo-nodejs --name #ROLE %s/Both.js");
    assert_null(library__find(lib, "c/data"));
    assert_null(library__find(lib, "c/.secret"));
    assert_null(library__find(lib, "c/subdir"));
    assert_int_equal(library__count(lib), 4);
    assert_non_null(strstr(warnings, "/Both ignored"));
    /* found without the namespace too, and run with the role */
    snprintf(expect, sizeof(expect), "%s/repeat myrole", dir);
    assert_string_equal(instantiate(lib, "repeat", "myrole", NULL), expect);
    library__free(lib);

    /* component directory "." : run ./repeat, not a repeat from PATH */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    lib = from_text(NULL, ".");
    assert_string_equal(command_of(lib, "repeat"), "./repeat #ROLE");
    assert_string_equal(command_of(lib, "Py"), "msgflo-python Py.py #ROLE");
    library__free(lib);
    assert_int_equal(chdir(cwd), 0);
    remove_tree(dir);
}

static void test_file_paths_as_path_join(void **state)
{
    char *dir = temp_dir();
    char sub[1100], given[1200];
    snprintf(sub, sizeof(sub), "%s/p", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(sub, "X.py", "", 0644);
    snprintf(given, sizeof(given), "%s//p/./../p/", dir);
    struct library *lib = from_text(NULL, given);
    char expect[1300];
    snprintf(expect, sizeof(expect), "msgflo-python %s/p/X.py #ROLE", dir);
    assert_string_equal(command_of(lib, "X"), expect);
    library__free(lib);
    remove_tree(dir);
}

static void test_duplicate_files(void **state)
{
    /* two files of one component: the last in name order, as the original
     * (an object assignment per file) */
    char *dir = temp_dir();
    write_file(dir, "Q.js", "", 0644);
    write_file(dir, "Q.sh", "", 0644);
    struct library *lib = from_text("{\"handlers\": {\".sh\": \"sh #FILENAME\"}}", dir);
    char expect[1024];
    EXPECT("Q", NULL, "sh %s/Q.sh");
    assert_int_equal(library__count(lib), 1);
    assert_non_null(strstr(warnings, "Q.js ignored"));
    library__free(lib);
    remove_tree(dir);
}

static void test_missing_directory_is_empty(void **state)
{
    struct library *lib = from_text(NULL, "/nonexistent/participants");
    assert_int_equal(library__count(lib), 0);
    assert_null(library__find(lib, "x"));
    library__free(lib);
    /* a component directory that is a file is an error */
    struct library *l2 = NULL;
    char err[512];
    assert_int_equal(
        library__from_json(NULL, NULL, MSGFLO_FIXTURES "/iips.fbp", &l2, err, sizeof(err)),
        MSGFLO_ESYS);
    assert_null(l2);
    assert_non_null(strstr(err, "iips.fbp: cannot read the component directory"));
}

/* ---- namespace, lookup, precedence ---- */

static void test_namespace_rules(void **state)
{
    char *dir = temp_dir();
    write_file(dir, "F.py", "", 0644);
    /* top-level name */
    struct library *lib = from_text("{\"name\": \"pkg\", \"msgflo\": {}}", dir);
    assert_string_equal(library__get(lib, 0)->name, "pkg/F");
    library__free(lib);
    /* msgflo.namespace over the name */
    lib = from_text("{\"name\": \"pkg\", \"msgflo\": {\"namespace\": \"ns\"}}", dir);
    assert_string_equal(library__get(lib, 0)->name, "ns/F");
    assert_string_equal(library__namespace(lib), "ns");
    library__free(lib);
    /* an empty namespace: none */
    lib = from_text("{\"name\": \"pkg\", \"namespace\": \"\"}", dir);
    assert_string_equal(library__get(lib, 0)->name, "F");
    assert_null(library__namespace(lib));
    library__free(lib);
    /* null namespace: the name; "msgflo": null: the top level */
    lib = from_text("{\"name\": \"pkg\", \"namespace\": null, \"msgflo\": null}", dir);
    assert_string_equal(library__get(lib, 0)->name, "pkg/F");
    library__free(lib);
    remove_tree(dir);
}

static void test_lookup_order(void **state)
{
    struct library *lib = from_text("{\"namespace\": \"ns\", \"components\": {"
                                    "\"ns/A\": \"ns-a\", \"A\": \"plain-a\", \"B\": \"plain-b\","
                                    " \"ns/C\": \"ns-c\", \"x/y/D\": \"xyd\"}}",
                                    NULL);
    /* "A" comes after "ns/A", and library__find("A") already finds "ns/A"
     * (exact miss, base name miss, "ns/A" hit): "A" is ignored, as the
     * original's _updateComponents ignores it */
    assert_string_equal(command_of(lib, "A"), "ns-a");
    assert_string_equal(command_of(lib, "ns/A"), "ns-a");
    /* exact, then without namespace, then with namespace */
    assert_string_equal(command_of(lib, "other/B"), "plain-b");
    assert_string_equal(command_of(lib, "C"), "ns-c");
    assert_string_equal(command_of(lib, "x/y/D"), "xyd");
    assert_null(library__find(lib, "D"));
    assert_null(library__find(lib, "y/D"));
    assert_null(library__find(lib, "nope"));
    assert_int_equal(library__count(lib), 4);
    assert_non_null(strstr(warnings, "component A from test.json ignored: ns/A"));
    library__free(lib);
}

static void test_directory_wins_over_config(void **state)
{
    char *dir = temp_dir();
    write_file(dir, "Foo.py", "", 0644);
    struct library *lib = from_text(
        "{\"name\": \"proj\", \"components\": {\"Foo\": \"configured\", \"proj/Foo\": \"x\"}}",
        dir);
    char expect[1024];
    EXPECT("Foo", "python", "msgflo-python %s/Foo.py #ROLE");
    assert_int_equal(library__count(lib), 1);
    assert_non_null(strstr(warnings, "component Foo from test.json ignored"));
    library__free(lib);
    remove_tree(dir);
}

static void test_repository(void **state)
{
    struct library *lib =
        from_text("{\"repository\": {\"type\": \"git\", \"url\": \"git://a\"}}", NULL);
    assert_string_equal(library__repository(lib), "git://a");
    library__free(lib);
    lib = from_text("{\"repository\": \"git://b\", \"msgflo\": {}}", NULL);
    assert_string_equal(library__repository(lib), "git://b");
    library__free(lib);
    lib =
        from_text("{\"repository\": \"git://b\", \"msgflo\": {\"repository\": \"git://c\"}}", NULL);
    assert_string_equal(library__repository(lib), "git://c");
    library__free(lib);
}

/* ---- errors ---- */

static void expect_error(const char *json, int code, const char *message)
{
    json_t *doc = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(doc);
    struct library *lib = NULL;
    char err[512] = "";
    assert_int_equal(library__from_json(doc, "lib.json", "/nonexistent", &lib, err, sizeof(err)),
                     code);
    assert_null(lib);
    assert_string_equal(err, message);
    json_decref(doc);
}

static void test_type_errors(void **state)
{
    expect_error("[]", MSGFLO_EINVAL, "lib.json: expected a JSON object");
    expect_error("{\"msgflo\": \"x\"}", MSGFLO_EINVAL, "lib.json: msgflo: expected an object");
    expect_error("{\"msgflo\": {\"components\": {\"x\": 3}}}", MSGFLO_EINVAL,
                 "lib.json: msgflo.components.x: expected a string (a command template)");
    expect_error("{\"components\": []}", MSGFLO_EINVAL, "lib.json: components: expected an object");
    expect_error("{\"handlers\": {\".py\": null}}", MSGFLO_EINVAL,
                 "lib.json: handlers..py: expected a string (a command template)");
    expect_error("{\"variables\": {\"V\": {}}}", MSGFLO_EINVAL,
                 "lib.json: variables.V: expected a string");
    expect_error("{\"namespace\": 1}", MSGFLO_EINVAL, "lib.json: namespace: expected a string");
    expect_error("{\"name\": []}", MSGFLO_EINVAL, "lib.json: name: expected a string");
}

static void test_file_errors(void **state)
{
    char *dir = temp_dir();
    char path[1100], err[512];
    struct library *lib = NULL;
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    write_file(dir, "bad.json", "{\n  \"msgflo\": {,\n}", 0644);
    assert_int_equal(library__load(path, "/nonexistent", &lib, err, sizeof(err)), MSGFLO_EJSON);
    assert_null(lib);
    char expect[1300];
    snprintf(expect, sizeof(expect), "%s:2:14: invalid JSON: ", path);
    assert_true(strncmp(err, expect, strlen(expect)) == 0);

    snprintf(path, sizeof(path), "%s/none.json", dir);
    assert_int_equal(library__load(path, "/nonexistent", &lib, err, sizeof(err)), MSGFLO_ESYS);
    snprintf(expect, sizeof(expect),
             "%s: cannot open the library configuration: No such file or directory", path);
    assert_string_equal(err, expect);

    /* no path: package.json when there is one, else nothing */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(library__load(NULL, "/nonexistent", &lib, err, sizeof(err)), 0);
    assert_int_equal(library__count(lib), 0);
    library__free(lib);
    write_file(dir, "package.json",
               "{\"name\": \"p\", \"msgflo\": {\"components\": {\"A\": \"a\"}}}", 0644);
    assert_int_equal(library__load(NULL, "/nonexistent", &lib, err, sizeof(err)), 0);
    assert_string_equal(command_of(lib, "p/A"), "a");
    assert_string_equal(library__namespace(lib), "p");
    library__free(lib);
    /* default component directory */
    assert_int_equal(mkdir("participants", 0755), 0);
    write_file(dir, "participants/B.py", "", 0644);
    assert_int_equal(library__load(NULL, NULL, &lib, err, sizeof(err)), 0);
    assert_string_equal(library__componentdir(lib), "participants");
    assert_string_equal(command_of(lib, "B"), "msgflo-python participants/B.py #ROLE");
    library__free(lib);
    assert_int_equal(chdir(cwd), 0);
    remove_tree(dir);
}

static void test_no_component(void **state)
{
    struct library *lib = from_text("{\"components\": {\"A\": \"a\"}}", NULL);
    char *cmd = NULL, err[256];
    assert_int_equal(library__command(lib, "imgflo-server/ProcessImage", "imgflo_worker", NULL,
                                      &cmd, err, sizeof(err)),
                     LIBRARY_ENOCOMMAND);
    assert_null(cmd);
    assert_string_equal(err,
                        "No component imgflo-server/ProcessImage defined for role imgflo_worker");
    /* err may be NULL */
    assert_int_equal(library__command(lib, "B", "b", NULL, &cmd, NULL, 0), LIBRARY_ENOCOMMAND);
    library__free(lib);
}

/* ---- helpers for the tools ---- */

static void test_graph_helpers(void **state)
{
    const char *fbp = "web(api/Web) FAST -> IN fast(api/Worker)\n"
                      "web SLOW -> IN slow(api/Worker)\n"
                      "'8081' -> PORT slow, '8082' -> PORT fast\n"
                      "'again' -> PORT slow\n"
                      "'x' -> OTHER slow\n";
    struct graph *g = NULL;
    struct graph_error gerr;
    assert_int_equal(fbp__parse(fbp, strlen(fbp), NULL, &g, &gerr), 0);
    json_t *iips = NULL;
    assert_int_equal(library__role_iips(g, "slow", &iips), 0);
    char *text = json_dumps(iips, JSON_COMPACT);
    assert_string_equal(text, "{\"port\":\"again\",\"other\":\"x\"}");
    free(text);
    json_decref(iips);
    assert_int_equal(library__role_iips(g, "web", &iips), 0);
    assert_int_equal(json_object_size(iips), 0);
    json_decref(iips);

    graph__free(g);

    /* processes in JavaScript key order: array indexes first */
    const char *json = "{\"processes\": {\"web\": {\"component\": \"W\"}, \"fast\": "
                       "{\"component\": \"F\"}, \"2\": {\"component\": \"msgflo/RoundRobin\"},"
                       " \"slow\": {\"component\": \"S\"}, \"1\": {\"component\": \"P\"}}}";
    assert_int_equal(graph_json__read(json, strlen(json), &g, &gerr), 0);
    size_t *order = library__process_order(g);
    assert_non_null(order);
    assert_int_equal(g->n_processes, 5);
    const char *expected[] = {"1", "2", "web", "fast", "slow"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(g->processes[order[i]].name, expected[i]);
    free(order);

    assert_true(library__is_participant("api/Worker"));
    assert_false(library__is_participant("msgflo/RoundRobin"));
    assert_false(library__is_participant("msgflo/PubSub"));
    assert_false(library__is_participant(NULL));
    graph__free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_variables_are_expanded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_and_disk_components, setup, teardown),
        cmocka_unit_test(test_component_names),
        cmocka_unit_test_setup_teardown(test_role_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iips_are_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replacement_is_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configured_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_executable_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_paths_as_path_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_wins_over_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repository, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_component, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_helpers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
