/* The cache of heaps read from cores (formats.h, pyhs_cache): looked in
 * before a core is read, filled after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

/* $PYHEAPSNAP_CACHE_SIZE, read once (cache_prepare). */
static struct {
	bool read;
	bool on;
	uint64_t max;
} bound;

void cache_prepare(void)
{
	if (bound.read)
		return;
	bound.read = true;
	const char *s = getenv("PYHEAPSNAP_CACHE_SIZE");
	double v;
	if (!s || !s[0]) {
		bound.max = PYHS_CACHE_DEFAULT_MAX;
		bound.on = true;
		return;
	}
	if (!parse_size(s, &v) || v >= 18446744073709551615.0) {
		log_error("PYHEAPSNAP_CACHE_SIZE takes a size (500MB, 2GiB), not '%s': "
			  "reading cores without the cache", s);
		return;
	}
	bound.max = (uint64_t)v;
	bound.on = bound.max != 0;
}

/* $PYHEAPSNAP_CACHE_SIZE, else the default bound; 0 turns the cache off. */
static bool cache_bound(uint64_t *ret)
{
	cache_prepare();
	*ret = bound.max;
	return bound.on;
}

/* The entry of the core at path, or NULL (no cache for this input). */
static struct pyhs_cache *cache_entry(const char *path, const struct input_options *o)
{
	uint64_t max;
	if (o->no_cache || path == PID_INPUT || !cache_bound(&max))
		return NULL;
	struct pyhs_cache *c;
	const char *dir = getenv("PYHEAPSNAP_CACHE_DIR");
	struct pyhs_error *err = pyhs_cache_open(dir && dir[0] ? dir : NULL, max, path,
						 &o->open, &o->heap, &c);
	if (err) {
		/* The core's own open says what is wrong with it. */
		pyhs_error_destroy(err);
		return NULL;
	}
	return c;
}

bool input_top_rows(const char *path, struct input_options *o, struct pyhs_snapshot_top **ret)
{
	if (path != PID_INPUT && pyhs_snapshot_is(path)) {
		struct pyhs_error *err = pyhs_snapshot_read_top(path, ret);
		if (err) {
			pyhs_error_destroy(err);
			return false;
		}
		return *ret != NULL;
	}
	struct pyhs_cache *c = cache_entry(path, o);
	bool got = c && pyhs_cache_get_top(c, ret);
	pyhs_cache_destroy(c);
	return got;
}

bool input_view(const char *path, struct input_options *o, struct pyhs_snapshot_view **ret)
{
	if (path != PID_INPUT && pyhs_snapshot_is(path)) {
		struct pyhs_error *err = pyhs_snapshot_view_open(path, ret);
		if (err) {
			pyhs_error_destroy(err);
			return false;
		}
		return *ret != NULL;
	}
	struct pyhs_cache *c = cache_entry(path, o);
	bool got = c && pyhs_cache_get_view(c, o->want_allocations, ret);
	pyhs_cache_destroy(c);
	return got;
}

bool cache_lookup(const char *path, const struct input_options *o,
		  struct pyhs_cache **ret_cache, struct pyhs_heap **ret,
		  struct pyhs_analysis **ret_a)
{
	*ret_cache = NULL;
	struct pyhs_cache *c = cache_entry(path, o);
	if (!c)
		return false;
	/* A verb that reads tracemalloc's traces needs a core that had
	 * none, or the core itself. */
	if (pyhs_cache_get_analysed(c, o->want_allocations, ret, ret_a)) {
		pyhs_cache_destroy(c);
		return true;
	}
	*ret_cache = c;
	return false;
}

bool cache_traced(const struct pyhs_allocations *al, const struct pyhs_target *t)
{
	struct pyhs_allocations *own = NULL;
	struct pyhs_error *err;
	if (!al && (err = pyhs_allocations_read(t, &own))) {
		pyhs_error_destroy(err);
		own = NULL;
	}
	if (!al)
		al = own;
	/* Unknown (out of memory) counts as traced: such an entry serves
	 * only the verbs that do not read traces. */
	bool traced = !al || pyhs_allocations_ntraces(al) > 0;
	pyhs_allocations_destroy(own);
	return traced;
}

