/*
 * Garbage as one set of groups: each cycle the collector would free with
 * everything else only it keeps (a garbage cycle's list of payloads is
 * freed with it), so that a count of garbage objects and a list of
 * garbage cycles always add up.
 */
#include <inttypes.h>
#include <stdio.h>

#include "heap_internal.h"

struct group_sort {
	uint64_t group, bytes;
};

static int by_bytes_desc(const void *x, const void *y)
{
	const struct group_sort *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return a->group < b->group ? -1 : a->group > b->group;
}

struct pyhs_error *pyhs_analysis_garbage(const struct pyhs_analysis *a,
					 struct pyhs_cycles **ret)
{
	const struct pyhs_heap *h = pyhs_analysis_heap(a);
	uint64_t n = pyhs_heap_nobjects(h);
	struct pyhs_cycles *cyc;
	struct pyhs_error *err = pyhs_analysis_cycles(a, true, &cyc);
	if (err)
		return err;
	/* group[i]: 1 + the garbage cycle object i goes with, 0 for none
	 * (4 bytes: each cycle has objects of its own, and there are fewer
	 * than 2^32 - 1 objects); member: a bit per object, set for those in
	 * the cycle itself. */
	uint32_t *group = calloc(n ? n : 1, sizeof(*group));
	uint64_t *member = calloc(n / 64 + 1, sizeof(*member));
	uint32_t *queue = malloc((n ? n : 1) * sizeof(*queue));
	uint64_t ng = cyc->n + 1; /* the last: garbage no cycle reaches */
	uint64_t *count = calloc(ng, sizeof(*count));
	struct group_sort *order = calloc(ng, sizeof(*order));
	struct pyhs_cycles *c = calloc(1, sizeof(*c));
	if (!group || !member || !queue || !count || !order || !c)
		goto oom;
	/* Largest cycle first: what two cycles keep goes with the larger. */
	for (uint64_t q = 0; q < cyc->n; q++)
		for (uint64_t k = cyc->start[q]; k < cyc->start[q + 1]; k++) {
			uint32_t v = cyc->objects[k];
			group[v] = (uint32_t)(q + 1);
			member[v / 64] |= UINT64_C(1) << (v % 64);
		}
	for (uint64_t q = 0; q < cyc->n; q++) {
		uint64_t head = 0, tail = 0;
		for (uint64_t k = cyc->start[q]; k < cyc->start[q + 1]; k++)
			queue[tail++] = cyc->objects[k];
		while (head < tail) {
			uint32_t v = queue[head++];
			uint64_t b, e;
			pyhs_heap_edges(h, v, &b, &e);
			for (uint64_t j = b; j < e; j++) {
				uint32_t d = pyhs_heap_edge_dst(h, j);
				if (PYHS_LABEL_KIND(pyhs_heap_edge_label(h, j)) == PYHS_LABEL_WEAK ||
				    group[d] || !pyhs_analysis_is_garbage(a, d))
					continue;
				group[d] = (uint32_t)(q + 1);
				queue[tail++] = d;
			}
		}
	}
	uint64_t total = 0;
	/* With no garbage, nothing is read per object. */
	uint64_t ngarbage = pyhs_analysis_ngarbage(a);
	for (uint64_t i = 0; ngarbage && i < n; i++) {
		if (!pyhs_analysis_is_garbage(a, i))
			continue;
		if (!group[i])
			group[i] = (uint32_t)ng; /* the last group */
		uint64_t g = group[i] - 1;
		count[g]++;
		order[g].bytes += pyhs_heap_size(h, i);
		total++;
	}
	for (uint64_t q = 0; q < ng; q++)
		order[q].group = q;
	/* The groups with objects, largest first; cycles before the rest. */
	qsort(order, cyc->n, sizeof(*order), by_bytes_desc);
	uint64_t m = 0;
	for (uint64_t q = 0; q < ng; q++)
		if (count[order[q].group])
			order[m++] = order[q];
	c->start = calloc(m + 1, sizeof(*c->start));
	c->objects = malloc((total ? total : 1) * sizeof(*c->objects));
	c->bytes = malloc((m ? m : 1) * sizeof(*c->bytes));
	c->ncycle = calloc(m ? m : 1, sizeof(*c->ncycle));
	uint64_t *next = calloc(ng, sizeof(*next));
	if (!c->start || !c->objects || !c->bytes || !c->ncycle || !next) {
		free(next);
		goto oom;
	}
	uint64_t pos = 0;
	for (uint64_t q = 0; q < m; q++) {
		uint64_t g = order[q].group;
		c->start[q] = pos;
		c->bytes[q] = order[q].bytes;
		/* The cycle's own objects first, then what it keeps. */
		if (g < cyc->n) {
			c->ncycle[q] = cyc->start[g + 1] - cyc->start[g];
			memcpy(c->objects + pos, cyc->objects + cyc->start[g],
			       c->ncycle[q] * sizeof(*c->objects));
		}
		next[g] = pos + c->ncycle[q];
		pos += count[g];
	}
	c->start[m] = pos;
	for (uint64_t i = 0; total && i < n; i++) {
		if (!group[i] || (member[i / 64] >> (i % 64) & 1))
			continue;
		c->objects[next[group[i] - 1]++] = (uint32_t)i;
	}
	free(next);
	c->n = m;
	free(group);
	free(member);
	free(queue);
	free(count);
	free(order);
	pyhs_cycles_free(cyc);
	*ret = c;
	return NULL;
oom:
	free(group);
	free(member);
	free(queue);
	free(count);
	free(order);
	pyhs_cycles_free(c);
	pyhs_cycles_free(cyc);
	return &pyhs_enomem;
}
