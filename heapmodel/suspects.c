/*
 * Leak suspects, after Eclipse MAT's Leak Suspects report: objects and
 * types that retain more than a share of the heap, each followed down the
 * dominator tree to where its retained size stops flowing into one child
 * (the accumulation point) and what piles up there; with a second heap,
 * the holders whose retained size grew most; and the objects only
 * unexplained references (C code) keep alive. Analysis only: the caller
 * names and prints.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>

#include "heap_internal.h"

/* A child that keeps this share of its parent's retained size carries
 * the descent on (MAT's 80 %). */
#define FLOW_NUM 4
#define FLOW_DEN 5

struct ctx {
	const struct pyhs_heap *h;
	const struct pyhs_domtree *t;
	uint64_t top;
	/* Per type, for grouping children: */
	uint64_t *tbytes, *tcount;
	uint32_t *tlargest;
	uint32_t *touched;
};

static uint64_t retained(const struct ctx *c, uint64_t v)
{
	return pyhs_domtree_retained(c->t, v);
}

/* A new suspect of kind at the end of s, zeroed but for its kind; NULL
 * when out of memory. */
static struct pyhs_suspect *append(struct pyhs_suspects *s, enum pyhs_suspect_kind kind)
{
	if (s->n == s->capacity) {
		size_t cap = s->capacity ? s->capacity * 2 : 16;
		struct pyhs_suspect *p = realloc(s->s, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->s = p;
		s->capacity = cap;
	}
	struct pyhs_suspect *x = &s->s[s->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	return x;
}

/* Sorts s's suspects from first on (qsort is not to be given an empty
 * array's NULL). */
static void sort_from(struct pyhs_suspects *s, size_t first,
		      int (*cmp)(const void *, const void *))
{
	if (s->n - first > 1)
		qsort(s->s + first, s->n - first, sizeof(*s->s), cmp);
}

/* Follows v down while one child keeps most of what v retains. */
static uint64_t descend(const struct ctx *c, uint64_t v)
{
	for (;;) {
		const uint32_t *ch;
		uint64_t nc = pyhs_domtree_children(c->t, v, &ch);
		if (!nc || retained(c, ch[0]) * FLOW_DEN < retained(c, v) * FLOW_NUM)
			return v;
		v = ch[0];
	}
}

/* What accumulates at p: of its children retaining less than limit, the
 * type whose instances retain most, how many, and its largest one. */
static void accumulated(struct ctx *c, struct pyhs_suspect *s, uint64_t p, uint64_t limit)
{
	const uint32_t *ch;
	uint64_t nc = pyhs_domtree_children(c->t, p, &ch);
	size_t nt = 0;
	for (uint64_t k = 0; k < nc; k++) {
		uint64_t r = retained(c, ch[k]);
		if (r >= limit)
			continue;
		uint32_t ty = pyhs_heap_type_of(c->h, ch[k]);
		if (!c->tcount[ty]) {
			c->touched[nt++] = ty;
			c->tlargest[ty] = ch[k];
		}
		c->tcount[ty]++;
		c->tbytes[ty] += r;
	}
	s->acc_type = UINT32_MAX;
	s->sample = UINT32_MAX;
	s->acc_count = s->acc_bytes = 0;
	for (size_t k = 0; k < nt; k++) {
		uint32_t ty = c->touched[k];
		if (c->tbytes[ty] > s->acc_bytes || s->acc_type == UINT32_MAX) {
			s->acc_type = ty;
			s->acc_count = c->tcount[ty];
			s->acc_bytes = c->tbytes[ty];
			s->sample = c->tlargest[ty];
		}
		c->tcount[ty] = c->tbytes[ty] = 0;
	}
}

/* The object MAT would name for an accumulation point v: the highest
 * object above it whose retained size flows down to v. */
static uint64_t flow_top(const struct ctx *c, uint64_t v)
{
	for (;;) {
		uint64_t p = pyhs_domtree_parent(c->t, v);
		if (p == UINT64_MAX || p == c->top)
			return v;
		const uint32_t *ch;
		pyhs_domtree_children(c->t, p, &ch);
		if (ch[0] != v || retained(c, v) * FLOW_DEN < retained(c, p) * FLOW_NUM)
			return v;
		v = p;
	}
}

static struct pyhs_error *add(struct ctx *c, struct pyhs_suspects *s,
			      enum pyhs_suspect_kind kind, uint64_t v, uint64_t limit)
{
	struct pyhs_suspect *x = append(s, kind);
	if (!x)
		return &pyhs_enomem;
	x->obj = (uint32_t)flow_top(c, v);
	x->type = pyhs_heap_type_of(c->h, x->obj);
	x->retained = retained(c, x->obj);
	x->count = pyhs_domtree_count(c->t, x->obj);
	uint64_t p = kind == PYHS_SUSPECT_C_HELD ? descend(c, v) : v;
	x->point = (uint32_t)p;
	x->point_retained = retained(c, p);
	accumulated(c, x, p, limit);
	return NULL;
}

/* Objects retaining at least min: the deepest such (nothing below them
 * does), and those whose share left after their large children is itself
 * at least min. */
static struct pyhs_error *object_suspects(struct ctx *c, struct pyhs_suspects *s,
					  uint64_t min)
{
	uint64_t n = pyhs_heap_nobjects(c->h);
	uint64_t *stack = malloc((n + 1) * sizeof(*stack));
	if (!stack)
		return &pyhs_enomem;
	uint64_t sp = 0;
	stack[sp++] = c->top;
	struct pyhs_error *err = NULL;
	while (sp && !err) {
		uint64_t v = stack[--sp];
		const uint32_t *ch;
		uint64_t nc = pyhs_domtree_children(c->t, v, &ch);
		uint64_t big = 0, nbig = 0;
		while (nbig < nc && retained(c, ch[nbig]) >= min) {
			big += retained(c, ch[nbig]);
			stack[sp++] = ch[nbig++];
		}
		if (v != c->top && (!nbig || retained(c, v) - big >= min))
			err = add(c, s, PYHS_SUSPECT_OBJECT, v, min);
	}
	free(stack);
	return err;
}

static int by_retained_desc(const void *x, const void *y)
{
	const struct pyhs_suspect *a = x, *b = y;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	uint64_t ra = a->kind == PYHS_SUSPECT_OBJECT ? a->point_retained : a->retained;
	uint64_t rb = b->kind == PYHS_SUSPECT_OBJECT ? b->point_retained : b->retained;
	if (ra != rb)
		return ra < rb ? 1 : -1;
	return a->obj < b->obj ? -1 : a->obj > b->obj;
}

/* Types whose instances are the program's structure (its modules',
 * classes' and functions' namespaces and code) rather than its data:
 * together they always retain much, and say nothing about a leak. */
static bool structural(const char *type)
{
	static const char *const names[] = {
		"type", "module", "dict", "function", "code", "cell", "frame",
		"builtin_function_or_method", "method_descriptor", "wrapper_descriptor",
		"getset_descriptor", "member_descriptor", "classmethod", "staticmethod",
		"property",
	};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcmp(type, names[k]))
			return true;
	return false;
}

/* Types whose instances, the topmost of each dominator chain and each
 * below a tenth of min, retain at least min together; placed where most of them
 * accumulate (the parent holding most of their bytes). */
static struct pyhs_error *type_suspects(struct ctx *c, struct pyhs_suspects *s,
					uint64_t min, size_t max)
{
	const struct pyhs_heap *h = c->h;
	uint64_t n = pyhs_heap_nobjects(h);
	uint32_t nt = pyhs_heap_ntypes(h);
	uint32_t *active = calloc(nt + 1, sizeof(*active));
	uint64_t *sum = calloc(nt + 1, sizeof(*sum));
	uint64_t *cnt = calloc(nt + 1, sizeof(*cnt));
	uint8_t *topmost = calloc(n + 1, 1);
	/* Depth-first: (node, next child) pairs. */
	uint64_t *stack = malloc((n + 1) * 2 * sizeof(*stack));
	uint64_t *best = NULL, *pbytes = NULL, *pcount = NULL;
	uint32_t *psample = NULL, *ptouched = NULL;
	struct pyhs_error *err = NULL;
	if (!active || !sum || !cnt || !topmost || !stack) {
		err = &pyhs_enomem;
		goto out;
	}
	/* Many small instances make a type suspect; a large one is an object
	 * suspect of its own. */
	uint64_t small = min / 10 ? min / 10 : 1;
	uint64_t sp = 0;
	stack[sp++] = c->top;
	stack[sp++] = 0;
	while (sp) {
		uint64_t v = stack[sp - 2], k = stack[sp - 1];
		const uint32_t *ch;
		uint64_t nc = pyhs_domtree_children(c->t, v, &ch);
		if (k < nc) {
			stack[sp - 1]++;
			uint32_t u = ch[k];
			uint32_t ty = h->type.data[u];
			if (!active[ty]) {
				topmost[u] = 1;
				if (retained(c, u) < small) {
					sum[ty] += retained(c, u);
					cnt[ty]++;
				}
			}
			active[ty]++;
			stack[sp++] = u;
			stack[sp++] = 0;
			continue;
		}
		sp -= 2;
		if (v != c->top)
			active[h->type.data[v]]--;
	}
	size_t first = s->n;
	for (uint32_t ty = 0; ty < nt; ty++) {
		if (sum[ty] < min || cnt[ty] < 2 || structural(pyhs_heap_type_name(h, ty)))
			continue;
		struct pyhs_suspect *x = append(s, PYHS_SUSPECT_TYPE);
		if (!x) {
			err = &pyhs_enomem;
			goto out;
		}
		x->obj = UINT32_MAX;
		x->type = ty;
		x->retained = sum[ty];
		x->count = cnt[ty];
		x->point = UINT32_MAX;
		x->sample = UINT32_MAX;
		x->acc_type = ty;
	}
	sort_from(s, first, by_retained_desc);
	if (s->n - first > max)
		s->n = first + max;
	/* Where each suspect type's instances gather: the dominator parent
	 * holding most of their retained size, the first such in parent
	 * order (the top node last), and its largest instance. Each parent's
	 * children come largest retained first (then by number), so the
	 * first instance met under a parent is its largest. One pass for all
	 * the suspect types: slot[ty] is 1 + the suspect of type ty (active
	 * is all zeros again). */
	size_t ns = s->n - first;
	uint32_t *slot = active;
	best = calloc(ns + 1, sizeof(*best));
	pbytes = calloc(ns + 1, sizeof(*pbytes));
	pcount = calloc(ns + 1, sizeof(*pcount));
	psample = calloc(ns + 1, sizeof(*psample));
	ptouched = calloc(ns + 1, sizeof(*ptouched));
	if (!best || !pbytes || !pcount || !psample || !ptouched) {
		err = &pyhs_enomem;
		goto out;
	}
	for (size_t q = 0; q < ns; q++)
		slot[s->s[first + q].type] = (uint32_t)q + 1;
	const uint32_t *type = h->type.data;
	for (uint64_t p = 0; p <= c->top && ns; p++) {
		const uint32_t *ch;
		uint64_t nc = pyhs_domtree_children(c->t, p, &ch);
		size_t ntouched = 0;
		for (uint64_t k = 0; k < nc; k++) {
			uint32_t u = ch[k];
			if (!topmost[u] || !slot[type[u]])
				continue;
			uint32_t q = slot[type[u]] - 1;
			uint64_t r = retained(c, u);
			if (r >= small)
				continue;
			if (!pcount[q]) {
				psample[q] = u;
				ptouched[ntouched++] = q;
			}
			pbytes[q] += r;
			pcount[q]++;
		}
		for (size_t j = 0; j < ntouched; j++) {
			uint32_t q = ptouched[j];
			struct pyhs_suspect *x = &s->s[first + q];
			if (pbytes[q] > best[q]) {
				best[q] = pbytes[q];
				x->point = p == c->top ? UINT32_MAX : (uint32_t)p;
				x->point_retained = p == c->top ? 0 : retained(c, p);
				x->acc_count = pcount[q];
				x->acc_bytes = pbytes[q];
				x->sample = psample[q];
			}
			pbytes[q] = pcount[q] = 0;
		}
	}
out:
	free(best);
	free(pbytes);
	free(pcount);
	free(psample);
	free(ptouched);
	free(active);
	free(sum);
	free(cnt);
	free(topmost);
	free(stack);
	return err;
}

/* Objects held only by references no object or named root explains,
 * largest retained first (types and modules, which C holds all the time,
 * left out). */
static struct pyhs_error *c_suspects(struct ctx *c, const struct pyhs_analysis *a,
				     struct pyhs_suspects *s, size_t max)
{
	const struct pyhs_heap *h = c->h;
	size_t first = s->n;
	for (uint64_t k = pyhs_heap_nroots(h); k < pyhs_analysis_nroots(a); k++) {
		uint32_t o = pyhs_analysis_root(a, k);
		if (pyhs_heap_is_type(h, o) || pyhs_heap_is_module(h, o))
			continue;
		struct pyhs_error *err = add(c, s, PYHS_SUSPECT_C_HELD, o, UINT64_MAX);
		if (err)
			return err;
		/* Named as held by C, not by what dominates it. */
		struct pyhs_suspect *x = &s->s[s->n - 1];
		x->obj = o;
		x->type = pyhs_heap_type_of(h, o);
		x->retained = retained(c, o);
		x->count = pyhs_domtree_count(c->t, o);
	}
	sort_from(s, first, by_retained_desc);
	s->nc_held = s->n - first;
	if (s->n - first > max)
		s->n = first + max;
	return NULL;
}

static struct pyhs_error *ctx_init(struct ctx *c, const struct pyhs_domtree *t)
{
	const struct pyhs_heap *h = pyhs_analysis_heap(pyhs_domtree_analysis(t));
	uint32_t nt = pyhs_heap_ntypes(h);
	c->h = h;
	c->t = t;
	c->top = pyhs_domtree_top(t);
	c->tbytes = calloc(nt + 1, sizeof(*c->tbytes));
	c->tcount = calloc(nt + 1, sizeof(*c->tcount));
	c->tlargest = calloc(nt + 1, sizeof(*c->tlargest));
	c->touched = calloc(nt + 1, sizeof(*c->touched));
	if (!c->tbytes || !c->tcount || !c->tlargest || !c->touched)
		return &pyhs_enomem;
	return NULL;
}

static void ctx_deinit(struct ctx *c)
{
	free(c->tbytes);
	free(c->tcount);
	free(c->tlargest);
	free(c->touched);
}

void pyhs_suspects_destroy(struct pyhs_suspects *s)
{
	if (!s)
		return;
	free(s->s);
	free(s);
}

struct pyhs_error *pyhs_suspects_find(const struct pyhs_domtree *t,
				      const struct pyhs_suspect_options *opts,
				      struct pyhs_suspects **ret)
{
	const struct pyhs_analysis *a = pyhs_domtree_analysis(t);
	struct ctx c = { 0 };
	struct pyhs_suspects *s = calloc(1, sizeof(*s));
	struct pyhs_error *err = s ? ctx_init(&c, t) : &pyhs_enomem;
	if (err)
		goto out;
	s->total = retained(&c, c.top);
	double share = opts->threshold > 0 ? opts->threshold : 0.10;
	uint64_t min = (uint64_t)(share * (double)s->total);
	if (!min)
		min = 1;
	s->min = min;
	size_t max = opts->max ? opts->max : 10;
	size_t first = s->n;
	if ((err = object_suspects(&c, s, min)))
		goto out;
	sort_from(s, first, by_retained_desc);
	if (s->n - first > max)
		s->n = first + max;
	if ((err = type_suspects(&c, s, min, max)))
		goto out;
	err = c_suspects(&c, a, s, max);
out:
	ctx_deinit(&c);
	if (err) {
		pyhs_suspects_destroy(s);
		return err;
	}
	*ret = s;
	return NULL;
}

/* ---- growth: the same holders in two heaps ---- */

/* A place that holds a large share of its heap: a dominator node
 * retaining at least a floor and a twentieth of its parent. What it
 * retains itself is its retained size less its large children's. */
struct place {
	char *name;
	uint32_t obj;
	uint64_t own;
};

static int by_name(const void *x, const void *y)
{
	const struct place *a = x, *b = y;
	return strcmp(a->name, b->name);
}

/* Addresses differ from one heap to the next ("held by C code: dict
 * 0x7f..."): masked so that the same place matches. */
static void mask_addresses(char *s)
{
	char *o = s;
	for (const char *c = s; *c;) {
		if (c[0] == '0' && c[1] == 'x' && isxdigit((unsigned char)c[2])) {
			for (c += 2; isxdigit((unsigned char)*c); c++)
				;
			/* At least three characters read: o stays behind c. */
			*o++ = '0';
			*o++ = 'x';
			*o++ = '*';
			continue;
		}
		*o++ = *c++;
	}
	*o = '\0';
}

static void places_free(struct place *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].name);
	free(p);
}

