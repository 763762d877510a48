/* A participant with test behaviours: fixture ROLE URL|- MODE  ('-': $MSGFLO_BROKER)
 *   tag   send {"id": <participant id>, "data": <input text>} on out, ack
 *   nack  nack every message (AMQP: dead-lettered)
 *   hold  never ack (to test that unacked messages are not lost)
 *   mixed by the input: "hold..." never acked (prints "holding <input>"),
 *         "nack..." nacked, anything else as tag */
#include <msgflo/msgflo.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode;

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    if (strcmp(mode, "nack") == 0) {
        msgflo_message_nack(msg);
        return;
    }
    size_t len;
    const char *data = msgflo_message_data(msg, &len);
    bool mixed = strcmp(mode, "mixed") == 0;
    if (mixed && strncmp(data, "nack", 4) == 0) {
        msgflo_message_nack(msg);
        return;
    }
    if (strcmp(mode, "hold") == 0 || (mixed && strncmp(data, "hold", 4) == 0)) {
        printf(mixed ? "holding %s\n" : "holding\n", data);
        fflush(stdout);
        return;
    }
    json_t *out = json_pack("{s:s, s:s%}", "id", msgflo_participant_id(p), "data", data, len);
    if (msgflo_participant_send_json(p, "out", out) == 0)
        msgflo_message_ack(msg);
    else
        msgflo_message_nack(msg);
    json_decref(out);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {{.id = "in"}, {0}};
    static const msgflo_port_def outports[] = {{.id = "out"}, {0}};
    const msgflo_definition def = {
        .component = "test/Fixture", .inports = inports, .outports = outports};
    if (argc != 4) {
        fprintf(stderr, "usage: fixture ROLE URL|- tag|nack|hold|mixed\n");
        return 2;
    }
    mode = argv[3];
    return msgflo_main(argv[2][0] == '-' ? 2 : 3, argv, &def, process, NULL);
}
