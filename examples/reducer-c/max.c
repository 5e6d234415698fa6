/* max.c — a complete TeaBag reducer, written from scratch as an example.
 *
 * Type "max": every op's payload is a number, and the value of a path is
 * the largest number seen so far. A path never written has the value null;
 * after one op it is that op's number.
 *
 * It depends on nothing but the C library and teabag_reducer.h. Build it
 * from the repository root with exactly:
 *
 *   cc -shared -fPIC -O2 -I Plugins/include examples/reducer-c/max.c -o Plugins/max.so
 *
 * and TeaBag picks Plugins/max.so up without a restart.
 *
 * How TeaBag uses a reducer (the whole contract is in teabag_reducer.h):
 *  - It loads the library and calls teabag_reducers() once to learn which
 *    op types the library serves.
 *  - To compute a value it calls fold(state, ops, &out): `state` is the
 *    current value as JSON, `ops` a JSON array of one or more ops, and fold
 *    writes the new value, as JSON, into `out`.
 *  - Before a store accepts an op it calls validate(payload, &out), so that
 *    an op this reducer could never fold is refused up front.
 *  - Whatever fold or validate put into `out` is handed back to
 *    free_result once TeaBag is done with it.
 */
#include <math.h>   /* isfinite (a macro: no -lm needed) */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, free, strtod */
#include <string.h> /* memcpy, memcmp, strlen */

#include "teabag_reducer.h"

/* ------------------------------------------------------------------------
 * Writing results.
 *
 * A tb_result is {char *data; size_t len;}. The plugin allocates data (here
 * with malloc) and TeaBag gives it back to our free_result (below), which
 * frees it with the matching free. TeaBag never frees it itself: the host
 * may use another allocator than the plugin, so memory goes back to the
 * library that allocated it.
 * ------------------------------------------------------------------------ */

/* Copies text into *out. Returns `rc`, so that both "here is the value"
   (rc 0) and "refused, here is why" (rc 1) are one line:
     return reply(out, 0, "42");
     return reply(out, 1, "max: payload must be a number");       */
static int reply(tb_result *out, int rc, const char *text) {
  size_t n = strlen(text);
  out->data = malloc(n + 1);
  if (!out->data) { /* out of memory: refuse, with an empty message */
    out->len = 0;
    return 1;
  }
  memcpy(out->data, text, n + 1);
  out->len = n; /* the length does not count the trailing NUL */
  return rc;
}

/* Called by TeaBag, exactly once, for every result whose data is not NULL. */
static void max_free_result(tb_result *r) {
  free(r->data);
  r->data = NULL;
  r->len = 0;
}

/* ------------------------------------------------------------------------
 * A tiny JSON scanner.
 *
 * The inputs are borrowed slices: `data` is NOT NUL-terminated and only the
 * `len` bytes from `data` may be read, so every step below checks the end
 * before it looks at a byte. TeaBag sends well-formed JSON; when the input
 * is malformed anyway, the scanner fails and fold refuses. It never reads
 * out of bounds and never crashes.
 * ------------------------------------------------------------------------ */

typedef struct {
  const char *p;   /* next byte to read */
  const char *end; /* one past the last byte */
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/* Consumes `ch` (after whitespace) if it is next; returns whether it was. */
static int eat(cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* At an opening quote: moves past the closing quote. -1 if unterminated. */
static int skip_string(cursor *c) {
  c->p++; /* the opening quote */
  while (c->p < c->end) {
    if (*c->p == '\\') { /* an escape: skip the backslash and the next byte */
      if (c->end - c->p < 2) break;
      c->p += 2;
      continue;
    }
    if (*c->p++ == '"') return 0;
  }
  c->p = c->end;
  return -1;
}

/* Reads a JSON number into *out. -1 if the next value is not a number.
   strtod needs a NUL-terminated string, so the number is first copied
   into a small local buffer (a JSON number in an op is short; a longer one
   is refused). Note: strtod and printf take the decimal point from the
   process's locale (LC_NUMERIC), which is '.' unless the host program
   changed it; the reducers shipped in Plugins/ guard against that, this
   example keeps it simple. */
static int read_number(cursor *c, double *out) {
  char buf[64];
  size_t n = 0;
  skip_ws(c);
  while (c->p + n < c->end && n < sizeof buf - 1 && c->p[n] != '\0' &&
         strchr("0123456789+-.eE", c->p[n]))
    n++;
  if (n == 0 || n == sizeof buf - 1) return -1;
  memcpy(buf, c->p, n);
  buf[n] = '\0';
  char *stop;
  *out = strtod(buf, &stop);
  if (stop != buf + n || !isfinite(*out)) return -1; /* "1e999", "1-2", ... */
  c->p += n;
  return 0;
}

/* Skips any one JSON value: a string, an array or object (recursively), or
   a scalar (number, true, false, null). depth bounds the recursion, so a
   hostile "[[[[[[..." cannot exhaust the stack. */
static int skip_value(cursor *c, int depth) {
  skip_ws(c);
  if (c->p >= c->end || depth > 256) return -1;
  char open = *c->p;
  if (open == '"') return skip_string(c);
  if (open == '[' || open == '{') {
    char close = open == '[' ? ']' : '}';
    c->p++;
    if (eat(c, close)) return 0; /* empty [] or {} */
    do {
      if (open == '{') { /* a member: "key": value */
        skip_ws(c);
        if (c->p >= c->end || *c->p != '"' || skip_string(c) || !eat(c, ':')) return -1;
      }
      if (skip_value(c, depth + 1)) return -1;
    } while (eat(c, ','));
    return eat(c, close) ? 0 : -1;
  }
  /* A scalar: the literals, or a number. */
  static const char *const literals[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(literals[i]);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, literals[i], n) == 0) {
      c->p += n;
      return 0;
    }
  }
  double ignored;
  return read_number(c, &ignored);
}

