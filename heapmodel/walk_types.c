/*
 * The walk's knowledge of C types: names of object fields by word offset
 * (PyMemberDef tables, the known-fields tables, ctypes data), the scan of
 * words no layout describes, and type objects.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lines.h"
#include "walk.h"

/* ---- per-type field names ---- */

/* A field_names entry for a word that holds no reference (a borrowed
 * pointer, a C pointer, a number) and is not scanned. */
#define FIELD_SKIP (UINT32_MAX - 1)
/* A word of raw C data: a reference only if it is an object's address. */
#define FIELD_CMEM (UINT32_MAX - 2)

static const struct known_field known_fields[] = {
	{ "cell", 8, 15, 16, ".cell_contents" },
	/* lru_list_elem: prev (borrowed), next (the ring's reference to the
	 * next element; the last one's, to the wrapper, is borrowed), hash,
	 * key, result */
	{ "functools._lru_list_elem", 8, 15, 16, NULL },
	{ "functools._lru_list_elem", 8, 15, 24, ".next" },
	{ "functools._lru_list_elem", 8, 15, 32, NULL },
	{ "functools._lru_list_elem", 8, 15, 40, ".key" },
	{ "functools._lru_list_elem", 8, 15, 48, ".result" },
	/* lru_cache_object: the ring's root element, wrapper, typed, cache,
	 * hits, func, maxsize, misses, then kwd_mark and lru_list_elem_type
	 * (3.10+) and cache_info_type. */
	{ "functools._lru_cache_wrapper", 8, 15, 16, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 24, ".next" },
	{ "functools._lru_cache_wrapper", 8, 15, 32, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 40, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 48, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 56, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 64, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 72, ".cache" },
	{ "functools._lru_cache_wrapper", 8, 15, 80, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 88, ".__wrapped__" },
	{ "functools._lru_cache_wrapper", 8, 15, 96, NULL },
	{ "functools._lru_cache_wrapper", 8, 15, 104, NULL },
	{ "functools._lru_cache_wrapper", 8, 9, 112, ".cache_info_type" },
	{ "functools._lru_cache_wrapper", 10, 15, 112, ".kwd_mark" },
	{ "functools._lru_cache_wrapper", 10, 15, 120, ".lru_list_elem_type" },
	{ "functools._lru_cache_wrapper", 10, 15, 128, ".cache_info_type" },
	/* PyModuleDef: m_base.m_init, m_index, m_copy (the dict a
	 * single-phase module is copied from), then C data */
	{ "moduledef", 8, 15, 16, NULL },
	{ "moduledef", 8, 15, 24, NULL },
	{ "moduledef", 8, 15, 32, ".m_copy" },
	{ "moduledef", 8, 15, 40, NULL },
	{ "moduledef", 8, 15, 48, NULL },
	{ "moduledef", 8, 15, 56, NULL },
	{ "moduledef", 8, 15, 64, NULL },
	{ "moduledef", 8, 15, 72, NULL },
	{ "moduledef", 8, 15, 80, NULL },
	{ "moduledef", 8, 15, 88, NULL },
	{ "moduledef", 8, 15, 96, NULL },
#include "known_fields.h"
};

/* Names the word at off unless something nearer the type named it. */
static bool name_word(struct walker *w, uint32_t *names, uint64_t words,
		      int64_t off, const char *name)
{
	if (off < 16 || (off & 7) || (uint64_t)off / 8 >= words ||
	    names[off / 8] != UINT32_MAX)
		return true;
	if (!name) {
		names[off / 8] = FIELD_SKIP;
		return true;
	}
	struct pyhs_error *err = pyhs_heap_intern_string(w->h, name, &names[off / 8]);
	if (err) {
		walker_fail(w, err);
		return false;
	}
	return true;
}

/* The PyMemberDef array at members: T_OBJECT and T_OBJECT_EX members (the
 * __slots__ of heap types among them) name their words. */
