/*
 * Snapshot files: a heap saved in pyheapsnap's own binary format, described
 * byte by byte in FORMAT.md. A fixed header, then one section per column
 * (each a zstd frame with an XXH64 checksum), then a table of the sections.
 *
 * Writing goes to a temporary file in the destination's directory, which is
 * synced and renamed over the destination. Reading treats the file as
 * hostile: every offset, size and count is checked against the file's size
 * before it is used, and nothing large is allocated before the checksum of
 * the section that justifies it has been verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "atomic.h"
#include "formats.h"

/* ---- the format's constants (FORMAT.md) ---------------------------------- */

static const uint8_t snapshot_magic[PYHS_SNAPSHOT_MAGIC_SIZE] = {
	0x89, 'P', 'Y', 'H', 'S', 'N', 'A', 'P',
};

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

#define ZSTD_LEVEL 9

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
	NSECTIONS,
};

static const struct {
	char id[5];
	const char *name; /* in messages */
} section_info[NSECTIONS] = {
	[S_META] = { "META", "metadata" },
	[S_THRD] = { "THRD", "threads" },
	[S_WARN] = { "WARN", "warnings" },
	[S_TYPE] = { "TYPE", "types" },
	[S_STRS] = { "STRS", "strings" },
	[S_ROOT] = { "ROOT", "roots" },
	[S_ADDR] = { "ADDR", "addresses" },
	[S_OTYP] = { "OTYP", "object types" },
	[S_SIZE] = { "SIZE", "sizes" },
	[S_RCNT] = { "RCNT", "refcounts" },
	[S_GENS] = { "GENS", "generations" },
	[S_FLAG] = { "FLAG", "flags" },
	[S_VOFF] = { "VOFF", "value offsets" },
	[S_VTXT] = { "VTXT", "value texts" },
	[S_ECNT] = { "ECNT", "edge counts" },
	[S_EDST] = { "EDST", "edges" },
	[S_ELKD] = { "ELKD", "edge labels" },
	[S_ELPL] = { "ELPL", "edge label payloads" },
};

/* ---- little-endian integers, zigzag ------------------------------------- */

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

/* A difference in two's complement, folded so small magnitudes are small. */
static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ ((d >> 63) ? UINT64_MAX : 0);
}

static uint64_t unzigzag(uint64_t u)
{
	return (u >> 1) ^ (UINT64_C(0) - (u & 1));
}

/* ---- XXH64 (seed 0), as zstd and FORMAT.md use it ------------------------ */

#define XXH_P1 UINT64_C(0x9E3779B185EBCA87)
#define XXH_P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define XXH_P3 UINT64_C(0x165667B19E3779F9)
#define XXH_P4 UINT64_C(0x85EBCA77C2B2AE63)
#define XXH_P5 UINT64_C(0x27D4EB2F165667C5)

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t xxh_round(uint64_t acc, uint64_t input)
{
	acc += input * XXH_P2;
	acc = rotl64(acc, 31);
	return acc * XXH_P1;
}

static uint64_t xxh_merge(uint64_t acc, uint64_t val)
{
	acc ^= xxh_round(0, val);
	return acc * XXH_P1 + XXH_P4;
}

