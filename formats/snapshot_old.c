/*
 * What snapshots of formats 1 to 3 kept as text, read back into data once,
 * here, and nowhere else.
 *
 * Roots (formats 1 and 2) were the text the walk rendered for each ("thread
 * 0 (MainThread) frame serve (app.py:62) local history"). Threads, their
 * frames and the frames' depths come from the order in which the walk
 * added the roots: a thread's frames innermost first, each frame's
 * references before its frame object, the words of value stacks last.
 *
 * A closure cell's contents (formats 1 to 3) were labelled by the field
 * text ".cell_contents (NAME)"; where a generator is and a C future's state
 * (formats 2 and 3) were only in their value texts.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_old.h"

struct parser {
	struct pyhs_heap_parts *p;
	pyhs_own_fn *own;
	void *ctx;
	const char **strings;   /* the pool, with what parsing adds */
	uint32_t nstrings, cap;
	struct pyhs_frame_info *frames;
	uint32_t nframes;
	struct pyhs_thread_info *threads;
	bool *ended;            /* per frame: its frame object has been seen */
};

/* The string id of s[0..n), added to the pool. */
static bool add_string(struct parser *ps, const char *s, size_t n, uint32_t *ret)
{
	if (ps->nstrings == ps->cap) {
		uint32_t cap = ps->cap * 2 + 16;
		const char **grown = ps->own(ps->ctx, cap, sizeof(*grown));
		if (!grown)
			return false;
		memcpy(grown, ps->strings, ps->nstrings * sizeof(*grown));
		ps->strings = grown;
		ps->cap = cap;
	}
	char *copy = ps->own(ps->ctx, n + 1, 1);
	if (!copy)
		return false;
	memcpy(copy, s, n);
	copy[n] = '\0';
	ps->strings[ps->nstrings] = copy;
	*ret = ps->nstrings++;
	return true;
}