static bool member_names(struct walker *w, uint32_t *names, uint64_t words,
			 uint64_t members)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	for (int k = 0; k < 256; k++) {
		uint64_t m = members + (uint64_t)k * (uint64_t)L->memberdef_size;
		uint64_t np, off;
		int32_t type;
		if (!hrd_off(h, m, L->memberdef_name, &np) || !np ||
		    !pyhs_target_read(h->t, m + (uint64_t)L->memberdef_type, &type, 4) ||
		    !hrd_off(h, m, L->memberdef_offset, &off))
			break;
		if ((type != T_OBJECT && type != T_OBJECT_EX) || off > INT32_MAX)
			continue;
		char name[128];
		pyhs_read_cstr(h, np, name, sizeof(name));
		char label[130];
		snprintf(label, sizeof(label), ".%s", name);
		if (!name_word(w, names, words, (int64_t)off, label))
			return false;
	}
	return true;
}

/* Names from the table above for the type at t, if it is a C type (a
 * Python class's tp_name has no module part). */
static bool known_names(struct walker *w, uint32_t *names, uint64_t words,
			uint64_t t)
{
	struct pyhs_heap *h = w->h;
	uint64_t flags = 0, np;
	char name[64];
	if (!hrd_off(h, t, h->L->type_tp_name, &np))
		return true;
	pyhs_read_cstr(h, np, name, sizeof(name));
	hrd_off(h, t, h->L->type_tp_flags, &flags);
	if ((flags & TPFLAGS_HEAPTYPE) && !strchr(name, '.'))
		return true;
	for (size_t k = 0; k < sizeof(known_fields) / sizeof(known_fields[0]); k++) {
		const struct known_field *f = &known_fields[k];
		if (h->minor >= f->min_minor && h->minor <= f->max_minor &&
		    !strcmp(name, f->tp_name) &&
		    !name_word(w, names, words, f->off, f->name))
			return false;
	}
	return true;
}

/* CDataObject: b_ptr, b_needsfree, b_base, b_objects, b_value. */
#define CDATA_B_PTR 16
#define CDATA_B_NEEDSFREE 24
#define CDATA_B_BASE 32
#define CDATA_B_OBJECTS 64
#define CDATA_B_VALUE 72

/* Whether type's metatype is one of ctypes': its instances hold C data. */
static bool is_ctypes_data(const struct pyhs_heap *h, uint64_t type)
{
	static const char *const metatypes[] = {
		"_ctypes.PyCSimpleType", "_ctypes.PyCArrayType",
		"_ctypes.PyCPointerType", "_ctypes.PyCStructType",
		"_ctypes.UnionType", "_ctypes.PyCFuncPtrType",
	};
	uint64_t meta, np;
	char name[32];
	if (!hrd(h, type + 8, &meta) || !hrd_off(h, meta, h->L->type_tp_name, &np) ||
	    !pyhs_read_cstr(h, np, name, sizeof(name)))
		return false;
	for (size_t i = 0; i < sizeof(metatypes) / sizeof(metatypes[0]); i++)
		if (!strcmp(name, metatypes[i]))
			return true;
	return false;
}

