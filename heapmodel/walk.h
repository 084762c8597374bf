/* Internal: the heap walk's state, shared by walk*.c, and its decoding
 * helpers used elsewhere in the heap model. */
#ifndef PYHS_WALK_H
#define PYHS_WALK_H

#include "heap_internal.h"

/* Calls cb(arg, key, value, entry_index) for each live item of a dict
 * object; stops early when cb returns false. *ret_size, if not NULL,
 * receives what dict.__sizeof__ would return. False if unreadable. */
bool pyhs_dict_foreach(const struct pyhs_heap *h, uint64_t dict,
		       bool (*cb)(void *arg, uint64_t key, uint64_t value,
				  uint64_t i),
		       void *arg, uint64_t *ret_size);

/* sizeof of a PyDictKeysObject (_PyDict_KeysSize). */
uint64_t pyhs_dict_keys_size(const struct pyhs_heap *h, uint64_t keys);

/* Where a str object's characters are, how many, and their width. */
bool pyhs_str_data(const struct pyhs_heap *h, uint64_t addr, uint64_t *data,
		   uint64_t *length, unsigned *kind);

#define TPFLAGS_INLINE_VALUES (UINT64_C(1) << 2)
#define TPFLAGS_MANAGED_WEAKREF (UINT64_C(1) << 3)
#define TPFLAGS_MANAGED_DICT (UINT64_C(1) << 4)
#define TPFLAGS_HEAPTYPE (UINT64_C(1) << 9)
#define TPFLAGS_HAVE_GC (UINT64_C(1) << 14)

#define T_OBJECT 6
#define T_OBJECT_EX 16

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

/* A word of C memory that may point to an object: an edge of object src,
 * made once the walk is over if the word is then the address of an object
 * found through a verified type (a pending_root likewise makes a root). A
 * conservative scan never creates an object. */
struct pending_ref {
	uint64_t addr;
	uint32_t src;
	uint32_t label;
};
DEFINE_VECTOR(pending_ref_vector, struct pending_ref)
struct pending_root {
	uint64_t addr;
	struct pyhs_root_info info;
};
DEFINE_VECTOR(pending_root_vector, struct pending_root)

#define WALK_AHEAD 32
struct walker {
	struct pyhs_heap *h;
	struct pyhs_error *err;
	bool stop;            /* w->err set, or the current object given up */
	uint64_t good, bad;   /* references of the current object */
	uint32_t cur;
	uint64_t cur_addr, cur_end; /* extent of the object being decoded */
	struct pending_ref_vector pending;       /* edges, by source */
	struct pending_root_vector pending_roots;
	/* Addresses only conservative scanning found (pyhs_croots_find): each
	 * made an object once the walk has run out of others, if nothing
	 * else made it one, and kept only if it decodes with no warning. */
	struct pyhs_u64_vector candidates;
	size_t next_candidate;
	uint32_t id_class, id_dict, id_mro, id_bases, id_base, id_name,
		 id_qualname, id_slots, id_module, id_cache, id_subclasses,
		 id_callback, id_code, id_func, id_globals, id_builtins,
		 id_locals, id_back, id_frame, id_items, id_values,
		 id_cell_contents, id_cr_await, id_ag_await, id_gi_yieldfrom,
		 id_f_yieldfrom;
	uint64_t coro_type, asyncgen_type;
	/* walk.c: objects about to be decoded, their bytes in the core. */
	struct walk_ahead {
		uint64_t addr;
		const uint8_t *p;
	} ahead[WALK_AHEAD];
};

/* Fields of C types that no PyMemberDef names, by tp_name and version:
 * name NULL for a word that is not a reference. Offsets from the structs
 * of each version (x86-64); known_fields.h is generated from DWARF. */
struct known_field {
	const char *tp_name;
	uint8_t min_minor, max_minor;
	uint16_t off;
	const char *name;
};

/* How many references ahead of the one being made a container's items
 * have their index slots fetched. */
#define WALK_PREFETCH 16

/* Object structs scanned for pointers are scanned up to this size. */
#define MAX_SCANNED_BYTES 4096

/* ---- across the walk's files ---- */

