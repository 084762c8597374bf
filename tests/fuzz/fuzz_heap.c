/*
 * Fuzz target: the heap walker (and every analysis after it) over corrupted
 * heap memory.
 *
 * A real core is the fixed base: tests/fuzz/data/python3.11-base.core.zst,
 * made with
 *
 *     ulimit -c unlimited; /usr/bin/python3.11 -I -S base_program.py
 *
 * (the program is in tests/fuzz/data/; it freezes what the interpreter
 * made at start-up into the permanent generation, makes one object of most
 * kinds the walker decodes, then calls os.abort()), then compressed with
 * `zstd -19`. PYHS_FUZZ_HEAP_BASE in the environment names another base.
 *
 * The base is opened once and made small: its permanent generation is
 * emptied (two words of the interpreter's GC state), and every walk stops
 * at MAX_OBJECTS objects (PYHS_FUZZ_HEAP_MAX_OBJECTS to change it), so
 * that it starts from the program's objects in generation 0, then the
 * interpreter's roots, and goes on breadth-first from there. A walk of the
 * whole 17,000-object heap ran 10-15 times a second; this one runs
 * 1,000-1,500 times (with libFuzzer's instrumentation, no ASan). The objects
 * of the unpatched, capped heap are listed.
 *
 * The input is a list of patches applied to the core's own bytes in
 * writable mappings (the heap, the interpreter's static data) before each
 * walk, and undone after it. Each patch is an op byte, then by op % 6:
 *
 *   0 RAW       u32 off, u8 n, n % 33 bytes: bytes at off (modulo the
 *               writable bytes, clipped at the end of their segment)
 *   1 SET       OBJ, i8 word, VALUE: the 8-byte word at the object's
 *               address + 8 * word (word -2 and -1: the GC header)
 *   2 ADD       OBJ, i8 word, i32 delta: add delta to that word (an
 *               ob_size or a refcount that lies by a little)
 *   3 COPY      OBJ, i8 word, OBJ, i8 word: copy one object's word into
 *               another's (an ob_type or ma_keys of another object)
 *   4 ZERO      u32 off, u16 n: zero n % 4097 words at off
 *   5 SEGWORD   u32 off, VALUE: the 8-byte word at off & ~7
 *
 *   OBJ:   u16 t, u16 k: with t = 0xffff object k (modulo the number of
 *          objects); else the k-th object (modulo their count) of the
 *          t-th type (modulo the number of types), in the unpatched heap:
 *          objects in address order, types in the order of their names
 *          (so that inputs keep their meaning when the walker changes).
 *   VALUE: u8 kind, then by kind % 5:
 *          0 u8 i: the i-th of a table of awkward numbers (0, -1, 2^63,
 *            2^40, unmapped, kernel and non-canonical addresses, ...)
 *          1 OBJ, i8 d: the address of an object + 8 * d
 *          2 u64: itself
 *          3 i8 d: the address of the patched word + 8 * d (loops)
 *          4 u16 t: the address of the t-th type object (by address)
 *
 * So a few bytes make a wild pointer, a refcount of 2^63, a dict of 2^40
 * entries, a GC list that loops, a list whose ob_size lies, a type that is
 * its own base. At most 256 patches; an input that ends inside a patch
 * ends the list.
 */
#include "fuzz_common.h"

#ifndef FUZZ_HEAP_BASE
#define FUZZ_HEAP_BASE "tests/fuzz/data/python3.11-base.core.zst"
#endif

#define MAX_PATCHES 256
#define MAX_OBJECTS 150
#define MAX_ZERO_WORDS 4096

struct wseg {
	uint64_t start, len;
	uint8_t *data;
	uint64_t before; /* writable bytes in the segments before this one */
};

struct undo {
	uint8_t *p;
	size_t n;
	size_t saved; /* offset into undo_bytes */
};

