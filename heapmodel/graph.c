/*
 * Dominators, retained sizes, strongly connected components and shortest
 * paths on CSR graphs, without recursion: every depth-first search keeps its
 * path in an array (parent links, or a stack of n entries) and its place in
 * each node's edge list in a cursor array, and the path compression of the
 * dominator computation reverses the pointers it climbs instead of keeping a
 * stack.
 */
#include "graph.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/prefetch.h"
#include "common/scratch.h"
#include "heapmodel.h"

_Static_assert(sizeof(size_t) >= sizeof(uint64_t),
	       "node and edge counts are sized with size_t");

#define NONE UINT32_MAX

static inline bool strong_edge(const struct pyhs_graph *g, uint64_t e)
{
	return !g->label || PYHS_LABEL_KIND(g->label[e]) != PYHS_LABEL_WEAK;
}

static void *alloc_u32(uint64_t count)
{
	return malloc((size_t)(count ? count : 1) * sizeof(uint32_t));
}

/* count 4-byte entries from the pool, and back to it. */
static void *take_u32(struct pyhs_scratch *s, uint64_t count)
{
	return pyhs_scratch_alloc(s, (size_t)(count ? count : 1) * sizeof(uint32_t));
}

static void give_u32(struct pyhs_scratch *s, void *p, uint64_t count)
{
	pyhs_scratch_free(s, p, (size_t)(count ? count : 1) * sizeof(uint32_t));
}

static struct pyhs_error *check_nodes(const struct pyhs_graph *g)
{
	if (g->n > PYHS_GRAPH_MAX_NODES)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "graph of %" PRIu64 " nodes: at most %"
					 PRIu64 " are supported", g->n,
					 PYHS_GRAPH_MAX_NODES);
	return NULL;
}

static struct pyhs_error *check_roots(const struct pyhs_graph *g,
				      const uint32_t *roots, uint64_t nroots)
{
	for (uint64_t i = 0; i < nroots; i++) {
		if (roots[i] >= g->n)
			return pyhs_error_create(PYHS_ERROR_INVALID,
						 "root %" PRIu64 " is node %"
						 PRIu32 ", past the %" PRIu64
						 " nodes", i, roots[i], g->n);
	}
	return NULL;
}

static struct pyhs_error *bad_edge(const struct pyhs_graph *g, uint64_t e)
{
	return pyhs_error_create(PYHS_ERROR_INVALID,
				 "edge %" PRIu64 " points at node %" PRIu32
				 ", past the %" PRIu64 " nodes", e, g->dst[e],
				 g->n);
}

static struct pyhs_error *bad_degree(uint32_t v, uint64_t degree)
{
	return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
				 "node %" PRIu32 " has %" PRIu64
				 " edges: at most 2^32-1 are supported",
				 v, degree);
}

/*
 * A depth-first search entering a node: ask for the per-node state and the
 * edge offsets of all its targets at once, rather than one cache miss after
 * another as it descends (a large win when numbering has no locality).
 */
static inline void prefetch_targets(const struct pyhs_graph *g, uint64_t b,
				    uint64_t end, const uint32_t *state)
{
	for (uint64_t e = b; e < end; e++) {
		uint32_t w = g->dst[e];
		if (w < g->n) {
			pyhs_prefetch(&state[w]);
			pyhs_prefetch(&g->start[w]);
		}
	}
}

/* Sequential scans of the edges that update per-target state: ask for the
 * state of the target some edges ahead. */
#define PREFETCH_AHEAD 24

static inline void prefetch_at(const uint32_t *state, uint32_t w, uint64_t n)
{
	if (w < n)
		pyhs_prefetch(&state[w]);
}

/* ---- dominators ---------------------------------------------------------- */

