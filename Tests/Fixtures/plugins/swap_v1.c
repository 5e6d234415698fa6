/* swap_v1.c — hot replacement, first version: type "swap", version 1.0.0, value = state (null = 0) + number of ops folded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "teabag_reducer.h"

static void free_result(tb_result *r) { free(r->data); }

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  char num[32] = "0";
  size_t n = state.len < sizeof num - 1 ? state.len : sizeof num - 1;
  if (n && !(state.len >= 4 && memcmp(state.data, "null", 4) == 0)) {
    memcpy(num, state.data, n); /* a bounded, NUL-terminated copy */
    num[n] = '\0';
  }
  long long count = strtoll(num, NULL, 10);
  /* Count the ops: objects directly inside the outer array; strings skipped. */
  int depth = 0;
  for (const char *p = ops.data, *end = ops.data + ops.len; p < end; p++) {
    if (*p == '"') {
      for (p++; p < end && *p != '"'; p++)
        if (*p == '\\' && end - p >= 2) p++;
    } else if (*p == '[' || *p == '{') {
      if (++depth == 2 && *p == '{') count++;
    } else if (*p == ']' || *p == '}') {
      depth--;
    }
  }
  out->data = malloc(32);
  if (!out->data) return 1;
  out->len = (size_t)snprintf(out->data, 32, "%lld", count);
  return 0;
}

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "swap",
    .version = "1.0.0",
    .fold = fold,
    .validate = NULL,
    .free_result = free_result,
}};

const tb_reducer *teabag_reducers(size_t *count) {
  *count = 1;
  return reducers;
}
