/*
 * Holder names: who keeps an object alive, in words. One breadth-first
 * tree from the roots (in the order pyhs_analysis_paths prefers them) gives
 * every object its shortest labelled path; a name is that path read as a
 * person would and shortened: "module __main__ global CACHE", "lru_cache
 * of __main__.render", "class Config attribute _registry", "closure of
 * HANDLER: held".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/scratch.h"
#include "graph.h"
#include "heap_internal.h"

/* parent[i]: the edge into object i, nedges + k for the objects of roots
 * (k the root number), NO_PARENT for the rest; 4 bytes each, so the edges
 * and roots together must stay below NO_PARENT. */
#define NO_PARENT UINT32_MAX
/* Steps of a path kept when naming: deeper paths keep their root and
 * their last steps. */
#define MAX_STEPS 256
/* Plain steps shown after the last named place before they are elided. */
#define MAX_TAIL 3

struct pyhs_holders {
	const struct pyhs_heap *h;
	const struct pyhs_analysis *a;
	uint64_t nedges;
	uint32_t *parent; /* edge into each object, nedges + k, or NO_PARENT */
};

static bool is_root(const struct pyhs_holders *hs, uint32_t p)
{
	return p >= hs->nedges;
}

struct pyhs_error *pyhs_holders_create(const struct pyhs_heap *h,
				       const struct pyhs_analysis *a,
				       struct pyhs_holders **ret)
{
	uint64_t n = pyhs_heap_nobjects(h);
	uint64_t nedges = pyhs_heap_nedges(h), nr = pyhs_analysis_nroots(a);
	if (nedges + nr >= NO_PARENT)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "%" PRIu64 " references and %" PRIu64 " roots: "
					 "holders take at most 2^32-2 together", nedges, nr);
	struct pyhs_scratch *s = pyhs_analysis_scratch(a);
	size_t n4 = (n ? n : 1) * sizeof(uint32_t);
	struct pyhs_holders *hs = calloc(1, sizeof(*hs));
	uint32_t *queue = pyhs_scratch_alloc(s, n4);
	if (!hs || !queue || !(hs->parent = pyhs_scratch_alloc(s, n4))) {
		pyhs_scratch_free(s, queue, n4);
		pyhs_holders_destroy(hs);
		return &pyhs_enomem;
	}
	hs->h = h;
	hs->a = a;
	hs->nedges = nedges;
	for (uint64_t i = 0; i < n; i++)
		hs->parent[i] = NO_PARENT;
	for (int rank = 0; rank < PYHS_ROOT_RANKS; rank++) {
		uint64_t head = 0, tail = 0;
		for (uint64_t k = 0; k < nr; k++) {
			uint32_t o = pyhs_analysis_root(a, k);
			if (o >= n || hs->parent[o] != NO_PARENT ||
			    pyhs_heap_root_rank(h, k) != rank)
				continue;
			hs->parent[o] = (uint32_t)(nedges + k);
			queue[tail++] = o;
		}
		while (head < tail) {
			uint32_t v = queue[head++];
			for (uint64_t e = h->edge_start.data[v]; e < h->edge_start.data[v + 1]; e++) {
				uint32_t d = h->edge_dst.data[e];
				if (PYHS_LABEL_KIND(h->edge_label.data[e]) == PYHS_LABEL_WEAK ||
				    hs->parent[d] != NO_PARENT)
					continue;
				hs->parent[d] = (uint32_t)e;
				queue[tail++] = d;
			}
		}
	}
	free(queue);
	*ret = hs;
	return NULL;
}

void pyhs_holders_destroy(struct pyhs_holders *hs)
{
	if (!hs)
		return;
	free(hs->parent);
	free(hs);
}

bool pyhs_holders_reached(const struct pyhs_holders *hs, uint64_t i)
{
	return hs->parent[i] != NO_PARENT;
}

