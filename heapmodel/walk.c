/*
 * The heap walk: objects on the GC lists and everything reachable from them
 * and from the interpreter's roots, decoded type by type. Objects are
 * numbered in discovery order and decoded in number order, so the edges of
 * object i are contiguous and edge_start is monotonic.
 */
#include <inttypes.h>
#include <stdio.h>

#include "croots.h"
#include "lines.h"
#include "walk.h"

#define TPFLAGS_INLINE_VALUES (UINT64_C(1) << 2)
#define TPFLAGS_MANAGED_WEAKREF (UINT64_C(1) << 3)
#define TPFLAGS_MANAGED_DICT (UINT64_C(1) << 4)
#define TPFLAGS_HEAPTYPE (UINT64_C(1) << 9)
#define TPFLAGS_HAVE_GC (UINT64_C(1) << 14)

#define T_OBJECT 6
#define T_OBJECT_EX 16

#define DEQUE_BLOCKLEN 64
#define ODICT_NODE_SIZE 32
/* functools._lru_cache_wrapper starts with an embedded lru_list_elem root:
 * {PyObject_HEAD; prev; next; hash; key; result}. */
#define LRU_ELEM_NEXT 24
#define LRU_ELEM_KEY 40
#define LRU_ELEM_RESULT 48
/* ... then wrapper, typed, cache: the cache dict after the 56-byte root. */
#define LRU_CACHE 72

/* PyModuleObject md_def and PyModuleDef m_name/m_size: the same in 3.8 to
 * 3.14 (PyModuleDef_Base is PyObject_HEAD + three pointers); 3.15 keeps the
 * state's size in the module (md_state_size) and no md_def, but md_token
 * is the definition when md_token_is_def is set. */
#define MODULE_MD_DEF 24
#define MODULE_MD_TOKEN_IS_DEF_315 48
#define MODULE_MD_TOKEN_315 88
#define MODULEDEF_M_NAME 40
#define MODULEDEF_M_SIZE 56

#define MAX_CONTAINER_ITEMS (UINT64_C(1) << 32)
#define MAX_LIST_STEPS (UINT64_C(1) << 32)
#define MAX_THREADS 10000
#define MAX_FRAMES 100000

/* After this many references that lead nowhere, an object whose bad ones
 * outnumber its good ones is given up on: a container whose size lies must
 * not cost time in proportion to the lie. */
#define MAX_BAD_REFERENCES 256

/* A word of C memory that may point to an object: an edge (src an object
 * number) or a root (src PYHS_NO_OBJECT, label a string id), made once the
 * walk is over if the word is then the address of an object found through
 * a verified type. A conservative scan never creates an object. */
struct pending_ref {
	uint64_t addr;
	uint32_t src;
	uint32_t label;
};
DEFINE_VECTOR(pending_ref_vector, struct pending_ref)

struct walker {
	struct pyhs_heap *h;
	struct pyhs_error *err;
	bool stop;            /* w->err set, or the current object given up */
	uint64_t good, bad;   /* references of the current object */
	uint32_t cur;
	uint64_t cur_addr, cur_end; /* extent of the object being decoded */
	struct pending_ref_vector pending;       /* edges, by source */
	struct pending_ref_vector pending_roots;
	uint32_t id_class, id_dict, id_mro, id_bases, id_base, id_name,
		 id_qualname, id_slots, id_module, id_cache, id_subclasses,
		 id_callback, id_code, id_func, id_globals, id_builtins,
		 id_locals, id_back, id_frame, id_items, id_values,
		 id_cell_contents, id_cr_await, id_ag_await, id_gi_yieldfrom,
		 id_f_yieldfrom;
	uint64_t coro_type, asyncgen_type;
};

/* Stops the walk with err (the current object's decoding first). */
static void walker_fail(struct walker *w, struct pyhs_error *err)
{
	w->err = err;
	w->stop = true;
}

/* ---- edges ---- */

static void add_edge(struct walker *w, uint32_t dst, uint32_t label)
{
	struct pyhs_heap *h = w->h;
	if (h->edge_dst.size >= h->max_edges) {
		if (h->warn_count[PYHS_WARN_CAP]++ == 0)
			pyhs_heap_warn(h, PYHS_WARN_CAP,
				       "stopped at %" PRIu64 " references (raise the cap with --max-edges)",
				       h->max_edges);
		return;
	}
	if (!pyhs_u32_vector_append(&h->edge_dst, dst) ||
	    !pyhs_u32_vector_append(&h->edge_label, label))
		walker_fail(w, &pyhs_enomem);
}

/* A reference the type's layout says is an object pointer. */
static uint32_t edge(struct walker *w, uint64_t addr, uint32_t label)
{
	if (!addr || w->err)
		return PYHS_NO_OBJECT;
	uint32_t j = pyhs_heap_add(w->h, addr, false, &w->err);
	if (j == PYHS_NO_OBJECT) {
		if (w->err) {
			w->stop = true;
			return j;
		}
		pyhs_heap_warn(w->h, PYHS_WARN_BAD_POINTER,
			       "object 0x%" PRIx64 " refers to 0x%" PRIx64 ", which is not an object",
			       w->cur_addr, addr);
		if (++w->bad > MAX_BAD_REFERENCES && w->bad > w->good) {
			w->stop = true;
			pyhs_heap_warn(w->h, PYHS_WARN_CORRUPT,
				       "object 0x%" PRIx64 " is corrupt: gave up after %" PRIu64 " references that lead nowhere",
				       w->cur_addr, w->bad);
		}
		return j;
	}
	w->good++;
	add_edge(w, j, label);
	return j;
}

static bool plausible_pointer(uint64_t v)
{
	return v >= 4096 && !(v & 7) && v <= UINT64_C(0x7fffffffffff);
}

/* A word a verified type says holds an object pointer, or NULL, or a
 * pointer that may be stale (a value stack above its live top): made an
 * object only if the whole of it validates, and no warning if not. */
static void unsure_edge(struct walker *w, uint64_t v, uint32_t label)
{
	if (!plausible_pointer(v) || (v >= w->cur_addr && v < w->cur_end) || w->err)
		return;
	uint32_t j = pyhs_heap_add(w->h, v, true, &w->err);
	if (j != PYHS_NO_OBJECT)
		add_edge(w, j, label);
	else if (w->err)
		w->stop = true;
}

/* A word of C memory no type describes: an edge of the current object if,
 * once the walk is over, it is the address of an object. */
static void conservative_edge(struct walker *w, uint64_t v, uint32_t label)
{
	if (!plausible_pointer(v) || (v >= w->cur_addr && v < w->cur_end) || w->err)
		return;
	struct pending_ref p = { v, w->cur, label };
	if (!pending_ref_vector_append(&w->pending, p))
		walker_fail(w, &pyhs_enomem);
}

static uint32_t field(struct walker *w, uint64_t addr, int32_t off,
		      uint32_t name_id)
{
	uint64_t v;
	if (!hrd_off(w->h, addr, off, &v) || !v)
		return PYHS_NO_OBJECT;
	return edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, name_id));
}

/* ---- per-type field names ---- */

/* A field_names entry for a word that holds no reference (a borrowed
 * pointer, a C pointer, a number) and is not scanned. */
#define FIELD_SKIP (UINT32_MAX - 1)
/* A word of raw C data: a reference only if it is an object's address. */
#define FIELD_CMEM (UINT32_MAX - 2)

/* Fields of C types that no PyMemberDef names, by tp_name and version:
 * name NULL for a word that is not a reference. Offsets from the structs
 * of each version (x86-64); known_fields.h is generated from DWARF. */
struct known_field {
	const char *tp_name;
	uint8_t min_minor, max_minor;
	uint16_t off;
	const char *name;
};

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

/* Fields of extension modules' state structs, by the module definition's
 * m_name and version (generated from DWARF). */
static const struct known_field known_state_fields[] = {
#include "known_state_fields.h"
};

/* C arrays a state struct points to, whose entries hold references the
 * module's m_traverse visits, by m_name and version: the pointer at off
 * in the state, entries of entry_size bytes with a reference at ref, the
 * last one's word at 0 NULL (decimal's signal and condition maps of
 * DecCondMap: name, fqname, flag, ex). */
struct state_array {
	const char *m_name;
	uint8_t min_minor, max_minor;
	uint16_t off, entry_size, ref;
	const char *name;
};

static const struct state_array state_arrays[] = {
	{ "decimal", 13, 15, 176, 32, 24, "state.signal_map.ex" },
	{ "decimal", 13, 15, 184, 32, 24, "state.cond_map.ex" },
};

#define MAX_STATE_ARRAY 256

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

static void type_fields(struct walker *w, struct pyhs_type_info *ti)
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

static uint32_t field_label(const struct pyhs_type_info *ti, uint64_t off)
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
static void scan_word(struct walker *w, const struct pyhs_type_info *ti,
		      uint64_t off, uint64_t v)
{
	uint32_t id = ti->field_names && off / 8 < ti->nfield_words ?
			      ti->field_names[off / 8] : UINT32_MAX;
	if (id == FIELD_SKIP || !v)
		return;
	if (id == FIELD_CMEM)
		conservative_edge(w, v, PYHS_LABEL(PYHS_LABEL_CONSERVATIVE, off));
	else if (id != UINT32_MAX)
		edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id));
	else
		unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_CONSERVATIVE, off));
}

#define MAX_SCANNED_BYTES 4096

/* Says once per type that instances of the current object's type were
 * scanned only in part. */
static void scan_capped(struct walker *w)
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
static void scan(struct walker *w, const struct pyhs_type_info *ti,
		 uint64_t addr, uint64_t from, uint64_t to)
{
	/* A size read from a corrupt type must not make every instance a
	 * megabyte of words to check: real C structs are far smaller. */
	if (to > from + MAX_SCANNED_BYTES) {
		to = from + MAX_SCANNED_BYTES;
		scan_capped(w);
	}
	for (uint64_t off = from & ~UINT64_C(7); off + 8 <= to; off += 8) {
		if (ti->weaklistoffset > 0 && off == (uint64_t)ti->weaklistoffset)
			continue;
		uint64_t v;
		if (!hrd(w->h, addr + off, &v))
			break;
		scan_word(w, ti, off, v);
	}
	w->h->flags.data[w->cur] |= PYHS_OBJ_CONSERVATIVE;
}

/* ---- dicts ---- */

static uint64_t usable_fraction(uint64_t n)
{
	return (n << 1) / 3;
}

