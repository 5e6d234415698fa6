/* register.c — the `register` reducer: last writer wins. The value is the
 * payload of the last op of the ops array (the host gives them in oplog
 * order); with no op it is the state. Any JSON payload is accepted.
 *
 * Value: that JSON exactly as written, minus the whitespace between tokens
 * (key order, number spelling and string escapes are kept). No tree is
 * built: the scanner of tb_plugin.h validates the input as it goes.
 */
#include "tb_plugin.h"

static int register_validate(tb_slice payload, tb_result *out) {
  tb_scan s;
  const char *b, *e;
  tb_scan_init(&s, payload.data, payload.len);
  if (tb_scan_document(&s, &b, &e))
    return tb_refuse(out, "register: payload is not valid JSON: %s", s.err);
  return 0;
}

static int register_fold(tb_slice state, tb_slice ops, tb_result *out) {
  tb_scan s;
  const char *b, *e;
  tb_scan_init(&s, state.data, state.len);
  if (tb_scan_document(&s, &b, &e))
    return tb_refuse(out, "register: state is not valid JSON: %s", s.err);
  tb_slice value = {b, (size_t)(e - b)};

  tb_ops_iter it;
  tb_slice payload;
  int r;
  tb_ops_begin(&it, ops);
  while ((r = tb_ops_next(&it, &payload)) == 1) value = payload;
  if (r < 0) return tb_refuse(out, "register: %s", it.s.err);

  tb_buf buf = {0};
  tb_minify(&buf, value.data, value.len);
  return tb_buf_finish(&buf, out, "register");
}

static const tb_reducer reducers[] = {{
    .abi_version = TEABAG_ABI_VERSION,
    .struct_size = sizeof(tb_reducer),
    .type = "register",
    .version = "1.0.0",
    .fold = register_fold,
    .validate = register_validate,
    .free_result = tb_free_result,
}};

TB_EXPORT const tb_reducer *teabag_reducers(size_t *count) {
  *count = sizeof reducers / sizeof reducers[0];
  return reducers;
}