/*
 * Semi-NCA (Georgiadis' variant of Lengauer-Tarjan), on preorder numbers:
 * number 0 is the synthetic root, whose edges go to the roots.
 *
 * 1. Depth-first search: node2pre (which becomes the result array),
 *    pre2node, parent, and a cursor into each node's edges.
 * 2. Predecessor lists in CSR form, on preorder numbers, filled from a
 *    sequential scan of the edges of the reachable nodes.
 * 3. Semidominators in reverse preorder, with Lengauer-Tarjan's EVAL over a
 *    forest whose ancestor links start as the DFS parents (a number above
 *    the one being processed is linked) and are compressed.
 * 4. idom(w) = the nearest ancestor of parent(w) in the dominator tree built
 *    so far whose number is at most semi(w), in preorder.
 */

/*
 * EVAL(v) once every number >= last is linked: the node of smallest
 * semidominator on the forest path from v up to, not including, its forest
 * root; compresses that path. Climbs with pointer reversal (each ancestor
 * link is turned to point back down while climbing, then set to the
 * forest root on the way down), so it needs no stack however long the path.
 */
static inline uint32_t dom_eval(uint32_t *anc, uint32_t *label,
				const uint32_t *semi, uint32_t v,
				uint32_t last)
{
	if (anc[v] < last)
		return label[v];
	uint32_t below = NONE, x = v;
	do {
		uint32_t up = anc[x];
		anc[x] = below;
		below = x;
		x = up;
	} while (anc[x] >= last);
	/* x: the highest linked node on the path, whose ancestor is the
	 * forest root; below: the node under it. */
	uint32_t top = anc[x];
	uint32_t best = label[x];
	uint32_t y;
	do {
		y = below;
		below = anc[y];
		anc[y] = top;
		if (semi[best] < semi[label[y]])
			label[y] = best;
		else
			best = label[y];
	} while (below != NONE);
	return label[y];
}

struct pyhs_error *pyhs_dominators(const struct pyhs_graph *g,
				   const uint32_t *roots, uint64_t nroots,
				   uint32_t **ret_idom)
{
	return pyhs_dominators_in(g, NULL, roots, nroots, ret_idom);
}

