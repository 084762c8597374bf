/*
 * pyheapsnap heap model: every object of a CPython heap in flat arrays
 * indexed by object number, with types, shallow sizes (what sys.getsizeof
 * returns), refcounts, GC generations, labelled references and named roots.
 */
#ifndef PYHS_HEAPMODEL_H
#define PYHS_HEAPMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

struct pyhs_heap;

/* Progress of a long computation, for whoever wants to show it: what is
 * being done ("walking the heap", "dominator tree"), how far, out of how
 * much (0 when not known yet). Called at the start of each step and now and
 * then during it, with what NULL once all is done. */
typedef void pyhs_progress_fn(void *ctx, const char *what, uint64_t done,
			      uint64_t total);

struct pyhs_heap_options {
	uint64_t max_objects; /* 0: the default cap */
	uint64_t max_edges;   /* 0: the default cap */
	pyhs_progress_fn *progress; /* NULL: none */
	void *progress_ctx;
	unsigned jobs; /* threads the build may use (pyhs_heap_set_jobs); 0: 1 */
	/* A heap whose addresses, types, sizes, refcounts, generations and
	 * flags take this many bytes or more keeps them, the offsets of their
	 * references and its value texts in an unlinked file in $TMPDIR
	 * (else /var/tmp, else /tmp), mapped, where the kernel can write
	 * them out and drop them under memory pressure; the references stay
	 * in memory. 0: the default; UINT64_MAX: never. */
	uint64_t spill_above;
};

#define PYHS_DEFAULT_SPILL_ABOVE (UINT64_C(16) << 20)

#define PYHS_DEFAULT_MAX_OBJECTS (UINT64_C(200) * 1000 * 1000)
#define PYHS_DEFAULT_MAX_EDGES (UINT64_C(2000) * 1000 * 1000)
/* The cap on references when none is given: one per 4 bytes of the
 * target's memory, at least a million, at most PYHS_DEFAULT_MAX_EDGES. */
static inline uint64_t pyhs_default_max_edges(uint64_t memory_bytes)
{
	uint64_t n = memory_bytes / 4 + 1000 * 1000;
	return n < PYHS_DEFAULT_MAX_EDGES ? n : PYHS_DEFAULT_MAX_EDGES;
}

enum pyhs_gen {
	PYHS_GEN_0 = 0,
	PYHS_GEN_1 = 1,
	PYHS_GEN_2 = 2,
	PYHS_GEN_PERMANENT = 3,
	PYHS_GEN_UNTRACKED = 4,
};

/* Object flags. */
#define PYHS_OBJ_IMMORTAL 0x01
#define PYHS_OBJ_UNREADABLE 0x02 /* header read, body not */
#define PYHS_OBJ_CONSERVATIVE 0x04 /* references found by scanning */
#define PYHS_OBJ_STATIC 0x08 /* lives in a binary's data, not the heap */
#define PYHS_OBJ_SIZE_INEXACT 0x10 /* size is not what sys.getsizeof() says */

/* Edge label kinds (see pyhs_heap_format_label). */
enum pyhs_label_kind {
	PYHS_LABEL_NONE = 0,
	PYHS_LABEL_INDEX,       /* [n] */
	PYHS_LABEL_DICT_VALUE,  /* ['key'] ; payload: object number of the key */
	PYHS_LABEL_DICT_KEY,    /* key */
	PYHS_LABEL_ATTR,        /* .name ; payload: object number of the name */
	PYHS_LABEL_FIELD,       /* .name ; payload: string id */
	PYHS_LABEL_LOCAL,       /* local name ; payload: object number of the name */
	PYHS_LABEL_CONSERVATIVE,/* +0xNN ; payload: byte offset */
	PYHS_LABEL_WEAK,        /* weakref target (not a strong reference) */
	PYHS_LABEL_ITEM,        /* set item */
	PYHS_LABEL_CELL,        /* .cell_contents (name), a closure cell's
				 * contents ; payload: string id of the name
				 * of the variable the cell is */
};
#define PYHS_LABEL(kind, payload) (((uint32_t)(kind) << 28) | ((uint32_t)(payload) & 0x0fffffffu))
#define PYHS_LABEL_KIND(l) ((enum pyhs_label_kind)((l) >> 28))
#define PYHS_LABEL_PAYLOAD(l) ((l) & 0x0fffffffu)

struct pyhs_gc_generation_info {
	int threshold;
	int count;
	uint64_t objects; /* found on this list */
	uint64_t bytes;
};

enum pyhs_warning_kind {
	PYHS_WARN_BAD_POINTER,    /* a reference to memory that is not an object */
	PYHS_WARN_UNREADABLE,     /* an object whose body could not be read */
	PYHS_WARN_GC_LIST,        /* a broken or looping GC list */
	PYHS_WARN_CAP,            /* a count was capped */
	PYHS_WARN_CORRUPT,        /* an inconsistent structure */
	PYHS_WARN_MISSING_ROOT,   /* a root of the interpreter not found (a
				   * stripped binary without its debug file) */
	PYHS_WARN_NKINDS,
};

/* What is known of the process the heap came from. Strings are never NULL
 * ("" when unknown). */
struct pyhs_heap_meta {
	const char *source;      /* "core", "pid" or "snapshot" */
	const char *input;       /* the path or pid it was read from */
	int pid;
	int signal;              /* the signal that killed it (cores) */
	const char *executable;
	const char *cmdline;
	uint32_t hexversion;     /* sys.hexversion */
	const char *version;     /* sys.version */
	const char *library;     /* the file holding _PyRuntime */
	const char *layout;      /* "dwarf" or "builtin" */
	const char *debug_file;  /* where DWARF came from, or "" */
	uint64_t capture_time;   /* unix seconds, 0 if unknown */
	uint64_t start_time;     /* process start, clock ticks since boot, 0 if unknown */
	uint64_t pause_ns;       /* how long a live process was stopped */
	bool unstopped;          /* a live process read while it ran
				  * (--no-stop): not a consistent view */
	size_t ntids;
	const int *tids;         /* kernel thread ids */
	size_t nwarnings;
	const char *const *warnings; /* the reader's warnings */
};

