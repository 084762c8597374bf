/* Type objects: validation, the decoder each type gets, and their names. */
#include <stdio.h>

#include "heap_internal.h"

#define TPFLAGS_HEAPTYPE (UINT64_C(1) << 9)
#define TPFLAGS_READY (UINT64_C(1) << 12)
#define TPFLAGS_TYPE_SUBCLASS (UINT64_C(1) << 31)
#define MAX_BASE_DEPTH 64

struct kind_symbol {
	const char *symbol;
	enum pyhs_kind kind;
	bool indirect; /* the symbol is a PyObject * variable */
};

static const struct kind_symbol kind_symbols[] = {
	{ "PyBaseObject_Type", K_OBJECT, false },
	{ "PyDict_Type", K_DICT, false },
	{ "PyFrozenDict_Type", K_DICT, false }, /* 3.15+: a dict, not a subclass */
	{ "PyList_Type", K_LIST, false },
	{ "PyTuple_Type", K_TUPLE, false },
	{ "PySet_Type", K_SET, false },
	{ "PyFrozenSet_Type", K_SET, false },
	{ "PyUnicode_Type", K_STR, false },
	{ "PyLong_Type", K_INT, false },
	{ "PyBool_Type", K_INT, false },
	{ "PyFloat_Type", K_FLOAT, false },
	{ "PyComplex_Type", K_COMPLEX, false },
	{ "PyBytes_Type", K_BYTES, false },
	{ "PyByteArray_Type", K_BYTEARRAY, false },
	{ "PyType_Type", K_TYPE, false },
	{ "PyModule_Type", K_MODULE, false },
	{ "PyFrame_Type", K_FRAME, false },
	{ "PyGen_Type", K_GEN, false },
	{ "PyCoro_Type", K_GEN, false },
	{ "PyAsyncGen_Type", K_GEN, false },
	{ "PyCode_Type", K_CODE, false },
	{ "PyFunction_Type", K_FUNCTION, false },
	{ "_PyWeakref_RefType", K_WEAKREF, false },
	{ "_PyWeakref_ProxyType", K_WEAKREF, false },
	{ "_PyWeakref_CallableProxyType", K_WEAKREF, false },
	{ "PyODict_Type", K_ODICT, false },
};

/* Static types of modules built into libpython, known by tp_name. */
struct kind_name {
	const char *tp_name;
	enum pyhs_kind kind;
};
static const struct kind_name kind_names[] = {
	{ "collections.deque", K_DEQUE },
	{ "functools._lru_cache_wrapper", K_LRU },
	{ "_asyncio.Future", K_FUTURE },
	{ "_asyncio.Task", K_TASK },
};

struct pyhs_error *pyhs_types_init(struct pyhs_heap *h)
{
	for (size_t i = 0; i < sizeof(kind_symbols) / sizeof(kind_symbols[0]); i++) {
		uint64_t addr;
		if (!pyhs_target_symbol(h->t, kind_symbols[i].symbol, &addr))
			continue;
		if (kind_symbols[i].indirect && !hrd(h, addr, &addr))
			continue;
		bool inserted;
		uint32_t *v = pyhs_addr_u32_map_insert(&h->kind_by_addr, addr,
							&inserted);
		if (!v)
			return &pyhs_enomem;
		*v = kind_symbols[i].kind;
	}
	if (!pyhs_target_symbol(h->t, "PyType_Type", &h->type_type))
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "symbol PyType_Type not found");
	pyhs_target_symbol(h->t, "PyUnicode_Type", &h->str_type);
	uint64_t dummy_var;
	if (pyhs_target_symbol(h->t, "_PySet_Dummy", &dummy_var))
		hrd(h, dummy_var, &h->set_dummy);
	return NULL;
}

bool pyhs_read_cstr(const struct pyhs_heap *h, uint64_t addr, char *buf,
		    size_t n)
{
	size_t i = 0;
	while (i + 1 < n) {
		char c;
		if (!pyhs_target_read(h->t, addr + i, &c, 1)) {
			buf[i] = '\0';
			return false;
		}
		buf[i++] = c;
		if (!c)
			return true;
	}
	buf[i] = '\0';
	return true;
}

/* Static types whose instances exist although PyType_Ready() never ran on
 * them (3.8 and 3.9 create lru_cache's list elements so). */
static const char *const never_readied[] = { "functools._lru_list_elem" };

static bool is_never_readied(const struct pyhs_heap *h, uint64_t addr,
			     uint64_t meta)
{
	uint64_t np;
	char name[64];
	if (h->minor > 9 || meta != h->type_type ||
	    !hrd_off(h, addr, h->L->type_tp_name, &np) ||
	    !pyhs_read_cstr(h, np, name, sizeof(name)))
		return false;
	for (size_t i = 0; i < sizeof(never_readied) / sizeof(never_readied[0]); i++)
		if (strcmp(name, never_readied[i]) == 0)
			return true;
	return false;
}

