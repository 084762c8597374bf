/*
 * asyncio tasks, read from the object graph alone (so a snapshot answers as
 * the core did): every C _asyncio.Task and pure-Python asyncio Task, its
 * loop, name, state, the chain of coroutines it is suspended in (each
 * coroutine's cr_await / gi_yieldfrom, as the walk labels it, and where its
 * frame is, as the walk gives it in the coroutine's value), what it waits on
 * at the bottom, who awaits it, and where asyncio keeps it.
 *
 * The walk names the fields of C futures and tasks as the pure-Python
 * classes name their attributes (_loop, _coro, _fut_waiter, _name, ...), so
 * one attribute lookup serves both.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

#define NONE UINT32_MAX
/* A coroutine chain longer than this is taken to loop. */
#define MAX_CHAIN 1024
/* Objects a handle in a loop's queues is searched through for its task. */
#define HANDLE_DEPTH 3

/* ---- the graph: attributes and referrers ---- */

/* A label naming an attribute or field name (".name"). */
static bool is_attr(const struct pyhs_heap *h, uint32_t lab, const char *name)
{
	return pyhs_heap_label_is(h, lab, PYHS_LABEL_FIELD, name) ||
	       pyhs_heap_label_is(h, lab, PYHS_LABEL_ATTR, name);
}

/* The object obj refers to as attribute name (".name", or "['name']" in its
 * __dict__), or NONE. */
static uint32_t attr(const struct pyhs_heap *h, uint32_t obj, const char *name)
{
	uint32_t dict = NONE;
	for (uint64_t e = h->edge_start.data[obj]; e < h->edge_start.data[obj + 1]; e++) {
		uint32_t lab = h->edge_label.data[e];
		if (is_attr(h, lab, name))
			return h->edge_dst.data[e];
		if (is_attr(h, lab, "__dict__"))
			dict = h->edge_dst.data[e];
	}
	if (dict == NONE)
		return NONE;
	for (uint64_t e = h->edge_start.data[dict]; e < h->edge_start.data[dict + 1]; e++)
		if (pyhs_heap_label_is(h, h->edge_label.data[e], PYHS_LABEL_DICT_VALUE, name))
			return h->edge_dst.data[e];
	return NONE;
}

static const char *type_name(const struct pyhs_heap *h, uint32_t obj)
{
	return pyhs_heap_type_name(h, h->type.data[obj]);
}

static enum pyhs_kind kind_of(const struct pyhs_heap *h, uint32_t obj)
{
	return (enum pyhs_kind)pyhs_heap_type_kind(h, h->type.data[obj]);
}

static bool name_ends(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);
	return a >= b && !strcmp(s + a - b, end);
}

/* Pairs (key[k], a[k], b[k]) for k < m grouped by key: the a (and b) of
 * key K are at [start[K], start[K + 1]). b may be NULL. */
struct groups {
	uint64_t *start; /* nkeys + 1 */
	uint32_t *a;
	uint32_t *b;
};

static bool groups_build(uint64_t nkeys, uint64_t m, const uint32_t *key,
			 const uint32_t *a, const uint32_t *b, struct groups *g)
{
	g->start = calloc(nkeys + 1, sizeof(*g->start));
	g->a = malloc((m ? m : 1) * sizeof(*g->a));
	g->b = b ? malloc((m ? m : 1) * sizeof(*g->b)) : NULL;
	uint64_t *fill = malloc((nkeys ? nkeys : 1) * sizeof(*fill));
	if (!g->start || !g->a || (b && !g->b) || !fill) {
		free(fill);
		return false;
	}
	for (uint64_t k = 0; k < m; k++)
		g->start[key[k] + 1]++;
	for (uint64_t i = 0; i < nkeys; i++)
		g->start[i + 1] += g->start[i];
	memcpy(fill, g->start, nkeys * sizeof(*fill));
	for (uint64_t k = 0; k < m; k++) {
		uint64_t at = fill[key[k]]++;
		g->a[at] = a[k];
		if (b)
			g->b[at] = b[k];
	}
	free(fill);
	return true;
}

static void groups_free(struct groups *g)
{
	free(g->start);
	free(g->a);
	free(g->b);
}

/* Referrers of every object (built only when there are tasks): the
 * objects referring to object i, a, and the labels, b. */