uint64_t pyhs_xxh64(const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t h;
	if (len >= 32) {
		uint64_t v1 = XXH_P1 + XXH_P2, v2 = XXH_P2, v3 = 0,
			 v4 = UINT64_C(0) - XXH_P1;
		const uint8_t *limit = end - 32;
		do {
			v1 = xxh_round(v1, le64_get(p));
			v2 = xxh_round(v2, le64_get(p + 8));
			v3 = xxh_round(v3, le64_get(p + 16));
			v4 = xxh_round(v4, le64_get(p + 24));
			p += 32;
		} while (p <= limit);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else {
		h = XXH_P5;
	}
	h += (uint64_t)len;
	while (end - p >= 8) {
		h ^= xxh_round(0, le64_get(p));
		h = rotl64(h, 27) * XXH_P1 + XXH_P4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)le32_get(p) * XXH_P1;
		h = rotl64(h, 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	while (p < end) {
		h ^= (uint64_t)*p++ * XXH_P5;
		h = rotl64(h, 11) * XXH_P1;
	}
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	h ^= h >> 32;
	return h;
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

static struct pyhs_error *edge_model_init(struct edge_model *em, uint64_t ntypes)
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

static void edge_model_deinit(struct edge_model *em)
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

/* ---- writing: a growing byte buffer -------------------------------------- */

struct buf {
	uint8_t *data;
	size_t size;
	size_t cap;
	bool oom;
};

static bool buf_reserve(struct buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->cap - b->size >= more)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->size < more) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	uint8_t *d = realloc(b->data, cap);
	if (!d) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

static inline void put_u8(struct buf *b, uint8_t v)
{
	if (b->size < b->cap || buf_reserve(b, 1))
		b->data[b->size++] = v;
}

static inline void put_varint(struct buf *b, uint64_t v)
{
	if (b->cap - b->size < MAX_VARINT && !buf_reserve(b, MAX_VARINT))
		return;
	uint8_t *p = b->data + b->size;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->size = (size_t)(p - b->data);
}

static void put_bytes(struct buf *b, const void *src, size_t n)
{
	if (n && buf_reserve(b, n)) {
		memcpy(b->data + b->size, src, n);
		b->size += n;
	}
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s ? s : "");
	put_varint(b, n);
	put_bytes(b, s ? s : "", n);
}

/* Metadata records go to a buffer of their own and are counted, so the
 * section can start with their number. */
struct meta_out {
	struct buf b;
	uint64_t n;
};

static void put_meta_uint(struct meta_out *mo, const char *key, uint64_t v)
{
	struct buf *b = &mo->b;
	mo->n++;
	put_str(b, key);
	put_u8(b, META_UINT);
	put_varint(b, v);
}

static void put_meta_sint(struct meta_out *mo, const char *key, int64_t v)
{
	struct buf *b = &mo->b;
	mo->n++;
	put_str(b, key);
	put_u8(b, META_SINT);
	put_varint(b, zigzag((uint64_t)v));
}

static void put_meta_str(struct meta_out *mo, const char *key, const char *v)
{
	struct buf *b = &mo->b;
	mo->n++;
	put_str(b, key);
	put_u8(b, META_STRING);
	put_str(b, v);
}

/* ---- writing: the file ---------------------------------------------------- */

struct writer {
	const char *path;
	int fd;
	const struct pyhs_atomic_file *af;
	uint64_t off;
	ZSTD_CCtx *cctx;
	uint8_t *zbuf;
	size_t zcap;
	unsigned nsections;
	uint8_t table[NSECTIONS * ENTRY_SIZE];
};

static struct pyhs_error *write_fail(const struct writer *w, int errnum)
{
	return pyhs_error_os(errnum ? errnum : EIO, "cannot write snapshot '%s'",
			     w->path);
}

static struct pyhs_error *write_all(struct writer *w, const void *src, size_t n)
{
	const uint8_t *p = src;
	struct pyhs_error *err = pyhs_atomic_check(w->af);
	if (err)
		return err;
	while (n) {
		ssize_t r = write(w->fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return write_fail(w, errno);
		}
		p += r;
		n -= (size_t)r;
		w->off += (uint64_t)r;
	}
	return NULL;
}

/* Compresses b as section s, appends it to the file and to the table, and
 * empties b for the next section. */
static struct pyhs_error *emit(struct writer *w, enum section s, struct buf *b)
{
	if (b->oom)
		return &pyhs_enomem;
	size_t bound = ZSTD_compressBound(b->size);
	if (bound > w->zcap) {
		uint8_t *z = realloc(w->zbuf, bound);
		if (!z)
			return &pyhs_enomem;
		w->zbuf = z;
		w->zcap = bound;
	}
	size_t zsize = ZSTD_compress2(w->cctx, w->zbuf, w->zcap,
				      b->data ? (const void *)b->data : "", b->size);
	if (ZSTD_isError(zsize))
		return pyhs_error_create(PYHS_ERROR_NOMEM,
					 "cannot write snapshot '%s': cannot compress the %s: %s",
					 w->path, section_info[s].name,
					 ZSTD_getErrorName(zsize));
	uint8_t codec = CODEC_ZSTD;
	const uint8_t *stored = w->zbuf;
	size_t nstored = zsize;
	if (zsize >= b->size) {
		codec = CODEC_STORED;
		stored = b->data;
		nstored = b->size;
	}
	uint8_t *e = w->table + w->nsections++ * ENTRY_SIZE;
	memset(e, 0, ENTRY_SIZE);
	memcpy(e, section_info[s].id, 4);
	e[4] = SECTION_REQUIRED & 0xff;
	e[5] = SECTION_REQUIRED >> 8;
	e[6] = codec;
	le64_put(e + 8, w->off);
	le64_put(e + 16, nstored);
	le64_put(e + 24, b->size);
	le64_put(e + 32, pyhs_xxh64(stored, nstored));
	struct pyhs_error *err = nstored ? write_all(w, stored, nstored) : NULL;
	b->size = 0;
	return err;
}

static struct pyhs_error *write_sections(struct writer *w,
					 const struct pyhs_heap *h,
					 struct buf *b)
{
	struct pyhs_error *err;
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	struct pyhs_heap_columns c;
	pyhs_heap_get_columns(h, &c);
	uint64_t n = c.nobjects;

	/* META */
	struct meta_out mo = { { 0 }, 0 };
	put_meta_str(&mo, "source", m->source);
	put_meta_str(&mo, "input", m->input);
	put_meta_sint(&mo, "pid", m->pid);
	put_meta_sint(&mo, "signal", m->signal);
	put_meta_str(&mo, "executable", m->executable);
	put_meta_str(&mo, "cmdline", m->cmdline);
	put_meta_uint(&mo, "hexversion", m->hexversion);
	put_meta_str(&mo, "version", m->version);
	put_meta_str(&mo, "library", m->library);
	put_meta_str(&mo, "layout", m->layout);
	put_meta_str(&mo, "debug_file", m->debug_file);
	put_meta_uint(&mo, "capture_time", m->capture_time);
	put_meta_uint(&mo, "start_time", m->start_time);
	put_meta_uint(&mo, "pause_ns", m->pause_ns);
	if (m->unstopped)
		put_meta_uint(&mo, "unstopped", 1);
	put_meta_uint(&mo, "gc.enabled", pyhs_heap_gc_enabled(h));
	for (int g = 0; g < 4; g++) {
		struct pyhs_gc_generation_info gi = { 0 };
		char key[32];
		pyhs_heap_gc_info(h, g, &gi);
		snprintf(key, sizeof(key), "gc.%d.threshold", g);
		put_meta_sint(&mo, key, gi.threshold);
		snprintf(key, sizeof(key), "gc.%d.count", g);
		put_meta_sint(&mo, key, gi.count);
		snprintf(key, sizeof(key), "gc.%d.objects", g);
		put_meta_uint(&mo, key, gi.objects);
		snprintf(key, sizeof(key), "gc.%d.bytes", g);
		put_meta_uint(&mo, key, gi.bytes);
	}
	for (int k = 0; k < PYHS_WARN_NKINDS; k++) {
		char key[64];
		snprintf(key, sizeof(key), "warnings.%s",
			 pyhs_heap_warning_kind_name((enum pyhs_warning_kind)k));
		put_meta_uint(&mo, key, pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k));
	}
	put_varint(b, mo.n);
	put_bytes(b, mo.b.data, mo.b.size);
	if (mo.b.oom)
		b->oom = true;
	free(mo.b.data);
	if ((err = emit(w, S_META, b)))
		return err;

	/* THRD */
	put_varint(b, m->ntids);
	for (size_t i = 0; i < m->ntids; i++)
		put_varint(b, zigzag((uint64_t)(int64_t)m->tids[i]));
	size_t nthreads = pyhs_heap_nthreads(h);
	put_varint(b, nthreads);
	for (size_t i = 0; i < nthreads; i++) {
		put_varint(b, pyhs_heap_thread_ident(h, i));
		put_varint(b, pyhs_heap_thread_native_id(h, i));
	}
	if ((err = emit(w, S_THRD, b)))
		return err;

	/* WARN */
	put_varint(b, m->nwarnings);
	for (size_t i = 0; i < m->nwarnings; i++)
		put_str(b, m->warnings[i]);
	size_t nex = pyhs_heap_nwarning_examples(h);
	put_varint(b, nex);
	for (size_t i = 0; i < nex; i++)
		put_str(b, pyhs_heap_warning_example(h, i));
	if ((err = emit(w, S_WARN, b)))
		return err;

	/* TYPE */
	uint32_t ntypes = pyhs_heap_ntypes(h);
	put_varint(b, ntypes);
	for (uint32_t t = 0; t < ntypes; t++) {
		put_u8(b, pyhs_heap_type_kind(h, t));
		put_str(b, pyhs_heap_type_name(h, t));
	}
	if ((err = emit(w, S_TYPE, b)))
		return err;

	/* STRS */
	uint32_t nstrings = pyhs_heap_nstrings(h);
	put_varint(b, nstrings);
	for (uint32_t i = 0; i < nstrings; i++)
		put_str(b, pyhs_heap_string(h, i));
	if ((err = emit(w, S_STRS, b)))
		return err;

	/* ROOT */
	uint64_t nroots = pyhs_heap_nroots(h);
	put_varint(b, nroots);
	for (uint64_t r = 0; r < nroots; r++) {
		put_varint(b, pyhs_heap_root_object(h, r));
		put_varint(b, pyhs_heap_root_label_id(h, r));
	}
	if ((err = emit(w, S_ROOT, b)))
		return err;

	/* ADDR: the common alignment, then differences of aligned addresses */
	uint64_t all = 0;
	for (uint64_t i = 0; i < n; i++)
		all |= c.addr[i];
	unsigned shift = 0;
	while (shift < 63 && all && !(all & (UINT64_C(1) << shift)))
		shift++;
	put_u8(b, (uint8_t)shift);
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a = c.addr[i] >> shift;
		put_varint(b, zigzag(a - prev));
		prev = a;
	}
	if ((err = emit(w, S_ADDR, b)))
		return err;

	for (uint64_t i = 0; i < n; i++)
		put_varint(b, c.type[i]);
	if ((err = emit(w, S_OTYP, b)))
		return err;
	for (uint64_t i = 0; i < n; i++)
		put_varint(b, c.size[i]);
	if ((err = emit(w, S_SIZE, b)))
		return err;
	for (uint64_t i = 0; i < n; i++)
		put_varint(b, c.refcnt[i]);
	if ((err = emit(w, S_RCNT, b)))
		return err;
	put_bytes(b, c.gen, n);
	if ((err = emit(w, S_GENS, b)))
		return err;
	put_bytes(b, c.flags, n);
	if ((err = emit(w, S_FLAG, b)))
		return err;

	/* VOFF: 0 for none, else 1 + zigzag(offset - end of the last value) */
	uint64_t next = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t off = c.value_off[i];
		if (off == UINT32_MAX || off >= c.value_text_size) {
			put_varint(b, 0);
			continue;
		}
		put_varint(b, 1 + zigzag((uint64_t)off - next));
		next = off + strnlen(c.value_text + off, c.value_text_size - off) + 1;
	}
	if ((err = emit(w, S_VOFF, b)))
		return err;
	put_bytes(b, c.value_text, c.value_text_size);
	if ((err = emit(w, S_VTXT, b)))
		return err;

	for (uint64_t i = 0; i < n; i++)
		put_varint(b, c.edge_start[i + 1] - c.edge_start[i]);
	if ((err = emit(w, S_ECNT, b)))
		return err;

	/* EDST: a symbol per edge; see edge_symbol. */
	struct edge_model em;
	if ((err = edge_model_init(&em, pyhs_heap_ntypes(h))))
		return err;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k0 = c.edge_start[i], k1 = c.edge_start[i + 1];
		for (uint64_t k = k0; k < k1; k++)
			put_varint(b, edge_symbol(&em, c.edge_dst, c.type[i], k - k0,
						  c.edge_dst[k]));
		edge_model_next(&em, c.type[i], k0, k1);
	}
	edge_model_deinit(&em);
	if ((err = emit(w, S_EDST, b)))
		return err;

	/* ELKD and ELPL: the kind of each label, and payloads that differ from
	 * the predicted one. */
	struct buf pl = { 0 };
	for (uint64_t i = 0; i < n; i++) {
		uint64_t next_index = 0, prev_dst = 0;
		for (uint64_t k = c.edge_start[i]; k < c.edge_start[i + 1]; k++) {
			uint32_t l = c.edge_label[k];
			unsigned kind = PYHS_LABEL_KIND(l);
			uint64_t p = PYHS_LABEL_PAYLOAD(l), pred = 0;
			if (kind == PYHS_LABEL_INDEX)
				pred = next_index;
			else if (kind == PYHS_LABEL_DICT_VALUE)
				pred = prev_dst;
			uint64_t d = zigzag(p - pred);
			put_u8(b, (uint8_t)(kind | (d ? LABEL_HAS_PAYLOAD : 0)));
			if (d)
				put_varint(&pl, d);
			if (kind == PYHS_LABEL_INDEX)
				next_index = p + 1;
			prev_dst = c.edge_dst[k];
		}
	}
	err = emit(w, S_ELKD, b);
	if (!err)
		err = emit(w, S_ELPL, &pl);
	free(pl.data);
	return err;
}

