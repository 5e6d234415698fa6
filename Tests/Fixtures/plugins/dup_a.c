/* dup_a.c — provokes "two libraries claim one type" with dup_b.c: type "dup", fold returns "a" (the file name sorting first wins). */
#include <stdlib.h>
#include <string.h>
#include "teabag_reducer.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  static const char value[] = "\"a\"";
  (void)state;
  (void)ops;
  out->data = malloc(sizeof value);
  if (!out->data) return 1;
  memcpy(out->data, value, sizeof value);
  out->len = sizeof value - 1;
  return 0;
}

static void free_result(tb_result *r) { free(r->data); }

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "dup",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
