/* Internal: a table of distinct strings numbered in order of first use,
 * for the exports whose files name strings by index (heap snapshots,
 * speedscope frames). */
#ifndef PYHS_STRTAB_H
#define PYHS_STRTAB_H

#include <stdint.h>
#include <stdio.h>

#include "common/containers.h"
#include "common/error.h"

DEFINE_HASH_MAP(pyhs_strtab_map, const char *, uint32_t, pyhs_hash_str, PYHS_EQ_STR)
DEFINE_VECTOR(pyhs_strtab_vector, char *)

struct pyhs_strtab {
	struct pyhs_strtab_map index;
	struct pyhs_strtab_vector strings; /* owned copies */
};

void pyhs_strtab_init(struct pyhs_strtab *t);
void pyhs_strtab_deinit(struct pyhs_strtab *t);
/* The number of s, adding a copy of it if new. &pyhs_enomem on failure. */
struct pyhs_error *pyhs_strtab_add(struct pyhs_strtab *t, const char *s,
				   uint32_t *ret);
/* Writes the strings as a JSON array: ["a", "b", ...]. */
void pyhs_strtab_write_json(const struct pyhs_strtab *t, FILE *out);

#endif
