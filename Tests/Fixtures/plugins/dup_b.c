/* dup_b.c — provokes "two libraries claim one type" with dup_a.c: type "dup", fold returns "b" (the file name sorting first wins). */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "\"b\"")
FIXTURE_REDUCER("dup", "1.0.0", fold, NULL)
