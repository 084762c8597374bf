/*
 * Tests of heapmodel/graph.c against brute force on generated graphs:
 * dominators (delete each node and see what the roots no longer reach),
 * retained sizes (the sizes of what becomes unreachable), strongly connected
 * components (mutual reachability), shortest paths (a separate BFS), and
 * long chains that a recursive implementation could not survive.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "common/error.h"
#include "graph.h"
#include "heapmodel.h"

/* ---- generated graphs ----------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t n)
{
	return (uint32_t)(rnd() % n);
}

/* A graph being built: edges in any order, turned into CSR by tg_finish
 * (stable: a node's edges keep the order they were added in). */
struct tgraph {
	uint64_t n, m, cap;
	uint32_t *esrc, *edst, *elabel;
	uint32_t *start;
	uint32_t *dst, *label;
	uint64_t *size;
	uint32_t *roots;
	uint64_t nroots, rootcap;
	struct pyhs_graph g;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

static void tg_init(struct tgraph *t, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->size = xmalloc(n * sizeof(uint64_t));
	for (uint64_t i = 0; i < n; i++)
		t->size[i] = 16 + rnd_below(1000);
}

static uint32_t plain_label(void)
{
	static const enum pyhs_label_kind kinds[] = {
		PYHS_LABEL_NONE, PYHS_LABEL_INDEX, PYHS_LABEL_DICT_VALUE,
		PYHS_LABEL_ATTR, PYHS_LABEL_ITEM,
	};
	return PYHS_LABEL(kinds[rnd_below(5)], rnd_below(1000));
}

static void tg_edge(struct tgraph *t, uint32_t s, uint32_t d, uint32_t label)
{
	if (t->m == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->esrc = xrealloc(t->esrc, t->cap * sizeof(uint32_t));
		t->edst = xrealloc(t->edst, t->cap * sizeof(uint32_t));
		t->elabel = xrealloc(t->elabel, t->cap * sizeof(uint32_t));
	}
	t->esrc[t->m] = s;
	t->edst[t->m] = d;
	t->elabel[t->m] = label;
	t->m++;
}

static void tg_strong(struct tgraph *t, uint32_t s, uint32_t d)
{
	tg_edge(t, s, d, plain_label());
}

static void tg_weak(struct tgraph *t, uint32_t s, uint32_t d)
{
	tg_edge(t, s, d, PYHS_LABEL(PYHS_LABEL_WEAK, rnd_below(1000)));
}

static void tg_root(struct tgraph *t, uint32_t r)
{
	if (t->nroots == t->rootcap) {
		t->rootcap = t->rootcap ? t->rootcap * 2 : 8;
		t->roots = xrealloc(t->roots, t->rootcap * sizeof(uint32_t));
	}
	t->roots[t->nroots++] = r;
}

static void tg_finish(struct tgraph *t)
{
	t->start = calloc(t->n + 2, sizeof(uint32_t));
	CU_ASSERT_FATAL(t->start != NULL);
	for (uint64_t e = 0; e < t->m; e++)
		t->start[t->esrc[e] + 2]++;
	for (uint64_t i = 2; i < t->n + 2; i++)
		t->start[i] += t->start[i - 1];
	t->dst = xmalloc(t->m * sizeof(uint32_t));
	t->label = xmalloc(t->m * sizeof(uint32_t));
	for (uint64_t e = 0; e < t->m; e++) {
		uint64_t k = t->start[t->esrc[e] + 1]++;
		t->dst[k] = t->edst[e];
		t->label[k] = t->elabel[e];
	}
	free(t->esrc);
	free(t->edst);
	free(t->elabel);
	t->esrc = t->edst = t->elabel = NULL;
	t->g.n = t->n;
	t->g.start = t->start;
	t->g.dst = t->dst;
	t->g.label = t->label;
}

static void tg_free(struct tgraph *t)
{
	free(t->esrc);
	free(t->edst);
	free(t->elabel);
	free(t->start);
	free(t->dst);
	free(t->label);
	free(t->size);
	free(t->roots);
}

/*
 * A random graph: the last tenth of the nodes is only pointed at from
 * itself and by weak references; hubs shared by many; self-loops; a few
 * roots, sometimes repeated; out-degrees 0..6.
 */
static void gen_random(struct tgraph *t, uint64_t n)
{
	tg_init(t, n);
	uint64_t reach = n - n / 10;
	unsigned nroots = 1 + rnd_below(5);
	for (unsigned i = 0; i < nroots; i++)
		tg_root(t, rnd_below(reach));
	if (rnd_below(2))
		tg_root(t, t->roots[0]);
	for (uint64_t v = 0; v < n; v++) {
		unsigned deg = rnd_below(7);
		for (unsigned k = 0; k < deg; k++) {
			unsigned what = rnd_below(100);
			uint32_t d;
			if (v >= reach)
				d = rnd_below(n);
			else if (what < 10)
				d = rnd_below(reach < 20 ? reach : 20); /* hubs */
			else
				d = rnd_below(reach);
			if (what >= 90)
				tg_weak(t, (uint32_t)v, rnd_below(n));
			else
				tg_strong(t, (uint32_t)v, d);
		}
		if (rnd_below(100) < 3)
			tg_strong(t, (uint32_t)v, (uint32_t)v);
	}
	tg_finish(t);
}

/*
 * Heap-like: a tree of containers (each node's parent a little before it),
 * a pool of shared leaves, back references to ancestors (cycles), sibling
 * links, weak references to anything, and a detached part.
 */
static void gen_heaplike(struct tgraph *t, uint64_t n)
{
	tg_init(t, n);
	uint64_t detached = n / 20;
	uint64_t tree = n - detached;
	uint32_t *par = xmalloc(n * sizeof(uint32_t));
	tg_root(t, 0);
	tg_root(t, (uint32_t)(tree / 2));
	par[0] = 0;
	for (uint64_t v = 1; v < n; v++) {
		uint64_t lo = v > 40 ? v - 40 : 0;
		if (v == tree)
			lo = tree; /* the detached part starts its own tree */
		if (v == tree) {
			par[v] = (uint32_t)v;
			continue;
		}
		par[v] = (uint32_t)(lo + rnd_below(v - lo));
		tg_strong(t, par[v], (uint32_t)v);
	}
	for (uint64_t v = 0; v < n; v++) {
		unsigned what = rnd_below(100);
		uint64_t base = v < tree ? 0 : tree;
		uint64_t span = v < tree ? tree : detached;
		if (what < 30)
			tg_strong(t, (uint32_t)v, (uint32_t)(base + rnd_below(span < 30 ? span : 30)));
		else if (what < 40 && v > 0 && par[v] != v)
			tg_strong(t, (uint32_t)v, par[par[v]]); /* a cycle */
		else if (what < 50)
			tg_strong(t, (uint32_t)v, (uint32_t)(base + rnd_below(span)));
		if (rnd_below(100) < 15)
			tg_weak(t, (uint32_t)v, rnd_below(n));
		if (rnd_below(100) < 2)
			tg_strong(t, (uint32_t)v, (uint32_t)v);
	}
	free(par);
	tg_finish(t);
}

/* Sparse: many small strongly connected components and chains. */
static void gen_sparse(struct tgraph *t, uint64_t n, unsigned per100)
{
	tg_init(t, n);
	tg_root(t, 0);
	tg_root(t, rnd_below(n));
	for (uint64_t v = 0; v < n; v++) {
		unsigned deg = 0;
		while (rnd_below(100) < per100 && deg < 8)
			deg++;
		for (unsigned k = 0; k < deg; k++) {
			uint32_t d = rnd_below(3) ? (uint32_t)((v + 1 + rnd_below(8)) % n)
						  : rnd_below(n);
			if (rnd_below(10) == 0)
				tg_weak(t, (uint32_t)v, d);
			else
				tg_strong(t, (uint32_t)v, d);
		}
		if (rnd_below(100) < 5)
			tg_strong(t, (uint32_t)v, (uint32_t)v);
	}
	tg_finish(t);
}

/* Mostly forward edges a few steps ahead: deep dominator trees, with some
 * long jumps either way (cycles) and a few nodes that only weak edges
 * reach. */
static void gen_chainy(struct tgraph *t, uint64_t n, unsigned per100)
{
	tg_init(t, n);
	tg_root(t, 0);
	if (rnd_below(2))
		tg_root(t, (uint32_t)(n / 3));
	for (uint64_t v = 0; v < n; v++) {
		if (v + 1 < n)
			tg_strong(t, (uint32_t)v, (uint32_t)(v + 1 + rnd_below(
				n - v - 1 < 3 ? n - v - 1 : 3)));
		unsigned deg = 0;
		while (rnd_below(100) < per100 && deg < 6)
			deg++;
		for (unsigned k = 0; k < deg; k++) {
			uint32_t d = rnd_below(20) ? (uint32_t)((v + 1 + rnd_below(6)) % n)
						   : rnd_below(n);
			if (rnd_below(10) == 0)
				tg_weak(t, (uint32_t)v, d);
			else
				tg_strong(t, (uint32_t)v, d);
		}
		if (rnd_below(100) < 3)
			tg_strong(t, (uint32_t)v, (uint32_t)v);
	}
	tg_finish(t);
}

/* ---- brute force ---------------------------------------------------------- */

static bool is_strong(const struct pyhs_graph *g, uint64_t e)
{
	return !g->label || PYHS_LABEL_KIND(g->label[e]) != PYHS_LABEL_WEAK;
}

/* Marks what the sources reach without passing through skip (UINT32_MAX:
 * nothing skipped). */
static void reach_from(const struct pyhs_graph *g, const uint32_t *src,
		       uint64_t nsrc, uint32_t skip, uint8_t *mark,
		       uint32_t *queue)
{
	memset(mark, 0, g->n);
	uint64_t head = 0, tail = 0;
	for (uint64_t i = 0; i < nsrc; i++) {
		if (src[i] != skip && !mark[src[i]]) {
			mark[src[i]] = 1;
			queue[tail++] = src[i];
		}
	}
	while (head < tail) {
		uint32_t v = queue[head++];
		for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
			uint32_t w = g->dst[e];
			if (!is_strong(g, e) || w == skip || mark[w])
				continue;
			mark[w] = 1;
			queue[tail++] = w;
		}
	}
}

