/* bad_abi.c — provokes "another abi_version": abi_version is 99, otherwise a working reducer. */
#include "fixture.h"

FIXTURE_FOLD_VALUE(fold, "0")
FIXTURE_REDUCER_FIELDS(99, sizeof(tb_reducer), "badabi", "1.0.0", fold, NULL)
