/*
 * The members of the interpreter and runtime states by offset: which
 * member a word of PyInterpreterState or _PyRuntimeState is in
 * ("codecs.search_path"), from the built-in tables of state_fields.h
 * (generated from the DWARF of each supported build, chosen by minor
 * version and the struct's size, so a build whose state differs is named
 * by none).
 */
#include <stddef.h>

#include "reader.h"

struct state_field {
	uint32_t off, size;
	const char *path;
};

struct state_table {
	enum pyhs_state which;
	unsigned minor;
	uint64_t size;
	const struct state_field *fields; /* by offset, closed by a NULL path */
};

#define STATE(which, minor, size) { which, minor, size, (const struct state_field[]){
#define F(off, size, path) { off, size, path },
#define END { 0, 0, NULL } } },
static const struct state_table tables[] = {
#include "state_fields.h"
};
#undef STATE
#undef F
#undef END

const char *pyhs_state_field(enum pyhs_state which, unsigned minor, uint64_t size,
			     uint64_t off)
{
	for (size_t k = 0; k < sizeof(tables) / sizeof(tables[0]); k++) {
		const struct state_table *t = &tables[k];
		if (t->which != which || t->minor != minor || t->size != size)
			continue;
		for (const struct state_field *f = t->fields; f->path && f->off <= off; f++)
			if (off < (uint64_t)f->off + f->size)
				return f->path;
		return NULL;
	}
	return NULL;
}
