/* Internal: the roots C code holds (croots.c), found for the walker. */
#ifndef PYHS_CROOTS_H
#define PYHS_CROOTS_H

#include "heap_internal.h"

struct walker;

/* The walker's way of adding a named root (holds_ref: the place owns a
 * reference to the object). */
/* The roots C code holds, scanned for conservatively (see croots.c). Each
 * does nothing if *err is set and sets it on failure.
 *
 * pyhs_croots_find, in the root phase (before objects are decoded), finds
 * what only C memory may hold: a word of the C statics of every mapped
 * file (and, up to 3.13, of the interpreter's, the runtime's and the
 * threads' states) that is not the address of an object yet is a
 * candidate of the walker's (an untracked dict only a PyModuleDef's m_copy
 * holds, say), made an object only if it validates whole (see walk.c).
 *
 * pyhs_croots, once the walk is over (every reference found), adds roots
 * through add_root: the words of those states, of the C statics and of each
 * thread's C stack and registers that are objects' addresses, each owning
 * one reference, while their objects have references nothing explains. */
void pyhs_croots_find(struct pyhs_heap *h, struct walker *w, struct pyhs_error **err);
void pyhs_croots(struct pyhs_heap *h, struct walker *w, struct pyhs_error **err);

#endif
