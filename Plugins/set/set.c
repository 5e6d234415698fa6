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
  char msg[256];
  int add;
  cJSON *p = tb_json_parse(payload.data, payload.len, TB_MAX_DEPTH, msg, sizeof msg);
  if (!p) return tb_refuse(out, "set: payload is not valid JSON: %s", msg);
  const cJSON *x = set_element(p, &add, msg, sizeof msg);
  cJSON_Delete(p);
  if (!x) return tb_refuse(out, "set: %s", msg);
  return 0;
}

typedef struct {
  char *text;   /* canonical JSON of the element */
  size_t order; /* position: state elements first, then ops in order */
  int add;
} entry;

typedef struct {
  entry *v;
  size_t n, cap;
} entries;

static int entries_push(entries *es, const cJSON *x, int add) {
  if (es->n == es->cap) {
    size_t cap = es->cap ? es->cap * 2 : 16;
    entry *v = realloc(es->v, cap * sizeof *v);
    if (!v) return -1;
    es->v = v;
    es->cap = cap;
  }
  char *text = tb_json_canon_str(x, NULL);
  if (!text) return -1;
  es->v[es->n] = (entry){text, es->n, add};
  es->n++;
  return 0;
}

static void entries_free(entries *es) {
  for (size_t i = 0; i < es->n; i++) free(es->v[i].text);
  free(es->v);
}

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->text, y->text);
  if (c) return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int set_fold(tb_slice state, tb_slice ops, tb_result *out) {
  char msg[256];
  entries es = {0};
  int rc = 1;

  cJSON *st = tb_json_parse(state.data, state.len, TB_MAX_DEPTH + 4, msg, sizeof msg);
  if (!st) return tb_refuse(out, "set: state is not valid JSON: %s", msg);
  if (!cJSON_IsNull(st) && !cJSON_IsArray(st)) {
    rc = tb_refuse(out, "set: state must be an array or null, got \"%s\"", tb_json_type(st));
    cJSON_Delete(st);
    return rc;
  }
  for (const cJSON *x = st->child; x; x = x->next) {
    if (entries_push(&es, x, 1)) {
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
    int add;
    cJSON *p = tb_json_parse(payload.data, payload.len, TB_MAX_DEPTH, msg, sizeof msg);
    if (!p) {
      rc = tb_refuse(out, "set: ops[%zu].payload is not valid JSON: %s", it.index, msg);
      goto done;
    }
    const cJSON *x = set_element(p, &add, msg, sizeof msg);
    if (!x) {
      cJSON_Delete(p);
      rc = tb_refuse(out, "set: ops[%zu].%s", it.index, msg);
      goto done;
    }
    int failed = entries_push(&es, x, add);
    cJSON_Delete(p);
    if (failed) goto oom;
  }
  if (r < 0) {
    rc = tb_refuse(out, "set: %s", it.s.err);
    goto done;
  }

  if (es.n > 1) qsort(es.v, es.n, sizeof *es.v, entry_cmp);
  tb_buf buf = {0};
  int first = 1;
  tb_buf_putc(&buf, '[');
  for (size_t i = 0; i < es.n; i++) {
    /* entries of one element are adjacent, by position: the last decides */
    if (i + 1 < es.n && strcmp(es.v[i].text, es.v[i + 1].text) == 0) continue;
    if (!es.v[i].add) continue;
    if (!first) tb_buf_putc(&buf, ',');
    first = 0;
    tb_buf_puts(&buf, es.v[i].text);
  }
  tb_buf_putc(&buf, ']');
  rc = tb_buf_finish(&buf, out, "set");
  goto done;

oom:
  rc = tb_refuse(out, "set: out of memory");
done:
  entries_free(&es);
  return rc;
}

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "set",
    .version = "1.0.0",
    .fold = set_fold,
    .validate = set_validate,
    .free_result = tb_free_result,
}};

TB_EXPORT const tb_reducer *teabag_reducers(size_t *count) {
  *count = sizeof reducers / sizeof reducers[0];
  return reducers;
}
