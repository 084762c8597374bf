/*
 * Snapshot files, the index section (FORMAT.md, INDX): an analysis of the
 * heap written beside it, read back in place of running it again.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/rank.h"
#include "snapshot_format.h"
#include "snapshot_index.h"

/* Increasing object numbers as differences: the first as it is, each next
 * as its distance from the one before, less one. */
static void put_increasing(const struct index_sink *out, uint64_t k, uint64_t prev,
			   bool first)
{
	out->varint(out->ctx, first ? k : k - prev - 1);
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
				const struct index_sink *out)
{
#define put(ctx, v) out->varint(ctx, v)
	void *ctx = out->ctx;
	uint64_t n = pyhs_heap_nobjects(h), nnamed = pyhs_heap_nroots(h);
	uint64_t nroots = pyhs_analysis_nroots(a);
	put(ctx, nroots - nnamed);
	for (uint64_t k = nnamed; k < nroots; k++)
		put_increasing(out, pyhs_analysis_root(a, k),
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
		put_increasing(out, i, prev, first);
		prev = i;
		first = false;
	}
#undef put
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

/* ---- TOPR: the largest retainers as top prints them ---------------------- */

static void put_string(const struct index_sink *out, const char *s)
{
	size_t n = strlen(s);
	out->varint(out->ctx, n);
	out->bytes(out->ctx, s, n);
}

static uint64_t retained_key(void *a, uint64_t i)
{
	return pyhs_analysis_retained(a, i);
}

void pyhs_snapshot_top_encode(const struct pyhs_heap *h, const struct pyhs_analysis *a,
			      const struct pyhs_holders *hs, const struct index_sink *out)
{
	uint64_t n = pyhs_heap_nobjects(h);
	/* Only the rows kept are ranked: nothing per object. */
	uint64_t order[PYHS_TOP_ROWS], key[PYHS_TOP_ROWS];
	uint64_t m = pyhs_rank_top_items(n, PYHS_TOP_ROWS, retained_key, (void *)a, order, key);
	out->varint(out->ctx, n);
	out->varint(out->ctx, m);
	char preview[PYHS_TOP_PREVIEW], holder[PYHS_TOP_HOLDER];
	for (uint64_t q = 0; q < m; q++) {
		uint64_t i = order[q];
		pyhs_heap_preview(h, i, preview, sizeof(preview));
		pyhs_holders_name(hs, i, holder, sizeof(holder));
		out->varint(out->ctx, pyhs_heap_addr(h, i));
		out->varint(out->ctx, pyhs_heap_size(h, i));
		out->varint(out->ctx, key[q]);
		out->varint(out->ctx, pyhs_heap_gen(h, i));
		put_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
		put_string(out, preview);
		put_string(out, holder);
	}
}

void pyhs_snapshot_top_destroy(struct pyhs_snapshot_top *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->strings);
	free(t->meta_strings);
	free(t);
}

/* A string into *at (NUL-terminated), bounded by the bytes left. */
static const char *get_string(struct icur *c, char **at)
{
	uint64_t len = get(c);
	if (c->bad || len > (uint64_t)(c->end - c->p) || memchr(c->p, 0, len)) {
		c->bad = true;
		return "";
	}
	char *s = *at;
	memcpy(s, c->p, len);
	s[len] = '\0';
	c->p += len;
	*at += len + 1;
	return s;
}

struct pyhs_error *pyhs_snapshot_top_decode(const uint8_t *raw, size_t size,
					    struct pyhs_snapshot_top **ret)
{
	struct icur c = { raw, raw + size, false };
	uint64_t nobjects = get(&c), nrows = get(&c);
	/* Each row takes at least 7 bytes. */
	if (c.bad || nrows > PYHS_TOP_ROWS || nrows > nobjects ||
	    nrows * 7 > (uint64_t)(c.end - c.p))
		return pyhs_error_create(PYHS_ERROR_INPUT, "the count of rows is out of range");
	struct pyhs_snapshot_top *t = calloc(1, sizeof(*t));
	if (!t)
		return &pyhs_enomem;
	t->rows = calloc(nrows ? nrows : 1, sizeof(*t->rows));
	/* The strings take at most the section's bytes, and a NUL each. */
	t->strings = malloc(size + 3 * nrows + 1);
	if (!t->rows || !t->strings) {
		pyhs_snapshot_top_destroy(t);
		return &pyhs_enomem;
	}
	t->nobjects = nobjects;
	t->nrows = nrows;
	char *at = t->strings;
	for (uint64_t q = 0; q < nrows && !c.bad; q++) {
		struct pyhs_top_row *row = &t->rows[q];
		row->addr = get(&c);
		row->size = get(&c);
		row->retained = get(&c);
		uint64_t gen = get(&c);
		if (gen > PYHS_GEN_UNTRACKED)
			c.bad = true;
		row->gen = (enum pyhs_gen)gen;
		row->type = get_string(&c, &at);
		row->preview = get_string(&c, &at);
		row->holder = get_string(&c, &at);
		if (q && (row->retained > t->rows[q - 1].retained))
			c.bad = true;
	}
	if (c.bad || c.p != c.end) {
		pyhs_snapshot_top_destroy(t);
		return pyhs_error_create(PYHS_ERROR_INPUT, c.bad ? "a row is malformed" :
					 "bytes left over");
	}
	*ret = t;
	return NULL;
}
