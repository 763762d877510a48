/* State shared by the files of the .fbp parser (fbp_parser.c: the grammar,
 * fbp_iip.c: JSON IIP values, fbp_build.c: the grammar's actions,
 * fbp_error.c: syntax error messages). Not for use outside src/graph. */
#ifndef MSGFLO_GRAPH_FBP_PARSER_INT_H
#define MSGFLO_GRAPH_FBP_PARSER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "graph/graph.h"
#include "core/strbuf.h"

/* What the parser expected where it failed, named as the reference parser
 * (PEG.js 0.9) names it; the descriptions are in fbp_error.c. */
enum fbp_expect {
    X_INPORT,
    X_OUTPORT,
    X_DEFAULT_INPORT,
    X_DEFAULT_OUTPORT,
    X_DOT,
    X_COLON,
    X_COMMA,
    X_NEWLINE,
    X_HASH,
    X_ARROW,
    X_QUOTE,
    X_NAME_START,
    X_NAME_CHAR,
    X_LPAREN,
    X_COMPONENT_CHAR,
    X_RPAREN,
    X_META_CHAR,
    X_AT,
    X_ANNOTATION_KEY,
    X_ANNOTATION_VALUE,
    X_PORT_CHAR,
    X_LBRACKET,
    X_DIGIT,
    X_RBRACKET,
    X_ANYCHAR,
    X_BACKSLASH_CLASS,
    X_QUOTE_CLASS,
    X_NOT_QUOTE,
    X_SPACE,
    X_LBRACE,
    X_RBRACE,
    X_FALSE,
    X_NULL,
    X_TRUE,
    X_NUMBER,
    X_STRING,
    X_END,
    X__COUNT
};

/* One element of the reference's flat edge list. */
enum fbp_item_kind { ITEM_SRC, ITEM_TGT, ITEM_DATA };

struct fbp_item {
    enum fbp_item_kind kind;
    const char *process; /* in the input or an anonymous name; NULL for ITEM_DATA */
    size_t process_len;
    const char *port; /* in the input or a default port name; NULL for ITEM_DATA */
    size_t port_len;
    int64_t index;
    json_t *data;  /* owned reference for ITEM_DATA */
    size_t offset; /* where the node (or the IIP) is in the input */
};

/* A name in the input or generated (anonymous nodes); not owned. */
struct fbp_name {
    const char *s;
    size_t len;
};

struct fbp_port {
    struct fbp_name name;
    int64_t index; /* GRAPH_NO_INDEX when absent */
};

struct fbp_strmap; /* fbp_build.c */

struct fbp_infinity {
    size_t iip_at;       /* the IIP's offset */
    const json_t *array; /* the array holding the null, or NULL for the IIP itself */
    size_t index;
    bool negative;
};

#define FBP_MEMO 8 /* a power of two */

struct fbp_memo_port {
    size_t key, end;
    bool ok;
    struct fbp_port port;
};

struct fbp_memo_name {
    size_t key, end;
    bool ok;
};

struct fbp_memo_component {
    size_t key, end;
    bool ok, has_meta;
    struct fbp_name comp, meta;
};

struct fbp_parser {
    const char *s; /* the input, valid UTF-8 */
    size_t n;
    size_t pos;
    size_t max_fail;   /* furthest position a terminal failed at */
    uint64_t expected; /* bit set of enum fbp_expect at max_fail */
    int silent;        /* > 0 inside named rules, whose inner failures are not reported */
    int rc;            /* sticky MSGFLO_ENOMEM or MSGFLO_EINVAL (too deep) */
    int depth;         /* JSON nesting */
    bool case_sensitive;
    struct graph *g;
    const char *default_in; /* in the input, or "IN" */
    size_t default_in_len;
    const char *default_out; /* in the input, or "OUT" */
    size_t default_out_len;
    size_t last_add_offset; /* offset + 1 of the last fbp__add_node call, 0 = none */
    /* Small direct-mapped memos of pure rules, keyed by start position + 1.
     * Backtracking asks for the same rule at the same place several times;
     * the answer and the failures it reports are the same each time, and
     * reporting a failure twice changes nothing, so a memo is exact. */
    struct fbp_memo_port memo_port[FBP_MEMO];
    struct fbp_memo_name memo_node_name[FBP_MEMO];
    struct fbp_memo_component memo_component[FBP_MEMO];
    struct fbp_item *items;
    size_t n_items, cap_items;
    struct fbp_strmap *anon_counts; /* component-derived name -> count */
    struct fbp_strmap *anon_names;  /* offset (as text) -> generated node name */
    size_t *chain;                  /* connection chain stack: pos, n_items pairs */
    size_t cap_chain;
    /* where things were written, for located validation errors */
    size_t *conn_at; /* per connection: source (or IIP) offset, target offset */
    size_t cap_conn_at;
    size_t *proc_at; /* per process: first mention */
    size_t cap_proc_at;
    size_t *inport_at, *outport_at; /* per export */
    size_t cap_inport_at, cap_outport_at;
    /* JSON IIP numbers beyond the double range: JSON has no Infinity, so they
     * are null in the value, and noted here for String(value) in messages */
    struct fbp_infinity *infinities;
    size_t n_infinities, cap_infinities;
    size_t iip_at;           /* start of the JSON IIP being parsed */
    const json_t *inf_array; /* array being filled, or NULL at the top */
    size_t inf_index;        /* index of the value being parsed in it */
    int inf_in_object;       /* > 0 inside an object (String() stops there) */
};

