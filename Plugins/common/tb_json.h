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

#endif /* TB_JSON_H */
