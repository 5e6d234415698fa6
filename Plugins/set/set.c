/* set.c — the `set` reducer: each payload is {"add": x} or {"remove": x}
 * (exactly one key, x any JSON); the value is the array of distinct
 * elements, two elements being the same when their canonical JSON texts
 * are (tb_json.h), sorted by that text bytewise. A null state is [].
 *
 * Fold does not insert op by op: an element's fate is decided by the last
 * op that names it (or, without one, by its presence in the state), so it
 * collects (text, position, add?) entries, sorts them by (text, position)
 * and keeps each text whose last entry adds it — O(n log n) for a replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"

#define SET_SHAPE "payload must be {\"add\": x} or {\"remove\": x}"

/* The element of a parsed payload and whether it is added; NULL with a
   message (starting with "payload must be") when the shape is wrong. */
static const cJSON *set_element(const cJSON *p, int *add, char *msg, size_t msz) {
  if (!cJSON_IsObject(p)) {
    snprintf(msg, msz, SET_SHAPE ", got \"%s\"", tb_json_type(p));
    return NULL;
  }
  size_t n = 0;
  for (const cJSON *m = p->child; m; m = m->next) n++;
  if (n != 1) {
    snprintf(msg, msz, SET_SHAPE ", got an object with %zu keys", n);
    return NULL;
  }
  const cJSON *m = p->child;
  if (strcmp(m->string, "add") == 0) {
    *add = 1;
  } else if (strcmp(m->string, "remove") == 0) {
    *add = 0;
  } else {
    snprintf(msg, msz, SET_SHAPE ", got key \"%.32s\"%s", m->string,
             strlen(m->string) > 32 ? "..." : "");
    return NULL;
  }
  return m;
}

static int set_validate(tb_slice payload, tb_result *out) {
  return tb_json_validate(payload, set_element, "set", out);
}

/* Entries of one element sort together, by position. */
static int entry_cmp(const void *a, const void *b) {
  const tb_canon *x = a, *y = b;
  int c = strcmp(x->text, y->text);
  if (c) return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int set_fold(tb_slice state, tb_slice ops, tb_result *out) {
  int rc;
  cJSON *st = tb_json_state(state, "set", out);
  if (!st) return 1;
  if (!cJSON_IsNull(st) && !cJSON_IsArray(st)) {
    rc = tb_refuse(out, "set: state must be an array or null, got \"%s\"", tb_json_type(st));
    cJSON_Delete(st);
    return rc;
  }
  tb_canon_list es = {0};
  rc = tb_canon_collect(&es, st, st, ops, set_element, "set", out);
  if (rc == 0) {
    if (es.n > 1) qsort(es.v, es.n, sizeof *es.v, entry_cmp);
    tb_buf buf = {0};
    int first = 1;
    tb_buf_putc(&buf, '[');
    for (size_t i = 0; i < es.n; i++) {
      /* the last entry of an element decides */
      if (i + 1 < es.n && strcmp(es.v[i].text, es.v[i + 1].text) == 0) continue;
      if (!es.v[i].add) continue;
      if (!first) tb_buf_putc(&buf, ',');
      first = 0;
      tb_buf_puts(&buf, es.v[i].text);
    }
    tb_buf_putc(&buf, ']');
    rc = tb_buf_finish(&buf, out, "set");
  }
  tb_canon_list_free(&es);
  return rc;
}

TB_REDUCER("set", "1.0.0", set_fold, set_validate)
