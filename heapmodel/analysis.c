/*
 * The "what keeps it alive" analyses on a heap: refcount reconciliation,
 * garbage as the cyclic collector sees it, the dominator tree and retained
 * sizes, shortest paths from the roots, and reference cycles.
 */
#include <inttypes.h>
#include <stdio.h>

#include "common/jobs.h"
#include "common/scratch.h"
#include "graph.h"
#include "heap_internal.h"

struct pyhs_analysis {
	const struct pyhs_heap *h;
	struct pyhs_graph g;
	/* refcnt minus references found (few are not 0): the heap's, when
	 * its walk counted them, else own_unexplained; and retained bytes,
	 * in 4 bytes */
	const struct pyhs_sparse_column *unexplained;
	struct pyhs_sparse_column own_unexplained;
	uint8_t *garbage;
	uint64_t ngarbage;
	uint32_t *idom;
	struct pyhs_u32_column retained;
	uint64_t reachable_bytes;
	/* The dominator tree's roots: named roots' objects, then objects held
	 * by C code that no named root reaches. */
	uint32_t *roots;
	uint64_t nroots;
	uint64_t nnamed;
	/* Predecessors, built for path queries: 4-byte edge numbers
	 * (pyhs_analysis_paths refuses heaps of 2^32-1 edges or more). */
	uint32_t *pred_start;
	uint32_t *pred_edge;
	/* Strongly connected components, when found with the rest
	 * (PYHS_ANALYSIS_CYCLES on more than one thread). */
	uint32_t *comp;
	uint32_t ncomp;
	bool want_comp;
	bool want_pred; /* PYHS_ANALYSIS_PATHS on more than one thread */
	bool keep_scratch; /* PYHS_ANALYSIS_TREE */
	/* Arrays of n entries one pass frees and the next takes, here and in
	 * what is built on the analysis (the dominator tree, holders, ...). */
	struct pyhs_scratch scratch;
};

struct pyhs_scratch *pyhs_analysis_scratch(const struct pyhs_analysis *a)
{
	return (struct pyhs_scratch *)&a->scratch; /* thread-safe */
}

static void *take_n(struct pyhs_analysis *a, size_t size)
{
	uint64_t n = a->h->addr.size;
	return pyhs_scratch_alloc(&a->scratch, (n ? n : 1) * size);
}

static void give_n(struct pyhs_analysis *a, void *p, size_t size)
{
	uint64_t n = a->h->addr.size;
	pyhs_scratch_free(&a->scratch, p, (n ? n : 1) * size);
}

/* A column of n entries, its 4 bytes from the pool, to be set. */
static bool column_take(struct pyhs_analysis *a, struct pyhs_u32_column *c)
{
	uint64_t n = a->h->addr.size;
	pyhs_u32_column_init(c);
	c->v.data = take_n(a, sizeof(*c->v.data));
	if (!c->v.data)
		return false;
	c->v.size = n;
	c->v.capacity = n ? n : 1;
	return true;
}

static bool is_weak(const struct pyhs_heap *h, uint64_t e)
{
	return PYHS_LABEL_KIND(h->edge_label.data[e]) == PYHS_LABEL_WEAK;
}

/* The strong references into each object, and the roots that own theirs,
 * added into found[] (of 4 or 8 bytes an entry). */
#define COUNT_REFERENCES(h, found) do {						\
	for (uint64_t e_ = 0; e_ < (h)->edge_dst.size; e_++)			\
		if (!is_weak((h), e_))						\
			(found)[(h)->edge_dst.data[e_]]++;			\
	for (uint64_t r_ = 0; r_ < (h)->roots.size; r_++)			\
		if ((h)->roots.data[r_].info.holds_ref)				\
			(found)[(h)->roots.data[r_].obj]++;			\
} while (0)

