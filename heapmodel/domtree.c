/*
 * The dominator tree as a tree to walk, for the views of a heap (flame
 * graphs, the report, the terminal browser): children lists in one array,
 * retained object counts, and a holder name for each node.
 */
#include <inttypes.h>
#include <stdio.h>

#include "common/scratch.h"
#include "graph.h"
#include "heap_internal.h"

/* Every array is of 4-byte entries (20 bytes per object): object numbers
 * are below 2^32 - 1, a node has one parent so child offsets and retained
 * counts are at most n, and heaps of 2^32 - 1 edges or more are refused. */
#define NO_EDGE UINT32_MAX
#define C_HELD UINT32_MAX

struct pyhs_domtree {
	const struct pyhs_heap *h;
	const struct pyhs_analysis *a;
	const uint32_t *idom;            /* the analysis's */
	const struct pyhs_u32_column *retained; /* the analysis's */
	uint64_t n;          /* objects; node n is the top */
	uint32_t *start;     /* n + 2 offsets into child */
	uint32_t *child;
	uint32_t *count;     /* n + 1 retained object counts */
	uint32_t *via;       /* the edge from the parent, or NO_EDGE */
	uint32_t *root;      /* root number + 1 of named roots' objects,
			      * C_HELD for roots held by C code, else 0 */
};

static inline uint64_t parent_of(const struct pyhs_domtree *t, uint64_t v)
{
	uint32_t d = t->idom[v];
	if (d == PYHS_DOM_NONE)
		return UINT64_MAX;
	return d == PYHS_DOM_ROOT ? t->n : d;
}

static inline uint64_t retained_of(const struct pyhs_domtree *t, uint64_t v)
{
	return v == t->n ? pyhs_analysis_reachable_bytes(t->a) :
			   pyhs_u32_column_at(t->retained, v);
}

/* Lists this short are sorted by insertion. */
#define SHORT_LIST 32

/*
 * Sorts a list of objects in increasing number by retained size, largest
 * first, keeping number order among equals: by insertion when short, else
 * a byte at a time from the lowest (a stable counting sort each, skipped
 * when every key has the same byte there) through tmp, of as many entries.
 */
static void sort_children(const struct pyhs_domtree *t, uint32_t *list, uint64_t len,
			  uint32_t *tmp)
{
	if (len <= SHORT_LIST) {
		uint64_t key[SHORT_LIST];
		for (uint64_t k = 0; k < len; k++) {
			uint32_t v = list[k];
			uint64_t r = retained_of(t, v), j = k;
			for (; j > 0 && key[j - 1] < r; j--) {
				key[j] = key[j - 1];
				list[j] = list[j - 1];
			}
			key[j] = r;
			list[j] = v;
		}
		return;
	}
	uint64_t any = 0, all = UINT64_MAX;
	for (uint64_t k = 0; k < len; k++) {
		uint64_t r = retained_of(t, list[k]);
		any |= r;
		all &= r;
	}
	uint32_t *src = list, *dst = tmp;
	for (unsigned shift = 0; shift < 64 && (any >> shift); shift += 8) {
		if (((any ^ all) >> shift & 0xff) == 0)
			continue; /* the same byte in every key */
		uint64_t pos[256] = { 0 };
		for (uint64_t k = 0; k < len; k++)
			pos[255 - (retained_of(t, src[k]) >> shift & 0xff)]++;
		uint64_t sum = 0;
		for (unsigned b = 0; b < 256; b++) {
			uint64_t c = pos[b];
			pos[b] = sum;
			sum += c;
		}
		for (uint64_t k = 0; k < len; k++) {
			uint32_t v = src[k];
			dst[pos[255 - (retained_of(t, v) >> shift & 0xff)]++] = v;
		}
		uint32_t *x = src;
		src = dst;
		dst = x;
	}
	if (src != list)
		memcpy(list, src, len * sizeof(*list));
}

