/* crash_fold.c — provokes a crashing plugin: type "crash", whose fold writes through a NULL pointer (SIGSEGV). */
#include <stdlib.h>
#include "teabag_reducer.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  (void)state;
  (void)ops;
  (void)out;
  volatile int *nowhere = NULL;
  *nowhere = 1; /* deliberate */
  return 0;
}

static void free_result(tb_result *r) { free(r->data); }

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "crash",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
