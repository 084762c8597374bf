/*
 * The checksum of snapshot files: XXH64 with seed 0, as zstd uses it
 * (FORMAT.md), from libxxhash.
 */
#include <xxhash.h>

#include "formats.h"

uint64_t pyhs_xxh64(const void *data, size_t len)
{
	return XXH64(len ? data : "", len, 0);
}