static bool referrers_build(const struct pyhs_heap *h, struct groups *r)
{
	uint64_t n = h->addr.size, m = h->edge_dst.size;
	uint32_t *src = malloc((m ? m : 1) * sizeof(*src));
	if (!src)
		return false;
	for (uint64_t i = 0; i < n; i++)
		for (uint64_t e = h->edge_start.data[i]; e < h->edge_start.data[i + 1]; e++)
			src[e] = (uint32_t)i;
	bool ok = groups_build(n, m, h->edge_dst.data, src, h->edge_label.data, r);
	free(src);
	return ok;
}

/* ---- building the list ---- */

struct builder {
	const struct pyhs_heap *h;
	struct pyhs_tasks *out;
	uint32_t *task_of; /* object -> task index, NONE */
	struct groups ref;
	size_t cap;
};

static void warn(struct pyhs_tasks *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(struct pyhs_tasks *t, const char *fmt, ...)
{
	t->nwarnings++;
	if (t->nexamples >= PYHS_TASKS_MAX_EXAMPLES)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	if (vasprintf(&msg, fmt, ap) >= 0)
		t->examples[t->nexamples++] = msg;
	va_end(ap);
}

/* Is obj an asyncio task: a C _asyncio.Task (or subclass), or an instance
 * of a Python class with the pure-Python Task's attributes? */
static bool is_task(const struct pyhs_heap *h, uint32_t obj)
{
	enum pyhs_kind k = kind_of(h, obj);
	if (k == K_TASK)
		return true;
	if (k != K_OBJECT || !strstr(type_name(h, obj), "Task"))
		return false;
	/* (_state is a class attribute until the task is done) */
	return attr(h, obj, "_coro") != NONE && attr(h, obj, "_fut_waiter") != NONE &&
	       attr(h, obj, "_loop") != NONE;
}

static bool is_future(const struct pyhs_heap *h, uint32_t obj)
{
	enum pyhs_kind k = kind_of(h, obj);
	if (k == K_TASK || k == K_FUTURE)
		return true;
	return k == K_OBJECT && attr(h, obj, "_loop") != NONE &&
	       attr(h, obj, "_callbacks") != NONE;
}

/* PENDING, CANCELLED, FINISHED: the value of a C future, the _state
 * attribute of a Python one. */
static enum pyhs_task_state future_state(const struct pyhs_heap *h, uint32_t obj)
{
	const char *v = NULL;
	if (kind_of(h, obj) == K_TASK || kind_of(h, obj) == K_FUTURE) {
		v = pyhs_heap_value(h, obj);
	} else {
		uint32_t s = attr(h, obj, "_state");
		/* the class's _state: pending */
		v = s != NONE ? pyhs_heap_value(h, s) : "PENDING";
	}
	if (!v)
		return PYHS_TASK_UNKNOWN;
	/* A C Task's value is "QUALNAME STATE", a C Future's "STATE". */
	const char *sp = strrchr(v, ' ');
	if (sp)
		v = sp + 1;
	if (!strcmp(v, "PENDING"))
		return PYHS_TASK_PENDING;
	if (!strcmp(v, "CANCELLED"))
		return PYHS_TASK_CANCELLED;
	if (!strcmp(v, "FINISHED"))
		return PYHS_TASK_DONE;
	return PYHS_TASK_UNKNOWN;
}

static char *task_name(const struct pyhs_heap *h, uint32_t obj)
{
	uint32_t n = attr(h, obj, "_name");
	const char *v = n != NONE ? pyhs_heap_value(h, n) : NULL;
	if (!v)
		return NULL;
	/* 3.13+ C tasks name themselves lazily: a counter until asked. */
	if (kind_of(h, n) == K_INT) {
		char buf[48];
		snprintf(buf, sizeof(buf), "Task-%s", v);
		return strdup(buf);
	}
	return strdup(v);
}

/* "QUALNAME (FILE:LINE) STATE" or "QUALNAME (FILE) STATE" (STATE, as
 * values.c gives it, may be missing), the value the walk gives a
 * coroutine, into a frame. */
static bool parse_location(const char *v, struct pyhs_task_frame *f)
{
	const char *open = v ? strstr(v, " (") : NULL;
	const char *close = v ? strrchr(v, ')') : NULL;
	if (!open || !close || close < open || (close[1] && (close[1] != ' ' || strchr(close + 2, ' '))))
		return false;
	f->function = strndup(v, (size_t)(open - v));
	const char *file = open + 2, *end = close;
	const char *colon = end;
	while (colon > file && colon[-1] >= '0' && colon[-1] <= '9')
		colon--;
	f->line = -1;
	if (colon > file && colon < end && colon[-1] == ':') {
		f->line = atoi(colon);
		end = colon - 1;
	}
	f->file = strndup(file, (size_t)(end - file));
	return f->function && f->file;
}

/* What a generator or coroutine is suspended awaiting, or NONE: its
 * .cr_await / .gi_yieldfrom / .ag_await (3.11+), or that of its frame
 * (3.8-3.10). */
static uint32_t awaited(const struct pyhs_heap *h, uint32_t gen)
{
	static const char *const names[] = { "cr_await", "gi_yieldfrom", "ag_await" };
	for (size_t i = 0; i < 3; i++) {
		uint32_t a = attr(h, gen, names[i]);
		if (a != NONE)
			return a;
	}
	static const char *const frames[] = { "cr_frame", "gi_frame", "ag_frame" };
	for (size_t i = 0; i < 3; i++) {
		uint32_t f = attr(h, gen, frames[i]);
		if (f != NONE && kind_of(h, f) == K_FRAME)
			return attr(h, f, "f_yieldfrom");
	}
	return NONE;
}

static bool add_frame(struct pyhs_task *t, struct pyhs_task_frame f)
{
	struct pyhs_task_frame *n = realloc(t->frames, (t->nframes + 1) * sizeof(*n));
	if (!n)
		return false;
	t->frames = n;
	t->frames[t->nframes++] = f;
	return true;
}

/* Follows the coroutine chain of task t from its _coro; returns the first
 * object in it that is not a generator (what the innermost awaits), or
 * NONE. */
static uint32_t follow_chain(struct builder *b, struct pyhs_task *t, bool *ok)
{
	const struct pyhs_heap *h = b->h;
	uint32_t c = attr(h, t->obj, "_coro");
	uint32_t seen[64];
	size_t nseen = 0;
	for (size_t depth = 0; c != NONE; depth++) {
		if (kind_of(h, c) != K_GEN)
			return c;
		bool loops = depth >= MAX_CHAIN;
		for (size_t k = 0; k < nseen && !loops; k++)
			loops = seen[k] == c;
		if (loops) {
			t->corrupt = true;
			warn(b->out, "task %s at 0x%" PRIx64 ": its coroutine chain loops at 0x%" PRIx64,
			     t->name ? t->name : "?", h->addr.data[t->obj], h->addr.data[c]);
			return NONE;
		}
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = c;
		else
			seen[depth % nseen] = c;
		struct pyhs_task_frame f = { .obj = c, .line = -1 };
		if (!parse_location(pyhs_heap_value(h, c), &f)) {
			free(f.function);
			free(f.file);
			f.function = strdup("?");
			f.file = strdup("?");
			f.line = -1;
			t->corrupt = true;
			warn(b->out, "task %s at 0x%" PRIx64 ": coroutine 0x%" PRIx64 " has no readable frame",
			     t->name ? t->name : "?", h->addr.data[t->obj], h->addr.data[c]);
		}
		if (!f.function || !f.file || !add_frame(t, f)) {
			free(f.function);
			free(f.file);
			*ok = false;
			return NONE;
		}
		c = awaited(h, c);
	}
	return NONE;
}

/* The owner of dict d when it is an instance's __dict__, else NONE. */
static uint32_t dict_owner(const struct builder *b, uint32_t d)
{
	for (uint64_t k = b->ref.start[d]; k < b->ref.start[d + 1]; k++)
		if (is_attr(b->h, b->ref.b[k], "__dict__"))
			return b->ref.a[k];
	return NONE;
}

/* "TYPE .attr": what holder is and the attribute label (".x", "['x']") it
 * holds something through. */
static void holder_text(const struct pyhs_heap *h, uint32_t holder, uint32_t label,
			char *buf, size_t n)
{
	char l[128], a[128];
	if (!pyhs_heap_format_label(h, label, l, sizeof(l)))
		l[0] = '\0';
	const char *s = l[0] == '[' && l[1] == '\'' ? l + 2 : l[0] == '.' ? l + 1 : l;
	snprintf(a, sizeof(a), "%s", s);
	char *q = strchr(a, '\'');
	if (q)
		*q = '\0';
	snprintf(buf, n, "future of %s%s%s", type_name(h, holder), a[0] ? " ." : "", a);
}

/* An object that can be said to hold a future: an instance, not the
 * machinery around every future (tasks, frames, coroutines, iterators). */
static bool plain_holder(const struct pyhs_heap *h, uint32_t o)
{
	enum pyhs_kind k = kind_of(h, o);
	if (k != K_OBJECT && k != K_OPAQUE)
		return false;
	const char *tn = type_name(h, o);
	return !is_future(h, o) && !strstr(tn, "FutureIter") && !strstr(tn, "method") &&
	       !strstr(tn, "cell") && !strstr(tn, "Handle") && !strstr(tn, "Context");
}

/* An instance that holds o as an attribute (in its __dict__ or not), into
 * buf as holder_text says it. */
static bool instance_holder(const struct builder *b, uint32_t o, char *buf, size_t n)
{
	const struct groups *r = &b->ref;
	for (uint64_t k = r->start[o]; k < r->start[o + 1]; k++) {
		uint32_t owner = r->a[k];
		if (kind_of(b->h, owner) == K_DICT)
			owner = dict_owner(b, owner);
		if (owner != NONE && plain_holder(b->h, owner)) {
			holder_text(b->h, owner, r->b[k], buf, n);
			return true;
		}
	}
	return false;
}

/* What holds a future that a task waits on: a TimerHandle through its
 * _args (a sleep), an object (Event, Lock, Queue, TaskGroup, ...) through
 * an attribute or a container in one; writes it into buf. */
static bool describe_holder(struct builder *b, uint32_t fut, char *buf, size_t n)
{
	const struct pyhs_heap *h = b->h;
	const struct groups *r = &b->ref;
	/* A timer first: what a sleep waits for. */
	for (uint64_t k = r->start[fut]; k < r->start[fut + 1]; k++) {
		uint32_t c = r->a[k];
		if (kind_of(h, c) != K_TUPLE)
			continue;
		for (uint64_t k2 = r->start[c]; k2 < r->start[c + 1]; k2++) {
			uint32_t t = r->a[k2];
			if (!strstr(type_name(h, t), "TimerHandle"))
				continue;
			uint32_t when = attr(h, t, "_when");
			const char *w = when != NONE ? pyhs_heap_value(h, when) : NULL;
			snprintf(buf, n, "timer (TimerHandle at loop time %s)", w ? w : "?");
			return true;
		}
	}
	/* An attribute of an instance, or an item of a container that is. */
	if (instance_holder(b, fut, buf, n))
		return true;
	for (uint64_t k = r->start[fut]; k < r->start[fut + 1]; k++) {
		uint32_t c = r->a[k];
		enum pyhs_kind ck = kind_of(h, c);
		if ((ck == K_DEQUE || ck == K_LIST || ck == K_SET || ck == K_ODICT ||
		     ck == K_DICT) && instance_holder(b, c, buf, n))
			return true;
	}
	return false;
}

static bool add_awaiter(struct pyhs_task *child, uint32_t parent, const char *via)
{
	for (size_t i = 0; i < child->nawaited_by; i++)
		if (child->awaited_by[i].task == parent)
			return true;
	struct pyhs_task_awaiter *n = realloc(child->awaited_by,
					      (child->nawaited_by + 1) * sizeof(*n));
	if (!n)
		return false;
	child->awaited_by = n;
	child->awaited_by[child->nawaited_by++] = (struct pyhs_task_awaiter){ parent, via };
	return true;
}

/* What task t waits on: its _fut_waiter, else the bottom of its chain.
 * Records t as the awaiter of the tasks it waits on. */
static bool describe_awaits(struct builder *b, size_t ti, uint32_t bottom)
{
	const struct pyhs_heap *h = b->h;
	struct pyhs_task *t = &b->out->tasks[ti];
	uint32_t fut = attr(h, t->obj, "_fut_waiter");
	if (fut != NONE && !is_future(h, fut))
		fut = NONE; /* None: the pure-Python task's when it waits on nothing */
	if (fut == NONE && bottom != NONE) {
		fut = bottom;
		/* A C future's iterator refers to its future. */
		if (name_ends(type_name(h, fut), "FutureIter")) {
			uint64_t e = h->edge_start.data[fut];
			fut = e < h->edge_start.data[fut + 1] ? h->edge_dst.data[e] : NONE;
		}
	}
	if (fut == NONE || kind_of(h, fut) == K_GEN)
		return true;
	char buf[256];
	uint32_t other = b->task_of[fut];
	if (other != NONE) {
		t->awaits_task = other;
		const char *n = b->out->tasks[other].name;
		snprintf(buf, sizeof(buf), "task %s", n ? n : "?");
		if (!add_awaiter(&b->out->tasks[other], (uint32_t)ti, "await"))
			return false;
	} else if (attr(h, fut, "_children") != NONE) {
		uint32_t list = attr(h, fut, "_children");
		size_t o = (size_t)snprintf(buf, sizeof(buf), "gather of");
		size_t nchildren = 0;
		for (uint64_t e = h->edge_start.data[list]; e < h->edge_start.data[list + 1]; e++) {
			uint32_t c = h->edge_dst.data[e];
			if (PYHS_LABEL_KIND(h->edge_label.data[e]) != PYHS_LABEL_INDEX)
				continue;
			nchildren++;
			uint32_t ct = b->task_of[c];
			if (ct == NONE)
				continue;
			if (!add_awaiter(&b->out->tasks[ct], (uint32_t)ti, "gather"))
				return false;
			const char *n = b->out->tasks[ct].name;
			if (o + 40 < sizeof(buf))
				o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %s",
						      nchildren > 1 ? "," : "", n ? n : "?");
		}
		if (!nchildren)
			snprintf(buf + o, sizeof(buf) - o, " nothing");
	} else if (!describe_holder(b, fut, buf, sizeof(buf))) {
		snprintf(buf, sizeof(buf), "future (%s)", type_name(h, fut));
	}
	t->awaits_obj = fut;
	return (t->awaits = strdup(buf)) != NULL;
}

