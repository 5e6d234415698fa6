/* merge.c — the `merge` reducer: the value is a JSON value (a null state is
 * taken as {}), each payload an RFC 7386 JSON merge patch applied in order:
 * an object patch sets its members recursively and deletes those whose
 * value is null; any other patch (array, string, number, true/false, null)
 * replaces the whole value.
 *
 * Value: canonical JSON (tb_json.h: no whitespace, keys sorted).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"

/* RFC 7386 MergePatch(target, patch). Takes ownership of both (target may be
   NULL: absent) and returns the result, or NULL when out of memory. */
static cJSON *merge_patch(cJSON *target, cJSON *patch) {
  if (!cJSON_IsObject(patch)) {
    cJSON_Delete(target);
    return patch;
  }
  if (!cJSON_IsObject(target)) {
    cJSON_Delete(target);
    target = cJSON_CreateObject();
    if (!target) goto oom;
  }
  while (patch->child) {
    cJSON *m = cJSON_DetachItemViaPointer(patch, patch->child);
    cJSON *cur = cJSON_DetachItemFromObjectCaseSensitive(target, m->string);
    if (cJSON_IsNull(m)) {
      cJSON_Delete(cur);
      cJSON_Delete(m);
      continue;
    }
    char *key = strdup(m->string);
    if (!key) {
      cJSON_Delete(cur);
      cJSON_Delete(m);
      goto oom;
    }
    cJSON *v = merge_patch(cur, m);
    if (!v || !cJSON_AddItemToObject(target, key, v)) {
      cJSON_Delete(v);
      free(key);
      goto oom;
    }
    free(key);
  }
  cJSON_Delete(patch);
  return target;
oom:
  cJSON_Delete(target);
  cJSON_Delete(patch);
  return NULL;
}

static int merge_validate(tb_slice payload, tb_result *out) {
  return tb_json_validate(payload, NULL, "merge", out);
}

static int merge_fold(tb_slice state, tb_slice ops, tb_result *out) {
  cJSON *v = tb_json_state(state, "merge", out);
  if (!v) return 1;
  if (cJSON_IsNull(v)) {
    cJSON_Delete(v);
    v = cJSON_CreateObject();
    if (!v) return tb_refuse(out, "merge: out of memory");
  }

  tb_ops_iter it;
  cJSON *p;
  int r;
  tb_ops_begin(&it, ops);
  while ((r = tb_json_ops_next(&it, &p, "merge", out)) == 1) {
    v = merge_patch(v, p);
    if (!v) return tb_refuse(out, "merge: out of memory");
  }
  if (r < 0) {
    cJSON_Delete(v);
    return 1;
  }

  tb_buf buf = {0};
  tb_json_canon(&buf, v);
  cJSON_Delete(v);
  return tb_buf_finish(&buf, out, "merge");
}

TB_REDUCER("merge", "1.0.0", merge_fold, merge_validate)
