/*
 * Snapshot files, the index section (FORMAT.md, INDX): an analysis of the
 * heap written beside it, read back in place of running it again.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"
#include "snapshot_index.h"

/* Increasing object numbers as differences: the first as it is, each next
 * as its distance from the one before, less one. */
static void put_increasing(void (*put)(void *ctx, uint64_t v), void *ctx,
			   uint64_t k, uint64_t prev, bool first)
{
	put(ctx, first ? k : k - prev - 1);
}

/* Dominator symbols (FORMAT.md, INDX): no root reaches it; the roots
 * dominate it; the last object dominator given, the object before it, or a
 * difference from that last one. Objects found together by the walk have
 * the same dominator, most often. */
#define IDOM_NONE 0
#define IDOM_ROOT 1
#define IDOM_LAST 2
#define IDOM_BEFORE 3
#define IDOM_DELTA 4

void pyhs_snapshot_index_encode(const struct pyhs_heap *h, const struct pyhs_analysis *a,
				void (*put)(void *ctx, uint64_t v), void *ctx)
{
	uint64_t n = pyhs_heap_nobjects(h), nnamed = pyhs_heap_nroots(h);
	uint64_t nroots = pyhs_analysis_nroots(a);
	put(ctx, nroots - nnamed);
	for (uint64_t k = nnamed; k < nroots; k++)
		put_increasing(put, ctx, pyhs_analysis_root(a, k),
			       k > nnamed ? pyhs_analysis_root(a, k - 1) : 0, k == nnamed);
	uint64_t last = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t d = pyhs_analysis_idom(a, i);
		if (d == PYHS_DOM_NONE || d == PYHS_DOM_ROOT) {
			put(ctx, d == PYHS_DOM_NONE ? IDOM_NONE : IDOM_ROOT);
			continue;
		}
		put(ctx, d == last ? IDOM_LAST : d + 1 == i ? IDOM_BEFORE :
			 IDOM_DELTA + zigzag(d - last));
		last = d;
	}
	for (uint64_t i = 0; i < n; i++)
		put(ctx, pyhs_analysis_unexplained(a, i));
	put(ctx, pyhs_analysis_ngarbage(a));
	uint64_t prev = 0;
	bool first = true;
	for (uint64_t i = 0; i < n; i++) {
		if (!pyhs_analysis_is_garbage(a, i))
			continue;
		put_increasing(put, ctx, i, prev, first);
		prev = i;
		first = false;
	}
}

uint64_t pyhs_snapshot_index_max_size(uint64_t n)
{
	/* Two counts, and at most n roots, dominators, counts and garbage. */
	return (4 * n + 2) * MAX_VARINT;
}

struct icur {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get(struct icur *c)
{
	return snapshot_get_varint(&c->p, c->end, &c->bad);
}

/* A count of increasing object numbers and the numbers, each below n. */
static struct pyhs_error *get_increasing(struct icur *c, uint64_t n, const char *what,
					 uint64_t *ret_count, uint32_t **ret)
{
	uint64_t count = get(c);
	if (c->bad || count > n || count > (uint64_t)(c->end - c->p))
		return pyhs_error_create(PYHS_ERROR_INPUT, "the count of %s is out of range", what);
	uint32_t *v = malloc((count ? count : 1) * sizeof(*v));
	if (!v)
		return &pyhs_enomem;
	uint64_t prev = 0;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t d = get(c);
		uint64_t x = k ? prev + 1 + d : d;
		if (c->bad || d >= n || x >= n) {
			free(v);
			return pyhs_error_create(PYHS_ERROR_INPUT, "%s %" PRIu64 " is out of range",
						 what, k);
		}
		v[k] = (uint32_t)x;
		prev = x;
	}
	*ret_count = count;
	*ret = v;
	return NULL;
}

struct pyhs_error *pyhs_snapshot_index_decode(const struct pyhs_heap *h, const uint8_t *raw,
					      size_t size, struct pyhs_analysis **ret)
{
	uint64_t n = pyhs_heap_nobjects(h);
	struct icur c = { raw, raw + size, false };
	struct pyhs_analysis_parts p = { 0 };
	uint32_t *garbage_list = NULL;
	uint64_t ng = 0;
	struct pyhs_error *err = get_increasing(&c, n, "C-held roots", &p.nc_roots, &p.c_roots);
	if (err)
		return err;
	p.idom = malloc((n ? n : 1) * sizeof(*p.idom));
	p.unexplained = malloc((n ? n : 1) * sizeof(*p.unexplained));
	p.garbage = calloc(n ? n : 1, 1);
	if (!p.idom || !p.unexplained || !p.garbage) {
		err = &pyhs_enomem;
		goto out;
	}
	uint64_t last = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = get(&c), d;
		if (v == IDOM_NONE || v == IDOM_ROOT) {
			p.idom[i] = v == IDOM_NONE ? PYHS_DOM_NONE : PYHS_DOM_ROOT;
			continue;
		}
		d = v == IDOM_LAST ? last : v == IDOM_BEFORE ? i - 1 :
		    last + unzigzag(v - IDOM_DELTA);
		if (d >= n)
			c.bad = true;
		p.idom[i] = (uint32_t)d;
		last = d;
	}
	for (uint64_t i = 0; i < n; i++)
		p.unexplained[i] = get(&c);
	if (c.bad) {
		err = pyhs_error_create(PYHS_ERROR_INPUT, "a dominator is out of range");
		goto out;
	}
	if ((err = get_increasing(&c, n, "garbage objects", &ng, &garbage_list)))
		goto out;
	for (uint64_t k = 0; k < ng; k++)
		p.garbage[garbage_list[k]] = 1;
	if (c.p != c.end) {
		err = pyhs_error_create(PYHS_ERROR_INPUT, "%zu bytes left over",
					(size_t)(c.end - c.p));
		goto out;
	}
	err = pyhs_analysis_restore(h, &p, ret);
out:
	free(garbage_list);
	free(p.c_roots);
	free(p.idom);
	free(p.unexplained);
	free(p.garbage);
	return err;
}
