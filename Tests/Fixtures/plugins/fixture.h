/* fixture.h — what the test fixture plugins share, so that each fixture .c
 * is just what it provokes. Header-only: a fixture still builds with the one
 * line of docs/plugins.md (this file is found next to the source):
 *   cc -shared -fPIC -O2 -I Plugins/include Tests/Fixtures/plugins/X.c -o X.so
 */
#ifndef TB_FIXTURE_H
#define TB_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include "teabag_reducer.h"

/* Sets *out to a malloc'd, NUL-terminated copy of text and returns rc; out
   of memory leaves *out empty and returns 1 (a refusal). */
static inline int fixture_reply(tb_result *out, int rc, const char *text) {
  size_t n = strlen(text);
  out->data = malloc(n + 1);
  out->len = out->data ? n : 0;
  if (out->data) memcpy(out->data, text, n + 1);
  return out->data ? rc : 1;
}

static inline void fixture_free_result(tb_result *r) { free(r->data); }

/* A fold named name that ignores its input and returns the JSON text value. */
#define FIXTURE_FOLD_VALUE(name, value)                                        \
  static int name(tb_slice state, tb_slice ops, tb_result *out) {              \
    (void)state;                                                               \
    (void)ops;                                                                 \
    return fixture_reply(out, 0, value);                                       \
  }

/* The library's one reducer, every field given (free_result is
   fixture_free_result), and the exported entry point teabag_reducers(). */
#define FIXTURE_REDUCER_FIELDS(abi_, size_, type_, version_, fold_, validate_) \
  static const tb_reducer fixture_reducers[] = {{                              \
      .abi_version = abi_, .struct_size = size_, .type = type_,                \
      .version = version_, .fold = fold_, .validate = validate_,               \
      .free_result = fixture_free_result}};                                    \
  const tb_reducer *teabag_reducers(size_t *count) {                           \
    *count = 1;                                                                \
    return fixture_reducers;                                                   \
  }

/* The usual case: this ABI version and struct size. */
#define FIXTURE_REDUCER(type_, version_, fold_, validate_)                      \
  FIXTURE_REDUCER_FIELDS(TEABAG_ABI_VERSION, sizeof(tb_reducer), type_, version_, \
                         fold_, validate_)

#endif /* TB_FIXTURE_H */
