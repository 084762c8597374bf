/*
 * Fuzz target: snapshot files (formats/FORMAT.md) read by
 * pyhs_snapshot_read_top (the largest retainers alone),
 * pyhs_snapshot_read_analysed and the object records (RAND) as show and
 * path read them; when the heap reads, the analysis its index gives is
 * used as the verbs use it, every analysis and the export run over it,
 * and its first, middle and last objects are looked up in the records.
 *
 * Two kinds of input:
 *
 *   - Anything else than the "FZSN" form below: the snapshot file itself,
 *     byte for byte (framing, checksums, truncation, the magic and version).
 *
 *   - "FZSN" u64 n u64 m, then sections until the input ends, each
 *     id[4] u8 mode u32 len and len raw bytes (fewer if the input ends):
 *     the harness writes a well-framed snapshot of them (header with n and
 *     m, each section stored, or zstd-compressed when mode bit 1 is set,
 *     marked required when mode bit 0 is set, right sizes and checksums;
 *     with mode bit 2 on a stored RAND section, its binding to the other
 *     sections' checksums right too). Mutations then reach the section
 *     decoders, the heap's cross-checks and the object records instead
 *     of dying on a checksum.
 */
#include <zstd.h>

#include "fuzz_common.h"
#include "snapshot_format.h"

#define FRAMED_MAGIC "FZSN"

struct buf {
	uint8_t *data;
	size_t size, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->size >= more)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->size < more)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (!d)
		fuzz_die("out of memory");
	b->data = d;
	b->cap = cap;
}

static void buf_put(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->size, p, n);
	b->size += n;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Builds a snapshot file from the FZSN form into out. */
static void build_framed(const uint8_t *data, size_t size, struct buf *out)
{
	static struct buf table, zbuf;
	table.size = 0;
	out->size = 0;
	uint64_t n = get_u64(data + 4), m = get_u64(data + 12);
	size_t pos = 20;
	uint8_t header[HEADER_SIZE] = { 0 };
	buf_put(out, header, HEADER_SIZE);
	uint32_t count = 0;
	uint32_t rand_entry = UINT32_MAX; /* the RAND section to bind */
	while (pos + 9 <= size && count < MAX_SECTIONS) {
		const uint8_t *id = data + pos;
		uint8_t mode = data[pos + 4];
		size_t len = get_u32(data + pos + 5);
		pos += 9;
		if (len > size - pos)
			len = size - pos;
		const uint8_t *raw = data + pos;
		pos += len;
		const uint8_t *stored = raw;
		size_t stored_size = len;
		uint8_t codec = 0;
		if (mode & 2) {
			size_t bound = ZSTD_compressBound(len);
			zbuf.size = 0;
			buf_reserve(&zbuf, bound);
			size_t z = ZSTD_compress(zbuf.data, bound, raw, len, 1);
			if (ZSTD_isError(z))
				fuzz_die("ZSTD_compress failed");
			stored = zbuf.data;
			stored_size = z;
			codec = 1;
		}
		uint8_t e[ENTRY_SIZE] = { 0 };
		memcpy(e, id, 4);
		put_u16(e + 4, mode & 1);
		e[6] = codec;
		put_u64(e + 8, out->size);
		put_u64(e + 16, stored_size);
		put_u64(e + 24, len);
		put_u64(e + 32, pyhs_xxh64(stored, stored_size));
		buf_put(out, stored, stored_size);
		buf_put(&table, e, ENTRY_SIZE);
		if (memcmp(id, "RAND", 4) == 0 && (mode & 6) == 4 && len >= 24 &&
		    rand_entry == UINT32_MAX)
			rand_entry = count;
		count++;
	}
	if (rand_entry != UINT32_MAX) {
		uint8_t *t = table.data + (size_t)rand_entry * ENTRY_SIZE;
		uint64_t off = get_u64(t + 8), stored_size = get_u64(t + 16);
		put_u64(out->data + off + 16, snapshot_rand_binding(table.data, count));
		put_u64(t + 32, pyhs_xxh64(out->data + off, stored_size));
	}
	uint64_t table_off = out->size;
	buf_put(out, table.data, table.size);
	uint8_t *h = out->data;
	memcpy(h, "\x89PYHSNAP", 8);
	put_u32(h + 8, PYHS_SNAPSHOT_VERSION);
	put_u32(h + 12, count);
	put_u64(h + 16, out->size);
	put_u64(h + 24, table_off);
	put_u64(h + 32, n);
	put_u64(h + 40, m);
	put_u64(h + 48, pyhs_xxh64(table.data, table.size));
	put_u64(h + 56, pyhs_xxh64(h, 56));
}