/* walk.c */
/* Stops the walk with err (the current object's decoding first). */
void walker_fail(struct walker *w, struct pyhs_error *err);
/* A reference the type's layout says is an object pointer. */
uint32_t walk_edge(struct walker *w, uint64_t addr, uint32_t label);
bool walk_plausible_pointer(uint64_t v);
/* A word a verified type says holds an object pointer, or NULL, or a
 * pointer that may be stale (a value stack above its live top): made an
 * object only if the whole of it validates, and no warning if not. */
void walk_unsure_edge(struct walker *w, uint64_t v, uint32_t label);
/* A word of C memory no type describes: an edge of the current object if,
 * once the walk is over, it is the address of an object. */
void walk_conservative_edge(struct walker *w, uint64_t v, uint32_t label);
uint32_t walk_field(struct walker *w, uint64_t addr, int32_t off,
		    uint32_t name_id);

/* walk_types.c */
void walk_type_fields(struct walker *w, struct pyhs_type_info *ti);
uint32_t walk_field_label(const struct pyhs_type_info *ti, uint64_t off);
/* The word at off of an object of type ti: a named field (a reference its
 * type declares), a word that holds none, or a word of its C struct no
 * table describes, a reference only if the whole object it points to
 * validates (raw C data that only looks like a pointer, as ctypes'
 * buffers hold, is named FIELD_CMEM by type_fields). */
void walk_scan_word(struct walker *w, const struct pyhs_type_info *ti,
		    uint64_t off, uint64_t v);
/* Says once per type that instances of the current object's type were
 * scanned only in part. */
void walk_scan_capped(struct walker *w);
/* Scans the words [from, to) of the object for object pointers. */
void walk_scan(struct walker *w, const struct pyhs_type_info *ti,
	       uint64_t addr, uint64_t from, uint64_t to);
uint64_t walk_decode_type(struct walker *w, uint64_t addr);

/* walk_objects.c */
uint64_t walk_decode_dict(struct walker *w, uint64_t addr);
void walk_items(struct walker *w, uint64_t base, uint64_t n, bool stackref);
uint64_t walk_decode_set(struct walker *w, uint64_t addr,
			 const struct pyhs_type_info *ti);
uint64_t walk_decode_deque(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti);
void walk_decode_instance(struct walker *w, uint64_t addr,
			  const struct pyhs_type_info *ti, uint64_t obsize);
uint64_t walk_str_size(struct walker *w, uint64_t addr);
uint64_t walk_int_size(struct walker *w, uint64_t addr);
uint64_t walk_gc_extra(struct walker *w, const struct pyhs_type_info *ti,
		       uint64_t addr);
void walk_decode_module(struct walker *w, uint64_t addr,
			const struct pyhs_type_info *ti);

/* walk_frames.c */
uint64_t walk_decode_frame(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti);
uint64_t walk_decode_gen(struct walker *w, uint64_t addr,
			 const struct pyhs_type_info *ti);
void walk_thread_frames(struct walker *w, uint64_t tstate, size_t k);
/* Cells held by functions (free variables) and by frames (locals). */
struct pyhs_error *walk_name_cells(struct walker *w);

/* walk_roots.c */
/* A root of the given kind: thread (an index, or PYHS_NO_THREAD), frame
 * (a frame number, or PYHS_NO_FRAME) and name (text, or NULL) as that kind
 * has them (see enum pyhs_root_kind). holds_ref: the place it names owns a
 * reference to the object (counted when reconciling refcounts); a borrowed
 * one does not. */
void walk_root(struct walker *w, uint64_t addr, enum pyhs_root_kind kind,
	       uint32_t thread, uint32_t frame, const char *name, bool holds_ref);
/* The same for a word of C memory: a root once the walk is over if the
 * word is then an object's address (a conservative scan never creates an
 * object). */
void walk_pending_root(struct walker *w, uint64_t addr, enum pyhs_root_kind kind,
		       uint32_t thread, uint32_t frame, const char *name,
		       bool holds_ref);
void walk_roots(struct walker *w);
/* "thread 1 frame ..." becomes "thread 1 (worker-0) frame ...": the name of
 * the threading.Thread whose ident the thread state has, from
 * threading._active. */
struct pyhs_error *walk_name_threads(struct pyhs_heap *h);
/* 3.14+: the tasks of each thread, and of the threads that have ended. */
void walk_task_lists(struct walker *w);

#endif