enum pyhs_holder_step pyhs_holders_step(const struct pyhs_holders *hs, uint64_t i,
					uint64_t *ret)
{
	uint32_t p = hs->parent[i];
	if (p == NO_PARENT)
		return PYHS_HOLDER_NONE;
	if (is_root(hs, p)) {
		*ret = p - hs->nedges;
		return PYHS_HOLDER_ROOT;
	}
	*ret = p;
	return PYHS_HOLDER_EDGE;
}

/* The edges from i's root down to i (at most max, the last ones when the
 * path is longer: *ret_cut says so); returns how many, and the root's
 * number in pyhs_analysis_root in *ret_root. */
static uint64_t path_up(const struct pyhs_holders *hs, uint64_t i, uint64_t *edges,
			uint64_t max, uint64_t *ret_root, bool *ret_cut)
{
	const struct pyhs_heap *h = hs->h;
	uint64_t ns = 0;
	bool cut = false;
	uint64_t v = i;
	while (!is_root(hs, hs->parent[v])) {
		if (ns == max) {
			cut = true;
			memmove(edges, edges + 1, (ns - 1) * sizeof(*edges));
			ns--;
		}
		edges[ns++] = hs->parent[v];
		v = pyhs_heap_edge_source(h, hs->parent[v]);
	}
	/* Collected upwards; return them downwards. */
	for (uint64_t j = 0; j < ns / 2; j++) {
		uint64_t t = edges[j];
		edges[j] = edges[ns - 1 - j];
		edges[ns - 1 - j] = t;
	}
	*ret_root = hs->parent[v] - hs->nedges;
	*ret_cut = cut;
	return ns;
}

struct pyhs_error *pyhs_holders_path(const struct pyhs_holders *hs, uint64_t i,
				     struct pyhs_path *ret)
{
	const struct pyhs_heap *h = hs->h;
	if (i >= pyhs_heap_nobjects(h) || hs->parent[i] == NO_PARENT)
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND, "no root reaches object 0x%" PRIx64,
					 i < pyhs_heap_nobjects(h) ? pyhs_heap_addr(h, i) : 0);
	uint64_t len = 0;
	uint64_t v = i;
	while (!is_root(hs, hs->parent[v])) {
		len++;
		v = pyhs_heap_edge_source(h, hs->parent[v]);
	}
	uint64_t *edges = malloc((len ? len : 1) * sizeof(*edges));
	if (!edges)
		return &pyhs_enomem;
	uint64_t k;
	bool cut;
	path_up(hs, i, edges, len ? len : 1, &k, &cut);
	ret->c_held = k >= pyhs_heap_nroots(h);
	ret->root = ret->c_held ? 0 : k;
	ret->start = (uint32_t)v;
	ret->nedges = len;
	ret->edges = edges;
	return NULL;
}

/* ---- naming ---- */

struct namer {
	char place[512];  /* the last named place, or the root */
	size_t o;
	char tail[MAX_TAIL][192]; /* the plain steps after it, a ring */
	unsigned ntail;   /* plain steps after the place (more than kept: elided) */
	char subject[128]; /* the last name met: a global, attribute, local */
	char qual[192];    /* the same qualified: "__main__.render" */
};