/* TaskGroup (3.11+): an object with _parent_task and a _tasks set awaits
 * every task in the set for its parent. 3.14 C tasks also keep who awaits
 * them in _awaited_by (a future or task, or a set of them). */
static bool task_groups(struct builder *b)
{
	const struct pyhs_heap *h = b->h;
	for (uint32_t i = 0; i < h->addr.size; i++) {
		if (kind_of(h, i) != K_OBJECT || !strstr(type_name(h, i), "TaskGroup"))
			continue;
		uint32_t parent = attr(h, i, "_parent_task"), set = attr(h, i, "_tasks");
		if (parent == NONE || set == NONE || b->task_of[parent] == NONE)
			continue;
		for (uint64_t e = h->edge_start.data[set]; e < h->edge_start.data[set + 1]; e++) {
			uint32_t c = b->task_of[h->edge_dst.data[e]];
			if (c != NONE && !add_awaiter(&b->out->tasks[c], b->task_of[parent], "TaskGroup"))
				return false;
		}
	}
	for (size_t ti = 0; ti < b->out->n; ti++) {
		uint32_t by = attr(h, b->out->tasks[ti].obj, "_awaited_by");
		if (by == NONE)
			continue;
		if (b->task_of[by] != NONE) {
			if (!add_awaiter(&b->out->tasks[ti], b->task_of[by], "await"))
				return false;
			continue;
		}
		for (uint64_t e = h->edge_start.data[by]; e < h->edge_start.data[by + 1]; e++) {
			uint32_t p = b->task_of[h->edge_dst.data[e]];
			if (p != NONE && !add_awaiter(&b->out->tasks[ti], p, "await"))
				return false;
		}
	}
	return true;
}