bool pyhs_unexplained_refs(const struct pyhs_heap *h, struct pyhs_u32_column *c)
{
	uint64_t n = h->addr.size;
	/* The references found, counted in the column's own 4 bytes, or in 8
	 * where every edge and root together may not fit in 4. */
	uint32_t *found = c->v.data;
	uint64_t *wide = NULL;
	if (h->edge_dst.size + h->roots.size >= UINT32_MAX) {
		if (!(wide = calloc(n ? n : 1, sizeof(*wide))))
			return false;
		COUNT_REFERENCES(h, wide);
	} else {
		memset(found, 0, n * sizeof(*found));
		COUNT_REFERENCES(h, found);
	}
	bool ok = true;
	for (uint64_t i = 0; ok && i < n; i++) {
		uint64_t rc = pyhs_heap_refcnt_any(h, i), f = wide ? wide[i] : found[i];
		ok = pyhs_u32_column_set(c, i, (h->flags.data[i] & PYHS_OBJ_IMMORTAL) || rc <= f ?
						       0 : rc - f);
	}
	free(wide);
	return ok;
}

/* refcnt minus references found, for every object: counted in a column
 * of the pool, which goes back to it for the dominators, and kept where
 * it is not 0. */
static struct pyhs_error *reconcile(struct pyhs_analysis *a)
{
	if (a->h->have_unexplained) {
		a->unexplained = &a->h->unexplained;
		return NULL;
	}
	struct pyhs_u32_column all;
	bool ok = column_take(a, &all) && pyhs_unexplained_refs(a->h, &all) &&
		  pyhs_sparse_column_from(&a->own_unexplained, &all, NULL, a->h->addr.size);
	give_n(a, all.v.data, sizeof(*all.v.data));
	all.v.data = NULL;
	pyhs_u32_column_deinit(&all);
	return ok ? NULL : &pyhs_enomem;
}

/* gc_refs (4 bytes) of an object that is not a candidate, and of one
 * whose count of 2^32 - 2 or more only every edge of a heap (there are at
 * most that many: max_edges) could bring to 0: it stays, as outside. */
#define GC_REFS_NONE UINT32_MAX
#define GC_REFS_MANY (UINT32_MAX - 1)

/* Garbage as gc.collect() would find it: among tracked objects (not the
 * permanent generation), subtract references between them from refcounts;
 * what is left referenced from outside, and everything it reaches, lives. */
static struct pyhs_error *find_garbage(struct pyhs_analysis *a)
{
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	uint32_t *gc_refs = take_n(a, sizeof(*gc_refs));
	uint8_t *garbage = pyhs_scratch_zalloc(&a->scratch, n ? n : 1);
	uint32_t *stack = take_n(a, sizeof(*stack));
	if (!gc_refs || !garbage || !stack) {
		give_n(a, gc_refs, sizeof(*gc_refs));
		free(garbage);
		give_n(a, stack, sizeof(*stack));
		return &pyhs_enomem;
	}
	for (uint64_t i = 0; i < n; i++) {
		bool tracked = h->gen.data[i] <= PYHS_GEN_2;
		bool immortal = h->flags.data[i] & PYHS_OBJ_IMMORTAL;
		uint64_t rc = pyhs_u32_column_at(&h->refcnt32, i) & INT64_MAX;
		gc_refs[i] = !tracked || immortal ? GC_REFS_NONE :
			     rc < GC_REFS_MANY ? (uint32_t)rc : GC_REFS_MANY;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (gc_refs[i] == GC_REFS_NONE)
			continue;
		for (uint64_t e = h->edge_start.data[i]; e < h->edge_start.data[i + 1]; e++) {
			uint32_t d = h->edge_dst.data[e];
			if (!is_weak(h, e) && gc_refs[d] - 1 < GC_REFS_MANY - 1)
				gc_refs[d]--; /* neither 0, many nor none */
		}
	}
	/* Candidates are tracked objects; the referenced-from-outside ones
	 * and untracked objects seed the live set. */
	uint64_t top = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (gc_refs[i] == GC_REFS_NONE)
			continue;
		garbage[i] = 1;
		if (gc_refs[i] > 0) {
			garbage[i] = 0;
			stack[top++] = (uint32_t)i;
		}
	}
	/* Untracked and permanent objects are never collected: whatever
	 * tracked object they reference is referenced from outside and was
	 * not subtracted, so its gc_refs is already positive. */
	while (top) {
		uint32_t v = stack[--top];
		for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++) {
			uint32_t d = h->edge_dst.data[e];
			if (!is_weak(h, e) && garbage[d]) {
				garbage[d] = 0;
				stack[top++] = d;
			}
		}
	}
	uint64_t ng = 0;
	for (uint64_t i = 0; i < n; i++)
		ng += garbage[i];
	give_n(a, gc_refs, sizeof(*gc_refs));
	give_n(a, stack, sizeof(*stack));
	a->garbage = garbage;
	a->ngarbage = ng;
	return NULL;
}

