/* JSON-lines export: one header line, then one line per object. */
#include <errno.h>
#include <inttypes.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "common/jobs.h"
#include "formats.h"

/* Object i's line. */
static void object_line(const struct pyhs_heap *h, uint64_t i, FILE *out)
{
	char label[256];
	fprintf(out, "{\"addr\": %" PRIu64 ", \"type\": ", pyhs_heap_addr(h, i));
	pyhs_json_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
	unsigned flags = pyhs_heap_flags(h, i);
	fprintf(out, ", \"size\": %" PRIu64 ", \"refcnt\": %" PRIu64,
		pyhs_heap_size(h, i), pyhs_heap_refcnt(h, i));
	if (flags & PYHS_OBJ_SIZE_INEXACT)
		fputs(", \"size_exact\": false", out);
	if (flags & PYHS_OBJ_IMMORTAL)
		fputs(", \"immortal\": true", out);
	fputs(", \"gen\": ", out);
	pyhs_json_gen(out, pyhs_heap_gen(h, i));
	uint64_t b, e;
	pyhs_heap_edges(h, i, &b, &e);
	fputs(", \"refs\": [", out);
	for (uint64_t k = b; k < e; k++)
		fprintf(out, "%s%" PRIu64, k == b ? "" : ", ",
			pyhs_heap_addr(h, pyhs_heap_edge_dst(h, k)));
	fputs("], \"edges\": [", out);
	for (uint64_t k = b; k < e; k++) {
		if (k != b)
			fputs(", ", out);
		if (pyhs_heap_format_label(h, pyhs_heap_edge_label(h, k),
					   label, sizeof(label)))
			pyhs_json_string(out, label);
		else
			fputs("null", out);
	}
	fputs("]}\n", out);
}

/* Objects a thread formats at a time, and the chunks formatted before
 * they are written, per thread. */
#define CHUNK_OBJECTS 4096
#define CHUNKS_PER_JOB 2

/* A chunk's text, in a buffer kept from one batch to the next. */
struct chunk {
	char *text;
	size_t len, cap;
	bool oom;
};

static ssize_t chunk_write(void *cookie, const char *src, size_t n)
{
	struct chunk *c = cookie;
	if (c->cap - c->len < n) {
		size_t cap = c->cap ? c->cap : 65536;
		while (cap - c->len < n)
			cap *= 2;
		char *t = realloc(c->text, cap);
		if (!t) {
			c->oom = true;
			return -1;
		}
		c->text = t;
		c->cap = cap;
	}
	memcpy(c->text + c->len, src, n);
	c->len += n;
	return (ssize_t)n;
}

struct chunks {
	const struct pyhs_heap *h;
	int gen;
	uint64_t n;
	uint64_t first; /* the batch's first chunk */
	struct chunk chunk[PYHS_JOBS_MAX * CHUNKS_PER_JOB];
};

static struct pyhs_error *format_chunk(void *ctx, size_t k)
{
	struct chunks *c = ctx;
	struct chunk *ch = &c->chunk[k];
	ch->len = 0;
	FILE *f = fopencookie(ch, "w", (cookie_io_functions_t){ .write = chunk_write });
	if (!f)
		return &pyhs_enomem;
	/* Only this thread writes it: no lock per character (stdio takes one
	 * on every call once a process has threads). */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	uint64_t i0 = (c->first + k) * CHUNK_OBJECTS;
	uint64_t i1 = i0 + CHUNK_OBJECTS < c->n ? i0 + CHUNK_OBJECTS : c->n;
	for (uint64_t i = i0; i < i1; i++)
		if (c->gen < 0 || (int)pyhs_heap_gen(c->h, i) == c->gen)
			object_line(c->h, i, f);
	bool failed = ferror(f);
	if (fclose(f) != 0 || failed || ch->oom)
		return &pyhs_enomem;
	return NULL;
}

/* The object lines, formatted in chunks on the heap's jobs and written in
 * object order: the same bytes as one thread writes. */