struct bits {
	uint64_t n, words;
	uint64_t *w;
};

static void bits_init(struct bits *b, uint64_t n)
{
	b->n = n;
	b->words = (n + 63) / 64;
	b->w = calloc(n * b->words + 1, sizeof(uint64_t));
	CU_ASSERT_FATAL(b->w != NULL);
}

static void bits_set(struct bits *b, uint64_t r, uint64_t c)
{
	b->w[r * b->words + c / 64] |= UINT64_C(1) << (c % 64);
}

static bool bits_get(const struct bits *b, uint64_t r, uint64_t c)
{
	return b->w[r * b->words + c / 64] >> (c % 64) & 1;
}

static unsigned failures_reported;

#define EXPECT_EQ(what, got, want, ...)					\
	do {								\
		uint64_t got_ = (got), want_ = (want);			\
		CU_ASSERT(got_ == want_);				\
		if (got_ != want_ && failures_reported++ < 20) {	\
			fprintf(stderr, "\n    " what ": got %" PRIu64	\
				", want %" PRIu64 "\n", __VA_ARGS__,	\
				got_, want_);				\
		}							\
	} while (0)

/* Checks dominators and retained sizes against deleting each node. */
static void check_dominators_brute(const struct tgraph *t)
{
	const struct pyhs_graph *g = &t->g;
	uint64_t n = g->n;
	uint32_t *idom = NULL;
	struct pyhs_error *err = pyhs_dominators(g, t->roots, t->nroots, &idom);
	if (err)
		fprintf(stderr, "\n    %s\n", err->message);
	CU_ASSERT_FATAL(err == NULL);

	uint8_t *base = xmalloc(n), *mark = xmalloc(n);
	uint32_t *queue = xmalloc(n * sizeof(uint32_t));
	reach_from(g, t->roots, t->nroots, UINT32_MAX, base, queue);
	/* dom row d: the nodes other than d that d's deletion cuts off */
	struct bits dom;
	bits_init(&dom, n);
	uint32_t *ndom = calloc(n + 1, sizeof(uint32_t));
	CU_ASSERT_FATAL(ndom != NULL);
	for (uint64_t d = 0; d < n; d++) {
		if (!base[d])
			continue;
		reach_from(g, t->roots, t->nroots, (uint32_t)d, mark, queue);
		for (uint64_t v = 0; v < n; v++) {
			if (v != d && base[v] && !mark[v]) {
				bits_set(&dom, d, v);
				ndom[v]++;
			}
		}
	}
	uint64_t reachable = 0, total_size = 0;
	for (uint64_t v = 0; v < n; v++) {
		uint32_t want;
		if (!base[v]) {
			want = PYHS_GRAPH_UNREACHABLE;
		} else if (ndom[v] == 0) {
			want = PYHS_GRAPH_ROOT;
		} else {
			/* The strict dominators form a chain: the nearest has
			 * one fewer dominator than v. */
			want = UINT32_MAX - 2;
			for (uint64_t d = 0; d < n; d++) {
				if (bits_get(&dom, d, v) && ndom[d] == ndom[v] - 1) {
					CU_ASSERT(want == UINT32_MAX - 2);
					want = (uint32_t)d;
				}
			}
		}
		if (base[v]) {
			reachable++;
			total_size += t->size[v];
		}
		EXPECT_EQ("idom of node %" PRIu64, idom[v], want, v);
	}
	CU_ASSERT(reachable > 0 || t->nroots == 0);

	uint64_t *retained = NULL, total = 0;
	err = pyhs_retained_sizes(g, idom, t->size, &retained, &total);
	CU_ASSERT_FATAL(err == NULL);
	EXPECT_EQ("total reachable size%s", total, total_size, "");
	for (uint64_t d = 0; d < n; d++) {
		uint64_t want = t->size[d];
		for (uint64_t v = 0; v < n; v++) {
			if (bits_get(&dom, d, v))
				want += t->size[v];
		}
		EXPECT_EQ("retained size of node %" PRIu64, retained[d], want, d);
	}
	free(retained);

	/* Without sizes: retained object counts. */
	err = pyhs_retained_sizes(g, idom, NULL, &retained, &total);
	CU_ASSERT_FATAL(err == NULL);
	EXPECT_EQ("reachable count%s", total, reachable, "");
	for (uint64_t d = 0; d < n; d++) {
		uint64_t want = 1;
		for (uint64_t v = 0; v < n; v++) {
			if (bits_get(&dom, d, v))
				want++;
		}
		EXPECT_EQ("retained count of node %" PRIu64, retained[d], want, d);
	}
	free(retained);

	free(dom.w);
	free(ndom);
	free(base);
	free(mark);
	free(queue);
	free(idom);
}