uint64_t pyhs_dict_keys_size(const struct pyhs_heap *h, uint64_t keys)
{
	const struct pyhs_layout *L = h->L;
	if (h->minor <= 10) {
		uint64_t size;
		if (!hrd_off(h, keys, L->dictkeys_dk_size, &size) ||
		    size > (UINT64_C(1) << 40))
			return 0;
		uint64_t ix = size <= 0xff ? 1 : size <= 0xffff ? 2 :
			      size <= 0xffffffff ? 4 : 8;
		return (uint64_t)L->dictkeys_size + ix * size +
		       24 * usable_fraction(size);
	}
	uint8_t log2 = 0, log2_index = 0, kind = 0;
	if (!pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_size, &log2, 1) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_kind, &kind, 1) ||
	    log2 > 40 || log2_index > 43)
		return 0;
	return (uint64_t)L->dictkeys_size + (UINT64_C(1) << log2_index) +
	       usable_fraction(UINT64_C(1) << log2) * (kind == 0 ? 24 : 16);
}

bool pyhs_dict_foreach(const struct pyhs_heap *h, uint64_t dict,
		       bool (*cb)(void *arg, uint64_t key, uint64_t value,
				  uint64_t i),
		       void *arg, uint64_t *ret_size)
{
	const struct pyhs_layout *L = h->L;
	uint64_t keys, values, type;
	if (!hrd_off(h, dict, L->dict_ma_keys, &keys) || !keys ||
	    !hrd_off(h, dict, L->dict_ma_values, &values) ||
	    !hrd(h, dict + 8, &type))
		return false;
	uint64_t basicsize = 48;
	uint32_t *ti = pyhs_addr_u32_map_search(&h->type_by_addr, type);
	if (ti)
		basicsize = (uint64_t)h->types.data[*ti].basicsize;
	uint64_t nentries, entries, esize, key_off, value_off, dk_refcnt;
	uint64_t size = basicsize;
	if (!hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    !hrd_off(h, keys, L->dictkeys_dk_refcnt, &dk_refcnt))
		return false;
	if (h->minor <= 10) {
		uint64_t dk_size;
		if (!hrd_off(h, keys, L->dictkeys_dk_size, &dk_size) ||
		    !dk_size || (dk_size & (dk_size - 1)) ||
		    dk_size > (UINT64_C(1) << 40) || nentries > dk_size)
			return false;
		uint64_t ix = dk_size <= 0xff ? 1 : dk_size <= 0xffff ? 2 :
			      dk_size <= 0xffffffff ? 4 : 8;
		entries = keys + (uint64_t)L->dictkeys_dk_indices + ix * dk_size;
		esize = 24;
		key_off = 8;
		value_off = 16;
		if (values)
			size += 8 * usable_fraction(dk_size);
	} else {
		uint8_t log2 = 0, log2_index = 0, kind = 0;
		if (!pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_size, &log2, 1) ||
		    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
		    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_kind, &kind, 1) ||
		    log2 > 40 || log2_index > 43 ||
		    nentries > (UINT64_C(1) << log2))
			return false;
		entries = keys + (uint64_t)L->dictkeys_dk_indices + (UINT64_C(1) << log2_index);
		esize = kind == 0 ? 24 : 16;
		key_off = kind == 0 ? 8 : 0;
		value_off = kind == 0 ? 16 : 8;
		if (values) {
			/* Counted even when the values are embedded in the
			 * owning instance (3.13+). */
			uint64_t usable = 0;
			hrd_off(h, keys, L->dictkeys_dk_usable, &usable);
			size += 8 * (nentries + usable);
		}
	}
	/* 3.12+: the shared empty keys are immortal, never counted. */
	if (dk_refcnt == 1)
		size += pyhs_dict_keys_size(h, keys);
	if (ret_size)
		*ret_size = size;
	if (!cb)
		return true;
	uint64_t values_base = values + (uint64_t)(L->dictvalues_values > 0 ? L->dictvalues_values : 0);
	const uint8_t *ents = pyhs_target_ptr(h->t, entries, nentries * esize);
	for (uint64_t i = 0; i < nentries; i++) {
		uint64_t key, value;
		if (ents) {
			memcpy(&key, ents + i * esize + key_off, 8);
			memcpy(&value, ents + i * esize + value_off, 8);
		} else if (!hrd(h, entries + i * esize + key_off, &key) ||
			   !hrd(h, entries + i * esize + value_off, &value)) {
			return false;
		}
		if (values && !hrd(h, values_base + 8 * i, &value))
			return false;
		if (!key || !value)
			continue;
		if (!cb(arg, key, value, i))
			break;
	}
	return true;
}

static bool dict_edge_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct walker *w = arg;
	uint32_t k = edge(w, key, PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0));
	edge(w, value, k == PYHS_NO_OBJECT || k > 0x0fffffff ?
			       PYHS_LABEL(PYHS_LABEL_NONE, 0) :
			       PYHS_LABEL(PYHS_LABEL_DICT_VALUE, k));
	return !w->stop;
}

static uint64_t decode_dict(struct walker *w, uint64_t addr)
{
	uint64_t size = 0;
	if (!pyhs_dict_foreach(w->h, addr, dict_edge_cb, w, &size)) {
		pyhs_heap_warn(w->h, PYHS_WARN_UNREADABLE,
			       "dict at 0x%" PRIx64 " is unreadable", addr);
		w->h->flags.data[w->cur] |= PYHS_OBJ_UNREADABLE;
	}
	return size;
}

/* ---- sequences ---- */

static void items(struct walker *w, uint64_t base, uint64_t n, bool stackref)
{
	if (n > MAX_CONTAINER_ITEMS)
		n = MAX_CONTAINER_ITEMS;
	const uint8_t *p = pyhs_target_ptr(w->h->t, base, n * 8);
	for (uint64_t i = 0; i < n && !w->stop; i++) {
		uint64_t v;
		if (p)
			memcpy(&v, p + 8 * i, 8); /* the bytes need not be aligned */
		else if (!hrd(w->h, base + 8 * i, &v))
			break;
		if (stackref) {
			if ((v & 3) == 3)
				continue;
			v &= ~UINT64_C(3);
		}
		if (v)
			edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i < 0x0fffffff ? i : 0x0fffffff));
	}
}

static uint64_t decode_set(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t mask, table;
	if (!hrd_off(w->h, addr, L->set_mask, &mask) ||
	    !hrd_off(w->h, addr, L->set_table, &table) ||
	    mask > (UINT64_C(1) << 40))
		return (uint64_t)ti->basicsize;
	uint64_t n = mask + 1;
	const uint8_t *p = pyhs_target_ptr(w->h->t, table, n * 16);
	for (uint64_t i = 0; i < n && !w->stop; i++) {
		uint64_t key;
		if (p)
			memcpy(&key, p + 16 * i, 8);
		else if (!hrd(w->h, table + 16 * i, &key))
			break;
		if (key && key != w->h->set_dummy)
			edge(w, key, PYHS_LABEL(PYHS_LABEL_ITEM, 0));
	}
	uint64_t size = (uint64_t)ti->basicsize;
	if (table != addr + (uint64_t)L->set_smalltable)
		size += 16 * n;
	return size;
}

static uint64_t decode_deque(struct walker *w, uint64_t addr,
			     const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t block, left, len;
	if (!hrd_off(w->h, addr, L->deque_leftblock, &block) ||
	    !hrd_off(w->h, addr, L->deque_leftindex, &left) ||
	    !hrd(w->h, addr + 16, &len) || left >= DEQUE_BLOCKLEN ||
	    len > MAX_CONTAINER_ITEMS)
		return (uint64_t)ti->basicsize;
	uint64_t idx = left;
	for (uint64_t i = 0; i < len && block && !w->stop; i++) {
		uint64_t v;
		if (!hrd(w->h, block + (uint64_t)L->deque_block_data + 8 * idx, &v))
			break;
		edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i < 0x0fffffff ? i : 0x0fffffff));
		if (++idx == DEQUE_BLOCKLEN) {
			idx = 0;
			if (!hrd_off(w->h, block, L->deque_block_rightlink, &block))
				break;
		}
	}
	uint64_t blocks = (left + len + DEQUE_BLOCKLEN) / DEQUE_BLOCKLEN;
	return (uint64_t)ti->basicsize + blocks * (uint64_t)L->deque_block_size;
}

/* ---- frames ---- */

/* The code object of a frame, validated. */
static bool frame_code(struct walker *w, uint64_t code)
{
	uint64_t type;
	uint32_t ti;
	return code && hrd(w->h, code + 8, &type) &&
	       (ti = pyhs_type_get(w->h, type, &w->err)) != PYHS_NO_OBJECT &&
	       w->h->types.data[ti].kind == K_CODE;
}

/* Local names: ≤3.10 co_varnames + co_cellvars + co_freevars, 3.11+
 * co_localsplusnames. Returns the address of name i, or 0. */
static uint64_t local_name(struct walker *w, uint64_t code, uint64_t i)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t tuple, n;
	if (L->code_localsplusnames >= 0) {
		if (!hrd_off(w->h, code, L->code_localsplusnames, &tuple) ||
		    !hrd(w->h, tuple + 16, &n) || i >= n)
			return 0;
		uint64_t v;
		return hrd(w->h, tuple + (uint64_t)L->tuple_ob_item + 8 * i, &v) ? v : 0;
	}
	int32_t offs[3] = { L->code_varnames, L->code_cellvars, L->code_freevars };
	for (int k = 0; k < 3; k++) {
		if (!hrd_off(w->h, code, offs[k], &tuple) || !hrd(w->h, tuple + 16, &n))
			return 0;
		if (i < n) {
			uint64_t v;
			return hrd(w->h, tuple + (uint64_t)L->tuple_ob_item + 8 * i, &v) ? v : 0;
		}
		i -= n;
	}
	return 0;
}

static uint32_t local_label(struct walker *w, uint64_t code, uint64_t i)
{
	uint64_t name = local_name(w, code, i);
	if (!name)
		return PYHS_LABEL(PYHS_LABEL_INDEX, i);
	uint32_t j = pyhs_heap_add(w->h, name, false, &w->err);
	if (j == PYHS_NO_OBJECT || j > 0x0fffffff)
		return PYHS_LABEL(PYHS_LABEL_INDEX, i);
	return PYHS_LABEL(PYHS_LABEL_LOCAL, j);
}

static uint64_t code_nlocalsplus(struct walker *w, uint64_t code)
{
	const struct pyhs_layout *L = w->h->L;
	int32_t n = 0;
	if (L->code_nlocalsplus >= 0)
		pyhs_target_read(w->h->t, code + (uint64_t)L->code_nlocalsplus, &n, 4);
	return n > 0 ? (uint64_t)n : 0;
}

static uint64_t code_stacksize(struct walker *w, uint64_t code)
{
	int32_t n = 0;
	pyhs_target_read(w->h->t, code + (uint64_t)w->h->L->code_stacksize, &n, 4);
	return n > 0 ? (uint64_t)n : 0;
}

