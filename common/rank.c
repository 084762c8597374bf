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

/* Whether (ka, a) ranks before (kb, b). */
static inline bool pair_before(uint64_t ka, uint64_t a, uint64_t kb, uint64_t b)
{
	return ka != kb ? ka > kb : a < b;
}

/* Sifts entry k of the heap of len entries down: every parent ranks after
 * its children, so the root is the last kept. */
static void sift_down(uint64_t *items, uint64_t *keys, uint64_t len, uint64_t k)
{
	uint64_t item = items[k], key = keys[k];
	for (;;) {
		uint64_t c = 2 * k + 1;
		if (c >= len)
			break;
		if (c + 1 < len && pair_before(keys[c], items[c], keys[c + 1], items[c + 1]))
			c++;
		if (!pair_before(key, item, keys[c], items[c]))
			break;
		items[k] = items[c];
		keys[k] = keys[c];
		k = c;
	}
	items[k] = item;
	keys[k] = key;
}

uint64_t pyhs_rank_top_items(uint64_t m, uint64_t n, pyhs_rank_key_fn *key, void *ctx,
			     uint64_t *items, uint64_t *keys)
{
	uint64_t len = 0;
	for (uint64_t v = 0; v < m && n; v++) {
		uint64_t kv = key(ctx, v);
		if (len < n) {
			/* Up from the bottom, past the parents that rank before it. */
			uint64_t k = len++;
			while (k > 0 && pair_before(keys[(k - 1) / 2], items[(k - 1) / 2], kv, v)) {
				items[k] = items[(k - 1) / 2];
				keys[k] = keys[(k - 1) / 2];
				k = (k - 1) / 2;
			}
			items[k] = v;
			keys[k] = kv;
		} else if (pair_before(kv, v, keys[0], items[0])) {
			items[0] = v;
			keys[0] = kv;
			sift_down(items, keys, len, 0);
		}
	}
	/* The last kept to the end, one after another: first to last. */
	for (uint64_t end = len; end > 1; end--) {
		uint64_t item = items[0], k = keys[0];
		items[0] = items[end - 1];
		keys[0] = keys[end - 1];
		items[end - 1] = item;
		keys[end - 1] = k;
		sift_down(items, keys, end - 1, 0);
	}
	return len;
}