/* Checks components against mutual reachability, and their numbering. */
static void check_scc_brute(const struct pyhs_graph *g)
{
	uint64_t n = g->n;
	uint32_t *comp = NULL, ncomp = 0;
	struct pyhs_error *err = pyhs_scc(g, &comp, &ncomp);
	CU_ASSERT_FATAL(err == NULL);

	uint8_t *mark = xmalloc(n);
	uint32_t *queue = xmalloc(n * sizeof(uint32_t));
	struct bits reach;
	bits_init(&reach, n);
	for (uint64_t s = 0; s < n; s++) {
		uint32_t src = (uint32_t)s;
		reach_from(g, &src, 1, UINT32_MAX, mark, queue);
		for (uint64_t v = 0; v < n; v++) {
			if (mark[v])
				bits_set(&reach, s, v);
		}
	}
	uint8_t *used = calloc(ncomp + 1, 1);
	CU_ASSERT_FATAL(used != NULL);
	unsigned bad = 0;
	for (uint64_t u = 0; u < n; u++) {
		CU_ASSERT(comp[u] < ncomp);
		if (comp[u] < ncomp)
			used[comp[u]] = 1;
		for (uint64_t v = u + 1; v < n; v++) {
			bool same = bits_get(&reach, u, v) && bits_get(&reach, v, u);
			if (same != (comp[u] == comp[v]))
				bad++;
		}
		bool loop = false;
		for (uint64_t e = g->start[u]; e < g->start[u + 1]; e++) {
			if (is_strong(g, e) && g->dst[e] == u)
				loop = true;
			/* Successor components finish first. */
			if (is_strong(g, e))
				CU_ASSERT(comp[g->dst[e]] <= comp[u]);
		}
		CU_ASSERT(pyhs_graph_has_self_loop(g, (uint32_t)u) == loop);
	}
	EXPECT_EQ("pairs in the wrong components%s", bad, 0, "");
	for (uint32_t c = 0; c < ncomp; c++)
		CU_ASSERT(used[c]);
	free(used);
	free(reach.w);
	free(mark);
	free(queue);
	free(comp);
}