static void put(struct namer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct namer *w, const char *fmt, ...)
{
	size_t n = sizeof(w->place);
	if (w->o >= n - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(w->place + w->o, n - w->o, fmt, ap);
	va_end(ap);
	if (k > 0)
		w->o += (size_t)k < n - w->o ? (size_t)k : n - w->o - 1;
}

/* A named place starts the name afresh: what led to it is said by it. */
static void restart(struct namer *w)
{
	w->o = 0;
	w->place[0] = '\0';
	w->ntail = 0;
}

/* Copies src into dst[n], cut short if need be. */
static void copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void set_subject(struct namer *w, const char *s, const char *qual)
{
	copy(w->subject, sizeof(w->subject), s);
	copy(w->qual, sizeof(w->qual), qual ? qual : s);
}

/* A plain step: the last MAX_TAIL are kept, those before them elided. */
static void plain_step(struct namer *w, const char *text)
{
	copy(w->tail[w->ntail % MAX_TAIL], sizeof(w->tail[0]), text);
	w->ntail++;
}

static void finish(const struct namer *w, char *buf, size_t n)
{
	size_t o = (size_t)snprintf(buf, n, "%s", w->place);
	if (w->ntail > MAX_TAIL && o < n)
		o += (size_t)snprintf(buf + o, n - o, " ...");
	unsigned first = w->ntail > MAX_TAIL ? w->ntail - MAX_TAIL : 0;
	for (unsigned j = first; j < w->ntail && o < n; j++)
		o += (size_t)snprintf(buf + o, n - o, " %s", w->tail[j % MAX_TAIL]);
}

static bool is_str_key(const struct pyhs_heap *h, uint32_t label, const char **ret)
{
	const char *v = PYHS_LABEL_KIND(label) == PYHS_LABEL_DICT_VALUE ?
				pyhs_heap_label_name(h, label) : NULL;
	if (!v)
		return false;
	*ret = v;
	return true;
}

/* Whether edge e is the attribute or member of this name (".name"). */
static bool label_is(const struct pyhs_heap *h, uint64_t e, const char *name)
{
	uint32_t l = h->edge_label.data[e];
	return pyhs_heap_label_is(h, l, PYHS_LABEL_FIELD, name) ||
	       pyhs_heap_label_is(h, l, PYHS_LABEL_ATTR, name);
}

/* A type's own short name: "Config" for __main__.Config. */
static const char *short_name(const char *qualified)
{
	const char *dot = strrchr(qualified, '.');
	return dot ? dot + 1 : qualified;
}

/* The root's words, with a frame's current line left out (a holder is
 * the same frame whatever line it has reached). */
static void put_root(struct namer *w, const char *text)
{
	for (const char *c = text; *c; c++) {
		if (*c == ' ' && c[1] == '(') {
			const char *close = strchr(c, ')');
			const char *colon = close ? memchr(c, ':', (size_t)(close - c)) : NULL;
			if (colon && colon[1] >= '0' && colon[1] <= '9') {
				c = close;
				continue;
			}
		}
		put(w, "%c", *c);
	}
}

void pyhs_holders_name(const struct pyhs_holders *hs, uint64_t i, char *buf, size_t n)
{
	const struct pyhs_heap *h = hs->h;
	if (!n)
		return;
	buf[0] = '\0';
	if (i >= pyhs_heap_nobjects(h) || hs->parent[i] == NO_PARENT) {
		snprintf(buf, n, "unreachable (garbage, or held by C code no root explains)");
		return;
	}
	uint64_t edges[MAX_STEPS];
	uint64_t root;
	bool cut;
	uint64_t ne = path_up(hs, i, edges, MAX_STEPS, &root, &cut);
	struct namer w = { .o = 0 };
	uint64_t k = 0;
	uint32_t start = pyhs_analysis_root(hs->a, root);
	if (root >= pyhs_heap_nroots(h)) {
		put(&w, "held by C code: %s 0x%" PRIx64,
		    pyhs_heap_type_name(h, pyhs_heap_type_of(h, start)), pyhs_heap_addr(h, start));
	} else if (cut) {
		put_root(&w, pyhs_heap_root_label(h, root));
		put(&w, " ...");
	} else {
		char text[512];
		k = pyhs_heap_describe_root(h, root, edges, ne, text, sizeof(text));
		put_root(&w, text);
		/* From sys.modules, the module's name is the first step's key
		 * and a global's the third's ("module m global g"). */
		const char *mod, *global;
		if (pyhs_root_is_modules(h, root) && k >= 1 &&
		    is_str_key(h, h->edge_label.data[edges[0]], &mod)) {
			if (k >= 3 && is_str_key(h, h->edge_label.data[edges[2]], &global)) {
				char q[192];
				snprintf(q, sizeof(q), "%s.%s", mod, global);
				set_subject(&w, global, q);
			} else {
				set_subject(&w, mod, NULL);
			}
		}
	}
	char l[192];
	while (k < ne) {
		uint64_t e = edges[k];
		uint32_t src = pyhs_heap_edge_source(h, e);
		uint32_t lab = h->edge_label.data[e];
		const char *key;
		const char *src_type = pyhs_heap_type_name(h, pyhs_heap_type_of(h, src));
		bool dict_step = label_is(h, e, "__dict__");
		/* A module's or class's namespace, and an instance's __dict__. */
		if (dict_step && (pyhs_heap_is_module(h, src) || pyhs_heap_is_type(h, src))) {
			const char *name = pyhs_heap_value(h, src);
			bool module = pyhs_heap_is_module(h, src);
			name = name ? name : "?";
			restart(&w);
			if (k + 1 < ne && is_str_key(h, h->edge_label.data[edges[k + 1]], &key)) {
				char q[192];
				snprintf(q, sizeof(q), "%s.%s", module ? name : short_name(name), key);
				put(&w, "%s %s %s %s", module ? "module" : "class",
				    module ? name : short_name(name), module ? "global" : "attribute", key);
				set_subject(&w, key, q);
				k += 2;
			} else {
				put(&w, "%s %s %s", module ? "module" : "class",
				    module ? name : short_name(name), module ? "globals" : "__dict__");
				k++;
			}
			continue;
		}
		if (dict_step && k + 1 < ne && is_str_key(h, h->edge_label.data[edges[k + 1]], &key)) {
			snprintf(l, sizeof(l), ".%s", key);
			plain_step(&w, l);
			set_subject(&w, key, NULL);
			k += 2;
			continue;
		}
		/* A function's closure: .__closure__ [i] .cell_contents (name). */
		char var[128];
		if (label_is(h, e, "__closure__") && k + 2 < ne &&
		    pyhs_heap_label_cell_variable(h, h->edge_label.data[edges[k + 2]], var,
						  sizeof(var))) {
			char of[128];
			const char *fn = pyhs_heap_value(h, src);
			snprintf(of, sizeof(of), "%s", w.subject[0] ? w.subject : fn ? fn : "?");
			restart(&w);
			put(&w, "closure of %s: %s", of, var);
			set_subject(&w, var, NULL);
			k += 3;
			continue;
		}
		/* functools.lru_cache's dict of results. */
		if (strstr(src_type, "_lru_cache_wrapper") && label_is(h, e, "cache")) {
			char of[192];
			snprintf(of, sizeof(of), "%s", w.qual[0] ? w.qual : "?");
			restart(&w);
			put(&w, "lru_cache of %s", of);
			k++;
			continue;
		}
		/* threading.local: its per-thread dicts, then the attribute. */
		if (!strcmp(src_type, "_thread._local")) {
			char of[192];
			snprintf(of, sizeof(of), "%s", w.qual[0] ? w.qual : "?");
			uint64_t j = k;
			while (j < ne && !is_str_key(h, h->edge_label.data[edges[j]], &key))
				j++;
			restart(&w);
			if (j < ne) {
				put(&w, "thread-local %s attribute %s", of, key);
				set_subject(&w, key, NULL);
				k = j + 1;
			} else {
				put(&w, "thread-local %s", of);
				k = ne;
			}
			continue;
		}
		if (pyhs_heap_format_label(h, lab, l, sizeof(l))) {
			plain_step(&w, l);
			const char *name = pyhs_heap_label_name(h, lab);
			if (is_str_key(h, lab, &key))
				set_subject(&w, key, NULL);
			else if ((PYHS_LABEL_KIND(lab) == PYHS_LABEL_ATTR ||
				  PYHS_LABEL_KIND(lab) == PYHS_LABEL_LOCAL) && name)
				set_subject(&w, name, NULL);
		} else {
			snprintf(l, sizeof(l), "-> %s",
				 pyhs_heap_type_name(h, pyhs_heap_type_of(h, h->edge_dst.data[e])));
			plain_step(&w, l);
		}
		k++;
	}
	finish(&w, buf, n);
}
