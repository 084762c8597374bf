/* Internal: the roots C code holds (croots.c), found for the walker. */
#ifndef PYHS_CROOTS_H
#define PYHS_CROOTS_H

#include "heap_internal.h"

struct walker;

/* The walker's way of adding a named root (holds_ref: the place owns a
 * reference to the object). */
typedef void pyhs_add_root_fn(struct walker *w, uint64_t addr, const char *label,
			      bool holds_ref);

/* Adds as roots, through add_root, the objects C code holds: the
 * interpreter's and the runtime's state, the C statics of every mapped
 * file and each thread's C stack and registers, scanned conservatively (a
 * word is a root only if it is the address of an object found, so it runs
 * once every object is). Does nothing if *err is set; sets it on failure. */
void pyhs_croots(struct pyhs_heap *h, struct walker *w, pyhs_add_root_fn *add_root,
		 struct pyhs_error **err);

#endif
