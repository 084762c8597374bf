/*
 * pymalloc's arenas and pools (Objects/obmalloc.c), counted the way
 * _PyObject_DebugMallocStats() counts them for sys._debugmallocstats().
 *
 * The allocator state is an array of arena objects (arenas, maxarenas long)
 * and the counters next to it. 3.8 to 3.11 keep them in obmalloc.c's static
 * variables, which only the symbol table or the debug file names (Debian's
 * LTO build suffixes them ".lto_priv.0"); 3.12 embeds struct _obmalloc_state
 * in the interpreter and 3.13+ point to it from there. Every arena object
 * with an address owns arena_size bytes, of which the pools below
 * pool_address have been carved; a pool whose count is zero is unused.
 *
 * Nothing read is trusted: the array's length, each arena's pool range and
 * each pool header's size class and count are checked against what the
 * version's constants allow, and what does not fit is a counted warning.
 */
#include <inttypes.h>
#include <stdio.h>

#include "target.h"

/* The constants of obmalloc.c that no structure records, per version:
 * 3.10 turned on 16 KiB pools and 1 MiB arenas (WITH_PYMALLOC_RADIX_TREE
 * on 64-bit builds); 8-16 byte alignment and the 512-byte threshold are
 * those of every version since 3.8. A newer version takes the last row. */
static const struct pymalloc_constants {
	unsigned first_minor;
	uint64_t pool_size, arena_size;
	uint32_t alignment, threshold;
} constants[] = {
	{ 8, 4096, 256 * 1024, 16, 512 },
	{ 10, 16384, 1024 * 1024, 16, 512 },
};

/* More arena objects than this is not a state to believe: 2^24 arenas of
 * 1 MiB are 16 TiB. */
#define MAX_ARENA_OBJECTS (UINT64_C(1) << 24)

/* Counts a warning of the result x, keeping the first's text. */
#define warn(x, ...) \
	pyhs_warning_count(&(x)->nwarnings, (x)->warning, sizeof((x)->warning), __VA_ARGS__)

static bool rd(const struct pyhs_target *t, uint64_t addr, int32_t off,
	       void *buf, size_t len)
{
	return off >= 0 && pyhs_target_read(t, addr + (uint64_t)off, buf, len);
}

/* The main interpreter: embedded in _PyRuntime (3.11+), else the head of
 * the list (the first created is the last on it, but 3.8-3.10 have no
 * obmalloc state per interpreter anyway). */
static uint64_t main_interpreter(const struct pyhs_target *t,
				 const struct pyhs_layout *L)
{
	uint64_t rt = pyhs_target_runtime(t), interp = 0;
	if (L->rt_main_interpreter >= 0)
		return rt + (uint64_t)L->rt_main_interpreter;
	if (!rd(t, rt, L->rt_interpreters_head, &interp, 8))
		return 0;
	return interp;
}

/* Where the arena array and counters are: *arenas_at is the address of
 * the `arenas` pointer, and so on. */
struct state_addrs {
	uint64_t arenas, maxarenas, current, total, highwater;
};

