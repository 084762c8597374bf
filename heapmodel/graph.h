/*
 * Graph algorithms of the "what keeps it alive" analyses, on plain CSR
 * arrays: dominator tree, retained sizes, strongly connected components and
 * shortest paths from the roots.
 *
 * Nothing here recurses: every traversal keeps its state in arrays, so a
 * chain of ten million objects is as safe as a flat list. Edges whose label
 * kind is PYHS_LABEL_WEAK never count: they are skipped by every function.
 * Auxiliary memory is a few 4-byte arrays per node (the dominator tree also
 * builds its predecessor lists, 4 bytes per strong edge); all of it is freed
 * on every path.
 */
#ifndef PYHS_GRAPH_H
#define PYHS_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

struct pyhs_error;
struct pyhs_scratch;

/* A read-only view of a graph in CSR form; the arrays are not owned. */
struct pyhs_graph {
	uint64_t n;                /* nodes 0..n-1; at most PYHS_GRAPH_MAX_NODES */
	const uint32_t *start;     /* n+1 offsets into dst (and label) */
	const uint32_t *dst;
	const uint32_t *label;     /* may be NULL; weak edges are skipped */
};

/* idom values that are not node numbers. */
#define PYHS_GRAPH_ROOT (UINT32_MAX - 1)        /* the synthetic root */
#define PYHS_GRAPH_UNREACHABLE UINT32_MAX
/* Node numbers must stay below the two values above. */
#define PYHS_GRAPH_MAX_NODES ((uint64_t)UINT32_MAX - 2)

/*
 * Dominator tree of the graph seen from a synthetic root whose edges point
 * at roots[0..nroots) (repeats allowed). *ret_idom gets an n-element array
 * (free() it): the immediate dominator of each node, PYHS_GRAPH_ROOT when
 * that is the synthetic root (a root, or a node reachable from two roots
 * without a common dominator), PYHS_GRAPH_UNREACHABLE for nodes the roots do
 * not reach. Semi-NCA (Lengauer-Tarjan's semidominators with path
 * compression, then nearest common ancestors in the DFS tree).
 * PYHS_ERROR_INVALID for a root or edge target >= n.
 */
struct pyhs_error *pyhs_dominators(const struct pyhs_graph *g,
				   const uint32_t *roots, uint64_t nroots,
				   uint32_t **ret_idom);

/*
 * Retained sizes from a dominator tree: retained[v] = size[v] + the
 * retained sizes of every node v immediately dominates; just size[v] for
 * unreachable nodes. size may be NULL: every node then counts 1 (retained
 * object counts). *ret_retained gets an n-element array (free() it);
 * *ret_total, if ret_total is not NULL, the total size of the nodes the roots
 * reach. PYHS_ERROR_INVALID if idom is not a tree (a cycle, an entry >= n
 * that is not one of the two special values).
 */
struct pyhs_error *pyhs_retained_sizes(const struct pyhs_graph *g,
				       const uint32_t *idom,
				       const uint64_t *size,
				       uint64_t **ret_retained,
				       uint64_t *ret_total);

/*
 * Strongly connected components (Pearce's space-efficient variant of
 * Tarjan's algorithm, iterative). *ret_comp gets an n-element array (free()
 * it) of component numbers 0..ncomp-1, in the order the components were
 * completed: a component's successors outside it have smaller numbers.
 * A node alone in its component is on a cycle only if
 * pyhs_graph_has_self_loop says so. PYHS_ERROR_INVALID for an edge target
 * >= n.
 */
struct pyhs_error *pyhs_scc(const struct pyhs_graph *g, uint32_t **ret_comp,
			    uint32_t *ret_ncomp);

/*
 * The same among the nodes v with among[v] set, as if the others and their
 * edges were not there: they get component UINT32_MAX. The components
 * found are numbered in the order they are completed, 0 up.
 */
struct pyhs_error *pyhs_scc_among(const struct pyhs_graph *g, const uint8_t *among,
				  uint32_t **ret_comp, uint32_t *ret_ncomp);

/*
 * The same four with their arrays from a pool (common/scratch.h; NULL:
 * malloc): the transient ones go back to it, the results are from it.
 */
struct pyhs_error *pyhs_dominators_in(const struct pyhs_graph *g, struct pyhs_scratch *s,
				      const uint32_t *roots, uint64_t nroots,
				      uint32_t **ret_idom);
struct pyhs_error *pyhs_retained_sizes_in(const struct pyhs_graph *g,
					  struct pyhs_scratch *s,
					  const uint32_t *idom,
					  const uint64_t *size,
					  uint64_t **ret_retained,
					  uint64_t *ret_total);
/* pyhs_retained_sizes_in in the caller's array of n entries: each node's
 * size on entry, its retained size on return (also on error, in part). */
struct pyhs_error *pyhs_retained_sizes_in_place(const struct pyhs_graph *g,
						struct pyhs_scratch *s,
						const uint32_t *idom,
						uint64_t *retained,
						uint64_t *ret_total);
struct pyhs_error *pyhs_scc_in(const struct pyhs_graph *g, struct pyhs_scratch *s,
			       uint32_t **ret_comp, uint32_t *ret_ncomp);
struct pyhs_error *pyhs_scc_among_in(const struct pyhs_graph *g, struct pyhs_scratch *s,
				     const uint8_t *among, uint32_t **ret_comp,
				     uint32_t *ret_ncomp);

/* The pool of an analysis (analysis.c), for what is built on it. */
struct pyhs_analysis;
struct pyhs_scratch *pyhs_analysis_scratch(const struct pyhs_analysis *a);

/* Whether v has a strong (not weak) edge to itself. */
bool pyhs_graph_has_self_loop(const struct pyhs_graph *g, uint32_t v);

/*
 * A shortest path (fewest strong edges, breadth-first) from any of
 * roots[0..nroots) to target. *ret_root gets the root it starts at,
 * *ret_path an array (free() it) of the *ret_len edge indices from the
 * root's edge to the edge into target; when target is itself a root,
 * *ret_len is 0 and *ret_path NULL. PYHS_ERROR_NOT_FOUND if no root reaches
 * target, PYHS_ERROR_INVALID for a target, root or edge target >= n.
 */
struct pyhs_error *pyhs_shortest_path(const struct pyhs_graph *g,
				      const uint32_t *roots, uint64_t nroots,
				      uint32_t target, uint32_t *ret_root,
				      uint64_t **ret_path, uint64_t *ret_len);

#endif
