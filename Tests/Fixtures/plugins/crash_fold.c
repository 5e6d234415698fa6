/* crash_fold.c — provokes a crashing plugin: type "crash", whose fold writes through a NULL pointer (SIGSEGV). */
#include "fixture.h"

static int fold(tb_slice state, tb_slice ops, tb_result *out) {
  (void)state;
  (void)ops;
  (void)out;
  volatile int *nowhere = NULL;
  *nowhere = 1; /* deliberate */
  return 0;
}

FIXTURE_REDUCER("crash", "1.0.0", fold, NULL)
