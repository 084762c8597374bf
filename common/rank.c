/* Ranking the largest items by a key (rank.h). */
#include <stdbool.h>
#include <stdlib.h>

#include "common/rank.h"

/* Whether a ranks before b. */
static inline bool before(const uint64_t *key, uint64_t a, uint64_t b)
{
	return key[a] != key[b] ? key[a] > key[b] : a < b;
}

/* The key is qsort_r's argument: no state shared between threads. */
static int key_desc(const void *x, const void *y, void *key)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a == b ? 0 : before(key, a, b) ? -1 : 1;
}

uint64_t pyhs_rank_top(const uint64_t *key, uint64_t *order, uint64_t m, uint64_t n)
{
	if (n >= m || n > 4096) {
		qsort_r(order, m, sizeof(*order), key_desc, (void *)key);
		return m < n ? m : n;
	}
	/* order[0..k) stays sorted; each candidate is tried against the
	 * smallest kept. */
	uint64_t k = 0;
	for (uint64_t q = 0; q < m; q++) {
		uint64_t v = order[q];
		if (k == n && !before(key, v, order[k - 1]))
			continue;
		uint64_t pos = k < n ? k++ : n - 1;
		while (pos > 0 && before(key, v, order[pos - 1])) {
			order[pos] = order[pos - 1];
			pos--;
		}
		order[pos] = v;
	}
	return k;
}
