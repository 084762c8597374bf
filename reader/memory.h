/* Internal: an address space made of segments (memory.c). */
#ifndef PYHS_MEMORY_H
#define PYHS_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/containers.h"
#include "common/error.h"

struct pyhs_segment {
	uint64_t start;
	uint64_t end;        /* exclusive */
	const uint8_t *data; /* bytes for [start, end) */
};
DEFINE_VECTOR(pyhs_segment_vector, struct pyhs_segment)

/* Reads take no lock and write nothing to the memory: any number of
 * threads may read one memory (and one thread several memories) at once.
 * Each thread remembers the segment its last lookup found (reads come in
 * runs within one segment, the heap's arenas), checked before it is used. */
struct pyhs_memory {
	struct pyhs_segment_vector segments; /* sorted, non-overlapping */
};

void pyhs_memory_init(struct pyhs_memory *mem);
void pyhs_memory_deinit(struct pyhs_memory *mem);
/* Adds [start, start+len) backed by data, below any segment already added
 * (earlier additions win where they overlap). */
struct pyhs_error *pyhs_memory_add(struct pyhs_memory *mem, uint64_t start,
				   uint64_t len, const uint8_t *data);
bool pyhs_memory_read(const struct pyhs_memory *mem, uint64_t addr, void *buf,
		      size_t len);
const void *pyhs_memory_ptr(const struct pyhs_memory *mem, uint64_t addr,
			    size_t len);

#endif
