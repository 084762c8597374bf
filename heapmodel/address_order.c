/*
 * Object numbers in the order of their addresses, by stretches: what reads
 * a few bytes of every object again once the walk is done (value texts)
 * touches the core's pages one stretch after another instead of all over
 * the core at once (objects are numbered in the order the walk met them,
 * which has little to do with where they are).
 */
#include "heap_internal.h"

/* A stretch: 1 MiB of addresses. Objects within one keep their order. */
#define STRETCH_SHIFT 20

struct stretch_table {
	uint64_t *key;   /* 1 + address >> STRETCH_SHIFT; 0: empty */
	uint32_t *count; /* objects in it, then where its next one goes */
	uint64_t mask;
	uint64_t used;
};

static uint64_t *stretch_find(struct stretch_table *t, uint64_t key)
{
	uint64_t s = pyhs_hash_u64(key) & t->mask;
	while (t->key[s] && t->key[s] != key)
		s = (s + 1) & t->mask;
	return &t->key[s];
}

static bool stretch_grow(struct stretch_table *t)
{
	uint64_t cap = t->mask ? (t->mask + 1) * 2 : 1024;
	struct stretch_table g = { calloc(cap, sizeof(*g.key)),
				   calloc(cap, sizeof(*g.count)), cap - 1, t->used };
	if (!g.key || !g.count) {
		free(g.key);
		free(g.count);
		return false;
	}
	for (uint64_t s = 0; t->mask && s <= t->mask; s++) {
		if (!t->key[s])
			continue;
		uint64_t *k = stretch_find(&g, t->key[s]);
		*k = t->key[s];
		g.count[k - g.key] = t->count[s];
	}
	free(t->key);
	free(t->count);
	*t = g;
	return true;
}

static int by_key(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

uint32_t *pyhs_heap_address_order(const struct pyhs_heap *h)
{
	uint64_t n = h->addr.size;
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order));
	struct stretch_table t = { 0 };
	uint64_t *keys = NULL;
	if (!order || !stretch_grow(&t))
		goto oom;
	/* Objects met one after another are mostly in one stretch: the last
	 * one's slot is tried first (a slot stays put until the table grows). */
	uint64_t last_key = 0, last_slot = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = (h->addr.data[i] >> STRETCH_SHIFT) + 1;
		if (key == last_key) {
			t.count[last_slot]++;
			continue;
		}
		uint64_t *k = stretch_find(&t, key);
		if (!*k) {
			if ((t.used + 1) * 2 > t.mask + 1) {
				if (!stretch_grow(&t))
					goto oom;
				k = stretch_find(&t, key);
			}
			*k = key;
			t.used++;
		}
		last_key = key;
		last_slot = (uint64_t)(k - t.key);
		t.count[last_slot]++;
	}
	/* The stretches in address order, and where each one's objects go. */
	keys = malloc((t.used ? t.used : 1) * sizeof(*keys));
	if (!keys)
		goto oom;
	uint64_t m = 0;
	for (uint64_t s = 0; s <= t.mask; s++)
		if (t.key[s])
			keys[m++] = t.key[s];
	qsort(keys, m, sizeof(*keys), by_key);
	uint32_t pos = 0;
	for (uint64_t j = 0; j < m; j++) {
		uint32_t *c = &t.count[stretch_find(&t, keys[j]) - t.key];
		uint32_t here = *c;
		*c = pos;
		pos += here;
	}
	last_key = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = (h->addr.data[i] >> STRETCH_SHIFT) + 1;
		if (key != last_key) {
			last_key = key;
			last_slot = (uint64_t)(stretch_find(&t, key) - t.key);
		}
		order[t.count[last_slot]++] = (uint32_t)i;
	}
	free(keys);
	free(t.key);
	free(t.count);
	return order;
oom:
	free(keys);
	free(t.key);
	free(t.count);
	free(order);
	return NULL;
}