static struct pyhs_error *write_to(const void *h, struct pyhs_output *out)
{
	return pyhs_snapshot_write_output(h, out);
}

struct pyhs_error *pyhs_snapshot_write(const struct pyhs_heap *h,
				       const char *path)
{
	return pyhs_output_write_path(path, PYHS_OUTPUT_SNAPSHOT, write_to, h);
}

struct pyhs_error *pyhs_snapshot_write_output(const struct pyhs_heap *h,
					      struct pyhs_output *out)
{
	struct pyhs_atomic_file *af;
	struct pyhs_error *err = pyhs_output_file(out, PYHS_OUTPUT_SNAPSHOT, &af);
	if (err)
		return err;
	struct writer w = { .path = af->path, .fd = af->fd, .af = af };
	struct pyhs_heap_columns c;
	pyhs_heap_get_columns(h, &c);
	struct buf b = { 0 };
	if (!(w.cctx = ZSTD_createCCtx())) {
		err = &pyhs_enomem;
		goto out;
	}
	ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_contentSizeFlag, 1);
	/* Multithreaded when libzstd was built so; the output is the same. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu > 1)
		ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_nbWorkers,
				       (int)(ncpu < 8 ? ncpu : 8));
	uint8_t header[HEADER_SIZE] = { 0 };
	if ((err = write_all(&w, header, sizeof(header))) ||
	    (err = write_sections(&w, h, &b)))
		goto out;
	uint64_t table_off = w.off;
	size_t table_size = (size_t)w.nsections * ENTRY_SIZE;
	if ((err = write_all(&w, w.table, table_size)))
		goto out;
	memcpy(header, snapshot_magic, sizeof(snapshot_magic));
	le32_put(header + 8, PYHS_SNAPSHOT_VERSION);
	le32_put(header + 12, w.nsections);
	le64_put(header + 16, w.off);
	le64_put(header + 24, table_off);
	le64_put(header + 32, c.nobjects);
	le64_put(header + 40, c.nedges);
	le64_put(header + 48, pyhs_xxh64(w.table, table_size));
	le64_put(header + 56, pyhs_xxh64(header, 56));
	ssize_t r;
	do
		r = pwrite(w.fd, header, sizeof(header), 0);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(header)) {
		err = write_fail(&w, r < 0 ? errno : EIO);
		goto out;
	}
	err = pyhs_atomic_commit(af);
out:
	pyhs_atomic_abort(af); /* nothing left to do after a commit */
	free(b.data);
	free(w.zbuf);
	ZSTD_freeCCtx(w.cctx);
	return err;
}