/* Checks shortest paths to every node (or every step-th) against a BFS. */
static void check_paths(const struct tgraph *t, uint64_t step)
{
	const struct pyhs_graph *g = &t->g;
	uint64_t n = g->n;
	uint64_t *dist = xmalloc(n * sizeof(uint64_t));
	uint32_t *queue = xmalloc(n * sizeof(uint32_t));
	uint8_t *isroot = calloc(n + 1, 1);
	CU_ASSERT_FATAL(isroot != NULL);
	for (uint64_t v = 0; v < n; v++)
		dist[v] = UINT64_MAX;
	uint64_t head = 0, tail = 0;
	for (uint64_t i = 0; i < t->nroots; i++) {
		isroot[t->roots[i]] = 1;
		if (dist[t->roots[i]] == UINT64_MAX) {
			dist[t->roots[i]] = 0;
			queue[tail++] = t->roots[i];
		}
	}
	while (head < tail) {
		uint32_t v = queue[head++];
		for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
			if (is_strong(g, e) && dist[g->dst[e]] == UINT64_MAX) {
				dist[g->dst[e]] = dist[v] + 1;
				queue[tail++] = g->dst[e];
			}
		}
	}
	for (uint64_t target = 0; target < n; target += step) {
		uint32_t root = UINT32_MAX;
		uint64_t *path = NULL, len = UINT64_MAX;
		struct pyhs_error *err = pyhs_shortest_path(
			g, t->roots, t->nroots, (uint32_t)target, &root, &path,
			&len);
		if (dist[target] == UINT64_MAX) {
			CU_ASSERT(err != NULL &&
				  err->code == PYHS_ERROR_NOT_FOUND);
			CU_ASSERT(root == UINT32_MAX && len == UINT64_MAX);
			pyhs_error_destroy(err);
			continue;
		}
		CU_ASSERT_FATAL(err == NULL);
		EXPECT_EQ("path length to %" PRIu64, len, dist[target], target);
		CU_ASSERT(root < n && isroot[root]);
		uint64_t x = root;
		for (uint64_t i = 0; i < len; i++) {
			uint64_t e = path[i];
			CU_ASSERT_FATAL(e >= g->start[x] && e < g->start[x + 1]);
			CU_ASSERT(is_strong(g, e));
			x = g->dst[e];
		}
		CU_ASSERT(x == target);
		CU_ASSERT((len == 0) == (path == NULL));
		free(path);
	}
	free(dist);
	free(queue);
	free(isroot);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_random(void)
{
	static const uint64_t sizes[] = { 1, 2, 7, 60, 500, 2000, 3000, 4000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		rng_state = 1000 + i;
		struct tgraph t;
		gen_random(&t, sizes[i]);
		check_dominators_brute(&t);
		check_paths(&t, 1);
		tg_free(&t);
	}
}

