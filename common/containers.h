/*
 * Typed generic containers for every layer.
 *
 * DEFINE_VECTOR(name, T) defines struct name with data/size/capacity and
 *   name_init, name_deinit, name_reserve, name_append (returns T* or NULL),
 *   name_append_n, name_clear, name_steal (hands over data).
 * DEFINE_HASH_MAP(name, K, V, hash_fn, eq_fn) defines an open-addressing map
 *   with linear probing: name_init, name_deinit, name_search (returns V* or
 *   NULL), name_insert (returns V* of the new or existing slot, *inserted set),
 *   name_size, and iteration with name_first/name_next.
 * Allocation failure is reported by NULL returns; callers turn it into
 * &pyhs_enomem.
 */
#ifndef PYHS_CONTAINERS_H
#define PYHS_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Functions of the generated containers: a file that defines a container
 * may use only some of them (clang warns of unused static inline ones in
 * a .c file; gcc does not). */
#define PYHS_CONTAINER_FN static inline __attribute__((unused))

#define DEFINE_VECTOR(name, T)						\
struct name {								\
	T *data;							\
	size_t size;							\
	size_t capacity;						\
};									\
PYHS_CONTAINER_FN void name##_init(struct name *v)				\
{									\
	v->data = NULL;							\
	v->size = v->capacity = 0;					\
}									\
PYHS_CONTAINER_FN void name##_deinit(struct name *v)			\
{									\
	free(v->data);							\
	name##_init(v);							\
}									\
PYHS_CONTAINER_FN bool name##_reserve(struct name *v, size_t n)		\
{									\
	if (n <= v->capacity)						\
		return true;						\
	size_t cap = v->capacity ? v->capacity : 8;			\
	while (cap < n) {						\
		if (cap > SIZE_MAX / 2 / sizeof(T))			\
			return false;					\
		cap *= 2;						\
	}								\
	T *d = realloc(v->data, cap * sizeof(T));			\
	if (!d)								\
		return false;						\
	v->data = d;							\
	v->capacity = cap;						\
	return true;							\
}									\
PYHS_CONTAINER_FN T *name##_append(struct name *v, T item)			\
{									\
	if (v->size == v->capacity && !name##_reserve(v, v->size + 1))	\
		return NULL;						\
	v->data[v->size] = item;					\
	return &v->data[v->size++];					\
}									\
PYHS_CONTAINER_FN T *name##_append_n(struct name *v, const T *items,	\
				 size_t n)				\
{									\
	if (n > SIZE_MAX - v->size || !name##_reserve(v, v->size + n))	\
		return NULL;						\
	T *dst = &v->data[v->size];					\
	if (n)								\
		memcpy(dst, items, n * sizeof(T));			\
	v->size += n;							\
	return dst;							\
}									\
PYHS_CONTAINER_FN void name##_clear(struct name *v)				\
{									\
	v->size = 0;							\
}									\
PYHS_CONTAINER_FN T *name##_steal(struct name *v)				\
{									\
	T *d = v->data;							\
	name##_init(v);							\
	return d;							\
}									\
PYHS_CONTAINER_FN void name##_shrink(struct name *v)			\
{									\
	if (v->size && v->size < v->capacity) {				\
		T *d = realloc(v->data, v->size * sizeof(T));		\
		if (d) {						\
			v->data = d;					\
			v->capacity = v->size;				\
		}							\
	}								\
}

static inline uint64_t pyhs_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

static inline uint64_t pyhs_hash_str(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

#define DEFINE_HASH_MAP(name, K, V, hash_fn, eq_fn)			\
struct name##_entry {							\
	K key;								\
	V value;							\
};									\
struct name {								\
	struct name##_entry *slots;					\
	uint8_t *used;							\
	size_t size;							\
	size_t mask; /* capacity - 1; capacity is a power of two */	\
};									\
PYHS_CONTAINER_FN void name##_init(struct name *m)				\
{									\
	m->slots = NULL;						\
	m->used = NULL;							\
	m->size = 0;							\
	m->mask = 0;							\
}									\
PYHS_CONTAINER_FN void name##_deinit(struct name *m)			\
{									\
	free(m->slots);							\
	free(m->used);							\
	name##_init(m);							\
}									\
PYHS_CONTAINER_FN size_t name##_size(const struct name *m)			\
{									\
	return m->size;							\
}									\
PYHS_CONTAINER_FN V *name##_search(const struct name *m, K key)		\
{									\
	if (!m->slots)							\
		return NULL;						\
	size_t i = (size_t)hash_fn(key) & m->mask;			\
	while (m->used[i]) {						\
		if (eq_fn(m->slots[i].key, key))			\
			return &m->slots[i].value;			\
		i = (i + 1) & m->mask;					\
	}								\
	return NULL;							\
}									\
PYHS_CONTAINER_FN bool name##_rehash(struct name *m, size_t cap)		\
{									\
	struct name##_entry *slots = malloc(cap * sizeof(*slots));	\
	uint8_t *used = calloc(cap, 1);					\
	if (!slots || !used) {						\
		free(slots);						\
		free(used);						\
		return false;						\
	}								\
	if (m->slots) {							\
		for (size_t j = 0; j <= m->mask; j++) {			\
			if (!m->used[j])				\
				continue;				\
			size_t i = (size_t)hash_fn(m->slots[j].key) &	\
				   (cap - 1);				\
			while (used[i])					\
				i = (i + 1) & (cap - 1);		\
			used[i] = 1;					\
			slots[i] = m->slots[j];				\
		}							\
	}								\
	free(m->slots);							\
	free(m->used);							\
	m->slots = slots;						\
	m->used = used;							\
	m->mask = cap - 1;						\
	return true;							\
}									\
PYHS_CONTAINER_FN bool name##_reserve(struct name *m, size_t n)		\
{									\
	size_t cap = m->slots ? m->mask + 1 : 16;			\
	while (n >= cap / 4 * 3) {					\
		if (cap > SIZE_MAX / 4 / sizeof(struct name##_entry))	\
			return false;					\
		cap *= 2;						\
	}								\
	if (m->slots && cap == m->mask + 1)				\
		return true;						\
	return name##_rehash(m, cap);					\
}									\
PYHS_CONTAINER_FN V *name##_insert(struct name *m, K key, bool *inserted)	\
{									\
	if (!m->slots || m->size + 1 >= (m->mask + 1) / 4 * 3) {	\
		if (!name##_reserve(m, m->size + 1))			\
			return NULL;					\
	}								\
	size_t i = (size_t)hash_fn(key) & m->mask;			\
	while (m->used[i]) {						\
		if (eq_fn(m->slots[i].key, key)) {			\
			if (inserted)					\
				*inserted = false;			\
			return &m->slots[i].value;			\
		}							\
		i = (i + 1) & m->mask;					\
	}								\
	m->used[i] = 1;							\
	m->slots[i].key = key;						\
	m->size++;							\
	if (inserted)							\
		*inserted = true;					\
	return &m->slots[i].value;					\
}									\
/* Iteration: for (size_t i = name_first(m); i != SIZE_MAX;		\
 *                 i = name_next(m, i)) m->slots[i] ... */		\
PYHS_CONTAINER_FN size_t name##_next(const struct name *m, size_t i)	\
{									\
	if (!m->slots)							\
		return SIZE_MAX;					\
	for (i++; i <= m->mask; i++)					\
		if (m->used[i])						\
			return i;					\
	return SIZE_MAX;						\
}									\
PYHS_CONTAINER_FN size_t name##_first(const struct name *m)			\
{									\
	return name##_next(m, (size_t)-1);				\
}

#define PYHS_EQ_SCALAR(a, b) ((a) == (b))
#define PYHS_EQ_STR(a, b) (strcmp((a), (b)) == 0)

#endif
