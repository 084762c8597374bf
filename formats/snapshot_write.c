/*
 * Snapshot files, writing (FORMAT.md describes them byte by byte): a fixed
 * header, then one section per column (each a zstd frame with an XXH64
 * checksum), then a table of the sections.
 *
 * Writing goes to a temporary file in the destination's directory, which is
 * synced and renamed over the destination.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "atomic.h"
#include "common/jobs.h"
#include "snapshot_format.h"
#include "snapshot_index.h"

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

/* A string id, object, thread or frame number + 1, 0 for none (UINT32_MAX). */
static void put_id(struct buf *b, uint32_t id)
{
	put_varint(b, (uint32_t)(id + 1));
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

static void put_meta(struct meta_out *mo, const struct snapshot_meta_field *f)
{
	uint8_t type = META_UINT;
	const char *s = NULL;
	uint64_t u = 0; /* the varint written, zigzagged for META_SINT */
	switch (f->value) {
	case META_VALUE_STR:
		type = META_STRING;
		s = *(const char *const *)f->p;
		break;
	case META_VALUE_INT:
		type = META_SINT;
		u = zigzag((uint64_t)(int64_t)*(const int *)f->p);
		break;
	case META_VALUE_U32:
		u = *(const uint32_t *)f->p;
		break;
	case META_VALUE_U64:
		u = *(const uint64_t *)f->p;
		break;
	case META_VALUE_BOOL:
		u = *(const bool *)f->p;
		break;
	}
	if (f->optional && !u && !(s && *s))
		return;
	mo->n++;
	put_str(&mo->b, f->key);
	put_u8(&mo->b, type);
	if (type == META_STRING)
		put_str(&mo->b, s);
	else
		put_varint(&mo->b, u);
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
	int workers; /* zstd's, for the sections that take more than one job */
	int level;   /* zstd's, for the sections but RAND */
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

/* A zstd context for the snapshot's frames, at level: content size in
 * each frame's header (readers check it), no checksum of zstd's (the
 * table has one). NULL if out of memory. */
static ZSTD_CCtx *frame_cctx(int level)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (cctx) {
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	}
	return cctx;
}

/* The size of a job of zstd's workers at ZSTD_LEVEL (window log 22). */
#define ZSTD_JOB_BYTES ((size_t)1 << 24)

/* Room a section's buffers keep for the next. */
#define BUF_KEEP (1u << 20)

/* Compresses the size bytes at data (unless compress is false) as section
 * s, and appends it to the file and to the table. */
static struct pyhs_error *emit_bytes(struct writer *w, enum section s, const uint8_t *data,
				     size_t size, bool compress)
{
	uint8_t codec = CODEC_STORED;
	const uint8_t *stored = data;
	size_t nstored = size;
	size_t bound = compress ? ZSTD_compressBound(size) : 0;
	if (bound > w->zcap) {
		uint8_t *z = realloc(w->zbuf, bound);
		if (!z)
			return &pyhs_enomem;
		w->zbuf = z;
		w->zcap = bound;
	}
	if (compress) {
		/* zstd cuts a frame into jobs of 4 windows (16 MiB at this
		 * level) for its workers: for a section of one job a worker
		 * saves no time, and its buffers are memory held for nothing. */
		if (w->workers)
			ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers,
					       size > ZSTD_JOB_BYTES ? w->workers : 0);
		size_t zsize = ZSTD_compress2(w->cctx, w->zbuf, w->zcap,
					      data ? (const void *)data : "", size);
		if (ZSTD_isError(zsize))
			return pyhs_error_create(PYHS_ERROR_NOMEM,
						 "cannot write snapshot '%s': cannot compress the %s: %s",
						 w->path, pyhs_snapshot_sections[s].name,
						 ZSTD_getErrorName(zsize));
		if (zsize < size) {
			codec = CODEC_ZSTD;
			stored = w->zbuf;
			nstored = zsize;
		}
	}
	uint8_t *e = w->table + w->nsections++ * ENTRY_SIZE;
	memset(e, 0, ENTRY_SIZE);
	memcpy(e, pyhs_snapshot_sections[s].id, 4);
	uint16_t flags = pyhs_snapshot_sections[s].optional ? 0 : SECTION_REQUIRED;
	e[4] = flags & 0xff;
	e[5] = (uint8_t)(flags >> 8);
	e[6] = codec;
	le64_put(e + 8, w->off);
	le64_put(e + 16, nstored);
	le64_put(e + 24, size);
	le64_put(e + 32, pyhs_xxh64(stored, nstored));
	struct pyhs_error *err = nstored ? write_all(w, stored, nstored) : NULL;
	if (w->zcap > BUF_KEEP) {
		free(w->zbuf);
		w->zbuf = NULL;
		w->zcap = 0;
	}
	return err;
}

/* emit_bytes of b, which is emptied for the next section. */
static struct pyhs_error *emit_as(struct writer *w, enum section s, struct buf *b,
				  bool compress)
{
	if (b->oom)
		return &pyhs_enomem;
	struct pyhs_error *err = emit_bytes(w, s, b->data, b->size, compress);
	b->size = 0;
	/* A large section's room is given back: the largest need many times
	 * what the sections after them do. */
	if (b->cap > BUF_KEEP) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
	return err;
}

