/* ffi_funcs.c — plain exported C functions (no TeaBag ABI) for the reducers declared in conf.d and called through libffi. */
#include <stdint.h>

double tb_add(double a, double b) { return a + b; }

/* Wraps around on overflow instead of being undefined. */
int64_t tb_add_i64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

double tb_scale(double state, int64_t payload) { return state * (double)payload; }
