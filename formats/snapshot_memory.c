/*
 * Snapshot files: the allocator state section (MEMS, optional; FORMAT.md):
 * what `memory` says of the core a snapshot was made from. pymalloc's
 * counters, size classes and arenas; tracemalloc's traces as their totals
 * and each traceback's bytes and count (what grouping by line or by
 * traceback needs); the regions. Decoding checks every count against the
 * bytes left and every value against what it may be.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"

#define MEMS_VERSION 1
#define MAX_STR 4096

/* ---- encoding: into a memory stream ----------------------------------- */

static void mput_varint(FILE *f, uint64_t v)
{
	while (v >= 0x80) {
		fputc((int)(v | 0x80) & 0xff, f);
		v >>= 7;
	}
	fputc((int)v, f);
}

static void mput_sint(FILE *f, int64_t v)
{
	mput_varint(f, zigzag((uint64_t)v));
}

static void mput_str(FILE *f, const char *s)
{
	size_t n = strlen(s);
	mput_varint(f, n);
	fwrite(s, 1, n, f);
}

static void encode_pymalloc(FILE *f, const struct pyhs_pymalloc *p)
{
	mput_varint(f, p->status);
	mput_str(f, p->missing);
	mput_str(f, p->allocator);
	mput_varint(f, p->traced);
	const uint64_t u[] = { p->pool_size, p->arena_size, p->pool_overhead, p->arenas,
			       p->free_pools, p->allocated_bytes, p->available_bytes,
			       p->free_pool_bytes, p->pool_header_bytes,
			       p->quantization_bytes, p->alignment_bytes };
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		mput_varint(f, u[i]);
	mput_sint(f, p->arenas_total);
	mput_sint(f, p->arenas_highwater);
	mput_sint(f, p->arenas_current);
	mput_varint(f, p->nclasses);
	for (size_t k = 0; k < p->nclasses; k++) {
		mput_varint(f, p->classes[k].size);
		mput_varint(f, p->classes[k].pools);
		mput_varint(f, p->classes[k].blocks_in_use);
		mput_varint(f, p->classes[k].blocks_free);
	}
	mput_varint(f, p->narenas);
	for (size_t k = 0; k < p->narenas; k++) {
		mput_varint(f, p->arena_list[k].address);
		mput_varint(f, p->arena_list[k].free_pools);
		mput_varint(f, p->arena_list[k].total_pools);
	}
	mput_varint(f, p->nwarnings);
	mput_str(f, p->warning);
}

static struct pyhs_error *encode_allocations(FILE *f, const struct pyhs_allocations *a)
{
	uint64_t ntraces, bytes;
	pyhs_allocations_totals(a, &ntraces, &bytes);
	mput_varint(f, pyhs_allocations_status(a));
	mput_str(f, pyhs_allocations_missing(a));
	mput_varint(f, pyhs_allocations_nwarnings(a));
	mput_str(f, pyhs_allocations_warning(a));
	mput_sint(f, pyhs_allocations_max_frames(a));
	mput_varint(f, ntraces);
	mput_varint(f, bytes);
	struct pyhs_allocation_stat *stats;
	size_t n;
	struct pyhs_error *err = pyhs_allocations_group(a, true, &stats, &n);
	if (err)
		return err;
	mput_varint(f, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t nf = pyhs_allocations_nframes(a, stats[i].traceback);
		mput_varint(f, stats[i].size);
		mput_varint(f, stats[i].count);
		mput_varint(f, nf);
		for (uint32_t k = 0; k < nf; k++) {
			const char *file;
			uint32_t line;
			pyhs_allocations_frame(a, stats[i].traceback, k, &file, &line);
			mput_str(f, file);
			mput_varint(f, line);
		}
	}
	free(stats);
	return NULL;
}

