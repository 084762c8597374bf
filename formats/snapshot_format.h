/*
 * Snapshot files, what their writer and reader share: the format's
 * constants, its sections, the little-endian and zigzag encodings, the edge
 * target model, and the one table of metadata keys (FORMAT.md). Private to
 * formats/: snapshot_write.c, snapshot_read.c and snapshot_format.c.
 */
#ifndef PYHS_SNAPSHOT_FORMAT_H
#define PYHS_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "formats.h"

/* ---- the format's constants (FORMAT.md) ---------------------------------- */

extern const uint8_t pyhs_snapshot_magic[PYHS_SNAPSHOT_MAGIC_SIZE];

#define HEADER_SIZE 64
#define ENTRY_SIZE 40
#define MAX_SECTIONS 256
/* No zstd frame expands more: a 4-byte RLE block makes at most 128 KiB. */
#define MAX_EXPANSION 32768
#define MAX_VARINT 10

#define CODEC_STORED 0
#define CODEC_ZSTD 1
#define SECTION_REQUIRED 0x0001

#define META_UINT 0
#define META_SINT 1
#define META_STRING 2

/* Label bytes: the kind in the low four bits, and this bit when a payload
 * (a difference from the predicted one) follows in the payload section. */
#define LABEL_HAS_PAYLOAD 0x10
/* Label kinds a file of each format version may name: format 4 added the
 * closure cell's (10). */
#define LABEL_KINDS_V1 10
#define LABEL_KINDS_V4 11

#define ZSTD_LEVEL 9

/* RAND (FORMAT.md): per-object records in blocks of RAND_BLOCK objects,
 * each block its own zstd frame (compressed at RAND_ZSTD_LEVEL). */
#define RAND_BLOCK 4096
#define RAND_GRAPH_RECORD 9
#define RAND_RECORD 56
#define RAND_HEAD 24
#define RAND_DIR_ENTRY 48
#define RAND_ZSTD_LEVEL 3
#define RAND_NONE UINT32_MAX
#define RAND_WEAK 0x80000000u
/* The most bytes of references (out or in) one block's frame holds. */
#define RAND_MAX_FRAME (UINT64_C(16) << 20)
/* Long lists (FORMAT.md, RAND): bit 31 of the head's first word says the
 * section has them, after a head of RAND_LONG_HEAD bytes; each list's
 * entry is RAND_LONG_ENTRY bytes, its chunks' RAND_CHUNK_ENTRY; chunks of
 * RAND_CHUNK references (writers), at most RAND_MAX_CHUNK (readers). */
#define RAND_LONG 0x80000000u
#define RAND_LONG_HEAD 32
#define RAND_LONG_ENTRY 12
#define RAND_CHUNK_ENTRY 24
#define RAND_CHUNK 65536
#define RAND_MAX_CHUNK (UINT32_C(1) << 20)


enum section {
	S_META,
	S_THRD,
	S_WARN,
	S_TYPE,
	S_STRS,
	S_ROOT,
	S_ADDR,
	S_OTYP,
	S_SIZE,
	S_RCNT,
	S_GENS,
	S_FLAG,
	S_VOFF,
	S_VTXT,
	S_ECNT,
	S_EDST,
	S_ELKD,
	S_ELPL,
	S_ASYN,
	S_MEMS, /* optional: snapshot_memory.c */
	S_INDX, /* optional: snapshot_index.c */
	S_TOPR, /* optional: snapshot_index.c */
	S_RAND, /* optional: snapshot_write.c, snapshot_read.c */
	NSECTIONS,
};

/* The sections RAND's records stand for, whose checksums it keeps
 * (FORMAT.md): the heap's (the required ones, S_META to S_ELPL) and INDX. */
static inline bool rand_binds(enum section s)
{
	return s <= S_ELPL || s == S_INDX;
}

extern const struct pyhs_snapshot_section {
	char id[5];
	const char *name; /* in messages */
	bool optional;    /* not required: readers of older files do without */
} pyhs_snapshot_sections[NSECTIONS];

/* RAND's binding (FORMAT.md) for a section table of count entries: the
 * XXH64 of the checksums of the sections rand_binds names, in section
 * order, the first entry of each id. */
uint64_t snapshot_rand_binding(const uint8_t *table, size_t count);

/* ---- the allocator state section (snapshot_memory.c) -------------------- */

struct pyhs_error *snapshot_memory_encode(const struct pyhs_memory_state *m,
					  uint8_t **ret, size_t *ret_n);
/* PYHS_ERROR_NOMEM only; a corrupt section returns NULL with *ret_bad
 * saying what is wrong (and *ret unset). */
struct pyhs_error *snapshot_memory_decode(const uint8_t *data, size_t n,
					  struct pyhs_memory_state **ret,
					  const char **ret_bad);

/* ---- varints (FORMAT.md, Conventions) ----------------------------------- */

/* The varint at *p (advanced past it), or 0 with *bad set if it runs past
 * end, is longer than 10 bytes or overflows. */
