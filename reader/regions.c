/*
 * Regions: every mapped byte of a target, by what it holds.
 *
 * Mappings are taken in address order. File-backed ones count for their
 * file; those without access (guard pages, the reserved part of a malloc
 * heap) and the kernel's ([vdso], ...) for themselves; the one a thread's
 * stack pointer is in, or [stack], is that thread's stack. Anonymous memory
 * (and [heap]) is cut further: pymalloc's arenas where pymalloc_read found
 * them, glibc malloc heaps where a walk of their chunks from a heap's start
 * ends exactly where the memory does (the brk heap starts with its first
 * chunk; another arena's heaps with a 32-byte heap_info, the first of them
 * followed by the arena's malloc_state, whose size differs between glibc
 * releases and is found by the walk), mmapped chunks (a chunk header with
 * IS_MMAPPED at a page), and what is left is unexplained.
 *
 * A malloc chunk in use (or an mmapped one) that holds an object, or a
 * block an object owns (list items, numpy data, an io buffer: the
 * caller's owners), counts for that object's type under "objects" or
 * "buffers"; the others stay "in use".
 *
 * A chunk is in use when the next chunk's PREV_INUSE bit says so, unless
 * it is on a tcache or fastbin list (glibc leaves those marked in use; see
 * below). The last chunk of a heap is its top chunk. Where those lists
 * are, and how an mmapped chunk's header reads, depend on the glibc
 * release: its version is read from the libc file once ("release version
 * 2.NN"), and a release newer than the layouts below gets its cached
 * chunks counted with those in use, under a name that says so.
 *
 * For a live process, resident and swapped bytes come from
 * /proc/PID/pagemap (bits 63 and 62 of each page's entry).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "target.h"

#define PAGE 4096u
#define MALLOC_MIN_CHUNK 32u
#define HEAP_INFO_SIZE 32u
/* sizeof(struct malloc_state) is 2200 bytes in glibc 2.26 to 2.40 on
 * x86-64; the walk tries this window around it. */
#define ARENA_STATE_MIN 2048u
#define ARENA_STATE_MAX 2400u
#define RSP_OFFSET 152 /* in struct user_regs_struct */

#define MAX_CHAIN 100000

enum mmap_header {
	MMAP_SIZE_WHOLE = 1, /* size is the mapping's length */
	MMAP_SIZE_LESS_HEADER = 2, /* size is the mapping's length less 16 */
};

struct glibc_malloc_layout {
	unsigned from_minor;     /* 2.N the layout holds from */
	uint64_t tcache_chunk;   /* size of the tcache's chunk */
	unsigned tcache_bins;
	unsigned count_size;     /* bytes of each count (num_slots) */
	bool counts_entries;     /* counts are the entries (a chain's bound) */
	unsigned fastbins;       /* 0: none */
	unsigned arena_fastbins; /* fastbinsY's offset in malloc_state */
	unsigned arena_top;      /* top's offset in malloc_state */
	unsigned mmap_headers;   /* enum mmap_header bits */
};

/* x86-64, oldest first; the last is the newest release known. */
static const struct glibc_malloc_layout glibc_layouts[] = {
	{ 0, 0, 0, 0, false, 10, 8, 88, MMAP_SIZE_WHOLE },      /* no tcache */
	{ 26, 0x250, 64, 1, true, 10, 8, 88, MMAP_SIZE_WHOLE },
	{ 27, 0x250, 64, 1, true, 10, 16, 96, MMAP_SIZE_WHOLE }, /* have_fastchunks */
	{ 30, 0x290, 64, 2, true, 10, 16, 96, MMAP_SIZE_WHOLE },
	{ 42, 0x300, 76, 2, false, 10, 16, 96, MMAP_SIZE_WHOLE | MMAP_SIZE_LESS_HEADER },
	{ 43, 0x300, 76, 2, false, 0, 0, 8, MMAP_SIZE_LESS_HEADER },
};
#define NEWEST_GLIBC_MINOR 43

struct rctx {
	const struct pyhs_target *t;
	const struct pyhs_region_owner *owners;
	size_t nowners;
	const struct pyhs_pymalloc *p;
	struct pyhs_pymalloc_arena *arenas; /* p's, by address */
	size_t narenas;
	uint64_t arena_size;
	struct pyhs_regions *r;
	size_t cap;
	int pagemap; /* fd, or -1 */
	uint64_t cache[512]; /* pagemap entries of cache_first... */
	uint64_t cache_first;
	size_t cache_n;
	uint64_t *stack_sp;
	int *stack_tid;
	size_t nstacks;
	/* The target's glibc malloc layout; NULL if its release is newer
	 * than those known or was not found. */
	const struct glibc_malloc_layout *glibc;
};