/* A 3.11+ _PyInterpreterFrame's references (f_code, f_funcobj, globals,
 * builtins, locals, frame object, local variables, value stack). yf: the
 * object on top of the stack a generator's frame is suspended awaiting (0
 * if none), whose reference is labelled yf_label. */
static void decode_iframe(struct walker *w, uint64_t f, uint64_t yf,
			  uint32_t yf_label)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t code;
	if (!hrd_off(h, f, L->iframe_code, &code))
		return;
	code &= ~UINT64_C(3);
	if (!frame_code(w, code))
		return;
	edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	int32_t offs[4] = { L->iframe_func, L->iframe_globals, L->iframe_builtins,
			    L->iframe_locals };
	uint32_t ids[4] = { w->id_func, w->id_globals, w->id_builtins, w->id_locals };
	for (int k = 0; k < 4; k++) {
		uint64_t v;
		if (hrd_off(h, f, offs[k], &v) && (v & ~UINT64_C(3)) && (v & 3) != 3)
			edge(w, v & ~UINT64_C(3), PYHS_LABEL(PYHS_LABEL_FIELD, ids[k]));
	}
	uint64_t nlocals = code_nlocalsplus(w, code);
	uint64_t top = nlocals;
	if (h->minor >= 14) {
		uint64_t sp;
		if (hrd_off(h, f, L->iframe_stacktop, &sp) &&
		    sp >= f + (uint64_t)L->iframe_localsplus)
			top = (sp - f - (uint64_t)L->iframe_localsplus) / 8;
	} else {
		int32_t st;
		if (pyhs_target_read(h->t, f + (uint64_t)L->iframe_stacktop, &st, 4) && st >= 0)
			top = (uint64_t)st;
	}
	uint64_t max = nlocals + code_stacksize(w, code);
	if (top > max)
		top = max;
	uint64_t base = f + (uint64_t)L->iframe_localsplus;
	for (uint64_t i = 0; i < top && !w->stop; i++) {
		uint64_t v;
		if (!hrd(h, base + 8 * i, &v))
			break;
		if ((v & 3) == 3)
			continue;
		v &= ~UINT64_C(3);
		if (!v)
			continue;
		if (i < nlocals)
			edge(w, v, local_label(w, code, i));
		else if (yf && v == yf && i + 2 >= top)
			edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, yf_label));
		else
			conservative_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i));
	}
}

/* ≤3.10 PyFrameObject. */
static void decode_frame_old(struct walker *w, uint64_t addr,
			     const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	field(w, addr, L->frame_f_back, w->id_back);
	uint64_t code = 0;
	hrd_off(h, addr, L->frame_f_code, &code);
	if (!frame_code(w, code))
		return;
	edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	/* f_builtins, f_globals, f_locals sit between f_code and f_valuestack. */
	for (int32_t off = L->frame_f_code + 8; off < L->frame_f_valuestack; off += 8) {
		uint64_t v;
		if (hrd_off(h, addr, off, &v))
			unsure_edge(w, v, field_label(ti, (uint64_t)off));
	}
	int32_t nlocals = 0;
	pyhs_target_read(h->t, code + (uint64_t)L->code_nlocals, &nlocals, 4);
	uint64_t ncells = 0, nfrees = 0, tuple;
	if (hrd_off(h, code, L->code_cellvars, &tuple))
		hrd(h, tuple + 16, &ncells);
	if (hrd_off(h, code, L->code_freevars, &tuple))
		hrd(h, tuple + 16, &nfrees);
	uint64_t nslots = (uint64_t)(nlocals > 0 ? nlocals : 0) + ncells + nfrees;
	uint64_t base = addr + (uint64_t)L->frame_f_localsplus;
	uint64_t obsize = 0;
	hrd(h, addr + 16, &obsize);
	if (nslots > obsize)
		nslots = obsize;
	for (uint64_t i = 0; i < nslots && !w->stop; i++) {
		uint64_t v;
		if (hrd(h, base + 8 * i, &v) && v)
			edge(w, v, local_label(w, code, i));
	}
	/* The value stack, when the frame is not executing. */
	uint64_t depth = 0, vs;
	if (!hrd_off(h, addr, L->frame_f_valuestack, &vs))
		return;
	if (L->frame_f_stackdepth >= 0) {
		int32_t d;
		if (pyhs_target_read(h->t, addr + (uint64_t)L->frame_f_stackdepth, &d, 4) && d > 0)
			depth = (uint64_t)d;
	} else {
		uint64_t top;
		if (hrd_off(h, addr, L->frame_f_stacktop, &top) && top > vs)
			depth = (top - vs) / 8;
	}
	if (depth > code_stacksize(w, code))
		depth = code_stacksize(w, code);
	uint64_t yf = depth ? pyhs_old_frame_yf(h, addr, code) : 0;
	for (uint64_t i = 0; i < depth && !w->stop; i++) {
		uint64_t v;
		if (!hrd(h, vs + 8 * i, &v) || !v)
			continue;
		if (yf && v == yf && i + 1 == depth)
			edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_f_yieldfrom));
		else
			unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, nslots + i));
	}
}

static uint64_t decode_frame(struct walker *w, uint64_t addr,
			     const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t obsize = 0;
	hrd(h, addr + 16, &obsize);
	if (h->minor <= 10) {
		decode_frame_old(w, addr, ti);
		/* frame.__sizeof__ counts the slots the code needs, not the
		 * ob_size of a reused frame. */
		uint64_t code = 0, ncells = 0, nfrees = 0, tuple;
		int32_t nlocals = 0;
		hrd_off(h, addr, L->frame_f_code, &code);
		if (!frame_code(w, code))
			return (uint64_t)ti->basicsize + 8 * obsize;
		pyhs_target_read(h->t, code + (uint64_t)L->code_nlocals, &nlocals, 4);
		if (hrd_off(h, code, L->code_cellvars, &tuple))
			hrd(h, tuple + 16, &ncells);
		if (hrd_off(h, code, L->code_freevars, &tuple))
			hrd(h, tuple + 16, &nfrees);
		uint64_t extras = code_stacksize(w, code) +
				  (uint64_t)(nlocals > 0 ? nlocals : 0) + ncells + nfrees;
		return (uint64_t)L->frame_size + (extras ? extras - 1 : 0) * 8 -
		       (extras ? 0 : 8);
	}
	field(w, addr, L->frame_f_back, w->id_back);
	uint64_t f;
	if (!hrd_off(h, addr, L->frame_f_frame, &f) || !f)
		return (uint64_t)ti->basicsize;
	uint64_t data = addr + (uint64_t)L->frame_f_frame_data;
	uint64_t code = 0;
	hrd_off(h, f, L->iframe_code, &code);
	code &= ~UINT64_C(3);
	uint64_t size = (uint64_t)L->frame_f_frame_data + (uint64_t)L->iframe_localsplus;
	if (frame_code(w, code))
		size += 8 * (code_nlocalsplus(w, code) + code_stacksize(w, code));
	if (f == data)
		decode_iframe(w, f, 0, 0);
	return size;
}

static uint64_t decode_gen(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	if (h->minor <= 10) {
		scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		return (uint64_t)ti->basicsize;
	}
	/* Fixed fields before the embedded frame. */
	scan(w, ti, addr, 16, (uint64_t)L->gen_gi_iframe);
	int8_t state = 1;
	pyhs_target_read(h->t, addr + (uint64_t)L->gen_gi_frame_state, &state, 1);
	uint64_t f = addr + (uint64_t)L->gen_gi_iframe;
	uint64_t code = 0;
	if (L->gen_gi_code >= 0)
		hrd_off(h, addr, L->gen_gi_code, &code);
	else
		hrd_off(h, f, L->iframe_code, &code);
	code &= ~UINT64_C(3);
	uint64_t size = (uint64_t)L->gen_gi_iframe + (uint64_t)L->iframe_localsplus;
	if (frame_code(w, code))
		size += 8 * (code_nlocalsplus(w, code) + code_stacksize(w, code));
	/* gen_traverse visits the frame until it is cleared (FRAME_CLEARED is 4
	 * in 3.11-3.14, where the states before FRAME_COMPLETED (1) are the live
	 * ones, and 5 in 3.15, whose states count up from FRAME_CREATED (0)),
	 * and from 3.14 on the code object of a cleared one too. */
	if (h->minor >= 15 ? state >= 0 && state < 5 : state < 1) {
		struct pyhs_gen_frame g;
		uint64_t yf = pyhs_gen_frame(h, addr, &g) ? g.yf : 0;
		uint32_t label = ti->addr == w->coro_type ? w->id_cr_await :
				 ti->addr == w->asyncgen_type ? w->id_ag_await :
				 w->id_gi_yieldfrom;
		decode_iframe(w, f, yf, label);
	} else if (h->minor >= 14 && code) {
		edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	}
	return size;
}

/* ---- types ---- */

static uint64_t decode_type(struct walker *w, uint64_t addr)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t flags = 0, meta = 0;
	hrd_off(h, addr, L->type_tp_flags, &flags);
	hrd(h, addr + 8, &meta);
	bool heap = flags & TPFLAGS_HEAPTYPE;
	if (heap || meta != h->type_type)
		edge(w, meta, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_class));
	uint64_t dict = pyhs_type_dict(h, addr);
	if (dict)
		edge(w, dict, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_dict));
	field(w, addr, L->type_tp_mro, w->id_mro);
	field(w, addr, L->type_tp_bases, w->id_bases);
	field(w, addr, L->type_tp_base, w->id_base);
	field(w, addr, L->type_tp_cache, w->id_cache);
	if (heap || h->minor <= 11)
		field(w, addr, L->type_tp_subclasses, w->id_subclasses);
	if (!heap)
		return (uint64_t)L->type_size;
	field(w, addr, L->heaptype_ht_name, w->id_name);
	field(w, addr, L->heaptype_ht_qualname, w->id_qualname);
	field(w, addr, L->heaptype_ht_slots, w->id_slots);
	field(w, addr, L->heaptype_ht_module, w->id_module);
	uint64_t size = (uint64_t)L->heaptype_size, keys;
	if (hrd_off(h, addr, L->heaptype_ht_cached_keys, &keys) && keys)
		size += pyhs_dict_keys_size(h, keys);
	return size;
}

/* ---- instances of heap types: slots and __dict__ ---- */

struct values_ctx {
	struct walker *w;
	uint64_t values;
	uint64_t n;
};

