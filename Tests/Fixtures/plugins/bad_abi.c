/* bad_abi.c — provokes "another abi_version": abi_version is 99, otherwise a working reducer. */
#include <stdlib.h>
#include <string.h>
#include "teabag_reducer.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  (void)state;
  (void)ops;
  out->data = malloc(2);
  if (!out->data) return 1;
  memcpy(out->data, "0", 2);
  out->len = 1;
  return 0;
}

static void free_result(tb_result *r) { free(r->data); }

static const tb_reducer reducers[] = {{
    .abi_version = 99,
    .struct_size = sizeof(tb_reducer),
    .type = "badabi",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
