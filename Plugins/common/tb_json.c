/* tb_json.c — strict JSON → cJSON parsing and canonical JSON printing for
 * the tree-based reducers (see tb_json.h). */
#define _POSIX_C_SOURCE 200809L
#include "tb_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys ------------------------------------------------------------------ */

int tb_key_cmp(const char *a, const char *b) {
  const unsigned char *x = (const unsigned char *)(a ? a : "");
  const unsigned char *y = (const unsigned char *)(b ? b : "");
  while (*x && *x == *y) {
    x++;
    y++;
  }
  unsigned cx = *x, cy = *y;
  if (cx == cy) return 0;
  /* UTF-8 byte order is code point order. UTF-16 order differs in one
     place: U+E000..U+FFFF (lead bytes EE, EF) sort after U+10000.. (lead
     bytes F0..F4, surrogate pairs D800..DBFF in UTF-16). The first
     differing byte is a lead byte in both strings or a continuation byte in
     both (their prefixes are equal), and EE..F4 are never continuations. */
  if (cx >= 0xEE && cx <= 0xEF && cy >= 0xF0 && cy <= 0xF4) return 1;
  if (cy >= 0xEE && cy <= 0xEF && cx >= 0xF0 && cx <= 0xF4) return -1;
  return cx < cy ? -1 : 1;
}

typedef struct {
  cJSON *item;
  size_t idx;
} tb_member;