static bool values_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	(void)value;
	struct values_ctx *c = arg;
	if (i >= c->n)
		return false;
	uint64_t v;
	if (!hrd(c->w->h, c->values + 8 * i, &v) || !v)
		return true;
	uint32_t k = pyhs_heap_add(c->w->h, key, false, &c->w->err);
	edge(c->w, v, k == PYHS_NO_OBJECT || k > 0x0fffffff ?
			      PYHS_LABEL(PYHS_LABEL_NONE, 0) :
			      PYHS_LABEL(PYHS_LABEL_ATTR, k));
	return !c->w->err;
}

/* Attribute values stored outside a dict (3.11+), keyed by the type's
 * shared keys; the keys object's entries name them. */
static void decode_values(struct walker *w, const struct pyhs_type_info *ti,
			  uint64_t values, uint64_t n)
{
	struct pyhs_heap *h = w->h;
	uint64_t keys;
	if (!hrd_off(h, ti->addr, h->L->heaptype_ht_cached_keys, &keys) || !keys)
		return;
	/* Walk the keys through a fake dict view: read the entries. */
	const struct pyhs_layout *L = h->L;
	uint64_t nentries;
	uint8_t log2_index = 0;
	if (!hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
	    log2_index > 43)
		return;
	if (nentries > n)
		nentries = n;
	uint64_t entries = keys + (uint64_t)L->dictkeys_dk_indices + (UINT64_C(1) << log2_index);
	struct values_ctx c = { w, values, nentries };
	for (uint64_t i = 0; i < nentries && !w->stop; i++) {
		uint64_t key;
		if (!hrd(h, entries + 16 * i, &key))
			break;
		if (key)
			values_cb(&c, key, 0, i);
	}
}

static void decode_instance(struct walker *w, uint64_t addr,
			    const struct pyhs_type_info *ti, uint64_t obsize)
{
	struct pyhs_heap *h = w->h;
	edge(w, ti->addr, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_class));
	/* Fields beyond the static base: slots by name; the words of a C
	 * type made from a spec, scanned. */
	uint64_t end = (uint64_t)ti->basicsize;
	if (end > (uint64_t)ti->kind_basicsize + MAX_SCANNED_BYTES) {
		end = (uint64_t)ti->kind_basicsize + MAX_SCANNED_BYTES;
		scan_capped(w);
	}
	for (uint64_t off = (uint64_t)ti->kind_basicsize & ~UINT64_C(7);
	     off + 8 <= end; off += 8) {
		if ((ti->dictoffset > 0 && off == (uint64_t)ti->dictoffset) ||
		    (ti->weaklistoffset > 0 && off == (uint64_t)ti->weaklistoffset))
			continue;
		uint64_t v;
		if (hrd(h, addr + off, &v))
			scan_word(w, ti, off, v);
	}
	uint64_t dict = 0, values = 0;
	if (h->minor >= 11 && (ti->flags & TPFLAGS_MANAGED_DICT)) {
		uint64_t word = 0;
		hrd(h, addr - 24, &word);
		/* 3.11/3.12 values have a slot for every entry of the type's
		 * shared keys (dk_nentries + dk_usable): no bound beyond the
		 * keys' own entry count is needed. */
		if (h->minor == 11) {
			dict = word;
			hrd(h, addr - 32, &values);
			if (values)
				decode_values(w, ti, values, UINT64_MAX);
		} else if (h->minor == 12) {
			if (word & 1)
				decode_values(w, ti, word + 1, UINT64_MAX);
			else
				dict = word;
		} else {
			/* Valid inline values hold the attributes, whether or
			 * not a dict has been made that shares them. */
			dict = word;
			if (ti->flags & TPFLAGS_INLINE_VALUES) {
				uint64_t v = addr + (uint64_t)ti->basicsize;
				uint8_t hdr[4];
				if (pyhs_target_read(h->t, v, hdr, 4) && hdr[3])
					decode_values(w, ti, v + 8, hdr[0]);
			}
		}
	} else if (ti->dictoffset > 0) {
		hrd(h, addr + (uint64_t)ti->dictoffset, &dict);
	} else if (ti->dictoffset < 0) {
		uint64_t n = pyhs_uabs64((int64_t)obsize);
		uint64_t sz = (uint64_t)ti->basicsize + n * (uint64_t)ti->itemsize;
		sz = (sz + 7) & ~UINT64_C(7);
		hrd(h, addr + sz + (uint64_t)ti->dictoffset, &dict);
	}
	if (dict)
		edge(w, dict, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_dict));
}

/* ---- sizes ---- */

static uint64_t str_size(struct walker *w, uint64_t addr)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t len = 0;
	uint32_t state = 0;
	hrd_off(h, addr, L->ascii_length, &len);
	pyhs_target_read(h->t, addr + (uint64_t)L->ascii_state, &state, 4);
	unsigned kind = (state >> 2) & 7;
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	uint64_t size;
	if (compact && ascii)
		size = (uint64_t)L->ascii_size + len + 1;
	else if (compact)
		size = (uint64_t)L->compact_size + (len + 1) * kind;
	else {
		size = (uint64_t)L->unicode_size;
		uint64_t data = 0;
		hrd_off(h, addr, L->unicode_data, &data);
		if (data)
			size += (len + 1) * kind;
	}
	if (!(compact && ascii)) {
		uint64_t utf8 = 0, utf8_len = 0, data = 0;
		hrd_off(h, addr, L->compact_utf8, &utf8);
		hrd_off(h, addr, L->compact_utf8_length, &utf8_len);
		if (compact)
			data = addr + (uint64_t)L->compact_size;
		else
			hrd_off(h, addr, L->unicode_data, &data);
		if (utf8 && utf8 != data)
			size += utf8_len + 1;
	}
	if (L->ascii_wstr >= 0) {
		uint64_t wstr = 0, wlen = 0, data = 0;
		hrd_off(h, addr, L->ascii_wstr, &wstr);
		if (compact && ascii) {
			data = addr + (uint64_t)L->ascii_size;
			wlen = len;
		} else {
			hrd_off(h, addr, L->compact_wstr_length, &wlen);
			if (compact)
				data = addr + (uint64_t)L->compact_size;
			else
				hrd_off(h, addr, L->unicode_data, &data);
		}
		/* wstr shares the data when wchar_t has the data's width. */
		if (wstr && !(wstr == data && kind == 4))
			size += (wlen + 1) * 4;
	}
	return size;
}

static uint64_t int_size(struct walker *w, uint64_t addr)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t word = 0, n;
	hrd(w->h, addr + 16, &word);
	if (L->long_lv_tag >= 0) {
		n = word >> 3;
	} else {
		int64_t s = (int64_t)word;
		n = pyhs_uabs64(s);
	}
	if (w->h->minor >= 11 && n == 0)
		n = 1;
	return (uint64_t)L->long_digit + 4 * n;
}

static uint64_t gc_extra(struct walker *w, const struct pyhs_type_info *ti,
			 uint64_t addr)
{
	unsigned minor = w->h->minor;
	bool is_type_obj = ti->kind == K_TYPE;
	bool static_type_obj = false;
	if (is_type_obj) {
		uint64_t flags = 0;
		hrd_off(w->h, addr, w->h->L->type_tp_flags, &flags);
		static_type_obj = !(flags & TPFLAGS_HEAPTYPE);
	}
	if (!(ti->flags & TPFLAGS_HAVE_GC)) {
		return 0;
	}
	if (minor <= 10)
		return static_type_obj ? 0 : 16;
	if (minor >= 13 && static_type_obj)
		return 0;
	uint64_t extra = 16;
	if (minor == 11 && (ti->flags & TPFLAGS_MANAGED_DICT))
		extra += 16;
	if (minor >= 12 && (ti->flags & (TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF)))
		extra += 16;
	return extra;
}

/* ---- modules ---- */

/* A module object: its __dict__ and __name__, and the state of an
 * extension module (md_def->m_size bytes of C memory at md_state), which
 * is scanned conservatively: its words that are objects' addresses are
 * the module's references (its m_traverse visits them) and roots named
 * "module NAME state". */
/* A word of a module's state: an edge of the module (made an object when
 * known says a table describes the word) and a borrowed root. */
static void state_ref(struct walker *w, uint64_t v, uint32_t label,
		      uint32_t root_id, bool known)
{
	if (known)
		unsure_edge(w, v, label);
	else
		conservative_edge(w, v, label);
	struct pending_ref r = { v, PYHS_NO_OBJECT, root_id | PYHS_ROOT_BORROWED };
	if (!pending_ref_vector_append(&w->pending_roots, r))
		walker_fail(w, &pyhs_enomem);
}