/* Reads every object of the CPython heap in a target. The heap keeps no
 * reference to the target afterwards: it may be destroyed at once. */
struct pyhs_error *pyhs_heap_build(const struct pyhs_target *t,
				   const char *input,
				   const struct pyhs_heap_options *opts,
				   struct pyhs_heap **ret);
void pyhs_heap_destroy(struct pyhs_heap *h);
/* Where the analyses of this heap report their progress (see
 * pyhs_progress_fn); a built heap keeps its options' callback. */
void pyhs_heap_set_progress(struct pyhs_heap *h, pyhs_progress_fn *fn, void *ctx);
/* How many threads the analyses and writers of this heap may run at once
 * (0 or 1: the caller's alone, the default); their results are the same
 * whatever the count. */
void pyhs_heap_set_jobs(struct pyhs_heap *h, unsigned jobs);
unsigned pyhs_heap_jobs(const struct pyhs_heap *h);

const struct pyhs_heap_meta *pyhs_heap_meta(const struct pyhs_heap *h);
/* Bytes the heap's own arrays hold (not counting the input). */
uint64_t pyhs_heap_memory_bytes(const struct pyhs_heap *h);

/* Objects. */
uint64_t pyhs_heap_nobjects(const struct pyhs_heap *h);
uint64_t pyhs_heap_addr(const struct pyhs_heap *h, uint64_t i);
uint32_t pyhs_heap_type_of(const struct pyhs_heap *h, uint64_t i);
uint64_t pyhs_heap_size(const struct pyhs_heap *h, uint64_t i);
uint64_t pyhs_heap_refcnt(const struct pyhs_heap *h, uint64_t i);
enum pyhs_gen pyhs_heap_gen(const struct pyhs_heap *h, uint64_t i);
unsigned pyhs_heap_flags(const struct pyhs_heap *h, uint64_t i);
/* The object at an address, if there is one. */
bool pyhs_heap_find(const struct pyhs_heap *h, uint64_t addr, uint64_t *ret);

/* References: object i refers to dst[k] with label[k] for k in [begin, end). */
void pyhs_heap_edges(const struct pyhs_heap *h, uint64_t i, uint64_t *begin,
		     uint64_t *end);
uint64_t pyhs_heap_nedges(const struct pyhs_heap *h);
uint32_t pyhs_heap_edge_dst(const struct pyhs_heap *h, uint64_t e);
uint32_t pyhs_heap_edge_label(const struct pyhs_heap *h, uint64_t e);
/* Renders a label as a person would read it: ['k'], [3], .attr, key, ...
 * Returns false for PYHS_LABEL_NONE (nothing written). */
bool pyhs_heap_format_label(const struct pyhs_heap *h, uint32_t label,
			    char *buf, size_t n);

/* The variable a closure cell's contents label names (the label of a
 * cell's reference once the cell is known to be a function's or a frame's
 * free variable), cut to n - 1 bytes; false if the label is no such one. */
bool pyhs_heap_label_cell_variable(const struct pyhs_heap *h, uint32_t label,
				   char *buf, size_t n);
/* The name a label gives what it leads to, as data: an attribute's or a
 * field's name without its dot (".__dict__" is "__dict__"), a str dict
 * key, a local variable's name; NULL for other labels (indices, offsets,
 * fields such as "state+0x8"). */
const char *pyhs_heap_label_name(const struct pyhs_heap *h, uint32_t label);
/* Whether label is of kind and gives the name name. */
bool pyhs_heap_label_is(const struct pyhs_heap *h, uint32_t label,
			enum pyhs_label_kind kind, const char *name);

/* Whether object i is a type object, or a module object. */
bool pyhs_heap_is_type(const struct pyhs_heap *h, uint64_t i);
bool pyhs_heap_is_module(const struct pyhs_heap *h, uint64_t i);

/* Types: type numbers index a table of distinct type objects. */
uint32_t pyhs_heap_ntypes(const struct pyhs_heap *h);
const char *pyhs_heap_type_name(const struct pyhs_heap *h, uint32_t type);
/* The types a --type argument names: those whose qualified name is name,
 * or if none is, those whose name ends in "." name (an unqualified class
 * name, "UserCard" for "__main__.UserCard"). ret_match[pyhs_heap_ntypes(h)]
 * receives 1 for each type of a name not matched before, 2 for the others
 * (types may share a name), 0 for the rest; returns how many distinct
 * names matched, the first (in type order) in *ret_first if not NULL. */
uint64_t pyhs_heap_match_types(const struct pyhs_heap *h, const char *name,
			       uint8_t *ret_match, const char **ret_first);