/* Counts a warning of the result x, keeping the first's text. */
#define warn(x, ...) \
	pyhs_warning_count(&(x)->nwarnings, (x)->warning, sizeof((x)->warning), __VA_ARGS__)

/* Bytes of [start, end) the target holds (core segments, copied memory). */
static uint64_t held_bytes(const struct pyhs_target *t, uint64_t start, uint64_t end)
{
	size_t n = pyhs_target_nsegments(t), lo = 0, hi = n;
	/* The first segment that ends after start. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t s, len;
		const void *d;
		pyhs_target_segment(t, mid, &s, &len, &d);
		if (s + len <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t held = 0;
	for (size_t i = lo; i < n; i++) {
		uint64_t s, len;
		const void *d;
		pyhs_target_segment(t, i, &s, &len, &d);
		if (s >= end)
			break;
		uint64_t a = s > start ? s : start, b = s + len < end ? s + len : end;
		if (b > a)
			held += b - a;
	}
	return held;
}

/* The pagemap entry of a page, through a cache of one run of entries. */
static bool page_entry(struct rctx *c, uint64_t pg, uint64_t *ret)
{
	if (!c->cache_n || pg < c->cache_first || pg >= c->cache_first + c->cache_n) {
		ssize_t got = pread(c->pagemap, c->cache, sizeof(c->cache), (off_t)(pg * 8));
		if (got < 8)
			return false;
		c->cache_first = pg;
		c->cache_n = (size_t)got / 8;
	}
	*ret = c->cache[pg - c->cache_first];
	return true;
}

/* Bytes of [start, end) in pages present (resident) or swapped out. */
static void residency(struct rctx *c, uint64_t start, uint64_t end,
		      int64_t *resident, int64_t *swapped)
{
	*resident = *swapped = -1;
	/* The kernel's own pages ([vsyscall]) have no entries. */
	if (c->pagemap < 0 || end > (UINT64_C(1) << 47))
		return;
	int64_t res = 0, swp = 0;
	for (uint64_t a = start; a < end;) {
		uint64_t pg = a / PAGE, next = (pg + 1) * PAGE, e;
		uint64_t stop = next < end ? next : end;
		if (!page_entry(c, pg, &e)) {
			warn(c->r, "cannot read /proc/%d/pagemap at page 0x%" PRIx64,
			     pyhs_target_pid(c->t), pg);
			return;
		}
		if (e >> 63)
			res += (int64_t)(stop - a);
		else if ((e >> 62) & 1)
			swp += (int64_t)(stop - a);
		a = stop;
	}
	*resident = res;
	*swapped = swp;
}

static struct pyhs_error *add(struct rctx *c, const char *kind, const char *name,
			      uint64_t start, uint64_t end)
{
	if (end <= start)
		return NULL;
	struct pyhs_regions *r = c->r;
	struct pyhs_region *g = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->regions[i].kind, kind) && !strcmp(r->regions[i].name, name)) {
			g = &r->regions[i];
			break;
		}
	if (!g) {
		if (r->n == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 64;
			struct pyhs_region *v = realloc(r->regions, ncap * sizeof(*v));
			if (!v)
				return &pyhs_enomem;
			r->regions = v;
			c->cap = ncap;
		}
		g = &r->regions[r->n++];
		memset(g, 0, sizeof(*g));
		g->kind = kind;
		snprintf(g->name, sizeof(g->name), "%s", name);
		if (!r->live)
			g->resident = g->swapped = -1;
	}
	g->bytes += end - start;
	g->held += held_bytes(c->t, start, end);
	g->pieces++;
	if (r->live) {
		int64_t res, swp;
		residency(c, start, end, &res, &swp);
		if (res < 0 || g->resident < 0) {
			g->resident = g->swapped = -1;
		} else {
			g->resident += res;
			g->swapped += swp;
		}
	}
	return NULL;
}

static bool rd64(const struct pyhs_target *t, uint64_t addr, uint64_t *v)
{
	return pyhs_target_read_u64(t, addr, v);
}

