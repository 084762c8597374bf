/* Object storage: flat arrays by object number, the address index, the API. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>

#include "common/jobs.h"
#include "heap_internal.h"

#define MAX_WARNING_EXAMPLES 20

static const char *const warning_kind_names[PYHS_WARN_NKINDS] = {
	[PYHS_WARN_BAD_POINTER] = "bad_pointer",
	[PYHS_WARN_UNREADABLE] = "unreadable_object",
	[PYHS_WARN_GC_LIST] = "broken_gc_list",
	[PYHS_WARN_CAP] = "capped",
	[PYHS_WARN_CORRUPT] = "corrupt_structure",
	[PYHS_WARN_MISSING_ROOT] = "missing_root",
};

const char *pyhs_heap_warning_kind_name(enum pyhs_warning_kind kind)
{
	return kind < PYHS_WARN_NKINDS ? warning_kind_names[kind] : "?";
}

void pyhs_heap_warn(struct pyhs_heap *h, enum pyhs_warning_kind kind,
		    const char *fmt, ...)
{
	h->warn_count[kind]++;
	if (h->warn_examples.size >= MAX_WARNING_EXAMPLES)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r >= 0 && !pyhs_str_vector_append(&h->warn_examples, msg))
		free(msg);
}

struct pyhs_error *pyhs_heap_intern_string(struct pyhs_heap *h, const char *s,
					   uint32_t *ret)
{
	uint32_t *id = pyhs_string_map_search(&h->string_ids, s);
	if (id) {
		*ret = *id;
		return NULL;
	}
	char *copy = strdup(s);
	if (!copy || !pyhs_str_vector_append(&h->strings, copy)) {
		free(copy);
		return &pyhs_enomem;
	}
	bool inserted;
	id = pyhs_string_map_insert(&h->string_ids, copy, &inserted);
	if (!id)
		return &pyhs_enomem;
	*id = (uint32_t)(h->strings.size - 1);
	*ret = *id;
	return NULL;
}

/* ---- the address index ---- */

/* Slots are 4 bytes: the object number in the low bits, as many as the
 * table has slots (object numbers stay below three quarters of that), and
 * in the bits above it the top bits of the address's hash, so that most
 * probes settle without reading the address column. All ones marks an
 * empty slot (no object number is all ones in its bits). The table is kept
 * at most three quarters full (INDEX_ROOM): probes stay in consecutive
 * slots, and the index, the largest array while the heap is walked after
 * the addresses, takes 5.3 to 10.7 bytes per object.
 *
 * Where a probe starts keeps what is near in memory near in the table:
 * each block of 256 bytes of addresses has one line of 16 slots (64 bytes,
 * one per 16 bytes of address, the allocator's alignment), at a place the
 * block's hash gives. The walk meets objects mostly in the order they were
 * allocated (a list's items, then what each item holds), so one cache
 * miss on the table serves several lookups instead of one each. */
#define SLOT_EMPTY UINT32_MAX
/* How many objects a table of cap slots takes. */
#define INDEX_ROOM(cap) ((cap) / 4 * 3)
#define INDEX_LINE_BYTES ((size_t)4 << PYHS_INDEX_LINE_BITS)
#define INDEX_HUGE_PAGE ((size_t)2 << 20)
#define index_home pyhs_heap_index_home
/* How far ahead of its insertion an address's slots are fetched. */
#define INDEX_PREFETCH 16

static inline uint32_t index_tag(uint64_t addr, uint32_t tag_mask)
{
	return (uint32_t)(pyhs_hash_u64(addr) >> 32) & tag_mask;
}

static void index_put(uint32_t *idx, uint64_t mask, uint32_t tag_mask,
		      uint64_t addr, uint32_t i)
{
	uint64_t s = index_home(addr, mask);
	while (idx[s] != SLOT_EMPTY)
		s = (s + 1) & mask;
	idx[s] = index_tag(addr, tag_mask) | i;
}

/* A table this large is emptied in pieces on the heap's jobs: its pages
 * are new, and each costs the system most where it first is written. */
#define INDEX_PIECE ((size_t)8 << 20)

struct index_fill {
	uint32_t *idx;
	size_t bytes;
};

static struct pyhs_error *index_fill_piece(void *ctx, size_t k)
{
	const struct index_fill *f = ctx;
	size_t from = k * INDEX_PIECE;
	size_t n = f->bytes - from < INDEX_PIECE ? f->bytes - from : INDEX_PIECE;
	memset((char *)f->idx + from, 0xff, n);
	return NULL;
}

static bool index_grow_to(struct pyhs_heap *h, uint64_t want)
{
	uint64_t cap = 1024;
	unsigned bits = 10;
	while (cap < want) {
		cap *= 2;
		bits++;
	}
	uint32_t tag_mask = bits >= 32 ? 0 : ~((UINT32_C(1) << bits) - 1);
	/* Lines of the table are cache lines. Lookups land anywhere in it:
	 * a table of 2 MiB or more is in huge pages where the system gives
	 * them on request, so that they seldom miss the TLB (its size is a
	 * power of two: no more memory). */
	size_t bytes = cap * sizeof(uint32_t);
	bool huge = bytes >= INDEX_HUGE_PAGE;
	uint32_t *idx = aligned_alloc(huge ? INDEX_HUGE_PAGE : INDEX_LINE_BYTES, bytes);
	if (!idx)
		return false;
	if (huge)
		(void)madvise(idx, bytes, MADV_HUGEPAGE); /* a hint: may fail */
	/* On this thread alone when there is one piece or one job. */
	struct index_fill fill = { idx, bytes };
	(void)pyhs_jobs_run(h->jobs, (bytes + INDEX_PIECE - 1) / INDEX_PIECE, index_fill_piece,
			    &fill, NULL); /* cannot fail */
	const uint64_t *addr = h->addr.data;
	uint64_t n = h->addr.size;
	for (uint64_t i = 0; i < n; i++) {
		if (i + INDEX_PREFETCH < n)
			pyhs_prefetch(&idx[index_home(addr[i + INDEX_PREFETCH], cap - 1)]);
		index_put(idx, cap - 1, tag_mask, addr[i], (uint32_t)i);
	}
	free(h->index);
	h->index = idx;
	h->index_mask = cap - 1;
	h->index_tag_mask = tag_mask;
	memset(h->hot, 0, sizeof(h->hot));
	return true;
}

/* The object at addr by the index alone, or PYHS_NO_OBJECT and in
 * *ret_empty the empty slot its probe ended at, where addr goes if it is
 * added before the index changes. Writes nothing. */
