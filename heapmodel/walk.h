/* Internal: decoding helpers of walk.c used elsewhere in the heap model. */
#ifndef PYHS_WALK_H
#define PYHS_WALK_H

#include "heap_internal.h"

/* Calls cb(arg, key, value, entry_index) for each live item of a dict
 * object; stops early when cb returns false. *ret_size, if not NULL,
 * receives what dict.__sizeof__ would return. False if unreadable. */
bool pyhs_dict_foreach(const struct pyhs_heap *h, uint64_t dict,
		       bool (*cb)(void *arg, uint64_t key, uint64_t value,
				  uint64_t i),
		       void *arg, uint64_t *ret_size);

/* sizeof of a PyDictKeysObject (_PyDict_KeysSize). */
uint64_t pyhs_dict_keys_size(const struct pyhs_heap *h, uint64_t keys);

/* Where a str object's characters are, how many, and their width. */
bool pyhs_str_data(const struct pyhs_heap *h, uint64_t addr, uint64_t *data,
		   uint64_t *length, unsigned *kind);

#endif
