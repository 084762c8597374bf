/*
 * Roots that C code holds: the references CPython keeps outside objects,
 * which would otherwise look like leaked ones. Each is found by scanning C
 * memory conservatively (a word is a reference only if it is the address of
 * an object):
 *
 *   - the interpreter state and the runtime state (the codec registry, the
 *     atexit callbacks, the warnings filters, the import machinery, 3.12+'s
 *     static types' dicts and subclasses, the interpreter's caches), and
 *     the malloc chunks their words start (3.10's identifiers, the atexit
 *     callbacks' array);
 *   - each thread state;
 *   - the C statics of every mapped file (.data and .bss: static objects
 *     hold the reference they were made with; identifiers, small-int and
 *     one-character caches, C modules' globals, a PyModuleDef's m_copy);
 *   - each thread's C stack, from its stack pointer to the end of its stack
 *     mapping, and its registers.
 *
 * A word of C memory is a root, owning one reference, only while its object
 * has references that no object and no other root explains: a C pointer to
 * an object whose count is accounted for is borrowed or stale, and a root
 * for it would only lengthen no path. A word in a free list's array (next
 * to dead objects of its type) is none: the array keeps pointers to
 * objects taken from it and reused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "croots.h"
#include "walk.h"

#define TPFLAGS_HEAPTYPE (UINT64_C(1) << 9)
#define MAX_OBJECT_ITEMS (UINT64_C(1) << 32)
/* The most of a thread's C stack scanned, from its stack pointer up: more
 * than a default 8 MiB stack, and a bound when a corrupt core's mappings
 * make a stack look huge. */
#define MAX_STACK_SCAN (UINT64_C(64) << 20)
/* The largest malloc chunk a state's word is followed into. */
#define MAX_CHUNK (UINT64_C(1) << 20)
/* How deep chunks are followed from a state's word (3.10 to 3.12's atexit
 * callbacks: an array of pointers to structs that hold the callables). */
#define MAX_CHUNK_DEPTH 2
/* The first minor version whose free lists keep dead objects' counts. */
#define FREELISTS_KEEP_COUNT 14
/* How far back from a word a free list's dead entries are looked for (the
 * longest free lists have 80 entries). */
#define FREE_LIST_SLOTS 80

struct range {
	uint64_t start, end;
};
DEFINE_VECTOR(range_vector, struct range)

/* The place a word is in: the root it makes (see enum pyhs_root_kind). */
struct place {
	enum pyhs_root_kind kind;
	uint32_t thread; /* or PYHS_NO_THREAD */
	const char *name; /* or NULL */
	/* In the interpreter's or the runtime's state: which, and where it
	 * starts and how long it is (words are named by their member). */
	bool state;
	enum pyhs_state which;
	uint64_t base, size;
};

struct croots {
	struct pyhs_heap *h;
	struct walker *w;
	struct pyhs_error **err;
	struct range_vector scanned;      /* C memory scanned already */
	struct range_vector statics;      /* files' writable data, with .bss */
	struct pyhs_u64_vector files;     /* their paths (const char *) */
	bool create;                      /* words make objects, not roots */
	bool follow;                      /* into malloc chunks a word names */
	unsigned depth;                   /* of the chunk being scanned */
	struct pyhs_pymalloc *pymalloc;   /* its arenas, or NULL */
	struct pyhs_u32_column need;      /* references left unexplained */
};

static bool plausible_pointer(uint64_t v)
{
	return v >= 4096 && !(v & 7) && v <= UINT64_C(0x7fffffffffff);
}

static void croots_fail(struct croots *c, struct pyhs_error *err)
{
	if (!*c->err)
		*c->err = err;
}

/* Whether addr is in a file's writable data: a static object there that
 * the walk did not find is none (a table of C pointers looks like one). */
static bool in_statics(const struct croots *c, uint64_t addr)
{
	for (size_t k = 0; k < c->statics.size; k++)
		if (addr >= c->statics.data[k].start && addr < c->statics.data[k].end)
			return true;
	return false;
}

