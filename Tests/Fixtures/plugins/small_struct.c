/* small_struct.c — provokes "struct_size smaller than the host's": struct_size is 8, otherwise a working reducer. */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "0")
FIXTURE_REDUCER_FIELDS(TEABAG_ABI_VERSION, 8, "small", "1.0.0", fold, NULL)
