/* nonzero_fold.c — provokes the one-by-one fallback: type "refuser" refuses any op whose payload is "bad" ("refuser: bad payload"), else sums numbers like counter. */
#include <stdio.h>
#include "fixture.h"

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* strtod on a bounded, NUL-terminated copy (the input is not NUL-terminated). */
static int number(const char *p, const char *end, double *v, const char **after) {
  char buf[64];
  size_t n = 0;
  while (p + n < end && n < sizeof buf - 1 && p[n] && strchr("0123456789+-.eE", p[n])) n++;
  if (n == 0) return -1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  char *stop;
  *v = strtod(buf, &stop);
  if (stop != buf + n) return -1;
  *after = p + n;
  return 0;
}

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  const char *p = skip_ws(state.data, state.data + state.len), *end = state.data + state.len;
  double sum = 0;
  if (!(end - p >= 4 && memcmp(p, "null", 4) == 0) && number(p, end, &sum, &p))
    return fixture_reply(out, 1, "refuser: state must be a number or null");
  /* Simple scan: strings are skipped whole; a "payload" key followed by ':'
     is an op's payload. */
  for (p = ops.data, end = ops.data + ops.len; p < end;) {
    if (*p++ != '"') continue;
    const char *s = p;
    while (end - p >= 2 && *p != '"') p += *p == '\\' ? 2 : 1;
    if (p >= end || *p != '"') return fixture_reply(out, 1, "refuser: malformed ops");
    size_t n = (size_t)(p++ - s);
    const char *q = skip_ws(p, end);
    if (n != 7 || memcmp(s, "payload", 7) != 0 || q >= end || *q != ':') continue;
    q = skip_ws(q + 1, end);
    if (end - q >= 5 && memcmp(q, "\"bad\"", 5) == 0) return fixture_reply(out, 1, "refuser: bad payload");
    double v;
    if (number(q, end, &v, &p)) return fixture_reply(out, 1, "refuser: payload must be a number");
    sum += v;
  }
  char buf[32];
  if (sum > -9e15 && sum < 9e15 && sum == (double)(long long)sum) snprintf(buf, sizeof buf, "%lld", (long long)sum);
  else snprintf(buf, sizeof buf, "%.17g", sum);
  return fixture_reply(out, 0, buf);
}

/* validate NULL: stores accept "bad", only fold refuses it */
FIXTURE_REDUCER("refuser", "1.0.0", fold, NULL)