/* ---- reading: a cursor over a decompressed section ----------------------- */

struct cur {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static inline uint64_t get_varint(struct cur *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (c->p >= c->end) {
			c->bad = true;
			return 0;
		}
		uint8_t byte = *c->p++;
		if (shift == 63 && byte > 1) {
			c->bad = true;
			return 0;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static inline uint8_t get_u8(struct cur *c)
{
	if (c->p >= c->end) {
		c->bad = true;
		return 0;
	}
	return *c->p++;
}

static size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

/* ---- reading: the file ----------------------------------------------------- */

struct entry {
	bool present;
	uint8_t codec;
	uint64_t off;
	uint64_t stored;
	uint64_t raw;
	uint64_t hash;
};

/* Decoder kinds a file of each format version may name. */
#define KINDS_V1 22
#define KINDS_V2 24

struct reader {
	const char *path;
	int fd;
	uint32_t version;  /* the file's format version */
	uint64_t file_size;
	uint64_t nobjects;
	uint64_t nedges;
	struct entry sec[NSECTIONS];
	ZSTD_DCtx *dctx;
	/* The section being decoded. */
	enum section cur_sec;
	uint8_t *raw;
	/* Strings and arrays to free once the heap is assembled. */
	char **owned;
	size_t nowned;
	size_t owned_cap;
};

static struct pyhs_error *bad(const struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct pyhs_error *bad(const struct reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return &pyhs_enomem;
	struct pyhs_error *err = pyhs_error_create(PYHS_ERROR_INPUT,
						   "cannot read snapshot '%s': %s",
						   r->path, msg);
	free(msg);
	return err;
}

static struct pyhs_error *bad_section(const struct reader *r, const char *what)
{
	return bad(r, "%s in section %s", what, section_info[r->cur_sec].name);
}

static void *own(struct reader *r, void *p)
{
	if (!p)
		return NULL;
	if (r->nowned == r->owned_cap) {
		size_t cap = r->owned_cap ? r->owned_cap * 2 : 64;
		char **o = realloc(r->owned, cap * sizeof(*o));
		if (!o) {
			free(p);
			return NULL;
		}
		r->owned = o;
		r->owned_cap = cap;
	}
	r->owned[r->nowned++] = p;
	return p;
}

/* An array of n elements of the given size, freed with the reader. The
 * caller has bounded n by the section's size. */
static void *own_array(struct reader *r, uint64_t n, size_t size)
{
	if (n > SIZE_MAX / size / 2)
		return NULL;
	return own(r, malloc(n ? n * size : 1));
}

static struct pyhs_error *read_at(struct reader *r, void *dst, size_t n,
				  uint64_t off)
{
	uint8_t *p = dst;
	while (n) {
		ssize_t got = pread(r->fd, p, n, (off_t)off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return pyhs_error_os(errno, "cannot read snapshot '%s'", r->path);
		}
		if (got == 0)
			return bad(r, "truncated (the file shrank while being read)");
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return NULL;
}

/* Reads, checks and decompresses section s into r->raw (r->sec[s].raw
 * bytes). */
static struct pyhs_error *load_section(struct reader *r, enum section s,
				       struct cur *ret)
{
	const struct entry *e = &r->sec[s];
	r->cur_sec = s;
	free(r->raw);
	r->raw = NULL;
	uint8_t *stored = malloc(e->stored ? e->stored : 1);
	if (!stored)
		return &pyhs_enomem;
	struct pyhs_error *err = read_at(r, stored, e->stored, e->off);
	if (err) {
		free(stored);
		return err;
	}
	if (pyhs_xxh64(stored, e->stored) != e->hash) {
		free(stored);
		return bad_section(r, "checksum mismatch");
	}
	if (e->codec == CODEC_STORED) {
		r->raw = stored;
	} else {
		unsigned long long fcs = ZSTD_getFrameContentSize(stored, e->stored);
		size_t fsize = ZSTD_findFrameCompressedSize(stored, e->stored);
		if (ZSTD_isError(fsize) || fsize != e->stored ||
		    fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN) {
			free(stored);
			return bad_section(r, "a malformed zstd frame");
		}
		if (fcs != e->raw) {
			free(stored);
			return bad_section(r, "a size mismatch");
		}
		r->raw = malloc(e->raw ? e->raw : 1);
		if (!r->raw) {
			free(stored);
			return &pyhs_enomem;
		}
		size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, e->raw, stored,
						 e->stored);
		free(stored);
		if (ZSTD_isError(got) || got != e->raw)
			return bad_section(r, "corrupt compressed data");
	}
	ret->p = r->raw;
	ret->end = r->raw + e->raw;
	ret->bad = false;
	return NULL;
}

static struct pyhs_error *section_done(struct reader *r, const struct cur *c)
{
	if (c->bad)
		return bad_section(r, "truncated or malformed data");
	if (c->p != c->end)
		return bad(r, "%zu bytes left over in section %s", cur_left(c),
			   section_info[r->cur_sec].name);
	free(r->raw);
	r->raw = NULL;
	return NULL;
}

/* A string: a length and that many bytes, copied with a NUL. */
static const char *get_str(struct reader *r, struct cur *c)
{
	uint64_t len = get_varint(c);
	if (c->bad || len > cur_left(c)) {
		c->bad = true;
		return "";
	}
	if (memchr(c->p, '\0', len)) {
		c->bad = true;
		return "";
	}
	char *s = own(r, strndup((const char *)c->p, len));
	c->p += len;
	if (!s) {
		c->bad = true;
		return NULL;
	}
	return s;
}

/* A count of records at least min_size bytes each: bounded by the bytes
 * left before anything is allocated for them. */
static uint64_t get_count(struct cur *c, size_t min_size)
{
	uint64_t n = get_varint(c);
	if (!c->bad && n > cur_left(c) / min_size)
		c->bad = true;
	return c->bad ? 0 : n;
}

/* An array of n strings from the cursor. */
static const char *const *get_strs(struct reader *r, struct cur *c, uint64_t n,
				   bool *oom)
{
	const char **a = own_array(r, n, sizeof(*a));
	if (!a) {
		*oom = true;
		return NULL;
	}
	for (uint64_t i = 0; i < n && !c->bad; i++)
		if (!(a[i] = get_str(r, c)))
			*oom = true;
	return a;
}

static const char *const meta_string_keys[] = {
	"source", "input", "executable", "cmdline", "version", "library",
	"layout", "debug_file",
};

/* Sets the string field key of m; returns whether key names one. */
static bool set_meta_string(struct pyhs_heap_meta *m, const char *key,
			    const char *s)
{
	const char **dst[] = {
		&m->source, &m->input, &m->executable, &m->cmdline,
		&m->version, &m->library, &m->layout, &m->debug_file,
	};
	for (size_t k = 0; k < sizeof(dst) / sizeof(dst[0]); k++) {
		if (strcmp(key, meta_string_keys[k]) == 0) {
			*dst[k] = s;
			return true;
		}
	}
	return false;
}

static bool is_meta_string(const char *key)
{
	for (size_t k = 0; k < sizeof(meta_string_keys) / sizeof(meta_string_keys[0]); k++)
		if (strcmp(key, meta_string_keys[k]) == 0)
			return true;
	return false;
}

static int warning_kind(const char *name)
{
	for (int k = 0; k < PYHS_WARN_NKINDS; k++)
		if (strcmp(name, pyhs_heap_warning_kind_name((enum pyhs_warning_kind)k)) == 0)
			return k;
	return -1;
}

#define CHECK_OOM(oom) do { if (oom) return &pyhs_enomem; } while (0)

static struct pyhs_error *read_meta(struct reader *r,
				    struct pyhs_heap_parts *p)
{
	struct cur c;
	struct pyhs_error *err = load_section(r, S_META, &c);
	if (err)
		return err;
	struct pyhs_heap_meta *m = &p->meta;
	m->source = m->input = m->executable = m->cmdline = m->version =
		m->library = m->layout = m->debug_file = "";
	uint64_t n = get_count(&c, 3);
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		const char *key = get_str(r, &c);
		if (!key)
			return &pyhs_enomem;
		for (const char *k = key; *k; k++)
			if (*k <= 0x20 || *k >= 0x7f)
				c.bad = true;
		if (c.bad)
			break;
		uint8_t type = get_u8(&c);
		uint64_t u = 0;
		const char *s = NULL;
		switch (type) {
		case META_UINT:
		case META_SINT:
			u = get_varint(&c);
			break;
		case META_STRING:
			if (!(s = get_str(r, &c)))
				return &pyhs_enomem;
			break;
		default:
			return bad(r, "metadata field '%.64s' has unknown type %u",
				   key, type);
		}
		if (c.bad)
			break;
		int64_t v = (int64_t)unzigzag(u);
		bool known = true, type_ok;
		int g = -1, pos = 0;
		char field[16] = "";
		if (is_meta_string(key)) {
			type_ok = type == META_STRING;
			if (type_ok)
				set_meta_string(m, key, s);
		} else if (strcmp(key, "pid") == 0 || strcmp(key, "signal") == 0) {
			type_ok = type == META_SINT && v >= INT_MIN && v <= INT_MAX;
			*(key[0] == 'p' ? &m->pid : &m->signal) = (int)v;
		} else if (strcmp(key, "hexversion") == 0) {
			type_ok = type == META_UINT && u <= UINT32_MAX;
			m->hexversion = (uint32_t)u;
		} else if (strcmp(key, "capture_time") == 0) {
			type_ok = type == META_UINT;
			m->capture_time = u;
		} else if (strcmp(key, "start_time") == 0) {
			type_ok = type == META_UINT;
			m->start_time = u;
		} else if (strcmp(key, "pause_ns") == 0) {
			type_ok = type == META_UINT;
			m->pause_ns = u;
		} else if (strcmp(key, "unstopped") == 0) {
			type_ok = type == META_UINT && u <= 1;
			m->unstopped = u != 0;
		} else if (strcmp(key, "gc.enabled") == 0) {
			type_ok = type == META_UINT && u <= 1;
			p->gc_enabled = u != 0;
		} else if (sscanf(key, "gc.%1d.%15[a-z]%n", &g, field, &pos) == 2 &&
			   key[pos] == '\0' && g >= 0 && g < 4 &&
			   (strcmp(field, "threshold") == 0 || strcmp(field, "count") == 0)) {
			type_ok = type == META_SINT && v >= INT_MIN && v <= INT_MAX;
			*(field[0] == 't' ? &p->gc[g].threshold : &p->gc[g].count) = (int)v;
		} else if (g >= 0 && g < 4 && key[pos] == '\0' &&
			   (strcmp(field, "objects") == 0 || strcmp(field, "bytes") == 0)) {
			type_ok = type == META_UINT;
			*(field[0] == 'o' ? &p->gc[g].objects : &p->gc[g].bytes) = u;
		} else if (strncmp(key, "warnings.", 9) == 0 && warning_kind(key + 9) >= 0) {
			type_ok = type == META_UINT;
			p->warn_count[warning_kind(key + 9)] = u;
		} else {
			known = false;
		}
		/* Unknown fields are skipped: later versions may add some. */
		if (known && !type_ok)
			return bad(r, "metadata field '%s' has the wrong type or range", key);
	}
	return section_done(r, &c);
}

static struct pyhs_error *read_small_sections(struct reader *r,
					      struct pyhs_heap_parts *p)
{
	struct cur c;
	struct pyhs_error *err;
	bool oom = false;

	/* THRD */
	if ((err = load_section(r, S_THRD, &c)))
		return err;
	uint64_t ntids = get_count(&c, 1);
	int *tids = own_array(r, ntids, sizeof(*tids));
	CHECK_OOM(!tids);
	for (uint64_t i = 0; i < ntids && !c.bad; i++) {
		int64_t v = (int64_t)unzigzag(get_varint(&c));
		if (v < INT_MIN || v > INT_MAX)
			c.bad = true;
		tids[i] = (int)v;
	}
	p->meta.ntids = ntids;
	p->meta.tids = tids;
	uint64_t nthreads = get_count(&c, 2);
	uint64_t *ident = own_array(r, nthreads, sizeof(*ident));
	uint64_t *native = own_array(r, nthreads, sizeof(*native));
	CHECK_OOM(!ident || !native);
	for (uint64_t i = 0; i < nthreads && !c.bad; i++) {
		ident[i] = get_varint(&c);
		native[i] = get_varint(&c);
	}
	p->nthreads = nthreads;
	p->thread_ident = ident;
	p->thread_native_id = native;
	if ((err = section_done(r, &c)))
		return err;

	/* WARN */
	if ((err = load_section(r, S_WARN, &c)))
		return err;
	p->meta.nwarnings = get_count(&c, 1);
	p->meta.warnings = get_strs(r, &c, p->meta.nwarnings, &oom);
	CHECK_OOM(oom);
	p->nwarn_examples = get_count(&c, 1);
	p->warn_examples = get_strs(r, &c, p->nwarn_examples, &oom);
	CHECK_OOM(oom);
	if ((err = section_done(r, &c)))
		return err;

	/* TYPE */
	if ((err = load_section(r, S_TYPE, &c)))
		return err;
	uint64_t ntypes = get_count(&c, 2);
	if (ntypes >= UINT32_MAX)
		return bad_section(r, "too many types");
	const char **names = own_array(r, ntypes, sizeof(*names));
	uint8_t *kinds = own_array(r, ntypes, 1);
	CHECK_OOM(!names || !kinds);
	for (uint64_t t = 0; t < ntypes && !c.bad; t++) {
		kinds[t] = get_u8(&c);
		/* Version 2 added the kinds of asyncio futures and tasks. */
		if (kinds[t] >= (r->version >= 2 ? KINDS_V2 : KINDS_V1) || kinds[t] >= PYHS_NKINDS)
			return bad(r, "type %" PRIu64 " has unknown kind %u", t, kinds[t]);
		CHECK_OOM(!(names[t] = get_str(r, &c)));
	}
	p->ntypes = (uint32_t)ntypes;
	p->type_names = names;
	p->type_kinds = kinds;
	if ((err = section_done(r, &c)))
		return err;

	/* STRS */
	if ((err = load_section(r, S_STRS, &c)))
		return err;
	uint64_t nstrings = get_count(&c, 1);
	if (nstrings >= UINT32_MAX)
		return bad_section(r, "too many strings");
	p->nstrings = (uint32_t)nstrings;
	p->strings = get_strs(r, &c, nstrings, &oom);
	CHECK_OOM(oom);
	if ((err = section_done(r, &c)))
		return err;

	/* ROOT */
	if ((err = load_section(r, S_ROOT, &c)))
		return err;
	uint64_t nroots = get_count(&c, 2);
	uint32_t *robj = own_array(r, nroots, sizeof(*robj));
	uint32_t *rlabel = own_array(r, nroots, sizeof(*rlabel));
	CHECK_OOM(!robj || !rlabel);
	for (uint64_t i = 0; i < nroots && !c.bad; i++) {
		uint64_t o = get_varint(&c), l = get_varint(&c);
		if (o > UINT32_MAX || l > UINT32_MAX)
			c.bad = true;
		robj[i] = (uint32_t)o;
		rlabel[i] = (uint32_t)l;
	}
	p->nroots = nroots;
	p->root_obj = robj;
	p->root_label = rlabel;
	return section_done(r, &c);
}

/* The big columns: into malloc'd arrays that become the heap's. */
static struct pyhs_error *read_columns(struct reader *r,
				       struct pyhs_heap_columns *col,
				       uint32_t ntypes)
{
	struct cur c;
	struct pyhs_error *err;
	uint64_t n = r->nobjects, m = r->nedges;
	col->nobjects = n;
	col->nedges = m;

	if ((err = load_section(r, S_ADDR, &c)))
		return err;
	unsigned shift = get_u8(&c);
	if (shift > 63)
		return bad_section(r, "a bad alignment");
	if (!(col->addr = malloc(n * sizeof(uint64_t) + 1)))
		return &pyhs_enomem;
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		prev += unzigzag(get_varint(&c));
		col->addr[i] = prev << shift;
	}
	if ((err = section_done(r, &c)))
		return err;

	if ((err = load_section(r, S_OTYP, &c)))
		return err;
	if (!(col->type = malloc(n * sizeof(uint32_t) + 1)))
		return &pyhs_enomem;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t t = get_varint(&c);
		if (t >= ntypes) {
			c.bad = true;
			break;
		}
		col->type[i] = (uint32_t)t;
	}
	if ((err = section_done(r, &c)))
		return err;

	if ((err = load_section(r, S_SIZE, &c)))
		return err;
	if (!(col->size = malloc(n * sizeof(uint64_t) + 1)))
		return &pyhs_enomem;
	for (uint64_t i = 0; i < n && !c.bad; i++)
		col->size[i] = get_varint(&c);
	if ((err = section_done(r, &c)))
		return err;

	if ((err = load_section(r, S_RCNT, &c)))
		return err;
	if (!(col->refcnt = malloc(n * sizeof(uint64_t) + 1)))
		return &pyhs_enomem;
	for (uint64_t i = 0; i < n && !c.bad; i++)
		col->refcnt[i] = get_varint(&c);
	if ((err = section_done(r, &c)))
		return err;

	/* GENS and FLAG: one byte per object, taken as they are. */
	if ((err = load_section(r, S_GENS, &c)))
		return err;
	col->gen = r->raw;
	r->raw = NULL;
	if ((err = load_section(r, S_FLAG, &c)))
		return err;
	col->flags = r->raw;
	r->raw = NULL;

	if ((err = load_section(r, S_VTXT, &c)))
		return err;
	col->value_text_size = r->sec[S_VTXT].raw;
	col->value_text = (char *)r->raw;
	r->raw = NULL;
	if (col->value_text_size && col->value_text[col->value_text_size - 1])
		return bad(r, "the value texts do not end with a NUL");

	if ((err = load_section(r, S_VOFF, &c)))
		return err;
	if (!(col->value_off = malloc(n * sizeof(uint32_t) + 1)))
		return &pyhs_enomem;
	uint64_t next = 0, tsize = col->value_text_size;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t v = get_varint(&c);
		if (v == 0) {
			col->value_off[i] = UINT32_MAX;
			continue;
		}
		uint64_t off = next + unzigzag(v - 1);
		if (off >= tsize) {
			c.bad = true;
			break;
		}
		col->value_off[i] = (uint32_t)off;
		/* The text ends with a NUL, so strlen stays inside it. */
		next = off + strlen(col->value_text + off) + 1;
	}
	if ((err = section_done(r, &c)))
		return err;

