/* bad_type.c — provokes "bad type name": type "bad type!" (space and '!' are not in [A-Za-z0-9_-]). */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "0")
FIXTURE_REDUCER("bad type!", "1.0.0", fold, NULL)