static int member_cmp(const void *a, const void *b) {
  const tb_member *x = a, *y = b;
  int c = tb_key_cmp(x->item->string, y->item->string);
  if (c) return c;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Whether the members are strictly increasing by key (sorted, no repeats). */
static int members_sorted(const cJSON *obj, size_t *count) {
  size_t n = 0;
  int sorted = 1;
  for (const cJSON *m = obj->child; m; m = m->next) {
    n++;
    if (m->next && tb_key_cmp(m->string, m->next->string) >= 0) sorted = 0;
  }
  *count = n;
  return sorted;
}

/* The members sorted by (key, position), malloc'd; NULL when out of memory. */
static tb_member *sorted_members(const cJSON *obj, size_t n) {
  tb_member *a = malloc(n * sizeof *a);
  if (!a) return NULL;
  size_t i = 0;
  for (cJSON *m = obj->child; m; m = m->next, i++) {
    a[i].item = m;
    a[i].idx = i;
  }
  qsort(a, n, sizeof *a, member_cmp);
  return a;
}

int tb_json_sort_object(cJSON *obj) {
  size_t n;
  if (!obj || !obj->child || members_sorted(obj, &n)) return 0;
  tb_member *a = sorted_members(obj, n);
  if (!a) return -1;
  cJSON *first = NULL, *last = NULL;
  for (size_t i = 0; i < n; i++) {
    cJSON *m = a[i].item;
    if (i + 1 < n && tb_key_cmp(m->string, a[i + 1].item->string) == 0) {
      m->next = m->prev = NULL; /* cJSON_Delete would follow next */
      cJSON_Delete(m);          /* a repeated key: the last one stays */
      continue;
    }
    m->prev = last;
    m->next = NULL;
    if (last) last->next = m;
    else first = m;
    last = m;
  }
  first->prev = last; /* cJSON keeps the last member in child->prev */
  obj->child = first;
  free(a);
  return 0;
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct {
  tb_scan s;
  tb_buf tmp; /* decoded text of the last string */
  int max_depth;
} tb_parser;

static void *parse_oom(tb_parser *ps) {
  tb_scan_fail(&ps->s, "out of memory");
  return NULL;
}

/* Decodes the string at s.p into ps->tmp; returns it NUL-terminated. */
static const char *parse_string_text(tb_parser *ps) {
  const char *at = ps->s.p;
  ps->tmp.len = 0;
  if (tb_scan_string(&ps->s, &ps->tmp, NULL)) return NULL;
  tb_buf_putc(&ps->tmp, '\0');
  if (ps->tmp.oom) return parse_oom(ps);
  if (strlen(ps->tmp.data) != ps->tmp.len - 1) {
    ps->s.p = at;
    tb_scan_fail(&ps->s, "strings containing \\u0000 are not supported");
    return NULL;
  }
  return ps->tmp.data;
}

static cJSON *parse_value(tb_parser *ps, int depth) {
  tb_scan *s = &ps->s;
  if (s->p >= s->end) {
    tb_scan_unexpected(s, "a value");
    return NULL;
  }
  char c = *s->p;
  cJSON *v;
  if (c == '"') {
    const char *str = parse_string_text(ps);
    if (!str) return NULL;
    v = cJSON_CreateString(str);
    return v ? v : parse_oom(ps);
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    const char *b = s->p;
    double d;
    if (tb_scan_number(s)) return NULL;
    if (tb_number_value(b, (size_t)(s->p - b), &d)) return parse_oom(ps);
    if (!isfinite(d)) {
      s->p = b;
      tb_scan_fail(s, "number out of range");
      return NULL;
    }
    v = cJSON_CreateNumber(d);
    return v ? v : parse_oom(ps);
  }
  if (c == 't' || c == 'f' || c == 'n') {
    if (tb_scan_value(s, 0)) return NULL;
    v = c == 't' ? cJSON_CreateTrue() : c == 'f' ? cJSON_CreateFalse() : cJSON_CreateNull();
    return v ? v : parse_oom(ps);
  }
  if (c != '[' && c != '{') {
    tb_scan_unexpected(s, "a value");
    return NULL;
  }
  if (depth >= ps->max_depth) {
    tb_scan_fail(s, "nesting too deep");
    return NULL;
  }
  const char close = c == '[' ? ']' : '}';
  v = c == '[' ? cJSON_CreateArray() : cJSON_CreateObject();
  if (!v) return parse_oom(ps);
  if (tb_scan_open(s, close)) return v;
  int more;
  do {
    char *key = NULL;
    if (close == '}') {
      if (s->p >= s->end || *s->p != '"') {
        tb_scan_unexpected(s, "a string key");
        goto fail;
      }
      const char *k = parse_string_text(ps);
      if (!k) goto fail;
      key = strdup(k);
      if (!key) {
        parse_oom(ps);
        goto fail;
      }
      tb_scan_ws(s);
      if (s->p >= s->end || *s->p != ':') {
        free(key);
        tb_scan_unexpected(s, "':'");
        goto fail;
      }
      s->p++;
      tb_scan_ws(s);
    }
    cJSON *child = parse_value(ps, depth + 1);
    if (!child) {
      free(key);
      goto fail;
    }
    cJSON_bool added = key ? cJSON_AddItemToObject(v, key, child) : cJSON_AddItemToArray(v, child);
    free(key);
    if (!added) {
      cJSON_Delete(child);
      parse_oom(ps);
      goto fail;
    }
  } while ((more = tb_scan_next(s, close)) == 1);
  if (more < 0) goto fail;
  if (close == '}' && tb_json_sort_object(v)) {
    parse_oom(ps);
    goto fail;
  }
  return v;
fail:
  cJSON_Delete(v);
  return NULL;
}

cJSON *tb_json_parse(const char *data, size_t len, int max_depth, char *err,
                     size_t errsz) {
  tb_parser ps;
  memset(&ps, 0, sizeof ps);
  tb_scan_init(&ps.s, data, len);
  ps.max_depth = max_depth;
  tb_scan_ws(&ps.s);
  cJSON *v = parse_value(&ps, 0);
  if (v) {
    tb_scan_ws(&ps.s);
    if (ps.s.p != ps.s.end) {
      tb_scan_unexpected(&ps.s, "end of input");
      cJSON_Delete(v);
      v = NULL;
    }
  }
  tb_buf_free(&ps.tmp);
  if (!v && err && errsz) snprintf(err, errsz, "%s", ps.s.err);
  return v;
}

/* ---- canonical printing ------------------------------------------------------ */

static void canon_string(tb_buf *b, const char *str) {
  const unsigned char *p = (const unsigned char *)(str ? str : "");
  const unsigned char *run = p;
  tb_buf_putc(b, '"');
  for (; *p; p++) {
    unsigned char c = *p;
    char u[8];
    const char *esc;
    if (c == '"') esc = "\\\"";
    else if (c == '\\') esc = "\\\\";
    else if (c >= 0x20) continue;
    else if (c == '\b') esc = "\\b";
    else if (c == '\f') esc = "\\f";
    else if (c == '\n') esc = "\\n";
    else if (c == '\r') esc = "\\r";
    else if (c == '\t') esc = "\\t";
    else {
      snprintf(u, sizeof u, "\\u%04x", c);
      esc = u;
    }
    tb_buf_put(b, (const char *)run, (size_t)(p - run));
    tb_buf_puts(b, esc);
    run = p + 1;
  }
  tb_buf_put(b, (const char *)run, (size_t)(p - run));
  tb_buf_putc(b, '"');
}

void tb_json_canon(tb_buf *b, const cJSON *v) {
  if (!v) {
    tb_buf_puts(b, "null");
    return;
  }
  switch (v->type & 0xFF) {
    case cJSON_False: tb_buf_puts(b, "false"); return;
    case cJSON_True: tb_buf_puts(b, "true"); return;
    case cJSON_Number: {
      char num[TB_NUMBER_BUFSIZE];
      size_t n = tb_format_number(v->valuedouble, num);
      tb_buf_put(b, num, n);
      return;
    }
    case cJSON_String: canon_string(b, v->valuestring); return;
    case cJSON_Raw: tb_buf_puts(b, v->valuestring ? v->valuestring : "null"); return;
    case cJSON_Array:
      tb_buf_putc(b, '[');
      for (const cJSON *c = v->child; c; c = c->next) {
        if (c != v->child) tb_buf_putc(b, ',');
        tb_json_canon(b, c);
      }
      tb_buf_putc(b, ']');
      return;
    case cJSON_Object: {
      size_t n;
      tb_buf_putc(b, '{');
      if (members_sorted(v, &n)) {
        for (const cJSON *c = v->child; c; c = c->next) {
          if (c != v->child) tb_buf_putc(b, ',');
          canon_string(b, c->string);
          tb_buf_putc(b, ':');
          tb_json_canon(b, c);
        }
      } else {
        tb_member *a = sorted_members(v, n);
        if (!a) {
          b->oom = 1;
          return;
        }
        int first = 1;
        for (size_t i = 0; i < n; i++) {
          if (i + 1 < n && tb_key_cmp(a[i].item->string, a[i + 1].item->string) == 0)
            continue; /* a repeated key: the last one counts */
          if (!first) tb_buf_putc(b, ',');
          first = 0;
          canon_string(b, a[i].item->string);
          tb_buf_putc(b, ':');
          tb_json_canon(b, a[i].item);
        }
        free(a);
      }
      tb_buf_putc(b, '}');
      return;
    }
    default: tb_buf_puts(b, "null"); return;
  }
}

char *tb_json_canon_str(const cJSON *v, size_t *len) {
  tb_buf b = {0};
  tb_json_canon(&b, v);
  tb_buf_putc(&b, '\0');
  if (b.oom) {
    tb_buf_free(&b);
    return NULL;
  }
  if (len) *len = b.len - 1;
  return b.data;
}

int tb_json_cmp(const cJSON *a, const cJSON *b, int *oom) {
  char *x = tb_json_canon_str(a, NULL), *y = tb_json_canon_str(b, NULL);
  int c = 0;
  if (x && y) c = strcmp(x, y);
  else if (oom) *oom = 1;
  free(x);
  free(y);
  return c;
}

int tb_json_equal(const cJSON *a, const cJSON *b) {
  int oom = 0;
  return tb_json_cmp(a, b, &oom) == 0 && !oom;
}

const char *tb_json_type(const cJSON *v) {
  switch (v ? v->type & 0xFF : cJSON_NULL) {
    case cJSON_False:
    case cJSON_True: return "boolean";
    case cJSON_Number: return "number";
    case cJSON_String: return "string";
    case cJSON_Array: return "array";
    case cJSON_Object: return "object";
    default: return "null";
  }
}

/* ---- a reducer's inputs ------------------------------------------------------ */

static cJSON *parse_input(tb_slice in, int max_depth, const char *who,
                          const char *what, tb_result *out) {
  char msg[256];
  cJSON *v = tb_json_parse(in.data, in.len, max_depth, msg, sizeof msg);
  if (!v) tb_refuse(out, "%s: %s is not valid JSON: %s", who, what, msg);
  return v;
}

cJSON *tb_json_state(tb_slice state, const char *who, tb_result *out) {
  return parse_input(state, TB_MAX_DEPTH + 4, who, "state", out);
}

int tb_json_validate(tb_slice payload, tb_json_pick pick, const char *who,
                     tb_result *out) {
  char msg[256];
  int add;
  cJSON *p = parse_input(payload, TB_MAX_DEPTH, who, "payload", out);
  if (!p) return 1;
  int picked = !pick || pick(p, &add, msg, sizeof msg);
  cJSON_Delete(p);
  return picked ? 0 : tb_refuse(out, "%s: %s", who, msg);
}

int tb_json_ops_next(tb_ops_iter *it, cJSON **p, const char *who, tb_result *out) {
  tb_slice payload;
  char msg[256];
  int r = tb_ops_next(it, &payload);
  if (r < 0) {
    tb_refuse(out, "%s: %s", who, it->s.err);
    return -1;
  }
  if (r == 0) return 0;
  *p = tb_json_parse(payload.data, payload.len, TB_MAX_DEPTH, msg, sizeof msg);
  if (!*p) {
    tb_refuse(out, "%s: ops[%zu].payload is not valid JSON: %s", who, it->index, msg);
    return -1;
  }
  return 1;
}

/* ---- lists of canonical texts -------------------------------------------------- */

static int canon_push(tb_canon_list *l, const cJSON *x, int add) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    tb_canon *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  char *text = tb_json_canon_str(x, NULL);
  if (!text) return -1;
  l->v[l->n] = (tb_canon){text, l->n, add};
  l->n++;
  return 0;
}

int tb_canon_collect(tb_canon_list *l, cJSON *st, const cJSON *items, tb_slice ops,
                     tb_json_pick pick, const char *who, tb_result *out) {
  int failed = 0;
  for (const cJSON *x = items ? items->child : NULL; x && !failed; x = x->next)
    failed = canon_push(l, x, 1);
  cJSON_Delete(st);
  if (failed) return tb_refuse(out, "%s: out of memory", who);

  tb_ops_iter it;
  cJSON *p;
  int r;
  tb_ops_begin(&it, ops);
  while ((r = tb_json_ops_next(&it, &p, who, out)) == 1) {
    char msg[256];
    int add = 1;
    const cJSON *x = pick ? pick(p, &add, msg, sizeof msg) : p;
    if (!x) {
      cJSON_Delete(p);
      return tb_refuse(out, "%s: ops[%zu].%s", who, it.index, msg);
    }
    failed = canon_push(l, x, add);
    cJSON_Delete(p);
    if (failed) return tb_refuse(out, "%s: out of memory", who);
  }
  return r < 0;
}

void tb_canon_list_free(tb_canon_list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].text);
  free(l->v);
}
