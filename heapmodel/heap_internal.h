/* Internal state of the heap model, shared by its .c files. */
#ifndef PYHS_HEAP_INTERNAL_H
#define PYHS_HEAP_INTERNAL_H

#include "common/containers.h"
#include "common/prefault.h"
#include "common/prefetch.h"
#include "heapmodel.h"

DEFINE_VECTOR(pyhs_u64_vector, uint64_t)
DEFINE_VECTOR(pyhs_u32_vector, uint32_t)
DEFINE_VECTOR(pyhs_u8_vector, uint8_t)
DEFINE_VECTOR(pyhs_str_vector, char *)
DEFINE_VECTOR(pyhs_char_vector, char)
DEFINE_VECTOR(pyhs_int_vector, int)

/* What decoder an object gets: the nearest builtin ancestor of its type. */
enum pyhs_kind {
	K_OPAQUE = 0, /* a C type we do not know: conservative scan */
	K_OBJECT,
	K_DICT,
	K_LIST,
	K_TUPLE,
	K_SET,
	K_STR,
	K_INT,
	K_FLOAT,
	K_COMPLEX,
	K_BYTES,
	K_BYTEARRAY,
	K_TYPE,
	K_MODULE,
	K_FRAME,
	K_GEN,
	K_CODE,
	K_WEAKREF,
	K_DEQUE,
	K_ODICT,
	K_LRU,
	K_FUNCTION,
	K_FUTURE,    /* _asyncio.Future */
	K_TASK,      /* _asyncio.Task */
	K_NKINDS,
};

struct pyhs_type_info {
	uint64_t addr;
	uint64_t flags;
	int64_t basicsize;
	int64_t itemsize;
	int64_t dictoffset;
	int64_t weaklistoffset;
	enum pyhs_kind kind;
	int64_t kind_basicsize; /* basicsize of the first C-defined type */
	int64_t base_basicsize; /* basicsize of the type that gives the kind */
	bool heap;
	char *name;             /* filled after the walk */
	/* Names of object fields by word offset (tp_members of the type and
	 * its bases), computed on first use: string ids, or UINT32_MAX. */
	uint32_t *field_names;
	uint32_t nfield_words;
	bool fields_done;
	bool scan_capped;       /* warned that instances were scanned in part */
	int sizing;             /* sizes.c: where instances' sizes come from */
	int owned_refs;         /* sizes.c: rule for references in owned memory */
};
DEFINE_VECTOR(pyhs_type_vector, struct pyhs_type_info)
DEFINE_HASH_MAP(pyhs_addr_u32_map, uint64_t, uint32_t, pyhs_hash_u64,
		PYHS_EQ_SCALAR)
DEFINE_HASH_MAP(pyhs_string_map, const char *, uint32_t, pyhs_hash_str,
		PYHS_EQ_STR)
DEFINE_HASH_MAP(pyhs_u32_u64_map, uint32_t, uint64_t, pyhs_hash_u64,
		PYHS_EQ_SCALAR)

/* A column of 64-bit values by object number, in 4 bytes each: a value of
 * UINT32_MAX or more is UINT32_MAX in v and kept whole in wide (heap.c). */
struct pyhs_u32_column {
	struct pyhs_u32_vector v;
	struct pyhs_u32_u64_map wide;
};
void pyhs_u32_column_init(struct pyhs_u32_column *c);
void pyhs_u32_column_deinit(struct pyhs_u32_column *c);
/* Entry i (below c->v.size) set to value of UINT32_MAX or more. */
bool pyhs_u32_column_set_wide(struct pyhs_u32_column *c, uint64_t i, uint64_t value);
/* Sets entry i (below c->v.size); false if out of memory. In line: the
 * passes over every object set one each. */
static inline bool pyhs_u32_column_set(struct pyhs_u32_column *c, uint64_t i, uint64_t value)
{
	if (value < UINT32_MAX) {
		c->v.data[i] = (uint32_t)value;
		return true;
	}
	return pyhs_u32_column_set_wide(c, i, value);
}
uint64_t pyhs_u32_column_get(const struct pyhs_u32_column *c, uint64_t i);
/* Entry i, the 4 bytes read in place when they hold it whole. */
static inline uint64_t pyhs_u32_column_at(const struct pyhs_u32_column *c, uint64_t i)
{
	uint32_t v = c->v.data[i];
	return v != UINT32_MAX ? v : pyhs_u32_column_get(c, i);
}
/* A column of values by object number, most of them 0: a bit per object,
 * and the others in object order in a column of their own, found by the
 * count of bits before theirs. About 0.2 bytes an object where few are
 * not 0, instead of 4. */