	if ((err = load_section(r, S_ECNT, &c)))
		return err;
	if (!(col->edge_start = malloc((n + 1) * sizeof(uint64_t))))
		return &pyhs_enomem;
	col->edge_start[0] = 0;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t k = get_varint(&c);
		if (k > m - col->edge_start[i]) {
			c.bad = true;
			break;
		}
		col->edge_start[i + 1] = col->edge_start[i] + k;
	}
	if ((err = section_done(r, &c)))
		return err;
	if (col->edge_start[n] != m)
		return bad(r, "the edge counts add up to %" PRIu64 ", not %" PRIu64,
			   col->edge_start[n], m);

	if ((err = load_section(r, S_EDST, &c)))
		return err;
	if (!(col->edge_dst = malloc(m * sizeof(uint32_t) + 1)))
		return &pyhs_enomem;
	struct edge_model em;
	if ((err = edge_model_init(&em, ntypes)))
		return err;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t k0 = col->edge_start[i], k1 = col->edge_start[i + 1];
		uint32_t t = col->type[i];
		for (uint64_t k = k0; k < k1; k++) {
			uint64_t dst = edge_target(&em, col->edge_dst, t, k - k0,
						   get_varint(&c));
			if (dst >= n) {
				c.bad = true;
				break;
			}
			col->edge_dst[k] = (uint32_t)dst;
		}
		edge_model_next(&em, t, k0, k1);
	}
	edge_model_deinit(&em);
	if ((err = section_done(r, &c)))
		return err;

	/* ELKD, with ELPL read alongside: the payload cursor's buffer is
	 * loaded first and kept. */
	struct cur pc;
	if ((err = load_section(r, S_ELPL, &pc)))
		return err;
	uint8_t *payloads = r->raw;
	r->raw = NULL;
	err = load_section(r, S_ELKD, &c);
	if (!err && !(col->edge_label = malloc(m * sizeof(uint32_t) + 1)))
		err = &pyhs_enomem;
	for (uint64_t i = 0; i < n && !err && !c.bad && !pc.bad; i++) {
		uint64_t next_index = 0, prev_dst = 0;
		for (uint64_t k = col->edge_start[i]; k < col->edge_start[i + 1]; k++) {
			uint8_t byte = c.p[k];
			unsigned kind = byte & 0x0f;
			if (byte & ~(0x0f | LABEL_HAS_PAYLOAD)) {
				c.bad = true;
				break;
			}
			uint64_t pred = 0, p;
			if (kind == PYHS_LABEL_INDEX)
				pred = next_index;
			else if (kind == PYHS_LABEL_DICT_VALUE)
				pred = prev_dst;
			p = pred;
			if (byte & LABEL_HAS_PAYLOAD) {
				uint64_t d = get_varint(&pc);
				if (d == 0)
					pc.bad = true;
				p = pred + unzigzag(d);
			}
			if (p > 0x0fffffff) {
				pc.bad = true;
				break;
			}
			col->edge_label[k] = PYHS_LABEL(kind, p);
			if (kind == PYHS_LABEL_INDEX)
				next_index = p + 1;
			prev_dst = col->edge_dst[k];
		}
	}
	if (!err) {
		c.p = c.end; /* read by index above */
		err = section_done(r, &c);
	}
	if (!err) {
		r->cur_sec = S_ELPL;
		err = section_done(r, &pc);
	}
	free(payloads);
	return err;
}