/* Roots: references from outside the object graph, as data. */
/* Snapshots store these numbers (formats/FORMAT.md): never renumber. */
enum pyhs_root_kind {
	PYHS_ROOT_OTHER = 0,     /* a holder named by its name alone */
	PYHS_ROOT_SYS = 1,           /* the sys module's dict */
	PYHS_ROOT_SYS_MODULES = 2,   /* sys.modules */
	PYHS_ROOT_BUILTINS = 3,      /* the builtins dict */
	PYHS_ROOT_INTERNED = 4,      /* the interned strings */
	PYHS_ROOT_THREAD_DICT = 5,   /* a thread state's dict */
	PYHS_ROOT_FRAME = 6,         /* a frame (or its generator) on a thread's stack */
	PYHS_ROOT_FRAME_LOCAL = 7,   /* a local variable of such a frame; name: its name */
	PYHS_ROOT_FRAME_REF = 8,     /* another reference of such a frame (.f_globals,
				  * a value stack word); name: the label */
	PYHS_ROOT_THREAD_TASKS = 9,  /* a task on a thread's asyncio task list (3.14+) */
	PYHS_ROOT_INTERP_TASKS = 10,  /* a task on the interpreter's list (3.14+) */
	PYHS_ROOT_STATIC_TYPE = 11,   /* a static type; name: its tp_name */
	PYHS_ROOT_MODULE_STATE = 12,  /* a word of a module's C state; name: the module */
	PYHS_ROOT_MODULE_DEF = 13,    /* a module's PyModuleDef made an object; name: the module */
	PYHS_ROOT_C_STACK = 14,       /* a word on a thread's C stack */
	PYHS_ROOT_INTERP_HOLDER = 15, /* a C holder of the interpreter or runtime
				       * (codec registry, atexit callbacks, ...);
				       * name: what it is */
	PYHS_ROOT_THREAD_STATE = 16,  /* a word of a thread's state */
	PYHS_ROOT_C_STATICS = 17,     /* a word of a file's C statics (.data,
				       * .bss) or a static object in them;
				       * name: the file */
	PYHS_ROOT_INTERP_FIELD = 18,  /* a word of a member of the interpreter
				       * state; name: the member's path
				       * ("codecs.search_path") */
	PYHS_ROOT_RUNTIME_FIELD = 19, /* the same of the runtime state */
	PYHS_ROOT_NKINDS,
};
/* "sys.modules", "frame_local", ...: the kind's name in JSON. */
const char *pyhs_root_kind_name(enum pyhs_root_kind kind);

#define PYHS_NO_STRING UINT32_MAX
#define PYHS_NO_THREAD UINT32_MAX
#define PYHS_NO_FRAME UINT32_MAX

struct pyhs_root_info {
	enum pyhs_root_kind kind;
	uint32_t thread;  /* thread index, or PYHS_NO_THREAD */
	uint32_t frame;   /* frame number (pyhs_heap_frame), or PYHS_NO_FRAME */
	uint32_t name;    /* string id, or PYHS_NO_STRING */
	bool holds_ref;   /* see pyhs_heap_root_holds_ref */
};

/* A frame of a thread's Python stack. */
struct pyhs_frame_info {
	uint32_t thread;    /* thread index */
	uint32_t depth;     /* 0 for the innermost frame */
	uint32_t function;  /* string id (co_name), or PYHS_NO_STRING */
	uint32_t file;      /* string id (co_filename), or PYHS_NO_STRING */
	int32_t line;       /* 0 when unknown */
	uint32_t code;      /* object number of its code object, or UINT32_MAX */
};

/* A thread state of the interpreter: index i in [0, pyhs_heap_nthreads),
 * newest first; its frames are frame numbers first_frame .. +nframes,
 * innermost first. */
struct pyhs_thread_info {
	uint64_t ident;
	uint64_t native_id;
	uint32_t name;        /* threading's name: string id, or PYHS_NO_STRING */
	uint32_t first_frame;
	uint32_t nframes;
};

uint64_t pyhs_heap_nroots(const struct pyhs_heap *h);
uint32_t pyhs_heap_root_object(const struct pyhs_heap *h, uint64_t r);
void pyhs_heap_root(const struct pyhs_heap *h, uint64_t r,
		    struct pyhs_root_info *ret);
/* The order paths try roots in, 0 first: the interpreter's own roots, what
 * thread frames own, places that name an object without owning it, then
 * what C code holds (3; also for r >= pyhs_heap_nroots, the objects held
 * by C code no root names). */
int pyhs_heap_root_rank(const struct pyhs_heap *h, uint64_t r);
uint32_t pyhs_heap_nframes(const struct pyhs_heap *h);
const struct pyhs_frame_info *pyhs_heap_frame(const struct pyhs_heap *h,
					      uint32_t f);
const struct pyhs_thread_info *pyhs_heap_thread(const struct pyhs_heap *h,
						size_t i);
/* A string id's text, or NULL for PYHS_NO_STRING. */
const char *pyhs_heap_string_or_null(const struct pyhs_heap *h, uint32_t id);
/* The root rendered as text (render.c): "sys.modules", "thread 0
 * (MainThread) frame serve (app.py:62) local history", ... */
const char *pyhs_heap_root_label(const struct pyhs_heap *h, uint64_t r);
/* Thread i as text, "thread 0 (MainThread)", and frame f, "frame serve
 * (app.py:62)", as root labels have them. */
void pyhs_heap_describe_thread(const struct pyhs_heap *h, size_t i, char *buf,
			       size_t n);
void pyhs_heap_describe_frame(const struct pyhs_heap *h, uint32_t f, char *buf,
			      size_t n);
/* Whether the place a root names owns a reference to its object (sys.modules
 * does; a thread's current frame pointer or a static type does not). */
bool pyhs_heap_root_holds_ref(const struct pyhs_heap *h, uint64_t r);

/* Values. Writes a short, escaped, human-readable preview of the object
 * (str/bytes/int/float values, container lengths) into buf. */
void pyhs_heap_preview(const struct pyhs_heap *h, uint64_t i, char *buf,
		       size_t n);

/* The value of a str, bytes, int, float, bool or None object, a type's,
 * function's, code's or module's name: NULL if it has none. str values
 * are raw UTF-8 (possibly truncated), not quoted. */
const char *pyhs_heap_value(const struct pyhs_heap *h, uint64_t i);

/* Interpreter facts found while walking. */
void pyhs_heap_gc_info(const struct pyhs_heap *h, int gen,
		       struct pyhs_gc_generation_info *ret); /* gen 0..3 */
