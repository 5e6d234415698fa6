/* tb_json.h — cJSON-based helpers for the reducers that need a JSON tree
 * (set, merge, log): a strict parser that builds cJSON trees from
 * non-NUL-terminated input, and canonical JSON printing, comparison and
 * equality. Link with -lcjson.
 *
 * Canonical JSON (what every tree-based reducer outputs):
 *  - no whitespace;
 *  - object members sorted by key in UTF-16 code-unit order (as RFC 8785
 *    does; it equals byte order except that U+E000..U+FFFF sort after
 *    the characters beyond U+FFFF); a key repeated in the input keeps its
 *    last value;
 *  - numbers as tb_format_number prints them;
 *  - strings escape only '"', '\\' and the control characters (\b \f \n \r
 *    \t, others as \u00xx), everything else is written as UTF-8.
 * Two values are equal when their canonical texts are, and are ordered by
 * comparing those texts bytewise (strcmp).
 */
#ifndef TB_JSON_H
#define TB_JSON_H

#include <cjson/cJSON.h>

#include "tb_plugin.h"

/* Parses data[0..len) (one value, optional surrounding whitespace) with the
   scanner's strict grammar and at most max_depth levels of nesting. Objects
   of the tree come out sorted by key and without repeated keys. Refused
   (NULL, with a message in err): invalid JSON, a number out of double range
   (1e999), a string containing \u0000 (cJSON strings are NUL-terminated). */
cJSON *tb_json_parse(const char *data, size_t len, int max_depth, char *err,
                     size_t errsz);

/* Compares two object keys in UTF-16 code-unit order (see above). */
int tb_key_cmp(const char *a, const char *b);

/* Appends the canonical text of v to b. */
void tb_json_canon(tb_buf *b, const cJSON *v);

/* The canonical text of v, malloc'd and NUL-terminated (*len its length if
   len is non-NULL); NULL when out of memory. */
char *tb_json_canon_str(const cJSON *v, size_t *len);

/* strcmp of the canonical texts: <0, 0 or >0. Sets *oom (if non-NULL) and
   returns 0 when out of memory. */
int tb_json_cmp(const cJSON *a, const cJSON *b, int *oom);

/* 1 when a and b have the same canonical text, else 0. */
int tb_json_equal(const cJSON *a, const cJSON *b);

/* Sorts an object's members by key and drops repeated keys (the last one
   stays). Returns 0, or -1 when out of memory (the object is unchanged). */
int tb_json_sort_object(cJSON *obj);

/* The JSON type name of a cJSON value: "object", "array", ... */
const char *tb_json_type(const cJSON *v);

/* ---- a reducer's inputs as trees -----------------------------------------
   These refuse (tb_refuse) with messages that start "<who>: ". */

/* The element a reducer takes from a parsed payload p (p itself or a part
   of it) and whether it adds it (*add = 1) or removes it (0); NULL with a
   message in msg[0..msz) when the payload's shape is refused. */
typedef const cJSON *(*tb_json_pick)(const cJSON *p, int *add, char *msg, size_t msz);

/* Parses a state (TB_MAX_DEPTH + 4 levels). NULL after refusing with
   "<who>: state is not valid JSON: <why>". */
cJSON *tb_json_state(tb_slice state, const char *who, tb_result *out);

/* A validate: the payload must parse (TB_MAX_DEPTH levels) and, when pick is
   non-NULL, be picked. Returns 0, or refuses (returns 1) with
   "<who>: payload is not valid JSON: <why>" or "<who>: <pick's message>". */
int tb_json_validate(tb_slice payload, tb_json_pick pick, const char *who,
                     tb_result *out);

/* tb_ops_next with the payload parsed: returns 1 with *p its tree (the caller
   deletes it), 0 after the last op, or -1 after refusing with
   "<who>: ops[i].payload is not valid JSON: <why>" or "<who>: <it->s.err>". */
int tb_json_ops_next(tb_ops_iter *it, cJSON **p, const char *who, tb_result *out);

/* ---- lists of canonical texts (log, set) --------------------------------- */
typedef struct {
  char *text;   /* canonical JSON of the element */
  size_t order; /* position: state elements first, then ops in order */
  int add;      /* 1: added, 0: removed */
} tb_canon;

typedef struct {
  tb_canon *v;
  size_t n, cap;
} tb_canon_list;

/* Appends to *l the elements of items (an array inside st, or NULL) as
   added, deletes st, then appends one element per op of ops: its payload
   when pick is NULL, else what pick takes from it. Returns 0, or refuses
   (returns 1): a payload that is not valid JSON, "<who>: ops[i].<pick's
   message>", malformed ops, "<who>: out of memory". Free *l either way. */
int tb_canon_collect(tb_canon_list *l, cJSON *st, const cJSON *items, tb_slice ops,
                     tb_json_pick pick, const char *who, tb_result *out);
void tb_canon_list_free(tb_canon_list *l);

#endif /* TB_JSON_H */