/* Whether the word at addr, the address of an object of type type, is an
 * entry of a free list's array: the pointers before it, to objects of the
 * same type, reach one to a dead object (a count of 0). */
static bool in_free_list(const struct croots *c, uint64_t addr, uint64_t type)
{
	for (uint64_t k = 1; k <= FREE_LIST_SLOTS; k++) {
		uint64_t v, hdr[2];
		if (!hrd(c->h, addr - 8 * k, &v) || !plausible_pointer(v) ||
		    !pyhs_target_read(c->h->t, v, hdr, sizeof(hdr)) || hdr[1] != type)
			return false;
		if (hdr[0] == 0)
			return true;
	}
	return false;
}

/* Whether at is a member of a state that borrows its pointers (3.13+'s
 * cache of functions by version: a function clears its entry as it dies). */
static bool borrowed_member(const struct place *at)
{
	return at->kind == PYHS_ROOT_INTERP_FIELD && at->name &&
	       strstr(at->name, "func_version_cache");
}

/* A word at addr holding v, which may be a reference. Finding objects
 * (c->create: C statics and, up to 3.13, the states, before the walk
 * decodes objects), its address is a candidate of the walker's: made an
 * object only if no real reference reaches it and it validates whole,
 * every reference it holds included (a word may point to a freed or half
 * built object whose header still looks right; a stale word of a stack,
 * or of a 3.14+ free list, makes none at all). Making roots,
 * once the walk is over: a root of the kind its place says, if its object
 * has references nothing explains. */
static void root_word(struct croots *c, uint64_t addr, uint64_t v, const struct place *at)
{
	if (!plausible_pointer(v) || *c->err)
		return;
	struct pyhs_heap *h = c->h;
	uint32_t j = pyhs_heap_lookup(h, v);
	if (c->create) {
		if (j == PYHS_NO_OBJECT && !in_statics(c, v) &&
		    !pyhs_u64_vector_append(&c->w->candidates, v))
			croots_fail(c, &pyhs_enomem);
		return;
	}
	if (j == PYHS_NO_OBJECT || !c->need.v.data[j] || borrowed_member(at) ||
	    (addr && in_free_list(c, addr, h->types.data[h->type.data[j]].addr)))
		return;
	if (!pyhs_u32_column_set(&c->need, j, pyhs_u32_column_at(&c->need, j) - 1)) {
		croots_fail(c, &pyhs_enomem);
		return;
	}
	walk_root(c->w, v, at->kind, at->thread, PYHS_NO_FRAME, at->name, true);
}

static uint64_t static_object_size(struct croots *c, uint64_t addr, bool *is_type)
{
	struct pyhs_heap *h = c->h;
	const struct pyhs_layout *L = h->L;
	uint64_t hdr[2];
	if (!pyhs_target_read(h->t, addr, hdr, sizeof(hdr)) || !hdr[0] ||
	    !plausible_pointer(hdr[1]))
		return 0;
	/* A count no object reaches is a pointer (a struct of C pointers,
	 * the second of them a type's, is no object). */
	if (h->minor >= 14 ? (uint32_t)hdr[0] == 0 || ((hdr[0] >> 32) & 0xffff) != 0
			   : hdr[0] >= (UINT64_C(1) << 40))
		return 0;
	uint32_t t;
	const uint32_t *known = pyhs_addr_u32_map_search(&h->type_by_addr, hdr[1]);
	if (known) {
		t = *known;
	} else {
		struct pyhs_error *err = NULL;
		if (!c->create || (t = pyhs_type_get(h, hdr[1], &err)) == PYHS_NO_OBJECT) {
			if (err)
				croots_fail(c, err);
			return 0;
		}
	}
	const struct pyhs_type_info *ti = &h->types.data[t];
	*is_type = ti->kind == K_TYPE;
	if (*is_type) {
		uint64_t flags = 0;
		hrd_off(h, addr, L->type_tp_flags, &flags);
		int32_t size = (flags & TPFLAGS_HEAPTYPE) ? L->heaptype_size : L->type_size;
		return size > 0 ? (uint64_t)size : (uint64_t)ti->basicsize;
	}
	uint64_t size = (uint64_t)ti->basicsize;
	uint64_t n;
	if (ti->itemsize && hrd(h, addr + 16, &n)) {
		n = pyhs_uabs64((int64_t)n);
		if (n < MAX_OBJECT_ITEMS)
			size += n * (uint64_t)ti->itemsize;
	}
	return size;
}

