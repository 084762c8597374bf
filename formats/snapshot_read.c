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
	if (!(col->edge_start = malloc((n + 1) * sizeof(*col->edge_start))))
		return &pyhs_enomem;
	col->edge_start[0] = 0;
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t k = get_varint(&c);
		if (k > m - col->edge_start[i]) {
			c.bad = true;
			break;
		}
		col->edge_start[i + 1] = col->edge_start[i] + (uint32_t)k; /* at most m */
	}
	if ((err = section_done(r, &c)))
		return err;
	if (col->edge_start[n] != m)
		return bad(r, "the edge counts add up to %" PRIu64 ", not %" PRIu64,
			   (uint64_t)col->edge_start[n], m);

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
	if (r->nobjects >= UINT32_MAX || r->nedges >= UINT32_MAX)
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

static struct pyhs_error *check_one(struct reader *r, enum section s);

/* The index sections, those there are: checked (checksum, frame) always,
 * and with ret the analysis decoded (else *ret NULL); the object records'
 * checksum (pyhs_snapshot_view_open decodes them). */
static struct pyhs_error *read_index(struct reader *r, const struct pyhs_heap *h,
				     struct pyhs_analysis **ret)
{
	if (ret)
		*ret = NULL;
	struct cur c;
	struct pyhs_error *err = NULL;
	if (r->sec[S_TOPR].present && (err = load_section(r, S_TOPR, &c)))
		return err;
	if (r->sec[S_RAND].present && (err = check_one(r, S_RAND)))
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

/* The stored bytes of section s against its checksum. */
static struct pyhs_error *check_one(struct reader *r, enum section s)
{
	const struct entry *e = &r->sec[s];
	uint8_t *stored = malloc(e->stored ? e->stored : 1);
	if (!stored)
		return &pyhs_enomem;
	struct pyhs_error *err = read_at(r, stored, e->stored, e->off);
	bool same = !err && pyhs_xxh64(stored, e->stored) == e->hash;
	free(stored);
	if (err)
		return err;
	if (!same) {
		r->cur_sec = s;
		return bad_section(r, "checksum mismatch");
	}
	return NULL;
}

/* The stored bytes of every section against their checksums. */
static struct pyhs_error *check_all(struct reader *r)
{
	for (int s = 0; s < NSECTIONS; s++) {
		struct pyhs_error *err = r->sec[s].present ? check_one(r, (enum section)s) : NULL;
		if (err)
			return err;
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

/* ---- RAND: answers about a few objects without the whole heap ------------ */

/* A block's two frames, decoded (FORMAT.md, RAND): the references into
 * its objects (what paths search), and their records, references out and
 * texts. */
struct rand_graph {
	uint64_t cnt;
	uint32_t *root, *npreds;
	uint8_t *rank;
	uint64_t *pred_off;            /* cnt + 1 */
	uint32_t *psrc, *pedge;
	uint64_t npred;
	uint32_t *lst;                 /* cnt: each one's long list, or RAND_NONE; NULL: none */
};

struct rand_block {
	uint64_t cnt;
	uint8_t *recs;                 /* cnt records of RAND_RECORD bytes */
	uint64_t *edge_off;            /* cnt + 1 */
	uint32_t *edst, *elab;
	uint64_t nedges;
	char *text;
	uint32_t *text_off;            /* cnt; RAND_NONE: none */
	uint32_t *text_len;
	uint32_t *lst;                 /* as rand_graph's, for the references out */
};

/* A chunk of a long list, decoded: its references' two numbers. */
struct rand_chunk {
	uint64_t id;                   /* its number among the chunks; UINT64_MAX: none */
	uint64_t used;
	uint32_t *a, *b;
};

/* Frames kept decoded at once: the least recently used beyond go. */
#define VIEW_GRAPHS 512
#define VIEW_BLOCKS 64
#define VIEW_CHUNKS 16

struct pyhs_snapshot_view {
	struct reader r;
	struct pyhs_heap_parts parts; /* the small sections; no columns */
	uint64_t n;
	uint8_t *addr_raw;            /* the ADDR section, decompressed */
	uint64_t addr_size;
	uint8_t *sec;                 /* RAND's bytes */
	uint64_t sec_size;
	uint64_t block_objects, nblocks;
	struct rand_graph **graphs;
	struct rand_block **blocks;
	uint64_t *graph_used, *block_used; /* when last asked for; 0: not held */
	uint64_t ngraphs, nloaded, clock;
	uint64_t base;                /* where the frames may start */
	/* Long lists: nlong entries at longs (in sec), sorted by direction
	 * and object; list k's chunks from long_chunk[k] on, in chunk_dir. */
	uint64_t chunk_refs, nlong, nchunks;
	const uint8_t *longs, *chunk_dir;
	uint64_t *long_chunk;
	struct rand_chunk chunks[VIEW_CHUNKS];
	char *path;                   /* the reader's, for its messages */
};

/* The held frame asked for least recently. */
static uint64_t oldest(const uint64_t *used, uint64_t n)
{
	uint64_t best = UINT64_MAX, at = 0;
	for (uint64_t q = 0; q < n; q++)
		if (used[q] && used[q] < best) {
			best = used[q];
			at = q;
		}
	return at;
}

/* One object's record. */
struct rand_rec {
	uint64_t id;
	uint64_t size, refcnt, retained, unexplained;
	uint32_t hsrc, hj, type, idom, root, nedges, npreds;
	uint8_t gen, flags, garbage, rank;
};

static void planes_to_words(uint32_t *dst, const uint8_t *planes, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		dst[i] = (uint32_t)planes[i] | (uint32_t)planes[n + i] << 8 |
			 (uint32_t)planes[2 * n + i] << 16 | (uint32_t)planes[3 * n + i] << 24;
}

static struct pyhs_error *view_bad(const struct pyhs_snapshot_view *v, const char *what)
{
	return bad(&v->r, "%s in section %s", what, pyhs_snapshot_sections[S_RAND].name);
}

static void rand_graph_free(struct rand_graph *g)
{
	if (!g)
		return;
	free(g->root);
	free(g->npreds);
	free(g->rank);
	free(g->pred_off);
	free(g->psrc);
	free(g->pedge);
	free(g->lst);
	free(g);
}

static void rand_block_free(struct rand_block *b)
{
	if (!b)
		return;
	free(b->recs);
	free(b->edst);
	free(b->elab);
	free(b->edge_off);
	free(b->text);
	free(b->text_off);
	free(b->text_len);
	free(b->lst);
	free(b);
}

/* The frame whose place (offset, stored size, raw size) d gives, of min
 * to max raw bytes, decompressed and checked: *ret malloc'd, *ret_raw
 * bytes. */
static struct pyhs_error *frame_get(struct pyhs_snapshot_view *v, const uint8_t *d,
				    uint64_t min, uint64_t max, uint8_t **ret, uint64_t *ret_raw)
{
	uint64_t off = le64_get(d), stored = le64_get(d + 8), raw = le64_get(d + 16);
	if (off < v->base || off > v->sec_size || stored > v->sec_size - off || !stored ||
	    raw / MAX_EXPANSION > stored || raw < min || raw > max)
		return view_bad(v, "a block out of place");
	const uint8_t *z = v->sec + off;
	unsigned long long fcs = ZSTD_getFrameContentSize(z, stored);
	size_t fsize = ZSTD_findFrameCompressedSize(z, stored);
	if (ZSTD_isError(fsize) || fsize != stored || fcs != raw)
		return view_bad(v, "a malformed block");
	uint8_t *p = malloc(raw);
	if (!p)
		return &pyhs_enomem;
	size_t got = ZSTD_decompressDCtx(v->r.dctx, p, raw, z, stored);
	if (ZSTD_isError(got) || got != raw) {
		free(p);
		return view_bad(v, "a corrupt block");
	}
	*ret = p;
	*ret_raw = raw;
	return NULL;
}

/* Frame f (0: references in, 1: records) of block k, decompressed and
 * checked: *ret malloc'd, *ret_raw bytes; *ret_cnt objects. */
static struct pyhs_error *frame_load(struct pyhs_snapshot_view *v, uint64_t k, int f,
				     uint8_t **ret, uint64_t *ret_raw, uint64_t *ret_cnt)
{
	const uint8_t *d = v->sec + (v->nlong ? RAND_LONG_HEAD : RAND_HEAD) +
			   k * RAND_DIR_ENTRY + 24 * f;
	uint64_t first = k * v->block_objects;
	uint64_t cnt = v->n - first < v->block_objects ? v->n - first : v->block_objects;
	uint64_t min = cnt * (f ? RAND_RECORD + 4 : RAND_GRAPH_RECORD);
	/* n and m below 2^31 (the head is checked), VTXT below 2^32. */
	uint64_t max = min + RAND_MAX_FRAME + (f ? v->r.sec[S_VTXT].raw : 0);
	*ret_cnt = cnt;
	return frame_get(v, d, min, max, ret, ret_raw);
}

/* The long lists of direction dir (0 out, 1 in) of objects first to
 * last - 1: entries *ret_lo to *ret_hi - 1. */
static void long_range(const struct pyhs_snapshot_view *v, uint32_t dir, uint64_t first,
		       uint64_t last, uint64_t *ret_lo, uint64_t *ret_hi)
{
	uint64_t key[2] = { first, last }, at[2];
	for (int s = 0; s < 2; s++) {
		uint64_t lo = 0, hi = v->nlong;
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;
			const uint8_t *e = v->longs + mid * RAND_LONG_ENTRY;
			uint32_t d = le32_get(e + 4);
			if (d < dir || (d == dir && le32_get(e) < key[s]))
				lo = mid + 1;
			else
				hi = mid;
		}
		at[s] = lo;
	}
	*ret_lo = at[0];
	*ret_hi = at[1];
}

/* The long lists of a block's cnt objects from first on, in direction
 * dir, whose counts count gives (or, without it, the records recs): *ret
 * (cnt, RAND_NONE for the others) or NULL when it has none. Each list's
 * count must be its object's. */
static struct pyhs_error *block_longs(struct pyhs_snapshot_view *v, uint32_t dir,
				      uint64_t first, uint64_t cnt, const uint32_t *count,
				      const uint8_t *recs, uint32_t **ret)
{
	*ret = NULL;
	uint64_t lo, hi;
	long_range(v, dir, first, first + cnt, &lo, &hi);
	if (lo == hi)
		return NULL;
	uint32_t *lst = malloc(cnt * sizeof(*lst));
	if (!lst)
		return &pyhs_enomem;
	for (uint64_t q = 0; q < cnt; q++)
		lst[q] = RAND_NONE;
	for (uint64_t k = lo; k < hi; k++) {
		const uint8_t *e = v->longs + k * RAND_LONG_ENTRY;
		uint64_t q = le32_get(e) - first;
		uint32_t c = count ? count[q] : le32_get(recs + q * RAND_RECORD + 48);
		if (c != le32_get(e + 8)) {
			free(lst);
			return view_bad(v, "a long list that does not fit its object");
		}
		lst[q] = (uint32_t)k;
	}
	*ret = lst;
	return NULL;
}

/* Reference k of long list l: its two numbers (the other object's
 * difference, the label or reference number), from its chunk. */
static struct pyhs_error *view_long(struct pyhs_snapshot_view *v, uint64_t l, uint64_t k,
				    uint32_t *ret_a, uint32_t *ret_b)
{
	uint64_t count = le32_get(v->longs + l * RAND_LONG_ENTRY + 8);
	if (k >= count)
		return view_bad(v, "a reference out of range");
	uint64_t c = k / v->chunk_refs, id = v->long_chunk[l] + c;
	struct rand_chunk *s = NULL;
	for (size_t q = 0; q < VIEW_CHUNKS && !s; q++)
		if (v->chunks[q].id == id)
			s = &v->chunks[q];
	if (!s) {
		s = &v->chunks[0];
		for (size_t q = 1; q < VIEW_CHUNKS; q++)
			if (v->chunks[q].used < s->used)
				s = &v->chunks[q];
		free(s->a);
		free(s->b);
		s->a = s->b = NULL;
		s->id = UINT64_MAX;
		s->used = 0;
		uint64_t cnt = count - c * v->chunk_refs;
		if (cnt > v->chunk_refs)
			cnt = v->chunk_refs;
		uint8_t *p;
		uint64_t raw;
		struct pyhs_error *err = frame_get(v, v->chunk_dir + id * RAND_CHUNK_ENTRY,
						   8 * cnt, 8 * cnt, &p, &raw);
		if (err)
			return err;
		if (!(s->a = malloc(cnt * 4)) || !(s->b = malloc(cnt * 4))) {
			free(p);
			free(s->a);
			s->a = NULL;
			return &pyhs_enomem;
		}
		planes_to_words(s->a, p, cnt);
		planes_to_words(s->b, p + 4 * cnt, cnt);
		free(p);
		s->id = id;
	}
	s->used = ++v->clock;
	*ret_a = s->a[k % v->chunk_refs];
	*ret_b = s->b[k % v->chunk_refs];
	return NULL;
}

static struct pyhs_error *graph_decode(struct pyhs_snapshot_view *v, uint64_t k,
				       struct rand_graph *g)
{
	uint8_t *p;
	uint64_t raw, cnt;
	struct pyhs_error *err = frame_load(v, k, 0, &p, &raw, &cnt);
	if (err)
		return err;
	g->cnt = cnt;
	if (!(g->root = malloc(cnt * 4)) || !(g->npreds = malloc(cnt * 4)) ||
	    !(g->rank = malloc(cnt)) || !(g->pred_off = malloc((cnt + 1) * 8))) {
		free(p);
		return &pyhs_enomem;
	}
	planes_to_words(g->root, p, cnt);
	planes_to_words(g->npreds, p + 4 * cnt, cnt);
	memcpy(g->rank, p + 8 * cnt, cnt);
	if (v->nlong && (err = block_longs(v, 1, k * v->block_objects, cnt, g->npreds, NULL, &g->lst))) {
		free(p);
		return err;
	}
	g->pred_off[0] = 0;
	for (uint64_t q = 0; q < cnt; q++)
		g->pred_off[q + 1] = g->pred_off[q] +
				     (g->lst && g->lst[q] != RAND_NONE ? 0 : g->npreds[q]);
	g->npred = g->pred_off[cnt];
	uint64_t at = cnt * RAND_GRAPH_RECORD;
	if (g->npred > (raw - at) / 8 || raw - at != 8 * g->npred) {
		free(p);
		return view_bad(v, "a block shorter than its records");
	}
	if (!(g->psrc = malloc(g->npred * 4 + 1)) || !(g->pedge = malloc(g->npred * 4 + 1))) {
		free(p);
		return &pyhs_enomem;
	}
	planes_to_words(g->psrc, p + at, g->npred);
	planes_to_words(g->pedge, p + at + 4 * g->npred, g->npred);
	free(p);
	return NULL;
}

static struct pyhs_error *block_decode(struct pyhs_snapshot_view *v, uint64_t k,
				       struct rand_block *b)
{
	uint8_t *p;
	uint64_t raw, cnt;
	struct pyhs_error *err = frame_load(v, k, 1, &p, &raw, &cnt);
	if (err)
		return err;
	b->cnt = cnt;
	if (!(b->recs = malloc(cnt * RAND_RECORD)) ||
	    !(b->edge_off = malloc((cnt + 1) * sizeof(uint64_t))) ||
	    !(b->text_off = malloc(cnt * sizeof(uint32_t))) ||
	    !(b->text_len = malloc(cnt * sizeof(uint32_t)))) {
		free(p);
		return &pyhs_enomem;
	}
	/* 64 records at a time, plane by plane: what is written stays in
	 * the cache until it is whole. */
	uint8_t *recs = b->recs;
	for (uint64_t q0 = 0; q0 < cnt; q0 += 64) {
		uint64_t q1 = q0 + 64 < cnt ? q0 + 64 : cnt;
		for (size_t f = 0; f < RAND_RECORD; f++) {
			const uint8_t *plane = p + f * cnt;
			for (uint64_t q = q0; q < q1; q++)
				recs[q * RAND_RECORD + f] = plane[q];
		}
	}
	if (v->nlong &&
	    (err = block_longs(v, 0, k * v->block_objects, cnt, NULL, b->recs, &b->lst))) {
		free(p);
		return err;
	}
	b->edge_off[0] = 0;
	for (uint64_t q = 0; q < cnt; q++)
		b->edge_off[q + 1] = b->edge_off[q] +
				     (b->lst && b->lst[q] != RAND_NONE ? 0 :
				      le32_get(b->recs + q * RAND_RECORD + 48));
	b->nedges = b->edge_off[cnt];
	uint64_t at = cnt * RAND_RECORD;
	if (b->nedges > (raw - at) / 8) {
		free(p);
		return view_bad(v, "a block shorter than its records");
	}
	if (!(b->edst = malloc(b->nedges * 4 + 1)) || !(b->elab = malloc(b->nedges * 4 + 1))) {
		free(p);
		return &pyhs_enomem;
	}
	planes_to_words(b->edst, p + at, b->nedges);
	at += 4 * b->nedges;
	planes_to_words(b->elab, p + at, b->nedges);
	at += 4 * b->nedges;
	uint64_t t0 = at;
	for (uint64_t q = 0; q < cnt; q++) {
		if (raw - at < 4)
			goto malformed;
		uint32_t len = le32_get(p + at);
		at += 4;
		b->text_off[q] = RAND_NONE;
		b->text_len[q] = 0;
		if (len == RAND_NONE)
			continue;
		if (len > raw - at || memchr(p + at, '\0', len))
			goto malformed;
		b->text_off[q] = (uint32_t)(at - t0);
		b->text_len[q] = len;
		at += len;
	}
	if (at != raw)
		goto malformed;
	if (!(b->text = malloc(raw - t0 + 1))) {
		free(p);
		return &pyhs_enomem;
	}
	if (raw > t0)
		memcpy(b->text, p + t0, raw - t0);
	free(p);
	return NULL;
malformed:
	free(p);
	return view_bad(v, "a malformed block");
}

/* Block k's references in, decoded the first time they are asked for
 * (again if they went). */
static struct pyhs_error *view_graph(struct pyhs_snapshot_view *v, uint64_t k,
				     const struct rand_graph **ret)
{
	struct rand_graph *g = v->graphs[k];
	if (g) {
		v->graph_used[k] = ++v->clock;
		*ret = g;
		return NULL;
	}
	if (v->ngraphs >= VIEW_GRAPHS) {
		uint64_t q = oldest(v->graph_used, v->nblocks);
		rand_graph_free(v->graphs[q]);
		v->graphs[q] = NULL;
		v->graph_used[q] = 0;
		v->ngraphs--;
	}
	if (!(g = calloc(1, sizeof(*g))))
		return &pyhs_enomem;
	struct pyhs_error *err = graph_decode(v, k, g);
	if (err) {
		rand_graph_free(g);
		return err;
	}
	v->graph_used[k] = ++v->clock;
	v->graphs[k] = g;
	v->ngraphs++;
	*ret = g;
	return NULL;
}

/* Block k's records, likewise. */
static struct pyhs_error *view_block(struct pyhs_snapshot_view *v, uint64_t k,
				     const struct rand_block **ret)
{
	struct rand_block *b = v->blocks[k];
	if (b) {
		v->block_used[k] = ++v->clock;
		*ret = b;
		return NULL;
	}
	if (v->nloaded >= VIEW_BLOCKS) {
		uint64_t q = oldest(v->block_used, v->nblocks);
		rand_block_free(v->blocks[q]);
		v->blocks[q] = NULL;
		v->block_used[q] = 0;
		v->nloaded--;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return &pyhs_enomem;
	struct pyhs_error *err = block_decode(v, k, b);
	if (err) {
		rand_block_free(b);
		return err;
	}
	v->block_used[k] = ++v->clock;
	v->blocks[k] = b;
	v->nloaded++;
	*ret = b;
	return NULL;
}

/* What paths need of object i: its first root (RAND_NONE: none), that
 * root's rank, its count of references in. */
static struct pyhs_error *view_node(struct pyhs_snapshot_view *v, uint64_t i,
				    uint32_t *ret_root, uint8_t *ret_rank, uint32_t *ret_npreds)
{
	if (i >= v->n)
		return view_bad(v, "an object out of range");
	const struct rand_graph *g = NULL;
	struct pyhs_error *err = view_graph(v, i / v->block_objects, &g);
	if (err)
		return err;
	uint64_t q = i % v->block_objects;
	uint32_t root = g->root[q];
	const struct pyhs_heap_parts *hp = &v->parts;
	if (g->rank[q] > 3 ||
	    (root != RAND_NONE && (root >= hp->nroots + v->n ||
				   (root < hp->nroots && hp->root_obj[root] != i))))
		return view_bad(v, "an object record out of range");
	*ret_root = root;
	*ret_rank = g->rank[q];
	*ret_npreds = g->npreds[q];
	return NULL;
}

/* Object i's record, checked against what the small sections say. */
static struct pyhs_error *view_rec(struct pyhs_snapshot_view *v, uint64_t i,
				   struct rand_rec *ret)
{
	struct rand_rec r = { .id = i };
	struct pyhs_error *err = view_node(v, i, &r.root, &r.rank, &r.npreds);
	if (err)
		return err;
	const struct rand_block *b = NULL;
	if ((err = view_block(v, i / v->block_objects, &b)))
		return err;
	const uint8_t *p = b->recs + (i % v->block_objects) * RAND_RECORD;
	r.size = le64_get(p);
	r.refcnt = le64_get(p + 8);
	r.retained = le64_get(p + 16);
	r.unexplained = le64_get(p + 24);
	r.hsrc = le32_get(p + 32);
	r.hj = le32_get(p + 36);
	r.type = le32_get(p + 40);
	r.idom = le32_get(p + 44);
	r.nedges = le32_get(p + 48);
	r.gen = p[52];
	r.flags = p[53];
	r.garbage = p[54];
	const struct pyhs_heap_parts *hp = &v->parts;
	bool ok = r.type < hp->ntypes && r.gen <= PYHS_GEN_UNTRACKED && r.garbage <= 1 &&
		  p[55] == 0 &&
		  (r.idom == PYHS_DOM_ROOT || r.idom == PYHS_DOM_NONE ||
		   (r.idom < v->n && r.idom != i)) &&
		  (r.hsrc == RAND_NONE ? r.hj == RAND_NONE || r.hj < hp->nroots + v->n :
		   r.hsrc < v->n);
	if (!ok)
		return view_bad(v, "an object record out of range");
	*ret = r;
	return NULL;
}

/* Object r's value text (*ret NULL: none). */
static struct pyhs_error *view_text(struct pyhs_snapshot_view *v, const struct rand_rec *r,
				    const char **ret, uint32_t *ret_len)
{
	const struct rand_block *b = NULL;
	struct pyhs_error *err = view_block(v, r->id / v->block_objects, &b);
	if (err)
		return err;
	uint64_t q = r->id % v->block_objects;
	*ret = b->text_off[q] == RAND_NONE ? NULL : b->text + b->text_off[q];
	*ret_len = b->text_len[q];
	return NULL;
}

/* Edge k of r: its target and label. */
static struct pyhs_error *view_edge(struct pyhs_snapshot_view *v,
				    const struct rand_rec *r, uint64_t k,
				    uint32_t *ret_dst, uint32_t *ret_label)
{
	const struct rand_block *b = NULL;
	struct pyhs_error *err = view_block(v, r->id / v->block_objects, &b);
	if (err)
		return err;
	uint64_t q = r->id % v->block_objects;
	uint32_t z, label;
	if (k >= r->nedges)
		return view_bad(v, "a reference out of range");
	if (b->lst && b->lst[q] != RAND_NONE) {
		if ((err = view_long(v, b->lst[q], k, &z, &label)))
			return err;
	} else {
		z = b->edst[b->edge_off[q] + k];
		label = b->elab[b->edge_off[q] + k];
	}
	uint64_t dst = r->id + unzigzag(z);
	if (dst >= v->n)
		return view_bad(v, "a reference out of range");
	*ret_dst = (uint32_t)dst;
	*ret_label = label;
	return NULL;
}

/* Reference k into object i (of npreds): its source and its number among
 * the source's references. */
static struct pyhs_error *view_pred(struct pyhs_snapshot_view *v, uint64_t i, uint32_t npreds,
				    uint64_t k, uint32_t *ret_src, uint32_t *ret_j)
{
	const struct rand_graph *g = NULL;
	struct pyhs_error *err = view_graph(v, i / v->block_objects, &g);
	if (err)
		return err;
	uint64_t q = i % v->block_objects;
	uint32_t z, j;
	if (k >= npreds || npreds != g->npreds[q])
		return view_bad(v, "a reference out of range");
	if (g->lst && g->lst[q] != RAND_NONE) {
		if ((err = view_long(v, g->lst[q], k, &z, &j)))
			return err;
	} else {
		z = g->psrc[g->pred_off[q] + k];
		j = g->pedge[g->pred_off[q] + k];
	}
	uint64_t src = i + unzigzag(z);
	if (src >= v->n)
		return view_bad(v, "a reference out of range");
	*ret_src = (uint32_t)src;
	*ret_j = j;
	return NULL;
}

/* That reference j of src leads to dst (a section that lies about one is
 * refused). */
static struct pyhs_error *view_check_ref(struct pyhs_snapshot_view *v, uint32_t src,
					 uint32_t j, uint32_t dst, bool *ret_weak)
{
	struct rand_rec s;
	uint32_t d = 0, l = 0;
	struct pyhs_error *err = view_rec(v, src, &s);
	if (!err && (j & ~RAND_WEAK) >= s.nedges)
		err = view_bad(v, "a reference out of range");
	if (!err)
		err = view_edge(v, &s, j & ~RAND_WEAK, &d, &l);
	if (!err && (d != dst || (PYHS_LABEL_KIND(l) == PYHS_LABEL_WEAK) != !!(j & RAND_WEAK)))
		err = view_bad(v, "references that do not match");
	if (!err && ret_weak)
		*ret_weak = j & RAND_WEAK;
	return err;
}

void pyhs_snapshot_view_destroy(struct pyhs_snapshot_view *v)
{
	if (!v)
		return;
	for (uint64_t k = 0; v->blocks && k < v->nblocks; k++)
		rand_block_free(v->blocks[k]);
	for (uint64_t k = 0; v->graphs && k < v->nblocks; k++)
		rand_graph_free(v->graphs[k]);
	free(v->blocks);
	free(v->graphs);
	free(v->block_used);
	free(v->graph_used);
	for (size_t q = 0; q < VIEW_CHUNKS; q++) {
		free(v->chunks[q].a);
		free(v->chunks[q].b);
	}
	free(v->long_chunk);
	free(v->path);
	free(v->addr_raw);
	free(v->sec);
	reader_close(&v->r);
	free(v);
}

/* The long lists' entries and their chunks' places, checked: each
 * list's object in range, in order of direction and object, no more
 * references in a direction than the file has, every place inside the
 * section (the chunks themselves are checked as they are read). */
static struct pyhs_error *view_open_longs(struct pyhs_snapshot_view *v)
{
	v->chunk_refs = le32_get(v->sec + 24);
	v->nlong = le32_get(v->sec + 28);
	uint64_t left = v->sec_size - v->base;
	if (!v->chunk_refs || v->chunk_refs > RAND_MAX_CHUNK || !v->nlong ||
	    v->nlong > left / RAND_LONG_ENTRY)
		return view_bad(v, "a head that does not fit the file");
	v->longs = v->sec + v->base;
	left -= v->nlong * RAND_LONG_ENTRY;
	if (!(v->long_chunk = malloc((v->nlong + 1) * sizeof(*v->long_chunk))))
		return &pyhs_enomem;
	uint64_t total = 0, refs[2] = { 0, 0 }, prev = 0;
	for (uint64_t k = 0; k < v->nlong; k++) {
		const uint8_t *e = v->longs + k * RAND_LONG_ENTRY;
		uint64_t obj = le32_get(e), dir = le32_get(e + 4), count = le32_get(e + 8);
		uint64_t key = dir << 32 | obj;
		if (obj >= v->n || dir > 1 || !count || (k && key <= prev) ||
		    (refs[dir] += count) > v->r.nedges)
			return view_bad(v, "long lists that do not fit the file");
		prev = key;
		v->long_chunk[k] = total;
		total += (count + v->chunk_refs - 1) / v->chunk_refs;
	}
	v->long_chunk[v->nlong] = total;
	if (total > left / RAND_CHUNK_ENTRY)
		return view_bad(v, "long lists that do not fit the file");
	v->nchunks = total;
	v->chunk_dir = v->longs + v->nlong * RAND_LONG_ENTRY;
	v->base += v->nlong * RAND_LONG_ENTRY + total * RAND_CHUNK_ENTRY;
	return NULL;
}

const struct pyhs_heap_meta *pyhs_snapshot_view_meta(const struct pyhs_snapshot_view *v)
{
	return &v->parts.meta;
}

struct pyhs_error *pyhs_snapshot_view_open(const char *path, struct pyhs_snapshot_view **ret)
{
	*ret = NULL;
	struct pyhs_snapshot_view *v = calloc(1, sizeof(*v));
	/* A view outlives its caller's path (the cache's entries). */
	char *copy = strdup(path);
	if (!v || !copy) {
		free(v);
		free(copy);
		return &pyhs_enomem;
	}
	struct pyhs_error *err = reader_open(&v->r, copy);
	if (err) {
		free(v);
		free(copy);
		return err;
	}
	v->path = copy;
	struct reader *r = &v->r;
	struct cur c;
	if ((err = read_header(r)) || (err = check_all(r)))
		goto fail;
	if (!r->sec[S_RAND].present || !r->sec[S_INDX].present ||
	    r->version != PYHS_SNAPSHOT_VERSION)
		goto fail; /* no records: NULL */
	if ((err = read_meta(r, &v->parts)) || (err = read_small_sections(r, &v->parts)))
		goto fail;
	v->n = r->nobjects;
	if ((err = load_section(r, S_ADDR, &c)))
		goto fail;
	v->addr_raw = r->raw;
	v->addr_size = r->sec[S_ADDR].raw;
	r->raw = NULL;
	if ((err = load_section(r, S_RAND, &c)))
		goto fail;
	v->sec = r->raw;
	v->sec_size = r->sec[S_RAND].raw;
	r->raw = NULL;
	if (v->sec_size < RAND_HEAD) {
		err = view_bad(v, "a truncated head");
		goto fail;
	}
	/* Records of these very sections: else the whole heap is read. */
	uint8_t sums[NSECTIONS * 8];
	size_t nsums = 0;
	for (int sec = 0; sec < NSECTIONS; sec++)
		if (rand_binds((enum section)sec) && r->sec[sec].present)
			le64_put(sums + 8 * nsums++, r->sec[sec].hash);
	if (le64_get(v->sec + 16) != pyhs_xxh64(sums, 8 * nsums)) {
		err = view_bad(v, "records of other sections");
		goto fail;
	}
	v->block_objects = le32_get(v->sec) & ~RAND_LONG;
	v->nblocks = le32_get(v->sec + 4);
	bool longs = le32_get(v->sec) & RAND_LONG;
	uint64_t head = longs ? RAND_LONG_HEAD : RAND_HEAD;
	if (!v->block_objects || v->block_objects > (UINT64_C(1) << 20) ||
	    le64_get(v->sec + 8) != v->n || !v->n || v->n >= RAND_WEAK ||
	    r->nedges >= RAND_WEAK || v->sec_size < head ||
	    v->nblocks != (v->n + v->block_objects - 1) / v->block_objects ||
	    v->nblocks > (v->sec_size - head) / RAND_DIR_ENTRY) {
		err = view_bad(v, "a head that does not fit the file");
		goto fail;
	}
	v->base = head + v->nblocks * RAND_DIR_ENTRY;
	for (size_t q = 0; q < VIEW_CHUNKS; q++)
		v->chunks[q].id = UINT64_MAX;
	if (longs && (err = view_open_longs(v)))
		goto fail;
	if (!(v->blocks = calloc(v->nblocks, sizeof(*v->blocks))) ||
	    !(v->graphs = calloc(v->nblocks, sizeof(*v->graphs))) ||
	    !(v->block_used = calloc(v->nblocks, sizeof(*v->block_used))) ||
	    !(v->graph_used = calloc(v->nblocks, sizeof(*v->graph_used)))) {
		err = &pyhs_enomem;
		goto fail;
	}
	*ret = v;
	return NULL;
fail:
	pyhs_snapshot_view_destroy(v);
	return err;
}

/* ---- the objects an answer needs, as a heap of their own ---- */

/* Object numbers (below n) to u64 values: arrays over every number,
 * made on first use, whose pages only the numbers used touch. */
struct idmap {
	uint64_t n;
	uint64_t *val;
	uint8_t *has;
	uint64_t size;
};

/* The slot of k, NULL if absent. */
static uint64_t *idmap_get(const struct idmap *m, uint32_t k)
{
	return m->has && k < m->n && m->has[k] ? &m->val[k] : NULL;
}

/* Adds k with val if absent; *ret_new says whether it was. NULL: no
 * memory, or k not below n. */
static uint64_t *idmap_put(struct idmap *m, uint32_t k, uint64_t val, bool *ret_new)
{
	if (k >= m->n)
		return NULL;
	if (!m->has) {
		m->val = calloc(m->n, sizeof(*m->val));
		m->has = calloc(m->n, 1);
		if (!m->val || !m->has) {
			free(m->val);
			free(m->has);
			m->val = NULL;
			m->has = NULL;
			return NULL;
		}
	}
	bool fresh = !m->has[k];
	if (fresh) {
		m->has[k] = 1;
		m->val[k] = val;
		m->size++;
	}
	if (ret_new)
		*ret_new = fresh;
	return &m->val[k];
}

static void idmap_deinit(struct idmap *m)
{
	free(m->val);
	free(m->has);
}

static bool u32_push(uint32_t **a, uint64_t *n, uint64_t *cap, uint32_t v)
{
	if (*n == *cap) {
		uint64_t c = *cap ? *cap * 2 : 256;
		uint32_t *p = realloc(*a, c * sizeof(*p));
		if (!p)
			return false;
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = v;
	return true;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static bool label_names_object(uint32_t label)
{
	enum pyhs_label_kind k = PYHS_LABEL_KIND(label);
	return k == PYHS_LABEL_DICT_VALUE || k == PYHS_LABEL_ATTR || k == PYHS_LABEL_LOCAL;
}

/* What goes into a part of the heap: objects with all their references
 * (a reference to an object outside leads to one placeholder object), or
 * (chain) each object with only the one reference given for it, and the
 * keys with references that all lead to the placeholder. The members map
 * to how: 0 all references, j + 1 only reference j, PART_NO_EDGES none;
 * once made a heap, how << 32 | the new number. */
#define PART_NO_EDGES (UINT64_C(1) << 31)
struct part {
	struct idmap members;   /* object -> chain reference j + 1, or 0: all */
	uint32_t *list;
	uint64_t nlist, cap;
	bool chain;
	uint64_t nedges, ntext; /* what the members need, once closed */
};

static struct pyhs_error *part_add(struct part *p, uint32_t id, uint64_t how)
{
	bool fresh;
	uint64_t *s = idmap_put(&p->members, id, how, &fresh);
	if (!s)
		return &pyhs_enomem;
	if (fresh && !u32_push(&p->list, &p->nlist, &p->cap, id))
		return &pyhs_enomem;
	return NULL;
}

static void part_deinit(struct part *p)
{
	idmap_deinit(&p->members);
	free(p->list);
}

/* Adds the objects the labels of the members' references name (dict keys,
 * attribute and variable names: labels read them), and theirs, with all
 * their references. */
static struct pyhs_error *part_close(struct pyhs_snapshot_view *v, struct part *p)
{
	struct pyhs_error *err = NULL;
	if (p->nlist)
		qsort(p->list, p->nlist, sizeof(*p->list), cmp_u32);
	for (uint64_t k = 0; k < p->nlist && !err; k++) {
		struct rand_rec r;
		uint32_t id = p->list[k];
		uint64_t how = *idmap_get(&p->members, id);
		const char *text;
		uint32_t len;
		if ((err = view_rec(v, id, &r)) || (err = view_text(v, &r, &text, &len)))
			break;
		p->nedges += how == PART_NO_EDGES ? 0 : how ? 1 : r.nedges;
		p->ntext += text ? len + 1 : 0;
		for (uint64_t e = 0; e < r.nedges && !err; e++) {
			uint32_t d = 0, l = 0;
			if (how && e != how - 1)
				continue;
			if (!(err = view_edge(v, &r, e, &d, &l)) && label_names_object(l)) {
				uint32_t key = PYHS_LABEL_PAYLOAD(l);
				uint64_t *s = idmap_get(&p->members, key);
				if (p->chain && s && *s)
					/* a key that is a step of the chain: its
					 * other references are not in the part */
					err = pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
								"a chain through its own keys");
				else if (key >= v->n)
					err = view_bad(v, "a label out of range");
				else
					err = part_add(p, key, 0);
			}
		}
	}
	return err;
}

/* The part's objects as a heap, in object order, with a placeholder
 * last; roots: the named roots among them (with all_roots), or only
 * root (RAND_NONE: none). ret_new: each old object number's new. */
static struct pyhs_error *part_heap(struct pyhs_snapshot_view *v, struct part *p,
				    bool all_roots, uint32_t root, struct pyhs_heap **ret)
{
	struct pyhs_error *err = NULL;
	if (p->nlist)
		qsort(p->list, p->nlist, sizeof(*p->list), cmp_u32);
	uint64_t ns = p->nlist, n1 = ns + 1;
	for (uint64_t k = 0; k < ns; k++)
		*idmap_get(&p->members, p->list[k]) = (*idmap_get(&p->members, p->list[k]) << 32) | k;
	struct pyhs_heap_parts parts = v->parts;
	struct pyhs_heap_columns *c = &parts.columns;
	memset(c, 0, sizeof(*c));
	c->nobjects = n1;
	uint64_t nedges = p->nedges, ntext = p->ntext;
	struct rand_rec r;
	if (ntext >= UINT32_MAX)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED, "too much text");
	if (nedges >= UINT32_MAX)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED, "too many references");
	uint32_t *robj = NULL;
	struct pyhs_root_info *rinfo = NULL;
	struct pyhs_frame_info *frames = NULL;
	c->addr = calloc(n1, sizeof(*c->addr));
	c->type = calloc(n1, sizeof(*c->type));
	c->size = calloc(n1, sizeof(*c->size));
	c->refcnt = calloc(n1, sizeof(*c->refcnt));
	c->gen = calloc(n1, 1);
	c->flags = calloc(n1, 1);
	c->value_off = malloc(n1 * sizeof(*c->value_off));
	c->edge_start = malloc((n1 + 1) * sizeof(*c->edge_start));
	c->edge_dst = malloc((nedges + 1) * sizeof(*c->edge_dst));
	c->edge_label = malloc((nedges + 1) * sizeof(*c->edge_label));
	c->value_text = malloc(ntext + 1);
	robj = malloc((v->parts.nroots + 1) * sizeof(*robj));
	rinfo = malloc((v->parts.nroots + 1) * sizeof(*rinfo));
	frames = malloc((v->parts.nframes + 1) * sizeof(*frames));
	if (!c->addr || !c->type || !c->size || !c->refcnt || !c->gen || !c->flags ||
	    !c->value_off || !c->edge_start || !c->edge_dst || !c->edge_label ||
	    !c->value_text || !robj || !rinfo || !frames) {
		err = &pyhs_enomem;
		goto out;
	}
	c->value_off[ns] = UINT32_MAX;
	c->gen[ns] = PYHS_GEN_UNTRACKED;
	/* Addresses: one pass over ADDR, the members being in order. */
	{
		struct cur a = { v->addr_raw, v->addr_raw + v->addr_size, false };
		unsigned shift = get_u8(&a);
		uint64_t prev = 0, k = 0;
		if (shift > 63)
			a.bad = true;
		for (uint64_t i = 0; i < v->n && k < ns && !a.bad; i++) {
			prev += unzigzag(get_varint(&a));
			if (i == p->list[k])
				c->addr[k++] = prev << shift;
		}
		if (a.bad || k < ns) {
			err = bad(&v->r, "truncated or malformed data in section %s",
				  pyhs_snapshot_sections[S_ADDR].name);
			goto out;
		}
	}
	uint64_t e = 0, t = 0;
	for (uint64_t k = 0; k < ns && !err; k++) {
		uint64_t how = *idmap_get(&p->members, p->list[k]) >> 32;
		const char *text;
		uint32_t len;
		if ((err = view_rec(v, p->list[k], &r)) || (err = view_text(v, &r, &text, &len)))
			break;
		c->type[k] = r.type;
		c->size[k] = r.size;
		c->refcnt[k] = r.refcnt;
		c->gen[k] = r.gen;
		c->flags[k] = r.flags;
		c->value_off[k] = UINT32_MAX;
		if (text && len >= ntext - t) {
			err = view_bad(v, "records that change");
			break;
		}
		if (text) {
			c->value_off[k] = (uint32_t)t;
			memcpy(c->value_text + t, text, len);
			t += len;
			c->value_text[t++] = '\0';
		}
		c->edge_start[k] = (uint32_t)e; /* below nedges */
		for (uint64_t j = 0; j < r.nedges && !err; j++) {
			uint32_t d = 0, l = 0;
			if (how && j != how - 1)
				continue;
			if (e == nedges) {
				err = view_bad(v, "records that change");
				break;
			}
			if ((err = view_edge(v, &r, j, &d, &l)))
				break;
			/* A key's references in a chain lead out of it. */
			uint64_t *s = p->chain && !how ? NULL : idmap_get(&p->members, d);
			c->edge_dst[e] = s ? (uint32_t)*s : (uint32_t)ns;
			if (label_names_object(l)) {
				uint64_t *ks = idmap_get(&p->members, PYHS_LABEL_PAYLOAD(l));
				if (!ks) {
					err = view_bad(v, "a label out of range");
					break;
				}
				l = PYHS_LABEL(PYHS_LABEL_KIND(l), (uint32_t)*ks);
			}
			c->edge_label[e++] = l;
		}
	}
	if (err)
		goto out;
	c->edge_start[ns] = c->edge_start[n1] = (uint32_t)e;
	c->nedges = e;
	c->value_text_size = t;
	uint64_t nr = 0;
	for (uint64_t k = 0; k < v->parts.nroots; k++) {
		uint64_t *s = idmap_get(&p->members, v->parts.root_obj[k]);
		if (!s || (!all_roots && k != root))
			continue;
		robj[nr] = (uint32_t)*s;
		rinfo[nr++] = v->parts.roots[k];
	}
	for (uint32_t f = 0; f < v->parts.nframes; f++) {
		frames[f] = v->parts.frames[f];
		uint64_t *s = frames[f].code != UINT32_MAX ?
				      idmap_get(&p->members, frames[f].code) : NULL;
		frames[f].code = s ? (uint32_t)*s : UINT32_MAX;
	}
	parts.nroots = nr;
	parts.root_obj = robj;
	parts.roots = rinfo;
	parts.frames = frames;
	parts.nasync = 0;
	parts.async = NULL;
	if ((err = pyhs_heap_assemble(&parts, ret)))
		err = pyhs_error_wrap(err, "cannot read snapshot '%s': in section %s", v->r.path,
				      pyhs_snapshot_sections[S_RAND].name);
	else
		memset(c, 0, sizeof(*c));
out:
	free_columns(c);
	free(robj);
	free(rinfo);
	free(frames);
	return err;
}

/* The new number of old object i in a part made a heap. */
static uint32_t part_id(const struct part *p, uint32_t i)
{
	return (uint32_t)(*idmap_get(&p->members, i) & UINT32_MAX);
}

/* The holder name of object i (pyhs_holders_name over the whole heap),
 * from its chain of holders alone: a heap of the chain's objects, each
 * with only its reference to the next, and the keys their labels name,
 * whose one root or object held by C code is the chain's top. */
static struct pyhs_error *view_holder(struct pyhs_snapshot_view *v, uint32_t i,
				      char *buf, size_t n)
{
	struct part p = { .members.n = v->n, .chain = true };
	struct pyhs_error *err = part_add(&p, i, PART_NO_EDGES);
	uint32_t cur = i, top_root = RAND_NONE;
	struct rand_rec r;
	while (!err && !(err = view_rec(v, cur, &r))) {
		if (r.hsrc == RAND_NONE) {
			top_root = r.hj;
			break;
		}
		if (r.hj & RAND_WEAK) {
			err = view_bad(v, "a holder by a weak reference");
			break;
		}
		if ((err = view_check_ref(v, r.hsrc, r.hj, cur, NULL)))
			break;
		bool fresh;
		uint64_t *s = idmap_put(&p.members, r.hsrc, (uint64_t)r.hj + 1, &fresh);
		if (!s) {
			err = &pyhs_enomem;
			break;
		}
		if (!fresh) {
			err = view_bad(v, "holders that loop");
			break;
		}
		if (!u32_push(&p.list, &p.nlist, &p.cap, r.hsrc)) {
			err = &pyhs_enomem;
			break;
		}
		cur = r.hsrc;
	}
	bool c_held = top_root != RAND_NONE && top_root >= v->parts.nroots;
	if (!err && top_root != RAND_NONE && !c_held && v->parts.root_obj[top_root] != cur)
		err = view_bad(v, "a holder root that is not its object's");
	if (!err)
		err = part_close(v, &p);
	struct pyhs_heap *h = NULL;
	struct pyhs_analysis *a = NULL;
	struct pyhs_holders *hs = NULL;
	if (!err)
		err = part_heap(v, &p, false, c_held ? RAND_NONE : top_root, &h);
	if (!err) {
		uint64_t hn = pyhs_heap_nobjects(h);
		struct pyhs_analysis_parts ap = {
			.c_roots = malloc(sizeof(uint32_t)),
			.nc_roots = c_held ? 1 : 0,
			.idom = malloc(hn * sizeof(uint32_t)),
			.unexplained = calloc(hn, sizeof(uint64_t)),
			.garbage = calloc(hn, 1),
		};
		if (!ap.c_roots || !ap.idom || !ap.unexplained || !ap.garbage) {
			err = &pyhs_enomem;
		} else {
			for (uint64_t k = 0; k < hn; k++)
				ap.idom[k] = PYHS_DOM_NONE;
			ap.c_roots[0] = part_id(&p, cur);
			err = pyhs_analysis_restore(h, &ap, &a);
		}
		if (err) {
			free(ap.c_roots);
			free(ap.idom);
			free(ap.unexplained);
			free(ap.garbage);
		}
	}
	if (!err)
		err = pyhs_holders_create(h, a, &hs);
	if (!err)
		pyhs_holders_name(hs, part_id(&p, i), buf, n);
	pyhs_holders_destroy(hs);
	pyhs_analysis_destroy(a);
	pyhs_heap_destroy(h);
	part_deinit(&p);
	return err;
}

/* A path the breadth-first search found: its root, and the objects from
 * its start to the target. */
struct view_path {
	uint32_t root;  /* the analysis's root number */
	uint8_t rank;
	uint32_t start;
};

void pyhs_object_view_destroy(struct pyhs_object_view *ov)
{
	if (!ov)
		return;
	pyhs_paths_free(ov->paths, ov->npaths);
	pyhs_heap_destroy(ov->heap);
	free(ov);
}

/* The object at addr: one pass over ADDR. */
static bool view_find(const struct pyhs_snapshot_view *v, uint64_t addr, uint32_t *ret)
{
	struct cur a = { v->addr_raw, v->addr_raw + v->addr_size, false };
	unsigned shift = get_u8(&a);
	uint64_t prev = 0;
	if (shift > 63)
		return false;
	for (uint64_t i = 0; i < v->n && !a.bad; i++) {
		prev += unzigzag(get_varint(&a));
		if (prev << shift == addr && (prev << shift) >> shift == prev) {
			*ret = (uint32_t)i;
			return true;
		}
	}
	return false;
}

struct pyhs_error *pyhs_snapshot_view_object(struct pyhs_snapshot_view *v, uint64_t addr,
					     unsigned flags, size_t max_paths,
					     struct pyhs_object_view **ret)
{
	uint32_t t;
	if (!view_find(v, addr, &t))
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND, "no object at 0x%" PRIx64, addr);
	struct pyhs_object_view *ov = calloc(1, sizeof(*ov));
	if (!ov)
		return &pyhs_enomem;
	struct part p = { .members.n = v->n };
	struct idmap via = { .n = v->n }; /* object -> (next object << 32 | reference) */
	uint32_t *queue = NULL;
	uint64_t head = 0, tail = 0, qcap = 0;
	struct view_path found[64];
	size_t nfound = 0, want = max_paths, gather = max_paths < 64 ? 64 : max_paths;
	if (gather > 64)
		gather = want = 64;
	struct rand_rec rt;
	struct pyhs_error *err = view_rec(v, t, &rt);
	/* Breadth-first from the target over the references into each
	 * object, strong ones only, as pyhs_analysis_paths searches. */
	if (!err && (!idmap_put(&via, t, UINT64_MAX, NULL) || !u32_push(&queue, &tail, &qcap, t)))
		err = &pyhs_enomem;
	while (!err && head < tail && nfound < gather) {
		uint32_t x = queue[head++], root, npreds;
		uint8_t rank;
		if ((err = view_node(v, x, &root, &rank, &npreds)))
			break;
		if (root != RAND_NONE)
			found[nfound++] = (struct view_path){ root, rank, x };
		for (uint64_t k = 0; k < npreds && !err; k++) {
			uint32_t u = 0, j = 0;
			bool fresh;
			if ((err = view_pred(v, x, npreds, k, &u, &j)) || (j & RAND_WEAK))
				continue;
			uint64_t *s = idmap_put(&via, u, (uint64_t)x << 32 | j, &fresh);
			if (!s)
				err = &pyhs_enomem;
			else if (fresh && !u32_push(&queue, &tail, &qcap, u))
				err = &pyhs_enomem;
		}
	}
	/* In the order of their roots' ranks, the first want of them. */
	struct view_path kept[64];
	size_t nkept = 0;
	for (uint8_t rank = 0; rank < 4 && !err; rank++)
		for (size_t k = 0; k < nfound && nkept < want; k++)
			if (found[k].rank == rank)
				kept[nkept++] = found[k];
	/* The objects the answer shows, with all their references. */
	if (!err)
		err = part_add(&p, t, 0);
	for (size_t k = 0; k < nkept && !err; k++) {
		for (uint32_t x = kept[k].start; x != t && !err;) {
			uint64_t s = *idmap_get(&via, x);
			if ((err = view_check_ref(v, x, (uint32_t)s, (uint32_t)(s >> 32), NULL)) ||
			    (err = part_add(&p, x, 0)))
				break;
			x = (uint32_t)(s >> 32);
		}
		if (!err && kept[k].root < v->parts.nroots &&
		    v->parts.root_obj[kept[k].root] != kept[k].start)
			err = view_bad(v, "a root that is not its object's");
	}
	/* The first references into it: (source, its reference's number). */
	uint32_t listed_src[PYHS_VIEW_LISTED], listed_j[PYHS_VIEW_LISTED];
	size_t nlisted = 0;
	if (!err && (flags & PYHS_VIEW_SHOW)) {
		uint64_t nout = rt.nedges, nin = rt.npreds;
		if ((flags & PYHS_VIEW_FIRST) && nout > PYHS_VIEW_LISTED)
			nout = PYHS_VIEW_LISTED;
		if ((flags & PYHS_VIEW_FIRST) && nin > PYHS_VIEW_LISTED)
			nin = PYHS_VIEW_LISTED;
		for (uint64_t k = 0; k < nout && !err; k++) {
			uint32_t d = 0, l = 0;
			if (!(err = view_edge(v, &rt, k, &d, &l)))
				err = part_add(&p, d, 0);
		}
		for (uint64_t k = 0; k < nin && !err; k++) {
			uint32_t u = 0, j = 0;
			if (!(err = view_pred(v, t, rt.npreds, k, &u, &j)) &&
			    !(err = view_check_ref(v, u, j, t, NULL)))
				err = part_add(&p, u, 0);
			if (!err && nlisted < PYHS_VIEW_LISTED) {
				listed_src[nlisted] = u;
				listed_j[nlisted++] = j & ~RAND_WEAK;
			}
		}
		if (!err && rt.idom < v->n)
			err = part_add(&p, rt.idom, 0);
	}
	if (!err)
		err = part_close(v, &p);
	if (!err)
		err = part_heap(v, &p, true, RAND_NONE, &ov->heap);
	if (!err && (flags & PYHS_VIEW_SHOW))
		err = view_holder(v, t, ov->holder, sizeof(ov->holder));
	if (!err && nkept && !(ov->paths = calloc(nkept, sizeof(*ov->paths))))
		err = &pyhs_enomem;
	/* The paths in the part's numbers. */
	for (size_t k = 0; k < nkept && !err; k++) {
		struct pyhs_path *pp = &ov->paths[k];
		uint64_t len = 0;
		for (uint32_t x = kept[k].start; x != t; x = (uint32_t)(*idmap_get(&via, x) >> 32))
			len++;
		if (!(pp->edges = malloc((len ? len : 1) * sizeof(*pp->edges)))) {
			err = &pyhs_enomem;
			break;
		}
		ov->npaths++;
		pp->c_held = kept[k].root >= v->parts.nroots;
		pp->root = 0;
		if (!pp->c_held) {
			/* The root's number among the part's roots. */
			for (uint64_t q = 0; q < kept[k].root; q++)
				if (idmap_get(&p.members, v->parts.root_obj[q]))
					pp->root++;
		}
		pp->start = part_id(&p, kept[k].start);
		pp->nedges = len;
		len = 0;
		for (uint32_t x = kept[k].start; x != t;) {
			uint64_t s = *idmap_get(&via, x);
			uint64_t b, e;
			pyhs_heap_edges(ov->heap, part_id(&p, x), &b, &e);
			pp->edges[len++] = b + (uint32_t)s;
			x = (uint32_t)(s >> 32);
		}
	}
	if (!err) {
		ov->obj = part_id(&p, t);
		ov->retained = rt.retained;
		ov->unexplained = rt.unexplained;
		ov->garbage = rt.garbage;
		ov->dom = rt.idom;
		if (rt.idom < v->n)
			ov->dom = flags & PYHS_VIEW_SHOW ? part_id(&p, rt.idom) : PYHS_DOM_NONE;
		ov->nreferrers = rt.npreds;
		for (size_t k = 0; k < nlisted; k++) {
			uint64_t b, e;
			uint32_t s = part_id(&p, listed_src[k]);
			pyhs_heap_edges(ov->heap, s, &b, &e);
			ov->referrers[k].obj = s;
			ov->referrers[k].edge = b + listed_j[k];
		}
		ov->nlisted = nlisted;
	}
	part_deinit(&p);
	idmap_deinit(&via);
	free(queue);
	if (err) {
		pyhs_object_view_destroy(ov);
		return err;
	}
	*ret = ov;
	return NULL;
}
