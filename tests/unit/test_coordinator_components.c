/* The coordinator's discovered component definitions: a discovery changes
 * them only when the component's definition (without the instance's id,
 * role, extra and port queues) differs from the one known. The comparison
 * is made without building the definition, so it is checked here against
 * every part that may differ. Changes are reported once per flush, per
 * component; a component is forgotten with its last participant unless a
 * node of the graph or the library names it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

#include "coord/coordinator_internal.h"
#include "library/library.h"

/* A coordinator with what the component records use: a registry telling
 * them of components gone, a library, a loop for the pump timer. */
struct fixture {
    uv_loop_t loop;
    struct coordinator c;
    json_t *told; /* names component_changed reported */
};

static void on_changed(void *ud, const char *name)
{
    struct fixture *f = ud;
    json_array_append_new(f->told, json_string(name));
}

static void setup(struct fixture *f, const char *library)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->c.loop = &f->loop;
    uv_timer_init(&f->loop, &f->c.pump_timer);
    struct registry_options ro = {.component_gone = coordinator_components__gone, .ud = &f->c};
    assert_int_equal(registry__new(&ro, &f->c.reg), 0);
    json_t *config = J(library);
    char err[256];
    assert_int_equal(library__from_json(config, "lib", "/nonexistent", &f->c.lib, err, sizeof err),
                     0);
    json_decref(config);
    f->told = json_array();
    f->c.sys.events.component_changed = on_changed;
    f->c.sys.ud = f;
}