static void test_heaplike(void)
{
	static const uint64_t sizes[] = { 100, 1500, 3000, 4000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		rng_state = 2000 + i;
		struct tgraph t;
		gen_heaplike(&t, sizes[i]);
		check_dominators_brute(&t);
		check_paths(&t, 3);
		if (sizes[i] <= 1500)
			check_scc_brute(&t.g);
		tg_free(&t);
	}
}

/* Sparse graphs: long dominator chains, small cycles. */
static void test_sparse(void)
{
	static const unsigned density[] = { 0, 10, 25, 40 };
	for (size_t i = 0; i < sizeof(density) / sizeof(density[0]); i++) {
		rng_state = 2500 + i;
		struct tgraph t;
		gen_chainy(&t, 3000, density[i]);
		check_dominators_brute(&t);
		check_paths(&t, 5);
		tg_free(&t);
	}
}

/* The same graph with label NULL: weak edges become strong. */
static void test_no_labels(void)
{
	rng_state = 3000;
	struct tgraph t;
	gen_random(&t, 1500);
	t.g.label = NULL;
	check_dominators_brute(&t);
	check_scc_brute(&t.g);
	check_paths(&t, 7);
	tg_free(&t);
}

static void test_scc_random(void)
{
	for (unsigned i = 0; i < 40; i++) {
		rng_state = 4000 + i;
		struct tgraph t;
		uint64_t n = 1 + rnd_below(i < 20 ? 60 : 800);
		unsigned density = 30 + rnd_below(50);
		gen_sparse(&t, n, density);
		check_scc_brute(&t.g);
		if (i % 4 == 0)
			check_dominators_brute(&t);
		tg_free(&t);
	}
	rng_state = 4100;
	struct tgraph t;
	gen_random(&t, 1200);
	check_scc_brute(&t.g);
	tg_free(&t);
}

