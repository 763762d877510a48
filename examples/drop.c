/* Drop: acknowledges and forgets every message on `in`.
 * Run: drop ROLE [BROKER_URL] */
#include <msgflo/msgflo.h>

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    msgflo_message_ack(msg);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {{.id = "in", .type = "any"}, {0}};
    const msgflo_definition def = {
        .component = "c/Drop",
        .label = "Drops all data",
        .icon = "trash-o",
        .inports = inports,
    };
    return msgflo_main(argc, argv, &def, process, NULL);
}