static void teardown(struct fixture *f)
{
    coordinator_components__clear(&f->c);
    registry__free(f->c.reg);
    library__free(f->c.lib);
    json_decref(f->told);
    uv_close((uv_handle_t *)&f->c.pump_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Announces a participant (JSON text, quotes as ') to registry and records. */
static bool announce(struct fixture *f, const char *text, uint64_t now)
{
    json_t *payload = J(text);
    unsigned changes = 0;
    assert_int_equal(registry__update(f->c.reg, payload, now, &changes), 0);
    bool changed = coordinator_components__update(&f->c, payload, changes);
    json_decref(payload);
    return changed;
}

/* What a flush reports, as JSON text with ' quotes. */
static void flushed(struct fixture *f, const char *want)
{
    json_array_clear(f->told);
    coordinator_components__flush(&f->c);
    json_t *w = J(want);
    if (!json_equal(w, f->told)) {
        char *got = json_dumps(f->told, JSON_COMPACT);
        fail_msg("flush told %s", got);
    }
    json_decref(w);
}

#define BASE                                                                                       \
    "'component':'c/Repeat','label':'Repeats','icon':'clone',"                                     \
    "'inports':[{'id':'in','type':'any','queue':'a.IN'}],"                                         \
    "'outports':[{'id':'out','type':'any','queue':'a.OUT'}]"

/* Whether the discovery (JSON text, quotes as ') changes c's
 * definitions. */
static bool update(struct coordinator *c, const char *text)
{
    json_t *payload = J(text);
    bool changed = coordinator_components__update(c, payload, REGISTRY_CHANGED);
    json_decref(payload);
    return changed;
}

static void test_update(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, "{}");
    struct coordinator *c = &f.c;
    assert_true(update(c, "{'id':'a1','role':'a'," BASE "}"));
    /* Another instance: other id, role, extra and queues. */
    assert_false(update(c, "{'id':'b1','role':'b','extra':{'x':1},"
                           "'component':'c/Repeat','label':'Repeats','icon':'clone',"
                           "'inports':[{'id':'in','type':'any','queue':'b.IN'}],"
                           "'outports':[{'queue':'b.OUT','id':'out','type':'any'}]}"));
    struct coord_component *k;
    HASH_FIND_STR(c->comps, "c/Repeat", k);
    assert_non_null(k);
    json_t *def = k->def;
    assert_null(json_object_get(def, "id"));
    assert_null(json_object_get(json_array_get(json_object_get(def, "inports"), 0), "queue"));
    /* Each part of a definition counts. */
    static const char *const changed[] = {
        /* a port's type */
        "{'id':'a','role':'a','component':'c/Repeat','label':'Repeats','icon':'clone',"
        "'inports':[{'id':'in','type':'string','queue':'a.IN'}],"
        "'outports':[{'id':'out','type':'any','queue':'a.OUT'}]}",
        /* a port more */
        "{'id':'a','role':'a','component':'c/Repeat','label':'Repeats','icon':'clone',"
        "'inports':[{'id':'in','type':'any'},{'id':'x','type':'any'}],"
        "'outports':[{'id':'out','type':'any','queue':'a.OUT'}]}",
        /* a key of a port more */
        "{'id':'a','role':'a','component':'c/Repeat','label':'Repeats','icon':'clone',"
        "'inports':[{'id':'in','type':'any','description':'d'}],"
        "'outports':[{'id':'out','type':'any','queue':'a.OUT'}]}",
        /* the label gone */
        "{'id':'a','role':'a','component':'c/Repeat','icon':'clone',"
        "'inports':[{'id':'in','type':'any'}],'outports':[{'id':'out','type':'any'}]}",
        /* a key more */
        "{'id':'a','role':'a','component':'c/Repeat','label':'Repeats','icon':'clone','x':1,"
        "'inports':[{'id':'in','type':'any'}],'outports':[{'id':'out','type':'any'}]}",
        /* ports not a list */
        "{'id':'a','role':'a','component':'c/Repeat','label':'Repeats','icon':'clone',"
        "'inports':{},'outports':[{'id':'out','type':'any'}]}",
    };
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        assert_true(update(c, changed[i]));
        assert_false(update(c, changed[i]));
        assert_true(update(c, "{'id':'a1','role':'a'," BASE "}"));
    }
    /* Without a component name there is nothing to keep. */
    assert_false(update(c, "{'id':'z','role':'z'}"));
    assert_int_equal(HASH_COUNT(c->comps), 1);
    teardown(&f);
}

#define PORTS "'inports':[{'id':'in','type':'any'}],'outports':[]"

/* Reports: once per component per flush; forgotten with the last participant
 * unless the graph or the library names it. */
static void test_flush_and_forget(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, "{'namespace':'lib','components':{'lib/Lib':'run #ROLE'}}");
    struct coordinator *c = &f.c;
    /* a burst: two components, one of them announced twice and changed */
    assert_true(announce(&f, "{'id':'a1','role':'a','component':'A'," PORTS "}", 1));
    assert_true(announce(&f, "{'id':'b1','role':'b','component':'B'," PORTS "}", 1));
    assert_true(announce(&f, "{'id':'a1','role':'a','component':'A','label':'x'," PORTS "}", 1));
    assert_false(announce(&f, "{'id':'a2','role':'a2','component':'A','label':'x'," PORTS "}", 1));
    flushed(&f, "['A','B']");
    flushed(&f, "[]");
    /* the same again: nothing */
    assert_false(announce(&f, "{'id':'b1','role':'b','component':'B'," PORTS "}", 2));
    flushed(&f, "[]");
    /* two names for the library component: listed (and told) as one */
    assert_true(announce(&f, "{'id':'l1','role':'l1','component':'lib/Lib'," PORTS "}", 2));
    assert_true(announce(&f, "{'id':'l2','role':'l2','component':'Lib','label':'L'," PORTS "}", 2));
    flushed(&f, "['lib/Lib']");
    json_t *one = coordinator__component(c, "lib/Lib");
    assert_string_equal(json_string_value(json_object_get(one, "description")), "L");
    json_decref(one);
    assert_null(coordinator__component(c, "Lib")); /* listed as lib/Lib */
    json_t *all = coordinator__components(c);
    assert_int_equal(json_array_size(all), 3); /* lib/Lib, A, B */
    json_decref(all);
    /* B is named by a node of the graph; A and Lib are not */
    coordinator_components__use(c, "B", +1);
    assert_int_equal(registry__forget_role(c->reg, "a"), 1);
    flushed(&f, "[]"); /* a2 still announces A */
    assert_int_equal(registry__forget_role(c->reg, "a2"), 1);
    assert_int_equal(registry__forget_role(c->reg, "b"), 1);
    assert_int_equal(registry__forget_role(c->reg, "l1"), 1);
    assert_int_equal(registry__forget_role(c->reg, "l2"), 1);
    flushed(&f, "['A']"); /* A forgotten: told, no longer listed; B and lib/Lib kept as they were */
    assert_null(coordinator__component(c, "A"));
    one = coordinator__component(c, "B");
    assert_non_null(one); /* the graph keeps it */
    json_decref(one);
    one = coordinator__component(c, "lib/Lib"); /* the library keeps its ports */
    assert_int_equal(json_array_size(json_object_get(one, "inports")), 1);
    json_decref(one);
    /* the node goes: B goes */
    coordinator_components__use(c, "B", -1);
    flushed(&f, "['B']");
    assert_null(coordinator__component(c, "B"));
    assert_int_equal(HASH_COUNT(c->comps), 2); /* lib/Lib and Lib */
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_flush_and_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