/* Walks malloc chunks from first; true if the walk ends exactly at end
 * (then the chunks are added). */
static bool walk_ok(const struct pyhs_target *t, uint64_t first, uint64_t end)
{
	uint64_t c = first;
	if (c & 15)
		return false;
	while (c < end) {
		uint64_t hdr;
		if (!rd64(t, c + 8, &hdr))
			return false;
		uint64_t size = hdr & ~UINT64_C(7);
		if (size < MALLOC_MIN_CHUNK || (size & 15) || (hdr & 2) || size > end - c)
			return false;
		c += size;
	}
	return c == end;
}

const char *const pyhs_region_kinds[PYHS_REGION_NKINDS] = {
	"pymalloc", "malloc", "objects", "buffers", "stack", "file", "kernel",
	"no access", "unexplained",
};

int pyhs_region_owner_cmp(const void *x, const void *y)
{
	const struct pyhs_region_owner *a = x, *b = y;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (b->part != NULL) - (a->part != NULL);
}

/* The first owner in [start, end), or NULL. */
static const struct pyhs_region_owner *owner_of(const struct rctx *c, uint64_t start,
						uint64_t end)
{
	size_t lo = 0, hi = c->nowners;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->owners[mid].addr < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nowners && c->owners[lo].addr < end ? &c->owners[lo] : NULL;
}

/* Adds an in-use chunk [chunk, next) whose bytes are [start, end): to the
 * object or owner of a block in it, or as "in use". cached: it may
 * instead be free in a tcache or fastbin not read (a glibc whose layout
 * is unknown); mmapped: a chunk of its own mapping. */
static struct pyhs_error *add_in_use(struct rctx *c, uint64_t chunk, uint64_t next,
				     uint64_t start, uint64_t end, bool cached,
				     bool mmapped)
{
	struct pyhs_regions *r = c->r;
	r->malloc_in_use += next - chunk;
	const struct pyhs_region_owner *o = c->owners ? owner_of(c, start, end) : NULL;
	if (o && o->part) {
		char name[sizeof(r->regions->name)];
		snprintf(name, sizeof(name), "%s %s", o->type, o->part);
		r->malloc_buffers += next - chunk;
		return add(c, "buffers", name, chunk, next);
	}
	if (o) {
		r->malloc_objects += next - chunk;
		return add(c, "objects", o->type, chunk, next);
	}
	const char *name;
	if (mmapped)
		name = c->owners ? "mmapped chunks (other)" : "mmapped chunks";
	else if (cached)
		name = c->owners ? "in use or cached (other)" : "in use or cached";
	else
		name = c->owners ? "in use (other)" : "in use";
	return add(c, "malloc", name, chunk, next);
}

/* ---- chunks free in tcache and fastbins --------------------------------
 *
 * glibc 2.26+ keeps each thread's tcache in the first chunk it allocates
 * from its arena: 0x290 bytes (uint16_t counts[64], then entries[64]; 0x250
 * with char counts before 2.30), entries pointing to the chunks' user bytes
 * and chained through their first word. An arena's malloc_state has
 * fastbinsY[10] at +16 and top at +96 (2.27+); the main arena's is in
 * libc's data, found as the word that points to the brk heap's top chunk;
 * another arena's follows the heap_info of its first heap. From 2.32 the
 * chains are safe-linked: a next pointer at address pos is stored as
 * (pos >> 12) ^ next.
 *
 * 2.42 added 12 tcache bins for larger chunks (76 in all: uint16_t
 * num_slots[76], entries[76], a 0x300-byte chunk; num_slots counts the
 * room left, not the entries, so a chain is followed to its end). 2.43
 * removed the fastbins (malloc_state: mutex, flags, top at +8, 2112 bytes)
 * and writes an mmapped chunk's header as prev_size = its offset in the
 * mapping (bit 0: huge pages) and size = the mapping less that offset and
 * the 16-byte header; before, size was the whole mapping. The 2.43 facts
 * are from its DWARF (Debian's libc6-dbg 2.43); those of 2.42 from its
 * sources, with no 2.42 build at hand to check, so both mmapped headers
 * are accepted there.
 */

DEFINE_VECTOR(addr_vector, uint64_t)

struct heap_walk {
	uint64_t first, end;       /* the chunks */
	struct addr_vector cached; /* chunks free in tcache and fastbins */
};

static bool in_heap(const struct heap_walk *w, uint64_t chunk)
{
	return chunk >= w->first && chunk < w->end && !(chunk & 15);
}

