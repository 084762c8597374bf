/*
 * CPython struct layouts read from DWARF (libdwarf).
 *
 * One pass over the top-level DIEs of every unit in .debug_info collects the
 * complete definitions of the struct, union and typedef names that
 * layout_fields.h mentions (a typedef whose struct is only declared in that
 * unit adds the struct's tag as a further name to look for). Then, for each
 * type-name list, the first name that has a definition is chosen, and of its
 * distinct definitions the one that has the most of the wanted members; the
 * facts are read from it through DW_AT_data_member_location and
 * DW_AT_byte_size, following nested and anonymous members.
 *
 * The file is untrusted: every loop and every recursion is bounded, and all
 * libdwarf objects are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <libdwarf.h>

#include "common/containers.h"
#include "reader.h"

/* Bounds for untrusted input. */
#define MAX_UNITS 1000000          /* compilation units */
#define MAX_TOP_DIES 50000000      /* top-level DIEs over the whole file */
#define MAX_CHILDREN 100000        /* members of one struct */
#define MAX_TYPE_CHAIN 16          /* typedef/const/volatile links */
#define MAX_ANON_DEPTH 8           /* nested anonymous members */
#define MAX_PATH_PARTS 8           /* "a.b.c" components */
#define MAX_NAME_LEN 256           /* a type or member name */
#define MAX_CANDIDATES 64          /* distinct definitions tried per name */
#define MAX_PASSES 3               /* passes over .debug_info */
#define MAX_NAMES 1024             /* names looked for, with struct tags */
#define MAX_STEPS 5000000          /* DIEs looked at outside the pass */

/* A complete struct or union definition. Definitions repeated in every unit
 * that includes a header are told apart by tag, size and declaration line. */
struct candidate {
	Dwarf_Off off;
	Dwarf_Unsigned size;
	Dwarf_Unsigned line;
	Dwarf_Half tag;
};

DEFINE_VECTOR(candidate_vector, struct candidate)
DEFINE_VECTOR(index_vector, size_t)

struct wanted {
	char *name;
	struct candidate_vector defs;
	/* For typedef names: indices of the struct tags the typedef names in
	 * units that only declare the struct. */
	struct index_vector aliases;
};

DEFINE_VECTOR(wanted_vector, struct wanted)
DEFINE_HASH_MAP(wanted_map, const char *, size_t, pyhs_hash_str, PYHS_EQ_STR)

struct dwl {
	Dwarf_Debug dbg;
	const struct pyhs_dwarf_fact *facts; /* what to read */
	size_t nfacts;
	struct wanted_vector wanted;
	struct wanted_map map;
	size_t units;
	/* What is left of MAX_STEPS: bounds the work circular or
	 * pathological type graphs can cause. */
	size_t steps;
};

/* ---- errors ------------------------------------------------------------- */

static struct pyhs_error *dw_error(struct dwl *c, Dwarf_Error err,
				  const char *what)
{
	struct pyhs_error *e = pyhs_error_create(
		PYHS_ERROR_INPUT, "DWARF: %s: %s", what,
		err ? dwarf_errmsg(err) : "error");
	if (err)
		dwarf_dealloc_error(c->dbg, err);
	return e;
}

static struct pyhs_error *corrupt(const char *what)
{
	return pyhs_error_create(PYHS_ERROR_INPUT, "DWARF: %s", what);
}

static struct pyhs_error *step(struct dwl *c)
{
	if (c->steps == 0)
		return corrupt("type graph too large or circular");
	c->steps--;
	return NULL;
}

/* ---- wanted names ------------------------------------------------------- */

static void dwl_deinit(struct dwl *c)
{
	for (size_t i = 0; i < c->wanted.size; i++) {
		free(c->wanted.data[i].name);
		candidate_vector_deinit(&c->wanted.data[i].defs);
		index_vector_deinit(&c->wanted.data[i].aliases);
	}
	wanted_vector_deinit(&c->wanted);
	wanted_map_deinit(&c->map);
}