static bool find_state(const struct pyhs_target *t, const struct pyhs_layout *L,
		       struct pyhs_pymalloc *p, struct state_addrs *ret)
{
	unsigned minor = (pyhs_target_py_version(t) >> 16) & 0xff;
	if (L->interp_obmalloc >= 0 && L->obmalloc_arenas >= 0) {
		uint64_t interp = main_interpreter(t, L), state;
		if (!interp) {
			snprintf(p->missing, sizeof(p->missing),
				 "the main interpreter is unreadable");
			return false;
		}
		state = interp + (uint64_t)L->interp_obmalloc;
		/* 3.12 embeds the state; 3.13 and later point to it. */
		if (minor >= 13 && !rd(t, state, 0, &state, 8)) {
			snprintf(p->missing, sizeof(p->missing),
				 "interp->obmalloc at 0x%" PRIx64 " is unreadable",
				 interp + (uint64_t)L->interp_obmalloc);
			return false;
		}
		if (!state) {
			snprintf(p->missing, sizeof(p->missing),
				 "interp->obmalloc is NULL");
			return false;
		}
		ret->arenas = state + (uint64_t)L->obmalloc_arenas;
		ret->maxarenas = state + (uint64_t)L->obmalloc_maxarenas;
		ret->current = L->obmalloc_narenas_current >= 0 ?
			state + (uint64_t)L->obmalloc_narenas_current : 0;
		ret->total = L->obmalloc_narenas_total >= 0 ?
			state + (uint64_t)L->obmalloc_narenas_total : 0;
		ret->highwater = L->obmalloc_narenas_highwater >= 0 ?
			state + (uint64_t)L->obmalloc_narenas_highwater : 0;
		return true;
	}
	if (L->interp_obmalloc >= 0 || minor >= 12) {
		snprintf(p->missing, sizeof(p->missing),
			 "the layout of struct _obmalloc_state is unknown for this build");
		return false;
	}
	if (!pyhs_target_static_symbol(t, "arenas", &ret->arenas) ||
	    !pyhs_target_static_symbol(t, "maxarenas", &ret->maxarenas)) {
		snprintf(p->missing, sizeof(p->missing),
			 "obmalloc.c's static variables (arenas, maxarenas) have no symbols: the binary is stripped and its debug file was not found");
		return false;
	}
	if (!pyhs_target_static_symbol(t, "narenas_currently_allocated", &ret->current))
		ret->current = 0;
	if (!pyhs_target_static_symbol(t, "ntimes_arena_allocated", &ret->total))
		ret->total = 0;
	if (!pyhs_target_static_symbol(t, "narenas_highwater", &ret->highwater))
		ret->highwater = 0;
	return true;
}