static void decode_module(struct walker *w, uint64_t addr,
			  const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	field(w, addr, L->module_md_dict, w->id_dict);
	uint64_t v;
	if (hrd_off(h, addr, L->module_md_name, &v) && v)
		edge(w, v, field_label(ti, (uint64_t)L->module_md_name));
	/* 3.8 to 3.14 have md_def (m_size is the state's size); 3.15 has
	 * md_state_size. */
	bool has_def = L->module_md_state_size < 0;
	uint64_t def = 0, state = 0, msize = 0;
	if ((has_def && (!hrd(h, addr + MODULE_MD_DEF, &def) || !plausible_pointer(def))) ||
	    !hrd_off(h, addr, L->module_md_state, &state))
		return;
	char name[128] = "?", label[160];
	if (!hrd_off(h, addr, L->module_md_name, &v) ||
	    !pyhs_read_str(h, v, name, sizeof(name)))
		snprintf(name, sizeof(name), "?");
	uint32_t def_id, root_id;
	struct pyhs_error *err;
	if (has_def) {
		/* A PyModuleDef made an object (multi-phase init) is a C static
		 * whose initial reference is its own. */
		snprintf(label, sizeof(label), "module %s definition", name);
		err = pyhs_heap_intern_string(h, label, &def_id);
		struct pending_ref d = { def, PYHS_NO_OBJECT, def_id };
		if (err || !pending_ref_vector_append(&w->pending_roots, d)) {
			walker_fail(w, err ? err : &pyhs_enomem);
			return;
		}
	}
	bool sized = has_def ? hrd(h, def + MODULEDEF_M_SIZE, &msize)
			     : hrd_off(h, addr, L->module_md_state_size, &msize);
	if (!state || !sized || (int64_t)msize <= 0 || msize >= (1u << 16))
		return;
	snprintf(label, sizeof(label), "module %s state", name);
	if ((err = pyhs_heap_intern_string(h, label, &root_id))) {
		walker_fail(w, err);
		return;
	}
	/* The fields of a state struct we know are references of a verified
	 * type; the other words are scanned. */
	char def_name[64] = "";
	uint64_t np;
	uint8_t token_is_def = 0;
	if (!has_def && h->minor == 15 &&
	    pyhs_target_read(h->t, addr + MODULE_MD_TOKEN_IS_DEF_315, &token_is_def, 1) &&
	    token_is_def && hrd(h, addr + MODULE_MD_TOKEN_315, &def) && !plausible_pointer(def))
		def = 0;
	if (def && hrd(h, def + MODULEDEF_M_NAME, &np))
		pyhs_read_cstr(h, np, def_name, sizeof(def_name));
	uint64_t sa = w->cur_addr, se = w->cur_end;
	w->cur_addr = state;
	w->cur_end = state + msize;
	for (uint64_t off = 0; off + 8 <= msize && !w->stop; off += 8) {
		if (!hrd(h, state + off, &v) || !plausible_pointer(v) ||
		    (v >= state && v < state + msize))
			continue;
		const char *known = NULL;
		for (size_t k = 0; k < sizeof(known_state_fields) / sizeof(known_state_fields[0]); k++) {
			const struct known_field *f = &known_state_fields[k];
			if (f->off == off && h->minor >= f->min_minor &&
			    h->minor <= f->max_minor && !strcmp(f->tp_name, def_name))
				known = f->name;
		}
		char l[80];
		uint32_t id;
		if (known)
			snprintf(l, sizeof(l), "%s", known);
		else
			snprintf(l, sizeof(l), "state+0x%" PRIx64, off);
		if ((err = pyhs_heap_intern_string(h, l, &id))) {
			walker_fail(w, err);
			break;
		}
		state_ref(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id), root_id, known != NULL);
	}
	for (size_t k = 0; k < sizeof(state_arrays) / sizeof(state_arrays[0]) && !w->stop; k++) {
		const struct state_array *a = &state_arrays[k];
		uint64_t arr, first;
		uint32_t id;
		if (h->minor < a->min_minor || h->minor > a->max_minor ||
		    strcmp(a->m_name, def_name) || a->off + 8u > msize ||
		    !hrd(h, state + a->off, &arr) || !plausible_pointer(arr))
			continue;
		if ((err = pyhs_heap_intern_string(h, a->name, &id))) {
			walker_fail(w, err);
			break;
		}
		for (uint64_t e = 0; e < MAX_STATE_ARRAY && !w->stop; e++) {
			uint64_t entry = arr + e * a->entry_size;
			if (!hrd(h, entry, &first) || !first || !hrd(h, entry + a->ref, &v) ||
			    !plausible_pointer(v))
				break;
			state_ref(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id), root_id, true);
		}
	}
	w->cur_addr = sa;
	w->cur_end = se;
}

/* ---- one object ---- */

/* Kinds whose decoder scans the whole C struct itself. */
static bool scans_from_header(enum pyhs_kind kind)
{
	return kind == K_FUNCTION || kind == K_CODE || kind == K_MODULE ||
	       kind == K_LRU || kind == K_GEN;
}

static void owned_ref(void *arg, uint64_t target, uint32_t label)
{
	unsure_edge(arg, target, label);
}

static void decode(struct walker *w, uint32_t i)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t addr = h->addr.data[i];
	type_fields(w, &h->types.data[h->type.data[i]]);
	if (w->err)
		return;
	/* A copy: decoding registers new types, which moves the table. */
	const struct pyhs_type_info type_copy = h->types.data[h->type.data[i]];
	const struct pyhs_type_info *ti = &type_copy;
	uint64_t obsize = 0;
	if (ti->itemsize || ti->kind == K_LIST || ti->kind == K_DEQUE)
		hrd(h, addr + 16, &obsize);
	int64_t sobsize = (int64_t)obsize;
	uint64_t absize = pyhs_uabs64(sobsize);
	uint64_t size = (uint64_t)ti->basicsize +
			(ti->itemsize ? (uint64_t)ti->itemsize * absize : 0);
	w->cur = i;
	w->good = w->bad = 0;
	w->stop = w->err != NULL;
	w->cur_addr = addr;
	w->cur_end = addr + ((uint64_t)ti->basicsize > 16 ? (uint64_t)ti->basicsize : 16);
	if (!pyhs_target_ptr(h->t, addr, (size_t)ti->basicsize > 16 ? (size_t)ti->basicsize : 16)) {
		uint8_t probe[8];
		if (!pyhs_target_read(h->t, addr + (uint64_t)ti->basicsize - 8, probe, 8)) {
			h->flags.data[i] |= PYHS_OBJ_UNREADABLE;
			pyhs_heap_warn(h, PYHS_WARN_UNREADABLE,
				       "object 0x%" PRIx64 " (%" PRId64 " bytes) is only partly in the core",
				       addr, ti->basicsize);
		}
	}
	if (ti->heap)
		decode_instance(w, addr, ti, obsize);
	uint64_t v;
	switch (ti->kind) {
	case K_DICT:
		size = decode_dict(w, addr);
		break;
	case K_ODICT: {
		size = decode_dict(w, addr);
		uint64_t fast = 0, used = 0, first = 0;
		hrd_off(h, addr, L->odict_fast_nodes_size, &fast);
		hrd_off(h, addr, L->dict_ma_used, &used);
		/* od_first is the field right after the dict */
		hrd(h, addr + 48, &first);
		size += 8 * fast + (first ? ODICT_NODE_SIZE * used : 0);
		break;
	}
	case K_LIST:
		if (hrd_off(h, addr, L->list_ob_item, &v) && v)
			items(w, v, absize, false);
		hrd_off(h, addr, L->list_allocated, &v);
		size = (uint64_t)ti->basicsize + 8 * v;
		break;
	case K_TUPLE:
		items(w, addr + (uint64_t)L->tuple_ob_item, absize, false);
		break;
	case K_SET:
		size = decode_set(w, addr, ti);
		break;
	case K_STR:
		size = str_size(w, addr);
		break;
	case K_INT:
		size = int_size(w, addr);
		break;
	case K_BYTEARRAY:
		/* 3.15 keeps the buffer in a bytes object (ob_bytes_object),
		 * which bytearray.__sizeof__ counts whole. */
		if (hrd_off(h, addr, L->bytearray_ob_alloc, &v))
			size = (uint64_t)ti->basicsize + v +
			       (L->bytearray_ob_bytes_object >= 0 && v
					? (uint64_t)L->bytes_ob_sval + 1 : 0);
		break;
	case K_FLOAT:
	case K_COMPLEX:
	case K_BYTES:
	case K_OBJECT:
		break;
	case K_TYPE:
		size = decode_type(w, addr);
		break;
	case K_FRAME:
		size = decode_frame(w, addr, ti);
		break;
	case K_GEN:
		size = decode_gen(w, addr, ti);
		break;
	case K_DEQUE:
		size = decode_deque(w, addr, ti);
		break;
	case K_WEAKREF:
		if (hrd_off(h, addr, L->weakref_wr_object, &v) && v)
			unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_WEAK, 0));
		field(w, addr, L->weakref_wr_callback, w->id_callback);
		break;
	case K_LRU: {
		scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		uint64_t link = 0;
		hrd(h, addr + LRU_ELEM_NEXT, &link);
		/* A corrupt ring must not spin: bound it by the cache's size. */
		uint64_t cache = 0, cached = 0, limit = 1 << 20;
		if (hrd(h, addr + LRU_CACHE, &cache) && cache &&
		    hrd_off(h, cache, L->dict_ma_used, &cached) && cached < limit)
			limit = cached + 1;
		for (uint64_t k = 0; link && link != addr && k < limit && !w->stop; k++) {
			uint64_t key, result;
			if (hrd(h, link + LRU_ELEM_KEY, &key))
				unsure_edge(w, key, PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0));
			if (hrd(h, link + LRU_ELEM_RESULT, &result))
				unsure_edge(w, result, PYHS_LABEL(PYHS_LABEL_ITEM, 0));
			if (!hrd(h, link + LRU_ELEM_NEXT, &link))
				break;
		}
		break;
	}
	case K_MODULE:
		decode_module(w, addr, ti);
		break;
	case K_CODE:
		scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		break;
	case K_FUNCTION:
	case K_OPAQUE:
	default:
		scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		if (!ti->heap && ti->itemsize == 8 && absize < (1u << 20))
			scan(w, ti, addr, (uint64_t)ti->basicsize,
			     (uint64_t)ti->basicsize + 8 * absize);
		break;
	}
	/* Fields a static subtype adds to a decoded builtin (the factory
	 * of a defaultdict, the fields of an OrderedDict). */
	if (ti->kind != K_OPAQUE && ti->kind != K_OBJECT &&
	    ti->kind_basicsize > ti->base_basicsize && ti->base_basicsize >= 16 &&
	    !scans_from_header(ti->kind))
		scan(w, ti, addr, (uint64_t)ti->base_basicsize,
		     (uint64_t)ti->kind_basicsize);
	struct pyhs_error *err = pyhs_owned_refs(h, h->type.data[i], addr,
						 owned_ref, w);
	if (err)
		walker_fail(w, err);
	bool inexact;
	size = pyhs_size_adjust(h, h->type.data[i], addr, size, &inexact);
	if (inexact)
		h->flags.data[i] |= PYHS_OBJ_SIZE_INEXACT;
	h->size.data[i] = size + gc_extra(w, ti, addr);
}

/* ---- roots ---- */

/* A named root. holds_ref: the place it names owns a reference to the
 * object (counted when reconciling refcounts); a borrowed one does not. */
static void add_root(struct walker *w, uint64_t addr, const char *label,
		     bool holds_ref)
{
	if (!addr || w->err)
		return;
	uint32_t j = pyhs_heap_add(w->h, addr, false, &w->err);
	if (j == PYHS_NO_OBJECT)
		return;
	uint32_t id;
	struct pyhs_error *err = pyhs_heap_intern_string(w->h, label, &id);
	if (err) {
		walker_fail(w, err);
		return;
	}
	struct pyhs_root r = { j, id | (holds_ref ? 0 : PYHS_ROOT_BORROWED) };
	if (!pyhs_root_vector_append(&w->h->roots, r))
		walker_fail(w, &pyhs_enomem);
}

