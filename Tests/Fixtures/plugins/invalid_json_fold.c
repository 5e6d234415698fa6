/* invalid_json_fold.c — provokes "fold returned invalid JSON": type "badjson", fold returns 0 with `{not json`. */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "{not json")
FIXTURE_REDUCER("badjson", "1.0.0", fold, NULL)