/* One line on stderr, once, for an entry that could not be written. */
static void cache_failed(struct pyhs_error *err)
{
	static bool said;
	if (!err)
		return;
	if (!said && err->code != PYHS_ERROR_CANCELLED)
		log_error("%s (answering without the cache)", err->message);
	said = true;
	pyhs_error_destroy(err);
}

/* An entry written beside the verb (cache_store_beside). */
struct cache_write {
	struct pyhs_cache *c;
	const struct pyhs_heap *h;
	const struct pyhs_analysis *a;
	struct pyhs_analysis *own; /* a, when made for the entry */
	bool traced;
	struct pyhs_output *out;
	char *tmp;                 /* out's temporary file, for the handler */
	struct pyhs_job *job;
};

static struct pyhs_error *write_entry(void *ctx, size_t k)
{
	(void)k;
	struct cache_write *w = ctx;
	struct pyhs_output *out = w->out;
	w->out = NULL;
	return pyhs_cache_put_end(w->c, w->h, w->a, w->traced, out);
}

static void cache_write_destroy(struct cache_write *w)
{
	signals_cache_temporary(NULL);
	free(w->tmp);
	pyhs_output_destroy(w->out);
	pyhs_analysis_destroy(w->own);
	pyhs_cache_destroy(w->c);
	free(w);
}

/* Creates w's file, its temporary name known to the handler before a
 * signal may remove it; 0, or the exit code of a signal that came. */
static int begin_entry(struct cache_write *w)
{
	signals_install(false);
	signals_defer(true);
	struct pyhs_error *err = pyhs_cache_put_begin(w->c, w->traced, &signals_cancel, &w->out);
	if (!err && !(w->tmp = strdup(pyhs_output_temporary(w->out))))
		err = &pyhs_enomem;
	if (!err)
		signals_cache_temporary(w->tmp);
	signals_defer(false);
	int code = signals_exit_status();
	if (err || code) {
		pyhs_output_destroy(w->out);
		w->out = NULL;
		cache_failed(err);
	}
	return code;
}

int cache_store(struct pyhs_cache *c, const struct pyhs_heap *h,
		const struct pyhs_analysis *a, bool traced)
{
	struct cache_write w = { .c = c, .h = h, .a = a, .traced = traced };
	int code = begin_entry(&w);
	if (!code && w.out)
		cache_failed(write_entry(&w, 0));
	signals_cache_temporary(NULL);
	free(w.tmp);
	pyhs_cache_destroy(c);
	return code;
}

int cache_store_beside(struct input_options *o, struct pyhs_cache *c,
		       const struct pyhs_heap *h, struct pyhs_analysis *a, bool give_a,
		       bool traced)
{
	struct cache_write *w = calloc(1, sizeof(*w));
	if (!w) {
		int code = cache_store(c, h, a, traced);
		if (give_a)
			pyhs_analysis_destroy(a);
		return code;
	}
	*w = (struct cache_write){ .c = c, .h = h, .a = a, .own = give_a ? a : NULL,
				   .traced = traced };
	struct pyhs_error *err = NULL;
	/* The analysis the index holds is made here, in the verb's thread,
	 * which alone reports progress. */
	if (!a && !(err = pyhs_analysis_create(h, &w->own)))
		w->a = w->own;
	if (err || pyhs_heap_jobs(h) <= 1) {
		/* One job: the answer first, then the entry. */
		cache_failed(err);
		o->cache_write = w;
		return 0;
	}
	int code = begin_entry(w);
	if (code || !w->out) {
		cache_write_destroy(w);
		return code;
	}
	/* The handler, if a signal comes while the thread writes, removes
	 * the temporary file (unless the thread renamed it already) and
	 * exits. */
	if (!(w->job = pyhs_job_start(write_entry, w))) {
		cache_failed(write_entry(w, 0));
		cache_write_destroy(w);
		return 0;
	}
	o->cache_write = w;
	return 0;
}

bool cache_writing(const struct input_options *o)
{
	return o->cache_write && o->cache_write->job;
}

int cache_finish(struct input_options *o)
{
	struct cache_write *w = o->cache_write;
	if (!w)
		return 0;
	o->cache_write = NULL;
	/* The answer out before the entry is waited for or written. */
	fflush(stdout);
	int code = 0;
	if (w->job)
		cache_failed(pyhs_job_finish(w->job));
	else if (w->a && !(code = begin_entry(w)) && w->out)
		cache_failed(write_entry(w, 0));
	cache_write_destroy(w);
	return code;
}
