/* small_struct.c — provokes "struct_size smaller than the host's": struct_size is 8, otherwise a working reducer. */
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
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = 8,
    .type = "small",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