/* Checks the sizes in the table against the header's counts, so that no
 * column is allocated larger than its section could justify. */
static struct pyhs_error *check_sizes(struct reader *r)
{
	uint64_t n = r->nobjects, m = r->nedges;
	struct {
		enum section s;
		uint64_t min, max;
	} rules[] = {
		{ S_ADDR, n + 1, n * MAX_VARINT + 1 },
		{ S_OTYP, n, n * MAX_VARINT },
		{ S_SIZE, n, n * MAX_VARINT },
		{ S_RCNT, n, n * MAX_VARINT },
		{ S_GENS, n, n },
		{ S_FLAG, n, n },
		{ S_VOFF, n, n * MAX_VARINT },
		{ S_VTXT, 0, UINT32_MAX - 1 },
		{ S_ECNT, n, n * MAX_VARINT },
		{ S_EDST, m, m * MAX_VARINT },
		{ S_ELKD, m, m },
		{ S_ELPL, 0, m * MAX_VARINT },
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		uint64_t raw = r->sec[rules[i].s].raw;
		if (raw < rules[i].min || raw > rules[i].max)
			return bad(r, "section %s has %" PRIu64 " bytes, which does not fit %" PRIu64
				   " objects and %" PRIu64 " edges",
				   section_info[rules[i].s].name, raw, n, m);
	}
	return NULL;
}