static inline uint32_t index_probe(const struct pyhs_heap *h, uint64_t addr,
				   uint64_t *ret_empty)
{
	uint32_t tag_mask = h->index_tag_mask, tag = index_tag(addr, tag_mask);
	for (uint64_t s = index_home(addr, h->index_mask);; s = (s + 1) & h->index_mask) {
		uint32_t slot = h->index[s];
		if (slot == SLOT_EMPTY) {
			*ret_empty = s;
			return PYHS_NO_OBJECT;
		}
		if ((slot & tag_mask) == tag && h->addr.data[slot & ~tag_mask] == addr)
			return slot & ~tag_mask;
	}
}

/* index_probe through the hot entries, which it keeps. */
static inline uint32_t index_find(struct pyhs_heap *h, uint64_t addr, uint64_t *ret_empty)
{
	/* Types, None, common strings: a few objects take most references. */
	struct pyhs_hot_entry *hot = &h->hot[(addr >> 4) & (PYHS_HOT_ENTRIES - 1)];
	if (hot->addr == addr && addr)
		return hot->obj;
	uint32_t i = index_probe(h, addr, ret_empty);
	if (i != PYHS_NO_OBJECT) {
		hot->addr = addr;
		hot->obj = i;
	}
	return i;
}

/* pyhs_heap_lookup, and the empty slot as index_find gives it (only if
 * there is an index). */
static uint32_t lookup_slot(struct pyhs_heap *h, uint64_t addr, uint64_t *ret_empty)
{
	if (!h->index && (!h->addr.size || !index_grow_to(h, h->addr.size / 3 * 4 + 4)))
		return PYHS_NO_OBJECT;
	return index_find(h, addr, ret_empty);
}

uint32_t pyhs_heap_lookup(const struct pyhs_heap *hc, uint64_t addr)
{
	struct pyhs_heap *h = (struct pyhs_heap *)hc; /* the index is a cache */
	uint64_t empty;
	return lookup_slot(h, addr, &empty);
}

uint32_t pyhs_heap_lookup_shared(const struct pyhs_heap *h, uint64_t addr)
{
	uint64_t empty;
	return h->index ? index_probe(h, addr, &empty) : PYHS_NO_OBJECT;
}

bool pyhs_heap_index_reserve(struct pyhs_heap *h, uint64_t n)
{
	uint64_t cap = h->index ? h->index_mask + 1 : 0;
	if (n > h->max_objects)
		n = h->max_objects;
	if (n <= INDEX_ROOM(cap))
		return true;
	while (n > INDEX_ROOM(cap))
		cap = cap ? cap * 2 : 1024;
	return index_grow_to(h, cap);
}

static bool refcnt_plausible(const struct pyhs_heap *h, uint64_t rc)
{
	if (rc == 0)
		return false;
	if (h->minor >= 14) /* split: 32-bit count, overflow, flags */
		return (uint32_t)rc != 0;
	return rc < (UINT64_C(1) << 48);
}

/* For a word that might be a pointer: a count no object reaches (2^40
 * references; 3.14's split count with an overflow word set) is a pointer
 * or other data at the start of a C struct, not a refcount. */
static bool refcnt_likely(const struct pyhs_heap *h, uint64_t rc)
{
	if (h->minor >= 14)
		return ((rc >> 32) & 0xffff) == 0;
	return rc < (UINT64_C(1) << 40);
}

#define REFCNT8_MAX UINT8_MAX

/* 3.14 keeps flags above a 32-bit count (Py_REFCNT is the low half). */
static uint64_t refcnt_of(const struct pyhs_heap *h, uint64_t word)
{
	return h->minor >= 14 ? (uint32_t)word : word;
}

/* Whether adding an object reallocates one of the objects' columns. */
static bool objects_full(const struct pyhs_heap *h)
{
	return PYHS_PREFAULT_FULL(&h->addr) || PYHS_PREFAULT_FULL(&h->type) ||
	       PYHS_PREFAULT_FULL(&h->size32.v) || PYHS_PREFAULT_FULL(&h->gen) ||
	       PYHS_PREFAULT_FULL(&h->flags) ||
	       (h->narrow ? PYHS_PREFAULT_FULL(&h->refcnt8) : PYHS_PREFAULT_FULL(&h->refcnt32.v));
}

static void objects_prefault_ask(struct pyhs_heap *h)
{
	PYHS_PREFAULT_ASK(h->prefault, &h->addr);
	PYHS_PREFAULT_ASK(h->prefault, &h->type);
	PYHS_PREFAULT_ASK(h->prefault, &h->size32.v);
	PYHS_PREFAULT_ASK(h->prefault, &h->gen);
	PYHS_PREFAULT_ASK(h->prefault, &h->flags);
	if (h->narrow)
		PYHS_PREFAULT_ASK(h->prefault, &h->refcnt8);
	else
		PYHS_PREFAULT_ASK(h->prefault, &h->refcnt32.v);
}

