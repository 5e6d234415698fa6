/* null_fold.c — provokes "NULL fold": type "nullfold" whose fold is NULL (validate and free_result are set). */
#include "fixture.h"

static int validate(tb_slice payload, tb_result *out) {
  (void)payload;
  (void)out;
  return 0;
}

FIXTURE_REDUCER("nullfold", "1.0.0", NULL, validate)