/* Retained bytes from the dominator tree, kept in 4 bytes. */
static struct pyhs_error *retained_sizes(struct pyhs_analysis *a)
{
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	uint64_t *r = pyhs_scratch_alloc(&a->scratch, (n ? n : 1) * sizeof(*r));
	if (!r)
		return &pyhs_enomem;
	for (uint64_t i = 0; i < n; i++)
		r[i] = pyhs_u32_column_at(&h->size32, i);
	struct pyhs_error *err = pyhs_retained_sizes_in_place(&a->g, &a->scratch, a->idom, r,
							      &a->reachable_bytes);
	if (err) {
		free(r);
		return err;
	}
	bool ok = column_take(a, &a->retained);
	for (uint64_t i = 0; ok && i < a->h->addr.size; i++)
		ok = pyhs_u32_column_set(&a->retained, i, r[i]);
	/* Freed, not kept: twice the size of what the passes built on the
	 * analysis ask for, it would add to their peak. */
	free(r);
	return ok ? NULL : &pyhs_enomem;
}

/* Named roots, then objects held only by unexplained references. */
static struct pyhs_error *collect_roots(struct pyhs_analysis *a)
{
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	uint8_t *seen = pyhs_scratch_zalloc(&a->scratch, n ? n : 1);
	uint32_t *stack = take_n(a, sizeof(*stack));
	uint32_t *roots = malloc((h->roots.size + n + 1) * sizeof(*roots));
	if (!seen || !stack || !roots) {
		give_n(a, seen, 1);
		give_n(a, stack, sizeof(*stack));
		free(roots);
		return &pyhs_enomem;
	}
	uint64_t nroots = 0, top = 0;
	for (uint64_t r = 0; r < h->roots.size; r++) {
		uint32_t o = h->roots.data[r].obj;
		roots[nroots++] = o;
		if (!seen[o]) {
			seen[o] = 1;
			stack[top++] = o;
		}
	}
	a->nnamed = nroots;
	/* Reach from the named roots, then take each unreached object with
	 * unexplained references as a root of its own, in object order. */
	for (uint64_t i = 0;; i++) {
		while (top) {
			uint32_t v = stack[--top];
			for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++) {
				uint32_t d = h->edge_dst.data[e];
				if (!is_weak(h, e) && !seen[d]) {
					seen[d] = 1;
					stack[top++] = d;
				}
			}
		}
		for (; i < n && (seen[i] || !pyhs_sparse_column_at(a->unexplained, i)); i++)
			;
		if (i >= n)
			break;
		roots[nroots++] = (uint32_t)i;
		seen[i] = 1;
		stack[top++] = (uint32_t)i;
	}
	give_n(a, seen, 1);
	give_n(a, stack, sizeof(*stack));
	a->roots = roots;
	a->nroots = nroots;
	return NULL;
}

struct pyhs_error *pyhs_analysis_create(const struct pyhs_heap *h,
					struct pyhs_analysis **ret)
{
	return pyhs_analysis_create_with(h, 0, ret);
}

/* What keeps objects alive: refcounts against references, the roots, the
 * dominator tree and retained sizes, one after the other. */
static struct pyhs_error *retention_chain(struct pyhs_analysis *a, bool progress)
{
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	if (progress)
		pyhs_heap_progress(h, "reconciling refcounts", 0, n);
	struct pyhs_error *err = reconcile(a);
	if (progress)
		pyhs_heap_progress(h, "finding roots", 0, n);
	if (!err)
		err = collect_roots(a);
	if (progress)
		pyhs_heap_progress(h, "dominator tree", 0, n);
	if (!err)
		err = pyhs_dominators_in(&a->g, &a->scratch, a->roots, a->nroots, &a->idom);
	if (progress)
		pyhs_heap_progress(h, "retained sizes", 0, n);
	/* The dominators' arrays, kept beside what the retained sizes
	 * take (16 bytes an object), would add to the peak: only as much
	 * stays as they take, unless the dominator tree comes next. */
	if (!a->keep_scratch)
		pyhs_scratch_trim_to(&a->scratch, (n ? n : 1) * 16);
	if (!err)
		err = retained_sizes(a);
	return err;
}