/* The next pointer stored at pos: safe-linked, or (before 2.32) plain.
 * where is the offset from the pointer to the chunk it names. */
static uint64_t next_link(const struct heap_walk *w, uint64_t pos, uint64_t v,
			  uint64_t where)
{
	uint64_t prot = (pos >> 12) ^ v;
	if (prot == 0 || in_heap(w, prot - where))
		return prot;
	if (in_heap(w, v - where))
		return v;
	return 0;
}

/* Adds the chunks of a chain; entries point where bytes past the chunk
 * (16 for tcache's user pointers, 0 for fastbins' chunk pointers). */
static bool add_chain(const struct rctx *c, struct heap_walk *w, uint64_t p,
		      uint64_t where, size_t max)
{
	for (size_t k = 0; p && k < max && k < MAX_CHAIN; k++) {
		uint64_t chunk = p - where, v;
		if (!in_heap(w, chunk) || !addr_vector_append(&w->cached, chunk))
			return in_heap(w, chunk) ? false : true;
		uint64_t link = chunk + 16; /* fd, or the tcache entry's next */
		if (!rd64(c->t, link, &v))
			break;
		p = next_link(w, link, v, where);
	}
	return true;
}

/* The tcache in a heap: the first of its first chunks of the tcache's size
 * whose entries are all empty or in the heap (2.43 allocates two small
 * chunks before it). Its address (the struct, past the header), or 0. */
#define TCACHE_SEARCH 8
static uint64_t find_tcache(const struct rctx *c, const struct heap_walk *w)
{
	const struct glibc_malloc_layout *g = c->glibc;
	uint64_t ch = w->first, hdr;
	for (unsigned k = 0; k < TCACHE_SEARCH && ch < w->end && rd64(c->t, ch + 8, &hdr);
	     k++, ch += hdr & ~UINT64_C(7)) {
		if ((hdr & ~UINT64_C(7)) != g->tcache_chunk)
			continue;
		uint64_t t = ch + 16, entries = t + g->tcache_bins * g->count_size;
		unsigned i = 0;
		for (; i < g->tcache_bins; i++) {
			uint64_t e;
			if (!rd64(c->t, entries + 8 * i, &e) || (e && !in_heap(w, e - 16)))
				break;
		}
		if (i == g->tcache_bins)
			return t;
	}
	return 0;
}

static bool add_tcache(const struct rctx *c, struct heap_walk *w)
{
	const struct glibc_malloc_layout *g = c->glibc;
	uint64_t t = g && g->tcache_chunk ? find_tcache(c, w) : 0;
	if (!t)
		return true;
	uint64_t entries = t + g->tcache_bins * g->count_size;
	for (unsigned i = 0; i < g->tcache_bins; i++) {
		uint16_t n = 0;
		uint64_t e;
		if (!pyhs_target_read(c->t, t + i * g->count_size, &n, g->count_size) ||
		    !rd64(c->t, entries + 8 * i, &e))
			continue;
		if (e && !add_chain(c, w, e, 16, g->counts_entries ? n : MAX_CHAIN))
			return false;
	}
	return true;
}

static bool add_fastbins(const struct rctx *c, struct heap_walk *w, uint64_t arena)
{
	for (unsigned i = 0; arena && c->glibc && i < c->glibc->fastbins; i++) {
		uint64_t p;
		if (rd64(c->t, arena + c->glibc->arena_fastbins + 8 * i, &p) && p &&
		    !add_chain(c, w, p, 0, MAX_CHAIN))
			return false;
	}
	return true;
}

/* The main arena's malloc_state: the word in libc's writable memory that
 * points to the top chunk, less top's offset. */
static uint64_t main_arena(const struct rctx *c, uint64_t top)
{
	if (!c->glibc)
		return 0;
	uint64_t top_off = c->glibc->arena_top;
	size_t n = pyhs_target_nmappings(c->t);
	bool after_libc = false;
	for (size_t i = 0; i < n; i++) {
		struct pyhs_target_mapping m;
		if (!pyhs_target_mapping(c->t, i, &m))
			continue;
		bool libc = strstr(m.path, "/libc.so") || strstr(m.path, "/libc-");
		if (m.perms[1] == 'w' && (libc || (after_libc && !m.path[0]))) {
			for (uint64_t a = m.start; a + 8 <= m.end; a += 8) {
				const void *w = pyhs_target_ptr(c->t, a, 8);
				uint64_t v;
				if (!w)
					continue;
				memcpy(&v, w, 8); /* cores may hold it unaligned */
				if (v == top && a >= m.start + top_off)
					return a - top_off;
			}
		}
		after_libc = libc;
	}
	return 0;
}

