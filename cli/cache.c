/* The cache of heaps read from cores (formats.h, pyhs_cache): looked in
 * before a core is read, filled after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

/* $PYHEAPSNAP_CACHE_SIZE, else the default bound; 0 turns the cache off. */
static bool cache_bound(uint64_t *ret)
{
	const char *s = getenv("PYHEAPSNAP_CACHE_SIZE");
	double v;
	if (!s || !s[0]) {
		*ret = PYHS_CACHE_DEFAULT_MAX;
		return true;
	}
	if (!parse_size(s, &v) || v >= 18446744073709551615.0) {
		static bool said;
		if (!said)
			log_error("PYHEAPSNAP_CACHE_SIZE takes a size (500MB, 2GiB), not '%s': "
				  "reading cores without the cache", s);
		said = true;
		return false;
	}
	*ret = (uint64_t)v;
	return *ret != 0;
}

/* The entry of the core at path, or NULL (no cache for this input). */
static struct pyhs_cache *cache_entry(const char *path, struct input_options *o)
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

bool cache_lookup(const char *path, struct input_options *o,
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

bool cache_traced(const struct input_options *o, const struct pyhs_target *t)
{
	struct pyhs_allocations *a = o->allocations;
	struct pyhs_error *err;
	if (!a && (err = pyhs_allocations_read(t, &a))) {
		pyhs_error_destroy(err);
		a = NULL;
	}
	/* Unknown (out of memory) counts as traced: such an entry serves
	 * only the verbs that do not read traces. */
	bool traced = !a || pyhs_allocations_ntraces(a) > 0;
	if (a != o->allocations)
		pyhs_allocations_destroy(a);
	return traced;
}

void cache_store(struct pyhs_cache *c, const struct pyhs_heap *h,
		 const struct pyhs_analysis *a, bool traced)
{
	struct pyhs_error *err = pyhs_cache_put_analysed(c, h, a, traced, &signals_cancel);
	if (err) {
		static bool said;
		if (!said && err->code != PYHS_ERROR_CANCELLED)
			log_error("%s (answering without the cache)", err->message);
		said = true;
		pyhs_error_destroy(err);
	}
	pyhs_cache_destroy(c);
}
