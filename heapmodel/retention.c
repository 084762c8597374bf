/*
 * Retention paths for diffs: a breadth-first tree from the roots, and for
 * every object a key over how it is held, so that "the same place" can be
 * matched across two heaps whose addresses have nothing in common.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>

#include "heap_internal.h"

#define NO_PARENT UINT64_MAX
#define ROOT_EDGE (UINT64_MAX - 1) /* parent_edge of a root: see root_of */

struct pyhs_retention {
	const struct pyhs_heap *h;
	uint64_t *parent_edge; /* edge into the object, ROOT_EDGE, or NO_PARENT */
	uint32_t *root_of;     /* for roots: the root number */
	uint64_t *key;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return pyhs_hash_u64(h ^ (v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2)));
}

static uint64_t hash_text(uint64_t h, const char *s)
{
	return mix(h, pyhs_hash_str(s));
}


void pyhs_normalized_label(const struct pyhs_heap *h, uint32_t label,
			   bool exact, char *buf, size_t n)
{
	enum pyhs_label_kind kind = PYHS_LABEL_KIND(label);
	if (kind == PYHS_LABEL_INDEX) {
		snprintf(buf, n, "[*]");
		return;
	}
	if (!pyhs_heap_format_label(h, label, buf, n)) {
		snprintf(buf, n, "->");
		return;
	}
	if (kind != PYHS_LABEL_DICT_VALUE || exact)
		return;
	/* Collapse runs of digits (and a whole non-str key) in a dict key. */
	if (buf[0] == '[' && buf[1] != '\'') {
		snprintf(buf, n, "[*]");
		return;
	}
	size_t o = 0;
	for (size_t i = 0; buf[i]; i++) {
		if (isdigit((unsigned char)buf[i])) {
			if (o == 0 || buf[o - 1] != '*')
				buf[o++] = '*';
			continue;
		}
		buf[o++] = buf[i];
	}
	buf[o] = '\0';
}

static uint64_t hash_string_id(uint64_t k, const struct pyhs_heap *h, uint32_t id)
{
	return id < h->strings.size ? hash_text(k, h->strings.data[id]) : mix(k, 1);
}

/* What a root is, the same in any heap of the program: its kind and name;
 * its thread by threading's name (by index when it has none); its frame by
 * function, file (without its directory: what snapshots before format 3
 * kept) and height above the thread's outermost frame, never by its
 * current line, so that a frame that moved on is still the same place. */
static uint64_t root_key(const struct pyhs_heap *h, uint64_t r)
{
	const struct pyhs_root_info *ri = &h->roots.data[r].info;
	uint64_t k = mix(1, (uint64_t)ri->kind + 1);
	k = hash_string_id(k, h, ri->name);
	if (ri->thread < h->threads.size) {
		const struct pyhs_thread_info *t = &h->threads.data[ri->thread].info;
		k = t->name != PYHS_NO_STRING ? hash_string_id(mix(k, 2), h, t->name)
					      : mix(mix(k, 3), ri->thread);
		if (ri->frame < h->frames.size) {
			const struct pyhs_frame_info *f = &h->frames.data[ri->frame];
			const char *file = pyhs_heap_string(h, f->file);
			const char *base = strrchr(file, '/');
			k = hash_string_id(mix(k, 4), h, f->function);
			k = hash_text(k, base ? base + 1 : file);
			k = mix(k, t->nframes - f->depth);
		}
	}
	return k;
}

/* Steps from sys.modules (depth 0: module names) and from a module's
 * __dict__ (depth 2: global names) keep their dict keys whole. */
static bool exact_step(int depth_from_modules)
{
	return depth_from_modules == 0 || depth_from_modules == 2;
}