struct pyhs_error *pyhs_dominators_in(const struct pyhs_graph *g, struct pyhs_scratch *s,
				      const uint32_t *roots, uint64_t nroots,
				      uint32_t **ret_idom)
{
	struct pyhs_error *err = check_nodes(g);
	if (!err)
		err = check_roots(g, roots, nroots);
	if (err)
		return err;

	const uint64_t n = g->n;
	uint32_t *node2pre = take_u32(s, n);   /* becomes the result */
	uint32_t *pre2node = take_u32(s, n + 1);
	uint32_t *parent = take_u32(s, n + 1); /* becomes idom, by number */
	uint32_t *aux = take_u32(s, n + 1);    /* DFS cursor, then label */
	uint32_t *rstart = NULL, *preds = NULL, *semi = NULL, *anc = NULL;
	uint32_t count = 1;
	uint64_t npreds = nroots;
	if (!node2pre || !pre2node || !parent || !aux) {
		err = &pyhs_enomem;
		goto out;
	}
	memset(node2pre, 0xff, (size_t)n * sizeof(uint32_t));

	/* 1. Depth-first search from the synthetic root, number 0. */
	uint32_t *cursor = aux;
	pre2node[0] = NONE;
	parent[0] = 0;
	for (uint64_t i = 0; i < nroots; i++) {
		uint32_t r = roots[i];
		if (node2pre[r] != NONE)
			continue;
		node2pre[r] = count;
		pre2node[count] = r;
		parent[count] = 0;
		cursor[count] = 0;
		uint32_t x = count++;
		while (x != 0) {
			uint32_t v = pre2node[x];
			uint64_t b = g->start[v], end = g->start[v + 1];
			if (end - b > UINT32_MAX) {
				err = bad_degree(v, end - b);
				goto out;
			}
			uint64_t e = b + cursor[x];
			if (e == b)
				prefetch_targets(g, e, end, node2pre);
			for (; e < end; e++) {
				if (!strong_edge(g, e))
					continue;
				uint32_t w = g->dst[e];
				if (w >= n) {
					err = bad_edge(g, e);
					goto out;
				}
				if (node2pre[w] == NONE)
					break;
			}
			if (e == end) {
				x = parent[x];
				continue;
			}
			cursor[x] = (uint32_t)(e + 1 - b);
			uint32_t w = g->dst[e];
			node2pre[w] = count;
			pre2node[count] = w;
			parent[count] = x;
			cursor[count] = 0;
			x = count++;
		}
	}

	/* 2. Predecessors by number, built from a sequential scan of the
	 * edges (the cursors are free now: they count each node's
	 * predecessors, then keep where its list is being filled). */
	uint32_t *npred = aux;
	memset(npred, 0, (size_t)n * sizeof(uint32_t));
	for (uint64_t i = 0; i < nroots; i++)
		npred[roots[i]]++;
	const uint64_t m = g->start[n];
	for (uint64_t v = 0; v < n; v++) {
		if (node2pre[v] == NONE)
			continue;
		for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
			if (e + PREFETCH_AHEAD < m)
				prefetch_at(npred, g->dst[e + PREFETCH_AHEAD], n);
			if (strong_edge(g, e)) {
				npred[g->dst[e]]++;
				npreds++;
			}
		}
	}
	if (npreds > UINT32_MAX) {
		err = pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					"%" PRIu64 " reachable edges: at most "
					"2^32-1 are supported", npreds);
		goto out;
	}
	rstart = take_u32(s, (uint64_t)count + 1);
	preds = take_u32(s, npreds);
	if (!rstart || !preds) {
		err = &pyhs_enomem;
		goto out;
	}
	rstart[0] = 0;
	for (uint32_t p = 1; p < count; p++)
		rstart[p] = npred[pre2node[p]];
	uint32_t sum = 0;
	for (uint32_t p = 0; p < count; p++) {
		uint32_t c = rstart[p];
		rstart[p] = sum;
		sum += c;
	}
	rstart[count] = sum;
	uint32_t *fill = aux;
	for (uint32_t p = 1; p < count; p++)
		fill[pre2node[p]] = rstart[p];
	for (uint64_t i = 0; i < nroots; i++)
		preds[fill[roots[i]]++] = 0;
	for (uint64_t v = 0; v < n; v++) {
		uint32_t p = node2pre[v];
		if (p == NONE)
			continue;
		for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
			if (e + PREFETCH_AHEAD < m)
				prefetch_at(fill, g->dst[e + PREFETCH_AHEAD], n);
			if (strong_edge(g, e))
				preds[fill[g->dst[e]]++] = p;
		}
	}
	give_u32(s, pre2node, n + 1);
	pre2node = NULL;

	/* 3. Semidominators. */
	semi = take_u32(s, count);
	anc = take_u32(s, count);
	if (!semi || !anc) {
		err = &pyhs_enomem;
		goto out;
	}
	memcpy(anc, parent, (size_t)count * sizeof(uint32_t));
	uint32_t *label = aux;
	semi[0] = 0;
	label[0] = 0;
	for (uint32_t w = count - 1; w >= 1; w--) {
		uint32_t s = parent[w];
		for (uint32_t k = rstart[w]; k < rstart[w + 1]; k++) {
			uint32_t v = preds[k];
			uint32_t c = v <= w ? v :
				semi[dom_eval(anc, label, semi, v, w + 1)];
			if (c < s)
				s = c;
		}
		semi[w] = s;
		label[w] = w;
	}
	give_u32(s, anc, count);
	anc = NULL;
	give_u32(s, preds, npreds);
	preds = NULL;
	give_u32(s, rstart, (uint64_t)count + 1);
	rstart = NULL;

	/* 4. Immediate dominators, in preorder. */
	uint32_t *idom = parent;
	for (uint32_t w = 1; w < count; w++) {
		uint32_t d = idom[w];
		while (d > semi[w])
			d = idom[d];
		idom[w] = d;
	}
	give_u32(s, semi, count);
	semi = NULL;

	/* Back to node numbers, in place in node2pre. */
	pre2node = aux;
	aux = NULL;
	for (uint64_t v = 0; v < n; v++) {
		if (node2pre[v] != NONE)
			pre2node[node2pre[v]] = (uint32_t)v;
	}
	for (uint64_t v = 0; v < n; v++) {
		uint32_t p = node2pre[v];
		if (p == NONE)
			continue; /* == PYHS_GRAPH_UNREACHABLE */
		uint32_t d = idom[p];
		node2pre[v] = d == 0 ? PYHS_GRAPH_ROOT : pre2node[d];
	}
	*ret_idom = node2pre;
	node2pre = NULL;