struct pyhs_sparse_column {
	uint64_t *bits;   /* bit i: object i's value is not 0 */
	uint32_t *before; /* per word of bits: the bits set in those before */
	struct pyhs_u32_column values;
};

void pyhs_sparse_column_init(struct pyhs_sparse_column *c);
void pyhs_sparse_column_deinit(struct pyhs_sparse_column *c);
/* The column of the n entries of from, or of values (8 bytes each) if
 * from is NULL; false if out of memory (c then empty). */
bool pyhs_sparse_column_from(struct pyhs_sparse_column *c, const struct pyhs_u32_column *from,
			     const uint64_t *values, uint64_t n);

static inline uint64_t pyhs_sparse_column_at(const struct pyhs_sparse_column *c, uint64_t i)
{
	uint64_t w = c->bits[i >> 6], m = UINT64_C(1) << (i & 63);
	if (!(w & m))
		return 0;
	return pyhs_u32_column_at(&c->values,
				  c->before[i >> 6] + (uint64_t)__builtin_popcountll(w & (m - 1)));
}

/* A column of n entries from values, or NULL's zeros. */
bool pyhs_u32_column_from(struct pyhs_u32_column *c, const uint64_t *values,
			  uint64_t n);

struct pyhs_root {
	uint32_t obj;
	uint32_t label; /* the rendered text's string id (render.c) */
	struct pyhs_root_info info;
};
DEFINE_VECTOR(pyhs_root_vector, struct pyhs_root)

struct pyhs_thread {
	uint64_t tstate;
	struct pyhs_thread_info info;
};
DEFINE_VECTOR(pyhs_thread_vector, struct pyhs_thread)
DEFINE_VECTOR(pyhs_frame_vector, struct pyhs_frame_info)

DEFINE_VECTOR(pyhs_async_vector, struct pyhs_async_info)
/* The entries of a vector whose pages are asked for at a time: as its
 * size reaches a multiple of it, the pages of the chunk after the next
 * are faulted in while the writer fills the next. */
#define PYHS_PREFAULT_CHUNK 16384

/* Whether appending to vector v reallocates it: the prefaulting thread
 * must be quiet first. */
#define PYHS_PREFAULT_FULL(v) ((v)->size == (v)->capacity)

/* After an append to vector v: at each chunk's start, the pages of the
 * chunk after it asked for, inside v's capacity. */
#define PYHS_PREFAULT_ASK(pf, v) do {						\
	if ((pf) && (v)->size % PYHS_PREFAULT_CHUNK == 0) {			\
		size_t from_ = (v)->size + PYHS_PREFAULT_CHUNK;			\
		size_t to_ = from_ + PYHS_PREFAULT_CHUNK;			\
		if (to_ > (v)->capacity)					\
			to_ = (v)->capacity;					\
		if (from_ < to_)						\
			pyhs_prefault_ask((pf), (v)->data + from_,		\
					  (to_ - from_) * sizeof(*(v)->data));	\
	}									\
} while (0)

/* A column's array mapped from the spill file (spill.c). */
struct pyhs_spilled {
	void *p;
	size_t bytes;
};
DEFINE_VECTOR(pyhs_spilled_vector, struct pyhs_spilled)
/* The file they are written to while the heap is built. */
struct pyhs_spill_file {
	bool open;
	int fd;
	const char *dir;
	uint64_t off; /* where the next column goes, a multiple of page */
	uint64_t max_size; /* RLIMIT_FSIZE */
	size_t page;
};

#define PYHS_HOT_ENTRIES 4096

struct pyhs_heap {
	const struct pyhs_target *t;
	const struct pyhs_layout *L;
	unsigned minor; /* 3.minor */
	uint64_t max_objects;
	uint64_t max_edges;
	pyhs_progress_fn *progress;
	void *progress_ctx;
	unsigned jobs; /* pyhs_heap_set_jobs */
	struct pyhs_memory_state *memory; /* allocations.c: or NULL */
	/* While the walk decodes on a heap of several jobs, the thread
	 * faulting in the pages its columns grow into: or NULL. */
	struct pyhs_prefault *prefault;

