/*
 * Snapshot files, the index section (FORMAT.md, INDX): what an analysis of
 * the heap found (dominators, unexplained references, garbage, the objects
 * taken as roots for being held by C code), so that a reader answers
 * show, path and top without running it again. Private to formats/.
 */
#ifndef PYHS_SNAPSHOT_INDEX_H
#define PYHS_SNAPSHOT_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "heapmodel.h"

/* Where the encoders write: varints and bytes. */
struct index_sink {
	void (*varint)(void *ctx, uint64_t v);
	void (*bytes)(void *ctx, const void *src, size_t n);
	void *ctx;
};
/* Writes the section's raw bytes. */
void pyhs_snapshot_index_encode(const struct pyhs_heap *h, const struct pyhs_analysis *a,
				const struct index_sink *out);
/* The TOPR section's raw bytes (formats.h, PYHS_TOP_ROWS), holders named
 * from hs (made from h and a). */
void pyhs_snapshot_top_encode(const struct pyhs_heap *h, const struct pyhs_analysis *a,
			      const struct pyhs_holders *hs, const struct index_sink *out);
/* The rows in a TOPR section's raw bytes; PYHS_ERROR_INPUT, saying what is
 * wrong, if they are malformed. */
struct pyhs_error *pyhs_snapshot_top_decode(const uint8_t *raw, size_t n,
					    struct pyhs_snapshot_top **ret);
/* The largest raw size a heap of n objects gives the section. */
uint64_t pyhs_snapshot_index_max_size(uint64_t n);
/* The analysis of h the raw bytes hold. PYHS_ERROR_INPUT, saying what is
 * wrong (without the file's name), if they are malformed or do not fit h. */
struct pyhs_error *pyhs_snapshot_index_decode(const struct pyhs_heap *h, const uint8_t *raw,
					      size_t n, struct pyhs_analysis **ret);

#endif