struct pyhs_error *pyhs_domtree_create(const struct pyhs_analysis *a,
				       struct pyhs_domtree **ret)
{
	const struct pyhs_heap *h = pyhs_analysis_heap(a);
	uint64_t n = h->addr.size;
	if (h->edge_dst.size >= NO_EDGE)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "%zu references: the dominator tree "
					 "takes at most 2^32-2", h->edge_dst.size);
	struct pyhs_domtree *t = calloc(1, sizeof(*t));
	if (!t)
		return &pyhs_enomem;
	t->h = h;
	t->a = a;
	t->idom = pyhs_analysis_idoms(a);
	t->retained = pyhs_analysis_retained_column(a);
	t->n = n;
	/* From the analysis's pool, where its passes left their arrays. */
	struct pyhs_scratch *s = pyhs_analysis_scratch(a);
	size_t n4 = (n ? n : 1) * sizeof(uint32_t);
	t->start = pyhs_scratch_zalloc(s, (n + 2) * sizeof(*t->start));
	t->child = pyhs_scratch_alloc(s, n4);
	t->count = pyhs_scratch_zalloc(s, (n + 1) * sizeof(*t->count));
	t->via = pyhs_scratch_alloc(s, n4);
	t->root = pyhs_scratch_zalloc(s, n4);
	uint32_t *fill = pyhs_scratch_alloc(s, (n + 1) * sizeof(*fill));
	if (!t->start || !t->child || !t->count || !t->via || !t->root || !fill) {
		pyhs_scratch_free(s, fill, (n + 1) * sizeof(*fill));
		pyhs_domtree_destroy(t);
		return &pyhs_enomem;
	}
	for (uint64_t v = 0; v < n; v++) {
		uint64_t p = parent_of(t, v);
		if (p != UINT64_MAX)
			t->start[p + 1]++;
	}
	for (uint64_t v = 0; v <= n; v++)
		t->start[v + 1] += t->start[v];
	memcpy(fill, t->start, (n + 1) * sizeof(*fill));
	for (uint64_t v = 0; v < n; v++) {
		uint64_t p = parent_of(t, v);
		if (p != UINT64_MAX)
			t->child[fill[p]++] = (uint32_t)v;
	}
	/* Each list is in number order: sorted by retained size, with fill
	 * for room. */
	for (uint64_t v = 0; v <= n; v++)
		if (t->start[v + 1] - t->start[v] > 1)
			sort_children(t, t->child + t->start[v], t->start[v + 1] - t->start[v],
				      fill);
	pyhs_scratch_free(s, fill, (n + 1) * sizeof(*fill));
	/* Counts: children come after their parent in a breadth-first order
	 * from the top, so the order read backwards adds each node into its
	 * parent after everything below it. */
	uint32_t *order = pyhs_scratch_alloc(s, n4);
	if (!order) {
		pyhs_domtree_destroy(t);
		return &pyhs_enomem;
	}
	uint64_t head = 0, tail = 0;
	for (uint64_t k = t->start[n]; k < t->start[n + 1]; k++)
		order[tail++] = t->child[k];
	while (head < tail) {
		uint32_t v = order[head++];
		for (uint64_t k = t->start[v]; k < t->start[v + 1]; k++)
			order[tail++] = t->child[k];
	}
	for (uint64_t q = tail; q-- > 0;) {
		uint32_t v = order[q];
		t->count[v]++;
		t->count[parent_of(t, v)] += t->count[v];
	}
	pyhs_scratch_free(s, order, n4);
	/* Nothing after the tree takes what is left. */
	pyhs_scratch_trim(s);
	/* The edge each object is held by from its parent, when there is a
	 * direct one (the first strong one). */
	memset(t->via, 0xff, n * sizeof(*t->via));
	for (uint64_t v = 0; v < n; v++)
		for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++) {
			uint32_t d = h->edge_dst.data[e];
			if (t->via[d] == NO_EDGE && t->idom[d] == v &&
			    PYHS_LABEL_KIND(h->edge_label.data[e]) != PYHS_LABEL_WEAK)
				t->via[d] = (uint32_t)e;
		}
	uint64_t nnamed = h->roots.size;
	for (uint64_t k = pyhs_analysis_nroots(a); k-- > 0;) {
		uint32_t o = pyhs_analysis_root(a, k);
		t->root[o] = k < nnamed ? (uint32_t)k + 1 : C_HELD;
	}
	*ret = t;
	return NULL;
}