/* Marks the tasks within HANDLE_DEPTH references of a handle (its
 * _callback, a bound method or step wrapper, then the task). */
static void mark_from(struct builder *b, uint32_t handle, unsigned bit)
{
	const struct pyhs_heap *h = b->h;
	uint32_t frontier[64], next[64];
	size_t nf = 1, nn;
	frontier[0] = handle;
	for (int d = 0; d < HANDLE_DEPTH && nf; d++) {
		nn = 0;
		for (size_t i = 0; i < nf; i++) {
			uint32_t o = frontier[i];
			for (uint64_t e = h->edge_start.data[o]; e < h->edge_start.data[o + 1]; e++) {
				uint32_t dst = h->edge_dst.data[e];
				if (b->task_of[dst] != NONE) {
					b->out->tasks[b->task_of[dst]].found_in |= bit;
					continue;
				}
				enum pyhs_kind k = kind_of(h, dst);
				if (k == K_TYPE || k == K_MODULE || k == K_DICT || k == K_STR ||
				    k == K_CODE || k == K_GEN || nn >= 64)
					continue;
				next[nn++] = dst;
			}
		}
		memcpy(frontier, next, nn * sizeof(*next));
		nf = nn;
	}
}

static void mark_queue(struct builder *b, uint32_t queue, unsigned bit)
{
	const struct pyhs_heap *h = b->h;
	if (queue == NONE)
		return;
	for (uint64_t e = h->edge_start.data[queue]; e < h->edge_start.data[queue + 1]; e++)
		if (PYHS_LABEL_KIND(h->edge_label.data[e]) == PYHS_LABEL_INDEX)
			mark_from(b, h->edge_dst.data[e], bit);
}