/* Does the object at addr look like a type object? Checks that its type
 * is a type whose instances are types, to a bounded depth. */
static bool looks_like_type(struct pyhs_heap *h, uint64_t addr, int depth)
{
	const struct pyhs_layout *L = h->L;
	if (!addr || (addr & 7))
		return false;
	if (pyhs_addr_u32_map_search(&h->type_by_addr, addr))
		return true;
	uint64_t meta, flags, meta_flags;
	if (!hrd(h, addr + 8, &meta) ||
	    !hrd_off(h, addr, L->type_tp_flags, &flags))
		return false;
	if (!(flags & TPFLAGS_READY))
		return is_never_readied(h, addr, meta);
	if (meta == h->type_type)
		return true;
	if (depth >= 3 || !hrd_off(h, meta, L->type_tp_flags, &meta_flags) ||
	    !(meta_flags & TPFLAGS_TYPE_SUBCLASS))
		return false;
	return looks_like_type(h, meta, depth + 1);
}

uint32_t pyhs_type_get(struct pyhs_heap *h, uint64_t addr,
		       struct pyhs_error **err)
{
	uint32_t *found = pyhs_addr_u32_map_search(&h->type_by_addr, addr);
	if (found)
		return *found;
	if (!looks_like_type(h, addr, 0))
		return PYHS_NO_OBJECT;
	const struct pyhs_layout *L = h->L;
	struct pyhs_type_info ti = { .addr = addr };
	uint64_t v;
	if (!hrd_off(h, addr, L->type_tp_flags, &ti.flags) ||
	    !hrd_off(h, addr, L->type_tp_basicsize, &v))
		return PYHS_NO_OBJECT;
	ti.basicsize = (int64_t)v;
	if (!hrd_off(h, addr, L->type_tp_itemsize, &v))
		return PYHS_NO_OBJECT;
	ti.itemsize = (int64_t)v;
	/* No real type's instances have a fixed part of a megabyte. */
	if (ti.basicsize < 16 || ti.basicsize > (1 << 20) || ti.itemsize < 0 ||
	    ti.itemsize > (1 << 16))
		return PYHS_NO_OBJECT;
	ti.dictoffset = hrd_off(h, addr, L->type_tp_dictoffset, &v) ? (int64_t)v : 0;
	ti.weaklistoffset = hrd_off(h, addr, L->type_tp_weaklistoffset, &v) ? (int64_t)v : 0;
	ti.heap = (ti.flags & TPFLAGS_HEAPTYPE) != 0;
	/* The kind comes from the nearest ancestor we know. */
	ti.kind = K_OPAQUE;
	ti.kind_basicsize = 16;
	ti.base_basicsize = 16;
	uint64_t cur = addr;
	bool first_static = true;
	for (int d = 0; d < MAX_BASE_DEPTH && cur; d++) {
		uint32_t *k = pyhs_addr_u32_map_search(&h->kind_by_addr, cur);
		uint64_t cflags = 0, cbasic = 0;
		hrd_off(h, cur, L->type_tp_flags, &cflags);
		hrd_off(h, cur, L->type_tp_basicsize, &cbasic);
		if (k) {
			ti.kind = (enum pyhs_kind)*k;
			ti.base_basicsize = (int64_t)cbasic;
			if (first_static)
				ti.kind_basicsize = (int64_t)cbasic;
			/* Below an unknown C type, object's decoder is not
			 * enough: that type's fields get scanned. */
			if (*k == K_OBJECT && !first_static)
				ti.kind = K_OPAQUE;
			break;
		}
		/* Types of modules built into libpython, known by name
		 * (static, or heap types made from a spec). */
		char name[64];
		uint64_t np;
		enum pyhs_kind named = K_OPAQUE;
		if (hrd_off(h, cur, L->type_tp_name, &np) &&
		    pyhs_read_cstr(h, np, name, sizeof(name))) {
			for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
				if (strcmp(name, kind_names[i].tp_name) == 0)
					named = kind_names[i].kind;
		}
		if (named != K_OPAQUE) {
			ti.kind = named;
			ti.base_basicsize = (int64_t)cbasic;
			if (first_static)
				ti.kind_basicsize = (int64_t)cbasic;
			break;
		}
		if (!(cflags & TPFLAGS_HEAPTYPE) && first_static) {
			/* An unknown C type: its fields get scanned. */
			ti.kind_basicsize = (int64_t)cbasic;
			first_static = false;
		}
		if (!hrd_off(h, cur, L->type_tp_base, &cur))
			break;
	}
	if (!pyhs_type_vector_append(&h->types, ti)) {
		*err = &pyhs_enomem;
		return PYHS_NO_OBJECT;
	}
	bool inserted;
	uint32_t *slot = pyhs_addr_u32_map_insert(&h->type_by_addr, addr,
						  &inserted);
	if (!slot) {
		*err = &pyhs_enomem;
		return PYHS_NO_OBJECT;
	}
	*slot = (uint32_t)(h->types.size - 1);
	return *slot;
}