out:
	give_u32(s, node2pre, n);
	give_u32(s, pre2node, n + 1);
	give_u32(s, parent, n + 1);
	give_u32(s, aux, n + 1);
	give_u32(s, rstart, (uint64_t)count + 1);
	give_u32(s, preds, npreds);
	give_u32(s, semi, count);
	give_u32(s, anc, count);
	return err;
}

/* ---- retained sizes ------------------------------------------------------ */

struct pyhs_error *pyhs_retained_sizes(const struct pyhs_graph *g,
				       const uint32_t *idom,
				       const uint64_t *size,
				       uint64_t **ret_retained,
				       uint64_t *ret_total)
{
	return pyhs_retained_sizes_in(g, NULL, idom, size, ret_retained, ret_total);
}

struct pyhs_error *pyhs_retained_sizes_in(const struct pyhs_graph *g,
					  struct pyhs_scratch *s,
					  const uint32_t *idom,
					  const uint64_t *size,
					  uint64_t **ret_retained,
					  uint64_t *ret_total)
{
	struct pyhs_error *err = check_nodes(g);
	if (err)
		return err;
	const uint64_t n = g->n;
	uint64_t *retained = pyhs_scratch_alloc(s, (size_t)(n ? n : 1) * sizeof(uint64_t));
	if (!retained)
		return &pyhs_enomem;
	for (uint64_t v = 0; v < n; v++)
		retained[v] = size ? size[v] : 1;
	err = pyhs_retained_sizes_in_place(g, s, idom, retained, ret_total);
	if (err) {
		pyhs_scratch_free(s, retained, (size_t)(n ? n : 1) * sizeof(uint64_t));
		return err;
	}
	*ret_retained = retained;
	return NULL;
}

struct pyhs_error *pyhs_retained_sizes_in_place(const struct pyhs_graph *g,
						struct pyhs_scratch *s,
						const uint32_t *idom,
						uint64_t *retained,
						uint64_t *ret_total)
{
	struct pyhs_error *err = check_nodes(g);
	if (err)
		return err;
	const uint64_t n = g->n;
	/* Children in the dominator tree not yet added in; DONE once the node
	 * has been added to its own dominator. */
	uint32_t *pending = pyhs_scratch_zalloc(s, (size_t)(n ? n : 1) * sizeof(uint32_t));
	const uint32_t DONE = UINT32_MAX;
	if (!pending)
		return &pyhs_enomem;
	for (uint64_t v = 0; v < n; v++) {
		uint32_t d = idom[v];
		if (d < n)
			pending[d]++;
		else if (d != PYHS_GRAPH_ROOT && d != PYHS_GRAPH_UNREACHABLE) {
			err = pyhs_error_create(PYHS_ERROR_INVALID,
						"node %" PRIu64 " has dominator %"
						PRIu32 ", past the %" PRIu64
						" nodes", v, d, n);
			goto out;
		}
	}
	/* Leaves up: a node whose children are all in adds itself to its
	 * dominator, which may then be complete in turn. */
	uint64_t total = 0, finished = 0;
	for (uint64_t v = 0; v < n; v++) {
		uint32_t x = (uint32_t)v;
		while (pending[x] == 0) {
			pending[x] = DONE;
			finished++;
			uint32_t d = idom[x];
			if (d >= n) {
				if (d == PYHS_GRAPH_ROOT)
					total += retained[x];
				break;
			}
			retained[d] += retained[x];
			if (--pending[d] != 0)
				break;
			x = d;
		}
	}
	if (finished != n) {
		err = pyhs_error_create(PYHS_ERROR_INVALID,
					"the dominators of %" PRIu64
					" nodes form a cycle", n - finished);
		goto out;
	}
	if (ret_total)
		*ret_total = total;
out:
	give_u32(s, pending, n);
	return err;
}