/* Whether only whitespace is left. */
static int at_end(cursor *c) {
  skip_ws(c);
  return c->p == c->end;
}

/* Formats a number as JSON: 42 rather than 42.0, and otherwise the
   shortest of %.15g/%.16g/%.17g that reads back as the same double, so that
   folding the printed value again loses nothing. */
static void format_number(double x, char buf[32]) {
  if (x > -9007199254740992.0 && x < 9007199254740992.0 && x == (double)(long long)x) {
    snprintf(buf, 32, "%lld", (long long)x);
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) return;
  }
}

/* ------------------------------------------------------------------------
 * The reducer.
 * ------------------------------------------------------------------------ */

/* validate: is this payload acceptable for a "max" op? A store calls it on
   every op pushed to it, and refuses the op (HTTP 400, with our message)
   when this returns nonzero. Returning 0 with out left empty means "fine". */
static int max_validate(tb_slice payload, tb_result *out) {
  cursor c = {payload.data, payload.data + payload.len};
  double v;
  if (read_number(&c, &v) || !at_end(&c))
    return reply(out, 1, "max: payload must be a finite number");
  return 0;
}

/* fold: the value after the ops.
     state  the current value as JSON: null (never written) or a number.
     ops    [{"date":..,"sha":..,"payload":..}, ...], one op or a whole
            oplog, oldest first. Members may come in any order.
   Returns 0 with the new value in *out, or nonzero with a message: TeaBag
   then folds the ops one at a time and skips (and reports) each op that we
   refuse alone, so refusing is always safe.
   TeaBag calls fold from several threads at once (for different paths), so
   it uses no global variables: everything lives on the stack. */
static int max_fold(tb_slice state, tb_slice ops, tb_result *out) {
  double max = 0;
  int have = 0; /* 0 while the value is still null */

  cursor s = {state.data, state.data + state.len};
  skip_ws(&s);
  if ((size_t)(s.end - s.p) >= 4 && memcmp(s.p, "null", 4) == 0) {
    s.p += 4;
  } else if (read_number(&s, &max) == 0) {
    have = 1;
  } else {
    return reply(out, 1, "max: state must be a number or null");
  }
  if (!at_end(&s)) return reply(out, 1, "max: state must be a number or null");

  cursor c = {ops.data, ops.data + ops.len};
  if (!eat(&c, '[')) return reply(out, 1, "max: ops must be a JSON array");
  if (!eat(&c, ']')) {
    do { /* one op: {"date":..., "sha":..., "payload":...} */
      int found = 0;
      if (!eat(&c, '{')) return reply(out, 1, "max: each op must be a JSON object");
      if (!eat(&c, '}')) {
        do {
          skip_ws(&c);
          const char *key = c.p;
          if (c.p >= c.end || *c.p != '"' || skip_string(&c))
            return reply(out, 1, "max: malformed op");
          size_t key_len = (size_t)(c.p - key); /* quotes included */
          if (!eat(&c, ':')) return reply(out, 1, "max: malformed op");
          if (key_len == 9 && memcmp(key, "\"payload\"", 9) == 0) {
            double v;
            if (read_number(&c, &v)) return reply(out, 1, "max: payload must be a finite number");
            if (!have || v > max) max = v;
            have = 1;
            found = 1;
          } else if (skip_value(&c, 0)) { /* "date", "sha", anything else */
            return reply(out, 1, "max: malformed op");
          }
        } while (eat(&c, ','));
        if (!eat(&c, '}')) return reply(out, 1, "max: malformed op");
      }
      if (!found) return reply(out, 1, "max: an op has no payload");
    } while (eat(&c, ','));
    if (!eat(&c, ']')) return reply(out, 1, "max: ops must be a JSON array");
  }
  if (!at_end(&c)) return reply(out, 1, "max: ops must be a JSON array");

  if (!have) return reply(out, 0, "null"); /* null state and no op */
  char buf[32];
  format_number(max, buf);
  return reply(out, 0, buf);
}

/* ------------------------------------------------------------------------
 * The entry point.
 *
 * The descriptor lives in static storage: TeaBag keeps the pointer as long
 * as the library is loaded (it never unloads one).
 * ------------------------------------------------------------------------ */
static const tb_reducer reducers[] = {{
    /* The ABI this file was compiled against; TeaBag refuses another. */
    .abi_version = TEABAG_ABI_VERSION,
    /* The size of the struct as compiled here. Newer TeaBag versions may
       append fields; the size tells the host which ones we know about. */
    .struct_size = sizeof(tb_reducer),
    /* The op type we serve: 1-64 characters of [A-Za-z0-9_-]. Two
       libraries claiming one type: the first in file-name order wins. */
    .type = "max",
    /* Our own version, free text, shown by `teabag plugins list`. */
    .version = "1.0.0",
    .fold = max_fold,         /* required */
    .validate = max_validate, /* optional: NULL accepts every payload */
    .free_result = max_free_result,
}};

/* The one symbol TeaBag looks up: returns our reducers and their count. */
const tb_reducer *teabag_reducers(size_t *count) {
  *count = sizeof reducers / sizeof reducers[0];
  return reducers;
}