static struct pyhs_error *emit(struct writer *w, enum section s, struct buf *b)
{
	return emit_as(w, s, b, true);
}

/* The same, stored as it is (RAND, whose blocks are compressed already). */
static struct pyhs_error *emit_stored(struct writer *w, enum section s, struct buf *b)
{
	return emit_as(w, s, b, false);
}

static void buf_varint(void *b, uint64_t v)
{
	put_varint(b, v);
}

static void buf_bytes(void *b, const void *src, size_t n)
{
	put_bytes(b, src, n);
}

/* ---- RAND: per-object records in independently compressed blocks ------- */

/* How many groups of blocks the references in are gathered in, one pass
 * over all references each, for each part of the blocks (rand_encode);
 * the most parts, encoded at once. */
#define RAND_GROUPS 8
#define RAND_PARTS_MAX 8

static void put_le32(struct buf *b, uint32_t v)
{
	uint8_t x[4];
	le32_put(x, v);
	put_bytes(b, x, 4);
}

static void put_text32(struct buf *b, const char *s)
{
	if (!s) {
		put_le32(b, RAND_NONE);
		return;
	}
	size_t n = strlen(s);
	put_le32(b, (uint32_t)n);
	put_bytes(b, s, n);
}

/* n 4-byte words as 4 byte planes (the lowest bytes of all, then the
 * next ...), which compress better than the words. */
static void put_planes32(struct buf *b, const uint32_t *v, size_t n)
{
	if (!n || !buf_reserve(b, 4 * n))
		return;
	uint8_t *p = b->data + b->size;
	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < n; i++)
			p[k * n + i] = (uint8_t)(v[i] >> (8 * k));
	b->size += 4 * n;
}

/* Transposes the 8x8 bytes of x: byte q of x[b] becomes byte b of x[q]
 * (byte k of a word: bits 8k to 8k+7). Blocks of four bytes swap between
 * words four apart, then pairs between words two apart, then bytes. */
static inline void transpose8x8(uint64_t x[8])
{
	for (int q = 0; q < 4; q++) {
		uint64_t t = ((x[q] >> 32) ^ x[q + 4]) & UINT64_C(0x00000000ffffffff);
		x[q] ^= t << 32;
		x[q + 4] ^= t;
	}
	for (int q = 0; q < 8; q += (q & 1) ? 3 : 1) { /* 0, 1, 4, 5 */
		uint64_t t = ((x[q] >> 16) ^ x[q + 2]) & UINT64_C(0x0000ffff0000ffff);
		x[q] ^= t << 16;
		x[q + 2] ^= t;
	}
	for (int q = 0; q < 8; q += 2) {
		uint64_t t = ((x[q] >> 8) ^ x[q + 1]) & UINT64_C(0x00ff00ff00ff00ff);
		x[q] ^= t << 8;
		x[q + 1] ^= t;
	}
}

/* cnt records of size bytes each as size byte planes. When size is a
 * multiple of 8, eight records at a time: their bytes k to k+7, read as
 * words and transposed, are 8 bytes of planes k to k+7 (plane by plane
 * group, so that the stores run along 8 planes). */
static void put_record_planes(struct buf *b, const uint8_t *recs, uint64_t cnt, size_t size)
{
	if (!buf_reserve(b, cnt * size))
		return;
	uint8_t *p = b->data + b->size;
	uint64_t done = 0; /* records in planes */
	if (size % 8 == 0) {
		done = cnt - cnt % 8;
		for (size_t k = 0; k < size; k += 8)
			for (uint64_t q = 0; q < done; q += 8) {
				uint64_t x[8];
				for (int r = 0; r < 8; r++)
					x[r] = le64_get(recs + (q + (uint64_t)r) * size + k);
				transpose8x8(x);
				for (int r = 0; r < 8; r++)
					le64_put(p + (k + (size_t)r) * cnt + q, x[r]);
			}
	}
	for (size_t k = 0; k < size; k++)
		for (uint64_t q = done; q < cnt; q++)
			p[k * cnt + q] = recs[q * size + k];
	b->size += cnt * size;
}

/* A list of references kept out of its block's frame (FORMAT.md, RAND,
 * long lists): object obj's references out (dir 0) or in (1), in chunks
 * from chunk on. */
struct rand_long {
	uint32_t obj, dir, count;
	uint64_t chunk;
};

struct rand_pick {
	uint32_t count, obj;
};

static int pick_cmp(const void *x, const void *y)
{
	const struct rand_pick *p = x, *q = y;
	if (p->count != q->count)
		return p->count < q->count ? 1 : -1;
	return p->obj < q->obj ? -1 : p->obj > q->obj;
}

static int long_cmp(const void *x, const void *y)
{
	const struct rand_long *p = x, *q = y;
	if (p->dir != q->dir)
		return p->dir < q->dir ? -1 : 1;
	return p->obj < q->obj ? -1 : p->obj > q->obj;
}