bool pyhs_heap_gc_enabled(const struct pyhs_heap *h);
size_t pyhs_heap_nthreads(const struct pyhs_heap *h);
uint64_t pyhs_heap_thread_ident(const struct pyhs_heap *h, size_t i);
uint64_t pyhs_heap_thread_native_id(const struct pyhs_heap *h, size_t i);

/* Warnings: counts per kind and a few examples. */
uint64_t pyhs_heap_warning_count(const struct pyhs_heap *h,
				 enum pyhs_warning_kind kind);
const char *pyhs_heap_warning_kind_name(enum pyhs_warning_kind kind);
size_t pyhs_heap_nwarning_examples(const struct pyhs_heap *h);
const char *pyhs_heap_warning_example(const struct pyhs_heap *h, size_t i);
/* Words of C memory only conservative scanning found that were addresses
 * of what looked like an object's header but did not validate whole (a
 * freed or half-built object): dropped, not warned of. */
uint64_t pyhs_heap_dropped_candidates(const struct pyhs_heap *h);

/* The start of a path from root r along edges[0..nedges) as a person reads
 * it: the root's label, or "module m" / "module m global g" when the path
 * runs from sys.modules through a module's __dict__. Writes buf; returns
 * how many of the first edges that text stands for. */
uint64_t pyhs_heap_describe_root(const struct pyhs_heap *h, uint64_t r,
				 const uint64_t *edges, uint64_t nedges,
				 char *buf, size_t n);

/* ---- analyses: what keeps it alive ---------------------------------- */

struct pyhs_analysis;

/* Dominator tree and retained sizes over every object, reconciliation of
 * refcounts with the references found, and what the cyclic collector would
 * free now. The roots of the dominator tree are the named roots plus the
 * objects held only by references no object explains (C code). */
struct pyhs_error *pyhs_analysis_create(const struct pyhs_heap *h,
					struct pyhs_analysis **ret);
/* The same, with flags: PYHS_ANALYSIS_CYCLES when pyhs_analysis_cycles or
 * pyhs_analysis_garbage will be asked, PYHS_ANALYSIS_PATHS when
 * pyhs_analysis_paths will, so that on a heap with jobs (see
 * pyhs_heap_set_jobs) the cycles and the references into each object are
 * found beside the dominator tree. The two independent chains (refcounts,
 * roots, dominators, retained sizes; garbage, cycles, predecessors) run on
 * two threads then. */
#define PYHS_ANALYSIS_CYCLES 1u
#define PYHS_ANALYSIS_PATHS 2u
/* PYHS_ANALYSIS_TREE when the dominator tree (pyhs_domtree_create) comes
 * next: the arrays the analysis freed are kept for it to take, not given
 * back to the system and mapped again. */
#define PYHS_ANALYSIS_TREE 4u
struct pyhs_error *pyhs_analysis_create_with(const struct pyhs_heap *h, unsigned flags,
					     struct pyhs_analysis **ret);
void pyhs_analysis_destroy(struct pyhs_analysis *a);

#define PYHS_DOM_ROOT UINT32_C(0xfffffffe) /* dominated by the roots as a whole */
#define PYHS_DOM_NONE UINT32_C(0xffffffff) /* no root reaches it */
uint32_t pyhs_analysis_idom(const struct pyhs_analysis *a, uint64_t i);
/* Bytes that would be freed with the object: its dominator subtree. */
uint64_t pyhs_analysis_retained(const struct pyhs_analysis *a, uint64_t i);
/* ob_refcnt minus the references found to the object (from objects and
 * from roots that own one); 0 when all are found or it is immortal. */
uint64_t pyhs_analysis_unexplained(const struct pyhs_analysis *a, uint64_t i);
/* Objects the cyclic collector would free if it ran now (computed as gc
 * does: refcounts minus references among tracked objects). */
bool pyhs_analysis_is_garbage(const struct pyhs_analysis *a, uint64_t i);
uint64_t pyhs_analysis_ngarbage(const struct pyhs_analysis *a);
/* Bytes reachable from the roots. */
uint64_t pyhs_analysis_reachable_bytes(const struct pyhs_analysis *a);
/* The dominator tree's roots, k in [0, nroots): first one per named root
 * (k < pyhs_heap_nroots: named root k's object, repeats possible), then the
 * objects held only by references no object explains (C code). */
uint64_t pyhs_analysis_nroots(const struct pyhs_analysis *a);
uint32_t pyhs_analysis_root(const struct pyhs_analysis *a, uint64_t k);

/* An analysis rebuilt from what an earlier one of the same heap found
 * (a snapshot's index), without running it again: the objects taken as
 * roots for being held by C code (increasing object numbers, none of them
 * reached from the named roots), each object's immediate dominator
 * (pyhs_analysis_idom's values), its unexplained references and whether it
 * is garbage (0 or 1). The arrays are malloc'd (n elements each, nc_roots
 * for c_roots) and owned by the analysis once this succeeds; on failure
 * they stay the caller's. Retained sizes are summed again from the
 * dominators. PYHS_ERROR_INPUT if the parts do not fit the heap (a number
 * out of range, dominators that are not a tree). */
struct pyhs_analysis_parts {
	uint32_t *c_roots;
	uint64_t nc_roots;
	uint32_t *idom;
	uint64_t *unexplained;
	uint8_t *garbage;
};
struct pyhs_error *pyhs_analysis_restore(const struct pyhs_heap *h,
					 struct pyhs_analysis_parts *parts,
					 struct pyhs_analysis **ret);

/* The dominator tree as a tree to walk: each object's children (the
 * objects it immediately dominates), largest retained size first, under a
 * top node (number pyhs_domtree_top, the heap's object count) whose
 * children are the objects the roots as a whole dominate. Objects no root
 * reaches are not in it. */
struct pyhs_domtree;
struct pyhs_error *pyhs_domtree_create(const struct pyhs_analysis *a,
				       struct pyhs_domtree **ret);
