/* Lamp: a warning light with a red and a green bulb. `true` on `red` or
 * `green` switches that bulb on, anything else switches it off; the lamp
 * prints the bulb's new state for every message ("red ON", "green off").
 * Run: lamp ROLE [BROKER_URL] */
#include <msgflo/msgflo.h>

#include <stdio.h>
#include <string.h>

/* true, or "true": an IIP such as 'true' -> GREEN lamp in a .fbp graph
 * arrives as the JSON string "true". */
static bool is_true(msgflo_message *msg)
{
    json_t *v = msgflo_message_json(msg);
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    printf("%s %s\n", inport, is_true(msg) ? "ON" : "off"); /* a real lamp would switch here */
    msgflo_message_ack(msg);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {
        {.id = "red", .type = "boolean", .description = "red bulb on or off"},
        {.id = "green", .type = "boolean", .description = "green bulb on or off"},
        {0},
    };
    const msgflo_definition def = {
        .component = "iot/Lamp",
        .label = "A warning light with a red and a green bulb",
        .icon = "lightbulb-o",
        .inports = inports,
    };
    /* Line-buffered: a supervisor reads our output through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return msgflo_main(argc, argv, &def, process, NULL);
}