static inline uint64_t snapshot_get_varint(const uint8_t **p, const uint8_t *end, bool *bad)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (*p >= end) {
			*bad = true;
			return 0;
		}
		uint8_t byte = *(*p)++;
		if (shift == 63 && byte > 1) {
			*bad = true;
			return 0;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	*bad = true;
	return 0;
}

/* ---- little-endian integers, zigzag ------------------------------------- */

static inline void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

/* A difference in two's complement, folded so small magnitudes are small. */
static inline uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ ((d >> 63) ? UINT64_MAX : 0);
}

static inline uint64_t unzigzag(uint64_t u)
{
	return (u >> 1) ^ (UINT64_C(0) - (u & 1));
}

/* ---- the edge target model (FORMAT.md, section EDST) -------------------- */

/* Objects are numbered in the order the walk found them, so a reference to
 * an object not met before leads to the next number; and objects of one
 * type tend to refer to the same things in the same places (their class,
 * shared keys, None). */
struct edge_model {
	uint64_t hwm;          /* the highest target so far */
	uint64_t last;         /* the target of the edge before */
	uint64_t *prev_start;  /* per type: the edges of its last object with any */
	uint64_t *prev_count;
};

#define EDGE_NEW 0
#define EDGE_SAME 1
#define EDGE_DELTA 2

static inline struct pyhs_error *edge_model_init(struct edge_model *em, uint64_t ntypes)
{
	em->hwm = em->last = 0;
	em->prev_start = malloc((ntypes + 1) * sizeof(uint64_t));
	em->prev_count = calloc(ntypes + 1, sizeof(uint64_t));
	if (!em->prev_start || !em->prev_count) {
		free(em->prev_start);
		free(em->prev_count);
		return &pyhs_enomem;
	}
	return NULL;
}

static inline void edge_model_deinit(struct edge_model *em)
{
	free(em->prev_start);
	free(em->prev_count);
}

/* The symbol for edge j (counting from 0) of an object of type t, to dst;
 * dsts holds the targets of every earlier edge. */
static inline uint64_t edge_symbol(struct edge_model *em, const uint32_t *dsts,
				   uint32_t t, uint64_t j, uint64_t dst)
{
	uint64_t sym;
	if (dst == em->hwm + 1)
		sym = EDGE_NEW;
	else if (j < em->prev_count[t] && dsts[em->prev_start[t] + j] == dst)
		sym = EDGE_SAME;
	else
		sym = EDGE_DELTA + zigzag(dst - (em->last + 1));
	if (dst > em->hwm)
		em->hwm = dst;
	em->last = dst;
	return sym;
}

/* The inverse: the target that sym stands for, or UINT64_MAX if it stands
 * for none. */
static inline uint64_t edge_target(struct edge_model *em, const uint32_t *dsts,
				   uint32_t t, uint64_t j, uint64_t sym)
{
	uint64_t dst;
	if (sym == EDGE_NEW)
		dst = em->hwm + 1;
	else if (sym == EDGE_SAME)
		dst = j < em->prev_count[t] ? dsts[em->prev_start[t] + j] : UINT64_MAX;
	else
		dst = em->last + 1 + unzigzag(sym - EDGE_DELTA);
	if (dst > UINT32_MAX)
		return UINT64_MAX;
	if (dst > em->hwm)
		em->hwm = dst;
	em->last = dst;
	return dst;
}

/* After the edges [k0, k1) of an object of type t. */
static inline void edge_model_next(struct edge_model *em, uint32_t t,
				   uint64_t k0, uint64_t k1)
{
	if (k1 > k0) {
		em->prev_start[t] = k0;
		em->prev_count[t] = k1 - k0;
	}
}

/* ---- metadata (FORMAT.md, section META) ---------------------------------- */

/* What a metadata field holds, which decides its record type: META_STRING
 * for strings, META_SINT for ints, META_UINT for the rest. */
enum snapshot_meta_value {
	META_VALUE_STR,   /* const char * */
	META_VALUE_INT,   /* int */
	META_VALUE_U32,   /* uint32_t */
	META_VALUE_U64,   /* uint64_t */
	META_VALUE_BOOL,  /* bool, recorded as 0 or 1 */
};

/* One metadata field of a struct pyhs_heap_parts, under its key. */
struct snapshot_meta_field {
	char key[64];
	enum snapshot_meta_value value;
	void *p;        /* the field, in the parts given */
	bool optional;  /* written only when not zero */
};

/* The most fields snapshot_meta_fields makes. */
#define SNAPSHOT_META_MAX_FIELDS (32 + 4 * 4 + PYHS_WARN_NKINDS)

/* Every metadata field of p, in the order the writer writes them, into
 * ret (SNAPSHOT_META_MAX_FIELDS long); returns their number. */
size_t snapshot_meta_fields(struct pyhs_heap_parts *p,
			    struct snapshot_meta_field *ret);
/* The field named key among fields[0..n), or NULL. */
const struct snapshot_meta_field *
snapshot_meta_find(const struct snapshot_meta_field *fields, size_t n,
		   const char *key);

#endif