static bool add_loop(struct builder *b, uint32_t loop)
{
	struct pyhs_tasks *o = b->out;
	for (size_t i = 0; i < o->nloops; i++)
		if (o->loops[i].obj == loop)
			return true;
	struct pyhs_task_loop *n = realloc(o->loops, (o->nloops + 1) * sizeof(*n));
	if (!n)
		return false;
	o->loops = n;
	uint32_t closed = attr(b->h, loop, "_closed");
	const char *v = closed != NONE ? pyhs_heap_value(b->h, closed) : NULL;
	o->loops[o->nloops++] = (struct pyhs_task_loop){
		loop, v && !strcmp(v, "True")
	};
	mark_queue(b, attr(b->h, loop, "_ready"), PYHS_TASK_IN_READY);
	mark_queue(b, attr(b->h, loop, "_scheduled"), PYHS_TASK_IN_SCHEDULED);
	return true;
}

/* Where asyncio registers tasks: asyncio.tasks._all_tasks (a WeakSet, up to
 * 3.11), _scheduled_tasks (3.12+) and _eager_tasks (a set, 3.12+), and the
 * lists of the thread states (3.14+, roots the walk names). */
static void registries(struct builder *b)
{
	const struct pyhs_heap *h = b->h;
	const struct groups *r = &b->ref;
	for (uint64_t k = 0; k < h->roots.size; k++) {
		uint32_t t = b->task_of[h->roots.data[k].obj];
		enum pyhs_root_kind rk = h->roots.data[k].info.kind;
		if (t != NONE && (rk == PYHS_ROOT_THREAD_TASKS || rk == PYHS_ROOT_INTERP_TASKS))
			b->out->tasks[t].found_in |= PYHS_TASK_IN_THREAD_LIST;
	}
	for (size_t ti = 0; ti < b->out->n; ti++) {
		struct pyhs_task *t = &b->out->tasks[ti];
		for (uint64_t k = r->start[t->obj]; k < r->start[t->obj + 1]; k++) {
			uint32_t src = r->a[k];
			enum pyhs_label_kind lk = PYHS_LABEL_KIND(r->b[k]);
			uint32_t set = NONE;
			if (lk == PYHS_LABEL_WEAK && kind_of(h, src) == K_WEAKREF) {
				/* the WeakSet's data set holds the weakref */
				for (uint64_t k2 = r->start[src]; k2 < r->start[src + 1] && set == NONE; k2++)
					if (kind_of(h, r->a[k2]) == K_SET)
						set = r->a[k2];
				if (set == NONE)
					continue;
				uint32_t ws = NONE;
				for (uint64_t k2 = r->start[set]; k2 < r->start[set + 1] && ws == NONE; k2++)
					if (is_attr(h, r->b[k2], "data") ||
					    pyhs_heap_label_is(h, r->b[k2], PYHS_LABEL_DICT_VALUE, "data"))
						ws = r->a[k2];
				/* data in the WeakSet's __dict__: the WeakSet */
				for (uint64_t k2 = ws != NONE && kind_of(h, ws) == K_DICT ? r->start[ws] : 0;
				     ws != NONE && kind_of(h, ws) == K_DICT && k2 < r->start[ws + 1]; k2++)
					if (is_attr(h, r->b[k2], "__dict__")) {
						ws = r->a[k2];
						break;
					}
				set = ws;
			} else if (lk == PYHS_LABEL_ITEM && kind_of(h, src) == K_SET) {
				set = src;
			}
			if (set == NONE)
				continue;
			/* The module global that names it. */
			for (uint64_t k2 = r->start[set]; k2 < r->start[set + 1]; k2++) {
				uint32_t lab = r->b[k2];
				if (pyhs_heap_label_is(h, lab, PYHS_LABEL_DICT_VALUE, "_all_tasks"))
					t->found_in |= PYHS_TASK_IN_ALL_TASKS;
				else if (pyhs_heap_label_is(h, lab, PYHS_LABEL_DICT_VALUE, "_scheduled_tasks"))
					t->found_in |= PYHS_TASK_IN_SCHEDULED_TASKS;
				else if (pyhs_heap_label_is(h, lab, PYHS_LABEL_DICT_VALUE, "_eager_tasks"))
					t->found_in |= PYHS_TASK_IN_EAGER_TASKS;
			}
		}
	}
}

