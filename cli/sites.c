/* Allocation sites of objects, from tracemalloc's traces: shared by the
 * verbs that say where something was allocated (suspects, diff --by site). */
#include <inttypes.h>
#include <stdio.h>

#include "common/containers.h"
#include "pyheapsnap.h"

bool object_site(const struct pyhs_heap *h, const struct pyhs_allocations *al,
		 uint64_t i, const char **file, uint32_t *line)
{
	uint64_t k;
	if (!al || i >= pyhs_heap_nobjects(h) || !pyhs_allocations_find(al, pyhs_heap_addr(h, i), &k))
		return false;
	struct pyhs_trace tr;
	pyhs_allocations_trace(al, k, &tr);
	if (!pyhs_allocations_nframes(al, tr.traceback))
		return false;
	pyhs_allocations_frame(al, tr.traceback, 0, file, line);
	return true;
}

uint64_t site_key(const struct pyhs_heap *h, const struct pyhs_allocations *al, uint64_t i)
{
	const char *file;
	uint32_t line;
	if (!object_site(h, al, i, &file, &line))
		return pyhs_hash_str("untraced");
	return pyhs_hash_u64(pyhs_hash_str(file) ^ line);
}

void site_name(const struct pyhs_heap *h, const struct pyhs_allocations *al, uint64_t i,
	       char *buf, size_t n)
{
	const char *file;
	uint32_t line;
	if (object_site(h, al, i, &file, &line))
		snprintf(buf, n, "%s:%" PRIu32, file, line);
	else
		snprintf(buf, n, "untraced (allocated before tracemalloc started, or by no traced allocator)");
}
