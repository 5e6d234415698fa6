/* tb_plugin.c — results, buffers, canonical numbers and the strict
 * streaming JSON scanner shared by the C reducers (see tb_plugin.h). */
#define _POSIX_C_SOURCE 200809L
#include "tb_plugin.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- locale ---------------------------------------------------------------
   strtod and printf("%g") follow the process locale (a host that called
   setlocale(LC_ALL, "") in a German locale would get "0,5"). Numbers are
   converted under the "C" locale, switched in for the calling thread only
   with uselocale. The object is created once at load time, before any call
   can happen, and never changes afterwards. */
static locale_t tb_c_locale;

__attribute__((constructor)) static void tb_init_locale(void) {
  tb_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t tb_enter_c_locale(void) {
  return tb_c_locale ? uselocale(tb_c_locale) : (locale_t)0;
}

static void tb_leave_c_locale(locale_t old) {
  if (old) uselocale(old);
}

/* ---- results -------------------------------------------------------------- */

void tb_free_result(tb_result *r) {
  if (!r) return;
  free(r->data);
  r->data = NULL;
  r->len = 0;
}

int tb_result_set(tb_result *out, const char *s, size_t n) {
  out->data = NULL;
  out->len = 0;
  char *d = malloc(n + 1);
  if (!d) return -1;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  out->data = d;
  out->len = n;
  return 0;
}

int tb_refuse(tb_result *out, const char *fmt, ...) {
  out->data = NULL;
  out->len = 0;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return 1;
  char *m = malloc((size_t)n + 1);
  if (!m) return 1;
  va_start(ap, fmt);
  vsnprintf(m, (size_t)n + 1, fmt, ap);
  va_end(ap);
  out->data = m;
  out->len = (size_t)n;
  return 1;
}

/* ---- buffer ----------------------------------------------------------------- */

static int tb_buf_reserve(tb_buf *b, size_t extra) {
  if (b->oom) return -1;
  if (b->cap - b->len >= extra) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return -1;
    }
    cap *= 2;
  }
  char *d = realloc(b->data, cap);
  if (!d) {
    b->oom = 1;
    return -1;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

void tb_buf_put(tb_buf *b, const char *s, size_t n) {
  if (n == 0 || tb_buf_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

void tb_buf_putc(tb_buf *b, char c) {
  if (tb_buf_reserve(b, 1)) return;
  b->data[b->len++] = c;
}

void tb_buf_puts(tb_buf *b, const char *s) { tb_buf_put(b, s, strlen(s)); }

void tb_buf_free(tb_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

int tb_buf_finish(tb_buf *b, tb_result *out, const char *who) {
  if (tb_buf_reserve(b, 1) == 0) {
    b->data[b->len] = '\0';
    out->data = b->data;
    out->len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return 0;
  }
  tb_buf_free(b);
  return tb_refuse(out, "%s: out of memory", who);
}

/* ---- numbers ---------------------------------------------------------------- */

size_t tb_format_number(double x, char buf[TB_NUMBER_BUFSIZE]) {
  if (!isfinite(x)) {
    memcpy(buf, "null", 5);
    return 4;
  }
  if (x == floor(x) && fabs(x) < 9007199254740992.0 /* 2^53 */) {
    /* -0.0 becomes 0 here. %lld does not depend on the locale. */
    return (size_t)snprintf(buf, TB_NUMBER_BUFSIZE, "%lld", (long long)x);
  }
  locale_t old = tb_enter_c_locale();
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, TB_NUMBER_BUFSIZE, "%.*g", prec, x);
    if (prec == 17 || strtod(buf, NULL) == x) break;
  }
  tb_leave_c_locale(old);
  return (size_t)n;
}

int tb_number_value(const char *p, size_t n, double *out) {
  /* Fast path: an integer of at most 15 digits is exact in a double. */
  size_t i = 0;
  int neg = 0;
  if (i < n && p[i] == '-') {
    neg = 1;
    i++;
  }
  size_t d0 = i;
  uint64_t v = 0;
  while (i < n && i - d0 < 16 && p[i] >= '0' && p[i] <= '9') {
    v = v * 10 + (uint64_t)(p[i] - '0');
    i++;
  }
  if (i == n && i > d0 && i - d0 <= 15) {
    double d = (double)v;
    *out = neg ? -d : d;
    return 0;
  }
  /* General case: strtod on a NUL-terminated copy, under the C locale. */
  char stack[64];
  char *b = n < sizeof stack ? stack : malloc(n + 1);
  if (!b) return -1;
  memcpy(b, p, n);
  b[n] = '\0';
  locale_t old = tb_enter_c_locale();
  *out = strtod(b, NULL);
  tb_leave_c_locale(old);
  if (b != stack) free(b);
  return 0;
}

/* ---- scanner ---------------------------------------------------------------- */

void tb_scan_init(tb_scan *s, const char *data, size_t len) {
  s->start = s->p = data;
  s->end = data ? data + len : data;
  s->err[0] = '\0';
}

int tb_scan_fail(tb_scan *s, const char *what) {
  snprintf(s->err, sizeof s->err, "%s at offset %zu", what,
           (size_t)(s->p - s->start));
  return -1;
}

int tb_scan_unexpected(tb_scan *s, const char *expected) {
  char m[128];
  if (s->p >= s->end) {
    snprintf(m, sizeof m, "unexpected end of input, expected %s", expected);
  } else {
    unsigned char c = (unsigned char)*s->p;
    if (c > 0x20 && c < 0x7f)
      snprintf(m, sizeof m, "unexpected '%c', expected %s", c, expected);
    else
      snprintf(m, sizeof m, "unexpected byte 0x%02x, expected %s", c, expected);
  }
  return tb_scan_fail(s, m);
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

void tb_scan_ws(tb_scan *s) {
  const char *p = s->p, *e = s->end;
  while (p < e && is_ws(*p)) p++;
  s->p = p;
}

int tb_scan_number(tb_scan *s) {
  const char *e = s->end;
  if (s->p < e && *s->p == '-') s->p++;
  if (s->p >= e || !is_digit(*s->p)) return tb_scan_unexpected(s, "a digit");
  if (*s->p == '0') {
    s->p++;
  } else {
    while (s->p < e && is_digit(*s->p)) s->p++;
  }
  if (s->p < e && *s->p == '.') {
    s->p++;
    if (s->p >= e || !is_digit(*s->p)) return tb_scan_unexpected(s, "a digit");
    while (s->p < e && is_digit(*s->p)) s->p++;
  }
  if (s->p < e && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < e && (*s->p == '+' || *s->p == '-')) s->p++;
    if (s->p >= e || !is_digit(*s->p)) return tb_scan_unexpected(s, "a digit");
    while (s->p < e && is_digit(*s->p)) s->p++;
  }
  return 0;
}

/* Length of the well-formed UTF-8 sequence (2-4 bytes) at p, 0 if invalid
   (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *p, const unsigned char *e) {
  size_t left = (size_t)(e - p);
  unsigned char c = p[0];
#define CONT(i) ((p[i] & 0xC0) == 0x80)
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && CONT(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !CONT(1) || !CONT(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && p[1] > 0x9F) return 0; /* surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !CONT(1) || !CONT(2) || !CONT(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && p[1] > 0x8F) return 0; /* > U+10FFFF */
    return 4;
  }
#undef CONT
  return 0;
}