uint32_t pyhs_heap_add(struct pyhs_heap *h, uint64_t addr, bool strict,
		       struct pyhs_error **err)
{
	if (!addr || (addr & 7) || addr > UINT64_C(0x7fffffffffff))
		return PYHS_NO_OBJECT;
	/* The slot a new object takes, found by the probe that did not
	 * find it (no object is added to the index until it is). */
	uint64_t empty = 0;
	uint32_t found = lookup_slot(h, addr, &empty);
	if (found != PYHS_NO_OBJECT)
		return found;
	/* Copied out: a core's segments need not be 8-aligned in the file. */
	uint64_t hdr[2];
	if (!pyhs_target_read(h->t, addr, hdr, 16))
		return PYHS_NO_OBJECT;
	if (!refcnt_plausible(h, hdr[0]) || (strict && !refcnt_likely(h, hdr[0])))
		return PYHS_NO_OBJECT;
	uint32_t type = pyhs_type_get(h, hdr[1], err);
	if (type == PYHS_NO_OBJECT)
		return PYHS_NO_OBJECT;
	if (strict) {
		/* A word that might be a pointer: the whole object must be
		 * there, with a sane size. */
		const struct pyhs_type_info *ti = &h->types.data[type];
		uint64_t size = (uint64_t)ti->basicsize;
		if (ti->itemsize) {
			uint64_t obsize;
			if (!hrd(h, addr + 16, &obsize))
				return PYHS_NO_OBJECT;
			int64_t s = (int64_t)obsize;
			uint64_t n = pyhs_uabs64(s);
			if (n > (UINT64_C(1) << 32) / (uint64_t)ti->itemsize)
				return PYHS_NO_OBJECT;
			size += n * (uint64_t)ti->itemsize;
		}
		uint8_t last;
		if (!pyhs_target_read(h->t, addr + size - 1, &last, 1))
			return PYHS_NO_OBJECT;
	}
	if (h->addr.size >= h->max_objects) {
		if (h->warn_count[PYHS_WARN_CAP] == 0)
			pyhs_heap_warn(h, PYHS_WARN_CAP,
				       "stopped at %" PRIu64 " objects (raise the cap with --max-objects)",
				       h->max_objects);
		else
			h->warn_count[PYHS_WARN_CAP]++;
		return PYHS_NO_OBJECT;
	}
	bool regrown = !h->index;
	if (h->addr.size + 1 > (h->index ? INDEX_ROOM(h->index_mask + 1) : 0)) {
		if (!index_grow_to(h, h->index ? (h->index_mask + 1) * 2 : 1024)) {
			*err = &pyhs_enomem;
			return PYHS_NO_OBJECT;
		}
		regrown = true;
	}
	uint32_t n = (uint32_t)h->addr.size;
	uint8_t flags = 0;
	if (h->minor >= 12 && (int32_t)(uint32_t)hdr[0] < 0)
		flags |= PYHS_OBJ_IMMORTAL;
	/* 3.11's deep-frozen objects (code of frozen modules) live in the
	 * binary with a refcount of 999999999 that nothing ever drops. */
	if (h->minor == 11 && hdr[0] >= 999999999)
		flags |= PYHS_OBJ_IMMORTAL;
	uint64_t rc = refcnt_of(h, hdr[0]);
	if (h->prefault && objects_full(h))
		pyhs_prefault_quiesce(h->prefault);
	bool ok = pyhs_u32_vector_append(&h->size32.v, 0) &&
		  (h->narrow ? pyhs_u8_vector_append(&h->refcnt8, rc < REFCNT8_MAX ?
								  (uint8_t)rc : REFCNT8_MAX) != NULL :
			       pyhs_u32_vector_append(&h->refcnt32.v, 0) &&
				       pyhs_u32_column_set(&h->refcnt32, n, rc));
	if (!ok || !pyhs_u64_vector_append(&h->addr, addr) ||
	    !pyhs_u32_vector_append(&h->type, type) ||
	    !pyhs_u8_vector_append(&h->gen, PYHS_GEN_UNTRACKED) ||
	    !pyhs_u8_vector_append(&h->flags, flags)) {
		*err = &pyhs_enomem;
		return PYHS_NO_OBJECT;
	}
	if (regrown || h->index[empty] != SLOT_EMPTY)
		index_put(h->index, h->index_mask, h->index_tag_mask, addr, n);
	else
		h->index[empty] = index_tag(addr, h->index_tag_mask) | n;
	if (h->prefault)
		objects_prefault_ask(h);
	return n;
}

/* ---- 4-byte columns ---- */

void pyhs_u32_column_init(struct pyhs_u32_column *c)
{
	pyhs_u32_vector_init(&c->v);
	pyhs_u32_u64_map_init(&c->wide);
}

void pyhs_u32_column_deinit(struct pyhs_u32_column *c)
{
	pyhs_u32_vector_deinit(&c->v);
	pyhs_u32_u64_map_deinit(&c->wide);
}

/* Keeps entry i's value of UINT32_MAX or more whole in the side map. */
static bool column_put_wide(struct pyhs_u32_column *c, uint64_t i, uint64_t value)
{
	bool inserted;
	uint64_t *w = pyhs_u32_u64_map_insert(&c->wide, (uint32_t)i, &inserted);
	if (!w)
		return false;
	*w = value;
	return true;
}

bool pyhs_u32_column_set_wide(struct pyhs_u32_column *c, uint64_t i, uint64_t value)
{
	c->v.data[i] = UINT32_MAX;
	return column_put_wide(c, i, value);
}

uint64_t pyhs_u32_column_get(const struct pyhs_u32_column *c, uint64_t i)
{
	uint32_t v = c->v.data[i];
	if (v != UINT32_MAX)
		return v;
	/* search does not change the map */
	const uint64_t *w = pyhs_u32_u64_map_search((struct pyhs_u32_u64_map *)&c->wide,
						    (uint32_t)i);
	return w ? *w : v;
}

bool pyhs_u32_column_from(struct pyhs_u32_column *c, const uint64_t *values,
			  uint64_t n)
{
	if (!pyhs_u32_vector_reserve(&c->v, n ? n : 1))
		return false;
	c->v.size = n;
	for (uint64_t i = 0; i < n; i++)
		if (!pyhs_u32_column_set(c, i, values ? values[i] : 0))
			return false;
	return true;
}

void pyhs_sparse_column_init(struct pyhs_sparse_column *c)
{
	memset(c, 0, sizeof(*c));
	pyhs_u32_column_init(&c->values);
}

void pyhs_sparse_column_deinit(struct pyhs_sparse_column *c)
{
	free(c->bits);
	free(c->before);
	pyhs_u32_column_deinit(&c->values);
	pyhs_sparse_column_init(c);
}

bool pyhs_sparse_column_from(struct pyhs_sparse_column *c, const struct pyhs_u32_column *from,
			     const uint64_t *values, uint64_t n)
{
	pyhs_sparse_column_deinit(c);
	uint64_t words = n / 64 + 1;
	c->bits = calloc(words, sizeof(*c->bits));
	c->before = malloc(words * sizeof(*c->before));
	if (!c->bits || !c->before) {
		pyhs_sparse_column_deinit(c);
		return false;
	}
	uint64_t k = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (i % 64 == 0)
			c->before[i / 64] = (uint32_t)k;
		if (from ? from->v.data[i] : values[i]) {
			c->bits[i / 64] |= UINT64_C(1) << (i % 64);
			k++;
		}
	}
	if (n % 64 == 0)
		c->before[n / 64] = (uint32_t)k;
	if (!pyhs_u32_vector_reserve(&c->values.v, k ? k : 1)) {
		pyhs_sparse_column_deinit(c);
		return false;
	}
	c->values.v.size = k;
	k = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (!(c->bits[i / 64] & (UINT64_C(1) << (i % 64))))
			continue;
		if (!pyhs_u32_column_set(&c->values, k++,
					 from ? pyhs_u32_column_at(from, i) : values[i])) {
			pyhs_sparse_column_deinit(c);
			return false;
		}
	}
	return true;
}

/* The first half of making a column of n 8-byte values: those that do
 * not fit in 4 bytes, into c's side map; false if out of memory. */
static bool column_wide_from(struct pyhs_u32_column *c, const uint64_t *values, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (values[i] >= UINT32_MAX && !column_put_wide(c, i, values[i]))
			return false;
	return true;
}

/* The second, which cannot fail: the malloc'd array of the n values
 * becomes c's 4-byte entries, narrowed in place (each entry's 8 bytes are
 * read before the 4 it becomes are written). */