static void scan_range(struct croots *c, uint64_t start, uint64_t end,
		       const struct place *at, bool objects);

/* In struct pool_header (48 bytes): the count of blocks in use, the size
 * class index (blocks are (szidx + 1) * 16 bytes), the arena's index and
 * the offsets of the next block never used and of the last. */
#define POOL_COUNT 0
#define POOL_ARENAINDEX 32
#define POOL_HEADER 48

/* The size of the pymalloc block in use that p is the start of, or 0: in
 * one of its arenas (or, when its arenas cannot be found, a stripped
 * binary's, in what has the header of a pool), in a pool with blocks in
 * use, at a block boundary. */
static uint64_t pymalloc_block(const struct croots *c, uint64_t p)
{
	const struct pyhs_pymalloc *pm = c->pymalloc;
	if (!pm || pm->status == PYHS_PYMALLOC_UNUSED || !pm->pool_size ||
	    (pm->pool_size & (pm->pool_size - 1)))
		return 0;
	bool known = pm->status == PYHS_PYMALLOC_OK;
	size_t k = 0;
	while (known && k < pm->narenas && !(p >= pm->arena_list[k].address &&
					      p < pm->arena_list[k].address + pm->arena_size))
		k++;
	uint64_t pool = p & ~(pm->pool_size - 1);
	uint64_t overhead = known ? pm->pool_overhead : POOL_HEADER;
	uint32_t hdr[4]; /* arenaindex, szidx, nextoffset, maxnextoffset */
	uint32_t count;
	if ((known && k == pm->narenas) || p < pool + overhead ||
	    !pyhs_target_read(c->h->t, pool + POOL_ARENAINDEX, hdr, sizeof(hdr)) ||
	    !pyhs_target_read(c->h->t, pool + POOL_COUNT, &count, 4) || !count ||
	    hdr[1] >= pm->nclasses)
		return 0;
	uint64_t size = ((uint64_t)hdr[1] + 1) * 16;
	if (!known && ((uint64_t)count * size > pm->pool_size || hdr[0] >= (1u << 20) ||
		       hdr[2] > pm->pool_size || hdr[3] > pm->pool_size || hdr[2] < overhead))
		return 0;
	return (p - pool - overhead) % size ? 0 : size;
}

/* A glibc malloc chunk in use that p is the start of (its size word before
 * it, the next chunk's saying this one is in use), or a pymalloc block in
 * use (PyMem_Malloc's): scanned like the state that points to it (3.10's
 * identifiers, the atexit callbacks' array and each callback). */
static void scan_chunk(struct croots *c, uint64_t p, const struct place *at)
{
	uint64_t size, next, end;
	if (!plausible_pointer(p) || in_statics(c, p) ||
	    pyhs_heap_lookup(c->h, p) != PYHS_NO_OBJECT)
		return;
	if ((size = pymalloc_block(c, p))) {
		end = p + size;
	} else {
		if (!hrd(c->h, p - 8, &size) || (size & 2))
			return;
		size &= ~UINT64_C(7);
		if (size < 32 || size > MAX_CHUNK || !hrd(c->h, p - 16 + size + 8, &next) ||
		    !(next & 1))
			return;
		end = p - 16 + size;
	}
	c->follow = ++c->depth < MAX_CHUNK_DEPTH;
	scan_range(c, p, end, at, false);
	c->follow = --c->depth < MAX_CHUNK_DEPTH;
}

/* The place of the word at addr in at: in a state, the member it is in
 * (a chunk it points to is scanned as that member's). */