static int hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return -1;
    v = v * 16 + d;
  }
  *out = v;
  return 0;
}

static void put_utf8(tb_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  tb_buf_put(b, u, n);
}

int tb_scan_string(tb_scan *s, tb_buf *dec, int *escaped) {
  const unsigned char *p = (const unsigned char *)s->p + 1;
  const unsigned char *e = (const unsigned char *)s->end;
  const unsigned char *run = p; /* start of bytes not yet copied to dec */
  int esc = 0;
#define FAIL_AT(q, msg) \
  do {                  \
    s->p = (const char *)(q); \
    return tb_scan_fail(s, msg); \
  } while (0)
  for (;;) {
    while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    if (p >= e) FAIL_AT(p, "unterminated string");
    unsigned char c = *p;
    if (c == '"') {
      if (dec) tb_buf_put(dec, (const char *)run, (size_t)(p - run));
      s->p = (const char *)p + 1;
      if (escaped) *escaped = esc;
      return 0;
    }
    if (c == '\\') {
      esc = 1;
      if (dec) tb_buf_put(dec, (const char *)run, (size_t)(p - run));
      if (e - p < 2) FAIL_AT(e, "unterminated string");
      char ch = 0;
      switch (p[1]) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
          unsigned cp, lo;
          if (e - p < 6 || hex4(p + 2, &cp)) FAIL_AT(p, "invalid \\u escape");
          if (cp >= 0xDC00 && cp <= 0xDFFF) FAIL_AT(p, "lone surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (e - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
              FAIL_AT(p, "lone surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
          if (dec) put_utf8(dec, cp);
          p += 6;
          run = p;
          continue;
        }
        default: FAIL_AT(p, "invalid escape in string");
      }
      if (dec) tb_buf_putc(dec, ch);
      p += 2;
      run = p;
      continue;
    }
    if (c < 0x20) FAIL_AT(p, "control character in string");
    size_t n = utf8_len(p, e);
    if (!n) FAIL_AT(p, "invalid UTF-8 in string");
    p += n;
  }
#undef FAIL_AT
}