static void walk_gc_lists(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t gc = h->minor == 8 ? pyhs_target_runtime(h->t) + (uint64_t)L->rt_gc :
				      h->interp + (uint64_t)L->interp_gc;
	h->gc_state = gc;
	int32_t enabled = 0, collecting = 0;
	pyhs_target_read(h->t, gc + (uint64_t)L->gc_enabled, &enabled, 4);
	pyhs_target_read(h->t, gc + (uint64_t)L->gc_collecting, &collecting, 4);
	h->gc_enabled = enabled != 0;
	if (collecting)
		pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
			       "the core was taken during a garbage collection: objects being collected are on lists we cannot see");
	for (int g = 0; g < 4; g++) {
		uint64_t head = g < 3 ? gc + (uint64_t)L->gc_generations +
						(uint64_t)g * (uint64_t)L->gc_generation_size :
					gc + (uint64_t)L->gc_permanent_generation;
		pyhs_target_read(h->t, head + (uint64_t)L->gc_generation_threshold,
				 &h->gc[g].threshold, 4);
		pyhs_target_read(h->t, head + (uint64_t)L->gc_generation_count,
				 &h->gc[g].count, 4);
		uint64_t p;
		if (!hrd(h, head, &p)) {
			pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
				       "GC generation %d list head is unreadable", g);
			continue;
		}
		p &= ~UINT64_C(3);
		for (uint64_t steps = 0; p != head && !w->err; steps++) {
			if (steps >= MAX_LIST_STEPS) {
				pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
					       "GC generation %d list is too long", g);
				break;
			}
			uint32_t j = pyhs_heap_add(h, p + 16, false, &w->err);
			if (j == PYHS_NO_OBJECT) {
				if (!w->err)
					pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
						       "GC generation %d list leads to 0x%" PRIx64 ", which is not an object; rest of the list skipped",
						       g, p + 16);
				break;
			}
			if (h->gen.data[j] != PYHS_GEN_UNTRACKED) {
				pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
					       "GC generation %d list loops at 0x%" PRIx64 "; rest of the list skipped",
					       g, p + 16);
				break;
			}
			h->gen.data[j] = (uint8_t)g;
			h->gc[g].objects++;
			if (!hrd(h, p, &p)) {
				pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
					       "GC generation %d list is cut at 0x%" PRIx64, g, p);
				break;
			}
			p &= ~UINT64_C(3);
		}
	}
}

/* "frame NAME (FILE:LINE)", or "frame NAME (FILE)" when the line is
 * unknown. instr: f_lasti (<=3.10, sign-extended) or the interpreter frame's
 * prev_instr/instr_ptr (3.11+, is_iframe); see pyhs_frame_line. */
static void frame_description(struct walker *w, uint64_t code, uint64_t instr,
			      bool is_iframe, char *buf, size_t n)
{
	char name[128], file[256];
	int line;
	pyhs_code_location(w->h, code, instr, is_iframe, false, name, sizeof(name),
			   file, sizeof(file), &line);
	const char *base = strrchr(file, '/');
	char at[16] = "";
	if (line > 0)
		snprintf(at, sizeof(at), ":%d", line);
	snprintf(buf, n, "frame %s (%s%s)", name, base ? base + 1 : file, at);
}

static void walk_thread_frames(struct walker *w, uint64_t tstate, size_t k)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	char label[512], desc[400];
	uint64_t f = 0;
	if (h->minor <= 10) {
		hrd_off(h, tstate, L->tstate_frame, &f);
		for (int n = 0; f && n < MAX_FRAMES && !w->err; n++) {
			uint64_t code = 0;
			hrd_off(h, f, L->frame_f_code, &code);
			if (!frame_code(w, code))
				break;
			int32_t lasti = -2; /* unreadable: no line */
			if (L->frame_f_lasti >= 0)
				pyhs_target_read(h->t, f + (uint64_t)L->frame_f_lasti,
						 &lasti, sizeof(lasti));
			frame_description(w, code, (uint64_t)(int64_t)lasti, false,
					  desc, sizeof(desc));
			snprintf(label, sizeof(label), "thread %zu %s", k, desc);
			add_root(w, f, label, false);
			if (!hrd_off(h, f, L->frame_f_back, &f))
				break;
		}
		return;
	}
	if (h->minor <= 12) {
		uint64_t cframe;
		if (!hrd_off(h, tstate, L->tstate_cframe, &cframe) || !cframe ||
		    !hrd_off(h, cframe, L->cframe_current_frame, &f))
			return;
	} else if (!hrd_off(h, tstate, L->tstate_current_frame, &f)) {
		return;
	}
	uint8_t owner_thread = 0, owner_gen = 1, owner_frame_obj = 2;
	uint64_t gen_off = (uint64_t)L->gen_gi_iframe;
	for (int n = 0; f && n < MAX_FRAMES && !w->err; n++) {
		uint8_t owner = 0;
		uint64_t code = 0, fobj = 0;
		pyhs_target_read(h->t, f + (uint64_t)L->iframe_owner, &owner, 1);
		hrd_off(h, f, L->iframe_code, &code);
		code &= ~UINT64_C(3);
		hrd_off(h, f, L->iframe_frame_obj, &fobj);
		if (frame_code(w, code)) {
			uint64_t instr = 0;
			hrd_off(h, f, L->iframe_instr, &instr);
			frame_description(w, code, instr, true, desc, sizeof(desc));
			snprintf(label, sizeof(label), "thread %zu %s", k, desc);
			if (owner == owner_gen) {
				add_root(w, f - gen_off, label, false);
			} else if (owner == owner_frame_obj) {
				add_root(w, fobj, label, false);
			} else if (owner == owner_thread) {
				/* Its references are roots, labelled by the frame. */
				uint32_t before = (uint32_t)h->edge_dst.size;
				size_t pbefore = w->pending.size;
				uint32_t saved_cur = w->cur;
				uint64_t sa = w->cur_addr, se = w->cur_end;
				w->cur_addr = f;
				w->cur_end = f + (uint64_t)L->iframe_localsplus;
				decode_iframe(w, f, 0, 0);
				for (uint64_t e = before; e < h->edge_dst.size && !w->err; e++) {
					char l[128], full[700];
					uint32_t lab0 = h->edge_label.data[e];
					/* Values are not read yet: name locals here. */
					if (PYHS_LABEL_KIND(lab0) == PYHS_LABEL_LOCAL) {
						char nm[120];
						if (!pyhs_read_str(h, h->addr.data[PYHS_LABEL_PAYLOAD(lab0)],
								   nm, sizeof(nm)))
							snprintf(nm, sizeof(nm), "?");
						snprintf(full, sizeof(full), "%s local %s", label, nm);
					} else if (pyhs_heap_format_label(h, lab0, l, sizeof(l)))
						snprintf(full, sizeof(full), "%s %s", label, l);
					else
						snprintf(full, sizeof(full), "%s", label);
					uint32_t lab = h->edge_label.data[e];
					bool borrowed = lab == PYHS_LABEL(PYHS_LABEL_FIELD, w->id_globals) ||
							lab == PYHS_LABEL(PYHS_LABEL_FIELD, w->id_builtins);
					add_root(w, h->addr.data[h->edge_dst.data[e]], full, !borrowed);
				}
				h->edge_dst.size = before;
				h->edge_label.size = before;
				/* Words of its value stack: roots once resolved. */
				for (size_t p = pbefore; p < w->pending.size && !w->err; p++) {
					char l[128], full[700];
					uint32_t id;
					if (!pyhs_heap_format_label(h, w->pending.data[p].label, l, sizeof(l)))
						l[0] = '\0';
					snprintf(full, sizeof(full), "%s %s", label, l);
					struct pyhs_error *err = pyhs_heap_intern_string(h, full, &id);
					struct pending_ref r = { w->pending.data[p].addr, PYHS_NO_OBJECT, id };
					if (err)
						walker_fail(w, err);
					else if (!pending_ref_vector_append(&w->pending_roots, r))
						walker_fail(w, &pyhs_enomem);
				}
				w->pending.size = pbefore;
				w->cur = saved_cur;
				w->cur_addr = sa;
				w->cur_end = se;
				if (fobj)
					add_root(w, fobj, label, true);
			}
		}
		if (!hrd_off(h, f, L->iframe_previous, &f))
			break;
	}
}

/* ---- the interned strings without a symbol ---- */

/* The most entries a dict taken for the interned strings may have. */
#define MAX_INTERNED_ENTRIES (UINT64_C(1) << 24)
#define DATA_CHUNK 4096

struct interned_check {
	const struct pyhs_heap *h;
	uint64_t n;
	bool bad;
};

static bool interned_entry_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct interned_check *c = arg;
	const struct pyhs_heap *h = c->h;
	uint64_t type;
	uint32_t state = 0;
	/* The table maps each interned str to itself; its state's low two
	 * bits (SSTATE_INTERNED_*) say it is interned. */
	if (key != value || !hrd(h, key + 8, &type) || type != h->str_type ||
	    !pyhs_target_read(h->t, key + (uint64_t)h->L->ascii_state, &state, 4) ||
	    !(state & 3)) {
		c->bad = true;
		return false;
	}
	c->n++;
	return true;
}

/* Is the object at addr a dict of the interned strings: an exact dict, not
 * empty, whose every entry maps an interned str to itself? */
static bool looks_interned(const struct pyhs_heap *h, uint64_t addr,
			   uint64_t dict_type)
{
	const struct pyhs_layout *L = h->L;
	uint64_t type, used, values, keys, nentries;
	if (!hrd(h, addr + 8, &type) || type != dict_type ||
	    !hrd_off(h, addr, L->dict_ma_used, &used) || !used ||
	    !hrd_off(h, addr, L->dict_ma_values, &values) || values ||
	    !hrd_off(h, addr, L->dict_ma_keys, &keys) ||
	    !hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    nentries < used || nentries > MAX_INTERNED_ENTRIES)
		return false;
	struct interned_check c = { .h = h };
	return pyhs_dict_foreach(h, addr, interned_entry_cb, &c, NULL) &&
	       !c.bad && c.n == used;
}

/* 3.8 to 3.11 keep the interned strings in a static variable of
 * unicodeobject.c, 'interned', a local symbol that only .symtab or a debug
 * file names. Without them, the table is looked for in the writable data
 * of the file holding _PyRuntime: a word there pointing to a dict that
 * looks_interned(). Exactly one such dict is trusted; none, or several,
 * and the table is not found. */
static uint64_t find_interned_in_data(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	uint64_t dict_type, found = 0, start, end;
	bool ambiguous = false;
	if (!h->str_type || !pyhs_target_symbol(h->t, "PyDict_Type", &dict_type))
		return 0;
	for (size_t i = 0; !ambiguous && pyhs_target_py_data(h->t, i, &start, &end); i++) {
		start &= ~(uint64_t)7;
		for (uint64_t at = start; at < end && !ambiguous; at += DATA_CHUNK) {
			uint64_t buf[DATA_CHUNK / 8];
			size_t n = end - at < DATA_CHUNK ? (size_t)(end - at) : DATA_CHUNK;
			if (!pyhs_target_read(h->t, at, buf, n / 8 * 8))
				continue;
			for (size_t k = 0; k < n / 8 && !ambiguous; k++) {
				uint64_t v = buf[k];
				if (!v || (v & 7) || v == found ||
				    !looks_interned(h, v, dict_type))
					continue;
				if (found)
					ambiguous = true;
				else
					found = v;
			}
		}
	}
	return ambiguous ? 0 : found;
}