static bool asyncio_imported(const struct pyhs_heap *h)
{
	for (uint32_t i = 0; i < h->addr.size; i++) {
		if (kind_of(h, i) != K_MODULE)
			continue;
		const char *v = pyhs_heap_value(h, i);
		if (v && (!strcmp(v, "asyncio") || !strcmp(v, "asyncio.tasks")))
			return true;
	}
	return false;
}

/* The tasks each task awaits: awaited_by inverted. */
static bool children(struct pyhs_tasks *t)
{
	size_t m = 0;
	for (size_t i = 0; i < t->n; i++)
		m += t->tasks[i].nawaited_by;
	uint32_t *parent = malloc((m ? m : 1) * sizeof(*parent));
	uint32_t *child = malloc((m ? m : 1) * sizeof(*child));
	bool ok = parent && child;
	for (size_t i = 0, k = 0; ok && i < t->n; i++)
		for (size_t j = 0; j < t->tasks[i].nawaited_by; j++, k++) {
			parent[k] = t->tasks[i].awaited_by[j].task;
			child[k] = (uint32_t)i;
		}
	struct groups g = { 0 };
	if (ok && groups_build(t->n, m, parent, child, NULL, &g)) {
		t->child_start = g.start;
		t->child = g.a;
	} else {
		groups_free(&g);
		ok = false;
	}
	free(parent);
	free(child);
	return ok;
}

