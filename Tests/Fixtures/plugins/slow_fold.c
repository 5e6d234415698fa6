/* slow_fold.c — provokes a hanging plugin: type "slow", whose fold sleeps 10 s (signals do not cut it short) and then returns 0. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>
#include "fixture.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  (void)state;
  (void)ops;
  struct timespec left = {10, 0};
  while (nanosleep(&left, &left) == -1 && errno == EINTR) {
  }
  return fixture_reply(out, 0, "0");
}

FIXTURE_REDUCER("slow", "1.0.0", fold, NULL)