/* The lists of a block's objects (pick, cnt of them, total references)
 * that go long, the longest first, until the rest fit a frame; appended
 * to *lists. *ret_rest: the references left in the frame. */
static bool pick_long(struct rand_pick *pick, uint64_t cnt, uint64_t total, uint32_t dir,
		      struct rand_long **lists, uint64_t *nlists, uint64_t *cap,
		      uint64_t *ret_rest)
{
	if (8 * total > RAND_MAX_FRAME)
		qsort(pick, cnt, sizeof(*pick), pick_cmp);
	for (uint64_t q = 0; q < cnt && 8 * total > RAND_MAX_FRAME; q++) {
		if (*nlists == *cap) {
			uint64_t c = *cap ? 2 * *cap : 16;
			struct rand_long *l = realloc(*lists, c * sizeof(*l));
			if (!l)
				return false;
			*lists = l;
			*cap = c;
		}
		(*lists)[(*nlists)++] = (struct rand_long){ pick[q].obj, dir, pick[q].count, 0 };
		total -= pick[q].count;
	}
	*ret_rest = total;
	return true;
}

/* What the parts of RAND share (rand_part). */
struct rand_ctx {
	const char *path;
	const struct pyhs_heap *h;
	const struct pyhs_analysis *a;
	const struct pyhs_holders *hs;
	struct pyhs_heap_columns c;
	const uint32_t *pstart;     /* where each object's references in start */
	const struct rand_long *lists;
	uint64_t nlists;
	uint64_t most;              /* references out or in of one frame */
	uint64_t gedges, gobjects;  /* the most references in and objects of a group */
	const uint64_t *part_block; /* part k: blocks part_block[k] to part_block[k + 1] */
	uint8_t *dir, *cdir;        /* the entries, from the start of the part's frames */
	struct buf *outs;           /* each part's frames */
};

/* Compresses raw as one frame at the end of out; its place (offset in
 * out, stored size, raw size) into d. */
static struct pyhs_error *rand_frame(const struct rand_ctx *x, ZSTD_CCtx *cctx,
				     const struct buf *raw, struct buf *out, uint8_t *d)
{
	if (raw->oom)
		return &pyhs_enomem;
	size_t bound = ZSTD_compressBound(raw->size);
	size_t at = out->size;
	if (!buf_reserve(out, bound))
		return &pyhs_enomem;
	size_t z = ZSTD_compress2(cctx, out->data + at, bound,
				  raw->data ? (const void *)raw->data : "", raw->size);
	if (ZSTD_isError(z))
		return pyhs_error_create(PYHS_ERROR_NOMEM, "cannot write snapshot '%s': "
					 "cannot compress the %s: %s", x->path,
					 pyhs_snapshot_sections[S_RAND].name, ZSTD_getErrorName(z));
	out->size = at + z;
	le64_put(d, at);
	le64_put(d + 8, z);
	le64_put(d + 16, raw->size);
	return NULL;
}

/* Chunk k of long list l: the k-th RAND_CHUNK of the list's references,
 * its objects' differences from l's object in words (cnt of them), its
 * labels or reference numbers in b2; its place in cdir. */
static struct pyhs_error *rand_chunk(const struct rand_ctx *x, ZSTD_CCtx *cctx,
				     const struct rand_long *l, uint64_t k,
				     const uint32_t *words, const uint32_t *b2, uint64_t cnt,
				     struct buf *raw, struct buf *out)
{
	raw->size = 0;
	put_planes32(raw, words, cnt);
	put_planes32(raw, b2, cnt);
	return rand_frame(x, cctx, raw, out, x->cdir + (l->chunk + k) * RAND_CHUNK_ENTRY);
}

/* The frames of part k's blocks, and of their objects' long lists, into
 * x->outs[k]; their entries in x->dir and x->cdir. */