static void encode_regions(FILE *f, const struct pyhs_regions *r)
{
	mput_varint(f, r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct pyhs_region *g = &r->regions[i];
		mput_str(f, g->kind);
		mput_str(f, g->name);
		mput_varint(f, g->bytes);
		mput_varint(f, g->held);
		mput_sint(f, g->resident);
		mput_sint(f, g->swapped);
		mput_varint(f, g->pieces);
	}
	mput_varint(f, r->mapped_bytes);
	mput_varint(f, r->live);
	mput_str(f, r->glibc);
	mput_varint(f, r->glibc_known);
	mput_varint(f, r->glibc_newest);
	mput_varint(f, r->malloc_in_use);
	mput_varint(f, r->malloc_objects);
	mput_varint(f, r->malloc_buffers);
	mput_varint(f, r->nwarnings);
	mput_str(f, r->warning);
}

struct pyhs_error *snapshot_memory_encode(const struct pyhs_memory_state *m,
					  uint8_t **ret, size_t *ret_n)
{
	char *data = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&data, &n);
	if (!f)
		return &pyhs_enomem;
	mput_varint(f, MEMS_VERSION);
	encode_pymalloc(f, m->pymalloc);
	struct pyhs_error *err = encode_allocations(f, m->allocations);
	if (!err) {
		encode_regions(f, m->regions);
		mput_str(f, m->objects_not_read);
	}
	bool failed = ferror(f);
	if (fclose(f) != 0 || failed) {
		free(data);
		return err ? err : &pyhs_enomem;
	}
	if (err) {
		free(data);
		return err;
	}
	*ret = (uint8_t *)data;
	*ret_n = n;
	return NULL;
}

/* ---- decoding ------------------------------------------------------------ */

struct mcur {
	const uint8_t *p, *end;
	const char *bad; /* the first thing wrong, or NULL */
};

static uint64_t mget_varint(struct mcur *c)
{
	bool bad = false;
	uint64_t v = snapshot_get_varint(&c->p, c->end, &bad);
	if (bad && !c->bad)
		c->bad = "truncated or malformed data";
	return v;
}

/* A value at most max; above it the section is corrupt (what says what). */
static uint64_t mget_max(struct mcur *c, uint64_t max, const char *what)
{
	uint64_t v = mget_varint(c);
	if (v > max && !c->bad)
		c->bad = what;
	return v > max ? 0 : v;
}

static int64_t mget_sint(struct mcur *c)
{
	return (int64_t)unzigzag(mget_varint(c));
}

/* A count of records of at least min bytes each, bounded by what is left. */
static uint64_t mget_count(struct mcur *c, size_t min, const char *what)
{
	return mget_max(c, (uint64_t)(c->end - c->p) / min, what);
}

/* A string into buf (size n), truncated there; NUL bytes are corrupt. */
static void mget_str(struct mcur *c, char *buf, size_t n)
{
	uint64_t len = mget_varint(c);
	buf[0] = '\0';
	if (c->bad)
		return;
	if (len > (uint64_t)(c->end - c->p) || len > MAX_STR) {
		c->bad = "a string longer than the section";
		return;
	}
	if (memchr(c->p, '\0', len)) {
		c->bad = "a string with a NUL byte";
		return;
	}
	size_t k = len < n - 1 ? (size_t)len : n - 1;
	memcpy(buf, c->p, k);
	buf[k] = '\0';
	c->p += len;
}