void walk_type_fields(struct walker *w, struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	if (ti->fields_done)
		return;
	ti->fields_done = true;
	uint64_t words = (uint64_t)ti->basicsize / 8;
	uint32_t *names = malloc(words * sizeof(*names));
	if (!names) {
		walker_fail(w, &pyhs_enomem);
		return;
	}
	memset(names, 0xff, words * sizeof(*names));
	/* The instance dict of a C type (a function's, a partial's); a heap
	 * type's is read with its other attributes. */
	if (!name_word(w, names, words, ti->dictoffset, ti->heap ? NULL : ".__dict__"))
		goto fail;
	uint64_t t = ti->addr;
	for (int depth = 0; t && depth < 64; depth++) {
		uint64_t members;
		if (hrd_off(h, t, L->type_tp_members, &members) && members &&
		    !member_names(w, names, words, members))
			goto fail;
		if (!known_names(w, names, words, t))
			goto fail;
		if (!hrd_off(h, t, L->type_tp_base, &t))
			break;
	}
	const struct pyhs_asyncio_layout *A = NULL;
	if (ti->kind == K_FUTURE || ti->kind == K_TASK)
		A = pyhs_heap_asyncio_layout(h);
	/* Fields that are not members but matter in paths. */
	struct { enum pyhs_kind kind; int32_t off; const char *name; } extra[] = {
		{ K_FUNCTION, L->func_code, ".__code__" },
		{ K_FUNCTION, L->func_name, ".__name__" },
		{ K_FUNCTION, L->func_qualname, ".__qualname__" },
		{ K_FUNCTION, L->func_closure, ".__closure__" },
		{ K_FUNCTION, L->func_globals, ".__globals__" },
		{ K_FUNCTION, L->func_defaults, ".__defaults__" },
		{ K_FUNCTION, L->func_kwdefaults, ".__kwdefaults__" },
		{ K_FUNCTION, L->func_annotations, ".__annotations__" },
		{ K_FUNCTION, L->func_typeparams, ".__type_params__" },
		{ K_FUNCTION, L->func_annotate, ".__annotate__" },
		{ K_CODE, L->code_localsplusnames, ".co_localsplusnames" },
		{ K_CODE, L->code_localspluskinds, ".co_localspluskinds" },
		{ K_CODE, L->code_varnames, ".co_varnames" },
		{ K_CODE, L->code_cellvars, ".co_cellvars" },
		{ K_CODE, L->code_freevars, ".co_freevars" },
		{ K_CODE, L->code_linetable, ".co_linetable" },
		{ K_MODULE, L->module_md_name, ".__name__" },
		{ K_FRAME, L->frame_f_locals, ".f_locals" },
		/* _asyncio's C Future and Task, named as the pure-Python
		 * classes name the same attributes. */
		{ K_FUTURE, A ? A->fut_loop : -1, "._loop" },
		{ K_FUTURE, A ? A->fut_callback0 : -1, "._callback0" },
		{ K_FUTURE, A ? A->fut_callbacks : -1, "._callbacks" },
		{ K_FUTURE, A ? A->fut_exception : -1, "._exception" },
		{ K_FUTURE, A ? A->fut_result : -1, "._result" },
		{ K_FUTURE, A ? A->fut_awaited_by : -1, "._awaited_by" },
		{ K_TASK, A ? A->fut_loop : -1, "._loop" },
		{ K_TASK, A ? A->fut_callback0 : -1, "._callback0" },
		{ K_TASK, A ? A->fut_callbacks : -1, "._callbacks" },
		{ K_TASK, A ? A->fut_exception : -1, "._exception" },
		{ K_TASK, A ? A->fut_result : -1, "._result" },
		{ K_TASK, A ? A->fut_awaited_by : -1, "._awaited_by" },
		{ K_TASK, A ? A->task_fut_waiter : -1, "._fut_waiter" },
		{ K_TASK, A ? A->task_coro : -1, "._coro" },
		{ K_TASK, A ? A->task_name : -1, "._name" },
		{ K_TASK, A ? A->task_context : -1, "._context" },
	};
	for (size_t k = 0; k < sizeof(extra) / sizeof(extra[0]); k++)
		if (ti->kind == extra[k].kind &&
		    !name_word(w, names, words, extra[k].off, extra[k].name))
			goto fail;
	char tp_name[16];
	uint64_t np;
	if (!ti->heap && hrd_off(h, ti->addr, L->type_tp_name, &np) &&
	    pyhs_read_cstr(h, np, tp_name, sizeof(tp_name)) && !strcmp(tp_name, "PyCapsule")) {
		/* pointer, name, context, destructor: C pointers, no objects
		 * (a capsule's pointer leads to a C struct, often a module's
		 * C API table that begins like an object). */
		for (uint64_t k = 2; k < words; k++)
			names[k] = FIELD_SKIP;
	}
	if (is_ctypes_data(h, ti->addr)) {
		/* A ctypes instance (CDataObject, the same in 3.8 to 3.15):
		 * b_base and b_objects are references, b_ptr, b_needsfree,
		 * b_size, b_length and b_index none; the inline b_value from
		 * offset 72 on is C data, whose words are references only if
		 * they are objects' addresses. */
		if (!name_word(w, names, words, CDATA_B_BASE, "._b_base_") ||
		    !name_word(w, names, words, CDATA_B_OBJECTS, "._objects"))
			goto fail;
		for (uint64_t k = CDATA_B_PTR / 8; k < words; k++)
			if (k * 8 >= CDATA_B_VALUE)
				names[k] = FIELD_CMEM;
			else if (k * 8 != CDATA_B_BASE && k * 8 != CDATA_B_OBJECTS)
				names[k] = FIELD_SKIP;
	}
	ti->field_names = names;
	ti->nfield_words = (uint32_t)words;
	return;
fail:
	free(names);
}