/* Small hand-made shapes. */
static void test_shapes(void)
{
	struct tgraph t;
	uint32_t *idom;
	/* A diamond under root 0, and 5 reached from two roots. */
	rng_state = 1;
	tg_init(&t, 7);
	tg_strong(&t, 0, 1);
	tg_strong(&t, 0, 2);
	tg_strong(&t, 1, 3);
	tg_strong(&t, 2, 3);
	tg_strong(&t, 3, 4);
	tg_strong(&t, 4, 5);
	tg_strong(&t, 6, 5);
	tg_weak(&t, 0, 6);
	tg_root(&t, 0);
	tg_root(&t, 6);
	tg_root(&t, 0);
	tg_finish(&t);
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, t.roots, t.nroots, &idom) == NULL);
	CU_ASSERT(idom[0] == PYHS_GRAPH_ROOT);
	CU_ASSERT(idom[1] == 0 && idom[2] == 0 && idom[3] == 0);
	CU_ASSERT(idom[4] == 3);
	CU_ASSERT(idom[5] == PYHS_GRAPH_ROOT);
	CU_ASSERT(idom[6] == PYHS_GRAPH_ROOT);
	free(idom);
	/* Only root 0: 6 is unreachable (the edge to it is weak). */
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, t.roots, 1, &idom) == NULL);
	CU_ASSERT(idom[5] == 4 && idom[6] == PYHS_GRAPH_UNREACHABLE);
	uint64_t *ret, total;
	CU_ASSERT_FATAL(pyhs_retained_sizes(&t.g, idom, t.size, &ret, &total) == NULL);
	CU_ASSERT(ret[6] == t.size[6]);
	CU_ASSERT(ret[4] == t.size[4] + t.size[5]);
	CU_ASSERT(total == ret[0]);
	free(ret);
	free(idom);
	check_dominators_brute(&t);
	tg_free(&t);

	/* No roots: everything unreachable, nothing retained beyond itself. */
	rng_state = 2;
	gen_random(&t, 50);
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, t.roots, 0, &idom) == NULL);
	for (int v = 0; v < 50; v++)
		CU_ASSERT(idom[v] == PYHS_GRAPH_UNREACHABLE);
	CU_ASSERT_FATAL(pyhs_retained_sizes(&t.g, idom, t.size, &ret, &total) == NULL);
	CU_ASSERT(total == 0);
	for (int v = 0; v < 50; v++)
		CU_ASSERT(ret[v] == t.size[v]);
	free(ret);
	free(idom);
	tg_free(&t);

	/* The empty graph. */
	tg_init(&t, 0);
	tg_finish(&t);
	uint32_t *comp, ncomp = 99;
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, NULL, 0, &idom) == NULL);
	free(idom);
	CU_ASSERT_FATAL(pyhs_scc(&t.g, &comp, &ncomp) == NULL);
	CU_ASSERT(ncomp == 0);
	free(comp);
	CU_ASSERT_FATAL(pyhs_retained_sizes(&t.g, NULL, NULL, &ret, &total) == NULL);
	CU_ASSERT(total == 0);
	free(ret);
	tg_free(&t);
}

static void expect_error(struct pyhs_error *err, enum pyhs_error_code code)
{
	CU_ASSERT(err != NULL && err->code == code);
	if (err && err->code != code)
		fprintf(stderr, "\n    unexpected error: %s\n", err->message);
	pyhs_error_destroy(err);
}

