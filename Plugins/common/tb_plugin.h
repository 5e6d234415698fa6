/* tb_plugin.h — helpers shared by the C reducers in Plugins/: results,
 * a growable buffer, canonical numbers, and a strict streaming JSON scanner
 * that works on non-NUL-terminated input and never reads past its end.
 *
 * Everything here is reentrant: no mutable global state (the only global is
 * the "C" locale object, created once when the library is loaded).
 * The cJSON-based helpers (tree parsing, canonical printing) live in
 * tb_json.h, so that a plugin that does not need a tree need not link cJSON.
 *
 * Build the plugins with -fvisibility=hidden: these helpers then stay private
 * to each plugin, and only teabag_reducers (marked TB_EXPORT) is exported.
 */
#ifndef TB_PLUGIN_H
#define TB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include "teabag_reducer.h"

#define TB_EXPORT __attribute__((visibility("default")))
#define TB_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Defines a plugin's one reducer (free_result: tb_free_result) and its
   exported entry point teabag_reducers():
   TB_REDUCER("counter", "1.0.0", counter_fold, counter_validate) */
#define TB_REDUCER(type_, version_, fold_, validate_)                \
  static const tb_reducer tb_reducers[] = {{                         \
      .abi_version = TEABAG_ABI_VERSION,                             \
      .struct_size = sizeof(tb_reducer),                             \
      .type = type_,                                                 \
      .version = version_,                                           \
      .fold = fold_,                                                 \
      .validate = validate_,                                         \
      .free_result = tb_free_result,                                 \
  }};                                                                \
  TB_EXPORT const tb_reducer *teabag_reducers(size_t *count) {       \
    *count = sizeof tb_reducers / sizeof tb_reducers[0];             \
    return tb_reducers;                                              \
  }

/* Deepest nesting of arrays/objects accepted (a deeper input is refused,
   never a stack overflow). */
#define TB_MAX_DEPTH 512

/* ---- results ------------------------------------------------------------
   Every tb_result these write holds malloc'd data (NUL-terminated for
   convenience; len excludes the NUL), freed by tb_free_result. */

/* Frees r->data with free() and clears r. The free_result of every plugin. */
void tb_free_result(tb_result *r);

/* Sets *out to a copy of s[0..n). Returns 0, or -1 when out of memory (then
   *out is left empty). */
int tb_result_set(tb_result *out, const char *s, size_t n);

/* Sets *out to a printf-formatted message and returns 1: a refusal in one
   line, `return tb_refuse(out, "counter: ...", ...);`. Out of memory leaves
   *out empty (still a refusal). */
int tb_refuse(tb_result *out, const char *fmt, ...) TB_PRINTF(2, 3);

/* ---- growable byte buffer ----------------------------------------------- */
typedef struct {
  char *data;
  size_t len, cap;
  int oom; /* set once an allocation failed; further writes are dropped */
} tb_buf;

void tb_buf_put(tb_buf *b, const char *s, size_t n);
void tb_buf_putc(tb_buf *b, char c);
void tb_buf_puts(tb_buf *b, const char *s);
void tb_buf_free(tb_buf *b);
/* Hands the buffer's bytes to *out (NUL-terminated) and returns 0; on an
   earlier allocation failure frees it and refuses with "<who>: out of
   memory" instead (returns 1). The buffer is empty afterwards either way. */
int tb_buf_finish(tb_buf *b, tb_result *out, const char *who);

/* ---- numbers ------------------------------------------------------------ */

/* Writes the canonical text of a finite double into buf (NUL-terminated),
   returns its length: integral values with |x| < 2^53 as integers ("42",
   "-3", "0" for -0), anything else as the first of %.15g, %.16g, %.17g that
   reads back as the same double ("0.1", "0.30000000000000004", "1e+300").
   Independent of the process locale. A non-finite x yields "null". */
#define TB_NUMBER_BUFSIZE 40
size_t tb_format_number(double x, char buf[TB_NUMBER_BUFSIZE]);

/* Converts a JSON number token (already validated, e.g. by tb_scan_number)
   to a double, independent of the process locale. Out-of-range values give
   ±inf (the caller decides); returns 0, or -1 when out of memory. */