static struct pyhs_error *rand_part(void *ctx, size_t part)
{
	const struct rand_ctx *x = ctx;
	const struct pyhs_heap *h = x->h;
	const struct pyhs_analysis *a = x->a;
	const struct pyhs_heap_columns *c = &x->c;
	const uint32_t *pstart = x->pstart;
	const struct rand_long *lists = x->lists;
	uint64_t n = c->nobjects, nlists = x->nlists;
	uint64_t bfirst = x->part_block[part], blast = x->part_block[part + 1];
	uint64_t pfirst = bfirst * RAND_BLOCK, plast = blast * RAND_BLOCK < n ? blast * RAND_BLOCK : n;
	struct buf *out = &x->outs[part];
	uint32_t *pedge = malloc(x->gedges * sizeof(*pedge));
	uint32_t *psrc = malloc(x->gedges * sizeof(*psrc));
	uint32_t *cursor = malloc(x->gobjects * sizeof(*cursor));
	/* Of the group's objects: the first root of the analysis at each,
	 * and each one's step in the holders' tree (holder and number of its
	 * reference, or none and the root's number; a reference's holder is
	 * found in the pass over the references). */
	uint32_t *groot = malloc(x->gobjects * sizeof(*groot));
	uint32_t *gsrc = malloc(x->gobjects * sizeof(*gsrc));
	uint32_t *gj = malloc(x->gobjects * sizeof(*gj));
	uint32_t *words = malloc((x->most + 1) * sizeof(*words));
	uint32_t *words2 = nlists ? malloc((x->most + 1) * sizeof(*words2)) : NULL;
	uint8_t *recs = malloc(RAND_BLOCK * RAND_RECORD);
	ZSTD_CCtx *cctx = frame_cctx(RAND_ZSTD_LEVEL);
	struct buf raw = { 0 };
	struct pyhs_error *err = NULL;
	if (!pedge || !psrc || !cursor || !groot || !gsrc || !gj || !words ||
	    (nlists && !words2) || !recs || !cctx) {
		err = &pyhs_enomem;
		goto out;
	}
	/* The next long lists out and in. */
	uint64_t lout = 0, lin = 0;
	while (lout < nlists && lists[lout].dir == 0 && lists[lout].obj < pfirst)
		lout++;
	while (lin < nlists && (lists[lin].dir == 0 || lists[lin].obj < pfirst))
		lin++;
	uint64_t gfirst = 0, glast = 0; /* the objects of the group gathered */
	for (uint64_t blk = bfirst; blk < blast && !err; blk++) {
		uint64_t first = blk * RAND_BLOCK, last = first + RAND_BLOCK;
		if (last > n)
			last = n;
		uint64_t cnt = last - first;
		if (first >= glast) {
			/* The next group: whole blocks of the part while they fit. */
			gfirst = first;
			glast = last;
			while (glast < plast) {
				uint64_t next = glast + RAND_BLOCK < plast ? glast + RAND_BLOCK : plast;
				if (pstart[next] - pstart[gfirst] > x->gedges ||
				    next - gfirst > x->gobjects)
					break;
				glast = next;
			}
			for (uint64_t i = gfirst; i < glast; i++) {
				uint64_t g = i - gfirst, step = 0;
				cursor[g] = pstart[i] - pstart[gfirst];
				groot[g] = gsrc[g] = gj[g] = RAND_NONE;
				switch (pyhs_holders_step(x->hs, i, &step)) {
				case PYHS_HOLDER_EDGE:
					gsrc[g] = RAND_WEAK; /* found below */
					gj[g] = (uint32_t)step;
					break;
				case PYHS_HOLDER_ROOT:
					gj[g] = (uint32_t)step;
					break;
				case PYHS_HOLDER_NONE:
					break;
				}
			}
			for (uint64_t k = pyhs_analysis_nroots(a); k-- > 0;) {
				uint32_t o = pyhs_analysis_root(a, k);
				if (o >= gfirst && o < glast)
					groot[o - gfirst] = (uint32_t)k;
			}
			/* The references into each of its objects, in edge order;
			 * the holders of those in the holders' tree. */
			for (uint64_t v = 0; v < n; v++)
				for (uint64_t e = c->edge_start[v]; e < c->edge_start[v + 1]; e++) {
					uint32_t d = c->edge_dst[e];
					if (d < gfirst || d >= glast)
						continue;
					uint64_t g = d - gfirst;
					uint32_t k = cursor[g]++;
					bool weak = PYHS_LABEL_KIND(c->edge_label[e]) == PYHS_LABEL_WEAK;
					pedge[k] = (uint32_t)(e - c->edge_start[v]) |
						   (weak ? RAND_WEAK : 0);
					psrc[k] = (uint32_t)v;
					if (gsrc[g] == RAND_WEAK && gj[g] == e) {
						gsrc[g] = (uint32_t)v;
						gj[g] = (uint32_t)(e - c->edge_start[v]);
					}
				}
		}
		uint64_t g0 = pstart[gfirst];
		/* The references in: each object's first root, its rank and its
		 * count of them, as byte planes; then the sources (differences
		 * from the object's number) and edge numbers, as byte planes. */
		raw.size = 0;
		for (uint64_t i = first; i < last; i++) {
			uint8_t *r = recs + (i - first) * RAND_GRAPH_RECORD;
			uint32_t root = groot[i - gfirst];
			le32_put(r, root);
			le32_put(r + 4, pstart[i + 1] - pstart[i]);
			r[8] = root == RAND_NONE ? 0 : (uint8_t)pyhs_heap_root_rank(h, root);
		}
		put_record_planes(&raw, recs, cnt, RAND_GRAPH_RECORD);
		uint64_t p0 = pstart[first], p1 = pstart[last];
		if (!nlists) {
			for (uint64_t i = first; i < last; i++)
				for (uint64_t k = pstart[i]; k < pstart[i + 1]; k++)
					words[k - p0] = (uint32_t)zigzag(psrc[k - g0] - i);
			put_planes32(&raw, words, p1 - p0);
			put_planes32(&raw, pedge + (p0 - g0), p1 - p0);
		} else {
			/* Without the long lists' references. */
			uint64_t np = 0, l = lin;
			for (uint64_t i = first; i < last; i++) {
				if (l < nlists && lists[l].obj == i) {
					l++;
					continue;
				}
				for (uint64_t k = pstart[i]; k < pstart[i + 1]; k++, np++) {
					words[np] = (uint32_t)zigzag(psrc[k - g0] - i);
					words2[np] = pedge[k - g0];
				}
			}
			put_planes32(&raw, words, np);
			put_planes32(&raw, words2, np);
		}
		err = rand_frame(x, cctx, &raw, out, x->dir + blk * RAND_DIR_ENTRY);
		for (; !err && lin < nlists && lists[lin].obj < last; lin++) {
			const struct rand_long *l = &lists[lin];
			uint64_t pb = pstart[l->obj] - g0;
			for (uint64_t k0 = 0; k0 < l->count && !err; k0 += RAND_CHUNK) {
				uint64_t cn = l->count - k0 < RAND_CHUNK ? l->count - k0 : RAND_CHUNK;
				for (uint64_t k = 0; k < cn; k++)
					words[k] = (uint32_t)zigzag((uint64_t)psrc[pb + k0 + k] - l->obj);
				err = rand_chunk(x, cctx, l, k0 / RAND_CHUNK, words, pedge + pb + k0,
						 cn, &raw, out);
			}
		}
		if (err)
			break;
		/* The records, as byte planes; the references out (targets as
		 * differences from the object's number, then labels), as byte
		 * planes; the value texts. */
		raw.size = 0;
		for (uint64_t i = first; i < last; i++) {
			uint8_t *r = recs + (i - first) * RAND_RECORD;
			le64_put(r + 0, pyhs_heap_size(h, i));
			le64_put(r + 8, pyhs_heap_refcnt(h, i));
			le64_put(r + 16, pyhs_analysis_retained(a, i));
			le64_put(r + 24, pyhs_analysis_unexplained(a, i));
			le32_put(r + 32, gsrc[i - gfirst]);
			le32_put(r + 36, gj[i - gfirst]);
			le32_put(r + 40, c->type[i]);
			le32_put(r + 44, pyhs_analysis_idom(a, i));
			le32_put(r + 48, (uint32_t)(c->edge_start[i + 1] - c->edge_start[i]));
			r[52] = c->gen[i];
			r[53] = c->flags[i];
			r[54] = pyhs_analysis_is_garbage(a, i);
			r[55] = 0;
		}
		put_record_planes(&raw, recs, cnt, RAND_RECORD);
		uint64_t e0 = c->edge_start[first], e1 = c->edge_start[last];
		if (!nlists) {
			for (uint64_t i = first; i < last; i++)
				for (uint64_t e = c->edge_start[i]; e < c->edge_start[i + 1]; e++)
					words[e - e0] = (uint32_t)zigzag(c->edge_dst[e] - i);
			put_planes32(&raw, words, e1 - e0);
			put_planes32(&raw, c->edge_label + e0, e1 - e0);
		} else {
			uint64_t ne = 0, l = lout;
			for (uint64_t i = first; i < last; i++) {
				if (l < nlists && lists[l].dir == 0 && lists[l].obj == i) {
					l++;
					continue;
				}
				for (uint64_t e = c->edge_start[i]; e < c->edge_start[i + 1]; e++, ne++) {
					words[ne] = (uint32_t)zigzag(c->edge_dst[e] - i);
					words2[ne] = c->edge_label[e];
				}
			}
			put_planes32(&raw, words, ne);
			put_planes32(&raw, words2, ne);
		}
		for (uint64_t i = first; i < last; i++)
			put_text32(&raw, c->value_off[i] == UINT32_MAX ? NULL :
					 c->value_text + c->value_off[i]);
		err = rand_frame(x, cctx, &raw, out, x->dir + blk * RAND_DIR_ENTRY + 24);
		for (; !err && lout < nlists && lists[lout].dir == 0 && lists[lout].obj < last;
		     lout++) {
			const struct rand_long *l = &lists[lout];
			uint64_t eb = c->edge_start[l->obj];
			for (uint64_t k0 = 0; k0 < l->count && !err; k0 += RAND_CHUNK) {
				uint64_t cn = l->count - k0 < RAND_CHUNK ? l->count - k0 : RAND_CHUNK;
				for (uint64_t k = 0; k < cn; k++)
					words[k] = (uint32_t)zigzag((uint64_t)c->edge_dst[eb + k0 + k] - l->obj);
				err = rand_chunk(x, cctx, l, k0 / RAND_CHUNK, words,
						 c->edge_label + eb + k0, cn, &raw, out);
			}
		}
	}
out:
	free(pedge);
	free(psrc);
	free(cursor);
	free(groot);
	free(gsrc);
	free(gj);
	free(words);
	free(words2);
	free(recs);
	free(raw.data);
	ZSTD_freeCCtx(cctx);
	return err;
}

