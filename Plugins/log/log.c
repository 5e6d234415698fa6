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
#include <string.h>

#include "tb_json.h"

#define LOG_STATE "state must be null, an array, or {\"cap\": n, \"items\": [...]} with n a positive integer"

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
  return tb_json_validate(payload, NULL, "log", out);
}

static int log_fold(tb_slice state, tb_slice ops, tb_result *out) {
  long long cap;
  const cJSON *items;
  int rc;

  cJSON *st = tb_json_state(state, "log", out);
  if (!st) return 1;
  const char *bad = read_state(st, &cap, &items);
  if (bad) {
    if (cJSON_IsObject(st)) rc = tb_refuse(out, "log: " LOG_STATE ", got %s", bad);
    else rc = tb_refuse(out, "log: " LOG_STATE ", got \"%s\"", tb_json_type(st));
    cJSON_Delete(st);
    return rc;
  }
  tb_canon_list t = {0};
  rc = tb_canon_collect(&t, st, items, ops, NULL, "log", out);
  if (rc == 0) {
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
      tb_buf_puts(&buf, t.v[i].text);
    }
    tb_buf_putc(&buf, ']');
    if (cap) tb_buf_putc(&buf, '}');
    rc = tb_buf_finish(&buf, out, "log");
  }
  tb_canon_list_free(&t);
  return rc;
}

TB_REDUCER("log", "1.0.0", log_fold, log_validate)
