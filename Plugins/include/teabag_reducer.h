/* teabag_reducer.h — the C ABI between TeaBag and its reducer plugins.
 *
 * A reducer plugin is a shared library exporting one function,
 * teabag_reducers(), that returns the reducers it provides. TeaBag (the
 * store, the agent and the client library) loads every *.so of its plugin
 * directories with dlopen(RTLD_NOW | RTLD_LOCAL), never dlcloses one, and
 * folds oplogs through them. See docs/plugins.md for a walk-through.
 *
 * Build a plugin with one line:
 *   cc -shared -fPIC -O2 -I Plugins/include my_reducer.c -o Plugins/my_reducer.so
 */
#ifndef TEABAG_REDUCER_H
#define TEABAG_REDUCER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped only for a change that old hosts or old plugins cannot survive.
   Growth happens by appending fields to tb_reducer (see struct_size). */
#define TEABAG_ABI_VERSION 1

/* Borrowed input: UTF-8 JSON, not NUL-terminated. Valid for the duration of
   the call only; the plugin must copy anything it wants to keep. */
typedef struct { const char *data; size_t len; } tb_slice;

/* Output written by the plugin. The plugin allocates data (with any
   allocator it likes) and the host hands it back to that plugin's
   free_result when it is done, exactly once. A plugin may leave data NULL
   and len 0 (for an empty message). */
typedef struct { char *data; size_t len; } tb_result;

typedef struct tb_reducer {
  /* TEABAG_ABI_VERSION as the plugin was built. The host refuses another. */
  uint32_t abi_version;
  /* sizeof(tb_reducer) as the plugin was built. The host refuses a size
     smaller than its own and reads no field beyond it; fields are only ever
     appended, so a newer plugin works with an older host. */
  uint32_t struct_size;
  /* The op type it serves: 1-64 of [A-Za-z0-9_-], NUL-terminated, static. */
  const char *type;
  /* The plugin's own version, free text, NUL-terminated, static. */
  const char *version;
  /* state: JSON of the current value (null for a path never written).
     ops: a JSON array of one or more ops [{"date":..,"sha":..,"payload":..},
     ...] in oplog order.
     Returns 0 and sets *out to the state after all of them, as JSON.
     Returns nonzero and sets *out to a human-readable message when it
     refuses; the host then folds the ops one by one and skips (and reports)
     each one refused alone.
     Threading: reentrant. The host calls fold from several threads at
     once, never for the same path at once. Must not keep pointers into
     state or ops after returning. Must not be NULL. */
  int  (*fold)(tb_slice state, tb_slice ops, tb_result *out);
  /* May be NULL (every payload accepted). payload: JSON of one op's payload.
     Returns 0 when it is acceptable (out may be left empty), nonzero with a
     human-readable message in *out when it is refused. Stores refuse such
     an op with 400 StoreError:InvalidOp carrying that message.
     Threading: reentrant, called from any thread. */
  int  (*validate)(tb_slice payload, tb_result *out);
  /* Frees what fold or validate wrote into a tb_result (called once for
     each result whose data is non-NULL). Called from any thread. */
  void (*free_result)(tb_result *r);
} tb_reducer;

/* The one entry point: an array of *count reducers that lives as long as the
   library (static storage). Called once per load, from one thread. */
const tb_reducer *teabag_reducers(size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* TEABAG_REDUCER_H */