static struct pyhs_error *build_predecessors(struct pyhs_analysis *ac);

/* What the collector would free, the cycles and the references into each
 * object: nothing above needs them, nor they anything above. */
static struct pyhs_error *collector_chain(struct pyhs_analysis *a)
{
	struct pyhs_error *err = find_garbage(a);
	if (!err && a->want_comp)
		err = pyhs_scc_in(&a->g, &a->scratch, &a->comp, &a->ncomp);
	if (!err && a->want_pred)
		err = build_predecessors(a);
	return err;
}

static struct pyhs_error *analysis_job(void *ctx, size_t k)
{
	return k == 0 ? retention_chain(ctx, false) : collector_chain(ctx);
}

struct pyhs_error *pyhs_analysis_create_with(const struct pyhs_heap *h, unsigned flags,
					     struct pyhs_analysis **ret)
{
	struct pyhs_analysis *a = calloc(1, sizeof(*a));
	if (!a)
		return &pyhs_enomem;
	a->h = h;
	pyhs_scratch_init(&a->scratch);
	a->keep_scratch = flags & PYHS_ANALYSIS_TREE;
	pyhs_sparse_column_init(&a->own_unexplained);
	a->unexplained = &a->own_unexplained;
	pyhs_u32_column_init(&a->retained);
	a->g.n = h->addr.size;
	a->g.start = h->edge_start.data;
	a->g.dst = h->edge_dst.data;
	a->g.label = h->edge_label.data;
	uint64_t n = h->addr.size;
	struct pyhs_error *err;
	if (h->jobs > 1) {
		/* The two chains share nothing but the (read-only) graph; the
		 * cycles come with the garbage, on the second thread. */
		a->want_comp = flags & PYHS_ANALYSIS_CYCLES;
		a->want_pred = flags & PYHS_ANALYSIS_PATHS;
		pyhs_heap_progress(h, "dominator tree, garbage", 0, n);
		err = pyhs_jobs_run(h->jobs, 2, analysis_job, a, NULL);
	} else {
		pyhs_heap_progress(h, "finding garbage", 0, n);
		err = find_garbage(a);
		if (!err)
			err = retention_chain(a, true);
	}
	pyhs_heap_progress(h, NULL, 0, 0);
	/* What the passes left is given back, unless the dominator tree is
	 * to take it: kept, it would add to the peak of what comes next. */
	if (!(flags & PYHS_ANALYSIS_TREE))
		pyhs_scratch_trim(&a->scratch);
	if (err) {
		pyhs_analysis_destroy(a);
		return err;
	}
	*ret = a;
	return NULL;
}

void pyhs_analysis_destroy(struct pyhs_analysis *a)
{
	if (!a)
		return;
	pyhs_sparse_column_deinit(&a->own_unexplained);
	free(a->garbage);
	free(a->idom);
	pyhs_u32_column_deinit(&a->retained);
	free(a->roots);
	free(a->pred_start);
	free(a->pred_edge);
	free(a->comp);
	pyhs_scratch_deinit(&a->scratch);
	free(a);
}

uint32_t pyhs_analysis_idom(const struct pyhs_analysis *a, uint64_t i)
{
	uint32_t d = a->idom[i];
	if (d == PYHS_GRAPH_ROOT)
		return PYHS_DOM_ROOT;
	if (d == PYHS_GRAPH_UNREACHABLE)
		return PYHS_DOM_NONE;
	return d;
}
uint64_t pyhs_analysis_retained(const struct pyhs_analysis *a, uint64_t i)
{
	return pyhs_u32_column_get(&a->retained, i);
}
uint64_t pyhs_analysis_unexplained(const struct pyhs_analysis *a, uint64_t i)
{
	return pyhs_sparse_column_at(a->unexplained, i);
}
bool pyhs_analysis_is_garbage(const struct pyhs_analysis *a, uint64_t i) { return a->garbage[i]; }
uint64_t pyhs_analysis_ngarbage(const struct pyhs_analysis *a) { return a->ngarbage; }
uint64_t pyhs_analysis_reachable_bytes(const struct pyhs_analysis *a) { return a->reachable_bytes; }
uint64_t pyhs_analysis_nroots(const struct pyhs_analysis *a) { return a->nroots; }
uint32_t pyhs_analysis_root(const struct pyhs_analysis *a, uint64_t k) { return a->roots[k]; }