	/* Objects, by number. */
	struct pyhs_u64_vector addr;
	struct pyhs_u32_vector type;
	/* Sizes and refcounts in 4 bytes (a value that does not fit kept
	 * whole beside them): pyhs_heap_size and pyhs_heap_refcnt. */
	struct pyhs_u32_column size32;
	struct pyhs_u32_column refcnt32;
	struct pyhs_u8_vector gen;
	struct pyhs_u8_vector flags;
	/* nobjects + 1 when done; 4 bytes: a heap has fewer than 2^32 - 1
	 * edges (pyhs_heap_build caps them there, a snapshot with more is
	 * refused) */
	struct pyhs_u32_vector edge_start;
	/* While the objects are decoded (and the core resident), refcounts
	 * are kept in 1 byte: pyhs_heap_widen fills refcnt32 once every
	 * object is decoded, reading again only those that did not fit. */
	bool narrow;
	/* Refcounts while narrow: the count up to REFCNT8_MAX, which means
	 * "as much or more": only those are read again. */
	struct pyhs_u8_vector refcnt8;

	/* Address -> object number: open addressing over object numbers. */
	uint32_t *index;
	uint64_t index_mask;
	uint32_t index_tag_mask; /* the slot bits above the object number */
	bool index_wanted; /* pyhs_heap_find was called once without it */
	struct pyhs_hot_entry {
		uint64_t addr;
		uint32_t obj;
	} hot[PYHS_HOT_ENTRIES];

	/* Edges. */
	struct pyhs_u32_vector edge_dst;
	struct pyhs_u32_vector edge_label;

	struct pyhs_type_vector types;
	struct pyhs_addr_u32_map type_by_addr;
	struct pyhs_addr_u32_map kind_by_addr; /* static builtin type -> kind */

	struct pyhs_str_vector strings; /* string pool for labels */
	struct pyhs_string_map string_ids;

	struct pyhs_root_vector roots;
	/* Each object's references that nothing explains, as the C roots
	 * leave them (its refcount less the references and the roots that
	 * hold one): what the analysis counts, counted once by a walk. */
	struct pyhs_sparse_column unexplained;
	bool have_unexplained;
	struct pyhs_thread_vector threads;
	struct pyhs_frame_vector frames; /* by thread, innermost first */

	/* Well-known addresses. */
	uint64_t type_type;
	uint64_t str_type;
	uint64_t set_dummy;
	uint64_t interp;
	uint64_t gc_state;

	struct pyhs_gc_generation_info gc[4];
	bool gc_enabled;

	/* Process facts, owned. */
	struct pyhs_heap_meta meta;
	struct pyhs_str_vector owned_strings; /* freed at destroy */
	struct pyhs_int_vector tids;

	/* Values: per object an offset into value_text, or UINT32_MAX. */
	struct pyhs_u32_vector value_off;
	struct pyhs_char_vector value_text;

	uint64_t warn_count[PYHS_WARN_NKINDS];
	struct pyhs_str_vector warn_examples;
	/* Words only conservative scanning found whose objects did not
	 * validate whole: dropped, with no warning. */
	uint64_t candidates_dropped;

	/* _asyncio's Future and Task layout, read when first needed: 0 not
	 * yet, 1 read, -1 unavailable (warned). */
	int asyncio_state;
	struct pyhs_asyncio_layout asyncio;
	/* Generators' places and C futures' states (async.c), by object. */
	struct pyhs_async_vector async;
	/* The columns mapped from a file (spill.c). */
	struct pyhs_spilled_vector spilled;
	struct pyhs_spill_file spill;
	/* Spilled once pyhs_heap_spillable_bytes reaches it (the walk's,
	 * before the C roots). */
	uint64_t spill_above;
};

/* heap.c */
/* The address index's first slot for addr (heap.c says how slots are
 * laid out), and a hint to bring it into the cache ahead of a lookup. */
#define PYHS_INDEX_LINE_BITS 4 /* 16 slots: 64 bytes */
static inline uint64_t pyhs_heap_index_home(uint64_t addr, uint64_t mask)
{
	uint64_t line = pyhs_hash_u64(addr >> (4 + PYHS_INDEX_LINE_BITS));
	return ((line << PYHS_INDEX_LINE_BITS) |
		((addr >> 4) & ((UINT64_C(1) << PYHS_INDEX_LINE_BITS) - 1))) & mask;
}
/* Always in line: GCC otherwise calls a copy of it, once per entry of a
 * dict's walk. */