static void column_adopt_narrowed(struct pyhs_u32_column *c, uint64_t *values, uint64_t n)
{
	unsigned char *b = (unsigned char *)values;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, b + 8 * i, 8);
		uint32_t v32 = v < UINT32_MAX ? (uint32_t)v : UINT32_MAX;
		memcpy(b + 4 * i, &v32, 4);
	}
	void *d = realloc(values, (n ? n : 1) * sizeof(uint32_t)); /* smaller */
	c->v.data = d ? d : (void *)values;
	c->v.size = c->v.capacity = n;
}

/* ---- the 4-byte columns of the walk ---- */

void pyhs_heap_set_size(struct pyhs_heap *h, uint32_t i, uint64_t size,
			struct pyhs_error **err)
{
	if (!pyhs_u32_column_set(&h->size32, i, size))
		*err = &pyhs_enomem;
}

bool pyhs_heap_append_edge_start(struct pyhs_heap *h)
{
	/* Below 2^32: pyhs_heap_build caps the edges there. */
	uint32_t e = (uint32_t)h->edge_dst.size;
	if (h->prefault && PYHS_PREFAULT_FULL(&h->edge_start))
		pyhs_prefault_quiesce(h->prefault);
	if (!pyhs_u32_vector_append(&h->edge_start, e))
		return false;
	PYHS_PREFAULT_ASK(h->prefault, &h->edge_start);
	return true;
}

/* Widens the n entries of a vector of narrower ones in place (the array
 * grown, then filled from the last entry down, so that no entry is
 * overwritten before it is read): one array at a time, not two. */
#define WIDEN_IN_PLACE(narrow_vec, wide_vec, n, ok) do {			\
	size_t n_ = (n);							\
	void *d_ = realloc((narrow_vec)->data, (n_ ? n_ : 1) *		\
					   sizeof(*(wide_vec)->data));	\
	if (!d_) {								\
		(ok) = false;							\
		break;								\
	}									\
	(narrow_vec)->data = NULL;						\
	(narrow_vec)->size = (narrow_vec)->capacity = 0;			\
	__typeof__((narrow_vec)->data) from_ = d_;				\
	__typeof__((wide_vec)->data) to_ = d_;					\
	for (size_t k_ = n_; k_-- > 0;)					\
		to_[k_] = from_[k_];						\
	free((wide_vec)->data);							\
	(wide_vec)->data = to_;							\
	(wide_vec)->size = (wide_vec)->capacity = n_;			\
	(ok) = true;								\
} while (0)

struct pyhs_error *pyhs_heap_widen(struct pyhs_heap *h)
{
	if (!h->narrow)
		return NULL;
	uint64_t n = h->addr.size;
	bool ok;
	WIDEN_IN_PLACE(&h->refcnt8, &h->refcnt32.v, n, ok);
	if (!ok)
		return &pyhs_enomem;
	/* Each object's first word, read when it was added: read again
	 * where its count did not fit. */
	for (uint64_t i = 0; i < n; i++) {
		if (h->refcnt32.v.data[i] < REFCNT8_MAX)
			continue;
		uint64_t word = 0;
		pyhs_target_read(h->t, h->addr.data[i], &word, 8);
		if (!pyhs_u32_column_set(&h->refcnt32, i, refcnt_of(h, word)))
			return &pyhs_enomem;
	}
	h->narrow = false;
	return NULL;
}

uint64_t pyhs_heap_refcnt_any(const struct pyhs_heap *h, uint64_t i)
{
	if (!h->narrow)
		return pyhs_u32_column_at(&h->refcnt32, i);
	if (h->refcnt8.data[i] < REFCNT8_MAX)
		return h->refcnt8.data[i];
	uint64_t word = 0;
	pyhs_target_read(h->t, h->addr.data[i], &word, 8);
	return refcnt_of(h, word);
}

/* Takes back the objects from number n on (a conservative candidate that
 * failed to validate, and what its decoding added). */
bool pyhs_heap_truncate(struct pyhs_heap *h, uint32_t n)
{
	if (n >= h->addr.size)
		return true;
	h->addr.size = h->type.size = n;
	h->gen.size = h->flags.size = n;
	/* A value of 2^32 or more a taken-back object left in a side map is
	 * never read: the next object numbered so sets its own. */
	h->size32.v.size = h->edge_start.size = n;
	if (h->narrow)
		h->refcnt8.size = n;
	else
		h->refcnt32.v.size = n;
	memset(h->hot, 0, sizeof(h->hot));
	return !h->index || index_grow_to(h, h->index_mask + 1);
}

/* ---- building and destroying ---- */

const char *pyhs_heap_own(struct pyhs_heap *h, const char *s)
{
	char *copy = strdup(s ? s : "");
	if (!copy || !pyhs_str_vector_append(&h->owned_strings, copy)) {
		free(copy);
		return NULL;
	}
	return copy;
}

/* Copies what the target knows of the process into the heap. */
static struct pyhs_error *fill_meta(struct pyhs_heap *h,
				    const struct pyhs_target *t,
				    const char *input)
{
	struct pyhs_heap_meta *m = &h->meta;
	const char *dbg = pyhs_target_debug_file(t);
	if (!(m->source = pyhs_heap_own(h, pyhs_target_source(t))) ||
	    !(m->input = pyhs_heap_own(h, input)) ||
	    !(m->executable = pyhs_heap_own(h, pyhs_target_executable(t))) ||
	    !(m->cmdline = pyhs_heap_own(h, pyhs_target_cmdline(t))) ||
	    !(m->library = pyhs_heap_own(h, pyhs_target_py_library(t))) ||
	    !(m->layout = pyhs_heap_own(h, pyhs_target_layout_source(t) == PYHS_LAYOUT_DWARF ?
						   "dwarf" : "builtin")) ||
	    !(m->debug_file = pyhs_heap_own(h, dbg ? dbg : "")))
		return &pyhs_enomem;
	if (!m->version && !(m->version = pyhs_heap_own(h, "")))
		return &pyhs_enomem;
	m->pid = pyhs_target_pid(t);
	m->signal = pyhs_target_signal(t);
	m->pause_ns = pyhs_target_pause_ns(t);
	m->unstopped = pyhs_target_unstopped(t);
	m->capture_time = pyhs_target_capture_time(t);
	m->start_time = pyhs_target_start_time(t);
	if (!m->hexversion)
		m->hexversion = pyhs_target_py_version(t);
	for (size_t i = 0; i < pyhs_target_nthreads(t); i++)
		if (!pyhs_int_vector_append(&h->tids, pyhs_target_thread_tid(t, i)))
			return &pyhs_enomem;
	m->ntids = h->tids.size;
	m->tids = h->tids.data;
	size_t first = h->owned_strings.size;
	for (size_t i = 0; i < pyhs_target_nwarnings(t); i++)
		if (!pyhs_heap_own(h, pyhs_target_warning(t, i)))
			return &pyhs_enomem;
	m->nwarnings = h->owned_strings.size - first;
	m->warnings = (const char *const *)h->owned_strings.data + first;
	return NULL;
}