/* Index of name (len bytes) in c->wanted, added if new. */
static struct pyhs_error *want_name(struct dwl *c, const char *name,
				    size_t len, size_t *ret)
{
	if (len == 0 || len > MAX_NAME_LEN)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "bad type name in layout fields");
	char *copy = strndup(name, len);
	if (!copy)
		return &pyhs_enomem;
	size_t *found = wanted_map_search(&c->map, copy);
	if (found) {
		free(copy);
		*ret = *found;
		return NULL;
	}
	if (c->wanted.size >= MAX_NAMES) {
		free(copy);
		return corrupt("too many struct names");
	}
	struct wanted w = { .name = copy };
	candidate_vector_init(&w.defs);
	index_vector_init(&w.aliases);
	if (!wanted_vector_append(&c->wanted, w)) {
		free(copy);
		return &pyhs_enomem;
	}
	bool inserted;
	size_t *slot = wanted_map_insert(&c->map, copy, &inserted);
	if (!slot) {
		/* The vector owns copy now; dwl_deinit frees it. */
		return &pyhs_enomem;
	}
	*slot = c->wanted.size - 1;
	*ret = *slot;
	return NULL;
}

static struct pyhs_error *want_all_types(struct dwl *c)
{
	for (size_t i = 0; i < c->nfacts; i++) {
		const char *s = c->facts[i].type;
		while (s && *s) {
			const char *bar = strchr(s, '|');
			size_t len = bar ? (size_t)(bar - s) : strlen(s);
			size_t idx;
			struct pyhs_error *err = want_name(c, s, len, &idx);
			if (err)
				return err;
			s = bar ? bar + 1 : NULL;
		}
	}
	return NULL;
}

static bool add_candidate(struct wanted *w, struct candidate cand)
{
	for (size_t i = 0; i < w->defs.size; i++) {
		const struct candidate *d = &w->defs.data[i];
		if (d->tag == cand.tag && d->size == cand.size &&
		    d->line == cand.line)
			return true;
	}
	if (w->defs.size >= MAX_CANDIDATES)
		return true;
	return candidate_vector_append(&w->defs, cand) != NULL;
}

static bool add_alias(struct wanted *w, size_t idx)
{
	for (size_t i = 0; i < w->aliases.size; i++) {
		if (w->aliases.data[i] == idx)
			return true;
	}
	return index_vector_append(&w->aliases, idx) != NULL;
}

/* ---- DIE helpers -------------------------------------------------------- */