static const struct place *word_place(const struct place *at, uint64_t addr,
				      unsigned minor, struct place *ret)
{
	if (!at->state || addr < at->base)
		return at;
	const char *field = pyhs_state_field(at->which, minor, at->size, addr - at->base);
	if (!field)
		return at;
	*ret = (struct place){ .kind = at->which == PYHS_STATE_RUNTIME ? PYHS_ROOT_RUNTIME_FIELD
								       : PYHS_ROOT_INTERP_FIELD,
			       .thread = PYHS_NO_THREAD, .name = field };
	return ret;
}

/* Scans [start, end) word by word for references, but for what was
 * scanned already; with objects, C memory that may hold static objects
 * (each holding the reference it was made with). */
static void scan_range(struct croots *c, uint64_t start, uint64_t end,
		       const struct place *at, bool objects)
{
	start = (start + 7) & ~UINT64_C(7);
	if (end <= start)
		return;
	/* The ranges scanned already that overlap this one. */
	struct range_vector skip;
	range_vector_init(&skip);
	for (size_t k = 0; k < c->scanned.size; k++) {
		struct range r = c->scanned.data[k];
		if (r.start < end && r.end > start && !range_vector_append(&skip, r))
			croots_fail(c, &pyhs_enomem);
	}
	struct range self = { start, end };
	if (!range_vector_append(&c->scanned, self))
		croots_fail(c, &pyhs_enomem);
	for (uint64_t a = start; a + 8 <= end && !*c->err;) {
		bool skipped = false;
		for (size_t k = 0; k < skip.size; k++)
			if (a >= skip.data[k].start && a < skip.data[k].end) {
				a = (skip.data[k].end + 7) & ~UINT64_C(7);
				skipped = true;
			}
		if (skipped)
			continue;
		/* A static object holds the reference it was made with (types
		 * are the walker's roots); its fields are scanned too: only
		 * references nothing explains make roots. */
		bool is_type = false;
		struct place field;
		const struct place *wat = word_place(at, a, c->h->minor, &field);
		if (objects && static_object_size(c, a, &is_type) && !is_type)
			root_word(c, 0, a, wat);
		uint64_t v;
		if (hrd(c->h, a, &v)) {
			root_word(c, a, v, wat);
			if (c->follow)
				scan_chunk(c, v, wat);
		}
		a += 8;
	}
	range_vector_deinit(&skip);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Every mapped file's writable segments (.data and .bss, as its program
 * headers say) into c->statics, c->files their paths. */
static void find_statics(struct croots *c)
{
	const struct pyhs_target *t = c->h->t;
	size_t n = pyhs_target_nfiles(t);
	for (size_t f = 0; f < n && !*c->err; f++) {
		struct range r;
		const char *path;
		for (size_t i = 0; pyhs_target_file_data(t, f, i, &r.start, &r.end, &path); i++)
			if (!range_vector_append(&c->statics, r) ||
			    !pyhs_u64_vector_append(&c->files, (uint64_t)(uintptr_t)path))
				croots_fail(c, &pyhs_enomem);
	}
}

static void scan_statics(struct croots *c)
{
	for (size_t k = 0; k < c->statics.size && k < c->files.size && !*c->err; k++) {
		const char *file = (const char *)(uintptr_t)c->files.data[k];
		struct place at = { .kind = PYHS_ROOT_C_STATICS, .thread = PYHS_NO_THREAD,
				    .name = base_name(file) };
		scan_range(c, c->statics.data[k].start, c->statics.data[k].end, &at, true);
	}
}

/* The Python thread whose thread state names the LWP with this thread
 * pointer or thread id, or SIZE_MAX. */
static size_t python_thread(const struct pyhs_heap *h, const struct pyhs_thread_stack *s)
{
	for (size_t k = 0; k < h->threads.size; k++) {
		const struct pyhs_thread *th = &h->threads.data[k];
		if ((th->info.ident && th->info.ident == s->fs_base) ||
		    (th->info.native_id && th->info.native_id == (uint64_t)s->tid))
			return k;
	}
	return SIZE_MAX;
}

