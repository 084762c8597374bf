/*
 * Snapshot files, reading (FORMAT.md). Reading treats the file as hostile:
 * every offset, size and count is checked against the file's size before
 * it is used, and nothing large is allocated before the checksum of the
 * section that justifies it has been verified.
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
#include <unistd.h>
#include <zstd.h>

#include "snapshot_format.h"
#include "snapshot_index.h"
#include "snapshot_old.h"

/* ---- reading: a cursor over a decompressed section ----------------------- */

struct cur {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static inline uint64_t get_varint(struct cur *c)
{
	return snapshot_get_varint(&c->p, c->end, &c->bad);
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
	return bad(r, "%s in section %s", what, pyhs_snapshot_sections[r->cur_sec].name);
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
			   pyhs_snapshot_sections[r->cur_sec].name);
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

/* Sets field f from a record of the given type; returns whether the type
 * and the value fit the field. */
static bool set_meta(const struct snapshot_meta_field *f, uint8_t type,
		     uint64_t u, const char *s)
{
	int64_t v = (int64_t)unzigzag(u);
	switch (f->value) {
	case META_VALUE_STR:
		if (type != META_STRING)
			return false;
		*(const char **)f->p = s;
		return true;
	case META_VALUE_INT:
		if (type != META_SINT || v < INT_MIN || v > INT_MAX)
			return false;
		*(int *)f->p = (int)v;
		return true;
	case META_VALUE_U32:
		if (type != META_UINT || u > UINT32_MAX)
			return false;
		*(uint32_t *)f->p = (uint32_t)u;
		return true;
	case META_VALUE_U64:
		if (type != META_UINT)
			return false;
		*(uint64_t *)f->p = u;
		return true;
	case META_VALUE_BOOL:
		if (type != META_UINT || u > 1)
			return false;
		*(bool *)f->p = u != 0;
		return true;
	}
	return false;
}

#define CHECK_OOM(oom) do { if (oom) return &pyhs_enomem; } while (0)

static struct pyhs_error *read_meta(struct reader *r,
				    struct pyhs_heap_parts *p)
{
	struct cur c;
	struct pyhs_error *err = load_section(r, S_META, &c);
	if (err)
		return err;
	struct snapshot_meta_field fields[SNAPSHOT_META_MAX_FIELDS];
	size_t nfields = snapshot_meta_fields(p, fields);
	for (size_t i = 0; i < nfields; i++)
		if (fields[i].value == META_VALUE_STR)
			*(const char **)fields[i].p = "";
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
		/* Unknown fields are skipped: later versions may add some. */
		const struct snapshot_meta_field *f = snapshot_meta_find(fields, nfields, key);
		if (f && !set_meta(f, type, u, s))
			return bad(r, "metadata field '%s' has the wrong type or range", key);
	}
	return section_done(r, &c);
}

static void *own_array_fn(void *ctx, size_t n, size_t size)
{
	return own_array(ctx, n, size);
}

/* A string id, object, thread or frame number stored + 1 (0: none). */
static uint32_t get_id(struct cur *c)
{
	uint64_t v = get_varint(c);
	if (v > UINT32_MAX)
		c->bad = true;
	return (uint32_t)(v - 1);
}

/* An error of snapshot_old.c's, as the reader words its own. */
static struct pyhs_error *reword_old(const struct reader *r, struct pyhs_error *err)
{
	if (err && err != &pyhs_enomem) {
		struct pyhs_error *e = bad(r, "%s", err->message);
		pyhs_error_destroy(err);
		err = e;
	}
	return err;
}