int tb_number_value(const char *p, size_t n, double *out);

/* ---- strict streaming JSON scanner --------------------------------------
   RFC 8259 grammar; strings must be valid UTF-8 with valid escapes (no lone
   surrogates). All functions return 0 on success and -1 on error, with a
   message "... at offset N" in s->err. */
typedef struct {
  const char *start, *p, *end;
  char err[256];
} tb_scan;

void tb_scan_init(tb_scan *s, const char *data, size_t len);
int tb_scan_fail(tb_scan *s, const char *what); /* sets err, returns -1 */
/* "unexpected 'x', expected <expected>" (or "unexpected end of input, ..."),
   returns -1. */
int tb_scan_unexpected(tb_scan *s, const char *expected);
void tb_scan_ws(tb_scan *s);
/* Skips one value at s->p (no leading whitespace). depth = how many
   arrays/objects already enclose it, counted from the value you care about
   (pass 0): at most TB_MAX_DEPTH levels of nesting are accepted. */
int tb_scan_value(tb_scan *s, int depth);
/* s->p at '"'. When dec is non-NULL appends the decoded UTF-8 bytes to it
   (a \u0000 escape decodes to a NUL byte). *escaped (if non-NULL) is set to
   whether the raw string contained a backslash. */
int tb_scan_string(tb_scan *s, tb_buf *dec, int *escaped);
/* s->p at a number; validates and skips it. */
int tb_scan_number(tb_scan *s);
/* The whole input must be exactly one value with optional whitespace around;
   *vb and *ve receive the value's span. */
int tb_scan_document(tb_scan *s, const char **vb, const char **ve);
/* Arrays and objects, close = ']' or '}'. tb_scan_open: s->p at the opening
   bracket; skips it and the whitespace after, returns 1 when the container
   is empty (its close skipped too), else 0. tb_scan_next: after a member,
   skips whitespace and then ',' and the whitespace after it (returns 1: a
   member follows) or the close (returns 0); anything else fails with
   "unexpected ..., expected ',' or ']'" (or '}') and returns -1.
   (Inline: tb_ops_next runs them for every op of a replay.) */
static inline int tb_scan_open(tb_scan *s, char close) {
  s->p++;
  tb_scan_ws(s);
  if (s->p < s->end && *s->p == close) {
    s->p++;
    return 1;
  }
  return 0;
}

static inline int tb_scan_next(tb_scan *s, char close) {
  tb_scan_ws(s);
  if (s->p < s->end && *s->p == ',') {
    s->p++;
    tb_scan_ws(s);
    return 1;
  }
  if (s->p < s->end && *s->p == close) {
    s->p++;
    return 0;
  }
  return tb_scan_unexpected(s, close == ']' ? "',' or ']'" : "',' or '}'");
}

/* tb_scan_document of a whole input for a reducer: *value receives the
   value's span. Returns 0, or refuses (returns 1) with
   "<who>: <what> is not valid JSON: <why>". */
int tb_document(tb_slice in, tb_slice *value, const char *who, const char *what,
                tb_result *out);

/* The JSON type of a (validated) value from its first byte: "object",
   "array", "string", "boolean", "null" or "number". */
const char *tb_json_kind(char first);

/* ---- iterating over the ops array ---------------------------------------
   for (;;) { r = tb_ops_next(&it, &payload); r==1: an op; r==0: done;
   r==-1: it.s.err says why (malformed JSON, an op that is not an object, an
   op without "payload"). } The whole input is validated as it goes; keys
   come in any order, other members are skipped, and a repeated "payload"
   key counts with its last occurrence. */
typedef struct {
  tb_scan s;
  size_t index; /* index of the op last returned (0-based) */
  size_t count; /* ops returned so far */
  int state;    /* 0 before '[', 1 inside, 2 done, -1 failed */
} tb_ops_iter;

void tb_ops_begin(tb_ops_iter *it, tb_slice ops);
int tb_ops_next(tb_ops_iter *it, tb_slice *payload);

/* Copies src[0..n) into b dropping the whitespace between tokens (src must
   be valid JSON, e.g. a span returned by the scanner). */
void tb_minify(tb_buf *b, const char *src, size_t n);

#endif /* TB_PLUGIN_H */