static void scan_stacks(struct croots *c)
{
	const struct pyhs_target *t = c->h->t;
	size_t n = pyhs_target_nthreads(t);
	for (size_t i = 0; i < n && !*c->err; i++) {
		struct pyhs_thread_stack s;
		if (!pyhs_target_thread_stack(t, i, &s))
			continue;
		size_t k = python_thread(c->h, &s);
		char lwp[32];
		snprintf(lwp, sizeof(lwp), "LWP %d", s.tid);
		struct place at = { .kind = PYHS_ROOT_C_STACK, .thread = PYHS_NO_THREAD, .name = lwp };
		if (k != SIZE_MAX)
			at = (struct place){ .kind = PYHS_ROOT_C_STACK, .thread = (uint32_t)k };
		for (size_t r = 0; r < PYHS_STACK_REGISTERS; r++)
			root_word(c, 0, s.general[r], &at);
		uint64_t end = s.end > s.sp && s.end - s.sp > MAX_STACK_SCAN ? s.sp + MAX_STACK_SCAN : s.end;
		/* And the malloc blocks its words start, one deep (a parser's
		 * arena, which holds the list of the objects it made). */
		c->follow = true;
		c->depth = MAX_CHUNK_DEPTH - 1;
		scan_range(c, s.sp, end, &at, false);
		c->follow = false;
		c->depth = 0;
	}
}

static void croots_init(struct croots *c, struct pyhs_heap *h, struct walker *w,
			struct pyhs_error **err, bool create)
{
	*c = (struct croots){ .h = h, .w = w, .err = err, .create = create };
	range_vector_init(&c->scanned);
	range_vector_init(&c->statics);
	pyhs_u64_vector_init(&c->files);
	pyhs_u32_column_init(&c->need);
	find_statics(c);
	struct pyhs_error *e = pyhs_pymalloc_read(h->t, &c->pymalloc);
	if (e)
		croots_fail(c, e);
}

static void croots_deinit(struct croots *c)
{
	range_vector_deinit(&c->scanned);
	range_vector_deinit(&c->statics);
	pyhs_u64_vector_deinit(&c->files);
	pyhs_pymalloc_destroy(c->pymalloc);
	pyhs_u32_column_deinit(&c->need);
}

/* The interpreter, runtime and thread states: [start, end) of the k-th,
 * with the place it is; false past the last. */
static bool state_range(const struct pyhs_heap *h, size_t k, uint64_t *start,
			uint64_t *end, struct place *at)
{
	const struct pyhs_layout *L = h->L;
	uint64_t rt = pyhs_target_runtime(h->t);
	if (k == 0) {
		*start = h->interp;
		*end = L->interp_size > 0 ? h->interp + (uint64_t)L->interp_size : h->interp;
		*at = (struct place){ PYHS_ROOT_INTERP_HOLDER, PYHS_NO_THREAD, "interpreter state",
				      true, PYHS_STATE_INTERP, *start, *end - *start };
		return true;
	}
	if (k == 1) {
		*start = rt;
		*end = rt && L->rt_size > 0 ? rt + (uint64_t)L->rt_size : rt;
		*at = (struct place){ PYHS_ROOT_INTERP_HOLDER, PYHS_NO_THREAD, "runtime state",
				      true, PYHS_STATE_RUNTIME, *start, *end - *start };
		return true;
	}
	if (k - 2 >= h->threads.size)
		return false;
	*start = h->threads.data[k - 2].tstate;
	*end = L->tstate_size > 0 ? *start + (uint64_t)L->tstate_size : *start;
	*at = (struct place){ .kind = PYHS_ROOT_THREAD_STATE, .thread = (uint32_t)(k - 2) };
	return true;
}

/* The interpreter's, the runtime's and the threads' states. */
static void scan_states(struct croots *c)
{
	uint64_t start, end;
	struct place at;
	for (size_t k = 0; state_range(c->h, k, &start, &end, &at); k++) {
		struct range r = { start, end };
		if (c->create && c->h->minor >= FREELISTS_KEEP_COUNT) {
			/* Scanned, for the statics, but making nothing. */
			if (end > start && !range_vector_append(&c->scanned, r))
				croots_fail(c, &pyhs_enomem);
			continue;
		}
		c->follow = true;
		c->depth = 0;
		scan_range(c, start, end, &at, true);
		c->follow = false;
	}
}

