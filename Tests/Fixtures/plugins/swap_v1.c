/* swap_v1.c — hot replacement, first version: type "swap", version 1.0.0, value = state (null = 0) + number of ops folded. */
#include <stdio.h>
#include "fixture.h"

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
  char value[32];
  snprintf(value, sizeof value, "%lld", count);
  return fixture_reply(out, 0, value);
}

FIXTURE_REDUCER("swap", "1.0.0", fold, NULL)