static void test_errors(void)
{
	struct tgraph t;
	rng_state = 5;
	tg_init(&t, 4);
	tg_strong(&t, 0, 1);
	tg_strong(&t, 1, 2);
	tg_strong(&t, 3, 9); /* bad, and only 3 reaches it */
	tg_root(&t, 0);
	tg_finish(&t);
	uint32_t *idom = NULL, *comp = NULL, ncomp = 0, root = 0;
	uint64_t *ret = NULL, *path = NULL, len = 0, total = 0;

	/* The bad edge is not looked at from root 0. */
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, t.roots, 1, &idom) == NULL);
	CU_ASSERT(idom[3] == PYHS_GRAPH_UNREACHABLE);
	free(idom);
	idom = NULL;
	uint32_t bad_roots[] = { 0, 3 };
	expect_error(pyhs_dominators(&t.g, bad_roots, 2, &idom),
		     PYHS_ERROR_INVALID);
	CU_ASSERT(idom == NULL);
	uint32_t past[] = { 4 };
	expect_error(pyhs_dominators(&t.g, past, 1, &idom), PYHS_ERROR_INVALID);
	expect_error(pyhs_scc(&t.g, &comp, &ncomp), PYHS_ERROR_INVALID);
	CU_ASSERT(comp == NULL);
	/* Root 3 gets its bad edge looked at before node 2 is found. */
	expect_error(pyhs_shortest_path(&t.g, bad_roots, 2, 2, &root, &path,
					&len), PYHS_ERROR_INVALID);
	expect_error(pyhs_shortest_path(&t.g, t.roots, 1, 4, &root, &path,
					&len), PYHS_ERROR_INVALID);
	expect_error(pyhs_shortest_path(&t.g, past, 1, 1, &root, &path,
					&len), PYHS_ERROR_INVALID);
	root = 12345;
	len = 999;
	expect_error(pyhs_shortest_path(&t.g, t.roots, 1, 3, &root, &path,
					&len), PYHS_ERROR_NOT_FOUND);
	CU_ASSERT(path == NULL && len == 999 && root == 12345);
	/* A root is its own path. */
	CU_ASSERT(pyhs_shortest_path(&t.g, t.roots, 1, 0, &root, &path,
				     &len) == NULL);
	CU_ASSERT(root == 0 && len == 0 && path == NULL);

	/* Dominator arrays that are not trees. */
	uint32_t cycle[] = { PYHS_GRAPH_ROOT, 2, 1, PYHS_GRAPH_UNREACHABLE };
	expect_error(pyhs_retained_sizes(&t.g, cycle, NULL, &ret, &total),
		     PYHS_ERROR_INVALID);
	uint32_t self[] = { 0, PYHS_GRAPH_ROOT, 1, 1 };
	expect_error(pyhs_retained_sizes(&t.g, self, NULL, &ret, &total),
		     PYHS_ERROR_INVALID);
	uint32_t past_idom[] = { PYHS_GRAPH_ROOT, 7, 1, 1 };
	expect_error(pyhs_retained_sizes(&t.g, past_idom, NULL, &ret, &total),
		     PYHS_ERROR_INVALID);
	CU_ASSERT(ret == NULL && total == 0);
	tg_free(&t);
}

/*
 * A chain of a million nodes in shuffled numbering, far deeper than any
 * recursion could go: chain[i] -> chain[i+1], every even step also
 * chain[i] -> chain[i+2], the tail back to the head (one big cycle) and to
 * node 1 of the chain, back edges every 1000 steps, and weak edges three
 * ahead that must change nothing.
 */
#define CHAIN 1000000