/* ---- strongly connected components --------------------------------------- */

/*
 * Pearce, "A space-efficient algorithm for finding strongly connected
 * components" (IPL 116, 2016), PEA_FIND_SCC2 made iterative. rindex (the
 * result array) holds 0 for unvisited nodes, the visit index lowered to the
 * smallest reachable one for nodes in progress, and c = n-1, n-2, ... for
 * nodes of finished components, which are always above any index in use.
 * The DFS stack and the stack of finished, unassigned nodes share one array
 * of n entries from its two ends: a node is on at most one of them.
 */
struct pyhs_error *pyhs_scc(const struct pyhs_graph *g, uint32_t **ret_comp,
			    uint32_t *ret_ncomp)
{
	return pyhs_scc_among_in(g, NULL, NULL, ret_comp, ret_ncomp);
}

struct pyhs_error *pyhs_scc_in(const struct pyhs_graph *g, struct pyhs_scratch *s,
			       uint32_t **ret_comp, uint32_t *ret_ncomp)
{
	return pyhs_scc_among_in(g, s, NULL, ret_comp, ret_ncomp);
}

struct pyhs_error *pyhs_scc_among(const struct pyhs_graph *g, const uint8_t *among,
				  uint32_t **ret_comp, uint32_t *ret_ncomp)
{
	return pyhs_scc_among_in(g, NULL, among, ret_comp, ret_ncomp);
}

struct pyhs_error *pyhs_scc_among_in(const struct pyhs_graph *g, struct pyhs_scratch *sp,
				     const uint8_t *among, uint32_t **ret_comp,
				     uint32_t *ret_ncomp)
{
	struct pyhs_error *err = check_nodes(g);
	if (err)
		return err;
	const uint64_t n = g->n;
	uint32_t *rindex = pyhs_scratch_zalloc(sp, (size_t)(n ? n : 1) * sizeof(uint32_t));
	uint32_t *stack = take_u32(sp, n);
	uint32_t *cursor = take_u32(sp, n);
	uint64_t *isroot = calloc((size_t)(n / 64 + 1), sizeof(uint64_t));
	if (!rindex || !stack || !cursor || !isroot) {
		err = &pyhs_enomem;
		goto out;
	}
	uint32_t index = 1, c = (uint32_t)(n - 1), ncomp = 0;
	uint64_t vtop = n;  /* DFS stack: stack[vtop..n) */
	uint64_t stop = 0;  /* finished, unassigned: stack[0..stop) */
	for (uint64_t s = 0; s < n; s++) {
		if (rindex[s] || (among && !among[s]))
			continue;
		rindex[s] = index++;
		isroot[s / 64] |= UINT64_C(1) << (s % 64);
		cursor[s] = 0;
		stack[--vtop] = (uint32_t)s;
		bool fresh = true; /* the top of the stack was just pushed */
		while (vtop < n) {
			uint32_t v = stack[vtop];
			uint64_t b = g->start[v], end = g->start[v + 1];
			if (end - b > UINT32_MAX) {
				err = bad_degree(v, end - b);
				goto out;
			}
			uint32_t rv = rindex[v];
			uint64_t e = b + cursor[v];
			if (fresh)
				prefetch_targets(g, e, end, rindex);
			fresh = false;
			uint32_t w = NONE;
			for (; e < end; e++) {
				if (!strong_edge(g, e))
					continue;
				uint32_t t = g->dst[e];
				if (t >= n) {
					err = bad_edge(g, e);
					goto out;
				}
				if (among && !among[t])
					continue;
				uint32_t rt = rindex[t];
				if (rt == 0) {
					w = t;
					break;
				}
				if (rt < rv) {
					rv = rt;
					isroot[v / 64] &= ~(UINT64_C(1) << (v % 64));
				}
			}
			rindex[v] = rv;
			if (w != NONE) {
				/* Descend; this edge is looked at again on
				 * the way back, to take w's index. */
				cursor[v] = (uint32_t)(e - b);
				rindex[w] = index++;
				isroot[w / 64] |= UINT64_C(1) << (w % 64);
				cursor[w] = 0;
				stack[--vtop] = w;
				fresh = true;
				continue;
			}
			vtop++;
			if (isroot[v / 64] & (UINT64_C(1) << (v % 64))) {
				index--;
				while (stop > 0 && rv <= rindex[stack[stop - 1]]) {
					rindex[stack[--stop]] = c;
					index--;
				}
				rindex[v] = c--;
				ncomp++;
			} else {
				stack[stop++] = v;
			}
		}
	}
	for (uint64_t v = 0; v < n; v++)
		rindex[v] = among && !among[v] ? NONE : (uint32_t)(n - 1) - rindex[v];
	*ret_comp = rindex;
	rindex = NULL;
	*ret_ncomp = ncomp;
out:
	give_u32(sp, rindex, n);
	give_u32(sp, stack, n);
	give_u32(sp, cursor, n);
	free(isroot);
	return err;
}