static struct pyhs_error *decode_pymalloc(struct mcur *c, struct pyhs_pymalloc **ret)
{
	struct pyhs_pymalloc *p = calloc(1, sizeof(*p));
	if (!p)
		return &pyhs_enomem;
	p->status = (enum pyhs_pymalloc_status)mget_max(c, PYHS_PYMALLOC_MISSING,
							"an unknown pymalloc status");
	mget_str(c, p->missing, sizeof(p->missing));
	mget_str(c, p->allocator, sizeof(p->allocator));
	p->traced = mget_max(c, 1, "a flag neither 0 nor 1");
	uint64_t *u[] = { &p->pool_size, &p->arena_size, &p->pool_overhead, &p->arenas,
			  &p->free_pools, &p->allocated_bytes, &p->available_bytes,
			  &p->free_pool_bytes, &p->pool_header_bytes,
			  &p->quantization_bytes, &p->alignment_bytes };
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		*u[i] = mget_varint(c);
	p->arenas_total = mget_sint(c);
	p->arenas_highwater = mget_sint(c);
	p->arenas_current = mget_sint(c);
	p->nclasses = mget_max(c, PYHS_PYMALLOC_MAX_CLASSES, "more pymalloc size classes than there are");
	for (size_t k = 0; k < p->nclasses && !c->bad; k++) {
		p->classes[k].size = (uint32_t)mget_max(c, UINT32_MAX, "a size class out of range");
		p->classes[k].pools = mget_varint(c);
		p->classes[k].blocks_in_use = mget_varint(c);
		p->classes[k].blocks_free = mget_varint(c);
	}
	p->narenas = mget_count(c, 3, "more arenas than the section holds");
	if (!c->bad && p->narenas &&
	    !(p->arena_list = calloc(p->narenas, sizeof(*p->arena_list)))) {
		pyhs_pymalloc_destroy(p);
		return &pyhs_enomem;
	}
	for (size_t k = 0; k < p->narenas && !c->bad; k++) {
		p->arena_list[k].address = mget_varint(c);
		p->arena_list[k].free_pools = (uint32_t)mget_max(c, UINT32_MAX, "an arena's pools out of range");
		p->arena_list[k].total_pools = (uint32_t)mget_max(c, UINT32_MAX, "an arena's pools out of range");
	}
	p->nwarnings = mget_varint(c);
	mget_str(c, p->warning, sizeof(p->warning));
	*ret = p;
	return NULL;
}

static struct pyhs_error *decode_allocations(struct mcur *c, struct pyhs_allocations **ret)
{
	char missing[200], warning[200];
	struct pyhs_allocations_header hd = { 0 };
	hd.status = (enum pyhs_allocations_status)mget_max(c, PYHS_ALLOCATIONS_MISSING,
							   "an unknown tracemalloc status");
	mget_str(c, missing, sizeof(missing));
	hd.nwarnings = mget_varint(c);
	mget_str(c, warning, sizeof(warning));
	int64_t mf = mget_sint(c);
	if ((mf < 0 || mf > 65535) && !c->bad)
		c->bad = "a traceback limit out of range";
	hd.max_frames = (int)(mf < 0 || mf > 65535 ? 0 : mf);
	hd.traces = mget_varint(c);
	hd.bytes = mget_varint(c);
	hd.missing = missing;
	hd.warning = warning;
	if (c->bad)
		return NULL;
	struct pyhs_allocations *a;
	struct pyhs_error *err = pyhs_allocations_restore(&hd, &a);
	if (err)
		return err;
	uint64_t n = mget_count(c, 3, "more tracebacks than the section holds");
	char **files = NULL;
	uint32_t *lines = NULL;
	uint32_t nf = 0;
	for (uint64_t i = 0; i < n && !c->bad && !err; i++) {
		uint64_t size = mget_varint(c), count = mget_varint(c);
		nf = (uint32_t)mget_max(c, 65535, "a traceback of more than 65535 frames");
		if (nf > (uint64_t)(c->end - c->p) / 2 && !c->bad)
			c->bad = "more frames than the section holds";
		if (c->bad)
			break;
		files = calloc(nf ? nf : 1, sizeof(*files));
		lines = calloc(nf ? nf : 1, sizeof(*lines));
		if (!files || !lines)
			err = &pyhs_enomem;
		for (uint32_t k = 0; k < nf && !c->bad && !err; k++) {
			char name[MAX_STR + 1];
			mget_str(c, name, sizeof(name));
			if (!(files[k] = strdup(name)))
				err = &pyhs_enomem;
			lines[k] = (uint32_t)mget_max(c, UINT32_MAX, "a line number out of range");
		}
		if (!c->bad && !err)
			err = pyhs_allocations_restore_traceback(a, size, count, nf,
								 (const char *const *)files, lines);
		for (uint32_t k = 0; files && k < nf; k++)
			free(files[k]);
		free(files);
		free(lines);
		files = NULL;
		lines = NULL;
	}
	if (err) {
		pyhs_allocations_destroy(a);
		return err;
	}
	*ret = a;
	return NULL;
}