/* Format 3's threads and their frames (see FORMAT.md). */
static struct pyhs_error *read_threads(struct reader *r, struct cur *c,
				       struct pyhs_heap_parts *p, uint64_t nthreads)
{
	struct pyhs_thread_info *threads = own_array(r, nthreads, sizeof(*threads));
	/* Frames take at least 4 bytes each. */
	uint64_t cap = cur_left(c) / 4;
	struct pyhs_frame_info *frames = own_array(r, cap, sizeof(*frames));
	CHECK_OOM(!threads || !frames);
	uint32_t nframes = 0;
	for (uint64_t i = 0; i < nthreads && !c->bad; i++) {
		struct pyhs_thread_info t = { .ident = get_varint(c) };
		t.native_id = get_varint(c);
		t.name = get_id(c);
		uint64_t n = get_count(c, 4);
		if (n > cap - nframes) {
			c->bad = true;
			break;
		}
		t.first_frame = nframes;
		t.nframes = (uint32_t)n;
		for (uint32_t d = 0; d < n && !c->bad; d++) {
			struct pyhs_frame_info f = { .thread = (uint32_t)i, .depth = d };
			f.function = get_id(c);
			f.file = get_id(c);
			uint64_t line = get_varint(c);
			if (line > INT32_MAX)
				c->bad = true;
			f.line = (int32_t)line;
			f.code = get_id(c);
			frames[nframes++] = f;
		}
		threads[i] = t;
	}
	p->threads = threads;
	p->frames = frames;
	p->nframes = nframes;
	return NULL;
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
	if (r->version >= 3 && (err = read_threads(r, &c, p, nthreads)))
		return err;
	for (uint64_t i = 0; i < nthreads && !c.bad && r->version < 3; i++) {
		ident[i] = get_varint(&c);
		native[i] = get_varint(&c);
	}
	p->nthreads = nthreads;
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
	uint64_t nroots = get_count(&c, r->version >= 3 ? 5 : 2);
	uint32_t *robj = own_array(r, nroots, sizeof(*robj));
	CHECK_OOM(!robj);
	if (r->version >= 3) {
		struct pyhs_root_info *roots = own_array(r, nroots, sizeof(*roots));
		CHECK_OOM(!roots);
		for (uint64_t i = 0; i < nroots && !c.bad; i++) {
			uint64_t o = get_varint(&c);
			uint8_t kind = get_u8(&c);
			struct pyhs_root_info ri = {
				.kind = (enum pyhs_root_kind)(kind & 0x7f),
				.holds_ref = kind & 0x80,
				.thread = get_id(&c),
				.frame = get_id(&c),
				.name = get_id(&c),
			};
			if (o > UINT32_MAX)
				c.bad = true;
			robj[i] = (uint32_t)o;
			roots[i] = ri;
		}
		p->roots = roots;
		p->nroots = nroots;
		p->root_obj = robj;
		return section_done(r, &c);
	}
	/* Formats 1 and 2 keep roots as their labels. */
	uint32_t *rlabel = own_array(r, nroots, sizeof(*rlabel));
	CHECK_OOM(!rlabel);
	for (uint64_t i = 0; i < nroots && !c.bad; i++) {
		uint64_t o = get_varint(&c), l = get_varint(&c);
		if (o > UINT32_MAX || l > UINT32_MAX)
			c.bad = true;
		robj[i] = (uint32_t)o;
		rlabel[i] = (uint32_t)l;
	}
	p->nroots = nroots;
	p->root_obj = robj;
	if ((err = section_done(r, &c)))
		return err;
	return reword_old(r, pyhs_snapshot_old_roots(p, rlabel, ident, native, own_array_fn, r));
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
			if ((byte & ~(0x0f | LABEL_HAS_PAYLOAD)) ||
			    kind >= (r->version >= 4 ? LABEL_KINDS_V4 : LABEL_KINDS_V1)) {
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

/* ASYN (format 4 writers): generators' places and C futures' states.
 * Files of earlier writers have their value texts instead, read back by
 * snapshot_old.c; and their closure cells' labels are field texts. */
static struct pyhs_error *read_async(struct reader *r, struct pyhs_heap_parts *p)
{
	struct pyhs_error *err;
	if (r->version < 4 &&
	    (err = reword_old(r, pyhs_snapshot_old_cells(p, own_array_fn, r))))
		return err;
	if (!r->sec[S_ASYN].present)
		return reword_old(r, pyhs_snapshot_old_async(p, own_array_fn, r));
	struct cur c;
	if ((err = load_section(r, S_ASYN, &c)))
		return err;
	uint64_t n = get_count(&c, 5);
	struct pyhs_async_info *as = own_array(r, n, sizeof(*as));
	if (!as)
		return &pyhs_enomem;
	for (uint64_t k = 0, next = 0; k < n && !c.bad; k++) {
		uint64_t d = get_varint(&c), obj = next + d;
		as[k].state = get_u8(&c);
		as[k].function = get_id(&c);
		as[k].file = get_id(&c);
		uint64_t line = get_varint(&c);
		if (d >= r->nobjects - next || line > INT32_MAX)
			c.bad = true;
		as[k].obj = (uint32_t)obj;
		as[k].line = (int32_t)line - 1;
		next = obj + 1;
	}
	p->nasync = n;
	p->async = as;
	return section_done(r, &c);
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
		/* a count, then per record 2 varints below 2^32, a byte and 2
		 * more varints below 2^32 */
		{ S_ASYN, 0, MAX_VARINT + n * 21 },
		{ S_INDX, 0, pyhs_snapshot_index_max_size(n) },
		{ S_TOPR, 0, 20 + PYHS_TOP_ROWS * (UINT64_C(1) << 20) },
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		uint64_t raw = r->sec[rules[i].s].raw;
		if (r->sec[rules[i].s].present && (raw < rules[i].min || raw > rules[i].max))
			return bad(r, "section %s has %" PRIu64 " bytes, which does not fit %" PRIu64
				   " objects and %" PRIu64 " edges",
				   pyhs_snapshot_sections[rules[i].s].name, raw, n, m);
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
	size_t nmagic = have < sizeof(pyhs_snapshot_magic) ? have : sizeof(pyhs_snapshot_magic);
	if (memcmp(h, pyhs_snapshot_magic, nmagic) != 0)
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
		while (s < NSECTIONS && memcmp(e, pyhs_snapshot_sections[s].id, 4) != 0)
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
			err = bad(r, "section %s appears twice", pyhs_snapshot_sections[s].name);
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
			err = bad(r, "section %s lies outside the file", pyhs_snapshot_sections[s].name);
		else if (x->codec > CODEC_ZSTD || e[7] != 0)
			err = bad(r, "section %s has unknown encoding %u", pyhs_snapshot_sections[s].name,
				  x->codec);
		else if (x->codec == CODEC_STORED ? x->raw != x->stored :
			 x->raw / MAX_EXPANSION > x->stored)
			err = bad(r, "section %s claims an impossible size", pyhs_snapshot_sections[s].name);
	}
	free(table);
	if (err)
		return err;
	for (int s = 0; s < NSECTIONS; s++)
		if (!r->sec[s].present && !pyhs_snapshot_sections[s].optional)
			return bad(r, "section %s is missing", pyhs_snapshot_sections[s].name);
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

/* The allocator state (snapshot_memory.c), kept with the heap. */
static struct pyhs_error *read_memory(struct reader *r, struct pyhs_heap *h)
{
	struct cur c;
	struct pyhs_memory_state *m;
	const char *why = NULL;
	struct pyhs_error *err = load_section(r, S_MEMS, &c);
	if (!err && !(err = snapshot_memory_decode(c.p, cur_left(&c), &m, &why)) && why)
		err = bad_section(r, why);
	if (!err)
		pyhs_heap_set_memory(h, m);
	return err;
}

static struct pyhs_error *reader_open(struct reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0)
		return pyhs_error_os(errno, "cannot open snapshot '%s'", path);
	if (!(r->dctx = ZSTD_createDCtx())) {
		close(r->fd);
		return &pyhs_enomem;
	}
	return NULL;
}

static void reader_close(struct reader *r)
{
	free(r->raw);
	for (size_t i = 0; i < r->nowned; i++)
		free(r->owned[i]);
	free(r->owned);
	ZSTD_freeDCtx(r->dctx);
	close(r->fd);
}

/* The index sections, those there are: checked (checksum, frame) always,
 * and with ret the analysis decoded (else *ret NULL). */
static struct pyhs_error *read_index(struct reader *r, const struct pyhs_heap *h,
				     struct pyhs_analysis **ret)
{
	if (ret)
		*ret = NULL;
	struct cur c;
	struct pyhs_error *err = NULL;
	if (r->sec[S_TOPR].present && (err = load_section(r, S_TOPR, &c)))
		return err;
	if (!r->sec[S_INDX].present)
		return NULL;
	err = load_section(r, S_INDX, &c);
	if (err || !ret)
		return err;
	err = pyhs_snapshot_index_decode(h, c.p, cur_left(&c), ret);
	if (err && err->code == PYHS_ERROR_INPUT)
		err = pyhs_error_wrap(err, "cannot read snapshot '%s': in section index", r->path);
	return err;
}

struct pyhs_error *pyhs_snapshot_read(const char *path, struct pyhs_heap **ret)
{
	return pyhs_snapshot_read_analysed(path, ret, NULL);
}

struct pyhs_error *pyhs_snapshot_read_analysed(const char *path, struct pyhs_heap **ret,
					       struct pyhs_analysis **ret_analysis)
{
	struct reader r;
	struct pyhs_heap_parts parts;
	memset(&parts, 0, sizeof(parts));
	struct pyhs_error *err = reader_open(&r, path);
	if (err)
		return err;
	if ((err = read_header(&r)) || (err = read_meta(&r, &parts)) ||
	    (err = read_small_sections(&r, &parts)) ||
	    (err = read_columns(&r, &parts.columns, parts.ntypes)) ||
	    (err = read_async(&r, &parts)))
		goto out;
	struct pyhs_heap *h;
	err = pyhs_heap_assemble(&parts, &h);
	if (err) {
		err = pyhs_error_wrap(err, "cannot read snapshot '%s'", path);
		goto out;
	}
	memset(&parts.columns, 0, sizeof(parts.columns)); /* the heap's now */
	if ((r.sec[S_MEMS].present && (err = read_memory(&r, h))) ||
	    (err = read_index(&r, h, ret_analysis))) {
		pyhs_heap_destroy(h);
		goto out;
	}
	*ret = h;
out:
	free_columns(&parts.columns);
	reader_close(&r);
	return err;
}

/* The stored bytes of every section against their checksums. */
static struct pyhs_error *check_all(struct reader *r)
{
	for (int s = 0; s < NSECTIONS; s++) {
		const struct entry *e = &r->sec[s];
		if (!e->present)
			continue;
		uint8_t *stored = malloc(e->stored ? e->stored : 1);
		if (!stored)
			return &pyhs_enomem;
		struct pyhs_error *err = read_at(r, stored, e->stored, e->off);
		bool same = !err && pyhs_xxh64(stored, e->stored) == e->hash;
		free(stored);
		if (err)
			return err;
		if (!same) {
			r->cur_sec = (enum section)s;
			return bad_section(r, "checksum mismatch");
		}
	}
	return NULL;
}

static char *copy_meta(char *at, const char **field)
{
	size_t n = strlen(*field ? *field : "");
	memcpy(at, *field ? *field : "", n + 1);
	*field = at;
	return at + n + 1;
}

struct pyhs_error *pyhs_snapshot_read_top(const char *path, struct pyhs_snapshot_top **ret)
{
	struct reader r;
	struct pyhs_heap_parts parts;
	memset(&parts, 0, sizeof(parts));
	struct pyhs_snapshot_top *t = NULL;
	*ret = NULL;
	struct pyhs_error *err = reader_open(&r, path);
	if (err)
		return err;
	struct cur c;
	if ((err = read_header(&r)) || (err = check_all(&r)) || (err = read_meta(&r, &parts)) ||
	    !r.sec[S_TOPR].present || (err = load_section(&r, S_TOPR, &c)))
		goto out;
	if ((err = pyhs_snapshot_top_decode(c.p, cur_left(&c), &t))) {
		if (err->code == PYHS_ERROR_INPUT)
			err = pyhs_error_wrap(err, "cannot read snapshot '%s': in section %s", path,
					      pyhs_snapshot_sections[S_TOPR].name);
		goto out;
	}
	if (t->nobjects != r.nobjects) {
		pyhs_snapshot_top_destroy(t);
		err = bad(&r, "section %s does not fit %" PRIu64 " objects",
			  pyhs_snapshot_sections[S_TOPR].name, r.nobjects);
		goto out;
	}
	struct pyhs_heap_meta *m = &parts.meta;
	const char **fields[] = { &m->source, &m->input, &m->executable, &m->library,
				  &m->debug_file };
	size_t need = 0;
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		need += strlen(*fields[k] ? *fields[k] : "") + 1;
	char *strings = malloc(need), *at = strings;
	if (!strings) {
		pyhs_snapshot_top_destroy(t);
		err = &pyhs_enomem;
		goto out;
	}
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		at = copy_meta(at, fields[k]);
	t->meta.source = m->source;
	t->meta.input = m->input;
	t->meta.executable = m->executable;
	t->meta.library = m->library;
	t->meta.debug_file = m->debug_file;
	t->meta_strings = strings;
	*ret = t;
out:
	reader_close(&r);
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
	return n >= 4 && memcmp(head, pyhs_snapshot_magic, 4) == 0;
}