__attribute__((always_inline)) static inline void pyhs_heap_prefetch(const struct pyhs_heap *h,
								     uint64_t addr)
{
	if (h->index)
		pyhs_prefetch(&h->index[pyhs_heap_index_home(addr, h->index_mask)]);
}
/* Reports progress, if anyone listens. */
static inline void pyhs_heap_progress(const struct pyhs_heap *h, const char *what,
				      uint64_t done, uint64_t total)
{
	if (h->progress)
		h->progress(h->progress_ctx, what, done, total);
}
struct pyhs_error *pyhs_heap_intern_string(struct pyhs_heap *h,
					   const char *s, uint32_t *ret);
void pyhs_heap_warn(struct pyhs_heap *h, enum pyhs_warning_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define PYHS_NO_OBJECT UINT32_MAX
/* Adds the object at addr if it validates; returns its number or
 * PYHS_NO_OBJECT. *err is set on out-of-memory. */
uint32_t pyhs_heap_add(struct pyhs_heap *h, uint64_t addr, bool strict,
		       struct pyhs_error **err);
uint32_t pyhs_heap_lookup(const struct pyhs_heap *h, uint64_t addr);
/* The same for threads that look up at once: the index as it is (NULL
 * gives PYHS_NO_OBJECT), nothing written, the hot entries not used. */
uint32_t pyhs_heap_lookup_shared(const struct pyhs_heap *h, uint64_t addr);
/* Grows the address index, once, to take n objects (a hint: false if out
 * of memory). */
bool pyhs_heap_index_reserve(struct pyhs_heap *h, uint64_t n);
/* Object i's size while the objects are decoded (pyhs_heap_widen not yet
 * called), and setting it; the offset of the first edge of the object
 * being decoded next, appended. */
void pyhs_heap_set_size(struct pyhs_heap *h, uint32_t i, uint64_t size,
			struct pyhs_error **err);
bool pyhs_heap_append_edge_start(struct pyhs_heap *h);
/* Every object decoded: sizes and edge offsets to their 8-byte columns,
 * the 4-byte ones freed, and refcounts read. */
struct pyhs_error *pyhs_heap_widen(struct pyhs_heap *h);
/* Object i's refcount, narrow or not (while narrow, read again from the
 * target where it did not fit). */
uint64_t pyhs_heap_refcnt_any(const struct pyhs_heap *h, uint64_t i);
/* Takes back the objects numbered n and up (their edge offsets too); false if out of memory. */
bool pyhs_heap_truncate(struct pyhs_heap *h, uint32_t n);
/* The bytes of the objects' addresses, types, sizes, refcounts,
 * generations and flags: what decides whether a heap is spilled. */
uint64_t pyhs_heap_spillable_bytes(const struct pyhs_heap *h);
/* Once the objects are decoded and their pending references made (no
 * object is added or taken back from there on): writes their addresses,
 * types, sizes, generations and flags to an unlinked temporary file and
 * maps them from it in place of their arrays, or as many as it can; the
 * rest stay as they were. An error only if a column could be neither
 * written out nor read back. The file stays open for the next. */
struct pyhs_error *pyhs_heap_spill_objects(struct pyhs_heap *h);
/* Once the values are read: the same for the refcounts (widened by then),
 * the edge offsets and the value texts, if the objects were spilled; the
 * file closed. */
struct pyhs_error *pyhs_heap_spill_values(struct pyhs_heap *h);
/* bytes of the spill file, mapped shared and writable, for a column
 * written once in place once the objects are spilled (the value texts):
 * its pages are the file's, and spilling the rest leaves it as it is;
 * NULL (the column kept in memory) when the objects were not spilled or
 * the file has no room. Unmapped with the other columns. */
void *pyhs_heap_spill_map(struct pyhs_heap *h, size_t bytes);
/* Unmaps every spilled column, their vectors left empty. */
void pyhs_heap_unspill(struct pyhs_heap *h);
/* For every object, its refcount minus the references found to it (edges
 * but weak ones, roots that own theirs), 0 for immortal ones, into c, whose
 * vector holds one entry per object already; false if out of memory
 * (analysis.c). */
bool pyhs_unexplained_refs(const struct pyhs_heap *h, struct pyhs_u32_column *c);
/* The object edge e leaves from (a binary search over edge_start). */
uint32_t pyhs_heap_edge_source(const struct pyhs_heap *h, uint64_t e);

/* types.c */
/* The type number of a type object at addr, registering it; PYHS_NO_OBJECT
 * if addr does not look like a type. */
uint32_t pyhs_type_get(struct pyhs_heap *h, uint64_t addr,
		       struct pyhs_error **err);
struct pyhs_error *pyhs_types_init(struct pyhs_heap *h);
/* Reads the C string at addr into buf (NUL-terminated, truncated to n-1
 * bytes; n > 0); false if it is cut short by unreadable memory. */
bool pyhs_read_cstr(const struct pyhs_heap *h, uint64_t addr, char *buf,
		    size_t n);
struct pyhs_error *pyhs_types_name_all(struct pyhs_heap *h);
/* Reads a C string into buf (NUL-terminated, truncated to n-1 bytes);
 * false if unreadable. */
bool pyhs_read_cstr(const struct pyhs_heap *h, uint64_t addr, char *buf,
		    size_t n);
/* A type's dict (3.12+ static builtin types: the interpreter's copy); 0 if
 * none can be read. */
uint64_t pyhs_type_dict(const struct pyhs_heap *h, uint64_t type);

/* The items in each block of a collections.deque. */
#define DEQUE_BLOCKLEN 64

/* sizes.c */
/* sys.getsizeof() of the object at addr of type number type, without the
 * GC pre-header, given the size its layout gives; *ret_inexact is set when
 * that is not what its __sizeof__ returns. */
uint64_t pyhs_size_adjust(struct pyhs_heap *h, uint32_t type, uint64_t addr,
			  uint64_t size, bool *ret_inexact);
/* Calls fn for each reference the object holds in C memory it owns
 * outside its layout (an element's children, a pickler's memo, ...). */
typedef void pyhs_owned_ref_fn(void *arg, uint64_t target, uint32_t label);
struct pyhs_error *pyhs_owned_refs(struct pyhs_heap *h, uint32_t type,
				   uint64_t addr, pyhs_owned_ref_fn *fn,
				   void *arg);

/* Calls fn for each block of memory the object owns outside its layout
 * that its __sizeof__ counts by the rules above (numpy data, io buffers,
 * array items): the block's address, and what it holds ("data"). */
typedef void pyhs_owned_block_fn(void *arg, uint64_t block, const char *part);
void pyhs_owned_blocks(struct pyhs_heap *h, uint32_t type, uint64_t addr,
		       pyhs_owned_block_fn *fn, void *arg);

/* values.c */
/* The same for any target and layout, without a heap (and without
 * checking the object's type): where a str's characters are, and the str
 * as UTF-8. */
bool pyhs_str_data_at(const struct pyhs_target *t, const struct pyhs_layout *L,
		      uint64_t addr, uint64_t *data, uint64_t *length,
		      unsigned *kind);
bool pyhs_read_str_at(const struct pyhs_target *t, const struct pyhs_layout *L,
		      uint64_t addr, char *buf, size_t n);
/* Reads a str object as UTF-8 into buf (NUL-terminated, truncated to n-1
 * bytes); false if it is not a readable str. */
bool pyhs_read_str(const struct pyhs_heap *h, uint64_t addr, char *buf,
		   size_t n);
/* Looks up a str key in a dict object; 0 if absent. */
uint64_t pyhs_dict_get_str(const struct pyhs_heap *h, uint64_t dict,
			   const char *key);

/* Copies s into the heap's owned strings; NULL on OOM. */
const char *pyhs_heap_own(struct pyhs_heap *h, const char *s);
/* values.c: fills value_off/value_text for every object. */
struct pyhs_error *pyhs_values_build(struct pyhs_heap *h);
/* address_order.c */
/* Object numbers 0..nobjects-1 in address order, by 1 MiB stretches (malloc'd;
 * NULL when out of memory). */
uint32_t *pyhs_heap_address_order(const struct pyhs_heap *h);

struct pyhs_error *pyhs_types_register_objects(struct pyhs_heap *h);

/* analysis.c: the heap an analysis is of. */
const struct pyhs_heap *pyhs_analysis_heap(const struct pyhs_analysis *a);
/* The analysis's own arrays, for what is built on it: every object's
 * dominator as pyhs_analysis_idom gives it, and the retained sizes. */
const uint32_t *pyhs_analysis_idoms(const struct pyhs_analysis *a);
const struct pyhs_u32_column *pyhs_analysis_retained_column(const struct pyhs_analysis *a);

/* retention.c */
/* A label with what varies from entry to entry masked: digits in dict keys
 * collapse to one '*', indices become [*]. exact keeps dict keys whole
 * (module names and globals). */
void pyhs_normalized_label(const struct pyhs_heap *h, uint32_t label,
			   bool exact, char *buf, size_t n);

/* async.c: reads h->async from the target (after the values). */
struct pyhs_error *pyhs_async_build(struct pyhs_heap *h);
/* Where the generator, coroutine or async generator at addr is: its
 * __qualname__ (gi_qualname, which a program may set), its code's
 * co_filename, the line it is suspended at (-1 if none or finished) and
 * whether it has finished; false if its frame cannot be read. */
bool pyhs_gen_place(const struct pyhs_heap *h, uint64_t addr, char *name, size_t nname,
		    char *file, size_t nfile, int *ret_line, bool *ret_finished);
/* A C asyncio future's or task's fut_state as stored; false if unreadable. */
bool pyhs_future_state_read(struct pyhs_heap *h, uint64_t addr, int32_t *ret);

/* render.c */
/* Renders every root's label from its structure (after a walk, or when a
 * heap is assembled). */
struct pyhs_error *pyhs_render_roots(struct pyhs_heap *h);
/* "interpreter state: codec registry (codecs.search_path)": the text of a
 * root of a member of the interpreter's (or, runtime, the runtime's) state
 * whose path is field (croots.c). */
void pyhs_state_field_text(bool runtime, const char *field, char *buf, size_t n);
/* Whether a root is "sys.modules" (for paths through modules). */
static inline bool pyhs_root_is_modules(const struct pyhs_heap *h, uint64_t r)
{
	return h->roots.data[r].info.kind == PYHS_ROOT_SYS_MODULES;
}

/* The order roots are tried in when a path or a holder is chosen: the
 * interpreter's own roots (0), then what threads' frames, dicts and task
 * lists hold (1), then places that name an object without owning a
 * reference (2: a 3.8-3.10 thread's current frame, task lists), then what
 * C code holds, found by scanning C memory (3: C stacks, thread,
 * interpreter and runtime states, C statics; the objects held by C code no
 * root names rank with them). */
#define PYHS_ROOT_RANKS 4
#define PYHS_ROOT_RANK_C 3
static inline int pyhs_root_rank(const struct pyhs_heap *h, uint64_t r)
{
	const struct pyhs_root_info *ri = &h->roots.data[r].info;
	switch (ri->kind) {
	case PYHS_ROOT_C_STACK:
	case PYHS_ROOT_THREAD_STATE:
	case PYHS_ROOT_C_STATICS:
	case PYHS_ROOT_INTERP_HOLDER:
	case PYHS_ROOT_INTERP_FIELD:
	case PYHS_ROOT_RUNTIME_FIELD:
		return PYHS_ROOT_RANK_C;
	default:
		if (!ri->holds_ref)
			return 2;
		return ri->thread != PYHS_NO_THREAD ? 1 : 0;
	}
}

/* walk.c */
struct pyhs_error *pyhs_walk(struct pyhs_heap *h);
/* The layout of _asyncio's C Future and Task (read on first use while the
 * target is there), or NULL if there is none for this interpreter. */
const struct pyhs_asyncio_layout *pyhs_heap_asyncio_layout(struct pyhs_heap *h);

/* |v| without the overflow of -INT64_MIN (sizes read from the target). */
static inline uint64_t pyhs_uabs64(int64_t v)
{
	return v < 0 ? UINT64_C(0) - (uint64_t)v : (uint64_t)v;
}

static inline bool hrd(const struct pyhs_heap *h, uint64_t addr, uint64_t *v)
{
	return pyhs_target_read_u64(h->t, addr, v);
}
static inline bool hrd_off(const struct pyhs_heap *h, uint64_t addr,
			   int32_t off, uint64_t *v)
{
	if (off < 0)
		return false;
	return pyhs_target_read_u64(h->t, addr + (uint64_t)off, v);
}

#endif