static struct pyhs_error *read_header(struct reader *r)
{
	struct stat st;
	if (fstat(r->fd, &st) != 0)
		return pyhs_error_os(errno, "cannot read snapshot '%s'", r->path);
	if (!S_ISREG(st.st_mode))
		return bad(r, "not a regular file");
	r->file_size = (uint64_t)st.st_size;
	uint8_t h[HEADER_SIZE];
	size_t have = r->file_size < HEADER_SIZE ? (size_t)r->file_size : HEADER_SIZE;
	struct pyhs_error *err = read_at(r, h, have, 0);
	if (err)
		return err;
	if (have == 0)
		return bad(r, "the file is empty");
	size_t nmagic = have < sizeof(snapshot_magic) ? have : sizeof(snapshot_magic);
	if (memcmp(h, snapshot_magic, nmagic) != 0)
		return bad(r, "not a pyheapsnap snapshot (wrong magic number)");
	if (have < 12)
		return bad(r, "truncated to %zu bytes, inside the header", have);
	uint32_t version = le32_get(h + 8);
	if (version > PYHS_SNAPSHOT_VERSION)
		return bad(r, "was written by a newer pyheapsnap (format %" PRIu32
			   "; this one reads up to %d)", version, PYHS_SNAPSHOT_VERSION);
	if (version == 0)
		return bad(r, "format version 0 is not valid");
	r->version = version;
	if (have < HEADER_SIZE)
		return bad(r, "truncated to %zu bytes, inside the header", have);
	if (pyhs_xxh64(h, 56) != le64_get(h + 56))
		return bad(r, "checksum mismatch in the header");
	uint32_t nsections = le32_get(h + 12);
	uint64_t size = le64_get(h + 16), table_off = le64_get(h + 24);
	r->nobjects = le64_get(h + 32);
	r->nedges = le64_get(h + 40);
	if (r->file_size < size)
		return bad(r, "truncated to %" PRIu64 " of its %" PRIu64 " bytes",
			   r->file_size, size);
	if (r->file_size > size)
		return bad(r, "%" PRIu64 " bytes of unexpected data after its end",
			   r->file_size - size);
	if (nsections > MAX_SECTIONS || table_off < HEADER_SIZE ||
	    table_off > size || size - table_off != (uint64_t)nsections * ENTRY_SIZE)
		return bad(r, "the header's section table is out of place");
	if (r->nobjects >= UINT32_MAX || r->nedges >= UINT64_MAX / MAX_VARINT)
		return bad(r, "the header's counts are out of range");
	size_t table_size = (size_t)nsections * ENTRY_SIZE;
	uint8_t *table = malloc(table_size + 1);
	if (!table)
		return &pyhs_enomem;
	if ((err = read_at(r, table, table_size, table_off))) {
		free(table);
		return err;
	}
	if (pyhs_xxh64(table, table_size) != le64_get(h + 48)) {
		free(table);
		return bad(r, "checksum mismatch in the section table");
	}
	for (uint32_t i = 0; i < nsections && !err; i++) {
		const uint8_t *e = table + (size_t)i * ENTRY_SIZE;
		char id[5];
		memcpy(id, e, 4);
		id[4] = '\0';
		for (int k = 0; k < 4; k++)
			if (id[k] < 0x20 || id[k] > 0x7e)
				id[k] = '?';
		int s = 0;
		while (s < NSECTIONS && memcmp(e, section_info[s].id, 4) != 0)
			s++;
		uint16_t flags = le16_get(e + 4);
		if (s == NSECTIONS) {
			if (flags & SECTION_REQUIRED)
				err = bad(r, "needs section '%s', which this pyheapsnap does not know "
					  "(a newer pyheapsnap wrote it)", id);
			continue;
		}
		struct entry *x = &r->sec[s];
		if (x->present) {
			err = bad(r, "section %s appears twice", section_info[s].name);
			break;
		}
		x->present = true;
		x->codec = e[6];
		x->off = le64_get(e + 8);
		x->stored = le64_get(e + 16);
		x->raw = le64_get(e + 24);
		x->hash = le64_get(e + 32);
		if (x->off < HEADER_SIZE || x->off > table_off ||
		    x->stored > table_off - x->off)
			err = bad(r, "section %s lies outside the file", section_info[s].name);
		else if (x->codec > CODEC_ZSTD || e[7] != 0)
			err = bad(r, "section %s has unknown encoding %u", section_info[s].name,
				  x->codec);
		else if (x->codec == CODEC_STORED ? x->raw != x->stored :
			 x->raw / MAX_EXPANSION > x->stored)
			err = bad(r, "section %s claims an impossible size", section_info[s].name);
	}
	free(table);
	if (err)
		return err;
	for (int s = 0; s < NSECTIONS; s++)
		if (!r->sec[s].present)
			return bad(r, "section %s is missing", section_info[s].name);
	return check_sizes(r);
}