static int cmp_addr(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static bool cached_free(const struct heap_walk *w, uint64_t chunk)
{
	size_t lo = 0, hi = w->cached.size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->cached.data[mid] < chunk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->cached.size && w->cached.data[lo] == chunk;
}

/* Adds a heap's chunks. arena: its malloc_state, or 0 for the brk heap's
 * (found in libc). */
static struct pyhs_error *add_chunks(struct rctx *c, uint64_t start, uint64_t first,
				     uint64_t end, uint64_t arena)
{
	struct heap_walk w = { first, end, { 0 } };
	uint64_t top = first, hdr;
	for (uint64_t ch = first; ch < end && rd64(c->t, ch + 8, &hdr); ch += hdr & ~UINT64_C(7))
		top = ch;
	if (!arena && first == start)
		arena = main_arena(c, top);
	struct pyhs_error *err = NULL;
	if (!add_tcache(c, &w) || !add_fastbins(c, &w, arena))
		err = &pyhs_enomem;
	if (!err && w.cached.size > 1)
		qsort(w.cached.data, w.cached.size, sizeof(*w.cached.data), cmp_addr);
	if (!err)
		err = add(c, "malloc", "heap headers", start, first);
	for (uint64_t ch = first; !err && ch < end;) {
		uint64_t next_hdr = 0;
		rd64(c->t, ch + 8, &hdr);
		uint64_t size = hdr & ~UINT64_C(7), next = ch + size;
		if (next >= end) {
			err = add(c, "malloc", "top chunk (free)", ch, end);
			break;
		}
		rd64(c->t, next + 8, &next_hdr);
		if (!(next_hdr & 1))
			err = add(c, "malloc", "free", ch, next);
		else if (cached_free(&w, ch))
			err = add(c, "malloc", "free (tcache and fastbins)", ch, next);
		else
			/* The chunk's bytes run on into the next one's
			 * prev_size. */
			err = add_in_use(c, ch, next, ch + 16, next + 8, !c->glibc, false);
		ch = next;
	}
	addr_vector_deinit(&w.cached);
	return err;
}

/* A malloc heap in [start, end): the brk heap (chunks from start), or a
 * heap of another arena. Returns true and adds it if one is there. */
static bool try_heap(struct rctx *c, uint64_t start, uint64_t end,
		     struct pyhs_error **err)
{
	if (walk_ok(c->t, start, end)) {
		*err = add_chunks(c, start, start, end, 0);
		return true;
	}
	if (end - start < PAGE)
		return false;
	uint64_t ar_ptr;
	if (!rd64(c->t, start, &ar_ptr))
		return false;
	if (walk_ok(c->t, start + HEAP_INFO_SIZE, end)) {
		*err = add_chunks(c, start, start + HEAP_INFO_SIZE, end, ar_ptr);
		return true;
	}
	if (ar_ptr != start + HEAP_INFO_SIZE)
		return false;
	for (uint64_t off = HEAP_INFO_SIZE + ARENA_STATE_MIN;
	     off <= HEAP_INFO_SIZE + ARENA_STATE_MAX; off += 16) {
		if (walk_ok(c->t, start + off, end)) {
			*err = add_chunks(c, start, start + off, end, ar_ptr);
			return true;
		}
	}
	return false;
}

/* The length of the mapping of an mmapped chunk at pos (a page), within
 * limit; 0 if none is there. Its header says IS_MMAPPED, not
 * NON_MAIN_ARENA, and an offset of 0 from the mapping's start (prev_size;
 * bit 0 is 2.43's huge-page flag); its size is the mapping's length, or
 * from 2.43 that less the header. A glibc whose layout is unknown gets
 * either. */
static uint64_t mmapped_chunk(const struct rctx *c, uint64_t pos, uint64_t limit)
{
	unsigned forms = c->glibc ? c->glibc->mmap_headers
				  : MMAP_SIZE_WHOLE | MMAP_SIZE_LESS_HEADER;
	uint64_t prev, hdr;
	if ((pos & (PAGE - 1)) || !rd64(c->t, pos, &prev) || !rd64(c->t, pos + 8, &hdr) ||
	    !(hdr & 2) || (hdr & 4))
		return 0;
	uint64_t size = hdr & ~UINT64_C(7);
	if ((forms & MMAP_SIZE_LESS_HEADER) && prev <= 1 && size <= UINT64_MAX - 16 &&
	    !((size + 16) & (PAGE - 1)))
		size += 16;
	else if (!(forms & MMAP_SIZE_WHOLE) || prev != 0 || (size & (PAGE - 1)))
		return 0;
	return size >= PAGE && size <= limit - pos ? size : 0;
}

/* The arena (index) holding addr, or the first after it. */
static size_t arena_at(const struct rctx *c, uint64_t addr, bool *inside)
{
	size_t lo = 0, hi = c->narenas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->arenas[mid].address + c->arena_size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	*inside = lo < c->narenas && c->arenas[lo].address <= addr;
	return lo;
}

static int cmp_arena(const void *x, const void *y)
{
	const struct pyhs_pymalloc_arena *a = x, *b = y;
	return a->address < b->address ? -1 : a->address > b->address;
}

static struct pyhs_error *classify_anonymous(struct rctx *c, uint64_t start,
					     uint64_t end)
{
	uint64_t pos = start;
	struct pyhs_error *err = NULL;
	while (!err && pos < end) {
		bool inside;
		size_t a = arena_at(c, pos, &inside);
		if (inside) {
			uint64_t ae = c->arenas[a].address + c->arena_size;
			uint64_t stop = ae < end ? ae : end;
			err = add(c, "pymalloc", "arenas", pos, stop);
			pos = stop;
			continue;
		}
		uint64_t limit = end;
		if (a < c->narenas && c->arenas[a].address < end)
			limit = c->arenas[a].address;
		/* Mmapped chunks, one after another. */
		uint64_t size = mmapped_chunk(c, pos, limit);
		if (size) {
			err = add_in_use(c, pos, pos + size, pos + 16, pos + size, false, true);
			pos += size;
			continue;
		}
		if (try_heap(c, pos, limit, &err)) {
			pos = limit;
			continue;
		}
		err = add(c, "unexplained", "anonymous memory", pos, limit);
		pos = limit;
	}
	return err;
}

static int cmp_region(const void *x, const void *y)
{
	const struct pyhs_region *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->name, b->name);
}