void pyhs_domtree_destroy(struct pyhs_domtree *t);
uint64_t pyhs_domtree_top(const struct pyhs_domtree *t);
/* How many children v has; *ret gets them (valid while t lives). */
uint64_t pyhs_domtree_children(const struct pyhs_domtree *t, uint64_t v,
			       const uint32_t **ret);
/* The node above v: the top node for the objects the roots dominate,
 * UINT64_MAX for the top node and objects not in the tree. */
uint64_t pyhs_domtree_parent(const struct pyhs_domtree *t, uint64_t v);
/* Retained bytes and objects of v's subtree (v included); for the top
 * node, everything the roots reach. */
uint64_t pyhs_domtree_retained(const struct pyhs_domtree *t, uint64_t v);
uint64_t pyhs_domtree_count(const struct pyhs_domtree *t, uint64_t v);
/* A holder name for v as one step below its parent: how the parent holds
 * it and its type, "['CACHE'] dict", "module json", "sys.modules dict",
 * "held by C code list". With merge, labels that vary between siblings are
 * masked as pyhs_retention_key does ("['k*'] __main__.Leaky", "[*] int"), so
 * that siblings held alike get one name. */
void pyhs_domtree_name(const struct pyhs_domtree *t, uint64_t v, bool merge,
		       char *buf, size_t n);
/* The analysis the tree was made from. */
const struct pyhs_analysis *pyhs_domtree_analysis(const struct pyhs_domtree *t);

/* A path from a root to an object: the root (a named root, or the object
 * held by C code it starts at), then edges. */
struct pyhs_path {
	bool c_held;      /* starts at an object held by unexplained references */
	uint64_t root;    /* the named root's number, when !c_held */
	uint32_t start;   /* the object the path starts at */
	uint64_t nedges;
	uint64_t *edges;  /* edge numbers, from start to the target */
};
/* Shortest paths to target, one per distinct root that reaches it, shortest
 * first, at most max of them. PYHS_ERROR_NOT_FOUND if nothing reaches it. */
struct pyhs_error *pyhs_analysis_paths(const struct pyhs_analysis *a,
				       uint32_t target, size_t max,
				       struct pyhs_path **ret, size_t *ret_n);
void pyhs_paths_free(struct pyhs_path *paths, size_t n);

/* Reference cycles: strongly connected components of more than one object,
 * and objects that refer to themselves, largest (in bytes) first. With
 * garbage_only, only cycles made entirely of garbage. */
struct pyhs_cycles {
	uint64_t n;
	uint64_t *start;   /* n + 1 offsets into objects */
	uint32_t *objects;
	uint64_t *bytes;   /* per cycle */
	/* pyhs_analysis_garbage: of each group's objects, how many (listed
	 * first) make the cycle itself; NULL otherwise. */
	uint64_t *ncycle;
};
struct pyhs_error *pyhs_analysis_cycles(const struct pyhs_analysis *a,
					bool garbage_only,
					struct pyhs_cycles **ret);
void pyhs_cycles_free(struct pyhs_cycles *c);
/* What the cyclic collector would free now (pyhs_analysis_is_garbage),
 * every object of it once, in groups: each garbage cycle with the garbage
 * only it keeps, largest first, then one group (ncycle 0) of garbage no
 * cycle reaches, if any. */
struct pyhs_error *pyhs_analysis_garbage(const struct pyhs_analysis *a,
					 struct pyhs_cycles **ret);

/* ---- retention paths, for diffs -------------------------------------- */

/* Each object's place in a breadth-first tree from the roots (the
 * interpreter's own roots first, then thread frames, then the rest), as a
 * key over the root, the edge labels (dict keys with their digits
 * collapsed, indices as [*]) and the types down to the object. Two objects
 * held "the same way" have the same key in any heap. */
struct pyhs_retention;
struct pyhs_error *pyhs_retention_create(const struct pyhs_heap *h,
					 struct pyhs_retention **ret);
void pyhs_retention_destroy(struct pyhs_retention *r);
uint64_t pyhs_retention_key(const struct pyhs_retention *r, uint64_t i);
/* The root object i is held from (the first of the breadth-first tree),
 * or UINT64_MAX if no root reaches it. */
uint64_t pyhs_retention_root(const struct pyhs_retention *r, uint64_t i);
/* "module __main__ global CACHE ['k*']": where object i is held (not
 * including i itself). */
void pyhs_retention_describe(const struct pyhs_retention *r, uint64_t i,
			     char *buf, size_t n);

/* ---- holders: who keeps an object, in words ------------------------- */

/* One breadth-first tree from the analysis's roots (the interpreter's own
 * roots first, then what thread frames own, objects held by C code,
 * borrowed roots): every object's shortest labelled path, read as a
 * person names the place that keeps it. */
struct pyhs_holders;
struct pyhs_error *pyhs_holders_create(const struct pyhs_heap *h,
				       const struct pyhs_analysis *a,
				       struct pyhs_holders **ret);
void pyhs_holders_destroy(struct pyhs_holders *hs);
/* Whether a root reaches object i. */
bool pyhs_holders_reached(const struct pyhs_holders *hs, uint64_t i);
/* Object i's step in the tree: the reference into it (its number in the
 * heap's references, in *ret: PYHS_HOLDER_EDGE), or the root whose
 * object it is (its number in pyhs_analysis_root, in *ret:
 * PYHS_HOLDER_ROOT), or PYHS_HOLDER_NONE when no root reaches it. */
enum pyhs_holder_step { PYHS_HOLDER_NONE, PYHS_HOLDER_EDGE, PYHS_HOLDER_ROOT };
enum pyhs_holder_step pyhs_holders_step(const struct pyhs_holders *hs, uint64_t i,
					uint64_t *ret);
