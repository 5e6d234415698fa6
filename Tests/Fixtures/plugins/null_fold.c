/* null_fold.c — provokes "NULL fold": type "nullfold" whose fold is NULL (validate and free_result are set). */
#include <stdlib.h>
#include "teabag_reducer.h"

static int validate(tb_slice payload, tb_result *out) {
  (void)payload;
  (void)out;
  return 0;
}

static void free_result(tb_result *r) { free(r->data); }

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "nullfold",
    .version = "1.0.0",
    .fold = NULL,
    .validate = validate,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