struct pyhs_error *pyhs_analysis_restore(const struct pyhs_heap *h,
					 struct pyhs_analysis_parts *parts,
					 struct pyhs_analysis **ret)
{
	uint64_t n = h->addr.size, nnamed = h->roots.size;
	for (uint64_t k = 0; k < parts->nc_roots; k++)
		if (parts->c_roots[k] >= n || (k && parts->c_roots[k] <= parts->c_roots[k - 1]))
			return pyhs_error_create(PYHS_ERROR_INPUT, "root %" PRIu64
						 " of the analysis is out of order", k);
	uint64_t ng = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t d = parts->idom[i];
		if (d != PYHS_DOM_ROOT && d != PYHS_DOM_NONE && (d >= n || d == i))
			return pyhs_error_create(PYHS_ERROR_INPUT, "object %" PRIu64
						 " has dominator %" PRIu32 ", not an object", i, d);
		if (parts->garbage[i] > 1)
			return pyhs_error_create(PYHS_ERROR_INPUT, "object %" PRIu64
						 " is marked garbage with %u", i, parts->garbage[i]);
		ng += parts->garbage[i];
	}
	struct pyhs_analysis *a = calloc(1, sizeof(*a));
	uint32_t *roots = malloc((nnamed + parts->nc_roots + 1) * sizeof(*roots));
	if (!a || !roots) {
		free(a);
		free(roots);
		return &pyhs_enomem;
	}
	a->h = h;
	pyhs_scratch_init(&a->scratch);
	a->g.n = n;
	a->g.start = h->edge_start.data;
	a->g.dst = h->edge_dst.data;
	a->g.label = h->edge_label.data;
	for (uint64_t r = 0; r < nnamed; r++)
		roots[r] = h->roots.data[r].obj;
	memcpy(roots + nnamed, parts->c_roots, parts->nc_roots * sizeof(*roots));
	/* The public values are the graph's (pyhs_analysis_idom). */
	_Static_assert(PYHS_DOM_ROOT == PYHS_GRAPH_ROOT &&
		       PYHS_DOM_NONE == PYHS_GRAPH_UNREACHABLE, "dominator values");
	pyhs_sparse_column_init(&a->own_unexplained);
	a->unexplained = &a->own_unexplained;
	pyhs_u32_column_init(&a->retained);
	a->idom = parts->idom;
	struct pyhs_error *err =
		pyhs_sparse_column_from(&a->own_unexplained, NULL, parts->unexplained, n) ? NULL : &pyhs_enomem;
	if (!err)
		err = retained_sizes(a);
	if (err) {
		pyhs_sparse_column_deinit(&a->own_unexplained);
		pyhs_u32_column_deinit(&a->retained);
		pyhs_scratch_deinit(&a->scratch);
		free(a);
		free(roots);
		if (err->code != PYHS_ERROR_INVALID)
			return err;
		pyhs_error_destroy(err);
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "the analysis's dominators are not a tree");
	}
	a->roots = roots;
	a->nroots = nnamed + parts->nc_roots;
	a->nnamed = nnamed;
	free(parts->unexplained);
	a->garbage = parts->garbage;
	a->ngarbage = ng;
	pyhs_scratch_trim(&a->scratch);
	free(parts->c_roots);
	memset(parts, 0, sizeof(*parts));
	*ret = a;
	return NULL;
}

/* ---- paths ---- */

static struct pyhs_error *build_predecessors(struct pyhs_analysis *ac)
{
	struct pyhs_analysis *a = ac;
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size, m = h->edge_dst.size;
	uint32_t *start = calloc(n + 1, sizeof(*start));
	uint32_t *pe = malloc((m ? m : 1) * sizeof(*pe));
	if (!start || !pe) {
		free(start);
		free(pe);
		return &pyhs_enomem;
	}
	for (uint64_t e = 0; e < m; e++)
		start[h->edge_dst.data[e] + 1]++;
	for (uint64_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	uint32_t *fill = take_n(a, sizeof(*fill));
	if (!fill) {
		free(start);
		free(pe);
		return &pyhs_enomem;
	}
	memcpy(fill, start, n * sizeof(*fill));
	for (uint64_t v = 0; v < n; v++)
		for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++)
			pe[fill[h->edge_dst.data[e]]++] = (uint32_t)e;
	give_n(a, fill, sizeof(*fill));
	a->pred_start = start;
	a->pred_edge = pe;
	return NULL;
}