static struct pyhs_error *object_lines(const struct pyhs_heap *h, int gen, FILE *out)
{
	uint64_t n = pyhs_heap_nobjects(h);
	unsigned jobs = pyhs_heap_jobs(h);
	if (jobs <= 1 || n <= CHUNK_OBJECTS) {
		for (uint64_t i = 0; i < n && !ferror(out); i++)
			if (gen < 0 || (int)pyhs_heap_gen(h, i) == gen)
				object_line(h, i, out);
		return NULL;
	}
	if (jobs > PYHS_JOBS_MAX)
		jobs = PYHS_JOBS_MAX;
	struct chunks *c = calloc(1, sizeof(*c));
	if (!c)
		return &pyhs_enomem;
	c->h = h;
	c->gen = gen;
	c->n = n;
	uint64_t nchunks = (n + CHUNK_OBJECTS - 1) / CHUNK_OBJECTS;
	struct pyhs_error *err = NULL;
	for (c->first = 0; c->first < nchunks && !err && !ferror(out);) {
		uint64_t batch = nchunks - c->first;
		if (batch > (uint64_t)jobs * CHUNKS_PER_JOB)
			batch = (uint64_t)jobs * CHUNKS_PER_JOB;
		err = pyhs_jobs_run(jobs, batch, format_chunk, c, NULL);
		for (uint64_t k = 0; k < batch && !err; k++)
			fwrite(c->chunk[k].text, 1, c->chunk[k].len, out);
		c->first += batch;
	}
	for (size_t k = 0; k < sizeof(c->chunk) / sizeof(c->chunk[0]); k++)
		free(c->chunk[k].text);
	free(c);
	return err;
}

struct pyhs_error *pyhs_export_jsonl(const struct pyhs_heap *h, FILE *out)
{
	return pyhs_export_jsonl_gen(h, -1, out);
}

struct pyhs_error *pyhs_export_jsonl_gen(const struct pyhs_heap *h, int gen,
					 FILE *out)
{
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	uint32_t v = m->hexversion;
	fprintf(out, "{\"format\": \"%s\", \"format_version\": %d, \"version\": ",
		PYHS_JSONL_FORMAT, PYHS_JSONL_VERSION);
	pyhs_json_string(out, m->version);
	fprintf(out, ", \"hexversion\": %" PRIu32 ", \"executable\": ", v);
	pyhs_json_string(out, m->executable);
	uint64_t n = pyhs_heap_nobjects(h), lines = 0;
	for (uint64_t i = 0; i < n; i++)
		lines += gen < 0 || (int)pyhs_heap_gen(h, i) == gen;
	uint64_t nroots = 0;
	for (uint64_t r = 0; r < pyhs_heap_nroots(h); r++)
		nroots += gen < 0 || (int)pyhs_heap_gen(h, pyhs_heap_root_object(h, r)) == gen;
	/* "objects" lines follow, then "roots" lines. */
	fprintf(out, ", \"pid\": %d, \"objects\": %" PRIu64 ", \"roots\": %" PRIu64 "}\n",
		m->pid, lines, nroots);
	struct pyhs_error *err = object_lines(h, gen, out);
	if (err)
		return err;
	for (uint64_t r = 0; r < pyhs_heap_nroots(h) && !ferror(out); r++) {
		uint32_t o = pyhs_heap_root_object(h, r);
		if (gen >= 0 && (int)pyhs_heap_gen(h, o) != gen)
			continue;
		fputs("{\"root\": ", out);
		pyhs_json_string(out, pyhs_heap_root_label(h, r));
		fprintf(out, ", \"object\": %" PRIu64 ", \"owned\": %s}\n", pyhs_heap_addr(h, o),
			pyhs_heap_root_holds_ref(h, r) ? "true" : "false");
	}
	if (fflush(out) != 0 || ferror(out))
		return pyhs_error_os(errno ? errno : EIO, "cannot write the export");
	return NULL;
}