static void test_long_chain(void)
{
	rng_state = 77;
	struct tgraph t;
	tg_init(&t, CHAIN);
	uint32_t *chain = xmalloc(CHAIN * sizeof(uint32_t));
	for (uint32_t i = 0; i < CHAIN; i++)
		chain[i] = i;
	for (uint32_t i = CHAIN - 1; i > 0; i--) {
		uint32_t j = rnd_below(i + 1), x = chain[i];
		chain[i] = chain[j];
		chain[j] = x;
	}
	for (uint32_t i = 0; i + 1 < CHAIN; i++) {
		if (i % 3 == 0 && i + 3 < CHAIN)
			tg_weak(&t, chain[i], chain[i + 3]);
		tg_strong(&t, chain[i], chain[i + 1]);
		if (i % 2 == 0 && i + 2 < CHAIN)
			tg_strong(&t, chain[i], chain[i + 2]);
		if (i % 1000 == 999)
			tg_strong(&t, chain[i], chain[i - 500]);
	}
	tg_strong(&t, chain[CHAIN - 1], chain[0]);
	tg_strong(&t, chain[CHAIN - 1], chain[1]);
	tg_root(&t, chain[0]);
	tg_finish(&t);

	/* Dominators: i-1 for odd i, i-2 for even i (the skip edges). */
	uint32_t *idom;
	CU_ASSERT_FATAL(pyhs_dominators(&t.g, t.roots, t.nroots, &idom) == NULL);
	CU_ASSERT(idom[chain[0]] == PYHS_GRAPH_ROOT);
	CU_ASSERT(idom[chain[1]] == chain[0]);
	unsigned bad = 0;
	for (uint32_t i = 2; i < CHAIN; i++) {
		uint32_t want = i % 2 ? chain[i - 1] : chain[i - 2];
		if (idom[chain[i]] != want)
			bad++;
	}
	EXPECT_EQ("chain nodes with a wrong dominator%s", bad, 0, "");

	/* Retained: odd i keeps only itself; even i keeps the rest. */
	uint64_t *ret, total;
	CU_ASSERT_FATAL(pyhs_retained_sizes(&t.g, idom, t.size, &ret, &total) == NULL);
	uint64_t suffix = 0;
	bad = 0;
	for (uint32_t i = CHAIN; i-- > 0;) {
		suffix += t.size[chain[i]];
		uint64_t want = i % 2 ? t.size[chain[i]] : suffix;
		if (ret[chain[i]] != want)
			bad++;
	}
	EXPECT_EQ("chain nodes with a wrong retained size%s", bad, 0, "");
	CU_ASSERT(total == suffix);
	free(ret);
	free(idom);

	/* One component; a million of them without the closing edges. */
	uint32_t *comp, ncomp;
	CU_ASSERT_FATAL(pyhs_scc(&t.g, &comp, &ncomp) == NULL);
	CU_ASSERT(ncomp == 1);
	bad = 0;
	for (uint32_t v = 0; v < CHAIN; v++)
		if (comp[v] != 0)
			bad++;
	EXPECT_EQ("chain nodes outside the component%s", bad, 0, "");
	free(comp);

	uint32_t root;
	uint64_t *path, len;
	CU_ASSERT_FATAL(pyhs_shortest_path(&t.g, t.roots, t.nroots,
					   chain[CHAIN - 1], &root, &path,
					   &len) == NULL);
	CU_ASSERT(root == chain[0]);
	EXPECT_EQ("path length along the chain%s", len, CHAIN / 2, "");
	free(path);

	/* Drop the two closing edges and every back edge: a DAG. */
	struct tgraph d;
	tg_init(&d, CHAIN);
	for (uint32_t i = 0; i + 1 < CHAIN; i++)
		tg_strong(&d, chain[i], chain[i + 1]);
	tg_root(&d, chain[0]);
	tg_finish(&d);
	CU_ASSERT_FATAL(pyhs_scc(&d.g, &comp, &ncomp) == NULL);
	CU_ASSERT(ncomp == CHAIN);
	bad = 0;
	for (uint32_t i = 0; i + 1 < CHAIN; i++)
		if (comp[chain[i]] <= comp[chain[i + 1]])
			bad++;
	EXPECT_EQ("DAG chain nodes out of completion order%s", bad, 0, "");
	free(comp);
	CU_ASSERT_FATAL(pyhs_dominators(&d.g, d.roots, d.nroots, &idom) == NULL);
	bad = 0;
	for (uint32_t i = 1; i < CHAIN; i++)
		if (idom[chain[i]] != chain[i - 1])
			bad++;
	EXPECT_EQ("DAG chain nodes with a wrong dominator%s", bad, 0, "");
	free(idom);
	tg_free(&d);

	free(chain);
	tg_free(&t);
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = CU_add_suite("graph", NULL, NULL);
	if (!suite ||
	    !CU_add_test(suite, "hand-made shapes", test_shapes) ||
	    !CU_add_test(suite, "errors", test_errors) ||
	    !CU_add_test(suite, "dominators of random graphs = brute force",
			 test_random) ||
	    !CU_add_test(suite, "dominators of heap-like graphs = brute force",
			 test_heaplike) ||
	    !CU_add_test(suite, "dominators of sparse graphs = brute force",
			 test_sparse) ||
	    !CU_add_test(suite, "no labels: weak edges count", test_no_labels) ||
	    !CU_add_test(suite, "SCC = mutual reachability", test_scc_random) ||
	    !CU_add_test(suite, "a chain of a million nodes",
			 test_long_chain)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