static void free_columns(struct pyhs_heap_columns *c)
{
	free(c->addr);
	free(c->type);
	free(c->size);
	free(c->refcnt);
	free(c->gen);
	free(c->flags);
	free(c->value_off);
	free(c->edge_start);
	free(c->edge_dst);
	free(c->edge_label);
	free(c->value_text);
}

struct pyhs_error *pyhs_snapshot_read(const char *path, struct pyhs_heap **ret)
{
	struct reader r = { .path = path, .fd = -1 };
	struct pyhs_heap_parts parts;
	memset(&parts, 0, sizeof(parts));
	struct pyhs_error *err = NULL;
	r.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r.fd < 0)
		return pyhs_error_os(errno, "cannot open snapshot '%s'", path);
	if (!(r.dctx = ZSTD_createDCtx())) {
		err = &pyhs_enomem;
		goto out;
	}
	if ((err = read_header(&r)) || (err = read_meta(&r, &parts)) ||
	    (err = read_small_sections(&r, &parts)) ||
	    (err = read_columns(&r, &parts.columns, parts.ntypes)))
		goto out;
	struct pyhs_heap *h;
	err = pyhs_heap_assemble(&parts, &h);
	if (err) {
		err = pyhs_error_wrap(err, "cannot read snapshot '%s'", path);
		goto out;
	}
	memset(&parts.columns, 0, sizeof(parts.columns)); /* the heap's now */
	*ret = h;
out:
	free_columns(&parts.columns);
	free(r.raw);
	for (size_t i = 0; i < r.nowned; i++)
		free(r.owned[i]);
	free(r.owned);
	ZSTD_freeDCtx(r.dctx);
	close(r.fd);
	return err;
}

bool pyhs_snapshot_is(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	struct stat st;
	uint8_t head[PYHS_SNAPSHOT_MAGIC_SIZE];
	bool is = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		ssize_t n = pread(fd, head, sizeof(head), 0);
		is = pyhs_snapshot_magic_is(head, n < 0 ? 0 : (size_t)n);
	}
	close(fd);
	return is;
}

bool pyhs_snapshot_magic_is(const void *head, size_t n)
{
	/* The first four bytes decide: a file that starts like a snapshot and
	 * then goes wrong (truncated, damaged) is best reported as a damaged
	 * snapshot, not as something that is not a core. */
	return n >= 4 && memcmp(head, snapshot_magic, 4) == 0;
}
