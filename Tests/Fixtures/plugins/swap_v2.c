/* swap_v2.c — hot replacement, second version: type "swap", version 2.0.0, value always the string "v2" (replaces swap_v1). */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "\"v2\"")
FIXTURE_REDUCER("swap", "2.0.0", fold, NULL)