static bool is_aggregate(Dwarf_Half tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

static bool is_type_link(Dwarf_Half tag)
{
	return tag == DW_TAG_typedef || tag == DW_TAG_const_type ||
	       tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type ||
	       tag == DW_TAG_atomic_type;
}

/* Reads an unsigned constant attribute. *found is false if absent. */
static struct pyhs_error *attr_udata(struct dwl *c, Dwarf_Die die,
				     Dwarf_Half at, Dwarf_Unsigned *ret,
				     bool *found)
{
	Dwarf_Error derr = NULL;
	Dwarf_Attribute attr;
	int res = dwarf_attr(die, at, &attr, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		*found = false;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading an attribute");
	/* libdwarf 20210528's dwarf_formudata() refuses DW_FORM_implicit_const
	 * (DWARF 5 abbreviations that share one value, as GCC 16 writes
	 * DW_AT_byte_size); dwarf_formsdata() reads it. */
	Dwarf_Half form = 0;
	Dwarf_Unsigned v = 0;
	res = dwarf_whatform(attr, &form, &derr);
	if (res == DW_DLV_OK && form == DW_FORM_implicit_const) {
		Dwarf_Signed sv;
		res = dwarf_formsdata(attr, &sv, &derr);
		if (res == DW_DLV_OK && sv < 0) {
			dwarf_dealloc_attribute(attr);
			return corrupt("negative unsigned constant");
		}
		v = (Dwarf_Unsigned)sv;
	} else if (res == DW_DLV_OK) {
		res = dwarf_formudata(attr, &v, &derr);
	}
	dwarf_dealloc_attribute(attr);
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a constant attribute");
	*ret = v;
	*found = true;
	return NULL;
}

static struct pyhs_error *attr_flag(struct dwl *c, Dwarf_Die die,
				    Dwarf_Half at, bool *ret)
{
	Dwarf_Error derr = NULL;
	Dwarf_Attribute attr;
	int res = dwarf_attr(die, at, &attr, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		*ret = false;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading an attribute");
	Dwarf_Bool v;
	res = dwarf_formflag(attr, &v, &derr);
	dwarf_dealloc_attribute(attr);
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a flag attribute");
	*ret = v != 0;
	return NULL;
}

/* The global .debug_info offset DW_AT_type refers to. */
static struct pyhs_error *attr_type(struct dwl *c, Dwarf_Die die,
				    Dwarf_Off *ret, bool *found)
{
	Dwarf_Error derr = NULL;
	Dwarf_Attribute attr;
	int res = dwarf_attr(die, DW_AT_type, &attr, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		*found = false;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading DW_AT_type");
	Dwarf_Half form;
	res = dwarf_whatform(attr, &form, &derr);
	if (res != DW_DLV_OK) {
		dwarf_dealloc_attribute(attr);
		return dw_error(c, derr, "reading DW_AT_type");
	}
	/* Type units and supplementary (dwz) files are not followed. */
	if (form == DW_FORM_ref_sig8 || form == DW_FORM_GNU_ref_alt ||
	    form == DW_FORM_ref_sup4 || form == DW_FORM_ref_sup8) {
		dwarf_dealloc_attribute(attr);
		*found = false;
		return NULL;
	}
	Dwarf_Off off;
	res = dwarf_global_formref(attr, &off, &derr);
	dwarf_dealloc_attribute(attr);
	if (res == DW_DLV_NO_ENTRY) {
		*found = false;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a type reference");
	*ret = off;
	*found = true;
	return NULL;
}

/* A DIE's name, or NULL if it has none. Not to be freed. */
static struct pyhs_error *die_name(struct dwl *c, Dwarf_Die die,
				   const char **ret)
{
	Dwarf_Error derr = NULL;
	char *name;
	int res = dwarf_diename(die, &name, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		*ret = NULL;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a name");
	*ret = name;
	return NULL;
}

static struct pyhs_error *die_at(struct dwl *c, Dwarf_Off off, Dwarf_Die *ret)
{
	struct pyhs_error *err = step(c);
	if (err)
		return err;
	Dwarf_Error derr = NULL;
	int res = dwarf_offdie_b(c->dbg, off, true, ret, &derr);
	if (res == DW_DLV_NO_ENTRY)
		return corrupt("type reference to a missing DIE");
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "following a type reference");
	return NULL;
}

/* What a type DIE is, after typedefs and qualifiers. */
struct type_info {
	Dwarf_Off off;
	Dwarf_Half tag;      /* 0 if the chain ended in void */
	bool declaration;
	Dwarf_Unsigned size;
	bool has_size;
	Dwarf_Unsigned line;
};

/* Follows the chain that starts at the DIE at off. */
static struct pyhs_error *strip_type(struct dwl *c, Dwarf_Off off,
				     struct type_info *ret)
{
	struct pyhs_error *err;
	for (int i = 0; i < MAX_TYPE_CHAIN; i++) {
		Dwarf_Die die;
		err = die_at(c, off, &die);
		if (err)
			return err;
		Dwarf_Error derr = NULL;
		Dwarf_Half tag;
		if (dwarf_tag(die, &tag, &derr) != DW_DLV_OK) {
			dwarf_dealloc_die(die);
			return dw_error(c, derr, "reading a tag");
		}
		if (is_type_link(tag)) {
			bool found;
			err = attr_type(c, die, &off, &found);
			dwarf_dealloc_die(die);
			if (err)
				return err;
			if (!found) {
				*ret = (struct type_info){ .off = off };
				return NULL;
			}
			continue;
		}
		struct type_info ti = { .off = off, .tag = tag };
		bool found;
		err = attr_flag(c, die, DW_AT_declaration, &ti.declaration);
		if (!err)
			err = attr_udata(c, die, DW_AT_byte_size, &ti.size,
					 &ti.has_size);
		if (!err) {
			err = attr_udata(c, die, DW_AT_decl_line, &ti.line,
					 &found);
			if (!err && !found)
				ti.line = 0;
		}
		dwarf_dealloc_die(die);
		if (err)
			return err;
		*ret = ti;
		return NULL;
	}
	return corrupt("typedef chain too long or circular");
}

/* ---- the pass over .debug_info ------------------------------------------ */

static struct pyhs_error *note_definition(struct dwl *c, size_t idx,
					  const struct type_info *ti)
{
	struct candidate cand = {
		.off = ti->off, .size = ti->size, .line = ti->line,
		.tag = ti->tag,
	};
	if (!add_candidate(&c->wanted.data[idx], cand))
		return &pyhs_enomem;
	return NULL;
}

static struct pyhs_error *visit_die(struct dwl *c, Dwarf_Die die)
{
	Dwarf_Error derr = NULL;
	Dwarf_Half tag;
	if (dwarf_tag(die, &tag, &derr) != DW_DLV_OK)
		return dw_error(c, derr, "reading a tag");
	if (!is_aggregate(tag) && tag != DW_TAG_typedef)
		return NULL;
	const char *name = NULL;
	struct pyhs_error *err = die_name(c, die, &name);
	if (err || !name)
		return err;
	size_t *found = wanted_map_search(&c->map, name);
	if (!found)
		return NULL;
	size_t idx = *found;

	Dwarf_Off off;
	if (dwarf_dieoffset(die, &off, &derr) != DW_DLV_OK)
		return dw_error(c, derr, "reading a DIE offset");
	struct type_info ti;
	if (tag == DW_TAG_typedef) {
		bool has_type;
		err = attr_type(c, die, &off, &has_type);
		if (err || !has_type)
			return err;
	}
	err = strip_type(c, off, &ti);
	if (err)
		return err;
	if (!is_aggregate(ti.tag))
		return NULL;
	if (!ti.declaration && ti.has_size)
		return note_definition(c, idx, &ti);
	if (tag != DW_TAG_typedef)
		return NULL;
	/* A typedef of a struct this unit only declares: look for the
	 * struct's definition under its tag. */
	Dwarf_Die target;
	err = die_at(c, ti.off, &target);
	if (err)
		return err;
	const char *tagname = NULL;
	err = die_name(c, target, &tagname);
	size_t alias = 0;
	if (tagname && strlen(tagname) > MAX_NAME_LEN)
		tagname = NULL;
	if (!err && tagname)
		err = want_name(c, tagname, strlen(tagname), &alias);
	dwarf_dealloc_die(target);
	if (err || !tagname)
		return err;
	if (alias != idx && !add_alias(&c->wanted.data[idx], alias))
		return &pyhs_enomem;
	return NULL;
}

static struct pyhs_error *visit_unit(struct dwl *c, size_t *budget)
{
	Dwarf_Error derr = NULL;
	Dwarf_Die unit;
	int res = dwarf_siblingof_b(c->dbg, NULL, true, &unit, &derr);
	if (res == DW_DLV_NO_ENTRY)
		return NULL;
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a unit DIE");
	Dwarf_Die die;
	res = dwarf_child(unit, &die, &derr);
	dwarf_dealloc_die(unit);
	if (res == DW_DLV_NO_ENTRY)
		return NULL;
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading a unit's first DIE");
	for (;;) {
		if (*budget == 0) {
			dwarf_dealloc_die(die);
			return corrupt("too many DIEs");
		}
		(*budget)--;
		struct pyhs_error *err = visit_die(c, die);
		if (err) {
			dwarf_dealloc_die(die);
			return err;
		}
		Dwarf_Die next;
		res = dwarf_siblingof_b(c->dbg, die, true, &next, &derr);
		dwarf_dealloc_die(die);
		if (res == DW_DLV_NO_ENTRY)
			return NULL;
		if (res != DW_DLV_OK)
			return dw_error(c, derr, "reading a sibling DIE");
		die = next;
	}
}

/* One pass over every unit. On error the unit iterator is left in the middle
 * of the section, which only matters to a later pass, and there is none. */
static struct pyhs_error *scan(struct dwl *c)
{
	size_t budget = MAX_TOP_DIES;
	size_t units = 0;
	for (;;) {
		Dwarf_Error derr = NULL;
		Dwarf_Unsigned length, typeoff, next;
		Dwarf_Half version, addr_size, off_size, ext_size, unit_type;
		Dwarf_Off abbrev;
		Dwarf_Sig8 sig;
		int res = dwarf_next_cu_header_d(c->dbg, true, &length,
						 &version, &abbrev, &addr_size,
						 &off_size, &ext_size, &sig,
						 &typeoff, &next, &unit_type,
						 &derr);
		if (res == DW_DLV_NO_ENTRY)
			break;
		if (res != DW_DLV_OK)
			return dw_error(c, derr, "reading a unit header");
		if (++units > MAX_UNITS)
			return corrupt("too many compilation units");
		struct pyhs_error *err = visit_unit(c, &budget);
		if (err)
			return err;
	}
	c->units = units;
	return NULL;
}

/* ---- member paths ------------------------------------------------------- */

/* DW_OP_plus_uconst N, DW_OP_constu N or DW_OP_litN: the old block form. */
static struct pyhs_error *decode_location_expr(const uint8_t *p, size_t len,
					       int64_t *ret)
{
	if (len == 0)
		return corrupt("empty member location expression");
	uint8_t op = p[0];
	if (op >= DW_OP_lit0 && op <= DW_OP_lit31 && len == 1) {
		*ret = op - DW_OP_lit0;
		return NULL;
	}
	if (op != DW_OP_plus_uconst && op != DW_OP_constu)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "DWARF: member location expression with operation 0x%x",
					 op);
	uint64_t v = 0;
	size_t i = 1;
	for (unsigned shift = 0;; shift += 7) {
		if (i >= len || shift > 56)
			return corrupt("bad LEB128 in a member location");
		uint8_t b = p[i++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	if (i != len)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "DWARF: member location expression with several operations");
	if (v > INT32_MAX)
		return corrupt("implausible member offset");
	*ret = (int64_t)v;
	return NULL;
}

static struct pyhs_error *member_offset(struct dwl *c, Dwarf_Die die,
					int64_t *ret)
{
	Dwarf_Error derr = NULL;
	Dwarf_Attribute attr;
	int res = dwarf_attr(die, DW_AT_data_member_location, &attr, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		/* A DWARF 4+ bit-field, or a union member. */
		Dwarf_Unsigned bits;
		bool found;
		struct pyhs_error *err = attr_udata(c, die,
						    DW_AT_data_bit_offset,
						    &bits, &found);
		if (err)
			return err;
		if (found && bits / 8 > INT32_MAX)
			return corrupt("implausible member offset");
		*ret = found ? (int64_t)(bits / 8) : 0;
		return NULL;
	}
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading DW_AT_data_member_location");
	struct pyhs_error *err = NULL;
	Dwarf_Half form;
	res = dwarf_whatform(attr, &form, &derr);
	if (res != DW_DLV_OK) {
		err = dw_error(c, derr, "reading a member location form");
	} else if (form == DW_FORM_exprloc) {
		Dwarf_Unsigned len;
		Dwarf_Ptr ptr;
		res = dwarf_formexprloc(attr, &len, &ptr, &derr);
		if (res != DW_DLV_OK)
			err = dw_error(c, derr, "reading a member location");
		else
			err = decode_location_expr(ptr, len, ret);
	} else if (form == DW_FORM_block1 || form == DW_FORM_block2 ||
		   form == DW_FORM_block4 || form == DW_FORM_block) {
		Dwarf_Block *blk;
		res = dwarf_formblock(attr, &blk, &derr);
		if (res != DW_DLV_OK) {
			err = dw_error(c, derr, "reading a member location");
		} else {
			err = decode_location_expr(blk->bl_data, blk->bl_len,
						   ret);
			dwarf_dealloc(c->dbg, blk, DW_DLA_BLOCK);
		}
	} else if (form == DW_FORM_sdata || form == DW_FORM_implicit_const) {
		Dwarf_Signed v;
		res = dwarf_formsdata(attr, &v, &derr);
		if (res != DW_DLV_OK)
			err = dw_error(c, derr, "reading a member location");
		else if (v < 0 || v > INT32_MAX)
			err = corrupt("implausible member offset");
		else
			*ret = v;
	} else {
		Dwarf_Unsigned v;
		res = dwarf_formudata(attr, &v, &derr);
		if (res != DW_DLV_OK)
			err = dw_error(c, derr, "reading a member location");
		else if (v > INT32_MAX)
			err = corrupt("implausible member offset");
		else
			*ret = (int64_t)v;
	}
	dwarf_dealloc_attribute(attr);
	return err;
}

/* Looks for member name (len bytes) in the struct or union at agg_off,
 * descending into anonymous members. *found is false if there is none. */
static struct pyhs_error *find_member(struct dwl *c, Dwarf_Off agg_off,
				      const char *name, size_t len, int depth,
				      int64_t *offset_ret, Dwarf_Off *type_ret,
				      bool *has_type_ret, bool *found)
{
	*found = false;
	if (depth > MAX_ANON_DEPTH)
		return NULL;
	Dwarf_Die agg;
	struct pyhs_error *err = die_at(c, agg_off, &agg);
	if (err)
		return err;
	Dwarf_Error derr = NULL;
	Dwarf_Die die;
	int res = dwarf_child(agg, &die, &derr);
	dwarf_dealloc_die(agg);
	if (res == DW_DLV_NO_ENTRY)
		return NULL;
	if (res != DW_DLV_OK)
		return dw_error(c, derr, "reading struct members");
	for (int n = 0;; n++) {
		if (n >= MAX_CHILDREN) {
			err = corrupt("struct with too many members");
			break;
		}
		err = step(c);
		if (err)
			break;
		Dwarf_Half tag;
		if (dwarf_tag(die, &tag, &derr) != DW_DLV_OK) {
			err = dw_error(c, derr, "reading a tag");
			break;
		}
		if (tag == DW_TAG_member) {
			const char *mname = NULL;
			err = die_name(c, die, &mname);
			if (err)
				break;
			if (mname && strlen(mname) == len &&
			    memcmp(mname, name, len) == 0) {
				err = member_offset(c, die, offset_ret);
				if (!err)
					err = attr_type(c, die, type_ret,
							has_type_ret);
				if (!err)
					*found = true;
				break;
			}
			if (!mname) {
				/* Anonymous struct or union member. */
				Dwarf_Off toff;
				bool has_type;
				err = attr_type(c, die, &toff, &has_type);
				struct type_info ti = { 0 };
				if (!err && has_type)
					err = strip_type(c, toff, &ti);
				if (err)
					break;
				if (has_type && is_aggregate(ti.tag) &&
				    !ti.declaration) {
					int64_t inner;
					err = find_member(c, ti.off, name, len,
							  depth + 1, &inner,
							  type_ret,
							  has_type_ret, found);
					if (err)
						break;
					if (*found) {
						int64_t base;
						err = member_offset(c, die,
								    &base);
						if (!err)
							*offset_ret = base +
								      inner;
						break;
					}
				}
			}
		}
		Dwarf_Die next;
		res = dwarf_siblingof_b(c->dbg, die, true, &next, &derr);
		if (res == DW_DLV_NO_ENTRY)
			break;
		if (res != DW_DLV_OK) {
			err = dw_error(c, derr, "reading struct members");
			break;
		}
		dwarf_dealloc_die(die);
		die = next;
	}
	dwarf_dealloc_die(die);
	return err;
}

/* Resolves a dotted member path (len bytes) in the aggregate at agg_off. */
static struct pyhs_error *resolve_path(struct dwl *c, Dwarf_Off agg_off,
				       const char *path, size_t len,
				       int64_t *ret, bool *found)
{
	int64_t total = 0;
	const char *end = path + len;
	*found = false;
	for (int part = 0; path < end; part++) {
		if (part >= MAX_PATH_PARTS)
			return NULL;
		const char *dot = memchr(path, '.', (size_t)(end - path));
		size_t plen = dot ? (size_t)(dot - path) : (size_t)(end - path);
		int64_t off;
		Dwarf_Off type_off;
		bool has_type, ok;
		struct pyhs_error *err = find_member(c, agg_off, path, plen, 0,
						     &off, &type_off, &has_type,
						     &ok);
		if (err || !ok)
			return err;
		total += off;
		if (total > INT32_MAX)
			return corrupt("implausible member offset");
		if (!dot)
			break;
		/* More parts: the member must be a struct or union. */
		if (!has_type)
			return NULL;
		struct type_info ti;
		err = strip_type(c, type_off, &ti);
		if (err)
			return err;
		if (!is_aggregate(ti.tag) || ti.declaration)
			return NULL;
		agg_off = ti.off;
		path = dot + 1;
	}
	*ret = total;
	*found = true;
	return NULL;
}

/* Tries the '|'-separated alternatives of a member path in order. */
static struct pyhs_error *resolve_member(struct dwl *c, Dwarf_Off agg_off,
					 const char *member, int64_t *ret,
					 bool *found)
{
	*found = false;
	const char *s = member;
	while (s && *s) {
		const char *bar = strchr(s, '|');
		size_t len = bar ? (size_t)(bar - s) : strlen(s);
		struct pyhs_error *err = resolve_path(c, agg_off, s, len, ret,
						      found);
		if (err || *found)
			return err;
		s = bar ? bar + 1 : NULL;
	}
	return NULL;
}

/* ---- choosing definitions and filling the layout ------------------------ */

/* The definitions of a name, then those of the struct tags it is a typedef
 * of (one level: tags are not typedefs of further names). */
static struct pyhs_error *gather(struct dwl *c, size_t idx,
				 struct candidate_vector *ret)
{
	const struct wanted *w = &c->wanted.data[idx];
	/* (append_n returns NULL for n == 0 on an empty vector) */
	if (w->defs.size &&
	    !candidate_vector_append_n(ret, w->defs.data, w->defs.size))
		return &pyhs_enomem;
	for (size_t i = 0; i < w->aliases.size; i++) {
		const struct wanted *a = &c->wanted.data[w->aliases.data[i]];
		for (size_t j = 0; j < a->defs.size; j++) {
			if (ret->size >= MAX_CANDIDATES)
				return NULL;
			if (!candidate_vector_append(ret, a->defs.data[j]))
				return &pyhs_enomem;
		}
	}
	return NULL;
}

/* Counts the member facts of the type list that resolve in cand. */
static struct pyhs_error *score(struct dwl *c, const char *types,
				const struct candidate *cand, size_t *ret)
{
	size_t count = 0;
	for (size_t i = 0; i < c->nfacts; i++) {
		const char *member = c->facts[i].member;
		if (!member || strcmp(c->facts[i].type, types))
			continue;
		int64_t off;
		bool found;
		struct pyhs_error *err = resolve_member(c, cand->off, member,
							&off, &found);
		if (err)
			return err;
		count += found;
	}
	*ret = count;
	return NULL;
}

/* Picks the definition for a type list ("A|B"): the first name that has
 * one, and of its definitions the first with the most wanted members. */
static struct pyhs_error *choose(struct dwl *c, const char *types,
				 struct candidate *ret, bool *found)
{
	*found = false;
	size_t nmembers = 0;
	for (size_t i = 0; i < c->nfacts; i++) {
		if (c->facts[i].member && !strcmp(c->facts[i].type, types))
			nmembers++;
	}
	struct candidate_vector cands;
	candidate_vector_init(&cands);
	struct pyhs_error *err = NULL;
	const char *s = types;
	while (s && *s && !*found) {
		const char *name = s;
		const char *bar = strchr(s, '|');
		size_t len = bar ? (size_t)(bar - s) : strlen(s);
		s = bar ? bar + 1 : NULL;
		char buf[MAX_NAME_LEN + 1];
		if (len > MAX_NAME_LEN)
			continue;
		memcpy(buf, name, len);
		buf[len] = '\0';
		size_t *idx = wanted_map_search(&c->map, buf);
		if (!idx)
			continue;
		candidate_vector_clear(&cands);
		err = gather(c, *idx, &cands);
		if (err)
			break;
		size_t best = 0, best_score = 0;
		for (size_t i = 0; i < cands.size; i++) {
			size_t sc = 0;
			if (nmembers) {
				err = score(c, types, &cands.data[i], &sc);
				if (err)
					break;
			}
			if (!*found || sc > best_score) {
				best = i;
				best_score = sc;
				*found = true;
			}
			if (sc == nmembers)
				break;
		}
		if (err)
			break;
		if (*found)
			*ret = cands.data[best];
	}
	candidate_vector_deinit(&cands);
	return err;
}

static struct pyhs_error *fill(struct dwl *c, int32_t *values, size_t *nfound)
{
	size_t n = c->nfacts;
	*nfound = 0;
	for (size_t i = 0; i < n; i++)
		values[i] = -1;
	for (size_t i = 0; i < n; i++) {
		const char *types = c->facts[i].type;
		/* Facts sharing a type list are filled together. */
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(c->facts[j].type, types);
		if (seen)
			continue;
		struct candidate cand = { 0 };
		bool found;
		struct pyhs_error *err = choose(c, types, &cand, &found);
		if (err)
			return err;
		if (!found)
			continue;
		for (size_t j = i; j < n; j++) {
			if (strcmp(c->facts[j].type, types))
				continue;
			const char *member = c->facts[j].member;
			if (!member) {
				if (cand.size > INT32_MAX)
					return corrupt("implausible struct size");
				values[j] = (int32_t)cand.size;
				(*nfound)++;
				continue;
			}
			int64_t off;
			bool ok;
			err = resolve_member(c, cand.off, member, &off, &ok);
			if (err)
				return err;
			if (ok) {
				values[j] = (int32_t)off;
				(*nfound)++;
			}
		}
	}
	return NULL;
}

/* ---- entry point -------------------------------------------------------- */

static struct pyhs_error *dwarf_facts(const char *path,
				      const struct pyhs_dwarf_fact *facts,
				      size_t nfacts, int32_t *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pyhs_error_os(errno, "%s", path);

	unsigned char magic[4];
	ssize_t r = pread(fd, magic, sizeof(magic), 0);
	if (r != (ssize_t)sizeof(magic) || memcmp(magic, "\177ELF", 4) != 0) {
		struct pyhs_error *err =
			r < 0 ? pyhs_error_os(errno, "%s", path)
			      : pyhs_error_create(PYHS_ERROR_INPUT,
						  "%s: not an ELF file", path);
		close(fd);
		return err;
	}

	struct dwl c = { .steps = MAX_STEPS, .facts = facts, .nfacts = nfacts };
	wanted_vector_init(&c.wanted);
	wanted_map_init(&c.map);
	struct pyhs_error *err = NULL;
	Dwarf_Error derr = NULL;
	int res = dwarf_init_b(fd, DW_DLC_READ, DW_GROUPNUMBER_ANY, NULL, NULL,
			       &c.dbg, &derr);
	if (res == DW_DLV_NO_ENTRY) {
		err = pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					"%s: no DWARF debugging information",
					path);
		goto out_fd;
	}
	if (res != DW_DLV_OK) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"%s: cannot read DWARF: %s", path,
					derr ? dwarf_errmsg(derr) : "error");
		if (derr)
			dwarf_dealloc_error(NULL, derr);
		goto out_fd;
	}

	err = want_all_types(&c);
	/* Another pass only if a pass found struct tags (through typedefs)
	 * whose definitions all came before the typedef. */
	for (int pass = 0; !err && pass < MAX_PASSES; pass++) {
		size_t before = c.wanted.size;
		err = scan(&c);
		bool again = false;
		for (size_t i = before; !err && i < c.wanted.size; i++)
			again |= c.wanted.data[i].defs.size == 0;
		if (!again)
			break;
	}
	int32_t *values = calloc(nfacts ? nfacts : 1, sizeof(*values));
	size_t nfound = 0;
	if (!err && !values)
		err = &pyhs_enomem;
	if (!err && c.units > 0)
		err = fill(&c, values, &nfound);
	if (err)
		err = pyhs_error_wrap(err, "%s", path);
	else if (c.units == 0)
		err = pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					"%s: no .debug_info", path);
	else if (nfound == 0)
		err = pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					"%s: no CPython types in the DWARF",
					path);
	if (!err)
		memcpy(ret, values, nfacts * sizeof(*values));
	free(values);

	dwl_deinit(&c);
	derr = NULL;
	dwarf_finish(c.dbg, &derr);
	if (derr)
		dwarf_dealloc_error(NULL, derr);
out_fd:
	close(fd);
	return err;
}