static int scan_literal(tb_scan *s, const char *w, size_t n) {
  if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
    s->p += n;
    return 0;
  }
  return tb_scan_unexpected(s, "a value");
}

/* An object key and its ':' (s->p at the key): skips the key, the ':' and
   the whitespace around it. *key_end receives the end of the key's raw
   text (after its closing quote), *escaped whether it had a backslash. */
static inline int scan_key(tb_scan *s, const char **key_end, int *escaped) {
  if (s->p >= s->end || *s->p != '"') return tb_scan_unexpected(s, "a string key");
  if (tb_scan_string(s, NULL, escaped)) return -1;
  *key_end = s->p;
  tb_scan_ws(s);
  if (s->p >= s->end || *s->p != ':') return tb_scan_unexpected(s, "':'");
  s->p++;
  tb_scan_ws(s);
  return 0;
}

int tb_scan_value(tb_scan *s, int depth) {
  if (s->p >= s->end) return tb_scan_unexpected(s, "a value");
  char c = *s->p;
  if (c == '"') return tb_scan_string(s, NULL, NULL);
  if (c == '-' || is_digit(c)) return tb_scan_number(s);
  if (c == 't') return scan_literal(s, "true", 4);
  if (c == 'f') return scan_literal(s, "false", 5);
  if (c == 'n') return scan_literal(s, "null", 4);
  if (c != '[' && c != '{') return tb_scan_unexpected(s, "a value");
  if (depth >= TB_MAX_DEPTH) return tb_scan_fail(s, "nesting too deep");
  const char close = c == '[' ? ']' : '}';
  if (tb_scan_open(s, close)) return 0;
  int more;
  do {
    const char *key_end;
    if (close == '}' && scan_key(s, &key_end, NULL)) return -1;
    if (tb_scan_value(s, depth + 1)) return -1;
  } while ((more = tb_scan_next(s, close)) == 1);
  return more;
}

int tb_scan_document(tb_scan *s, const char **vb, const char **ve) {
  tb_scan_ws(s);
  *vb = s->p;
  if (tb_scan_value(s, 0)) return -1;
  *ve = s->p;
  tb_scan_ws(s);
  if (s->p != s->end) return tb_scan_unexpected(s, "end of input");
  return 0;
}

int tb_document(tb_slice in, tb_slice *value, const char *who, const char *what,
                tb_result *out) {
  tb_scan s;
  const char *b, *e;
  tb_scan_init(&s, in.data, in.len);
  if (tb_scan_document(&s, &b, &e))
    return tb_refuse(out, "%s: %s is not valid JSON: %s", who, what, s.err);
  value->data = b;
  value->len = (size_t)(e - b);
  return 0;
}

const char *tb_json_kind(char first) {
  switch (first) {
    case '{': return "object";
    case '[': return "array";
    case '"': return "string";
    case 't':
    case 'f': return "boolean";
    case 'n': return "null";
    default: return "number";
  }
}