static const char *stack_of(const struct rctx *c, const struct pyhs_target_mapping *m,
			    char *buf, size_t n)
{
	for (size_t i = 0; i < c->nstacks; i++)
		if (c->stack_sp[i] >= m->start && c->stack_sp[i] < m->end) {
			snprintf(buf, n, "thread %d", c->stack_tid[i]);
			return buf;
		}
	if (!strcmp(m->path, "[stack]"))
		return "[stack]";
	return NULL;
}

/* libc's release from its file ("... release version 2.43."), into
 * r->glibc, and the layout for it, or NULL. */
static const struct glibc_malloc_layout *glibc_layout(const struct pyhs_target *t,
						      struct pyhs_regions *r)
{
	static const char key[] = "release version 2.";
	r->glibc_newest = NEWEST_GLIBC_MINOR;
	for (size_t i = 0; i < t->modules.size; i++) {
		const struct pyhs_module *m = &t->modules.data[i];
		const char *base = strrchr(m->path, '/');
		base = base ? base + 1 : m->path;
		if (!m->file || (strncmp(base, "libc.so", 7) && strncmp(base, "libc-2.", 7)))
			continue;
		const uint8_t *hit = memmem(m->file, m->file_size, key, sizeof(key) - 1);
		if (!hit)
			continue;
		const uint8_t *d = hit + sizeof(key) - 1, *end = m->file + m->file_size;
		unsigned minor = 0, digits = 0;
		for (; d < end && *d >= '0' && *d <= '9' && digits < 4; d++, digits++)
			minor = minor * 10 + (unsigned)(*d - '0');
		if (!digits)
			continue;
		snprintf(r->glibc, sizeof(r->glibc), "2.%u", minor);
		if (minor > NEWEST_GLIBC_MINOR)
			return NULL;
		const struct glibc_malloc_layout *g = &glibc_layouts[0];
		for (size_t k = 0; k < sizeof(glibc_layouts) / sizeof(*glibc_layouts); k++)
			if (glibc_layouts[k].from_minor <= minor)
				g = &glibc_layouts[k];
		r->glibc_known = true;
		return g;
	}
	return NULL;
}