static struct {
	bool ready;
	const char *skip;
	struct pyhs_heap_options opts;
	struct pyhs_target *t;
	struct wseg *segs;
	size_t nsegs;
	uint64_t total;
	uint64_t *obj_addr;   /* ascending */
	uint64_t nobj;
	uint32_t ntypes;
	uint64_t *by_type;    /* addresses by type name, then address */
	uint64_t *type_start; /* ntypes + 1 offsets into by_type */
	uint64_t *type_obj;   /* address of each type object, ascending */
	uint64_t ntype_obj;
	struct undo undo[MAX_PATCHES];
	size_t nundo;
	uint8_t *undo_bytes;
	size_t undo_size, undo_cap;
} B;

static const uint64_t awkward[] = {
	0, 1, 2, 3, 7, 8, 16, 0xff, 0x100, 0xfff, 0x1000, 0x1010,
	0x7fffffff, 0x80000000, 0xffffffff, UINT64_C(1) << 32,
	UINT64_C(1) << 40, UINT64_C(1) << 62, UINT64_C(1) << 63,
	(UINT64_C(1) << 63) - 1, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 7,
	UINT64_C(0xdead0000),               /* unmapped */
	UINT64_C(0x00007ffffffff000),       /* top of user space */
	UINT64_C(0x0000800000000000),       /* non-canonical */
	UINT64_C(0xffff800000000000),       /* kernel */
	UINT64_C(0xffffffffff600000),       /* [vsyscall], in the core */
	UINT64_C(0x4141414141414141),
	UINT64_C(0x0000000100000001),
	UINT64_C(0xc000000000000000),       /* 3.12+ immortal refcount */
	UINT64_C(0x00000000ffffffff) << 3,  /* 3.12 int tag, many digits */
};
#define NAWKWARD (sizeof(awkward) / sizeof(awkward[0]))

static void skip(const char *why)
{
	B.skip = why;
	fprintf(stderr, "fuzz_heap: %s\n", why);
}

/* Objects in a stable order (by address; by type name, then address), so
 * that an input means the same as long as the base core does, whatever
 * order the walker finds things in. */
