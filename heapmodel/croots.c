/*
 * Roots that C code holds: the references CPython keeps outside objects,
 * which would otherwise look like leaked ones. Each is found by scanning C
 * memory conservatively, once the walk has found every object (a word is a
 * reference only if it is the address of one):
 *
 *   - the interpreter state and the runtime state (the codec registry, the
 *     atexit callbacks, the warnings filters, the import machinery, 3.12+'s
 *     static types' dicts and subclasses, the interpreter's caches);
 *   - each thread state;
 *   - the C statics of every mapped file (.data and .bss: static objects
 *     hold the reference they were made with, and their fields are their
 *     own references; identifiers, small-int and one-character caches, C
 *     modules' globals);
 *   - each thread's C stack, from its stack pointer to the end of its stack
 *     mapping, and its registers.
 *
 * Each word of C memory that is an object's address is a root owning one
 * reference, except for objects a root of the walker's names already (but
 * on a C stack).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "croots.h"

#define TPFLAGS_HEAPTYPE (UINT64_C(1) << 9)
/* An anonymous mapping after a file's writable one is its .bss only when
 * it is no larger than this. */
#define MAX_BSS (UINT64_C(64) << 20)
#define MAX_OBJECT_ITEMS (UINT64_C(1) << 32)
#define STATICS_LABEL "C statics of "
/* The largest malloc chunk a state's word is followed into. */
#define MAX_CHUNK (UINT64_C(1) << 20)
/* The first minor version whose free lists keep dead objects' counts. */
#define FREELISTS_KEEP_COUNT 14

struct range {
	uint64_t start, end;
};
DEFINE_VECTOR(range_vector, struct range)

