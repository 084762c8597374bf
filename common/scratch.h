/*
 * A pool of large arrays for one computation's passes: an array a pass
 * frees is kept, and handed to the next pass that asks for as many bytes
 * or fewer, instead of being given back to the system and mapped again
 * (fresh pages cost a fault and a clearing each; pages already touched
 * are rewritten for a quarter of that). Thread-safe. Arrays below
 * PYHS_SCRATCH_MIN are left to malloc, which reuses those well already.
 *
 * Every array the pool hands out is malloc's: free() gives it back to
 * the system instead, as does pyhs_scratch_trim for all the kept ones. A
 * NULL pool is malloc and free.
 */
#ifndef PYHS_SCRATCH_H
#define PYHS_SCRATCH_H

#include <pthread.h>
#include <stddef.h>

#define PYHS_SCRATCH_MIN ((size_t)1 << 20)
#define PYHS_SCRATCH_KEPT 16

struct pyhs_scratch {
	pthread_mutex_t lock;
	size_t nkept;
	struct {
		void *p;
		size_t size;
	} kept[PYHS_SCRATCH_KEPT];
};

void pyhs_scratch_init(struct pyhs_scratch *s);
/* Frees the kept arrays. */
void pyhs_scratch_deinit(struct pyhs_scratch *s);
/* size bytes (at least 1), or NULL. */
void *pyhs_scratch_alloc(struct pyhs_scratch *s, size_t size);
/* The same, zeroed. */
void *pyhs_scratch_zalloc(struct pyhs_scratch *s, size_t size);
/* Keeps p, an array of size bytes from malloc or the pool (NULL: none). */
void pyhs_scratch_free(struct pyhs_scratch *s, void *p, size_t size);
/* Gives the kept arrays back to the system. */
void pyhs_scratch_trim(struct pyhs_scratch *s);
/* The same for the smallest ones until at most bytes are kept. */
void pyhs_scratch_trim_to(struct pyhs_scratch *s, size_t bytes);

#endif