#define FBP_MAX_DEPTH 6000

/* Reports a failed terminal at p->pos: the furthest failures and what was
 * expected there make the syntax error message. */
static inline void fbp__fail(struct fbp_parser *p, enum fbp_expect x)
{
    if (p->silent || p->pos < p->max_fail)
        return;
    if (p->pos > p->max_fail) {
        p->max_fail = p->pos;
        p->expected = 0;
    }
    p->expected |= (uint64_t)1 << x;
}

/* Matches the literal lit (len bytes) at p->pos. */
static inline bool fbp__lit_n(struct fbp_parser *p, const char *lit, size_t len, enum fbp_expect x)
{
    if (p->pos < p->n && p->s[p->pos] == lit[0] && p->n - p->pos >= len &&
        (len == 1 || memcmp(p->s + p->pos + 1, lit + 1, len - 1) == 0)) {
        p->pos += len;
        return true;
    }
    fbp__fail(p, x);
    return false;
}

/* For string literals only (the length is taken with sizeof). */
#define fbp__lit(p, lit, x) fbp__lit_n((p), "" lit, sizeof(lit) - 1, (x))
size_t fbp__char_len(const struct fbp_parser *p, size_t pos);

/* fbp_iip.c: JSON_text = ws value ws; *out gets a new reference. */
bool fbp__json_text(struct fbp_parser *p, json_t **out);
/* String(value) of the IIP at offset iip_at, with its infinities. */
void fbp__iip_js_string(const struct fbp_parser *p, size_t iip_at, const json_t *value,
                        struct strbuf *sb);

/* fbp_build.c */
void fbp__add_node(struct fbp_parser *p, size_t offset, struct fbp_name name, struct fbp_name comp,
                   const struct fbp_name *meta);
bool fbp__add_anonymous(struct fbp_parser *p, size_t offset, struct fbp_name comp,
                        const struct fbp_name *meta, struct fbp_name *out);
void fbp__push_port(struct fbp_parser *p, enum fbp_item_kind kind, size_t at,
                    struct fbp_name process, const struct fbp_port *port);
void fbp__push_data(struct fbp_parser *p, size_t at, json_t *data);
void fbp__truncate_items(struct fbp_parser *p, size_t n);
void fbp__annotation(struct fbp_parser *p, struct fbp_name key, struct fbp_name value);
void fbp__export(struct fbp_parser *p, bool in, size_t at, struct fbp_name node,
                 struct fbp_name port, struct fbp_name pub);
void fbp__set_default(struct fbp_parser *p, bool in, struct fbp_name port);
int fbp__register_line(struct fbp_parser *p, size_t first);
void fbp__cleanup(struct fbp_parser *p);

/* Records offset `at` as entry i of *arr (grown as needed). */
void fbp__record_at(struct fbp_parser *p, size_t **arr, size_t *cap, size_t i, size_t at);

/* fbp_error.c */
void fbp__syntax_error(const struct fbp_parser *p, struct graph_error *err);
/* Sets err's line and column to those of offset pos (as the reference counts). */
void fbp__locate(const struct fbp_parser *p, size_t pos, struct graph_error *err);
/* Replaces invalid UTF-8 as a WHATWG decoder (and so Node) does; *out is
 * NULL when the text was valid, else a new buffer (free()) of *out_len bytes. */
int fbp__sanitize_utf8(const char *s, size_t n, char **out, size_t *out_len);

#endif