void pyhs_croots_find(struct pyhs_heap *h, struct walker *w, struct pyhs_error **err)
{
	if (*err)
		return;
	struct croots c;
	croots_init(&c, h, w, err, true);
	scan_states(&c);
	scan_statics(&c);
	croots_deinit(&c);
}

void pyhs_croots(struct pyhs_heap *h, struct walker *w, struct pyhs_error **err)
{
	if (*err)
		return;
	struct croots c;
	croots_init(&c, h, w, err, false);
	uint64_t n = h->addr.size;
	bool ok = pyhs_u32_vector_reserve(&c.need.v, n ? n : 1);
	if (ok) {
		c.need.v.size = n;
		ok = pyhs_unexplained_refs(h, &c.need);
	}
	if (!ok) {
		croots_fail(&c, &pyhs_enomem);
		croots_deinit(&c);
		return;
	}
	scan_states(&c);
	scan_statics(&c);
	scan_stacks(&c);
	/* Each root made took one from its object's count: what is left is
	 * the analysis's count, kept for it (without it, it counts again). */
	if (!*err)
		h->have_unexplained = pyhs_sparse_column_from(&h->unexplained, &c.need, NULL, n);
	croots_deinit(&c);
}

/* What members of the states are for, by the start of their paths (the
 * first that matches names a member). */
static const struct {
	const char *prefix, *words;
} state_purposes[] = {
	{ "codec_", "codec registry" },
	{ "codecs.", "codec registry" },
	{ "atexit", "atexit callbacks" },
	{ "warnings.", "warnings filters" },
	{ "importlib", "import machinery" },
	{ "import_func", "import machinery" },
	{ "modules_by_index", "import machinery" },
	{ "imports.", "import machinery" },
	{ "override_frozen_modules", "import machinery" },
	{ "audit_hooks", "audit hooks" },
	{ "before_forkers", "fork callbacks" },
	{ "after_forkers", "fork callbacks" },
	{ "dict_state.watchers", "dict watchers" },
	{ "dict_watchers", "dict watchers" },
	{ "func_watchers", "function watchers" },
	{ "func_state.watchers", "function watchers" },
	{ "type_watchers", "type watchers" },
	{ "code_watchers", "code watchers" },
	{ "context_watchers", "context watchers" },
	{ "gc.", "garbage collector" },
	{ "types.", "static types" },
	{ "cached_objects.", "cached objects" },
	{ "static_objects.", "static objects" },
	{ "global_objects.", "static objects" },
	{ "callable_cache", "caches" },
	{ "type_cache", "caches" },
	{ "slice_cache", "caches" },
	{ "unicode.", "str state" },
	{ "exc_state.", "exceptions" },
	{ "ast.", "ast state" },
	{ "monitoring", "tracing and profiling" },
	{ "sys_profile", "tracing and profiling" },
	{ "sys_trac", "tracing and profiling" },
	{ "threads.", "threads" },
	{ "_initial_thread", "initial thread state" },
};

/* The free lists' and caches' members are named by what they hold. */
static const char *state_purpose(const char *field)
{
	for (size_t k = 0; k < sizeof(state_purposes) / sizeof(state_purposes[0]); k++)
		if (!strncmp(field, state_purposes[k].prefix, strlen(state_purposes[k].prefix)))
			return state_purposes[k].words;
	if (strstr(field, "free_list") || strstr(field, "freelist"))
		return "free lists";
	if (strstr(field, "cache"))
		return "caches";
	return NULL;
}

void pyhs_state_field_text(bool runtime, const char *field, char *buf, size_t n)
{
	const char *state = runtime ? "runtime state" : "interpreter state";
	const char *words = state_purpose(field);
	if (words)
		snprintf(buf, n, "%s: %s (%s)", state, words, field);
	else
		snprintf(buf, n, "%s: %s", state, field);
}