void pyhs_heap_set_progress(struct pyhs_heap *h, pyhs_progress_fn *fn, void *ctx)
{
	h->progress = fn;
	h->progress_ctx = ctx;
}

void pyhs_heap_set_jobs(struct pyhs_heap *h, unsigned jobs)
{
	h->jobs = jobs;
}

unsigned pyhs_heap_jobs(const struct pyhs_heap *h)
{
	return h->jobs;
}

struct pyhs_error *pyhs_heap_build(const struct pyhs_target *t,
				   const char *input,
				   const struct pyhs_heap_options *opts,
				   struct pyhs_heap **ret)
{
	struct pyhs_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &pyhs_enomem;
	h->t = t;
	h->L = pyhs_target_layout(t);
	/* A version newer than this build knows is read over the newest
	 * layout it knows, and so by that version's rules. */
	h->minor = (pyhs_target_py_version(t) >> 16) & 0xff;
	if (h->minor > PYHS_NEWEST_MINOR)
		h->minor = PYHS_NEWEST_MINOR;
	h->max_objects = opts && opts->max_objects ? opts->max_objects :
						     PYHS_DEFAULT_MAX_OBJECTS;
	if (h->max_objects > UINT32_MAX - 1)
		h->max_objects = UINT32_MAX - 1;
	/* Each reference is read from a pointer's 8 bytes of the target:
	 * twice that many bounds what a heap of this size holds, and keeps
	 * containers that share or repeat their items from multiplying. */
	h->max_edges = opts && opts->max_edges ? opts->max_edges :
		       pyhs_default_max_edges(pyhs_target_memory_bytes(t));
	/* Edge offsets are kept in 4 bytes while the objects are decoded. */
	if (h->max_edges > UINT32_MAX - 1)
		h->max_edges = UINT32_MAX - 1;
	h->narrow = true;
	pyhs_u32_column_init(&h->size32);
	pyhs_u32_column_init(&h->refcnt32);
	pyhs_sparse_column_init(&h->unexplained);
	pyhs_addr_u32_map_init(&h->type_by_addr);
	pyhs_addr_u32_map_init(&h->kind_by_addr);
	pyhs_string_map_init(&h->string_ids);
	if (opts) {
		pyhs_heap_set_progress(h, opts->progress, opts->progress_ctx);
		pyhs_heap_set_jobs(h, opts->jobs);
	}
	h->spill_above = opts && opts->spill_above ? opts->spill_above : PYHS_DEFAULT_SPILL_ABOVE;
	pyhs_heap_progress(h, "walking the heap", 0, 0);
	struct pyhs_error *err = pyhs_types_init(h);
	if (!err)
		err = pyhs_walk(h);
	pyhs_heap_progress(h, "reading values", h->addr.size, h->addr.size);
	if (!err)
		err = pyhs_types_register_objects(h);
	if (!err)
		err = pyhs_types_name_all(h);
	if (!err)
		err = pyhs_values_build(h);
	if (!err)
		err = pyhs_async_build(h);
	if (!err)
		err = fill_meta(h, t, input);
	if (!err)
		err = pyhs_heap_spill_values(h);
	pyhs_heap_progress(h, NULL, 0, 0);
	h->t = NULL; /* nothing reads the target from here on */
	if (err) {
		pyhs_heap_destroy(h);
		return err;
	}
	/* Give back what doubling over-allocated: at rest a heap holds its
	 * objects and edges and nothing more. */
	pyhs_u64_vector_shrink(&h->addr);
	pyhs_u32_vector_shrink(&h->type);
	pyhs_u32_vector_shrink(&h->size32.v);
	pyhs_u32_vector_shrink(&h->refcnt32.v);
	pyhs_u8_vector_shrink(&h->gen);
	pyhs_u8_vector_shrink(&h->flags);
	pyhs_u32_vector_shrink(&h->edge_start);
	pyhs_u32_vector_shrink(&h->value_off);
	pyhs_u32_vector_shrink(&h->edge_dst);
	pyhs_u32_vector_shrink(&h->edge_label);
	pyhs_char_vector_shrink(&h->value_text);
	free(h->index); /* rebuilt on demand by pyhs_heap_lookup */
	h->index = NULL;
	*ret = h;
	return NULL;
}

void pyhs_heap_destroy(struct pyhs_heap *h)
{
	if (!h)
		return;
	pyhs_prefault_destroy(h->prefault);
	pyhs_heap_unspill(h);
	pyhs_memory_state_destroy(h->memory);
	pyhs_u64_vector_deinit(&h->addr);
	pyhs_u32_vector_deinit(&h->type);
	pyhs_u8_vector_deinit(&h->gen);
	pyhs_u8_vector_deinit(&h->flags);
	pyhs_u32_vector_deinit(&h->edge_start);
	pyhs_u32_column_deinit(&h->size32);
	pyhs_u32_column_deinit(&h->refcnt32);
	pyhs_sparse_column_deinit(&h->unexplained);
	pyhs_u8_vector_deinit(&h->refcnt8);
	free(h->index);
	pyhs_u32_vector_deinit(&h->edge_dst);
	pyhs_u32_vector_deinit(&h->edge_label);
	for (size_t i = 0; i < h->types.size; i++) {
		free(h->types.data[i].name);
		free(h->types.data[i].field_names);
	}
	pyhs_type_vector_deinit(&h->types);
	pyhs_addr_u32_map_deinit(&h->type_by_addr);
	pyhs_addr_u32_map_deinit(&h->kind_by_addr);
	for (size_t i = 0; i < h->strings.size; i++)
		free(h->strings.data[i]);
	pyhs_str_vector_deinit(&h->strings);
	pyhs_string_map_deinit(&h->string_ids);
	pyhs_root_vector_deinit(&h->roots);
	pyhs_thread_vector_deinit(&h->threads);
	pyhs_frame_vector_deinit(&h->frames);
	pyhs_async_vector_deinit(&h->async);
	for (size_t i = 0; i < h->warn_examples.size; i++)
		free(h->warn_examples.data[i]);
	pyhs_str_vector_deinit(&h->warn_examples);
	for (size_t i = 0; i < h->owned_strings.size; i++)
		free(h->owned_strings.data[i]);
	pyhs_str_vector_deinit(&h->owned_strings);
	pyhs_int_vector_deinit(&h->tids);
	pyhs_u32_vector_deinit(&h->value_off);
	pyhs_char_vector_deinit(&h->value_text);
	free(h);
}

