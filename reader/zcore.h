/* Internal: zstd-compressed cores (zcore.c). */
#ifndef PYHS_ZCORE_H
#define PYHS_ZCORE_H

#include "target.h"

/* zcore.c: the zstd-compressed core at src, decompressed into a mapped,
 * unlinked temporary file that t unmaps at destroy. */
struct pyhs_error *pyhs_decompress_core(struct pyhs_target *t, const char *path,
					const uint8_t *src, size_t src_size,
					const uint8_t **ret, size_t *ret_size);

#endif