/* libdwarf promises nothing of threads: one file read at a time in the
 * process (two inputs may be opened at once, on two threads). */
static pthread_mutex_t dwarf_lock = PTHREAD_MUTEX_INITIALIZER;

struct pyhs_error *pyhs_dwarf_facts(const char *path,
				    const struct pyhs_dwarf_fact *facts,
				    size_t nfacts, int32_t *ret)
{
	pthread_mutex_lock(&dwarf_lock);
	struct pyhs_error *err = dwarf_facts(path, facts, nfacts, ret);
	pthread_mutex_unlock(&dwarf_lock);
	return err;
}

struct pyhs_error *pyhs_layout_from_dwarf(const char *path,
					  struct pyhs_layout *ret)
{
	size_t n = pyhs_layout_nfields();
	struct pyhs_dwarf_fact *facts = calloc(n, sizeof(*facts));
	int32_t *values = calloc(n, sizeof(*values));
	struct pyhs_error *err = NULL;
	if (!facts || !values) {
		err = &pyhs_enomem;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		facts[i].type = pyhs_layout_field_dwarf_type(i);
		facts[i].member = pyhs_layout_field_dwarf_member(i);
	}
	err = pyhs_dwarf_facts(path, facts, n, values);
	if (!err) {
		struct pyhs_layout layout;
		for (size_t i = 0; i < n; i++)
			pyhs_layout_set(&layout, i, values[i]);
		*ret = layout;
	}
out:
	free(facts);
	free(values);
	return err;
}