/* The raw bytes of RAND into b (FORMAT.md); nothing for a heap whose
 * references do not fit its 31-bit numbers. A block whose references
 * (out or in) would be more than RAND_MAX_FRAME bytes keeps its longest
 * lists of them in chunks of their own; nothing either when those lists
 * would hold more than half the references. */
static struct pyhs_error *rand_encode(struct writer *w, const struct pyhs_heap *h,
				      const struct pyhs_analysis *a,
				      const struct pyhs_holders *hs, struct buf *b)
{
	struct pyhs_heap_columns c;
	pyhs_heap_get_columns(h, &c);
	uint64_t n = c.nobjects, m = c.nedges;
	if (m >= RAND_WEAK || n >= RAND_WEAK || !n)
		return NULL;
	uint64_t nblocks = (n + RAND_BLOCK - 1) / RAND_BLOCK;
	uint32_t *pstart = calloc(n + 1, sizeof(*pstart));
	struct rand_pick *pick = malloc(RAND_BLOCK * sizeof(*pick));
	struct rand_long *lists = NULL;
	uint64_t nlists = 0, lcap = 0, nchunks = 0;
	if (!pstart || !pick) {
		free(pstart);
		free(pick);
		return &pyhs_enomem;
	}
	for (uint64_t e = 0; e < m; e++)
		pstart[c.edge_dst[e] + 1]++;
	for (uint64_t i = 0; i < n; i++)
		pstart[i + 1] += pstart[i];
	uint64_t most = 0;    /* references out or in of one block's frame */
	uint64_t most_in = 0; /* references into one block's objects */
	bool ok = true;
	for (uint64_t blk = 0; blk < nblocks && ok; blk++) {
		uint64_t first = blk * RAND_BLOCK, last = first + RAND_BLOCK < n ? first + RAND_BLOCK : n;
		uint64_t eo = c.edge_start[last] - c.edge_start[first];
		uint64_t ei = pstart[last] - pstart[first];
		most_in = ei > most_in ? ei : most_in;
		for (uint64_t i = first; i < last; i++)
			pick[i - first] = (struct rand_pick){
				(uint32_t)(c.edge_start[i + 1] - c.edge_start[i]), (uint32_t)i };
		ok = pick_long(pick, last - first, eo, 0, &lists, &nlists, &lcap, &eo);
		for (uint64_t i = first; i < last; i++)
			pick[i - first] = (struct rand_pick){ pstart[i + 1] - pstart[i], (uint32_t)i };
		ok = ok && pick_long(pick, last - first, ei, 1, &lists, &nlists, &lcap, &ei);
		most = eo > most ? eo : most;
		most = ei > most ? ei : most;
	}
	free(pick);
	/* Most references in long lists, out and in together: the heap of a
	 * damaged core whose objects claim millions of items, whose records
	 * would be many times the rest of the file; none. */
	uint64_t in_long = 0;
	for (uint64_t k = 0; k < nlists; k++)
		in_long += lists[k].count;
	if (!ok || 2 * in_long > m) {
		free(pstart);
		free(lists);
		return ok ? NULL : &pyhs_enomem;
	}
	if (nlists) {
		qsort(lists, nlists, sizeof(*lists), long_cmp);
		for (uint64_t k = 0; k < nlists; k++) {
			lists[k].chunk = nchunks;
			nchunks += (lists[k].count + RAND_CHUNK - 1) / RAND_CHUNK;
		}
		if (most < RAND_CHUNK)
			most = RAND_CHUNK;
	}
	/* The blocks in parts, one a job, contiguous and as many blocks each
	 * (the frames do not depend on how they are cut). The references in
	 * are gathered for a group of a part's blocks at a time, a pass over
	 * all references each: as many groups as RAND_GROUPS a part, and
	 * their arrays an eighth of 8 bytes per reference in all, rather than
	 * 8 bytes per reference at once. */
	uint64_t nparts = pyhs_heap_jobs(h);
	if (nparts > RAND_PARTS_MAX)
		nparts = RAND_PARTS_MAX;
	if (nparts > nblocks)
		nparts = nblocks;
	if (nparts < 1)
		nparts = 1;
	uint64_t ngroups = RAND_GROUPS * nparts;
	struct rand_ctx x = {
		.path = w->path, .h = h, .a = a, .hs = hs, .c = c, .pstart = pstart,
		.lists = lists, .nlists = nlists, .most = most,
		.gedges = m / ngroups + 1, .gobjects = n / ngroups + RAND_BLOCK,
	};
	if (x.gedges < most_in)
		x.gedges = most_in;
	uint64_t part_block[RAND_PARTS_MAX + 1];
	for (uint64_t k = 0; k <= nparts; k++)
		part_block[k] = nblocks * k / nparts;
	x.part_block = part_block;
	x.dir = calloc(nblocks, RAND_DIR_ENTRY);
	x.cdir = calloc(nchunks + 1, RAND_CHUNK_ENTRY);
	x.outs = calloc(nparts, sizeof(*x.outs));
	struct pyhs_error *err = NULL;
	if (!x.dir || !x.cdir || !x.outs)
		err = &pyhs_enomem;
	if (!err)
		err = pyhs_jobs_run((unsigned)nparts, nparts, rand_part, &x, NULL);
	free(pstart);
	pstart = NULL;
	if (err)
		goto out;
	/* The head, the directory (offsets from the section's start), the
	 * parts' frames one after the other. */
	uint64_t base = (nlists ? RAND_LONG_HEAD : RAND_HEAD) + nblocks * RAND_DIR_ENTRY +
			nlists * RAND_LONG_ENTRY + nchunks * RAND_CHUNK_ENTRY;
	uint64_t part_base[RAND_PARTS_MAX];
	for (uint64_t k = 0, at = base; k < nparts; k++) {
		part_base[k] = at;
		at += x.outs[k].size;
		for (uint64_t e = 2 * part_block[k]; e < 2 * part_block[k + 1]; e++)
			le64_put(x.dir + e * 24, le64_get(x.dir + e * 24) + part_base[k]);
	}
	for (uint64_t l = 0, k = 0; l < nlists; l++) {
		/* The part of the list's object: the lists of each direction
		 * are in object order. */
		uint64_t blk = lists[l].obj / RAND_BLOCK;
		if (l && lists[l].dir != lists[l - 1].dir)
			k = 0;
		while (blk >= part_block[k + 1])
			k++;
		uint64_t nch = (lists[l].count + RAND_CHUNK - 1) / RAND_CHUNK;
		for (uint64_t q = lists[l].chunk; q < lists[l].chunk + nch; q++)
			le64_put(x.cdir + q * 24, le64_get(x.cdir + q * 24) + part_base[k]);
	}
	uint8_t head[RAND_LONG_HEAD];
	le32_put(head, RAND_BLOCK | (nlists ? RAND_LONG : 0));
	le32_put(head + 4, (uint32_t)nblocks);
	le64_put(head + 8, n);
	le64_put(head + 16, snapshot_rand_binding(w->table, w->nsections));
	le32_put(head + 24, RAND_CHUNK);
	le32_put(head + 28, (uint32_t)nlists);
	put_bytes(b, head, nlists ? RAND_LONG_HEAD : RAND_HEAD);
	put_bytes(b, x.dir, nblocks * RAND_DIR_ENTRY);
	for (uint64_t k = 0; k < nlists; k++) {
		uint8_t e[RAND_LONG_ENTRY];
		le32_put(e, lists[k].obj);
		le32_put(e + 4, lists[k].dir);
		le32_put(e + 8, lists[k].count);
		put_bytes(b, e, sizeof(e));
	}
	put_bytes(b, x.cdir, nchunks * RAND_CHUNK_ENTRY);
	for (uint64_t k = 0; k < nparts; k++) {
		put_bytes(b, x.outs[k].data, x.outs[k].size);
		free(x.outs[k].data);
		x.outs[k].data = NULL;
	}
	if (b->oom)
		err = &pyhs_enomem;
out:
	free(pstart);
	free(x.dir);
	free(x.cdir);
	for (uint64_t k = 0; x.outs && k < nparts; k++)
		free(x.outs[k].data);
	free(x.outs);
	free(lists);
	return err;
}

