/* The coordinator's discovered component definitions: a discovery changes
 * them only when the component's definition (without the instance's id,
 * role, extra and port queues) differs from the one known. The comparison
 * is made without building the definition, so it is checked here against
 * every part that may differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

#include "coord/coordinator_internal.h"

#define BASE                                                                                       \
    "'component':'c/Repeat','label':'Repeats','icon':'clone',"                                     \
    "'inports':[{'id':'in','type':'any','queue':'a.IN'}],"                                         \
    "'outports':[{'id':'out','type':'any','queue':'a.OUT'}]"

/* Whether the discovery (JSON text, quotes as ') changes c's
 * definitions. */
static bool update(struct coordinator *c, const char *text)
{
    json_t *payload = J(text);
    bool changed = coordinator_components__update(c, payload);
    json_decref(payload);
    return changed;
}

static void test_update(void **state)
{
    (void)state;
    struct coordinator c;
    memset(&c, 0, sizeof c);
    c.components = json_object();
    assert_true(update(&c, "{'id':'a1','role':'a'," BASE "}"));
    /* Another instance: other id, role, extra and queues. */
    assert_false(update(&c, "{'id':'b1','role':'b','extra':{'x':1},"
                            "'component':'c/Repeat','label':'Repeats','icon':'clone',"
                            "'inports':[{'id':'in','type':'any','queue':'b.IN'}],"
                            "'outports':[{'queue':'b.OUT','id':'out','type':'any'}]}"));
    json_t *def = json_object_get(c.components, "c/Repeat");
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
        assert_true(update(&c, changed[i]));
        assert_false(update(&c, changed[i]));
        assert_true(update(&c, "{'id':'a1','role':'a'," BASE "}"));
    }
    /* Without a component name there is nothing to keep. */
    assert_false(update(&c, "{'id':'z','role':'z'}"));
    assert_int_equal(json_object_size(c.components), 1);
    json_decref(c.components);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
