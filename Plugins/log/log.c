/* log.c — the `log` reducer: each payload (any JSON) is appended.
 *
 * State and value:
 *   null                          → the log starts empty, value [x, ...]
 *   [a, b, ...]                   → appended to, value [a, b, ..., x]
 *   {"cap": n}                    → a capped log (n a positive integer):
 *   {"cap": n, "items": [...]}      appended to items, only the last n
 *                                   kept, value {"cap":n,"items":[...]}
 * so a capped log keeps its cap across prunes, and a base value-op
 * {"cap": 100} turns a path into a capped log. Any other state is refused.
 *
 * Value: canonical JSON (tb_json.h), items in op order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"

#define LOG_STATE "state must be null, an array, or {\"cap\": n, \"items\": [...]} with n a positive integer"

typedef struct {
  char **v;
  size_t n, cap;
} texts;

static int texts_push(texts *t, const cJSON *x) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **v = realloc(t->v, cap * sizeof *v);
    if (!v) return -1;
    t->v = v;
    t->cap = cap;
  }
  char *s = tb_json_canon_str(x, NULL);
  if (!s) return -1;
  t->v[t->n++] = s;
  return 0;
}

static void texts_free(texts *t) {
  for (size_t i = 0; i < t->n; i++) free(t->v[i]);
  free(t->v);
}

/* Reads the state: *cap = 0 for an uncapped log; *items = its items (may
   be NULL). Returns NULL on success, else what is wrong. */
static const char *read_state(const cJSON *st, long long *cap, const cJSON **items) {
  *cap = 0;
  *items = NULL;
  if (cJSON_IsNull(st)) return NULL;
  if (cJSON_IsArray(st)) {
    *items = st;
    return NULL;
  }
  if (!cJSON_IsObject(st)) return "not an object";
  const cJSON *c = NULL, *it = NULL;
  for (const cJSON *m = st->child; m; m = m->next) {
    if (strcmp(m->string, "cap") == 0) c = m;
    else if (strcmp(m->string, "items") == 0) it = m;
    else return "an object with other keys than \"cap\" and \"items\"";
  }
  if (!c) return "an object without \"cap\"";
  double d = cJSON_IsNumber(c) ? c->valuedouble : 0;
  if (d != floor(d) || d < 1 || d > 9007199254740991.0 /* 2^53 - 1 */)
    return "an object whose \"cap\" is not a positive integer";
  if (it && !cJSON_IsArray(it)) return "an object whose \"items\" is not an array";
  *cap = (long long)d;
  *items = it;
  return NULL;
}

static int log_validate(tb_slice payload, tb_result *out) {
  char msg[256];
  cJSON *p = tb_json_parse(payload.data, payload.len, TB_MAX_DEPTH, msg, sizeof msg);
  if (!p) return tb_refuse(out, "log: payload is not valid JSON: %s", msg);
  cJSON_Delete(p);
  return 0;
}

static int log_fold(tb_slice state, tb_slice ops, tb_result *out) {
  char msg[256];
  texts t = {0};
  long long cap;
  const cJSON *items;
  int rc;

  cJSON *st = tb_json_parse(state.data, state.len, TB_MAX_DEPTH + 4, msg, sizeof msg);
  if (!st) return tb_refuse(out, "log: state is not valid JSON: %s", msg);
  const char *bad = read_state(st, &cap, &items);
  if (bad) {
    if (cJSON_IsObject(st)) rc = tb_refuse(out, "log: " LOG_STATE ", got %s", bad);
    else rc = tb_refuse(out, "log: " LOG_STATE ", got \"%s\"", tb_json_type(st));
    cJSON_Delete(st);
    return rc;
  }
  for (const cJSON *x = items ? items->child : NULL; x; x = x->next) {
    if (texts_push(&t, x)) {
      cJSON_Delete(st);
      goto oom;
    }
  }
  cJSON_Delete(st);

  tb_ops_iter it;
  tb_slice payload;
  int r;
  tb_ops_begin(&it, ops);
  while ((r = tb_ops_next(&it, &payload)) == 1) {
    cJSON *p = tb_json_parse(payload.data, payload.len, TB_MAX_DEPTH, msg, sizeof msg);
    if (!p) {
      rc = tb_refuse(out, "log: ops[%zu].payload is not valid JSON: %s", it.index, msg);
      goto done;
    }
    int failed = texts_push(&t, p);
    cJSON_Delete(p);
    if (failed) goto oom;
  }
  if (r < 0) {
    rc = tb_refuse(out, "log: %s", it.s.err);
    goto done;
  }

  size_t from = 0;
  tb_buf buf = {0};
  if (cap) {
    char num[TB_NUMBER_BUFSIZE];
    tb_format_number((double)cap, num);
    if ((unsigned long long)cap < t.n) from = t.n - (size_t)cap;
    tb_buf_puts(&buf, "{\"cap\":");
    tb_buf_puts(&buf, num);
    tb_buf_puts(&buf, ",\"items\":");
  }
  tb_buf_putc(&buf, '[');
  for (size_t i = from; i < t.n; i++) {
    if (i > from) tb_buf_putc(&buf, ',');
    tb_buf_puts(&buf, t.v[i]);
  }
  tb_buf_putc(&buf, ']');
  if (cap) tb_buf_putc(&buf, '}');
  rc = tb_buf_finish(&buf, out, "log");
  goto done;

oom:
  rc = tb_refuse(out, "log: out of memory");
done:
  texts_free(&t);
  return rc;
}

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "log",
    .version = "1.0.0",
    .fold = log_fold,
    .validate = log_validate,
    .free_result = tb_free_result,
}};

TB_EXPORT const tb_reducer *teabag_reducers(size_t *count) {
  *count = sizeof reducers / sizeof reducers[0];
  return reducers;
}