#define TPFLAGS_STATIC_BUILTIN (UINT64_C(1) << 1)

uint64_t pyhs_type_dict(const struct pyhs_heap *h, uint64_t type)
{
	const struct pyhs_layout *L = h->L;
	uint64_t dict = 0, flags = 0;
	hrd_off(h, type, L->type_tp_dict, &dict);
	hrd_off(h, type, L->type_tp_flags, &flags);
	if (!dict && (flags & TPFLAGS_STATIC_BUILTIN) && L->interp_types_builtins >= 0) {
		uint64_t index, state_type;
		if (hrd_off(h, type, L->type_tp_subclasses, &index) && index &&
		    index < 1000) {
			uint64_t st = h->interp + (uint64_t)L->interp_types_builtins +
				      (index - 1) * (uint64_t)L->static_type_state_size;
			if (hrd_off(h, st, L->static_type_state_type, &state_type) &&
			    state_type == type)
				hrd_off(h, st, L->static_type_state_tp_dict, &dict);
		}
	}
	return dict;
}

/* type.__module__ and type.__qualname__, as Python computes them. */
static char *type_name(struct pyhs_heap *h, const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = h->L;
	char module[520] = "", qualname[520] = "";
	char *out;
	if (ti->heap) {
		uint64_t qn, dict;
		if (!hrd_off(h, ti->addr, L->heaptype_ht_qualname, &qn) ||
		    !pyhs_read_str(h, qn, qualname, sizeof(qualname)))
			snprintf(qualname, sizeof(qualname), "?");
		if (hrd_off(h, ti->addr, L->type_tp_dict, &dict) && dict) {
			uint64_t mod = pyhs_dict_get_str(h, dict, "__module__");
			if (mod && !pyhs_read_str(h, mod, module, sizeof(module)))
				snprintf(module, sizeof(module), "?");
		}
		if (!module[0])
			snprintf(module, sizeof(module), "builtins");
	} else {
		uint64_t np;
		char full[512];
		if (!hrd_off(h, ti->addr, L->type_tp_name, &np) ||
		    !pyhs_read_cstr(h, np, full, sizeof(full)))
			snprintf(full, sizeof(full), "?");
		char *dot = strrchr(full, '.');
		if (dot) {
			*dot = '\0';
			snprintf(module, sizeof(module), "%s", full);
			snprintf(qualname, sizeof(qualname), "%s", dot + 1);
		} else {
			snprintf(module, sizeof(module), "builtins");
			snprintf(qualname, sizeof(qualname), "%s", full);
		}
	}
	if (strcmp(module, "builtins") == 0)
		out = strdup(qualname);
	else if (asprintf(&out, "%s.%s", module, qualname) < 0)
		out = NULL;
	return out;
}

struct pyhs_error *pyhs_types_name_all(struct pyhs_heap *h)
{
	for (size_t i = 0; i < h->types.size; i++) {
		if (h->types.data[i].name)
			continue;
		h->types.data[i].name = type_name(h, &h->types.data[i]);
		if (!h->types.data[i].name)
			return &pyhs_enomem;
	}
	return NULL;
}

/* Whether qualified type name full is name, or ends in "." name. */
static bool name_matches(const char *full, const char *name, bool exact)
{
	if (exact)
		return strcmp(full, name) == 0;
	size_t lf = strlen(full), ln = strlen(name);
	return lf > ln && full[lf - ln - 1] == '.' && strcmp(full + lf - ln, name) == 0;
}

uint64_t pyhs_heap_match_types(const struct pyhs_heap *h, const char *name,
			       uint8_t *ret_match, const char **ret_first)
{
	uint32_t nt = pyhs_heap_ntypes(h);
	bool exact = false;
	for (uint32_t k = 0; k < nt && !exact; k++)
		exact = strcmp(pyhs_heap_type_name(h, k), name) == 0;
	/* Distinct names (several types may share one). */
	uint64_t names = 0;
	const char *first = NULL;
	for (uint32_t k = 0; k < nt; k++) {
		const char *full = pyhs_heap_type_name(h, k);
		ret_match[k] = name_matches(full, name, exact);
		if (!ret_match[k])
			continue;
		for (uint32_t j = 0; j < k && ret_match[k] == 1; j++)
			if (ret_match[j] && strcmp(pyhs_heap_type_name(h, j), full) == 0)
				ret_match[k] = 2;
		if (ret_match[k] == 1 && !names++)
			first = full;
	}
	if (ret_first)
		*ret_first = first;
	return names;
}