void pyhs_tasks_destroy(struct pyhs_tasks *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		struct pyhs_task *k = &t->tasks[i];
		free(k->name);
		free(k->awaits);
		for (size_t f = 0; f < k->nframes; f++) {
			free(k->frames[f].function);
			free(k->frames[f].file);
		}
		free(k->frames);
		free(k->awaited_by);
	}
	for (size_t i = 0; i < t->nexamples; i++)
		free(t->examples[i]);
	free(t->tasks);
	free(t->loops);
	free(t->child_start);
	free(t->child);
	free(t);
}

struct pyhs_error *pyhs_tasks_find(const struct pyhs_heap *h,
				   struct pyhs_tasks **ret)
{
	struct pyhs_tasks *out = calloc(1, sizeof(*out));
	struct builder b = { .h = h, .out = out };
	uint64_t n = h->addr.size;
	if (!out || !(b.task_of = malloc((n ? n : 1) * sizeof(*b.task_of))))
		goto enomem;
	memset(b.task_of, 0xff, n * sizeof(*b.task_of));
	out->asyncio_imported = asyncio_imported(h);
	/* Task types are few: decide per type, then per object. */
	uint32_t ntypes = pyhs_heap_ntypes(h);
	uint8_t *maybe = calloc(ntypes ? ntypes : 1, 1);
	if (!maybe)
		goto enomem;
	for (uint32_t t = 0; t < ntypes; t++) {
		enum pyhs_kind k = (enum pyhs_kind)pyhs_heap_type_kind(h, t);
		const char *tn = pyhs_heap_type_name(h, t);
		if (k == K_TASK || (k == K_OBJECT && strstr(tn, "Task") && !strstr(tn, "TaskGroup")))
			maybe[t] = 1;
		else if (k == K_OBJECT && strstr(tn, "EventLoop"))
			maybe[t] = 2;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (maybe[h->type.data[i]] != 1 || pyhs_heap_is_type(h, i) || !is_task(h, i))
			continue;
		if (out->n == b.cap) {
			size_t cap = b.cap ? 2 * b.cap : 64;
			struct pyhs_task *nt = realloc(out->tasks, cap * sizeof(*nt));
			if (!nt) {
				free(maybe);
				goto enomem;
			}
			out->tasks = nt;
			b.cap = cap;
		}
		struct pyhs_task *t = &out->tasks[out->n];
		memset(t, 0, sizeof(*t));
		t->obj = i;
		t->loop = NONE;
		t->awaits_task = NONE;
		t->awaits_obj = NONE;
		b.task_of[i] = (uint32_t)out->n++;
	}
	if (out->n && !referrers_build(h, &b.ref)) {
		free(maybe);
		goto enomem;
	}
	uint32_t *bottoms = malloc((out->n ? out->n : 1) * sizeof(*bottoms));
	if (!bottoms) {
		free(maybe);
		goto enomem;
	}
	bool ok = true;
	for (size_t i = 0; i < out->n && ok; i++) {
		struct pyhs_task *t = &out->tasks[i];
		t->name = task_name(h, t->obj);
		t->state = future_state(h, t->obj);
		t->loop = attr(h, t->obj, "_loop");
		if (t->loop != NONE && !add_loop(&b, t->loop))
			ok = false;
		bottoms[i] = follow_chain(&b, t, &ok);
	}
	for (size_t i = 0; i < out->n && ok; i++)
		if (out->tasks[i].state == PYHS_TASK_PENDING)
			ok = describe_awaits(&b, i, bottoms[i]);
	free(bottoms);
	if (ok)
		ok = task_groups(&b);
	/* Loops that no task names any more (closed, or idle). */
	for (uint32_t i = 0; i < n && ok && out->asyncio_imported; i++)
		if (maybe[h->type.data[i]] == 2 && !pyhs_heap_is_type(h, i) &&
		    attr(h, i, "_closed") != NONE && attr(h, i, "_ready") != NONE)
			ok = add_loop(&b, i);
	free(maybe);
	if (!ok)
		goto enomem;
	registries(&b);
	if (!children(out))
		goto enomem;
	groups_free(&b.ref);
	free(b.task_of);
	*ret = out;
	return NULL;
enomem:
	groups_free(&b.ref);
	free(b.task_of);
	pyhs_tasks_destroy(out);
	return &pyhs_enomem;
}