void pyhs_paths_free(struct pyhs_path *paths, size_t n)
{
	if (!paths)
		return;
	for (size_t i = 0; i < n; i++)
		free(paths[i].edges);
	free(paths);
}

struct pyhs_error *pyhs_analysis_paths(const struct pyhs_analysis *ac,
				       uint32_t target, size_t max,
				       struct pyhs_path **ret, size_t *ret_n)
{
	struct pyhs_analysis *a = (struct pyhs_analysis *)ac; /* predecessor cache */
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	if (target >= n)
		return pyhs_error_create(PYHS_ERROR_INVALID, "no object %" PRIu32, target);
	if (!a->pred_start) {
		struct pyhs_error *err = build_predecessors(a);
		if (err)
			return err;
	}
	/* Which objects are roots, and the first root number of each. */
	/* 4-byte root and edge numbers: UINT32_MAX for none, and in via
	 * UINT32_MAX - 1 for the target. */
	if (h->edge_dst.size > UINT32_MAX - 1 || a->nroots >= UINT32_MAX)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "%zu references and %" PRIu64 " roots: paths "
					 "take at most 2^32-2 of each", h->edge_dst.size,
					 a->nroots);
	uint32_t *root_of = take_n(a, sizeof(*root_of));
	uint32_t *via = take_n(a, sizeof(*via)); /* edge toward target */
	uint32_t *queue = take_n(a, sizeof(*queue));
	/* Gather more candidates than asked for, then prefer roots that own
	 * their reference (a module global over a frame's borrowed globals). */
	size_t want = max;
	max = max < 64 ? 64 : max;
	struct pyhs_path *paths = calloc(max, sizeof(*paths));
	if (!root_of || !via || !queue || !paths) {
		give_n(a, root_of, sizeof(*root_of));
		give_n(a, via, sizeof(*via));
		give_n(a, queue, sizeof(*queue));
		free(paths);
		return &pyhs_enomem;
	}
	memset(root_of, 0xff, n * sizeof(*root_of));
	for (uint64_t r = a->nroots; r-- > 0;)
		root_of[a->roots[r]] = (uint32_t)r;
	memset(via, 0xff, n * sizeof(*via));
	/* Breadth-first from the target over predecessors: each root met is
	 * at its shortest distance; follow `via` back down to the target. */
	uint64_t head = 0, tail = 0;
	queue[tail++] = target;
	via[target] = UINT32_MAX - 1;
	size_t np = 0;
	struct pyhs_error *err = NULL;
	while (head < tail && np < max) {
		uint32_t v = queue[head++];
		if (root_of[v] != UINT32_MAX) {
			struct pyhs_path *p = &paths[np];
			uint64_t r = root_of[v];
			p->c_held = r >= a->nnamed;
			p->root = p->c_held ? 0 : r;
			p->start = v;
			uint64_t len = 0;
			for (uint32_t u = v; u != target;
			     u = h->edge_dst.data[via[u]])
				len++;
			p->edges = malloc((len ? len : 1) * sizeof(*p->edges));
			if (!p->edges) {
				err = &pyhs_enomem;
				break;
			}
			p->nedges = len;
			len = 0;
			for (uint32_t u = v; u != target; u = h->edge_dst.data[via[u]])
				p->edges[len++] = via[u];
			np++;
		}
		for (uint64_t k = a->pred_start[v]; k < a->pred_start[v + 1]; k++) {
			uint32_t e = a->pred_edge[k];
			if (is_weak(h, e))
				continue;
			uint32_t u = pyhs_heap_edge_source(h, e);
			if (via[u] == UINT32_MAX) {
				via[u] = e;
				queue[tail++] = u;
			}
		}
	}
	give_n(a, root_of, sizeof(*root_of));
	give_n(a, via, sizeof(*via));
	give_n(a, queue, sizeof(*queue));
	pyhs_scratch_trim(&a->scratch);
	if (err) {
		pyhs_paths_free(paths, np);
		return err;
	}
	if (!np) {
		free(paths);
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					 "no root reaches object 0x%" PRIx64,
					 h->addr.data[target]);
	}
	/* Stable order (pyhs_root_rank): the interpreter's own roots
	 * (sys.modules, sys, builtins), then what thread frames own, then
	 * borrowed roots, then what C code holds. */
	struct pyhs_path *sorted = malloc(np * sizeof(*sorted));
	if (!sorted) {
		pyhs_paths_free(paths, np);
		return &pyhs_enomem;
	}
	size_t k = 0;
	for (int rank = 0; rank < PYHS_ROOT_RANKS; rank++) {
		for (size_t i = 0; i < np; i++) {
			const struct pyhs_path *p = &paths[i];
			int pr = p->c_held ? PYHS_ROOT_RANK_C : pyhs_root_rank(h, p->root);
			if (pr == rank)
				sorted[k++] = *p;
		}
	}
	for (size_t i = want; i < np; i++)
		free(sorted[i].edges);
	free(paths);
	*ret = sorted;
	*ret_n = np < want ? np : want;
	return NULL;
}

