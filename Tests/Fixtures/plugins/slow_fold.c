/* slow_fold.c — provokes a hanging plugin: type "slow", whose fold sleeps 10 s (signals do not cut it short) and then returns 0. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "teabag_reducer.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  (void)state;
  (void)ops;
  struct timespec left = {10, 0};
  while (nanosleep(&left, &left) == -1 && errno == EINTR) {
  }
  out->data = malloc(2);
  if (!out->data) return 1;
  memcpy(out->data, "0", 2);
  out->len = 1;
  return 0;
}

static void free_result(tb_result *r) { free(r->data); }

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "slow",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