static void walk_interned(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t v = 0;
	if (L->interp_interned >= 0) {
		if (hrd_off(h, h->interp, L->interp_interned, &v) && v) {
			add_root(w, v, "interned strings", true);
			return;
		}
	} else if ((pyhs_target_symbol(h->t, "interned", &v) ||
		    pyhs_target_symbol(h->t, "interned.lto_priv.0", &v)) &&
		   hrd(h, v, &v) && v) {
		add_root(w, v, "interned strings", true);
		return;
	}
	if ((v = find_interned_in_data(w))) {
		add_root(w, v, "interned strings", true);
		return;
	}
	pyhs_heap_warn(h, PYHS_WARN_MISSING_ROOT,
		       "the interned strings table was not found (no symbol names it in '%s' and no dict in its data holds only interned strings): interned strings nothing else refers to are missing, and references to the others unexplained",
		       pyhs_target_py_library(h->t));
}

static void walk_roots(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t v;
	if (hrd_off(h, h->interp, L->interp_sysdict, &v))
		add_root(w, v, "sys", true);
	if (hrd_off(h, h->interp, L->interp_modules, &v))
		add_root(w, v, "sys.modules", true);
	if (hrd_off(h, h->interp, L->interp_builtins, &v))
		add_root(w, v, "builtins", true);
	walk_interned(w);
	/* Threads, newest first in the interpreter's list (a set of those
	 * seen tells a list that loops). */
	uint64_t ts = 0;
	hrd_off(h, h->interp, L->interp_tstate_head, &ts);
	struct pyhs_addr_u32_map seen;
	pyhs_addr_u32_map_init(&seen);
	for (size_t k = 0; ts && k < MAX_THREADS && !w->err; k++) {
		struct pyhs_thread th = { .tstate = ts };
		hrd_off(h, ts, L->tstate_thread_id, &th.ident);
		if (L->tstate_native_thread_id >= 0)
			hrd_off(h, ts, L->tstate_native_thread_id, &th.native_id);
		bool inserted;
		if (!pyhs_addr_u32_map_insert(&seen, ts, &inserted)) {
			walker_fail(w, &pyhs_enomem);
			break;
		}
		if (!inserted) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
				       "thread state list loops at 0x%" PRIx64, ts);
			break;
		}
		if (!pyhs_thread_vector_append(&h->threads, th)) {
			walker_fail(w, &pyhs_enomem);
			break;
		}
		char label[64];
		snprintf(label, sizeof(label), "thread %zu dict", k);
		if (hrd_off(h, ts, L->tstate_dict, &v))
			add_root(w, v, label, true);
		walk_thread_frames(w, ts, k);
		if (!hrd_off(h, ts, L->tstate_next, &ts))
			break;
	}
	pyhs_addr_u32_map_deinit(&seen);
}

/* ---- conservative references, once every object is known ---- */

/* Makes the pending edges and roots whose words are objects' addresses,
 * and merges the edges into each source's run. edge_start has its final
 * entry. */
static struct pyhs_error *resolve_pending(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	for (size_t k = 0; k < w->pending_roots.size; k++) {
		const struct pending_ref *r = &w->pending_roots.data[k];
		uint32_t j = pyhs_heap_lookup(h, r->addr);
		struct pyhs_root root = { j, r->label };
		if (j != PYHS_NO_OBJECT && !pyhs_root_vector_append(&h->roots, root))
			return &pyhs_enomem;
	}
	size_t kept = 0;
	for (size_t k = 0; k < w->pending.size; k++) {
		struct pending_ref p = w->pending.data[k];
		uint32_t j = pyhs_heap_lookup(h, p.addr);
		if (j == PYHS_NO_OBJECT)
			continue;
		p.addr = j;
		w->pending.data[kept++] = p;
	}
	uint64_t nedges = h->edge_dst.size;
	if (nedges + kept > h->max_edges) {
		if (h->warn_count[PYHS_WARN_CAP]++ == 0)
			pyhs_heap_warn(h, PYHS_WARN_CAP,
				       "stopped at %" PRIu64 " references (raise the cap with --max-edges)",
				       h->max_edges);
		kept = nedges < h->max_edges ? (size_t)(h->max_edges - nedges) : 0;
	}
	if (!kept)
		return NULL;
	if (!pyhs_u32_vector_reserve(&h->edge_dst, nedges + kept) ||
	    !pyhs_u32_vector_reserve(&h->edge_label, nedges + kept))
		return &pyhs_enomem;
	h->edge_dst.size = h->edge_label.size = nedges + kept;
	uint32_t *dst = h->edge_dst.data, *lab = h->edge_label.data;
	uint64_t *es = h->edge_start.data;
	uint64_t wpos = nedges + kept;
	size_t p = kept;
	/* From the last object down, each run moves up by the pending edges
	 * of the objects before it; the pending ones go after it. */
	for (uint64_t i = h->addr.size; i-- > 0;) {
		uint64_t start = es[i], end = es[i + 1];
		es[i + 1] = wpos;
		while (p > 0 && w->pending.data[p - 1].src == i) {
			p--;
			wpos--;
			dst[wpos] = (uint32_t)w->pending.data[p].addr;
			lab[wpos] = w->pending.data[p].label;
		}
		for (uint64_t e = end; e-- > start;) {
			wpos--;
			dst[wpos] = dst[e];
			lab[wpos] = lab[e];
		}
	}
	return NULL;
}

/* ---- names of closure cells ---- */

/* Names the contents of the cell object cell by the variable whose value
 * it holds (the str object at name), unless it is named already. */
static struct pyhs_error *name_cell(struct walker *w, uint64_t cell_type,
				    uint32_t cell, uint64_t name)
{
	struct pyhs_heap *h = w->h;
	char s[100], label[128];
	if (cell == PYHS_NO_OBJECT || h->types.data[h->type.data[cell]].addr != cell_type)
		return NULL;
	uint32_t plain = PYHS_LABEL(PYHS_LABEL_FIELD, w->id_cell_contents);
	for (uint64_t e = h->edge_start.data[cell]; e < h->edge_start.data[cell + 1]; e++) {
		if (h->edge_label.data[e] != plain)
			continue;
		if (!pyhs_read_str(h, name, s, sizeof(s)))
			return NULL;
		snprintf(label, sizeof(label), ".cell_contents (%s)", s);
		uint32_t id;
		struct pyhs_error *err = pyhs_heap_intern_string(h, label, &id);
		if (err)
			return err;
		h->edge_label.data[e] = PYHS_LABEL(PYHS_LABEL_FIELD, id);
		break;
	}
	return NULL;
}

static uint64_t tuple_item(const struct pyhs_heap *h, uint64_t tuple, uint64_t i)
{
	uint64_t n, v;
	if (!tuple || !hrd(h, tuple + 16, &n) || i >= n ||
	    !hrd(h, tuple + (uint64_t)h->L->tuple_ob_item + 8 * i, &v))
		return 0;
	return v;
}

/* A function's cells (its __closure__) by its code's free variables. */
static struct pyhs_error *name_closure(struct walker *w, uint64_t cell_type,
				       uint64_t func)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t closure, code, names, kinds = 0, n;
	if (!hrd_off(h, func, L->func_closure, &closure) || !closure ||
	    !hrd_off(h, func, L->func_code, &code) || !code)
		return NULL;
	if (L->code_localsplusnames < 0) {
		if (!hrd_off(h, code, L->code_freevars, &names))
			return NULL;
	} else if (!hrd_off(h, code, L->code_localsplusnames, &names) ||
		   !hrd_off(h, code, L->code_localspluskinds, &kinds) || !kinds) {
		return NULL;
	}
	if (!names || !hrd(h, names + 16, &n) || n > (1u << 16))
		return NULL;
	uint64_t k = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t kind = 0x80; /* CO_FAST_FREE */
		if (kinds && !pyhs_target_read(h->t, kinds + (uint64_t)L->bytes_ob_sval + i, &kind, 1))
			return NULL;
		if (!(kind & 0x80))
			continue;
		uint64_t cell = tuple_item(h, closure, k++);
		uint64_t name = tuple_item(h, names, i);
		if (!cell || !name)
			return NULL;
		struct pyhs_error *err = name_cell(w, cell_type, pyhs_heap_lookup(h, cell), name);
		if (err)
			return err;
	}
	return NULL;
}

/* Cells held by functions (free variables) and by frames (locals). */
static struct pyhs_error *name_cells(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	uint64_t cell_type;
	struct pyhs_error *err = NULL;
	if (!pyhs_target_symbol(h->t, "PyCell_Type", &cell_type))
		return NULL;
	for (uint64_t i = 0; i < h->addr.size && !err; i++) {
		if (h->types.data[h->type.data[i]].kind == K_FUNCTION)
			err = name_closure(w, cell_type, h->addr.data[i]);
	}
	for (uint64_t e = 0; e < h->edge_dst.size && !err; e++) {
		uint32_t lab = h->edge_label.data[e];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_LOCAL)
			err = name_cell(w, cell_type, h->edge_dst.data[e],
					h->addr.data[PYHS_LABEL_PAYLOAD(lab)]);
	}
	return err;
}

