/* Repeat: every message on `in` is sent unchanged on `out`.
 * Run: repeat ROLE [BROKER_URL] */
#include <msgflo/msgflo.h>

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    size_t len;
    const void *data = msgflo_message_data(msg, &len);
    if (msgflo_participant_send(p, "out", data, len) == 0)
        msgflo_message_ack(msg);
    else
        msgflo_message_nack(msg); /* dead-lettered on AMQP */
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {{.id = "in", .type = "any"}, {0}};
    static const msgflo_port_def outports[] = {{.id = "out", .type = "any"}, {0}};
    const msgflo_definition def = {
        .component = "c/Repeat",
        .label = "Repeats in data without changes",
        .icon = "file-word-o",
        .inports = inports,
        .outports = outports,
    };
    return msgflo_main(argc, argv, &def, process, NULL);
}