static struct pyhs_error *write_sections(struct writer *w,
					 const struct pyhs_heap *h,
					 const struct pyhs_analysis *a,
					 struct buf *b)
{
	struct pyhs_error *err;
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	struct pyhs_heap_columns c;
	pyhs_heap_get_columns(h, &c);
	uint64_t n = c.nobjects;

	/* META: the fields of the heap's parts, as the key table lists them */
	struct pyhs_heap_parts parts;
	memset(&parts, 0, sizeof(parts));
	parts.meta = *m;
	parts.gc_enabled = pyhs_heap_gc_enabled(h);
	for (int g = 0; g < 4; g++)
		pyhs_heap_gc_info(h, g, &parts.gc[g]);
	for (int k = 0; k < PYHS_WARN_NKINDS; k++)
		parts.warn_count[k] = pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k);
	struct snapshot_meta_field fields[SNAPSHOT_META_MAX_FIELDS];
	size_t nfields = snapshot_meta_fields(&parts, fields);
	struct meta_out mo = { { 0 }, 0 };
	for (size_t i = 0; i < nfields; i++)
		put_meta(&mo, &fields[i]);
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
	/* Threads, then their frames in thread order (format 3); string ids
	 * and object numbers + 1, 0 for none. */
	size_t nthreads = pyhs_heap_nthreads(h);
	put_varint(b, nthreads);
	for (size_t i = 0; i < nthreads; i++) {
		const struct pyhs_thread_info *t = pyhs_heap_thread(h, i);
		put_varint(b, t->ident);
		put_varint(b, t->native_id);
		put_id(b, t->name);
		put_varint(b, t->nframes);
		for (uint32_t f = t->first_frame; f < t->first_frame + t->nframes; f++) {
			const struct pyhs_frame_info *fi = pyhs_heap_frame(h, f);
			put_id(b, fi->function);
			put_id(b, fi->file);
			put_varint(b, (uint64_t)fi->line);
			put_id(b, fi->code);
		}
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
		struct pyhs_root_info ri;
		pyhs_heap_root(h, r, &ri);
		put_varint(b, pyhs_heap_root_object(h, r));
		put_u8(b, (uint8_t)((unsigned)ri.kind | (ri.holds_ref ? 0x80u : 0)));
		put_id(b, ri.thread);
		put_id(b, ri.frame);
		put_id(b, ri.name);
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
		put_varint(b, pyhs_heap_size(h, i));
	if ((err = emit(w, S_SIZE, b)))
		return err;
	for (uint64_t i = 0; i < n; i++)
		put_varint(b, pyhs_heap_refcnt(h, i));
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
	/* VTXT: the texts as the heap holds them, compressed from there. */
	if ((err = emit_bytes(w, S_VTXT, (const uint8_t *)c.value_text, c.value_text_size, true)))
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
	if (err)
		return err;

	/* ASYN: generators' places and C futures' states, as data. */
	uint64_t nasync = pyhs_heap_nasync(h);
	const struct pyhs_async_info *as = pyhs_heap_async_records(h);
	put_varint(b, nasync);
	for (uint64_t k = 0, prev = 0; k < nasync; k++) {
		put_varint(b, as[k].obj - prev);
		prev = (uint64_t)as[k].obj + 1;
		put_u8(b, as[k].state);
		put_id(b, as[k].function);
		put_id(b, as[k].file);
		put_varint(b, (uint64_t)(as[k].line + 1));
	}
	err = emit(w, S_ASYN, b);
	const struct pyhs_memory_state *ms = pyhs_heap_memory(h);
	uint8_t *mdata;
	size_t mn;
	if (!err && ms && !(err = snapshot_memory_encode(ms, &mdata, &mn))) {
		put_bytes(b, mdata, mn);
		free(mdata);
		err = emit(w, S_MEMS, b);
	}
	/* INDX: the analysis, so that readers need not run it again; TOPR:
	 * the largest retainers, as top prints them. */
	struct index_sink sink = { buf_varint, buf_bytes, b };
	if (!err) {
		pyhs_snapshot_index_encode(h, a, &sink);
		err = emit(w, S_INDX, b);
	}
	/* The holders' tree, which TOPR names holders from and RAND
	 * records. */
	struct pyhs_holders *hs = NULL;
	if (!err)
		err = pyhs_holders_create(h, a, &hs);
	if (!err) {
		pyhs_snapshot_top_encode(h, a, hs, &sink);
		err = emit(w, S_TOPR, b);
	}
	/* RAND: the same objects again, record by record, for readers that
	 * answer about a few objects (show, path) without the whole heap. */
	if (!err && !(err = rand_encode(w, h, a, hs, b)) && b->size)
		err = emit_stored(w, S_RAND, b);
	pyhs_holders_destroy(hs);
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
	return pyhs_snapshot_write_analysed(h, NULL, out);
}