struct croots {
	struct pyhs_heap *h;
	struct walker *w;
	pyhs_add_root_fn *add_root;
	struct pyhs_error **err;
	struct pyhs_addr_u32_map rooted;  /* objects the walker's roots name */
	struct range_vector scanned;      /* C memory scanned already */
	bool create;                      /* words may make objects */
	bool objects_only;                /* static objects, not words */
	bool follow;                      /* into malloc chunks a word names */
	struct range_vector statics;      /* files' writable data, with .bss */
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

/* Marks addr in map; false if it was already. */
static bool mark(struct croots *c, struct pyhs_addr_u32_map *map, uint64_t addr)
{
	bool inserted;
	uint32_t *slot = pyhs_addr_u32_map_insert(map, addr, &inserted);
	if (!slot) {
		croots_fail(c, &pyhs_enomem);
		return false;
	}
	*slot = 0;
	return inserted;
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

/* A word that may be a reference: a root named label if it is the address
 * of an object. With c->create (C statics, before the walk decodes
 * objects), one that validates whole is made an object; else only those
 * the walk found count (a stale word of a stack or of a free list may point
 * to a dead object's intact bytes). Each word of C memory owns a
 * reference, but for objects a root of the walker's names (a field of the
 * interpreter state it reads) outside a C stack (whose frames hold
 * references of their own to what Python frames hold). */
static void root_word(struct croots *c, uint64_t v, const char *label, bool stack)
{
	if (!plausible_pointer(v) || *c->err ||
	    (!stack && pyhs_addr_u32_map_search(&c->rooted, v)))
		return;
	if (pyhs_heap_lookup(c->h, v) == PYHS_NO_OBJECT) {
		struct pyhs_error *err = NULL;
		if (!c->create || in_statics(c, v) ||
		    pyhs_heap_add(c->h, v, true, &err) == PYHS_NO_OBJECT) {
			if (err)
				croots_fail(c, err);
			return;
		}
	}
	c->add_root(c->w, v, label, true);
}

/* The extent of a static object whose header is at addr (a static type, a
 * 3.12+ static str or int, a singleton), or 0 if none is there; *is_type
 * tells a type. */
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
		       const char *label, bool objects);

/* A glibc malloc chunk in use that p is the start of (its size word before
 * it, the next chunk's saying this one is in use): scanned like the state
 * that points to it (3.10's identifiers, the atexit callbacks' array). */
static void scan_chunk(struct croots *c, uint64_t p, const char *label)
{
	uint64_t size, next;
	if (!plausible_pointer(p) || pyhs_heap_lookup(c->h, p) != PYHS_NO_OBJECT ||
	    !hrd(c->h, p - 8, &size) || (size & 2))
		return;
	size &= ~UINT64_C(7);
	if (size < 32 || size > MAX_CHUNK || !hrd(c->h, p - 16 + size + 8, &next) ||
	    !(next & 1))
		return;
	c->follow = false;
	scan_range(c, p, p - 16 + size, label, false);
	c->follow = true;
}

/* Scans [start, end) word by word for references, but for what was
 * scanned already; with objects, the static objects in it are stepped
 * over (what they refer to is theirs). */
static void scan_range(struct croots *c, uint64_t start, uint64_t end,
		       const char *label, bool objects)
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
		bool is_type = false;
		uint64_t size = objects ? static_object_size(c, a, &is_type) : 0;
		if (size) {
			/* The static holds the reference it was made with
			 * (types are the walker's roots). */
			if (!is_type && !c->create)
				root_word(c, a, label, false);
			a += (size + 7) & ~UINT64_C(7);
			continue;
		}
		uint64_t v;
		if (!c->objects_only && hrd(c->h, a, &v)) {
			root_word(c, v, label, !objects);
			if (c->follow)
				scan_chunk(c, v, label);
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

/* Every file's writable mappings, and the anonymous one right after the
 * last of them (its .bss), into c->statics, labels[] their files. */
static void find_statics(struct croots *c, struct pyhs_u64_vector *labels)
{
	const struct pyhs_target *t = c->h->t;
	size_t n = pyhs_target_nmappings(t);
	struct pyhs_target_mapping prev = { 0 };
	bool prev_data = false;
	for (size_t i = 0; i < n && !*c->err; i++) {
		struct pyhs_target_mapping m;
		if (!pyhs_target_mapping(t, i, &m) || m.end <= m.start)
			continue;
		bool writable = m.perms[0] == 'r' && m.perms[1] == 'w';
		const char *file = NULL;
		if (writable && m.path[0] == '/')
			file = m.path;
		else if (writable && prev_data && !m.path[0] && m.start == prev.end &&
			 m.end - m.start <= MAX_BSS)
			file = prev.path;
		if (file) {
			struct range r = { m.start, m.end };
			if (!range_vector_append(&c->statics, r) ||
			    !pyhs_u64_vector_append(labels, (uint64_t)(uintptr_t)file))
				croots_fail(c, &pyhs_enomem);
		}
		prev_data = file == m.path;
		if (prev_data)
			prev = m;
	}
}

static void scan_statics(struct croots *c)
{
	struct pyhs_u64_vector files;
	pyhs_u64_vector_init(&files);
	find_statics(c, &files);
	for (size_t k = 0; k < c->statics.size && k < files.size && !*c->err; k++) {
		char label[300];
		const char *file = (const char *)(uintptr_t)files.data[k];
		snprintf(label, sizeof(label), STATICS_LABEL "%s", base_name(file));
		scan_range(c, c->statics.data[k].start, c->statics.data[k].end, label, true);
	}
	pyhs_u64_vector_deinit(&files);
}

/* The Python thread whose thread state names the LWP with this thread
 * pointer or thread id, or SIZE_MAX. */
static size_t python_thread(const struct pyhs_heap *h, const struct pyhs_thread_stack *s)
{
	for (size_t k = 0; k < h->threads.size; k++) {
		const struct pyhs_thread *th = &h->threads.data[k];
		if ((th->ident && th->ident == s->fs_base) ||
		    (th->native_id && th->native_id == (uint64_t)s->tid))
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
		char label[96];
		if (k == SIZE_MAX)
			snprintf(label, sizeof(label), "C stack of LWP %d", s.tid);
		else
			snprintf(label, sizeof(label), "thread %zu C stack", k);
		for (size_t r = 0; r < PYHS_STACK_REGISTERS; r++)
			root_word(c, s.general[r], label, true);
		scan_range(c, s.sp, s.end, label, false);
	}
}

static void croots_init(struct croots *c, struct pyhs_heap *h, struct walker *w,
			pyhs_add_root_fn *add_root, struct pyhs_error **err, bool create)
{
	*c = (struct croots){ .h = h, .w = w, .add_root = add_root, .err = err,
			      .create = create };
	pyhs_addr_u32_map_init(&c->rooted);
	range_vector_init(&c->scanned);
	range_vector_init(&c->statics);
	for (uint64_t r = 0; r < h->roots.size && !*err; r++) {
		const char *label = pyhs_heap_root_label(h, r);
		if (strncmp(label, STATICS_LABEL, strlen(STATICS_LABEL)) != 0)
			mark(c, &c->rooted, h->addr.data[h->roots.data[r].obj]);
	}
}

static void croots_deinit(struct croots *c)
{
	pyhs_addr_u32_map_deinit(&c->rooted);
	range_vector_deinit(&c->scanned);
	range_vector_deinit(&c->statics);
}

/* The interpreter, runtime and thread states: [start, end) of the k-th,
 * with its label; false past the last. */
static bool state_range(const struct pyhs_heap *h, size_t k, uint64_t *start,
			uint64_t *end, char *label, size_t n)
{
	const struct pyhs_layout *L = h->L;
	uint64_t rt = pyhs_target_runtime(h->t);
	if (k == 0) {
		*start = h->interp;
		*end = L->interp_size > 0 ? h->interp + (uint64_t)L->interp_size : h->interp;
		snprintf(label, n, "interpreter state");
		return true;
	}
	if (k == 1) {
		*start = rt;
		*end = rt && L->rt_size > 0 ? rt + (uint64_t)L->rt_size : rt;
		snprintf(label, n, "runtime state");
		return true;
	}
	if (k - 2 >= h->threads.size)
		return false;
	*start = h->threads.data[k - 2].tstate;
	*end = L->tstate_size > 0 ? *start + (uint64_t)L->tstate_size : *start;
	snprintf(label, n, "thread %zu state", k - 2);
	return true;
}

void pyhs_croots_statics(struct pyhs_heap *h, struct walker *w, pyhs_add_root_fn *add_root,
			 struct pyhs_error **err)
{
	if (*err)
		return;
	struct croots c;
	croots_init(&c, h, w, add_root, err, true);
	/* 3.14+ keep free lists in the states, of dead objects with their
	 * count intact: left to pyhs_croots, which makes no object. Before,
	 * an object on a free list has a count of 0. */
	uint64_t start, end;
	char label[64];
	for (size_t k = 0; state_range(h, k, &start, &end, label, sizeof(label)); k++) {
		struct range r = { start, end };
		if (h->minor < FREELISTS_KEEP_COUNT) {
			c.follow = true;
			scan_range(&c, start, end, label, true);
			c.follow = false;
		}
		else if (end > start && !range_vector_append(&c.scanned, r))
			croots_fail(&c, &pyhs_enomem);
	}
	scan_statics(&c);
	croots_deinit(&c);
}

void pyhs_croots(struct pyhs_heap *h, struct walker *w, pyhs_add_root_fn *add_root,
		 struct pyhs_error **err)
{
	if (*err)
		return;
	struct croots c;
	croots_init(&c, h, w, add_root, err, false);
	uint64_t start, end;
	char label[64];
	for (size_t k = 0; h->minor >= FREELISTS_KEEP_COUNT &&
			   state_range(h, k, &start, &end, label, sizeof(label)); k++) {
		c.follow = true;
		scan_range(&c, start, end, label, true);
		c.follow = false;
	}
	/* The static objects (pyhs_croots_statics scanned their words) the
	 * walk found now. */
	c.objects_only = true;
	scan_statics(&c);
	c.objects_only = false;
	scan_stacks(&c);
	croots_deinit(&c);
}