struct objrec {
	uint64_t addr;
	uint32_t rank; /* of its type's name */
};

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int compare_objrec(const void *a, const void *b)
{
	const struct objrec *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int compare_type_name(const void *a, const void *b, void *arg)
{
	const struct pyhs_heap *h = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(pyhs_heap_type_name(h, x), pyhs_heap_type_name(h, y));
	return c ? c : (x > y) - (x < y);
}

static uint8_t *at_addr(uint64_t addr, size_t n);

/* Makes the permanent generation's list empty (its head points to itself
 * both ways), for good: what the base froze there is not walked unless
 * something walked leads to it. */
static bool empty_permanent_generation(void)
{
	const struct pyhs_layout *L = pyhs_target_layout(B.t);
	uint64_t rt = pyhs_target_runtime(B.t), interp;
	if (!L || L->rt_interpreters_head < 0 || L->interp_gc < 0 ||
	    L->gc_permanent_generation < 0 ||
	    !pyhs_target_read(B.t, rt + (uint64_t)L->rt_interpreters_head,
			      &interp, 8))
		return false;
	uint64_t head = interp + (uint64_t)L->interp_gc +
			(uint64_t)L->gc_permanent_generation;
	uint8_t *p = at_addr(head, 16);
	if (!p)
		return false;
	memcpy(p, &head, 8);
	memcpy(p + 8, &head, 8);
	return true;
}

static void setup(void)
{
	B.ready = true;
	const char *path = getenv("PYHS_FUZZ_HEAP_BASE");
	if (!path || !path[0])
		path = FUZZ_HEAP_BASE;
	struct pyhs_open_options opts = { .no_dwarf = true, .debug_dir = "" };
	struct pyhs_error *err = pyhs_target_open_core(path, &opts, &B.t);
	if (err) {
		static char msg[1024];
		snprintf(msg, sizeof(msg),
			 "cannot open the base core (it needs the /usr/bin/python3.11 it was made with): %s",
			 err->message);
		pyhs_error_destroy(err);
		skip(msg);
		return;
	}
	/* The core's own bytes in writable mappings, made writable here. */
	size_t ns = pyhs_target_nsegments(B.t);
	B.segs = calloc(ns ? ns : 1, sizeof(*B.segs));
	if (!B.segs)
		fuzz_die("out of memory");
	long pagesize = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < ns; i++) {
		uint64_t start, len;
		const void *data;
		if (!pyhs_target_segment(B.t, i, &start, &len, &data) || !len)
			continue;
		bool writable = false;
		struct pyhs_target_mapping m;
		for (size_t k = 0; pyhs_target_mapping(B.t, k, &m); k++)
			if (start >= m.start && start < m.end)
				writable = m.perms[1] == 'w';
		if (!writable)
			continue;
		uintptr_t lo = (uintptr_t)data & ~(uintptr_t)(pagesize - 1);
		uintptr_t hi = (uintptr_t)data + len;
		if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0)
			fuzz_die("cannot make the base core's bytes writable");
		B.segs[B.nsegs++] = (struct wseg){ start, len, (uint8_t *)data,
						   B.total };
		B.total += len;
	}
	if (!B.total) {
		skip("the base core has no writable memory");
		return;
	}
	if (!empty_permanent_generation()) {
		skip("cannot find the base core's permanent GC generation");
		return;
	}
	const char *cap = getenv("PYHS_FUZZ_HEAP_MAX_OBJECTS");
	B.opts.max_objects = cap && cap[0] ? strtoull(cap, NULL, 0) : MAX_OBJECTS;
	/* The objects of the unpatched heap, and the types. */
	struct pyhs_heap *h;
	err = pyhs_heap_build(B.t, "fuzz-heap base", &B.opts, &h);
	if (err) {
		static char msg[1024];
		snprintf(msg, sizeof(msg), "cannot read the base core's heap: %s",
			 err->message);
		pyhs_error_destroy(err);
		skip(msg);
		return;
	}
	B.nobj = pyhs_heap_nobjects(h);
	B.ntypes = pyhs_heap_ntypes(h);
	B.obj_addr = malloc((B.nobj + 1) * sizeof(*B.obj_addr));
	B.by_type = malloc((B.nobj + 1) * sizeof(*B.by_type));
	B.type_start = calloc((size_t)B.ntypes + 1, sizeof(*B.type_start));
	B.type_obj = malloc((B.nobj + 1) * sizeof(*B.type_obj));
	uint32_t *order = malloc(((size_t)B.ntypes + 1) * sizeof(*order));
	uint32_t *rank = malloc(((size_t)B.ntypes + 1) * sizeof(*rank));
	struct objrec *recs = malloc((B.nobj + 1) * sizeof(*recs));
	if (!B.obj_addr || !B.by_type || !B.type_start || !B.type_obj ||
	    !order || !rank || !recs)
		fuzz_die("out of memory");
	for (uint32_t k = 0; k < B.ntypes; k++)
		order[k] = k;
	qsort_r(order, B.ntypes, sizeof(*order), compare_type_name, h);
	for (uint32_t k = 0; k < B.ntypes; k++)
		rank[order[k]] = k;
	for (uint64_t i = 0; i < B.nobj; i++) {
		B.obj_addr[i] = pyhs_heap_addr(h, i);
		recs[i] = (struct objrec){ B.obj_addr[i],
					   rank[pyhs_heap_type_of(h, i)] };
		B.type_start[recs[i].rank + 1]++;
		if (pyhs_heap_is_type(h, i))
			B.type_obj[B.ntype_obj++] = B.obj_addr[i];
	}
	for (uint32_t k = 0; k < B.ntypes; k++)
		B.type_start[k + 1] += B.type_start[k];
	qsort(B.obj_addr, B.nobj, sizeof(*B.obj_addr), compare_u64);
	qsort(B.type_obj, B.ntype_obj, sizeof(*B.type_obj), compare_u64);
	qsort(recs, B.nobj, sizeof(*recs), compare_objrec);
	for (uint64_t i = 0; i < B.nobj; i++)
		B.by_type[i] = recs[i].addr;
	free(recs);
	free(rank);
	free(order);
	pyhs_heap_destroy(h);
	if (!B.nobj || !B.ntype_obj) {
		skip("the base core's heap is empty");
		return;
	}
}

