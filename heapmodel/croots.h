/* Internal: the roots C code holds (croots.c), found for the walker. */
#ifndef PYHS_CROOTS_H
#define PYHS_CROOTS_H

#include "heap_internal.h"

struct walker;

/* The walker's way of adding a named root (holds_ref: the place owns a
 * reference to the object). */
typedef void pyhs_add_root_fn(struct walker *w, uint64_t addr, const char *label,
			      bool holds_ref);

/* Adds as roots, through add_root, the objects C code holds, scanned
 * conservatively. Each does nothing if *err is set and sets it on failure.
 *
 * pyhs_croots_statics, in the root phase (before objects are decoded): the
 * C statics of every mapped file, where a word that is the address of an
 * object that validates whole makes it an object (an untracked dict only
 * a PyModuleDef's m_copy holds, say).
 *
 * pyhs_croots, once the walk has found every object: the interpreter's,
 * the runtime's and each thread's state and each thread's C stack and
 * registers, where only objects found count (stale words point to dead
 * objects there). */
void pyhs_croots_statics(struct pyhs_heap *h, struct walker *w, pyhs_add_root_fn *add_root,
			 struct pyhs_error **err);
void pyhs_croots(struct pyhs_heap *h, struct walker *w, pyhs_add_root_fn *add_root,
		 struct pyhs_error **err);

#endif