static int by_outer_frame(const void *x, const void *y, void *arg)
{
	const struct pyhs_tasks *t = arg;
	const struct pyhs_task *a = &t->tasks[*(const size_t *)x];
	const struct pyhs_task *b = &t->tasks[*(const size_t *)y];
	int c = strcmp(a->frames[0].function, b->frames[0].function);
	if (!c)
		c = strcmp(a->frames[0].file, b->frames[0].file);
	if (!c)
		c = (a->frames[0].line > b->frames[0].line) - (a->frames[0].line < b->frames[0].line);
	return c;
}

static int by_count_desc(const void *x, const void *y)
{
	const struct pyhs_task_group *a = x, *b = y;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return (a->task > b->task) - (a->task < b->task);
}

struct pyhs_error *pyhs_tasks_pending_groups(const struct pyhs_tasks *t, uint64_t min,
					     struct pyhs_task_group **ret, size_t *ret_n)
{
	size_t n = 0;
	size_t *idx = malloc((t->n ? t->n : 1) * sizeof(*idx));
	struct pyhs_task_group *g = malloc((t->n ? t->n : 1) * sizeof(*g));
	if (!idx || !g) {
		free(idx);
		free(g);
		return &pyhs_enomem;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->tasks[i].state == PYHS_TASK_PENDING && t->tasks[i].nframes)
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), by_outer_frame, (void *)t);
	size_t ng = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n) {
			const struct pyhs_task_frame *a = &t->tasks[idx[i]].frames[0];
			const struct pyhs_task_frame *b = &t->tasks[idx[j]].frames[0];
			if (strcmp(a->function, b->function) || strcmp(a->file, b->file) ||
			    a->line != b->line)
				break;
			j++;
		}
		if (j - i >= min)
			g[ng++] = (struct pyhs_task_group){ idx[i], j - i };
		i = j;
	}
	free(idx);
	qsort(g, ng, sizeof(*g), by_count_desc);
	*ret = g;
	*ret_n = ng;
	return NULL;
}
