/* Auto-save of the live graph (msgflo --auto-save): after each change, once
 * no further change came for a short delay (debounced, as the original's
 * 500 ms), the graph is written back to its file atomically: a temporary file
 * beside it (exclusive create), fsync, rename over the graph, fsync of the
 * folder. A crash at any point leaves either the old file or the new one.
 *
 * The file keeps its format: a name ending in ".json" gets pretty FBP JSON
 * (2-space indent, as the original), any other name the .fbp language (simple
 * node metadata such as positions is kept as `a(Component:x=1,y=2)`; what the
 * language cannot express, such as nested objects, is lost).
 *
 *     struct autosave *a;
 *     autosave__new(loop, "graph.json", 500, snapshot_fn, ud, &a);
 *     autosave__changed(a);      // after every change; one write per burst
 *     autosave__close(a);        // writes a pending change now, then frees
 */
#ifndef MSGFLO_RUNTIME_AUTOSAVE_H
#define MSGFLO_RUNTIME_AUTOSAVE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

struct autosave;

/* Returns the graph to save as FBP JSON (a new reference, or NULL when out of
 * memory). */
typedef json_t *(*autosave_snapshot_fn)(void *ud);

/* Creates an auto-saver of `path` (copied) on `loop` (borrowed; must outlive
 * it). `delay_ms` is the quiet time before writing (0: 500). On success *out
 * is owned by the caller (release with autosave__close). Returns 0,
 * MSGFLO_EINVAL or MSGFLO_ENOMEM. */
int autosave__new(uv_loop_t *loop, const char *path, unsigned delay_ms,
                  autosave_snapshot_fn snapshot, void *ud, struct autosave **out);

/* Notes a change: the graph is written once `delay_ms` pass without another
 * change (but at the latest 10 delays after the first unsaved change, so a
 * steady stream of edits is still saved). */
void autosave__changed(struct autosave *a);

/* Writes a pending change at once. Returns 0 (also when nothing was
 * pending) or the error of the write (logged). */
int autosave__flush(struct autosave *a);

/* Flushes, then frees `a` once libuv has closed its timer. NULL: no-op. */
void autosave__close(struct autosave *a);

/* Writes `len` bytes of `data` to `path` atomically (see above). Returns 0 or
 * MSGFLO_ESYS with "<path>: <what>: <strerror>" in err (errlen bytes). */
int autosave__write_file(const char *path, const char *data, size_t len, char *err, size_t errlen);

/* The text `graph` is saved as at `path` (JSON or .fbp, see above): a new
 * string, free()d by the caller. Returns 0, MSGFLO_EINVAL (the graph cannot
 * be written in that format; reason in err) or MSGFLO_ENOMEM. */
int autosave__format(const char *path, const json_t *graph, char **out, char *err, size_t errlen);

#endif