struct pyhs_error *pyhs_regions_read(const struct pyhs_target *t,
				     const struct pyhs_pymalloc *pymalloc,
				     const struct pyhs_region_owner *owners,
				     size_t nowners,
				     struct pyhs_regions **ret)
{
	struct pyhs_regions *r = calloc(1, sizeof(*r));
	if (!r)
		return &pyhs_enomem;
	struct rctx c = { .t = t, .owners = owners, .nowners = nowners, .r = r, .pagemap = -1 };
	if (pymalloc && pymalloc->status == PYHS_PYMALLOC_OK && pymalloc->narenas) {
		c.p = pymalloc;
		c.arena_size = pymalloc->arena_size;
		c.arenas = malloc(pymalloc->narenas * sizeof(*c.arenas));
		if (!c.arenas) {
			free(r);
			return &pyhs_enomem;
		}
		memcpy(c.arenas, pymalloc->arena_list, pymalloc->narenas * sizeof(*c.arenas));
		c.narenas = pymalloc->narenas;
		qsort(c.arenas, c.narenas, sizeof(*c.arenas), cmp_arena);
	}
	c.glibc = glibc_layout(t, r);
	r->live = !strcmp(pyhs_target_source(t), "pid");
	if (r->live) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pyhs_target_pid(t));
		c.pagemap = open(path, O_RDONLY | O_CLOEXEC);
		if (c.pagemap < 0)
			warn(r, "cannot open %s: resident and swapped bytes are unknown", path);
	}
	size_t nthreads = pyhs_target_nthreads(t);
	c.stack_sp = calloc(nthreads ? nthreads : 1, sizeof(*c.stack_sp));
	c.stack_tid = calloc(nthreads ? nthreads : 1, sizeof(*c.stack_tid));
	struct pyhs_error *err = NULL;
	if (!c.stack_sp || !c.stack_tid) {
		err = &pyhs_enomem;
		goto out;
	}
	for (size_t i = 0; i < nthreads; i++) {
		struct pyhs_thread_registers regs;
		if (pyhs_target_thread_registers(t, i, &regs) && regs.regs) {
			memcpy(&c.stack_sp[c.nstacks], (const char *)regs.regs + RSP_OFFSET, 8);
			c.stack_tid[c.nstacks++] = pyhs_target_thread_tid(t, i);
		}
	}
	size_t n = pyhs_target_nmappings(t);
	char buf[64];
	uint64_t covered = 0; /* where the mappings so far end */
	for (size_t i = 0; !err && i < n; i++) {
		struct pyhs_target_mapping m;
		if (!pyhs_target_mapping(t, i, &m) || m.end <= m.start)
			continue;
		/* A corrupt core's mappings may overlap: each byte once. */
		if (m.start < covered) {
			warn(r, "mapping 0x%" PRIx64 "-0x%" PRIx64 " overlaps the one before",
			     m.start, m.end);
			if (m.end <= covered)
				continue;
			m.start = covered;
		}
		covered = m.end;
		r->mapped_bytes += m.end - m.start;
		const char *stack = stack_of(&c, &m, buf, sizeof(buf));
		if (m.path[0] && m.path[0] != '[')
			err = add(&c, "file", m.path, m.start, m.end);
		else if (stack)
			err = add(&c, "stack", stack, m.start, m.end);
		else if (m.perms[0] != 'r' && m.perms[1] != 'w' && m.perms[2] != 'x')
			err = add(&c, "no access", "guard pages and reserved space", m.start, m.end);
		else if (m.path[0] == '[' && strcmp(m.path, "[heap]"))
			err = add(&c, "kernel", m.path, m.start, m.end);
		else
			err = classify_anonymous(&c, m.start, m.end);
	}
	if (!err && r->n > 1)
		qsort(r->regions, r->n, sizeof(*r->regions), cmp_region);
out:
	free(c.arenas);
	free(c.stack_sp);
	free(c.stack_tid);
	if (c.pagemap >= 0)
		close(c.pagemap);
	if (err) {
		pyhs_regions_destroy(r);
		return err;
	}
	*ret = r;
	return NULL;
}

void pyhs_regions_destroy(struct pyhs_regions *r)
{
	if (!r)
		return;
	free(r->regions);
	free(r);
}