/* Object i's holder, shortened for display: "module __main__ global
 * CACHE", "thread 0 (MainThread) frame serve local history", "lru_cache
 * of __main__.render", "class Config attribute _registry", "closure of
 * HANDLER: held", "thread-local __main__.LOCAL attribute items"; the
 * steps of a long path past the last named place elided as "...". */
void pyhs_holders_name(const struct pyhs_holders *hs, uint64_t i, char *buf,
		       size_t n);
/* The tree's path to object i (free ret->edges); PYHS_ERROR_NOT_FOUND if
 * no root reaches it. */
struct pyhs_error *pyhs_holders_path(const struct pyhs_holders *hs, uint64_t i,
				     struct pyhs_path *ret);

/* ---- leak suspects ---------------------------------------------------- */

enum pyhs_suspect_kind {
	PYHS_SUSPECT_OBJECT, /* one object retains a share of the heap */
	PYHS_SUSPECT_TYPE,   /* a type's instances together do */
	PYHS_SUSPECT_C_HELD, /* held only by references no object or root explains */
	PYHS_SUSPECT_GROWTH, /* a holder whose retained size grew (two heaps) */
};

struct pyhs_suspect {
	enum pyhs_suspect_kind kind;
	/* OBJECT, C_HELD, GROWTH: the object (for OBJECT the highest whose
	 * retained size flows down to the point); TYPE: UINT32_MAX. */
	uint32_t obj;
	uint32_t type;          /* obj's type; TYPE: the type */
	uint64_t retained;      /* by obj; TYPE: by the instances together */
	uint64_t count;         /* objects obj retains; TYPE: its instances */
	/* The accumulation point: where the retained size stops flowing into
	 * one child (TYPE: the object holding most of the instances), or
	 * UINT32_MAX; and what accumulates there: acc_count of its children
	 * of type acc_type, retaining acc_bytes; sample, the largest of them
	 * (UINT32_MAX if none). */
	uint32_t point;
	uint64_t point_retained;
	uint32_t acc_type;
	uint64_t acc_count, acc_bytes;
	uint32_t sample;
	/* GROWTH: what the holder itself retained in the first heap (less
	 * the large places below it), and how much more it does now. */
	uint64_t before;
	int64_t growth;
};

struct pyhs_suspects {
	size_t n, capacity;
	struct pyhs_suspect *s;  /* by kind, then largest first */
	uint64_t total;          /* bytes the roots reach */
	uint64_t total_before;   /* growth: in the first heap */
	uint64_t min;            /* the threshold in bytes */
	size_t nc_held;          /* C-held objects in all (only max listed) */
};

struct pyhs_suspect_options {
	double threshold; /* share of the heap (0.10 when 0) */
	size_t max;       /* of each kind (10 when 0) */
};

/* Objects and types retaining at least threshold of the heap, each with
 * its accumulation point, and the objects held only by C code. */
struct pyhs_error *pyhs_suspects_find(const struct pyhs_domtree *t,
				      const struct pyhs_suspect_options *opts,
				      struct pyhs_suspects **ret);
/* The holders (named by hsa and hsb) whose own retained size grew most
 * from heap a to heap b, largest growth first. */
struct pyhs_error *pyhs_suspects_growth(const struct pyhs_domtree *ta,
					const struct pyhs_holders *hsa,
					const struct pyhs_domtree *tb,
					const struct pyhs_holders *hsb,
					const struct pyhs_suspect_options *opts,
					struct pyhs_suspects **ret);
void pyhs_suspects_destroy(struct pyhs_suspects *s);

/* ---- asyncio tasks ---------------------------------------------------- */

/* (The numbers are those of snapshots' ASYN states: formats/FORMAT.md.) */
enum pyhs_task_state {
	PYHS_TASK_UNKNOWN,
	PYHS_TASK_PENDING,
	PYHS_TASK_DONE,
	PYHS_TASK_CANCELLED,
};

/* The state a pure-Python future's _state spells: "PENDING", "FINISHED",
 * "CANCELLED"; UNKNOWN for anything else and NULL. */
enum pyhs_task_state pyhs_task_state_named(const char *name);

/* Where asyncio keeps a task (bits of pyhs_task.found_in). */
#define PYHS_TASK_IN_ALL_TASKS       0x01 /* asyncio.tasks._all_tasks (<= 3.11) */
#define PYHS_TASK_IN_SCHEDULED_TASKS 0x02 /* asyncio.tasks._scheduled_tasks (3.12+) */
#define PYHS_TASK_IN_EAGER_TASKS     0x04 /* asyncio.tasks._eager_tasks (3.12+) */
#define PYHS_TASK_IN_READY           0x08 /* a handle in its loop's _ready */
#define PYHS_TASK_IN_SCHEDULED       0x10 /* a timer in its loop's _scheduled */
#define PYHS_TASK_IN_THREAD_LIST     0x20 /* a thread's (or the interpreter's) list (3.14+) */

/* One coroutine of a task's chain. */
struct pyhs_task_frame {
	char *function;   /* co_qualname */
	char *file;       /* co_filename */
	int line;         /* -1 when unknown (a finished coroutine) */
	uint32_t obj;     /* the coroutine or generator object */
};

struct pyhs_task_awaiter {
	uint32_t task;    /* index into pyhs_tasks.tasks */
	const char *via;  /* "await", "gather" or "TaskGroup" (static) */
};

struct pyhs_task {
	uint32_t obj;            /* the Task object */
	uint32_t loop;           /* its event loop object, or UINT32_MAX */
	char *name;              /* NULL if unreadable */
	enum pyhs_task_state state;
	/* The coroutines it is suspended in, outermost (its own) first. */
	size_t nframes;
	struct pyhs_task_frame *frames;
	char *awaits;            /* what a pending task waits on, or NULL */
	uint32_t awaits_obj;     /* that future or task object, or UINT32_MAX */
	uint32_t awaits_task;    /* index of a task it awaits, or UINT32_MAX */
	size_t nawaited_by;
	struct pyhs_task_awaiter *awaited_by;
	unsigned found_in;       /* PYHS_TASK_IN_* */
	bool corrupt;            /* its chain loops or could not all be read */
};

