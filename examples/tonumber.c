/* ToNumber: turns what a device sends into a number. A JSON number on `in`
 * goes out unchanged on `out`; a string holding a number ("21.5", " 7 ") goes
 * out as that number; anything else goes to `error` as {"message": why,
 * "input": what came}, so a graph can route bad readings elsewhere.
 * Run: tonumber ROLE [BROKER_URL] */
#include <msgflo/msgflo.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static void process(msgflo_participant *p, const char *inport, msgflo_message *msg, void *ud)
{
    (void)inport;
    (void)ud;
    json_t *in = msgflo_message_json(msg);
    json_t *out = NULL;
    const char *why = NULL;
    if (!in) {
        why = "not JSON";
    } else if (json_is_number(in)) {
        out = json_incref(in);
    } else if (json_is_string(in)) {
        const char *s = json_string_value(in);
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end == s || *end || errno == ERANGE || !isfinite(v))
            why = "not a number";
        else if (v == (double)(json_int_t)v && fabs(v) < 9007199254740992.0)
            out = json_integer((json_int_t)v);
        else
            out = json_real(v);
    } else {
        why = "neither a number nor a string";
    }
    int rc;
    if (out) {
        rc = msgflo_participant_send_json(p, "out", out);
    } else {
        size_t len;
        const char *data = msgflo_message_data(msg, &len);
        json_t *error = json_pack("{s:s, s:o}", "message", why, "input",
                                  in ? json_incref(in) : json_stringn(data, len));
        rc = msgflo_participant_send_json(p, "error", error);
        json_decref(error);
    }
    json_decref(out);
    if (rc == 0)
        msgflo_message_ack(msg);
    else
        msgflo_message_nack(msg);
}

int main(int argc, char **argv)
{
    static const msgflo_port_def inports[] = {{.id = "in", .type = "any"}, {0}};
    static const msgflo_port_def outports[] = {
        {.id = "out", .type = "number"},
        {.id = "error", .type = "object", .description = "{message, input} for bad input"},
        {0}};
    const msgflo_definition def = {
        .component = "c/ToNumber",
        .label = "Turns numbers and numeric strings into numbers",
        .icon = "calculator",
        .inports = inports,
        .outports = outports,
    };
    return msgflo_main(argc, argv, &def, process, NULL);
}