void pyhs_domtree_destroy(struct pyhs_domtree *t)
{
	if (!t)
		return;
	free(t->start);
	free(t->child);
	free(t->count);
	free(t->via);
	free(t->root);
	free(t);
}

uint64_t pyhs_domtree_top(const struct pyhs_domtree *t)
{
	return t->n;
}

uint64_t pyhs_domtree_children(const struct pyhs_domtree *t, uint64_t v,
			       const uint32_t **ret)
{
	*ret = t->child + t->start[v];
	return t->start[v + 1] - t->start[v];
}

uint64_t pyhs_domtree_parent(const struct pyhs_domtree *t, uint64_t v)
{
	return v >= t->n ? UINT64_MAX : parent_of(t, v);
}

uint64_t pyhs_domtree_retained(const struct pyhs_domtree *t, uint64_t v)
{
	return retained_of(t, v);
}

uint64_t pyhs_domtree_count(const struct pyhs_domtree *t, uint64_t v)
{
	return v < t->n && parent_of(t, v) == UINT64_MAX ? 1 : t->count[v];
}

/* Whether object p is a module's __dict__, held by the module above it. */
static bool is_module_dict(const struct pyhs_domtree *t, uint64_t p)
{
	const struct pyhs_heap *h = t->h;
	if (p >= t->n || t->via[p] == NO_EDGE)
		return false;
	uint32_t l = h->edge_label.data[t->via[p]];
	return pyhs_heap_label_is(h, l, PYHS_LABEL_FIELD, "__dict__") &&
	       pyhs_heap_is_module(h, pyhs_heap_edge_source(h, t->via[p]));
}

void pyhs_domtree_name(const struct pyhs_domtree *t, uint64_t v, bool merge,
		       char *buf, size_t n)
{
	const struct pyhs_heap *h = t->h;
	if (v >= t->n) {
		snprintf(buf, n, "roots");
		return;
	}
	const char *type = h->types.data[h->type.data[v]].name;
	if (pyhs_heap_is_module(h, v) && pyhs_heap_value(h, v)) {
		snprintf(buf, n, "module %s", pyhs_heap_value(h, v));
		return;
	}
	/* Types, functions and code objects also say their own name. */
	const char *own = pyhs_heap_is_type(h, v) || !strcmp(type, "function") ||
				  !strcmp(type, "code") ? pyhs_heap_value(h, v) : NULL;
	char held[256];
	uint64_t p = parent_of(t, v);
	if (t->root[v] && t->root[v] != C_HELD)
		snprintf(held, sizeof(held), "%s", pyhs_heap_root_label(h, t->root[v] - 1));
	else if (t->root[v] == C_HELD)
		snprintf(held, sizeof(held), "held by C code");
	else if (p == UINT64_MAX)
		snprintf(held, sizeof(held), "unreachable");
	else if (p == t->n)
		snprintf(held, sizeof(held), "(several roots)");
	else if (t->via[v] == NO_EDGE)
		snprintf(held, sizeof(held), "->");
	else if (is_module_dict(t, p) &&
		 PYHS_LABEL_KIND(h->edge_label.data[t->via[v]]) == PYHS_LABEL_DICT_VALUE) {
		char key[240];
		uint32_t lab = h->edge_label.data[t->via[v]];
		/* a str key NAME: global NAME */
		const char *name = pyhs_heap_label_name(h, lab);
		if (!name && pyhs_heap_format_label(h, lab, key, sizeof(key)))
			name = key;
		snprintf(held, sizeof(held), "global %.200s", name ? name : "?");
	} else if (merge)
		pyhs_normalized_label(h, h->edge_label.data[t->via[v]], false, held,
				      sizeof(held));
	else if (!pyhs_heap_format_label(h, h->edge_label.data[t->via[v]], held,
					 sizeof(held)))
		snprintf(held, sizeof(held), "->");
	if (own)
		snprintf(buf, n, "%s %s %s", held, type, own);
	else
		snprintf(buf, n, "%s %s", held, type);
}

const struct pyhs_analysis *pyhs_domtree_analysis(const struct pyhs_domtree *t)
{
	return t->a;
}
