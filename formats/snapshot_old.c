/*
 * Roots of snapshots of formats 1 and 2, which kept each root as the text
 * the walk rendered for it ("thread 0 (MainThread) frame serve (app.py:62)
 * local history"): read back into the structure once, here, and nowhere
 * else. Threads, their frames and the frames' depths come from the order
 * in which the walk added the roots: a thread's frames innermost first,
 * each frame's references before its frame object, the words of value
 * stacks last.
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
	struct parser ps = { .p = p, .own = own, .ctx = ctx };
	uint64_t n = p->nroots;
	struct pyhs_root_info *roots = own(ctx, n, sizeof(*roots));
	ps.threads = own(ctx, p->nthreads, sizeof(*ps.threads));
	ps.frames = own(ctx, n, sizeof(*ps.frames));
	ps.ended = own(ctx, n, sizeof(*ps.ended));
	ps.cap = p->nstrings;
	ps.nstrings = p->nstrings;
	ps.strings = own(ctx, ps.cap, sizeof(*ps.strings));
	if (!roots || !ps.threads || !ps.frames || !ps.ended || !ps.strings)
		return nomem();
	memcpy(ps.strings, p->strings, p->nstrings * sizeof(*ps.strings));
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