static struct pyhs_error *places(const struct pyhs_domtree *t,
				 const struct pyhs_holders *hs, uint64_t floor,
				 struct place **ret, size_t *ret_n)
{
	const struct pyhs_heap *h = pyhs_analysis_heap(pyhs_domtree_analysis(t));
	uint64_t n = pyhs_heap_nobjects(h);
	uint64_t top = pyhs_domtree_top(t);
	uint64_t *stack = malloc((n + 1) * sizeof(*stack));
	struct place *p = NULL;
	size_t np = 0, cap = 0;
	if (!stack)
		return &pyhs_enomem;
	uint64_t sp = 0;
	stack[sp++] = top;
	char name[512];
	while (sp) {
		uint64_t v = stack[--sp];
		uint64_t rv = pyhs_domtree_retained(t, v);
		const uint32_t *ch;
		uint64_t nc = pyhs_domtree_children(t, v, &ch);
		uint64_t big = 0;
		for (uint64_t k = 0; k < nc; k++) {
			uint64_t r = pyhs_domtree_retained(t, ch[k]);
			if (r < floor)
				break;
			if (v != top && r * 20 < rv)
				continue;
			big += r;
			stack[sp++] = ch[k];
		}
		if (v == top)
			continue;
		if (np == cap) {
			cap = cap ? cap * 2 : 256;
			struct place *q = realloc(p, cap * sizeof(*q));
			if (!q)
				goto oom;
			p = q;
		}
		pyhs_holders_name(hs, v, name, sizeof(name));
		size_t len = strlen(name);
		const char *tn = pyhs_heap_type_name(h, pyhs_heap_type_of(h, v));
		/* Keyed by holder and type: a place holds one kind of thing. */
		p[np].name = malloc(len + strlen(tn) + 2);
		if (!p[np].name)
			goto oom;
		snprintf(p[np].name, len + strlen(tn) + 2, "%s\t%s", name, tn);
		mask_addresses(p[np].name);
		p[np].obj = (uint32_t)v;
		p[np].own = rv - big;
		np++;
	}
	free(stack);
	if (np > 1)
		qsort(p, np, sizeof(*p), by_name);
	*ret = p;
	*ret_n = np;
	return NULL;
oom:
	free(stack);
	places_free(p, np);
	return &pyhs_enomem;
}

