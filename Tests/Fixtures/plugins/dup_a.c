/* dup_a.c — provokes "two libraries claim one type" with dup_b.c: type "dup", fold returns "a" (the file name sorting first wins). */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "\"a\"")
FIXTURE_REDUCER("dup", "1.0.0", fold, NULL)
