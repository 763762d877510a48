/* libFuzzer target: the component library's configuration (package.json
 * or a library JSON file; library/library_config.c, library_template.c):
 * every component found, looked up and given a command. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *config = json_loadb((const char *)data, size, 0, &jerr);
    json_t *iips = json_pack("{s:s, s:f}", "portA", "value'A", "portB", 3.14);
    struct library *lib = NULL;
    char err[512];
    if (!config || !iips)
        goto out;
    /* No component directory: the configuration alone. */
    if (library__from_json(config, "fuzz.json", "/nonexistent/msgflo-fuzz", &lib, err,
                           sizeof err) != 0) {
        if (lib || !memchr(err, '\0', sizeof err))
            abort();
        goto out;
    }
    (void)library__namespace(lib);
    (void)library__repository(lib);
    for (size_t i = 0; i < library__count(lib); i++) {
        const struct library_component *c = library__get(lib, i);
        char *cmd = NULL;
        if (!c || !c->name || !c->command)
            abort();
        if (!library__find(lib, c->name))
            abort();
        int rc = library__command(lib, c->name, "fuzzrole", iips, &cmd, err, sizeof err);
        if (rc == 0 && !cmd)
            abort();
        free(cmd);
    }
    char *cmd = NULL;
    (void)library__command(lib, "nope/Missing", "r", NULL, &cmd, err, sizeof err);
    free(cmd);
out:
    library__free(lib);
    json_decref(config);
    json_decref(iips);
    return 0;
}