/* The library's entry for libFuzzer; replay.c calls it too. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!B.ready)
		setup();
	return 0;
}

/* replay.c: why the target cannot run here (exit status 77), or NULL. */
const char *fuzz_skip_reason(void);
const char *fuzz_skip_reason(void)
{
	if (!B.ready)
		setup();
	return B.skip;
}

/* ---- reading the input ---- */

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t take(struct reader *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static uint64_t take_obj(struct reader *r)
{
	uint16_t t = (uint16_t)take(r, 2);
	uint16_t k = (uint16_t)take(r, 2);
	if (t == 0xffff || !B.ntypes)
		return B.obj_addr[k % B.nobj];
	uint32_t ty = t % B.ntypes;
	uint64_t lo = B.type_start[ty], hi = B.type_start[ty + 1];
	if (lo == hi)
		return B.obj_addr[k % B.nobj];
	return B.by_type[lo + k % (hi - lo)];
}

static uint64_t take_value(struct reader *r, uint64_t self)
{
	uint8_t kind = (uint8_t)take(r, 1);
	switch (kind % 5) {
	case 0:
		return awkward[take(r, 1) % NAWKWARD];
	case 1: {
		uint64_t a = take_obj(r);
		int8_t d = (int8_t)take(r, 1);
		return a + (uint64_t)(int64_t)d * 8;
	}
	case 2:
		return take(r, 8);
	case 3: {
		int8_t d = (int8_t)take(r, 1);
		return self + (uint64_t)(int64_t)d * 8;
	}
	default:
		return B.type_obj[take(r, 2) % B.ntype_obj];
	}
}

/* Bytes [addr, addr + n) of a writable segment, or NULL. */
static uint8_t *at_addr(uint64_t addr, size_t n)
{
	for (size_t i = 0; i < B.nsegs; i++) {
		const struct wseg *s = &B.segs[i];
		if (addr >= s->start && addr - s->start < s->len &&
		    s->len - (addr - s->start) >= n)
			return s->data + (addr - s->start);
	}
	return NULL;
}

/* The writable byte at offset off (modulo all of them): its segment. */
static const struct wseg *at_offset(uint64_t off, uint64_t *ret_in)
{
	off %= B.total;
	size_t lo = 0, hi = B.nsegs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (B.segs[mid].before <= off)
			lo = mid;
		else
			hi = mid;
	}
	*ret_in = off - B.segs[lo].before;
	return &B.segs[lo];
}

/* Saves the bytes about to change, for undo. */
static void save(uint8_t *p, size_t n)
{
	if (B.nundo == MAX_PATCHES)
		fuzz_die("undo log full");
	if (B.undo_cap - B.undo_size < n) {
		size_t cap = B.undo_cap ? B.undo_cap : 4096;
		while (cap - B.undo_size < n)
			cap *= 2;
		uint8_t *d = realloc(B.undo_bytes, cap);
		if (!d)
			fuzz_die("out of memory");
		B.undo_bytes = d;
		B.undo_cap = cap;
	}
	memcpy(B.undo_bytes + B.undo_size, p, n);
	B.undo[B.nundo++] = (struct undo){ p, n, B.undo_size };
	B.undo_size += n;
}

