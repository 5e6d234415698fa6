/* counter.c — the `counter` reducer: the value is a number, each payload a
 * finite JSON number added to it (a null state counts as 0).
 *
 * Replays fold whole oplogs (100,000 ops in one call), so fold never builds a
 * JSON tree: it streams through the ops array with the scanner of
 * tb_plugin.h, which validates everything and stops at the end of the input.
 *
 * Value: the sum, integral values with |x| < 2^53 as integers ("42"), others
 * shortest round-trip ("0.30000000000000004"), so a value folded further one
 * op at a time gives the same result as one replay.
 */
#include <math.h>
#include <stdio.h>

#include "tb_plugin.h"

/* Reads the number of a value span [b, e) (validated JSON) into *v; refuses
   with "counter: <what> must be a number, got \"<kind>\"" otherwise. */
static int number_of(const char *b, const char *e, double *v, const char *what,
                     tb_result *out) {
  if (*b != '-' && !(*b >= '0' && *b <= '9'))
    return tb_refuse(out, "counter: %s must be a number, got \"%s\"", what, tb_json_kind(*b));
  if (tb_number_value(b, (size_t)(e - b), v)) return tb_refuse(out, "counter: out of memory");
  if (!isfinite(*v)) return tb_refuse(out, "counter: %s is out of range: %.*s", what,
                                      (int)(e - b > 40 ? 40 : e - b), b);
  return 0;
}

static int counter_validate(tb_slice payload, tb_result *out) {
  tb_slice value;
  double v;
  if (tb_document(payload, &value, "counter", "payload", out)) return 1;
  return number_of(value.data, value.data + value.len, &v, "payload", out);
}

static int counter_fold(tb_slice state, tb_slice ops, tb_result *out) {
  tb_slice value;
  double sum = 0;

  if (tb_document(state, &value, "counter", "state", out)) return 1;
  const char *b = value.data, *e = value.data + value.len;
  if (*b != 'n') {
    if (*b != '-' && !(*b >= '0' && *b <= '9'))
      return tb_refuse(out, "counter: state must be a number or null, got \"%s\"",
                       tb_json_kind(*b));
    if (number_of(b, e, &sum, "state", out)) return 1;
  }

  tb_ops_iter it;
  tb_slice payload;
  int r;
  tb_ops_begin(&it, ops);
  while ((r = tb_ops_next(&it, &payload)) == 1) {
    const char *p = payload.data;
    double v;
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      if (tb_number_value(p, payload.len, &v)) return tb_refuse(out, "counter: out of memory");
      if (isfinite(v)) {
        sum += v;
        continue;
      }
    }
    char what[48]; /* the slow path: say which op and why */
    snprintf(what, sizeof what, "ops[%zu].payload", it.index);
    if (number_of(p, p + payload.len, &v, what, out)) return 1;
  }
  if (r < 0) return tb_refuse(out, "counter: %s", it.s.err);
  if (!isfinite(sum)) return tb_refuse(out, "counter: the sum is out of range");

  char num[TB_NUMBER_BUFSIZE];
  size_t n = tb_format_number(sum, num);
  if (tb_result_set(out, num, n)) return tb_refuse(out, "counter: out of memory");
  return 0;
}

TB_REDUCER("counter", "1.0.0", counter_fold, counter_validate)