/* Starts ps's pool with p's strings. */
static bool pool_begin(struct parser *ps, struct pyhs_heap_parts *p, pyhs_own_fn *own,
		       void *ctx)
{
	ps->p = p;
	ps->own = own;
	ps->ctx = ctx;
	ps->cap = p->nstrings;
	ps->nstrings = p->nstrings;
	ps->strings = own(ctx, ps->cap, sizeof(*ps->strings));
	if (!ps->strings)
		return false;
	memcpy(ps->strings, p->strings, p->nstrings * sizeof(*ps->strings));
	return true;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* "frame FUNC (FILE[:LINE])": into f; *ret_rest gets what follows. */
static bool parse_frame(struct parser *ps, const char *s, struct pyhs_frame_info *f,
			const char **ret_rest)
{
	if (!starts(s, "frame "))
		return false;
	s += 6;
	const char *open = strstr(s, " (");
	const char *close = open ? strchr(open + 2, ')') : NULL;
	if (!close)
		return false;
	const char *file = open + 2, *file_end = close;
	const char *colon = memrchr(file, ':', (size_t)(close - file));
	f->line = 0;
	if (colon && colon + 1 < close &&
	    strspn(colon + 1, "0123456789") == (size_t)(close - colon - 1)) {
		f->line = (int32_t)strtol(colon + 1, NULL, 10);
		file_end = colon;
	}
	if (!add_string(ps, s, (size_t)(open - s), &f->function) ||
	    !add_string(ps, file, (size_t)(file_end - file), &f->file))
		return false;
	f->code = UINT32_MAX;
	*ret_rest = close + 1;
	return true;
}

static struct pyhs_error *nomem(void)
{
	return &pyhs_enomem;
}

/* The frame of thread k that a root with frame f belongs to: the thread's
 * newest frame when it is the same place and not ended, else a new one; a
 * word of a value stack (stack) goes to the first frame of that place. */
static bool place_frame(struct parser *ps, uint32_t k, const struct pyhs_frame_info *f,
			bool stack, uint32_t *ret)
{
	struct pyhs_thread_info *t = &ps->threads[k];
	for (uint32_t i = t->first_frame; i < t->first_frame + t->nframes; i++) {
		const struct pyhs_frame_info *g = &ps->frames[i];
		bool same = g->line == f->line &&
			    !strcmp(ps->strings[g->function], ps->strings[f->function]) &&
			    !strcmp(ps->strings[g->file], ps->strings[f->file]);
		bool newest = i + 1 == t->first_frame + t->nframes;
		if (same && (stack || (newest && !ps->ended[i]))) {
			*ret = i;
			return true;
		}
	}
	/* A thread's frames are contiguous: its roots come together. */
	if (t->nframes && t->first_frame + t->nframes != ps->nframes)
		return false;
	if (!t->nframes)
		t->first_frame = ps->nframes;
	struct pyhs_frame_info nf = *f;
	nf.thread = k;
	nf.depth = t->nframes++;
	ps->frames[ps->nframes] = nf;
	*ret = ps->nframes++;
	return true;
}

struct pyhs_error *pyhs_snapshot_old_roots(struct pyhs_heap_parts *p,
					   const uint32_t *labels,
					   const uint64_t *ident,
					   const uint64_t *native_id,
					   pyhs_own_fn *own, void *ctx)
{
	struct parser ps = { 0 };
	uint64_t n = p->nroots;
	struct pyhs_root_info *roots = own(ctx, n, sizeof(*roots));
	ps.threads = own(ctx, p->nthreads, sizeof(*ps.threads));
	ps.frames = own(ctx, n, sizeof(*ps.frames));
	ps.ended = own(ctx, n, sizeof(*ps.ended));
	if (!roots || !ps.threads || !ps.frames || !ps.ended || !pool_begin(&ps, p, own, ctx))
		return nomem();
	memset(ps.ended, 0, n * sizeof(*ps.ended));
	for (size_t k = 0; k < p->nthreads; k++) {
		struct pyhs_thread_info t = { ident[k], native_id[k], PYHS_NO_STRING, 0, 0 };
		ps.threads[k] = t;
	}
#define BAD(...) pyhs_error_create(PYHS_ERROR_INPUT, __VA_ARGS__)
	for (uint64_t r = 0; r < n; r++) {
		uint32_t id = labels[r] & ~PYHS_ROOT_BORROWED;
		if (id >= p->nstrings)
			return BAD("root %" PRIu64 " is malformed", r);
		const char *s = p->strings[id];
		size_t len = strlen(s);
		struct pyhs_root_info ri = { PYHS_ROOT_OTHER, PYHS_NO_THREAD, PYHS_NO_FRAME,
					     PYHS_NO_STRING, !(labels[r] & PYHS_ROOT_BORROWED) };
		bool ok = true;
		if (!strcmp(s, "sys")) {
			ri.kind = PYHS_ROOT_SYS;
		} else if (!strcmp(s, "sys.modules")) {
			ri.kind = PYHS_ROOT_SYS_MODULES;
		} else if (!strcmp(s, "builtins")) {
			ri.kind = PYHS_ROOT_BUILTINS;
		} else if (!strcmp(s, "interned strings")) {
			ri.kind = PYHS_ROOT_INTERNED;
		} else if (!strcmp(s, "interpreter asyncio task list")) {
			ri.kind = PYHS_ROOT_INTERP_TASKS;
		} else if (starts(s, "type ")) {
			ri.kind = PYHS_ROOT_STATIC_TYPE;
			ok = add_string(&ps, s + 5, len - 5, &ri.name);
		} else if (starts(s, "module ") && ends(s, len, " state")) {
			ri.kind = PYHS_ROOT_MODULE_STATE;
			ok = add_string(&ps, s + 7, len - 13, &ri.name);
		} else if (starts(s, "module ") && ends(s, len, " definition")) {
			ri.kind = PYHS_ROOT_MODULE_DEF;
			ok = add_string(&ps, s + 7, len - 18, &ri.name);
		} else if (starts(s, "thread ") && s[7] >= '0' && s[7] <= '9') {
			char *end;
			unsigned long k = strtoul(s + 7, &end, 10);
			if (k >= p->nthreads)
				return BAD("root %" PRIu64 " names thread %lu of %zu", r, k,
					   p->nthreads);
			ri.thread = (uint32_t)k;
			const char *rest = end;
			/* " (NAME)" when threading named it; NAME may hold
			 * parentheses ("Thread-1 (worker)"). */
			if (starts(rest, " (")) {
				const char *close = strstr(rest, ") frame ");
				if (!close && (ends(rest, strlen(rest), ") dict") ||
					       ends(rest, strlen(rest), ") asyncio task list")))
					close = strrchr(rest, ')');
				if (!close)
					return BAD("root %" PRIu64 " is malformed", r);
				uint32_t name;
				if (ps.threads[k].name == PYHS_NO_STRING) {
					if (!add_string(&ps, rest + 2, (size_t)(close - rest - 2), &name))
						return nomem();
					ps.threads[k].name = name;
				}
				rest = close + 1;
			}
			struct pyhs_frame_info f;
			const char *after;
			if (!strcmp(rest, " dict")) {
				ri.kind = PYHS_ROOT_THREAD_DICT;
			} else if (!strcmp(rest, " asyncio task list")) {
				ri.kind = PYHS_ROOT_THREAD_TASKS;
			} else if (starts(rest, " ") && parse_frame(&ps, rest + 1, &f, &after)) {
				bool stack = false;
				if (!*after) {
					ri.kind = PYHS_ROOT_FRAME;
				} else if (starts(after, " local ")) {
					ri.kind = PYHS_ROOT_FRAME_LOCAL;
					ok = add_string(&ps, after + 7, strlen(after + 7), &ri.name);
				} else {
					ri.kind = PYHS_ROOT_FRAME_REF;
					stack = after[1] == '[';
					ok = add_string(&ps, after + 1, strlen(after + 1), &ri.name);
				}
				if (ok && !place_frame(&ps, ri.thread, &f, stack, &ri.frame))
					return BAD("root %" PRIu64 " is a frame of a thread whose frames are not together", r);
				if (ri.kind == PYHS_ROOT_FRAME)
					ps.ended[ri.frame] = true;
			} else {
				return BAD("root %" PRIu64 " is malformed", r);
			}
		} else {
			/* A holder the walk named by text alone. */
			ok = add_string(&ps, s, len, &ri.name);
		}
		if (!ok)
			return nomem();
		roots[r] = ri;
	}
#undef BAD
	p->roots = roots;
	p->nframes = ps.nframes;
	p->frames = ps.frames;
	p->threads = ps.threads;
	p->strings = ps.strings;
	p->nstrings = ps.nstrings;
	return NULL;
}

/* ---- closure cells (formats 1 to 3) ---- */

struct pyhs_error *pyhs_snapshot_old_cells(struct pyhs_heap_parts *p, pyhs_own_fn *own,
					   void *ctx)
{
	static const char prefix[] = ".cell_contents (";
	struct parser ps = { 0 };
	uint32_t *cell = own(ctx, p->nstrings, sizeof(*cell));
	if (!cell || !pool_begin(&ps, p, own, ctx))
		return nomem();
	/* Each string that is such a label: the string of its variable. */
	uint32_t n = p->nstrings;
	for (uint32_t i = 0; i < n; i++) {
		const char *s = p->strings[i];
		size_t len = strlen(s);
		cell[i] = PYHS_NO_STRING;
		if (starts(s, prefix) && ends(s, len, ")") && len > sizeof(prefix) &&
		    !add_string(&ps, s + sizeof(prefix) - 1, len - sizeof(prefix), &cell[i]))
			return nomem();
	}
	struct pyhs_heap_columns *c = &p->columns;
	for (uint64_t e = 0; e < c->nedges; e++) {
		uint32_t l = c->edge_label[e], pl = PYHS_LABEL_PAYLOAD(l);
		if (PYHS_LABEL_KIND(l) == PYHS_LABEL_FIELD && pl < n && cell[pl] != PYHS_NO_STRING)
			c->edge_label[e] = PYHS_LABEL(PYHS_LABEL_CELL, cell[pl]);
	}
	p->strings = ps.strings;
	p->nstrings = ps.nstrings;
	return NULL;
}

/* ---- generators and C futures (formats 2 and 3) ---- */

/* Decoder kinds (FORMAT.md, TYPE). */
#define KIND_GEN 15
#define KIND_FUTURE 22
#define KIND_TASK 23

/* A generator's "QUALNAME (FILE:LINE)", or "QUALNAME (FILE)" once it has
 * finished (or its line is unknown), into a: the last parenthesis is the
 * place, for a qualname may hold one. */
static bool old_gen_place(struct parser *ps, const char *v, struct pyhs_async_info *a)
{
	size_t len = strlen(v);
	const char *open = NULL;
	for (const char *q = strstr(v, " ("); q; q = strstr(q + 1, " ("))
		open = q;
	if (!open || len < 2 || v[len - 1] != ')')
		return true;
	const char *file = open + 2, *end = v + len - 1, *colon = end;
	while (colon > file && colon[-1] >= '0' && colon[-1] <= '9')
		colon--;
	a->state = PYHS_TASK_UNKNOWN;
	if (colon > file && colon < end && colon[-1] == ':') {
		a->line = atoi(colon);
		a->state = PYHS_TASK_PENDING;
		end = colon - 1;
	}
	return add_string(ps, v, (size_t)(open - v), &a->function) &&
	       add_string(ps, file, (size_t)(end - file), &a->file);
}

/* A C future's "STATE", a C task's "QUALNAME STATE". */
static enum pyhs_task_state old_future_state(const char *v)
{
	const char *sp = strrchr(v, ' ');
	return pyhs_task_state_named(sp ? sp + 1 : v);
}

struct pyhs_error *pyhs_snapshot_old_async(struct pyhs_heap_parts *p, pyhs_own_fn *own,
					   void *ctx)
{
	const struct pyhs_heap_columns *c = &p->columns;
	struct parser ps = { 0 };
	uint64_t m = 0;
	for (uint64_t i = 0; i < c->nobjects; i++) {
		uint32_t t = c->type[i];
		uint8_t k = t < p->ntypes ? p->type_kinds[t] : 0;
		m += k == KIND_GEN || k == KIND_FUTURE || k == KIND_TASK;
	}
	struct pyhs_async_info *as = own(ctx, m, sizeof(*as));
	if (!as || !pool_begin(&ps, p, own, ctx))
		return nomem();
	uint64_t na = 0;
	for (uint64_t i = 0; i < c->nobjects; i++) {
		uint32_t t = c->type[i];
		uint8_t k = t < p->ntypes ? p->type_kinds[t] : 0;
		if (k != KIND_GEN && k != KIND_FUTURE && k != KIND_TASK)
			continue;
		struct pyhs_async_info *a = &as[na++];
		*a = (struct pyhs_async_info){
			.obj = (uint32_t)i, .state = PYHS_TASK_UNKNOWN,
			.function = PYHS_NO_STRING, .file = PYHS_NO_STRING, .line = -1,
		};
		uint32_t off = c->value_off[i];
		if (off == UINT32_MAX || off >= c->value_text_size)
			continue;
		const char *v = c->value_text + off;
		if (k != KIND_GEN)
			a->state = (uint8_t)old_future_state(v);
		else if (!old_gen_place(&ps, v, a))
			return nomem();
	}
	p->nasync = na;
	p->async = as;
	p->strings = ps.strings;
	p->nstrings = ps.nstrings;
	return NULL;
}
