// libffi for Swift. Swift 6 refuses to touch libffi's global ffi_type
// variables directly (shared mutable state), so these accessors return their
// addresses; libffi never mutates the predefined types.
#include <ffi.h>

static inline ffi_type *tb_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *tb_ffi_type_sint64(void) { return &ffi_type_sint64; }