bool pyhs_graph_has_self_loop(const struct pyhs_graph *g, uint32_t v)
{
	if (v >= g->n)
		return false;
	for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
		if (g->dst[e] == v && strong_edge(g, e))
			return true;
	}
	return false;
}

/* ---- shortest paths ------------------------------------------------------ */

struct pyhs_error *pyhs_shortest_path(const struct pyhs_graph *g,
				      const uint32_t *roots, uint64_t nroots,
				      uint32_t target, uint32_t *ret_root,
				      uint64_t **ret_path, uint64_t *ret_len)
{
	struct pyhs_error *err = check_nodes(g);
	if (!err)
		err = check_roots(g, roots, nroots);
	if (err)
		return err;
	const uint64_t n = g->n;
	if (target >= n)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "node %" PRIu32 " is past the %" PRIu64
					 " nodes", target, n);
	for (uint64_t i = 0; i < nroots; i++) {
		if (roots[i] == target) {
			*ret_root = target;
			*ret_path = NULL;
			*ret_len = 0;
			return NULL;
		}
	}

	const uint32_t IS_ROOT = NONE - 1;
	uint32_t *from = alloc_u32(n); /* BFS parent, IS_ROOT or NONE */
	uint32_t *queue = alloc_u32(n);
	uint64_t *path = NULL;
	if (!from || !queue) {
		err = &pyhs_enomem;
		goto out;
	}
	memset(from, 0xff, (size_t)n * sizeof(uint32_t));
	uint64_t head = 0, tail = 0;
	for (uint64_t i = 0; i < nroots; i++) {
		if (from[roots[i]] == NONE) {
			from[roots[i]] = IS_ROOT;
			queue[tail++] = roots[i];
		}
	}
	bool found = false;
	while (head < tail && !found) {
		uint32_t v = queue[head++];
		for (uint64_t e = g->start[v]; e < g->start[v + 1]; e++) {
			if (!strong_edge(g, e))
				continue;
			uint32_t w = g->dst[e];
			if (w >= n) {
				err = bad_edge(g, e);
				goto out;
			}
			if (from[w] != NONE)
				continue;
			from[w] = v;
			queue[tail++] = w;
			if (w == target) {
				found = true;
				break;
			}
		}
	}
	if (!found) {
		err = pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					"node %" PRIu32
					" is not reachable from the roots",
					target);
		goto out;
	}
	uint64_t len = 0;
	uint32_t x = target;
	for (; from[x] != IS_ROOT; x = from[x])
		len++;
	uint32_t root = x;
	path = malloc((size_t)len * sizeof(uint64_t));
	if (!path) {
		err = &pyhs_enomem;
		goto out;
	}
	x = target;
	for (uint64_t i = len; i-- > 0;) {
		uint32_t p = from[x];
		uint64_t e = g->start[p];
		while (g->dst[e] != x || !strong_edge(g, e))
			e++;
		path[i] = e;
		x = p;
	}
	*ret_root = root;
	*ret_path = path;
	path = NULL;
	*ret_len = len;
out:
	free(from);
	free(queue);
	free(path);
	return err;
}
