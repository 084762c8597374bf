/*
 * CPython layouts: the metadata of the facts in layout_fields.h and the
 * built-in tables used when a target has no DWARF.
 *
 * The 3.8 to 3.13 tables are the output of tests/unit/dump_layout run on the
 * DWARF of pyenv's libpython builds (x86-64, GIL); tests/unit/test_layout
 * checks them against that DWARF again. The 3.14 tables come from the 3.14.10
 * measurements in the project's fact sheet and from CPython's 3.14 headers;
 * the 3.15 table is dump_layout's output on Debian's 3.15.2 debug file.
 * Every table must give every fact a value (-1 where the version lacks it);
 * pyhs_layout_builtin refuses an incomplete table.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

struct field_info {
	const char *name;
	const char *type;
	const char *member;
	size_t offset;
};

static const struct field_info fields[] = {
#define X(field, type, member) \
	{ #field, type, member, offsetof(struct pyhs_layout, field) },
#include "layout_fields.h"
#undef X
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

size_t pyhs_layout_nfields(void)
{
	return NFIELDS;
}

const char *pyhs_layout_field_name(size_t i)
{
	return i < NFIELDS ? fields[i].name : NULL;
}

const char *pyhs_layout_field_dwarf_type(size_t i)
{
	return i < NFIELDS ? fields[i].type : NULL;
}

const char *pyhs_layout_field_dwarf_member(size_t i)
{
	return i < NFIELDS ? fields[i].member : NULL;
}

int32_t pyhs_layout_get(const struct pyhs_layout *layout, size_t i)
{
	if (i >= NFIELDS)
		return -1;
	const int32_t *p = (const int32_t *)((const char *)layout +
					     fields[i].offset);
	return *p;
}

void pyhs_layout_set(struct pyhs_layout *layout, size_t i, int32_t value)
{
	if (i >= NFIELDS)
		return;
	int32_t *p = (int32_t *)((char *)layout + fields[i].offset);
	*p = value;
}

/* ---- built-in tables ---------------------------------------------------- */

struct layout_entry {
	size_t offset; /* of the fact in struct pyhs_layout */
	int32_t value;
};

#define L(field, value) { offsetof(struct pyhs_layout, field), (value) }

#include "layout_tables.h"

#define TABLE(t) (t), (sizeof(t) / sizeof((t)[0]))

static const struct builtin_layout {
	unsigned minor;
	unsigned micro_min; /* first patch release the table applies to */
	bool pydebug;       /* for Py_DEBUG builds (else release builds) */
	const struct layout_entry *table;
	size_t ntable;
	const struct layout_entry *delta; /* applied over table, or NULL */
	size_t ndelta;
	const struct layout_entry *delta2; /* applied over that, or NULL */
	size_t ndelta2;
} builtins[] = {
	{ 8, 0, false, TABLE(layout_3_8), NULL, 0, NULL, 0 },
	{ 9, 0, false, TABLE(layout_3_9), NULL, 0, NULL, 0 },
	{ 10, 0, false, TABLE(layout_3_10), NULL, 0, NULL, 0 },
	{ 11, 0, false, TABLE(layout_3_11), NULL, 0, NULL, 0 },
	{ 12, 0, false, TABLE(layout_3_12), NULL, 0, NULL, 0 },
	{ 13, 0, false, TABLE(layout_3_13), NULL, 0, NULL, 0 },
	{ 14, 5, true, TABLE(layout_3_14_5), TABLE(layout_3_14_5_pydebug_delta), NULL, 0 },
	{ 14, 5, false, TABLE(layout_3_14_5), NULL, 0, NULL, 0 },
	{ 14, 0, false, TABLE(layout_3_14_5), TABLE(layout_3_14_0_delta), NULL, 0 },
	{ 15, 0, true, TABLE(layout_3_14_5), TABLE(layout_3_15_delta),
	  TABLE(layout_3_15_pydebug_delta) },
	{ 15, 0, false, TABLE(layout_3_14_5), TABLE(layout_3_15_delta), NULL, 0 },
};

#define UNSET INT32_MIN

static size_t field_index(size_t offset)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		if (fields[i].offset == offset)
			return i;
	}
	return NFIELDS;
}

static struct pyhs_error *apply(struct pyhs_layout *layout, unsigned minor,
				const struct layout_entry *entries, size_t n,
				bool override)
{
	for (size_t i = 0; i < n; i++) {
		size_t f = field_index(entries[i].offset);
		if (f == NFIELDS)
			return pyhs_error_create(PYHS_ERROR_INVALID,
						 "built-in layout for CPython 3.%u has a bad entry",
						 minor);
		bool set = pyhs_layout_get(layout, f) != UNSET;
		if (set != override)
			return pyhs_error_create(PYHS_ERROR_INVALID,
						 "built-in layout for CPython 3.%u %s %s",
						 minor,
						 override ? "overrides the unset fact"
							  : "sets twice the fact",
						 fields[f].name);
		if (entries[i].value < -1)
			return pyhs_error_create(PYHS_ERROR_INVALID,
						 "built-in layout for CPython 3.%u has a bad value for %s",
						 minor, fields[f].name);
		pyhs_layout_set(layout, f, entries[i].value);
	}
	return NULL;
}

static struct pyhs_error *builtin(uint32_t version_hex, bool pydebug,
				  struct pyhs_layout *ret);

struct pyhs_error *pyhs_layout_builtin(uint32_t version_hex,
				       struct pyhs_layout *ret)
{
	return builtin(version_hex, false, ret);
}

struct pyhs_error *pyhs_layout_builtin_pydebug(uint32_t version_hex,
					       struct pyhs_layout *ret)
{
	return builtin(version_hex, true, ret);
}

static struct pyhs_error *builtin(uint32_t version_hex, bool pydebug,
				  struct pyhs_layout *ret)
{
	unsigned major = version_hex >> 24;
	unsigned minor = (version_hex >> 16) & 0xff;
	unsigned micro = (version_hex >> 8) & 0xff;
	const struct builtin_layout *b = NULL;
	if (major == 3) {
		for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]);
		     i++) {
			/* A Py_DEBUG build without a table of its own is
			 * read with the release table. */
			if (builtins[i].minor == minor &&
			    micro >= builtins[i].micro_min &&
			    (!builtins[i].pydebug || pydebug)) {
				b = &builtins[i];
				break;
			}
		}
	}
	if (!b)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "CPython %u.%u is not supported (3.8 to 3.15 are)",
					 major, minor);

	struct pyhs_layout layout;
	for (size_t i = 0; i < NFIELDS; i++)
		pyhs_layout_set(&layout, i, UNSET);
	struct pyhs_error *err = apply(&layout, minor, b->table, b->ntable,
				       false);
	if (!err && b->delta)
		err = apply(&layout, minor, b->delta, b->ndelta, true);
	if (!err && b->delta2)
		err = apply(&layout, minor, b->delta2, b->ndelta2, true);
	if (err)
		return err;
	for (size_t i = 0; i < NFIELDS; i++) {
		if (pyhs_layout_get(&layout, i) == UNSET)
			return pyhs_error_create(PYHS_ERROR_INVALID,
						 "built-in layout for CPython 3.%u lacks the fact %s",
						 minor, fields[i].name);
	}
	*ret = layout;
	return NULL;
}
