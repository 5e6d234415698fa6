/* load_counter.c — counts its loads: each dlopen runs the constructor, which appends one line to the file named by $TB_LOAD_COUNTER. Type "counted", fold returns VALUE (default "1"; compile with -DVALUE='"\"2\""' for another version). */
#include <stdio.h>
#include "fixture.h"

#ifndef VALUE
#define VALUE "1"
#endif

__attribute__((constructor)) static void count_load(void) {
  const char *path = getenv("TB_LOAD_COUNTER");
  if (!path) return;
  FILE *f = fopen(path, "a");
  if (f) { fputs("loaded\n", f); fclose(f); }
}

FIXTURE_FOLD_VALUE(fold, VALUE)
FIXTURE_REDUCER("counted", "1.0.0", fold, NULL)