/* ---- accessors ---- */

const struct pyhs_heap_meta *pyhs_heap_meta(const struct pyhs_heap *h) { return &h->meta; }

uint64_t pyhs_heap_memory_bytes(const struct pyhs_heap *h)
{
	return h->addr.capacity * 8 + h->type.capacity * 4 + h->size32.v.capacity * 4 +
	       h->refcnt32.v.capacity * 4 + h->gen.capacity + h->flags.capacity +
	       h->edge_start.capacity * 4 + (h->index ? (h->index_mask + 1) * 4 : 0) +
	       h->edge_dst.capacity * 4 + h->edge_label.capacity * 4 +
	       h->value_off.capacity * 4 + h->value_text.capacity;
}

const char *pyhs_heap_value(const struct pyhs_heap *h, uint64_t i)
{
	if (i >= h->value_off.size || h->value_off.data[i] == UINT32_MAX)
		return NULL;
	return h->value_text.data + h->value_off.data[i];
}
uint64_t pyhs_heap_nobjects(const struct pyhs_heap *h) { return h->addr.size; }
uint64_t pyhs_heap_addr(const struct pyhs_heap *h, uint64_t i) { return h->addr.data[i]; }
uint32_t pyhs_heap_type_of(const struct pyhs_heap *h, uint64_t i) { return h->type.data[i]; }
uint64_t pyhs_heap_size(const struct pyhs_heap *h, uint64_t i)
{
	return pyhs_u32_column_at(&h->size32, i);
}
uint64_t pyhs_heap_refcnt(const struct pyhs_heap *h, uint64_t i)
{
	return pyhs_u32_column_at(&h->refcnt32, i);
}
enum pyhs_gen pyhs_heap_gen(const struct pyhs_heap *h, uint64_t i)
{
	return (enum pyhs_gen)h->gen.data[i];
}
unsigned pyhs_heap_flags(const struct pyhs_heap *h, uint64_t i) { return h->flags.data[i]; }

bool pyhs_heap_find(const struct pyhs_heap *hc, uint64_t addr, uint64_t *ret)
{
	/* One object named on the command line: a scan of the addresses
	 * costs less than the index built for it; the second find builds
	 * the index, for callers that look up many. */
	struct pyhs_heap *h = (struct pyhs_heap *)hc; /* the index is a cache */
	if (!h->index && !h->index_wanted) {
		h->index_wanted = true;
		for (uint64_t i = 0; i < h->addr.size; i++) {
			if (h->addr.data[i] == addr) {
				*ret = i;
				return true;
			}
		}
		return false;
	}
	uint32_t i = pyhs_heap_lookup(h, addr);
	if (i == PYHS_NO_OBJECT)
		return false;
	*ret = i;
	return true;
}