struct pyhs_error *pyhs_retention_create(const struct pyhs_heap *h,
					 struct pyhs_retention **ret)
{
	uint64_t n = h->addr.size;
	struct pyhs_retention *r = calloc(1, sizeof(*r));
	uint32_t *queue = malloc((n ? n : 1) * sizeof(*queue));
	int8_t *mdepth = malloc(n ? n : 1); /* steps below sys.modules, or -1 */
	if (!r || !queue || !mdepth)
		goto oom;
	r->h = h;
	r->parent_edge = malloc((n ? n : 1) * sizeof(*r->parent_edge));
	r->root_of = malloc((n ? n : 1) * sizeof(*r->root_of));
	r->key = malloc((n ? n : 1) * sizeof(*r->key));
	if (!r->parent_edge || !r->root_of || !r->key)
		goto oom;
	for (uint64_t i = 0; i < n; i++)
		r->parent_edge[i] = NO_PARENT;
	memset(mdepth, -1, n ? n : 1);
	char label[256];
	/* Breadth-first, one rank of roots after another. */
	for (int rank = 0; rank < PYHS_ROOT_RANKS; rank++) {
		uint64_t head = 0, tail = 0;
		for (uint64_t k = 0; k < h->roots.size; k++) {
			uint32_t o = h->roots.data[k].obj;
			if (pyhs_root_rank(h, k) != rank || r->parent_edge[o] != NO_PARENT)
				continue;
			r->parent_edge[o] = ROOT_EDGE;
			r->root_of[o] = (uint32_t)k;
			r->key[o] = hash_text(root_key(h, k),
					      h->types.data[h->type.data[o]].name);
			if (pyhs_root_is_modules(h, k))
				mdepth[o] = 0;
			queue[tail++] = o;
		}
		while (head < tail) {
			uint32_t v = queue[head++];
			for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++) {
				uint32_t d = h->edge_dst.data[e];
				uint32_t lab = h->edge_label.data[e];
				if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_WEAK ||
				    r->parent_edge[d] != NO_PARENT)
					continue;
				r->parent_edge[d] = e;
				if (mdepth[v] >= 0 && mdepth[v] < 3)
					mdepth[d] = (int8_t)(mdepth[v] + 1);
				pyhs_normalized_label(h, lab, exact_step(mdepth[v]), label,
						      sizeof(label));
				r->key[d] = hash_text(hash_text(r->key[v], label),
						      h->types.data[h->type.data[d]].name);
				queue[tail++] = d;
			}
		}
	}
	/* What no root reaches is grouped by type alone. */
	for (uint64_t i = 0; i < n; i++)
		if (r->parent_edge[i] == NO_PARENT)
			r->key[i] = hash_text(hash_text(2, "unreachable"),
					      h->types.data[h->type.data[i]].name);
	free(queue);
	free(mdepth);
	*ret = r;
	return NULL;
oom:
	free(queue);
	free(mdepth);
	pyhs_retention_destroy(r);
	return &pyhs_enomem;
}

void pyhs_retention_destroy(struct pyhs_retention *r)
{
	if (!r)
		return;
	free(r->parent_edge);
	free(r->root_of);
	free(r->key);
	free(r);
}

uint64_t pyhs_retention_key(const struct pyhs_retention *r, uint64_t i)
{
	return r->key[i];
}

uint64_t pyhs_retention_root(const struct pyhs_retention *r, uint64_t i)
{
	uint32_t v = (uint32_t)i;
	if (r->parent_edge[v] == NO_PARENT)
		return UINT64_MAX;
	while (r->parent_edge[v] != ROOT_EDGE)
		v = pyhs_heap_edge_source(r->h, r->parent_edge[v]);
	return r->root_of[v];
}

#define MAX_DESCRIBED_STEPS 64

void pyhs_retention_describe(const struct pyhs_retention *r, uint64_t i,
			     char *buf, size_t n)
{
	const struct pyhs_heap *h = r->h;
	size_t o = 0;
	buf[0] = '\0';
#define PUT(...) do { if (o < n) o += (size_t)snprintf(buf + o, n - o, __VA_ARGS__); } while (0)
	if (r->parent_edge[i] == NO_PARENT) {
		PUT("unreachable (garbage, or held by C code)");
		return;
	}
	if (r->parent_edge[i] == ROOT_EDGE) {
		PUT("root %s", pyhs_heap_root_label(h, r->root_of[i]));
		return;
	}
	/* The chain of edges from the root down to i, collected upwards. */
	uint64_t steps[MAX_DESCRIBED_STEPS];
	size_t ns = 0;
	bool truncated = false;
	uint32_t v = (uint32_t)i;
	while (r->parent_edge[v] != ROOT_EDGE) {
		if (ns == MAX_DESCRIBED_STEPS) {
			truncated = true;
			/* Keep the last steps; find the root anyway. */
			memmove(steps, steps + 1, (ns - 1) * sizeof(*steps));
			ns--;
		}
		steps[ns++] = r->parent_edge[v];
		v = pyhs_heap_edge_source(h, r->parent_edge[v]);
	}
	size_t k = ns;
	char l[256];
	if (truncated) {
		PUT("%s ...", pyhs_heap_root_label(h, r->root_of[v]));
	} else {
		/* steps[] runs upwards; the description reads downwards. */
		uint64_t down[MAX_DESCRIBED_STEPS];
		for (size_t j = 0; j < ns; j++)
			down[j] = steps[ns - 1 - j];
		k -= pyhs_heap_describe_root(h, r->root_of[v], down, ns, buf, n);
		o = strlen(buf);
	}
	while (k-- > 0) {
		uint64_t e = steps[k];
		pyhs_normalized_label(h, h->edge_label.data[e], false, l, sizeof(l));
		PUT(" %s", l);
		/* Name the type where the label alone does not say it. */
		if (k > 0 && l[0] != '[' && l[0] != '.')
			PUT(" %s", h->types.data[h->type.data[h->edge_dst.data[e]]].name);
	}
#undef PUT
}