static struct pyhs_error *intern_ids(struct walker *w)
{
	struct { uint32_t *id; const char *s; } names[] = {
		{ &w->id_class, ".__class__" }, { &w->id_dict, ".__dict__" },
		{ &w->id_mro, ".__mro__" }, { &w->id_bases, ".__bases__" },
		{ &w->id_base, ".__base__" }, { &w->id_name, ".__name__" },
		{ &w->id_qualname, ".__qualname__" }, { &w->id_slots, ".__slots__" },
		{ &w->id_module, ".__module__" }, { &w->id_cache, ".tp_cache" },
		{ &w->id_subclasses, ".__subclasses__" },
		{ &w->id_callback, ".__callback__" }, { &w->id_code, ".f_code" },
		{ &w->id_func, ".f_func" }, { &w->id_globals, ".f_globals" },
		{ &w->id_builtins, ".f_builtins" }, { &w->id_locals, ".f_locals" },
		{ &w->id_back, ".f_back" }, { &w->id_frame, ".frame" },
		{ &w->id_items, ".items" }, { &w->id_values, ".values" },
		{ &w->id_cell_contents, ".cell_contents" },
		{ &w->id_cr_await, ".cr_await" }, { &w->id_ag_await, ".ag_await" },
		{ &w->id_gi_yieldfrom, ".gi_yieldfrom" },
		{ &w->id_f_yieldfrom, ".f_yieldfrom" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct pyhs_error *err = pyhs_heap_intern_string(w->h, names[i].s,
								 names[i].id);
		if (err)
			return err;
	}
	return NULL;
}

/* The value of a small non-negative int object (up to 64 bits). */
static bool read_small_int(const struct pyhs_heap *h, uint64_t addr, uint64_t *ret)
{
	const struct pyhs_layout *L = h->L;
	uint64_t tag, n, v = 0;
	if (!hrd(h, addr + 16, &tag))
		return false;
	if (L->long_lv_tag >= 0) {
		if ((tag & 3) == 2)
			return false;
		n = tag >> 3;
	} else {
		if ((int64_t)tag < 0)
			return false;
		n = tag;
	}
	if (n > 3)
		return false;
	for (uint64_t i = n; i-- > 0;) {
		uint32_t d;
		if (!pyhs_target_read(h->t, addr + (uint64_t)L->long_digit + 4 * i, &d, 4))
			return false;
		v = (v << 30) | d;
	}
	*ret = v;
	return true;
}

/* An attribute of an instance, found among its decoded references: a
 * managed value labelled .name, or an entry of its __dict__. */
static uint64_t instance_attr(struct pyhs_heap *h, uint32_t obj, const char *name,
			      uint32_t dict_id)
{
	char s[128];
	for (uint64_t e = h->edge_start.data[obj]; e < h->edge_start.data[obj + 1]; e++) {
		uint32_t lab = h->edge_label.data[e];
		uint64_t dst = h->addr.data[h->edge_dst.data[e]];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_ATTR &&
		    pyhs_read_str(h, h->addr.data[PYHS_LABEL_PAYLOAD(lab)], s, sizeof(s)) &&
		    !strcmp(s, name))
			return dst;
		if (lab == PYHS_LABEL(PYHS_LABEL_FIELD, dict_id)) {
			uint64_t v = pyhs_dict_get_str(h, dst, name);
			if (v)
				return v;
		}
	}
	return 0;
}

struct thread_match {
	const struct pyhs_heap *h;
	uint64_t ident;
	uint64_t thread;
};

static bool match_ident(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct thread_match *m = arg;
	uint64_t ident;
	if (read_small_int(m->h, key, &ident) && ident == m->ident) {
		m->thread = value;
		return false;
	}
	return true;
}

/* "thread 1 frame ..." becomes "thread 1 (worker-0) frame ...": the name of
 * the threading.Thread whose ident the thread state has, from
 * threading._active. */
static struct pyhs_error *name_threads(struct pyhs_heap *h)
{
	const struct pyhs_layout *L = h->L;
	uint64_t sysdict, modules, threading, mdict, active;
	uint32_t dict_id;
	struct pyhs_error *err = pyhs_heap_intern_string(h, ".__dict__", &dict_id);
	if (err)
		return err;
	if (!hrd_off(h, h->interp, L->interp_sysdict, &sysdict) || !sysdict ||
	    !(modules = pyhs_dict_get_str(h, sysdict, "modules")) ||
	    !(threading = pyhs_dict_get_str(h, modules, "threading")) ||
	    !hrd_off(h, threading, L->module_md_dict, &mdict) || !mdict ||
	    !(active = pyhs_dict_get_str(h, mdict, "_active")))
		return NULL;
	for (size_t k = 0; k < h->threads.size; k++) {
		struct thread_match m = { h, h->threads.data[k].ident, 0 };
		pyhs_dict_foreach(h, active, match_ident, &m, NULL);
		uint32_t obj = m.thread ? pyhs_heap_lookup(h, m.thread) : PYHS_NO_OBJECT;
		if (obj == PYHS_NO_OBJECT)
			continue;
		uint64_t name_addr = instance_attr(h, obj, "_name", dict_id);
		char name[96];
		if (!name_addr || !pyhs_read_str(h, name_addr, name, sizeof(name)))
			continue;
		char prefix[32];
		int plen = snprintf(prefix, sizeof(prefix), "thread %zu ", k);
		for (uint64_t r = 0; r < h->roots.size; r++) {
			uint32_t id = h->roots.data[r].label & ~PYHS_ROOT_BORROWED;
			const char *old = h->strings.data[id];
			if (strncmp(old, prefix, (size_t)plen) != 0)
				continue;
			char *label;
			if (asprintf(&label, "thread %zu (%s) %s", k, name, old + plen) < 0)
				return &pyhs_enomem;
			uint32_t nid;
			err = pyhs_heap_intern_string(h, label, &nid);
			free(label);
			if (err)
				return err;
			h->roots.data[r].label = nid | (h->roots.data[r].label & PYHS_ROOT_BORROWED);
		}
	}
	return NULL;
}

#define MAX_LIST_TASKS (UINT64_C(1) << 24)

/* One 3.14+ list of tasks (a circular llist through TaskObj.task_node) as
 * borrowed roots named label. */
static void walk_task_list(struct walker *w, uint64_t head, int32_t node_off,
			   const char *label)
{
	struct pyhs_heap *h = w->h;
	uint64_t node;
	if (!hrd(h, head, &node))
		return;
	for (uint64_t k = 0; node && node != head && !w->err; k++) {
		if (k >= MAX_LIST_TASKS) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT, "%s is too long or loops", label);
			return;
		}
		uint64_t task = node - (uint64_t)node_off;
		if (pyhs_heap_add(h, task, true, &w->err) == PYHS_NO_OBJECT) {
			if (!w->err)
				pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
					       "%s leads to 0x%" PRIx64 ", which is not a task; rest of the list skipped",
					       label, task);
			return;
		}
		add_root(w, task, label, false);
		if (!hrd(h, node, &node))
			return;
	}
}

/* 3.14+: the tasks of each thread, and of the threads that have ended. */
static void walk_task_lists(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_asyncio_layout *A = &h->asyncio;
	if (A->task_node < 0)
		return;
	char label[64];
	for (size_t k = 0; k < h->threads.size && A->tstate_tasks_head >= 0; k++) {
		snprintf(label, sizeof(label), "thread %zu asyncio task list", k);
		walk_task_list(w, h->threads.data[k].tstate + (uint64_t)A->tstate_tasks_head,
			       A->task_node, label);
	}
	if (A->interp_tasks_head >= 0)
		walk_task_list(w, h->interp + (uint64_t)A->interp_tasks_head, A->task_node,
			       "interpreter asyncio task list");
}

/* sys.hexversion, which has the patch level the binary may not. */
static void read_hexversion(struct pyhs_heap *h)
{
	const struct pyhs_layout *L = h->L;
	uint64_t sysdict, word, digit = 0;
	if (!hrd_off(h, h->interp, L->interp_sysdict, &sysdict) || !sysdict)
		return;
	uint64_t hv = pyhs_dict_get_str(h, sysdict, "hexversion");
	if (hv && hrd(h, hv + 16, &word)) {
		uint64_t nd = L->long_lv_tag >= 0 ? word >> 3 : word;
		if (nd == 1 && pyhs_target_read(h->t, hv + (uint64_t)L->long_digit, &digit, 4) &&
		    (digit >> 24) == 3)
			h->meta.hexversion = (uint32_t)digit;
	}
}

struct pyhs_error *pyhs_walk(struct pyhs_heap *h)
{
	struct walker w = { .h = h };
	const struct pyhs_layout *L = h->L;
	struct pyhs_error *err = intern_ids(&w);
	if (err)
		return err;
	pyhs_target_symbol(h->t, "PyCoro_Type", &w.coro_type);
	pyhs_target_symbol(h->t, "PyAsyncGen_Type", &w.asyncgen_type);
	if (!hrd_off(h, pyhs_target_runtime(h->t), L->rt_interpreters_head,
		     &h->interp) || !h->interp)
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "cannot read the interpreter state");
	walk_gc_lists(&w);
	walk_roots(&w);
	pyhs_croots_find(h, &w, &w.err);
	uint64_t v;
	if (!w.err && hrd_off(h, h->interp, L->interp_sysdict, &v) && v) {
		uint64_t s = pyhs_dict_get_str(h, v, "version");
		char buf[256];
		if (s && pyhs_read_str(h, s, buf, sizeof(buf)) &&
		    !(h->meta.version = pyhs_heap_own(h, buf)))
			w.err = &pyhs_enomem;
	}
	read_hexversion(h);
	size_t types_rooted = 0;
	bool task_lists = false;
	for (uint64_t i = 0; i < h->addr.size && !w.err; i++) {
		if (!pyhs_u64_vector_append(&h->edge_start, h->edge_dst.size)) {
			w.err = &pyhs_enomem;
			break;
		}
		decode(&w, (uint32_t)i);
		/* Once a task has been met (and with it the layout of
		 * _asyncio), the lists 3.14+ keep tasks on. */
		if (!task_lists && h->asyncio_state == 1) {
			task_lists = true;
			walk_task_lists(&w);
		}
		if ((i & 0xffff) == 0xffff)
			pyhs_heap_progress(h, "walking the heap", i + 1, 0);
		/* Static types met as the type of an object are roots. */
		while (types_rooted < h->types.size && !w.err) {
			const struct pyhs_type_info *ti = &h->types.data[types_rooted++];
			if (!ti->heap) {
				char label[300], name[256] = "?";
				uint64_t np;
				if (hrd_off(h, ti->addr, L->type_tp_name, &np))
					pyhs_read_cstr(h, np, name, sizeof(name));
				snprintf(label, sizeof(label), "type %s", name);
				add_root(&w, ti->addr, label, false);
			}
		}
	}
	if (!w.err && !pyhs_u64_vector_append(&h->edge_start, h->edge_dst.size))
		w.err = &pyhs_enomem;
	if (!w.err)
		w.err = resolve_pending(&w);
	if (!w.err)
		w.err = name_cells(&w);
	pyhs_croots(h, &w, add_root, &w.err);
	pending_ref_vector_deinit(&w.pending);
	pending_ref_vector_deinit(&w.pending_roots);
	if (w.err)
		return w.err;
	err = name_threads(h);
	if (err)
		return err;
	for (uint64_t i = 0; i < h->addr.size; i++) {
		uint8_t g = h->gen.data[i];
		if (g < 4)
			h->gc[g].bytes += h->size.data[i];
	}
	return NULL;
}

const struct pyhs_asyncio_layout *pyhs_heap_asyncio_layout(struct pyhs_heap *h)
{
	if (h->asyncio_state == 0 && h->t) {
		/* The built-in tables differ between patch releases. */
		if (!h->meta.hexversion && h->interp)
			read_hexversion(h);
		struct pyhs_error *err = pyhs_target_asyncio_layout(h->t, h->meta.hexversion,
								    &h->asyncio);
		h->asyncio_state = err ? -1 : 1;
		if (err) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
				       "asyncio Future and Task objects are scanned without names: %s",
				       err->message);
			pyhs_error_destroy(err);
		}
	}
	return h->asyncio_state == 1 ? &h->asyncio : NULL;
}
