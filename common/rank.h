/*
 * Ranking: the n largest of a set of numbered items by a key, the ties in
 * number order, without sorting them all.
 */
#ifndef PYHS_COMMON_RANK_H
#define PYHS_COMMON_RANK_H

#include <stdint.h>

/* Puts the n items of order[0..m) with the largest key[item] first, in
 * that order (equal keys: smaller item first); returns how many that is,
 * n or m if fewer. A full sort only when n is large. */
uint64_t pyhs_rank_top(const uint64_t *key, uint64_t *order, uint64_t m, uint64_t n);

/* An item's key, for pyhs_rank_top_items. */
typedef uint64_t pyhs_rank_key_fn(void *ctx, uint64_t item);

/* The n items of 0..m with the largest key(ctx, item), into items[0..k)
 * first to last in the order of pyhs_rank_top and their keys into
 * keys[0..k), both of n entries; returns k, n or m if fewer. Takes no
 * memory per item: each key is asked for once, in item order. */
uint64_t pyhs_rank_top_items(uint64_t m, uint64_t n, pyhs_rank_key_fn *key, void *ctx,
			     uint64_t *items, uint64_t *keys);

#endif
