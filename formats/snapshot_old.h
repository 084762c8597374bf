/* Internal: what snapshot formats 1 to 3 kept as text (roots, closure
 * cells' labels, generators' places and futures' states), read back. */
#ifndef PYHS_SNAPSHOT_OLD_H
#define PYHS_SNAPSHOT_OLD_H

#include "heapmodel.h"

/* In a format 1 or 2 root's label: the root owns no reference. */
#define PYHS_ROOT_BORROWED UINT32_C(0x80000000)

/* Allocates an array of n elements of size bytes that lives as long as
 * the reader; NULL on out-of-memory. */
typedef void *pyhs_own_fn(void *ctx, size_t n, size_t size);

/* Sets p's roots, frames and threads from the root labels of a format 1
 * or 2 file (string ids of p's strings, | PYHS_ROOT_BORROWED) and its
 * threads' idents; p->nroots and p->nthreads are set. The names the labels
 * hold are added to p's strings. PYHS_ERROR_INPUT if a label is malformed. */
struct pyhs_error *pyhs_snapshot_old_roots(struct pyhs_heap_parts *p,
					   const uint32_t *labels,
					   const uint64_t *ident,
					   const uint64_t *native_id,
					   pyhs_own_fn *own, void *ctx);

/* Formats 1 to 3 label a closure cell's contents with the field text
 * ".cell_contents (NAME)": made PYHS_LABEL_CELL labels of NAME (added to
 * p's strings). */
struct pyhs_error *pyhs_snapshot_old_cells(struct pyhs_heap_parts *p, pyhs_own_fn *own,
					   void *ctx);

/* Formats 2 and 3 (and files without section ASYN) keep where generators
 * are and the states of C futures and tasks only in their value texts:
 * p->async read back from them (their names added to p's strings). */
struct pyhs_error *pyhs_snapshot_old_async(struct pyhs_heap_parts *p, pyhs_own_fn *own,
					   void *ctx);

#endif