struct pyhs_task_loop {
	uint32_t obj;
	bool closed;
};

#define PYHS_TASKS_MAX_EXAMPLES 10
struct pyhs_tasks {
	bool asyncio_imported;   /* a module asyncio is in the heap */
	size_t n;
	struct pyhs_task *tasks; /* in object order */
	size_t nloops;
	struct pyhs_task_loop *loops;
	/* The tasks task i awaits (awaited_by inverted):
	 * child[child_start[i] .. child_start[i + 1]). */
	uint64_t *child_start;
	uint32_t *child;
	uint64_t nwarnings;      /* chains that loop or cannot be read */
	size_t nexamples;
	char *examples[PYHS_TASKS_MAX_EXAMPLES];
};

/* What the walk read, from the objects' fields, of each generator,
 * coroutine and async generator (where its frame is) and of each C
 * _asyncio.Future and Task (its state): what the tasks analysis reads, as
 * data; value texts only display it. Records are in object order. */
struct pyhs_async_info {
	uint32_t obj;
	/* A future or task: PENDING, DONE or CANCELLED (UNKNOWN if its state
	 * could not be read). A generator: PENDING while it can run on, DONE
	 * once it has finished. */
	uint8_t state; /* enum pyhs_task_state */
	/* Generators: string ids of its __qualname__ and its code's
	 * co_filename (PYHS_NO_STRING if unreadable, and for futures). */
	uint32_t function;
	uint32_t file;
	int32_t line; /* the line it is suspended at; -1 unknown or finished */
};
uint64_t pyhs_heap_nasync(const struct pyhs_heap *h);
const struct pyhs_async_info *pyhs_heap_async_records(const struct pyhs_heap *h);
/* The record of object i, or NULL if it has none. */
const struct pyhs_async_info *pyhs_heap_async(const struct pyhs_heap *h, uint64_t i);

/* Every asyncio task in the heap (C _asyncio.Task and pure-Python Task
 * objects, wherever they are held), read from the object graph alone. */
struct pyhs_error *pyhs_tasks_find(const struct pyhs_heap *h,
				   struct pyhs_tasks **ret);
void pyhs_tasks_destroy(struct pyhs_tasks *t);

/* Pending tasks grouped by where their own (outermost) coroutine is
 * suspended, the same function, file and line: the groups of at least min
 * tasks, largest first (many tasks parked in one place are a leak worth
 * naming). *ret is malloc'd. */
struct pyhs_task_group {
	size_t task;     /* one task of the group (index into tasks) */
	uint64_t count;
};
struct pyhs_error *pyhs_tasks_pending_groups(const struct pyhs_tasks *t, uint64_t min,
					     struct pyhs_task_group **ret, size_t *ret_n);
/* ---- allocation sites: what tracemalloc traced ---------------------- */

/* Every trace of tracemalloc's tables (the address, size and traceback of
 * each live allocation it saw), read out of the interpreter: _PyRuntime's
 * tracemalloc state (3.12+) or the statics of Modules/_tracemalloc.c
 * (3.8-3.11, found by symbol). Tables that do not add up (a chain that
 * loops, a count that lies) are read as far as they make sense and
 * counted as warnings. */
struct pyhs_allocations;

enum pyhs_allocations_status {
	PYHS_ALLOCATIONS_OK,      /* tracemalloc was tracing: traces read */
	PYHS_ALLOCATIONS_OFF,     /* tracemalloc was not tracing */
	PYHS_ALLOCATIONS_MISSING, /* its state cannot be found: see missing */
};

/* Only PYHS_ERROR_NOMEM: what cannot be read is in the status. */
struct pyhs_error *pyhs_allocations_read(const struct pyhs_target *t,
					 struct pyhs_allocations **ret);
void pyhs_allocations_destroy(struct pyhs_allocations *a);
enum pyhs_allocations_status pyhs_allocations_status(const struct pyhs_allocations *a);
/* Why the state could not be read (MISSING), else "". */
const char *pyhs_allocations_missing(const struct pyhs_allocations *a);
uint64_t pyhs_allocations_nwarnings(const struct pyhs_allocations *a);
const char *pyhs_allocations_warning(const struct pyhs_allocations *a); /* first, or "" */
int pyhs_allocations_max_frames(const struct pyhs_allocations *a); /* traceback limit */

struct pyhs_trace {
	uint64_t addr, size;
	uint32_t domain;
	uint32_t traceback; /* index of its traceback */
};
uint64_t pyhs_allocations_ntraces(const struct pyhs_allocations *a);
void pyhs_allocations_trace(const struct pyhs_allocations *a, uint64_t i,
			    struct pyhs_trace *ret);
/* The trace whose block [addr, addr + size) holds addr; false if none. */
bool pyhs_allocations_find(const struct pyhs_allocations *a, uint64_t addr,
			   uint64_t *ret);
/* A traceback's frames, most recent first. */
uint32_t pyhs_allocations_nframes(const struct pyhs_allocations *a, uint32_t tb);
void pyhs_allocations_frame(const struct pyhs_allocations *a, uint32_t tb,
			    uint32_t k, const char **file, uint32_t *line);

/* Traces grouped as tracemalloc's Snapshot.statistics() groups them: by
 * the most recent frame ('lineno') or by the whole traceback
 * ('traceback'), largest first. */
struct pyhs_allocation_stat {
	uint32_t traceback; /* of one trace of the group: its first frame is
			     * the line (by line) or it is the group's */
	uint64_t size, count;
};
struct pyhs_error *pyhs_allocations_group(const struct pyhs_allocations *a,
					  bool by_traceback,
					  struct pyhs_allocation_stat **ret,
					  size_t *ret_n);

