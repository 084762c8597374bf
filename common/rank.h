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

#endif