uint32_t walk_field_label(const struct pyhs_type_info *ti, uint64_t off)
{
	if (ti->field_names && off / 8 < ti->nfield_words &&
	    ti->field_names[off / 8] < FIELD_CMEM)
		return PYHS_LABEL(PYHS_LABEL_FIELD, ti->field_names[off / 8]);
	return PYHS_LABEL(PYHS_LABEL_CONSERVATIVE, off);
}

/* The word at off of an object of type ti: a named field (a reference its
 * type declares), a word that holds none, or a word of its C struct no
 * table describes, a reference only if the whole object it points to
 * validates (raw C data that only looks like a pointer, as ctypes'
 * buffers hold, is named FIELD_CMEM by type_fields). */
void walk_scan_word(struct walker *w, const struct pyhs_type_info *ti,
		    uint64_t off, uint64_t v)
{
	uint32_t id = ti->field_names && off / 8 < ti->nfield_words ?
			      ti->field_names[off / 8] : UINT32_MAX;
	if (id == FIELD_SKIP || !v)
		return;
	if (id == FIELD_CMEM)
		walk_conservative_edge(w, v, PYHS_LABEL(PYHS_LABEL_CONSERVATIVE, off));
	else if (id != UINT32_MAX)
		walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id));
	else
		walk_unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_CONSERVATIVE, off));
}

/* Says once per type that instances of the current object's type were
 * scanned only in part. */
void walk_scan_capped(struct walker *w)
{
	struct pyhs_type_info *ti = &w->h->types.data[w->h->type.data[w->cur]];
	if (ti->scan_capped)
		return;
	ti->scan_capped = true;
	pyhs_heap_warn(w->h, PYHS_WARN_CAP,
		       "type at 0x%" PRIx64 " claims %" PRId64 "-byte instances; only their first %d bytes are scanned",
		       ti->addr, ti->basicsize, MAX_SCANNED_BYTES);
}

/* Scans the words [from, to) of the object for object pointers. */
void walk_scan(struct walker *w, const struct pyhs_type_info *ti,
	       uint64_t addr, uint64_t from, uint64_t to)
{
	/* A size read from a corrupt type must not make every instance a
	 * megabyte of words to check: real C structs are far smaller. */
	if (to > from + MAX_SCANNED_BYTES) {
		to = from + MAX_SCANNED_BYTES;
		walk_scan_capped(w);
	}
	for (uint64_t off = from & ~UINT64_C(7); off + 8 <= to; off += 8) {
		if (ti->weaklistoffset > 0 && off == (uint64_t)ti->weaklistoffset)
			continue;
		uint64_t v;
		if (!hrd(w->h, addr + off, &v))
			break;
		walk_scan_word(w, ti, off, v);
	}
	w->h->flags.data[w->cur] |= PYHS_OBJ_CONSERVATIVE;
}

/* ---- types ---- */

uint64_t walk_decode_type(struct walker *w, uint64_t addr)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t flags = 0, meta = 0;
	hrd_off(h, addr, L->type_tp_flags, &flags);
	hrd(h, addr + 8, &meta);
	bool heap = flags & TPFLAGS_HEAPTYPE;
	if (heap || meta != h->type_type)
		walk_edge(w, meta, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_class));
	uint64_t dict = pyhs_type_dict(h, addr);
	if (dict)
		walk_edge(w, dict, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_dict));
	walk_field(w, addr, L->type_tp_mro, w->id_mro);
	walk_field(w, addr, L->type_tp_bases, w->id_bases);
	walk_field(w, addr, L->type_tp_base, w->id_base);
	walk_field(w, addr, L->type_tp_cache, w->id_cache);
	if (heap || h->minor <= 11)
		walk_field(w, addr, L->type_tp_subclasses, w->id_subclasses);
	if (!heap)
		return (uint64_t)L->type_size;
	walk_field(w, addr, L->heaptype_ht_name, w->id_name);
	walk_field(w, addr, L->heaptype_ht_qualname, w->id_qualname);
	walk_field(w, addr, L->heaptype_ht_slots, w->id_slots);
	walk_field(w, addr, L->heaptype_ht_module, w->id_module);
	uint64_t size = (uint64_t)L->heaptype_size, keys;
	if (hrd_off(h, addr, L->heaptype_ht_cached_keys, &keys) && keys)
		size += pyhs_dict_keys_size(h, keys);
	return size;
}