/* The traces' count and bytes (also of a restored summary, which has no
 * traces of its own: pyhs_allocations_ntraces is 0 there). */
void pyhs_allocations_totals(const struct pyhs_allocations *a, uint64_t *ret_traces,
			     uint64_t *ret_bytes);

/* A summary of the traces, restored from a snapshot: what it says of
 * itself, then each traceback with its traces' bytes and count (frames
 * most recent first). pyhs_allocations_group gives what the traces it was
 * made from gave. */
struct pyhs_allocations_header {
	enum pyhs_allocations_status status;
	const char *missing, *warning;
	uint64_t nwarnings;
	int max_frames;
	uint64_t traces, bytes;
};
struct pyhs_error *pyhs_allocations_restore(const struct pyhs_allocations_header *hd,
					    struct pyhs_allocations **ret);
struct pyhs_error *pyhs_allocations_restore_traceback(struct pyhs_allocations *a,
						      uint64_t size, uint64_t count,
						      uint32_t nframes,
						      const char *const *files,
						      const uint32_t *lines);

/* The allocators' state, what `memory` says: pymalloc's, tracemalloc's
 * traces, the regions (malloc's chunks told apart by the heap's objects
 * where a heap was read; objects_not_read says why not, or ""). */
struct pyhs_memory_state {
	struct pyhs_pymalloc *pymalloc;
	struct pyhs_allocations *allocations;
	struct pyhs_regions *regions;
	char objects_not_read[256];
};
/* Reads it from t; h (built from t) may be NULL, heap_problem then says
 * why. PYHS_ERROR_NOMEM only. */
struct pyhs_error *pyhs_memory_state_read(const struct pyhs_target *t,
					  struct pyhs_heap *h,
					  const char *heap_problem,
					  struct pyhs_memory_state **ret);
void pyhs_memory_state_destroy(struct pyhs_memory_state *m);
/* The state kept with a heap (a snapshot's, or one read to write one), or
 * NULL; set hands m to the heap, which destroys it with itself. */
const struct pyhs_memory_state *pyhs_heap_memory(const struct pyhs_heap *h);
void pyhs_heap_set_memory(struct pyhs_heap *h, struct pyhs_memory_state *m);

/* The memory objects own, for telling malloc's chunks apart (see
 * pyhs_regions_read): every object, and the blocks it owns outside its
 * layout (list items, bytearray bytes, set tables, dict keys and values,
 * deque blocks, numpy data, io buffers, array items), read from t, the
 * target the heap was built from. Sorted as pyhs_regions_read wants; the
 * strings live as long as the heap; free() the array. */
struct pyhs_error *pyhs_heap_region_owners(struct pyhs_heap *h,
					   const struct pyhs_target *t,
					   struct pyhs_region_owner **ret,
					   size_t *ret_n);

/* ---- columns and parts: how the snapshot format saves and loads a heap */

/* The big per-object and per-edge arrays. */
struct pyhs_heap_columns {
	uint64_t nobjects;
	uint64_t *addr;
	uint32_t *type;
	uint64_t *size;        /* NULL in a view: pyhs_heap_size */
	uint64_t *refcnt;      /* NULL in a view: pyhs_heap_refcnt */
	uint8_t *gen;          /* enum pyhs_gen */
	uint8_t *flags;        /* PYHS_OBJ_* */
	uint32_t *value_off;   /* offset into value_text, or UINT32_MAX */
	uint32_t *edge_start;  /* nobjects + 1 entries (nedges < 2^32 - 1) */
	uint64_t nedges;
	uint32_t *edge_dst;
	uint32_t *edge_label;
	uint64_t value_text_size;
	char *value_text;      /* NUL-terminated strings */
};

/* Views of a heap's arrays: not owned, valid while the heap lives. */
void pyhs_heap_get_columns(const struct pyhs_heap *h,
			   struct pyhs_heap_columns *ret);

/* The decoder kind of a type (a small number below PYHS_NKINDS): saved
 * with a snapshot so previews and labels come out the same. */
#define PYHS_NKINDS 32
uint8_t pyhs_heap_type_kind(const struct pyhs_heap *h, uint32_t type);
/* The label string pool (PYHS_LABEL_FIELD payloads, root and frame
 * names). */
uint32_t pyhs_heap_nstrings(const struct pyhs_heap *h);
const char *pyhs_heap_string(const struct pyhs_heap *h, uint32_t id);

/* Everything needed to rebuild a heap. The arrays in columns are malloc'd
 * and owned by the heap once pyhs_heap_assemble succeeds (on failure they
 * stay the caller's); all other pointers are copied. */
struct pyhs_heap_parts {
	struct pyhs_heap_columns columns;
	struct pyhs_heap_meta meta;
	uint32_t ntypes;
	const char *const *type_names;
	const uint8_t *type_kinds;
	uint32_t nstrings;
	const char *const *strings;
	uint64_t nroots;
	const uint32_t *root_obj;
	const struct pyhs_root_info *roots;
	uint32_t nframes;
	const struct pyhs_frame_info *frames;
	size_t nthreads;
	const struct pyhs_thread_info *threads;
	struct pyhs_gc_generation_info gc[4];
	bool gc_enabled;
	uint64_t warn_count[PYHS_WARN_NKINDS];
	size_t nwarn_examples;
	const char *const *warn_examples;
	/* Generators and C futures as data (copied), in object order. */
	uint64_t nasync;
	const struct pyhs_async_info *async;
};

/* Checks every cross-reference (edge targets, types, value offsets, label
 * payloads, roots) and builds the heap. PYHS_ERROR_INPUT if inconsistent. */
struct pyhs_error *pyhs_heap_assemble(struct pyhs_heap_parts *parts,
				      struct pyhs_heap **ret);

#endif
