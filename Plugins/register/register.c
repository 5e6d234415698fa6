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
  tb_slice value;
  return tb_document(payload, &value, "register", "payload", out);
}

static int register_fold(tb_slice state, tb_slice ops, tb_result *out) {
  tb_slice value;
  if (tb_document(state, &value, "register", "state", out)) return 1;

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

TB_REDUCER("register", "1.0.0", register_fold, register_validate)