static struct pyhs_error *decode_regions(struct mcur *c, struct pyhs_regions **ret)
{
	struct pyhs_regions *r = calloc(1, sizeof(*r));
	if (!r)
		return &pyhs_enomem;
	r->n = mget_count(c, 7, "more regions than the section holds");
	if (!c->bad && r->n && !(r->regions = calloc(r->n, sizeof(*r->regions)))) {
		free(r);
		return &pyhs_enomem;
	}
	for (size_t i = 0; i < r->n && !c->bad; i++) {
		struct pyhs_region *g = &r->regions[i];
		char kind[32];
		mget_str(c, kind, sizeof(kind));
		for (size_t k = 0; k < PYHS_REGION_NKINDS; k++)
			if (!strcmp(kind, pyhs_region_kinds[k]))
				g->kind = pyhs_region_kinds[k];
		if (!g->kind && !c->bad)
			c->bad = "a region of an unknown kind";
		mget_str(c, g->name, sizeof(g->name));
		g->bytes = mget_varint(c);
		g->held = mget_varint(c);
		g->resident = mget_sint(c);
		g->swapped = mget_sint(c);
		g->pieces = mget_varint(c);
	}
	r->mapped_bytes = mget_varint(c);
	r->live = mget_max(c, 1, "a flag neither 0 nor 1");
	mget_str(c, r->glibc, sizeof(r->glibc));
	r->glibc_known = mget_max(c, 1, "a flag neither 0 nor 1");
	r->glibc_newest = (unsigned)mget_max(c, UINT32_MAX, "a glibc release out of range");
	r->malloc_in_use = mget_varint(c);
	r->malloc_objects = mget_varint(c);
	r->malloc_buffers = mget_varint(c);
	if (!c->bad && r->malloc_objects + r->malloc_buffers < r->malloc_objects)
		c->bad = "malloc's bytes in use out of range";
	if (!c->bad && r->malloc_objects + r->malloc_buffers > r->malloc_in_use)
		c->bad = "more of malloc's bytes told apart than are in use";
	r->nwarnings = mget_varint(c);
	mget_str(c, r->warning, sizeof(r->warning));
	if (c->bad) {
		/* Regions may have no kind yet: none is read from here. */
		pyhs_regions_destroy(r);
		*ret = NULL;
		return NULL;
	}
	*ret = r;
	return NULL;
}

struct pyhs_error *snapshot_memory_decode(const uint8_t *data, size_t n,
					  struct pyhs_memory_state **ret,
					  const char **ret_bad)
{
	struct mcur c = { data, data + n, NULL };
	struct pyhs_memory_state *m = calloc(1, sizeof(*m));
	if (!m)
		return &pyhs_enomem;
	struct pyhs_error *err = NULL;
	if (mget_varint(&c) != MEMS_VERSION && !c.bad)
		c.bad = "an unknown version of the section";
	if (!c.bad)
		err = decode_pymalloc(&c, &m->pymalloc);
	if (!err && !c.bad)
		err = decode_allocations(&c, &m->allocations);
	if (!err && !c.bad)
		err = decode_regions(&c, &m->regions);
	if (!err && !c.bad)
		mget_str(&c, m->objects_not_read, sizeof(m->objects_not_read));
	if (!err && !c.bad && c.p != c.end)
		c.bad = "bytes left over";
	if (err || c.bad) {
		pyhs_memory_state_destroy(m);
		*ret_bad = c.bad;
		return err;
	}
	*ret = m;
	return NULL;
}