static int by_growth_desc(const void *x, const void *y)
{
	const struct pyhs_suspect *a = x, *b = y;
	if (a->growth != b->growth)
		return a->growth < b->growth ? 1 : -1;
	return a->obj < b->obj ? -1 : a->obj > b->obj;
}

struct pyhs_error *pyhs_suspects_growth(const struct pyhs_domtree *ta,
					const struct pyhs_holders *hsa,
					const struct pyhs_domtree *tb,
					const struct pyhs_holders *hsb,
					const struct pyhs_suspect_options *opts,
					struct pyhs_suspects **ret)
{
	uint64_t total_a = pyhs_domtree_retained(ta, pyhs_domtree_top(ta));
	uint64_t total_b = pyhs_domtree_retained(tb, pyhs_domtree_top(tb));
	uint64_t floor = (total_a > total_b ? total_a : total_b) / 1000;
	if (floor < 4096)
		floor = 4096;
	struct place *pa = NULL, *pb = NULL;
	size_t na = 0, nb = 0;
	struct ctx c = { 0 };
	struct pyhs_suspects *s = calloc(1, sizeof(*s));
	struct pyhs_error *err = s ? NULL : &pyhs_enomem;
	if (!err)
		err = places(ta, hsa, floor, &pa, &na);
	if (!err)
		err = places(tb, hsb, floor, &pb, &nb);
	if (!err)
		err = ctx_init(&c, tb);
	if (err)
		goto out;
	s->total = total_b;
	s->total_before = total_a;
	/* Merge by name; a place in b alone grew from nothing. */
	size_t i = 0;
	for (size_t j = 0; j < nb; j++) {
		while (i < na && strcmp(pa[i].name, pb[j].name) < 0)
			i++;
		uint64_t before = 0;
		for (size_t k = i; k < na && !strcmp(pa[k].name, pb[j].name); k++)
			before += pa[k].own;
		/* Several places of one name in b: the first takes the whole
		 * "before", the others add on. */
		if (j > 0 && !strcmp(pb[j - 1].name, pb[j].name))
			before = 0;
		if (pb[j].own <= before)
			continue;
		struct pyhs_suspect *x = append(s, PYHS_SUSPECT_GROWTH);
		if (!x) {
			err = &pyhs_enomem;
			goto out;
		}
		x->obj = pb[j].obj;
		x->type = pyhs_heap_type_of(c.h, x->obj);
		x->retained = pyhs_domtree_retained(tb, x->obj);
		x->count = pyhs_domtree_count(tb, x->obj);
		x->before = before;
		x->growth = (int64_t)(pb[j].own - before);
		x->point = x->obj;
		x->point_retained = x->retained;
		accumulated(&c, x, x->obj, floor);
	}
	sort_from(s, 0, by_growth_desc);
	size_t max = opts->max ? opts->max : 10;
	if (s->n > max)
		s->n = max;
	s->min = floor;
out:
	ctx_deinit(&c);
	places_free(pa, na);
	places_free(pb, nb);
	if (err) {
		pyhs_suspects_destroy(s);
		return err;
	}
	*ret = s;
	return NULL;
}