struct pyhs_error *pyhs_snapshot_write_analysed(const struct pyhs_heap *h,
						const struct pyhs_analysis *given,
						struct pyhs_output *out)
{
	struct pyhs_analysis *own = NULL;
	struct pyhs_error *err = given ? NULL : pyhs_analysis_create(h, &own);
	if (err)
		return err;
	struct pyhs_atomic_file *af;
	if ((err = pyhs_output_file(out, PYHS_OUTPUT_SNAPSHOT, &af))) {
		pyhs_analysis_destroy(own);
		return err;
	}
	struct writer w = { .path = af->path, .fd = af->fd, .af = af };
	struct pyhs_heap_columns c;
	pyhs_heap_get_columns(h, &c);
	struct buf b = { 0 };
	int level = pyhs_output_level(out);
	w.level = level ? level : ZSTD_LEVEL;
	if (!(w.cctx = frame_cctx(w.level))) {
		err = &pyhs_enomem;
		goto out;
	}
	/* On the heap's jobs for the large sections (emit), when libzstd was
	 * built multithreaded. Its output does not depend on how many
	 * workers it has, but it is not the output of no worker: with one job
	 * one worker compresses, the caller waiting, so that the file is the
	 * same whatever the jobs. Or with none at all (a cache entry): the
	 * workers' buffers would add to the memory of the answer beside. */
	unsigned jobs = pyhs_heap_jobs(h);
	w.workers = !pyhs_output_zstd_workers(out) ? 0 :
		    jobs > 1 ? (int)(jobs < 8 ? jobs : 8) : 1;
	uint8_t header[HEADER_SIZE] = { 0 };
	if ((err = write_all(&w, header, sizeof(header))) ||
	    (err = write_sections(&w, h, given ? given : own, &b)))
		goto out;
	uint64_t table_off = w.off;
	size_t table_size = (size_t)w.nsections * ENTRY_SIZE;
	if ((err = write_all(&w, w.table, table_size)))
		goto out;
	memcpy(header, pyhs_snapshot_magic, sizeof(pyhs_snapshot_magic));
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
	pyhs_analysis_destroy(own);
	return err;
}