static int64_t read_counter(const struct pyhs_target *t, uint64_t addr)
{
	uint64_t v;
	if (!addr || !pyhs_target_read_u64(t, addr, &v) || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

/* PyMemAllocatorEx: ctx, malloc, calloc, realloc, free. */
struct allocator_kind {
	const char *function;
	const char *name;
	bool follow_ctx; /* ctx points to the allocator it wraps */
	int32_t wrapped_at; /* where in *ctx that allocator is */
};

static const struct allocator_kind allocator_kinds[] = {
	{ "_PyObject_Malloc", "pymalloc", false, 0 },
	{ "_PyMem_RawMalloc", "malloc", false, 0 },
	{ "_PyObject_MiMalloc", "mimalloc", false, 0 },
	/* debug_alloc_api_t: char api_id, then the PyMemAllocatorEx. */
	{ "_PyMem_DebugMalloc", "debug hooks", true, 8 },
	/* tracemalloc's copy of the allocators it replaced. */
	{ "tracemalloc_malloc_gil", "tracemalloc", true, 0 },
	{ "tracemalloc_malloc", "tracemalloc", true, 0 }, /* 3.15 */
};

/* Names the object allocator by the function its malloc slot holds,
 * through the hooks that wrap another (at most a few deep). */
static void identify_allocator(const struct pyhs_target *t,
			       const struct pyhs_layout *L,
			       struct pyhs_pymalloc *p)
{
	uint64_t at;
	if (L->rt_allocators_obj >= 0)
		at = pyhs_target_runtime(t) + (uint64_t)L->rt_allocators_obj;
	else if (!pyhs_target_static_symbol(t, "_PyObject", &at))
		return;
	bool debug = false;
	for (int depth = 0; depth < 4; depth++) {
		uint64_t slots[2];
		if (!pyhs_target_read(t, at, slots, sizeof(slots)))
			return;
		const struct allocator_kind *k = NULL;
		for (size_t i = 0; i < sizeof(allocator_kinds) / sizeof(allocator_kinds[0]); i++) {
			uint64_t fn;
			if (pyhs_target_static_symbol(t, allocator_kinds[i].function, &fn) &&
			    fn == slots[1]) {
				k = &allocator_kinds[i];
				break;
			}
		}
		if (!k)
			return;
		if (!k->follow_ctx) {
			snprintf(p->allocator, sizeof(p->allocator), "%s%s", k->name,
				 debug ? " with debug hooks" : "");
			return;
		}
		if (!strcmp(k->name, "tracemalloc"))
			p->traced = true;
		else
			debug = true;
		at = slots[0] + (uint64_t)k->wrapped_at;
	}
}

static const struct pymalloc_constants *constants_for(uint32_t version)
{
	unsigned minor = (version >> 16) & 0xff;
	const struct pymalloc_constants *c = &constants[0];
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
		if (minor >= constants[i].first_minor)
			c = &constants[i];
	return c;
}

static struct pyhs_error *walk_arenas(const struct pyhs_target *t,
				      const struct pyhs_layout *L,
				      const struct state_addrs *s,
				      struct pyhs_pymalloc *p)
{
	uint64_t arenas = 0;
	uint32_t maxarenas = 0;
	if (!pyhs_target_read_u64(t, s->arenas, &arenas) ||
	    !pyhs_target_read(t, s->maxarenas, &maxarenas, 4)) {
		snprintf(p->missing, sizeof(p->missing),
			 "pymalloc's arena array at 0x%" PRIx64 " is unreadable", s->arenas);
		p->status = PYHS_PYMALLOC_MISSING;
		return NULL;
	}
	uint64_t n = maxarenas;
	if (n > MAX_ARENA_OBJECTS) {
		warn(p, "maxarenas is %" PRIu64 "; reading the first %" PRIu64,
		     n, MAX_ARENA_OBJECTS);
		n = MAX_ARENA_OBJECTS;
	}
	if (!arenas)
		n = 0;
	uint64_t pool = p->pool_size, asz = (uint64_t)L->arena_object_size;
	uint64_t usable = pool - p->pool_overhead;
	p->arena_list = NULL;
	size_t cap = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ao = arenas + i * asz, address, pool_address;
		uint32_t nfree = 0, ntotal = 0;
		if (!rd(t, ao, L->arena_address, &address, 8)) {
			warn(p, "arena object %" PRIu64 " at 0x%" PRIx64 " is unreadable", i, ao);
			break;
		}
		if (!address)
			continue;
		if (!rd(t, ao, L->arena_pool_address, &pool_address, 8) ||
		    !rd(t, ao, L->arena_nfreepools, &nfree, 4) ||
		    !rd(t, ao, L->arena_ntotalpools, &ntotal, 4)) {
			warn(p, "arena object %" PRIu64 " at 0x%" PRIx64 " is unreadable", i, ao);
			continue;
		}
		p->arenas++;
		p->free_pools += nfree;
		if (p->narenas == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pyhs_pymalloc_arena *a = realloc(p->arena_list,
								ncap * sizeof(*a));
			if (!a)
				return &pyhs_enomem;
			p->arena_list = a;
			cap = ncap;
		}
		p->arena_list[p->narenas++] = (struct pyhs_pymalloc_arena){
			address, nfree, ntotal };
		uint64_t base = address;
		if (base & (pool - 1)) {
			p->alignment_bytes += pool;
			base = (base & ~(pool - 1)) + pool;
		}
		if (pool_address < base || pool_address > address + p->arena_size) {
			warn(p, "arena %" PRIu64 " at 0x%" PRIx64 " says it carved pools up to 0x%" PRIx64,
			     i, address, pool_address);
			continue;
		}
		if (nfree > ntotal || ntotal > p->arena_size / pool)
			warn(p, "arena %" PRIu64 " at 0x%" PRIx64 " has %" PRIu32 " free of %" PRIu32 " pools",
			     i, address, nfree, ntotal);
		for (; base < pool_address; base += pool) {
			uint32_t count, szidx, arenaindex;
			if (!rd(t, base, L->pool_count, &count, 4) ||
			    !rd(t, base, L->pool_szidx, &szidx, 4) ||
			    !rd(t, base, L->pool_arenaindex, &arenaindex, 4)) {
				warn(p, "pool at 0x%" PRIx64 " is unreadable", base);
				break;
			}
			if (count == 0)
				continue;
			if (szidx >= p->nclasses) {
				warn(p, "pool at 0x%" PRIx64 " has size class %" PRIu32, base, szidx);
				continue;
			}
			struct pyhs_pymalloc_class *c = &p->classes[szidx];
			uint64_t nblocks = usable / c->size;
			if (count > nblocks) {
				warn(p, "pool at 0x%" PRIx64 " says %" PRIu32 " blocks of %" PRIu32 " bytes are in use; it holds %" PRIu64,
				     base, count, c->size, nblocks);
				count = (uint32_t)nblocks;
			}
			if (arenaindex != i)
				warn(p, "pool at 0x%" PRIx64 " names arena %" PRIu32 ", not %" PRIu64,
				     base, arenaindex, i);
			c->pools++;
			c->blocks_in_use += count;
			c->blocks_free += nblocks - count;
		}
	}
	for (size_t k = 0; k < p->nclasses; k++) {
		const struct pyhs_pymalloc_class *c = &p->classes[k];
		p->allocated_bytes += c->blocks_in_use * c->size;
		p->available_bytes += c->blocks_free * c->size;
		p->pool_header_bytes += c->pools * p->pool_overhead;
		p->quantization_bytes += c->pools * (usable % c->size);
	}
	p->free_pool_bytes = p->free_pools * pool;
	return NULL;
}

struct pyhs_error *pyhs_pymalloc_read(const struct pyhs_target *t,
				      struct pyhs_pymalloc **ret)
{
	const struct pyhs_layout *L = pyhs_target_layout(t);
	struct pyhs_pymalloc *p = calloc(1, sizeof(*p));
	if (!p)
		return &pyhs_enomem;
	const struct pymalloc_constants *c = constants_for(pyhs_target_py_version(t));
	p->pool_size = c->pool_size;
	p->arena_size = c->arena_size;
	p->nclasses = c->threshold / c->alignment;
	for (size_t k = 0; k < p->nclasses; k++)
		p->classes[k].size = (uint32_t)((k + 1) * c->alignment);
	p->arenas_total = p->arenas_highwater = p->arenas_current = -1;
	identify_allocator(t, L, p);

	struct state_addrs s;
	if (L->arena_object_size <= 0 || L->pool_header_size <= 0 ||
	    L->arena_address < 0 || L->pool_count < 0 || L->pool_szidx < 0) {
		p->status = PYHS_PYMALLOC_MISSING;
		snprintf(p->missing, sizeof(p->missing),
			 "the layout of pymalloc's arena objects and pool headers is unknown for this build");
	} else if (!find_state(t, L, p, &s)) {
		p->status = PYHS_PYMALLOC_MISSING;
	} else {
		p->pool_overhead = ((uint64_t)L->pool_header_size + c->alignment - 1) &
				   ~(uint64_t)(c->alignment - 1);
		p->arenas_total = read_counter(t, s.total);
		p->arenas_highwater = read_counter(t, s.highwater);
		p->arenas_current = read_counter(t, s.current);
		struct pyhs_error *err = walk_arenas(t, L, &s, p);
		if (err) {
			pyhs_pymalloc_destroy(p);
			return err;
		}
		if (p->status == PYHS_PYMALLOC_OK && !p->arenas)
			p->status = PYHS_PYMALLOC_UNUSED;
		if (p->status == PYHS_PYMALLOC_OK && p->arenas_current >= 0 &&
		    (uint64_t)p->arenas_current != p->arenas)
			warn(p, "obmalloc counts %" PRId64 " arenas allocated but %" PRIu64 " arena objects have an address",
			     p->arenas_current, p->arenas);
	}
	*ret = p;
	return NULL;
}

void pyhs_pymalloc_destroy(struct pyhs_pymalloc *p)
{
	if (!p)
		return;
	free(p->arena_list);
	free(p);
}