void pyhs_heap_edges(const struct pyhs_heap *h, uint64_t i, uint64_t *begin,
		     uint64_t *end)
{
	*begin = h->edge_start.data[i];
	*end = h->edge_start.data[i + 1];
}
uint32_t pyhs_heap_edge_source(const struct pyhs_heap *h, uint64_t e)
{
	uint64_t lo = 0, hi = h->addr.size;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (h->edge_start.data[mid] <= e)
			lo = mid;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

uint64_t pyhs_heap_nedges(const struct pyhs_heap *h) { return h->edge_dst.size; }
uint32_t pyhs_heap_edge_dst(const struct pyhs_heap *h, uint64_t e) { return h->edge_dst.data[e]; }
uint32_t pyhs_heap_edge_label(const struct pyhs_heap *h, uint64_t e) { return h->edge_label.data[e]; }

bool pyhs_heap_is_type(const struct pyhs_heap *h, uint64_t i)
{
	return h->types.data[h->type.data[i]].kind == K_TYPE;
}
bool pyhs_heap_is_module(const struct pyhs_heap *h, uint64_t i)
{
	return h->types.data[h->type.data[i]].kind == K_MODULE;
}

uint32_t pyhs_heap_ntypes(const struct pyhs_heap *h) { return (uint32_t)h->types.size; }
const char *pyhs_heap_type_name(const struct pyhs_heap *h, uint32_t type)
{
	if (type >= h->types.size || !h->types.data[type].name)
		return "?";
	return h->types.data[type].name;
}

uint64_t pyhs_heap_nroots(const struct pyhs_heap *h) { return h->roots.size; }
uint32_t pyhs_heap_root_object(const struct pyhs_heap *h, uint64_t r) { return h->roots.data[r].obj; }
bool pyhs_heap_root_holds_ref(const struct pyhs_heap *h, uint64_t r)
{
	return h->roots.data[r].info.holds_ref;
}
void pyhs_heap_root(const struct pyhs_heap *h, uint64_t r,
		    struct pyhs_root_info *ret)
{
	*ret = h->roots.data[r].info;
}
int pyhs_heap_root_rank(const struct pyhs_heap *h, uint64_t r)
{
	return r >= h->roots.size ? PYHS_ROOT_RANK_C : pyhs_root_rank(h, r);
}
uint32_t pyhs_heap_nframes(const struct pyhs_heap *h) { return (uint32_t)h->frames.size; }
const struct pyhs_frame_info *pyhs_heap_frame(const struct pyhs_heap *h, uint32_t f)
{
	return &h->frames.data[f];
}
const struct pyhs_thread_info *pyhs_heap_thread(const struct pyhs_heap *h, size_t i)
{
	return &h->threads.data[i].info;
}

void pyhs_heap_gc_info(const struct pyhs_heap *h, int gen,
		       struct pyhs_gc_generation_info *ret)
{
	if (gen >= 0 && gen < 4)
		*ret = h->gc[gen];
}
bool pyhs_heap_gc_enabled(const struct pyhs_heap *h) { return h->gc_enabled; }
size_t pyhs_heap_nthreads(const struct pyhs_heap *h) { return h->threads.size; }
uint64_t pyhs_heap_thread_ident(const struct pyhs_heap *h, size_t i) { return h->threads.data[i].info.ident; }
uint64_t pyhs_heap_thread_native_id(const struct pyhs_heap *h, size_t i) { return h->threads.data[i].info.native_id; }

uint64_t pyhs_heap_warning_count(const struct pyhs_heap *h,
				 enum pyhs_warning_kind kind)
{
	return kind < PYHS_WARN_NKINDS ? h->warn_count[kind] : 0;
}
size_t pyhs_heap_nwarning_examples(const struct pyhs_heap *h) { return h->warn_examples.size; }
uint64_t pyhs_heap_dropped_candidates(const struct pyhs_heap *h) { return h->candidates_dropped; }
const char *pyhs_heap_warning_example(const struct pyhs_heap *h, size_t i)
{
	return h->warn_examples.data[i];
}

/* ---- columns and parts ---- */

void pyhs_heap_get_columns(const struct pyhs_heap *h,
			   struct pyhs_heap_columns *ret)
{
	struct pyhs_heap_columns c = {
		.nobjects = h->addr.size,
		.addr = h->addr.data,
		.type = h->type.data,
		.gen = h->gen.data,
		.flags = h->flags.data,
		.value_off = h->value_off.data,
		.edge_start = h->edge_start.data,
		.nedges = h->edge_dst.size,
		.edge_dst = h->edge_dst.data,
		.edge_label = h->edge_label.data,
		.value_text_size = h->value_text.size,
		.value_text = h->value_text.data,
	};
	*ret = c;
}

uint8_t pyhs_heap_type_kind(const struct pyhs_heap *h, uint32_t type)
{
	return type < h->types.size ? (uint8_t)h->types.data[type].kind : 0;
}
uint32_t pyhs_heap_nstrings(const struct pyhs_heap *h) { return (uint32_t)h->strings.size; }
const char *pyhs_heap_string(const struct pyhs_heap *h, uint32_t id)
{
	return id < h->strings.size ? h->strings.data[id] : "";
}
const char *pyhs_heap_string_or_null(const struct pyhs_heap *h, uint32_t id)
{
	return id < h->strings.size ? h->strings.data[id] : NULL;
}


/* Wraps a malloc'd array in a vector without copying. */
#define ADOPT(vec, ptr, n) do { (vec).data = (ptr); (vec).size = (vec).capacity = (n); } while (0)

static struct pyhs_error *check_parts(const struct pyhs_heap_parts *p)
{
	const struct pyhs_heap_columns *c = &p->columns;
	uint64_t n = c->nobjects;
#define BAD(...) pyhs_error_create(PYHS_ERROR_INPUT, __VA_ARGS__)
	if (n >= UINT32_MAX)
		return BAD("%" PRIu64 " objects is more than a heap can hold", n);
	if (n && (!c->addr || !c->type || !c->size || !c->refcnt || !c->gen ||
		  !c->flags || !c->value_off))
		return BAD("object columns are missing");
	if (!c->edge_start || (c->nedges && (!c->edge_dst || !c->edge_label)))
		return BAD("edge columns are missing");
	if (c->nedges >= UINT32_MAX)
		return BAD("%" PRIu64 " references is more than a heap can hold", c->nedges);
	if (c->value_text_size && (!c->value_text || c->value_text[c->value_text_size - 1]))
		return BAD("value texts are not NUL-terminated");
	if (c->edge_start[0] != 0 || c->edge_start[n] != c->nedges)
		return BAD("edge offsets do not cover the edges");
	for (uint64_t i = 0; i < n; i++) {
		if (c->edge_start[i] > c->edge_start[i + 1])
			return BAD("edge offsets of object %" PRIu64 " go backwards", i);
		if (c->type[i] >= p->ntypes)
			return BAD("object %" PRIu64 " has type %" PRIu32 " of %" PRIu32,
				   i, c->type[i], p->ntypes);
		if (c->gen[i] > PYHS_GEN_UNTRACKED)
			return BAD("object %" PRIu64 " has generation %u", i, c->gen[i]);
		if (c->value_off[i] != UINT32_MAX && c->value_off[i] >= c->value_text_size)
			return BAD("object %" PRIu64 " has a value past the value texts", i);
		if (i && c->addr[i] == c->addr[i - 1])
			return BAD("object %" PRIu64 " repeats an address", i);
	}
	for (uint64_t e = 0; e < c->nedges; e++) {
		if (c->edge_dst[e] >= n)
			return BAD("edge %" PRIu64 " leads past the objects", e);
		uint32_t l = c->edge_label[e], pl = PYHS_LABEL_PAYLOAD(l);
		switch (PYHS_LABEL_KIND(l)) {
		case PYHS_LABEL_DICT_VALUE:
		case PYHS_LABEL_ATTR:
		case PYHS_LABEL_LOCAL:
			if (pl >= n)
				return BAD("label of edge %" PRIu64 " names no object", e);
			break;
		case PYHS_LABEL_FIELD:
		case PYHS_LABEL_CELL:
			if (pl >= p->nstrings)
				return BAD("label of edge %" PRIu64 " names no string", e);
			break;
		case PYHS_LABEL_NONE:
		case PYHS_LABEL_INDEX:
		case PYHS_LABEL_DICT_KEY:
		case PYHS_LABEL_CONSERVATIVE:
		case PYHS_LABEL_WEAK:
		case PYHS_LABEL_ITEM:
			break;
		default:
			return BAD("edge %" PRIu64 " has an unknown label kind", e);
		}
	}
	for (uint32_t t = 0; t < p->ntypes; t++)
		if (!p->type_names[t] || p->type_kinds[t] >= K_NKINDS)
			return BAD("type %" PRIu32 " is malformed", t);
	for (uint32_t i = 0; i < p->nstrings; i++)
		if (!p->strings[i])
			return BAD("string %" PRIu32 " is missing", i);
#define STR_OK(id) ((id) == PYHS_NO_STRING || (id) < p->nstrings)
	for (uint64_t r = 0; r < p->nroots; r++) {
		const struct pyhs_root_info *ri = &p->roots[r];
		if (p->root_obj[r] >= n || ri->kind >= PYHS_ROOT_NKINDS ||
		    !STR_OK(ri->name) ||
		    (ri->thread != PYHS_NO_THREAD && ri->thread >= p->nthreads) ||
		    (ri->frame != PYHS_NO_FRAME &&
		     (ri->frame >= p->nframes || p->frames[ri->frame].thread != ri->thread)))
			return BAD("root %" PRIu64 " is malformed", r);
	}
	for (uint32_t f = 0; f < p->nframes; f++) {
		const struct pyhs_frame_info *fi = &p->frames[f];
		if (fi->thread >= p->nthreads || !STR_OK(fi->function) ||
		    !STR_OK(fi->file) || (fi->code != UINT32_MAX && fi->code >= n))
			return BAD("frame %" PRIu32 " is malformed", f);
	}
	for (size_t i = 0; i < p->nthreads; i++) {
		const struct pyhs_thread_info *ti = &p->threads[i];
		if (!STR_OK(ti->name) || ti->first_frame > p->nframes ||
		    ti->nframes > p->nframes - ti->first_frame)
			return BAD("thread %zu is malformed", i);
		for (uint32_t f = ti->first_frame; f < ti->first_frame + ti->nframes; f++)
			if (p->frames[f].thread != i ||
			    p->frames[f].depth != f - ti->first_frame)
				return BAD("thread %zu is malformed", i);
	}
	for (uint64_t k = 0; k < p->nasync; k++) {
		const struct pyhs_async_info *a = &p->async[k];
		if (a->obj >= n || (k && a->obj <= p->async[k - 1].obj) ||
		    a->state > PYHS_TASK_CANCELLED || !STR_OK(a->function) || !STR_OK(a->file) ||
		    a->line < -1)
			return BAD("coroutine or future record %" PRIu64 " is malformed", k);
	}
#undef STR_OK
#undef BAD
	return NULL;
}

struct pyhs_error *pyhs_heap_assemble(struct pyhs_heap_parts *p,
				      struct pyhs_heap **ret)
{
	struct pyhs_error *err = check_parts(p);
	if (err)
		return err;
	struct pyhs_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &pyhs_enomem;
	pyhs_addr_u32_map_init(&h->type_by_addr);
	pyhs_addr_u32_map_init(&h->kind_by_addr);
	pyhs_string_map_init(&h->string_ids);
	pyhs_u32_column_init(&h->size32);
	pyhs_u32_column_init(&h->refcnt32);
	pyhs_sparse_column_init(&h->unexplained);
	const struct pyhs_heap_columns *pc = &p->columns;
	if (!column_wide_from(&h->size32, pc->size, pc->nobjects) ||
	    !column_wide_from(&h->refcnt32, pc->refcnt, pc->nobjects))
		err = &pyhs_enomem;
	h->minor = (p->meta.hexversion >> 16) & 0xff;
	if (h->minor > PYHS_NEWEST_MINOR)
		h->minor = PYHS_NEWEST_MINOR;
	for (uint32_t t = 0; t < p->ntypes && !err; t++) {
		struct pyhs_type_info ti = { .kind = (enum pyhs_kind)p->type_kinds[t] };
		ti.name = strdup(p->type_names[t]);
		if (!ti.name || !pyhs_type_vector_append(&h->types, ti)) {
			free(ti.name);
			err = &pyhs_enomem;
		}
	}
	for (uint32_t i = 0; i < p->nstrings && !err; i++) {
		char *copy = strdup(p->strings[i]);
		if (!copy || !pyhs_str_vector_append(&h->strings, copy)) {
			free(copy);
			err = &pyhs_enomem;
			break;
		}
		/* Rendering interns its texts: the pool is searchable. */
		bool inserted;
		uint32_t *id = pyhs_string_map_insert(&h->string_ids, copy, &inserted);
		if (!id)
			err = &pyhs_enomem;
		else if (inserted)
			*id = i;
	}
	for (uint64_t r = 0; r < p->nroots && !err; r++) {
		struct pyhs_root root = { p->root_obj[r], 0, p->roots[r] };
		if (!pyhs_root_vector_append(&h->roots, root))
			err = &pyhs_enomem;
	}
	for (size_t i = 0; i < p->nthreads && !err; i++) {
		struct pyhs_thread th = { 0, p->threads[i] };
		if (!pyhs_thread_vector_append(&h->threads, th))
			err = &pyhs_enomem;
	}
	for (uint32_t f = 0; f < p->nframes && !err; f++)
		if (!pyhs_frame_vector_append(&h->frames, p->frames[f]))
			err = &pyhs_enomem;
	if (!err && p->nasync && !pyhs_async_vector_reserve(&h->async, p->nasync))
		err = &pyhs_enomem;
	if (!err && p->nasync) {
		memcpy(h->async.data, p->async, p->nasync * sizeof(*p->async));
		h->async.size = p->nasync;
	}
	if (!err)
		err = pyhs_render_roots(h);
	for (size_t i = 0; i < p->nwarn_examples && !err; i++) {
		char *copy = strdup(p->warn_examples[i]);
		if (!copy || !pyhs_str_vector_append(&h->warn_examples, copy)) {
			free(copy);
			err = &pyhs_enomem;
		}
	}
	/* Metadata: every string copied. */
	const struct pyhs_heap_meta *m = &p->meta;
	struct pyhs_heap_meta *hm = &h->meta;
	if (!err &&
	    (!(hm->source = pyhs_heap_own(h, m->source)) ||
	     !(hm->input = pyhs_heap_own(h, m->input)) ||
	     !(hm->executable = pyhs_heap_own(h, m->executable)) ||
	     !(hm->cmdline = pyhs_heap_own(h, m->cmdline)) ||
	     !(hm->version = pyhs_heap_own(h, m->version)) ||
	     !(hm->library = pyhs_heap_own(h, m->library)) ||
	     !(hm->layout = pyhs_heap_own(h, m->layout)) ||
	     !(hm->debug_file = pyhs_heap_own(h, m->debug_file))))
		err = &pyhs_enomem;
	for (size_t i = 0; i < m->ntids && !err; i++)
		if (!pyhs_int_vector_append(&h->tids, m->tids[i]))
			err = &pyhs_enomem;
	size_t first = h->owned_strings.size;
	for (size_t i = 0; i < m->nwarnings && !err; i++)
		if (!pyhs_heap_own(h, m->warnings[i]))
			err = &pyhs_enomem;
	if (err) {
		pyhs_heap_destroy(h);
		return err;
	}
	hm->pid = m->pid;
	hm->signal = m->signal;
	hm->hexversion = m->hexversion;
	hm->capture_time = m->capture_time;
	hm->start_time = m->start_time;
	hm->pause_ns = m->pause_ns;
	hm->unstopped = m->unstopped;
	hm->ntids = h->tids.size;
	hm->tids = h->tids.data;
	hm->nwarnings = h->owned_strings.size - first;
	hm->warnings = (const char *const *)h->owned_strings.data + first;
	memcpy(h->gc, p->gc, sizeof(h->gc));
	h->gc_enabled = p->gc_enabled;
	memcpy(h->warn_count, p->warn_count, sizeof(h->warn_count));
	/* The big arrays change hands last, when nothing can fail. */
	struct pyhs_heap_columns *c = &p->columns;
	uint64_t n = c->nobjects;
	ADOPT(h->addr, c->addr, n);
	ADOPT(h->type, c->type, n);
	column_adopt_narrowed(&h->size32, c->size, n);
	column_adopt_narrowed(&h->refcnt32, c->refcnt, n);
	ADOPT(h->gen, c->gen, n);
	ADOPT(h->flags, c->flags, n);
	ADOPT(h->value_off, c->value_off, n);
	ADOPT(h->edge_start, c->edge_start, n + 1);
	ADOPT(h->edge_dst, c->edge_dst, c->nedges);
	ADOPT(h->edge_label, c->edge_label, c->nedges);
	ADOPT(h->value_text, c->value_text, c->value_text_size);
	h->max_objects = h->max_edges = UINT64_MAX;
	*ret = h;
	return NULL;
}