/* The object at addr from the records, as show (text and JSON) and path
 * ask for it. */
static void view_objects(const char *path, const uint64_t *addrs, size_t naddrs)
{
	struct pyhs_snapshot_view *v;
	struct pyhs_error *err = pyhs_snapshot_view_open(path, &v);
	if (err) {
		fuzz_error(err);
		return;
	}
	if (!v)
		return;
	(void)strlen(pyhs_snapshot_view_meta(v)->input);
	static const unsigned flags[] = { PYHS_VIEW_SHOW | PYHS_VIEW_FIRST, PYHS_VIEW_SHOW, 0 };
	for (size_t k = 0; k < naddrs; k++) {
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			struct pyhs_object_view *ov;
			err = pyhs_snapshot_view_object(v, addrs[k], flags[f], f == 2 ? 64 : 1, &ov);
			if (err) {
				fuzz_error(err);
				continue;
			}
			fuzz_exercise_heap(ov->heap);
			(void)strlen(ov->holder);
			for (size_t q = 0; q < ov->nlisted; q++)
				(void)pyhs_heap_edge_label(ov->heap, ov->referrers[q].edge);
			pyhs_object_view_destroy(ov);
		}
	}
	pyhs_snapshot_view_destroy(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf file;
	if (size >= 20 && memcmp(data, FRAMED_MAGIC, 4) == 0) {
		build_framed(data, size, &file);
		data = file.data;
		size = file.size;
	}
	const char *path = fuzz_input_file(data, size);
	/* The test by which the command line tells snapshots from cores. */
	(void)pyhs_snapshot_is(path);
	(void)pyhs_snapshot_magic_is(data, size);
	/* The largest retainers alone, as top -n reads them. */
	struct pyhs_snapshot_top *t;
	struct pyhs_error *err = pyhs_snapshot_read_top(path, &t);
	if (err) {
		fuzz_error(err);
	} else if (t) {
		for (uint64_t q = 0; q < t->nrows; q++)
			(void)(strlen(t->rows[q].type) + strlen(t->rows[q].preview) +
			       strlen(t->rows[q].holder));
		(void)strlen(t->meta.input);
		pyhs_snapshot_top_destroy(t);
	}
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	err = pyhs_snapshot_read_analysed(path, &h, &a);
	if (err) {
		fuzz_error(err);
		/* The records may still open: an address no object has. */
		view_objects(path, (const uint64_t[]){ 0x10 }, 1);
		return 0;
	}
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	for (size_t i = 0; i < m->nwarnings; i++)
		(void)strlen(m->warnings[i]);
	if (a) {
		/* The analysis the index gave, as the verbs use it. */
		uint64_t n = pyhs_heap_nobjects(h);
		struct pyhs_domtree *dt = NULL;
		struct pyhs_holders *hs = NULL;
		char buf[512];
		if ((err = pyhs_domtree_create(a, &dt)))
			fuzz_error(err);
		if ((err = pyhs_holders_create(h, a, &hs)))
			fuzz_error(err);
		for (uint64_t i = 0; i < n && hs; i += 1 + n / 8)
			pyhs_holders_name(hs, i, buf, sizeof(buf));
		struct pyhs_path *paths;
		size_t np;
		if (n && !(err = pyhs_analysis_paths(a, (uint32_t)(n - 1), 3, &paths, &np)))
			pyhs_paths_free(paths, np);
		else if (n)
			fuzz_error(err);
		pyhs_holders_destroy(hs);
		pyhs_domtree_destroy(dt);
		pyhs_analysis_destroy(a);
	}
	fuzz_exercise_heap(h);
	uint64_t n = pyhs_heap_nobjects(h);
	if (n) {
		uint64_t addrs[3] = { pyhs_heap_addr(h, 0), pyhs_heap_addr(h, n / 2),
				      pyhs_heap_addr(h, n - 1) };
		view_objects(path, addrs, 3);
	}
	pyhs_heap_destroy(h);
	return 0;
}
