#include "common/scratch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void pyhs_scratch_init(struct pyhs_scratch *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->nkept = 0;
}

void pyhs_scratch_deinit(struct pyhs_scratch *s)
{
	pyhs_scratch_trim(s);
	pthread_mutex_destroy(&s->lock);
}

void pyhs_scratch_trim(struct pyhs_scratch *s)
{
	pyhs_scratch_trim_to(s, 0);
}

/* The kept array with the fewest bytes (s->nkept > 0, lock held). */
static size_t smallest(const struct pyhs_scratch *s)
{
	size_t small = 0;
	for (size_t k = 1; k < s->nkept; k++)
		if (s->kept[k].size < s->kept[small].size)
			small = k;
	return small;
}

void pyhs_scratch_trim_to(struct pyhs_scratch *s, size_t bytes)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	size_t total = 0;
	for (size_t k = 0; k < s->nkept; k++)
		total += s->kept[k].size;
	while (total > bytes) {
		size_t small = smallest(s);
		total -= s->kept[small].size;
		free(s->kept[small].p);
		s->kept[small] = s->kept[--s->nkept];
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * The kept array that fits size best: the smallest of size bytes or more,
 * else the largest (grown: realloc moves a mapped array's pages, it does
 * not copy them, and only the part added is fresh). One much larger is
 * shrunk (its tail goes back to the system).
 */
static void *take(struct pyhs_scratch *s, size_t size)
{
	if (!s || size < PYHS_SCRATCH_MIN)
		return NULL;
	pthread_mutex_lock(&s->lock);
	size_t best = SIZE_MAX, largest = SIZE_MAX;
	for (size_t k = 0; k < s->nkept; k++) {
		size_t ks = s->kept[k].size;
		if (ks >= size && (best == SIZE_MAX || ks < s->kept[best].size))
			best = k;
		if (largest == SIZE_MAX || ks > s->kept[largest].size)
			largest = k;
	}
	size_t k = best != SIZE_MAX ? best : largest;
	void *p = NULL;
	size_t ks = 0;
	if (k != SIZE_MAX) {
		p = s->kept[k].p;
		ks = s->kept[k].size;
		s->kept[k] = s->kept[--s->nkept];
	}
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return NULL;
	if (ks >= size && ks - size < ks / 8)
		return p;
	void *q = realloc(p, size);
	if (!q) {
		free(p);
		return NULL;
	}
	return q;
}

void *pyhs_scratch_alloc(struct pyhs_scratch *s, size_t size)
{
	void *p = take(s, size);
	return p ? p : malloc(size ? size : 1);
}

void *pyhs_scratch_zalloc(struct pyhs_scratch *s, size_t size)
{
	void *p = take(s, size);
	if (!p)
		return calloc(size ? size : 1, 1);
	memset(p, 0, size);
	return p;
}

void pyhs_scratch_free(struct pyhs_scratch *s, void *p, size_t size)
{
	if (!p)
		return;
	if (!s || size < PYHS_SCRATCH_MIN) {
		free(p);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->nkept == PYHS_SCRATCH_KEPT) {
		/* Full: the smallest goes (this one, if it is). */
		size_t small = smallest(s);
		if (s->kept[small].size < size) {
			void *old = s->kept[small].p;
			s->kept[small].p = p;
			s->kept[small].size = size;
			p = old;
		}
		pthread_mutex_unlock(&s->lock);
		free(p);
		return;
	}
	s->kept[s->nkept].p = p;
	s->kept[s->nkept].size = size;
	s->nkept++;
	pthread_mutex_unlock(&s->lock);
}