/* ---- ops iterator ------------------------------------------------------------ */

/* Rewrites a syntax error of the scanner as "ops are not valid JSON: ...". */
static int ops_syntax_error(tb_ops_iter *it) {
  char tmp[sizeof it->s.err];
  memcpy(tmp, it->s.err, sizeof tmp);
  snprintf(it->s.err, sizeof it->s.err, "ops are not valid JSON: %.200s", tmp);
  it->state = -1;
  return -1;
}

int tb_ops_next(tb_ops_iter *it, tb_slice *payload) {
  tb_scan *s = &it->s;
  int more;
  if (it->state == 2) return 0;
  if (it->state < 0) return -1;
  if (it->state == 0) {
    tb_scan_ws(s);
    if (s->p >= s->end || *s->p != '[') {
      tb_scan_unexpected(s, "'[' (ops must be an array)");
      return ops_syntax_error(it);
    }
    if (tb_scan_open(s, ']')) goto done;
    it->state = 1;
  } else if ((more = tb_scan_next(s, ']')) != 1) {
    if (more < 0) return ops_syntax_error(it);
    goto done;
  }

  /* One op: an object whose "payload" member we want. */
  if (s->p >= s->end || *s->p != '{') {
    const char *at = s->p;
    if (tb_scan_value(s, 1)) return ops_syntax_error(it);
    snprintf(s->err, sizeof s->err, "ops[%zu] must be an object, got \"%s\"",
             it->count, tb_json_kind(*at));
    it->state = -1;
    return -1;
  }
  int found = 0;
  if (!tb_scan_open(s, '}')) {
    do {
      const char *kb = s->p, *ke = kb;
      int escaped = 0;
      if (scan_key(s, &ke, &escaped)) return ops_syntax_error(it);
      int is_payload;
      if (!escaped) {
        is_payload = ke - kb == 9 && memcmp(kb, "\"payload\"", 9) == 0;
      } else { /* rare: an escaped key, compare its decoded text */
        tb_scan k;
        tb_buf d = {0};
        tb_scan_init(&k, kb, (size_t)(ke - kb));
        is_payload = tb_scan_string(&k, &d, NULL) == 0 && !d.oom && d.len == 7 &&
                     memcmp(d.data, "payload", 7) == 0;
        tb_buf_free(&d);
      }
      const char *vb = s->p;
      /* depth 0: a payload may nest as deeply as a payload given alone to
         validate. */
      if (tb_scan_value(s, 0)) return ops_syntax_error(it);
      if (is_payload) {
        payload->data = vb;
        payload->len = (size_t)(s->p - vb);
        found = 1;
      }
    } while ((more = tb_scan_next(s, '}')) == 1);
    if (more < 0) return ops_syntax_error(it);
  }
  if (!found) {
    snprintf(s->err, sizeof s->err, "ops[%zu] has no \"payload\"", it->count);
    it->state = -1;
    return -1;
  }
  it->index = it->count++;
  return 1;

done:
  tb_scan_ws(s);
  if (s->p != s->end) {
    tb_scan_unexpected(s, "end of input");
    return ops_syntax_error(it);
  }
  it->state = 2;
  return 0;
}

void tb_ops_begin(tb_ops_iter *it, tb_slice ops) {
  tb_scan_init(&it->s, ops.data, ops.len);
  it->index = 0;
  it->count = 0;
  it->state = 0;
}

/* ---- minify ------------------------------------------------------------------ */

void tb_minify(tb_buf *b, const char *src, size_t n) {
  size_t i = 0, run = 0;
  while (i < n) {
    char c = src[i];
    if (c == '"') { /* copy a string through, escapes included */
      i++;
      while (i < n && src[i] != '"') i += src[i] == '\\' ? 2 : 1;
      i++;
    } else if (is_ws(c)) {
      tb_buf_put(b, src + run, i - run);
      while (i < n && is_ws(src[i])) i++;
      run = i;
    } else {
      i++;
    }
  }
  if (run < n) tb_buf_put(b, src + run, n - run);
}