/* ---- cycles ---- */

void pyhs_cycles_free(struct pyhs_cycles *c)
{
	if (!c)
		return;
	free(c->start);
	free(c->objects);
	free(c->bytes);
	free(c->ncycle);
	free(c);
}

struct cycle_sort {
	uint32_t comp;
	uint64_t bytes;
};

static int by_bytes_desc(const void *x, const void *y)
{
	const struct cycle_sort *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return a->comp < b->comp ? -1 : a->comp > b->comp;
}

/* Whether a strong reference leads from an object that is not garbage to
 * one that is (never, when refcounts are true: the collector's search
 * spreads life along every reference). */
static bool reaches_garbage(const struct pyhs_analysis *a)
{
	const struct pyhs_heap *h = a->h;
	if (!a->ngarbage)
		return false;
	for (uint64_t i = 0; i < h->addr.size; i++) {
		if (a->garbage[i])
			continue;
		for (uint64_t e = h->edge_start.data[i]; e < h->edge_start.data[i + 1]; e++)
			if (a->garbage[h->edge_dst.data[e]] && !is_weak(h, e))
				return true;
	}
	return false;
}

struct pyhs_error *pyhs_analysis_cycles(const struct pyhs_analysis *a,
					bool garbage_only,
					struct pyhs_cycles **ret)
{
	const struct pyhs_heap *h = a->h;
	uint64_t n = h->addr.size;
	if (garbage_only && !a->ngarbage) {
		/* No garbage, no cycles of it: the empty list. */
		struct pyhs_cycles *c = calloc(1, sizeof(*c));
		if (c) {
			c->start = calloc(1, sizeof(*c->start));
			c->objects = malloc(sizeof(*c->objects));
			c->bytes = malloc(sizeof(*c->bytes));
		}
		if (!c || !c->start || !c->objects || !c->bytes) {
			pyhs_cycles_free(c);
			return &pyhs_enomem;
		}
		*ret = c;
		return NULL;
	}
	struct pyhs_scratch *s = pyhs_analysis_scratch(a);
	uint32_t *comp, ncomp;
	if (a->comp) {
		comp = a->comp;
		ncomp = a->ncomp;
	} else {
		/* The garbage's own components, found among the garbage alone,
		 * are those of the whole graph when nothing else reaches into
		 * it (in the order they are completed, too: what a search from
		 * the garbage meets outside it leads back to none of it). */
		bool among = garbage_only && !reaches_garbage(a);
		struct pyhs_error *err = among ? pyhs_scc_among_in(&a->g, s, a->garbage, &comp,
								   &ncomp) :
						 pyhs_scc_in(&a->g, s, &comp, &ncomp);
		if (err)
			return err;
	}
	/* Per component 5 bytes (its object count, then 1 + its cycle's
	 * number or 0; whether all of it is garbage), per cycle the rest:
	 * most components are one object, nearly as many as the objects. */
	size_t comp_size = (n ? n : 1) * sizeof(*comp);
	size_t count_size = ((uint64_t)ncomp + 1) * sizeof(uint32_t);
	uint32_t *count = pyhs_scratch_zalloc(s, count_size);
	uint8_t *all_garbage = pyhs_scratch_alloc(s, (uint64_t)ncomp + 1);
	struct pyhs_cycles *c = calloc(1, sizeof(*c));
	struct cycle_sort *order = NULL;
	uint64_t *next = NULL;
	if (!count || !all_garbage || !c)
		goto oom;
	memset(all_garbage, 1, (uint64_t)ncomp + 1);
	/* (UINT32_MAX: outside the components searched) */
	for (uint64_t i = 0; i < n; i++) {
		if (comp[i] == UINT32_MAX)
			continue;
		count[comp[i]]++;
		if (!a->garbage[i])
			all_garbage[comp[i]] = 0;
	}
	/* A one-object component is a cycle only with a self-loop. */
	for (uint64_t i = 0; i < n; i++)
		if (comp[i] != UINT32_MAX && count[comp[i]] == 1 &&
		    !pyhs_graph_has_self_loop(&a->g, (uint32_t)i))
			count[comp[i]] = 0;
	uint64_t ncycles = 0, nobjects = 0;
	for (uint32_t k = 0; k < ncomp; k++) {
		if (!count[k] || (garbage_only && !all_garbage[k]))
			continue;
		ncycles++;
		nobjects += count[k];
	}
	order = malloc((ncycles ? ncycles : 1) * sizeof(*order));
	next = malloc((ncycles ? ncycles : 1) * sizeof(*next));
	c->start = calloc(ncycles + 1, sizeof(*c->start));
	c->objects = malloc((nobjects ? nobjects : 1) * sizeof(*c->objects));
	c->bytes = malloc((ncycles ? ncycles : 1) * sizeof(*c->bytes));
	if (!order || !next || !c->start || !c->objects || !c->bytes)
		goto oom;
	/* Cycles numbered in component order, each one's object count in
	 * next[] for now. */
	uint64_t j = 0;
	for (uint32_t k = 0; k < ncomp; k++) {
		uint32_t m = count[k];
		count[k] = 0;
		if (!m || (garbage_only && !all_garbage[k]))
			continue;
		order[j].comp = (uint32_t)j;
		order[j].bytes = 0;
		next[j] = m;
		count[k] = (uint32_t)++j;
	}
	pyhs_scratch_free(s, all_garbage, (uint64_t)ncomp + 1);
	all_garbage = NULL;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t q = comp[i] == UINT32_MAX ? 0 : count[comp[i]];
		if (q)
			order[q - 1].bytes += pyhs_u32_column_at(&h->size32, i);
	}
	/* Cycle numbers follow component numbers: the order is that of
	 * components too. */
	qsort(order, ncycles, sizeof(*order), by_bytes_desc);
	/* next[q] - 1 becomes where cycle q's next object goes. */
	uint64_t pos = 0;
	for (uint64_t q = 0; q < ncycles; q++) {
		uint32_t k = order[q].comp;
		c->start[q] = pos;
		c->bytes[q] = order[q].bytes;
		uint64_t m = next[k];
		next[k] = pos + 1;
		pos += m;
	}
	c->start[ncycles] = pos;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t q = comp[i] == UINT32_MAX ? 0 : count[comp[i]];
		if (q)
			c->objects[next[q - 1]++ - 1] = (uint32_t)i;
	}
	free(next);
	c->n = ncycles;
	free(order);
	pyhs_scratch_free(s, count, count_size);
	if (comp != a->comp)
		pyhs_scratch_free(s, comp, comp_size);
	pyhs_scratch_trim(s);
	*ret = c;
	return NULL;
oom:
	free(order);
	free(next);
	pyhs_scratch_free(s, count, count_size);
	pyhs_scratch_free(s, all_garbage, (uint64_t)ncomp + 1);
	if (comp != a->comp)
		pyhs_scratch_free(s, comp, comp_size);
	pyhs_scratch_trim(s);
	pyhs_cycles_free(c);
	return &pyhs_enomem;
}

const struct pyhs_heap *pyhs_analysis_heap(const struct pyhs_analysis *a)
{
	return a->h;
}

const uint32_t *pyhs_analysis_idoms(const struct pyhs_analysis *a)
{
	_Static_assert(PYHS_DOM_ROOT == PYHS_GRAPH_ROOT &&
		       PYHS_DOM_NONE == PYHS_GRAPH_UNREACHABLE, "dominator values");
	return a->idom;
}

const struct pyhs_u32_column *pyhs_analysis_retained_column(const struct pyhs_analysis *a)
{
	return &a->retained;
}
