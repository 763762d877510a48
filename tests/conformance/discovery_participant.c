/* A C participant whose definition uses every optional field of
 * msgflo_definition (id, label, icon; port type, description, explicit queue,
 * hidden with and without a queue, no type): its discovery message is
 * checked against docs/schemas/discovery-1.0.json by discovery-schema.js.
 * Run: discovery_participant ROLE [BROKER_URL] */
#include <msgflo/msgflo.h>

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    (void)p;
    (void)inport;
    (void)ud;
    msgflo_message_ack(msg);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {
        {.id = "in", .type = "object", .description = "what to check"},
        {.id = "custom", .type = "string", .queue = "msgflo-c/conformance/custom-in"},
        {.id = "untyped"},
        {.id = "admin", .type = "string", .hidden = true, .queue = "msgflo-c/conformance/admin"},
        {.id = "internal", .type = "any", .hidden = true}, /* no queue: not announced */
        {0},
    };
    static const msgflo_port_def outports[] = {
        {.id = "out", .type = "object", .description = "what was checked"},
        {.id = "error", .type = "error", .description = "what failed"},
        {0},
    };
    const msgflo_definition def = {
        .component = "c/DiscoveryConformance",
        .label = "Every optional field of a definition, with \"quotes\", UTF-8 "
                 "(\xc3\xa6\xc3\xb8\xc3\xa5) "
                 "and a tab\t",
        .icon = "check-square-o",
        .id = "discovery-conformance-1",
        .inports = inports,
        .outports = outports,
    };
    return msgflo_main(argc, argv, &def, process, NULL);
}