static void write_word(uint64_t addr, uint64_t v)
{
	uint8_t *p = at_addr(addr, 8);
	if (!p)
		return;
	save(p, 8);
	memcpy(p, &v, 8);
}

/* Writes n bytes (zeros if bytes is NULL) at writable offset off (modulo
 * them all), clipped at the end of its segment, saving what they replace. */
static void patch_bytes(uint64_t off, const uint8_t *bytes, size_t n)
{
	uint64_t in;
	const struct wseg *s = at_offset(off, &in);
	if (n > s->len - in)
		n = (size_t)(s->len - in);
	if (!n)
		return;
	save(s->data + in, n);
	if (bytes)
		memcpy(s->data + in, bytes, n);
	else
		memset(s->data + in, 0, n);
}

static void apply(const uint8_t *data, size_t size)
{
	struct reader r = { data, data + size, false };
	for (int k = 0; k < MAX_PATCHES && r.p < r.end; k++) {
		uint8_t op = (uint8_t)take(&r, 1);
		switch (op % 6) {
		case 0: {
			uint64_t off = take(&r, 4);
			size_t n = (size_t)take(&r, 1) % 33;
			if ((size_t)(r.end - r.p) < n)
				n = (size_t)(r.end - r.p);
			const uint8_t *bytes = r.p;
			r.p += n;
			if (!r.bad)
				patch_bytes(off, bytes, n);
			break;
		}
		case 1: {
			uint64_t a = take_obj(&r);
			int8_t w = (int8_t)take(&r, 1);
			uint64_t at = a + (uint64_t)(int64_t)w * 8;
			uint64_t v = take_value(&r, at);
			if (!r.bad)
				write_word(at, v);
			break;
		}
		case 2: {
			uint64_t a = take_obj(&r);
			int8_t w = (int8_t)take(&r, 1);
			int32_t d = (int32_t)take(&r, 4);
			uint64_t at = a + (uint64_t)(int64_t)w * 8, v;
			uint8_t *p = at_addr(at, 8);
			if (r.bad || !p)
				break;
			memcpy(&v, p, 8);
			write_word(at, v + (uint64_t)(int64_t)d);
			break;
		}
		case 3: {
			uint64_t a = take_obj(&r);
			int8_t w = (int8_t)take(&r, 1);
			uint64_t b = take_obj(&r);
			int8_t x = (int8_t)take(&r, 1);
			uint64_t v;
			uint8_t *src = at_addr(b + (uint64_t)(int64_t)x * 8, 8);
			if (r.bad || !src)
				break;
			memcpy(&v, src, 8);
			write_word(a + (uint64_t)(int64_t)w * 8, v);
			break;
		}
		case 4: {
			uint64_t off = take(&r, 4);
			size_t n = (size_t)(take(&r, 2) % (MAX_ZERO_WORDS + 1)) * 8;
			if (!r.bad)
				patch_bytes(off, NULL, n);
			break;
		}
		default: {
			uint64_t off = take(&r, 4) & ~UINT64_C(7), in;
			const struct wseg *s = at_offset(off, &in);
			uint64_t at = s->start + in;
			uint64_t v = take_value(&r, at);
			if (!r.bad)
				write_word(at, v);
			break;
		}
		}
	}
}

static void undo_all(void)
{
	while (B.nundo) {
		const struct undo *u = &B.undo[--B.nundo];
		memcpy(u->p, B.undo_bytes + u->saved, u->n);
	}
	B.undo_size = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!B.ready)
		setup();
	if (B.skip)
		fuzz_die(B.skip);
	apply(data, size);
	struct pyhs_heap *h;
	struct pyhs_error *err = pyhs_heap_build(B.t, "fuzz-heap", &B.opts, &h);
	if (err) {
		fuzz_error(err);
	} else {
		fuzz_exercise_heap(h);
		pyhs_heap_destroy(h);
	}
	undo_all();
	return 0;
}
