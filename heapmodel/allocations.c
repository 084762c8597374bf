/*
 * Allocation sites: the traces tracemalloc keeps, read out of the
 * interpreter.
 *
 * tracemalloc maps every block it saw allocated to a trace (size and
 * traceback) in _Py_hashtable_t tables: tracemalloc_traces for the default
 * domain and tracemalloc_domains (3.9+) mapping each other domain to its
 * own table. A table is nbuckets singly linked chains of entries. In 3.8
 * an entry holds its key and value inline after its header (key_size says
 * how long the key is: a pointer, or pointer and domain once a second
 * domain was used); from 3.9 it points to them, and the value is a
 * malloc'd trace_t. Tracebacks are shared and hold up to 65535 frames of
 * (filename str, line number), most recent first.
 *
 * The state is the statics of Modules/_tracemalloc.c up to 3.11 (found by
 * symbol) and _PyRuntime.tracemalloc from 3.12.
 */
#include <inttypes.h>
#include <stdio.h>

#include "common/format.h"
#include "heap_internal.h"


#define MAX_BUCKETS (UINT64_C(1) << 28)
#define MAX_FRAMES 65535
#define MAX_FILENAME 4096

struct tb {
	uint32_t first; /* index into frames */
	uint32_t nframes;
};
DEFINE_VECTOR(tb_vector, struct tb)
struct frame {
	uint32_t file; /* index into files */
	uint32_t line;
};
DEFINE_VECTOR(frame_vector, struct frame)
DEFINE_VECTOR(trace_vector, struct pyhs_trace)
DEFINE_VECTOR(stat_vector, struct pyhs_allocation_stat)

struct pyhs_allocations {
	enum pyhs_allocations_status status;
	char missing[200];
	uint64_t nwarnings;
	char warning[200];
	int max_frames;
	struct trace_vector traces; /* sorted by address once read */
	struct tb_vector tbs;
	struct frame_vector frames;
	struct pyhs_str_vector files;
	struct pyhs_addr_u32_map tb_by_addr;
	struct pyhs_addr_u32_map file_by_addr;
	/* Restored from a snapshot: no traces, their totals and each
	 * traceback's (tbs[i]) bytes and count instead. */
	bool summary;
	uint64_t summary_traces, summary_bytes;
	struct stat_vector tb_stats;
	struct pyhs_string_map file_by_name;
	/* while reading */
	const struct pyhs_target *t;
	const struct pyhs_layout *L;
};

/* Counts a warning of the result x, keeping the first's text. */
#define warn(x, ...) \
	pyhs_warning_count(&(x)->nwarnings, (x)->warning, sizeof((x)->warning), __VA_ARGS__)

static bool rd(const struct pyhs_allocations *a, uint64_t addr, int32_t off,
	       void *buf, size_t len)
{
	return off >= 0 && pyhs_target_read(a->t, addr + (uint64_t)off, buf, len);
}

/* A frame's file name: a str object, or from 3.15 on a C string. */
static bool read_file_name(const struct pyhs_allocations *a, uint64_t addr,
			   char *buf, size_t n)
{
	if (((pyhs_target_py_version(a->t) >> 16) & 0xff) < 15)
		return pyhs_read_str_at(a->t, a->L, addr, buf, n);
	size_t i = 0;
	while (i + 1 < n && pyhs_target_read(a->t, addr + i, &buf[i], 1) && buf[i])
		i++;
	if (i + 1 < n && buf[i])
		return false; /* unreadable before its end */
	buf[i] = '\0';
	return addr != 0;
}

static struct pyhs_error *file_id(struct pyhs_allocations *a, uint64_t str,
				  uint32_t *ret)
{
	bool inserted;
	uint32_t *id = pyhs_addr_u32_map_insert(&a->file_by_addr, str, &inserted);
	if (!id)
		return &pyhs_enomem;
	if (inserted) {
		char buf[MAX_FILENAME];
		if (!read_file_name(a, str, buf, sizeof(buf))) {
			warn(a, "a traceback's file name at 0x%" PRIx64 " is not a readable str", str);
			snprintf(buf, sizeof(buf), "<unreadable 0x%" PRIx64 ">", str);
		}
		char *copy = strdup(buf);
		if (!copy || !pyhs_str_vector_append(&a->files, copy)) {
			free(copy);
			return &pyhs_enomem;
		}
		*id = (uint32_t)(a->files.size - 1);
	}
	*ret = *id;
	return NULL;
}

/* The index of the traceback at addr, read on first sight. */
static struct pyhs_error *traceback_id(struct pyhs_allocations *a, uint64_t addr,
				       uint32_t *ret)
{
	const struct pyhs_layout *L = a->L;
	uint32_t *known = pyhs_addr_u32_map_search(&a->tb_by_addr, addr);
	if (known) {
		*ret = *known;
		return NULL;
	}
	uint32_t nframe = 0;
	uint16_t n16;
	if (L->traceback_total_nframe >= 0) {
		/* 3.9+: uint16_t nframe */
		if (rd(a, addr, L->traceback_nframe, &n16, 2))
			nframe = n16;
		else
			warn(a, "traceback at 0x%" PRIx64 " is unreadable", addr);
	} else if (!rd(a, addr, L->traceback_nframe, &nframe, 4)) {
		warn(a, "traceback at 0x%" PRIx64 " is unreadable", addr);
	}
	if (nframe > MAX_FRAMES) {
		warn(a, "traceback at 0x%" PRIx64 " claims %" PRIu32 " frames", addr, nframe);
		nframe = 0;
	}
	struct tb tb = { (uint32_t)a->frames.size, 0 };
	for (uint32_t k = 0; k < nframe; k++) {
		uint64_t f = addr + (uint64_t)L->traceback_frames +
			     (uint64_t)k * (uint64_t)L->frame_t_size;
		uint64_t filename;
		uint32_t line;
		if (!rd(a, f, L->frame_t_filename, &filename, 8) ||
		    !rd(a, f, L->frame_t_lineno, &line, 4)) {
			warn(a, "frame %" PRIu32 " of the traceback at 0x%" PRIx64 " is unreadable",
			     k, addr);
			break;
		}
		struct frame fr = { 0, line };
		struct pyhs_error *err = file_id(a, filename, &fr.file);
		if (err)
			return err;
		if (!frame_vector_append(&a->frames, fr))
			return &pyhs_enomem;
		tb.nframes++;
	}
	if (!tb_vector_append(&a->tbs, tb))
		return &pyhs_enomem;
	uint32_t id = (uint32_t)(a->tbs.size - 1);
	bool inserted;
	uint32_t *slot = pyhs_addr_u32_map_insert(&a->tb_by_addr, addr, &inserted);
	if (!slot)
		return &pyhs_enomem;
	*slot = id;
	*ret = id;
	return NULL;
}

/* One trace: its block's address, and its trace_t (size, traceback). */
static struct pyhs_error *add_trace(struct pyhs_allocations *a, uint64_t ptr,
				    uint32_t domain, uint64_t trace)
{
	uint64_t size, tb;
	if (!rd(a, trace, a->L->trace_size, &size, 8) ||
	    !rd(a, trace, a->L->trace_traceback, &tb, 8)) {
		warn(a, "the trace of 0x%" PRIx64 " at 0x%" PRIx64 " is unreadable", ptr, trace);
		return NULL;
	}
	struct pyhs_trace tr = { ptr, size, domain, 0 };
	struct pyhs_error *err = traceback_id(a, tb, &tr.traceback);
	if (err)
		return err;
	if (!trace_vector_append(&a->traces, tr))
		return &pyhs_enomem;
	return NULL;
}

/* Calls fn for every entry of the table at table; bounded by its own
 * counts (a chain longer than the table's entries loops). */
typedef struct pyhs_error *(*entry_fn)(struct pyhs_allocations *a, uint64_t entry,
				       uint64_t key_size, void *arg);

static struct pyhs_error *walk_table(struct pyhs_allocations *a, uint64_t table,
				     const char *what, entry_fn fn, void *arg)
{
	const struct pyhs_layout *L = a->L;
	uint64_t nentries, nbuckets, buckets, key_size = 0;
	if (!rd(a, table, L->hashtable_nentries, &nentries, 8) ||
	    !rd(a, table, L->hashtable_nbuckets, &nbuckets, 8) ||
	    !rd(a, table, L->hashtable_buckets, &buckets, 8) ||
	    (L->hashtable_key_size >= 0 &&
	     !rd(a, table, L->hashtable_key_size, &key_size, 8))) {
		warn(a, "the %s table at 0x%" PRIx64 " is unreadable", what, table);
		return NULL;
	}
	if (nbuckets > MAX_BUCKETS || nentries > nbuckets * 64 + 1024 ||
	    (L->hashtable_key_size >= 0 && (key_size < 8 || key_size > 32))) {
		warn(a, "the %s table at 0x%" PRIx64 " claims %" PRIu64 " entries in %" PRIu64 " buckets",
		     what, table, nentries, nbuckets);
		return NULL;
	}
	uint64_t seen = 0;
	for (uint64_t b = 0; b < nbuckets; b++) {
		uint64_t e;
		if (!pyhs_target_read_u64(a->t, buckets + 8 * b, &e)) {
			warn(a, "bucket %" PRIu64 " of the %s table is unreadable", b, what);
			return NULL;
		}
		while (e) {
			if (++seen > nentries) {
				warn(a, "the %s table holds more entries than its count of %" PRIu64
				     " (a chain loops)", what, nentries);
				return NULL;
			}
			struct pyhs_error *err = fn(a, e, key_size, arg);
			if (err)
				return err;
			if (!pyhs_target_read_u64(a->t, e, &e)) {
				warn(a, "an entry of the %s table is unreadable", what);
				break;
			}
		}
	}
	if (seen != nentries)
		warn(a, "the %s table counts %" PRIu64 " entries; %" PRIu64 " were found",
		     what, nentries, seen);
	return NULL;
}

/* An entry of a traces table: 3.8 keeps the key (pointer, and domain if
 * key_size says so) and the trace_t inline; 3.9+ point to the trace_t. */
static struct pyhs_error *trace_entry(struct pyhs_allocations *a, uint64_t e,
				      uint64_t key_size, void *arg)
{
	const struct pyhs_layout *L = a->L;
	uint32_t domain = *(const uint32_t *)arg;
	uint64_t ptr, trace;
	if (L->hashtable_entry_key >= 0) {
		if (!rd(a, e, L->hashtable_entry_key, &ptr, 8) ||
		    !rd(a, e, L->hashtable_entry_value, &trace, 8)) {
			warn(a, "a trace entry at 0x%" PRIx64 " is unreadable", e);
			return NULL;
		}
	} else {
		uint64_t key = e + (uint64_t)L->hashtable_entry_size;
		if (!pyhs_target_read_u64(a->t, key, &ptr)) {
			warn(a, "a trace entry at 0x%" PRIx64 " is unreadable", e);
			return NULL;
		}
		if (key_size >= 12 && !pyhs_target_read(a->t, key + 8, &domain, 4))
			domain = 0;
		trace = key + key_size;
	}
	return add_trace(a, ptr, domain, trace);
}

/* An entry of tracemalloc_domains: a domain and its traces table. */
static struct pyhs_error *domain_entry(struct pyhs_allocations *a, uint64_t e,
				       uint64_t key_size, void *arg)
{
	(void)key_size;
	(void)arg;
	uint64_t domain, table;
	if (!rd(a, e, a->L->hashtable_entry_key, &domain, 8) ||
	    !rd(a, e, a->L->hashtable_entry_value, &table, 8)) {
		warn(a, "a domain entry at 0x%" PRIx64 " is unreadable", e);
		return NULL;
	}
	uint32_t d = (uint32_t)domain;
	return walk_table(a, table, "domain traces", trace_entry, &d);
}

static int cmp_trace(const void *x, const void *y)
{
	const struct pyhs_trace *p = x, *q = y;
	return p->addr < q->addr ? -1 : p->addr > q->addr;
}

struct state {
	uint64_t tracing; /* address of config.tracing (an int) */
	uint64_t max_nframe;
	uint64_t traces;  /* address of the traces table pointer */
	uint64_t domains; /* of the domains table pointer, or 0 */
};

static bool find_state(struct pyhs_allocations *a, struct state *s)
{
	const struct pyhs_layout *L = a->L;
	const struct pyhs_target *t = a->t;
	if (L->trace_size < 0 || L->traceback_frames < 0 || L->frame_t_size <= 0 ||
	    L->hashtable_buckets < 0 || L->tracemalloc_tracing < 0) {
		snprintf(a->missing, sizeof(a->missing),
			 "the layout of tracemalloc's tables is unknown for this build (it needs DWARF)");
		return false;
	}
	if (L->rt_tracemalloc >= 0) {
		uint64_t state = pyhs_target_runtime(t) + (uint64_t)L->rt_tracemalloc;
		s->tracing = state + (uint64_t)L->tracemalloc_tracing;
		s->max_nframe = s->tracing + 4;
		s->traces = state + (uint64_t)L->tracemalloc_traces;
		s->domains = L->tracemalloc_domains >= 0 ?
			state + (uint64_t)L->tracemalloc_domains : 0;
		return true;
	}
	if (((pyhs_target_py_version(t) >> 16) & 0xff) >= 12) {
		snprintf(a->missing, sizeof(a->missing),
			 "where _PyRuntime keeps tracemalloc's state is unknown for this build without its debug file");
		return false;
	}
	uint64_t config;
	if (!pyhs_target_static_symbol(t, "_Py_tracemalloc_config", &config) ||
	    !pyhs_target_static_symbol(t, "tracemalloc_traces", &s->traces)) {
		snprintf(a->missing, sizeof(a->missing),
			 "tracemalloc's static variables (tracemalloc_traces) have no symbols: the binary is stripped and its debug file was not found");
		return false;
	}
	s->tracing = config + (uint64_t)L->tracemalloc_tracing;
	s->max_nframe = s->tracing + 4;
	if (!pyhs_target_static_symbol(t, "tracemalloc_domains", &s->domains))
		s->domains = 0;
	return true;
}

struct pyhs_error *pyhs_allocations_read(const struct pyhs_target *t,
					 struct pyhs_allocations **ret)
{
	struct pyhs_allocations *a = calloc(1, sizeof(*a));
	if (!a)
		return &pyhs_enomem;
	a->t = t;
	a->L = pyhs_target_layout(t);
	struct state s;
	int32_t tracing = 0;
	struct pyhs_error *err = NULL;
	if (!find_state(a, &s)) {
		a->status = PYHS_ALLOCATIONS_MISSING;
	} else if (!pyhs_target_read(t, s.tracing, &tracing, 4)) {
		a->status = PYHS_ALLOCATIONS_MISSING;
		snprintf(a->missing, sizeof(a->missing),
			 "tracemalloc's state at 0x%" PRIx64 " is unreadable", s.tracing);
	} else if (!tracing) {
		a->status = PYHS_ALLOCATIONS_OFF;
	} else {
		int32_t nf;
		if (pyhs_target_read(t, s.max_nframe, &nf, 4))
			a->max_frames = nf;
		uint64_t traces = 0, domains = 0;
		uint32_t zero = 0;
		if (!pyhs_target_read_u64(t, s.traces, &traces) || !traces)
			warn(a, "tracemalloc is tracing but has no traces table");
		else
			err = walk_table(a, traces, "traces", trace_entry, &zero);
		if (!err && s.domains && pyhs_target_read_u64(t, s.domains, &domains) &&
		    domains && a->L->hashtable_entry_key >= 0)
			err = walk_table(a, domains, "domains", domain_entry, NULL);
		if (!err && a->traces.size)
			qsort(a->traces.data, a->traces.size, sizeof(a->traces.data[0]),
			      cmp_trace);
	}
	pyhs_addr_u32_map_deinit(&a->file_by_addr);
	pyhs_addr_u32_map_deinit(&a->tb_by_addr);
	a->t = NULL;
	a->L = NULL;
	if (err) {
		pyhs_allocations_destroy(a);
		return err;
	}
	*ret = a;
	return NULL;
}

void pyhs_allocations_destroy(struct pyhs_allocations *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->files.size; i++)
		free(a->files.data[i]);
	pyhs_str_vector_deinit(&a->files);
	trace_vector_deinit(&a->traces);
	stat_vector_deinit(&a->tb_stats);
	pyhs_string_map_deinit(&a->file_by_name);
	tb_vector_deinit(&a->tbs);
	frame_vector_deinit(&a->frames);
	pyhs_addr_u32_map_deinit(&a->file_by_addr);
	pyhs_addr_u32_map_deinit(&a->tb_by_addr);
	free(a);
}

enum pyhs_allocations_status pyhs_allocations_status(const struct pyhs_allocations *a)
{
	return a->status;
}

const char *pyhs_allocations_missing(const struct pyhs_allocations *a)
{
	return a->missing;
}

uint64_t pyhs_allocations_nwarnings(const struct pyhs_allocations *a)
{
	return a->nwarnings;
}

const char *pyhs_allocations_warning(const struct pyhs_allocations *a)
{
	return a->warning;
}

int pyhs_allocations_max_frames(const struct pyhs_allocations *a)
{
	return a->max_frames;
}

uint64_t pyhs_allocations_ntraces(const struct pyhs_allocations *a)
{
	return a->traces.size;
}

void pyhs_allocations_totals(const struct pyhs_allocations *a, uint64_t *ret_traces,
			     uint64_t *ret_bytes)
{
	if (a->summary) {
		*ret_traces = a->summary_traces;
		*ret_bytes = a->summary_bytes;
		return;
	}
	uint64_t bytes = 0;
	for (size_t i = 0; i < a->traces.size; i++)
		bytes += a->traces.data[i].size;
	*ret_traces = a->traces.size;
	*ret_bytes = bytes;
}

struct pyhs_error *pyhs_allocations_restore(const struct pyhs_allocations_header *hd,
					    struct pyhs_allocations **ret)
{
	if (hd->status > PYHS_ALLOCATIONS_MISSING)
		return pyhs_error_create(PYHS_ERROR_INPUT, "unknown tracemalloc status %u",
					 (unsigned)hd->status);
	struct pyhs_allocations *a = calloc(1, sizeof(*a));
	if (!a)
		return &pyhs_enomem;
	a->status = hd->status;
	snprintf(a->missing, sizeof(a->missing), "%s", hd->missing);
	a->nwarnings = hd->nwarnings;
	snprintf(a->warning, sizeof(a->warning), "%s", hd->warning);
	a->max_frames = hd->max_frames;
	a->summary = true;
	pyhs_string_map_init(&a->file_by_name);
	a->summary_traces = hd->traces;
	a->summary_bytes = hd->bytes;
	*ret = a;
	return NULL;
}

struct pyhs_error *pyhs_allocations_restore_traceback(struct pyhs_allocations *a,
						      uint64_t size, uint64_t count,
						      uint32_t nframes,
						      const char *const *files,
						      const uint32_t *lines)
{
	if (!a->summary || a->tbs.size >= UINT32_MAX - 1 || nframes > MAX_FRAMES)
		return pyhs_error_create(PYHS_ERROR_INPUT, "a traceback out of bounds");
	struct tb tb = { (uint32_t)a->frames.size, nframes };
	for (uint32_t k = 0; k < nframes; k++) {
		/* One id a file, as when read: lines group by it. */
		uint32_t *id = pyhs_string_map_search(&a->file_by_name, files[k]);
		if (!id) {
			char *copy = strdup(files[k]);
			bool inserted;
			if (!copy || !pyhs_str_vector_append(&a->files, copy)) {
				free(copy);
				return &pyhs_enomem;
			}
			if (!(id = pyhs_string_map_insert(&a->file_by_name, copy, &inserted)))
				return &pyhs_enomem;
			*id = (uint32_t)(a->files.size - 1);
		}
		struct frame fr = { *id, lines[k] };
		if (!frame_vector_append(&a->frames, fr))
			return &pyhs_enomem;
	}
	struct pyhs_allocation_stat st = { (uint32_t)a->tbs.size, size, count };
	if (!tb_vector_append(&a->tbs, tb) || !stat_vector_append(&a->tb_stats, st))
		return &pyhs_enomem;
	return NULL;
}

void pyhs_allocations_trace(const struct pyhs_allocations *a, uint64_t i,
			    struct pyhs_trace *ret)
{
	*ret = a->traces.data[i];
}

bool pyhs_allocations_find(const struct pyhs_allocations *a, uint64_t addr,
			   uint64_t *ret)
{
	/* The last trace starting at or below addr. */
	size_t lo = 0, hi = a->traces.size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->traces.data[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	const struct pyhs_trace *tr = &a->traces.data[lo - 1];
	if (addr - tr->addr >= tr->size && addr != tr->addr)
		return false;
	*ret = lo - 1;
	return true;
}

uint32_t pyhs_allocations_nframes(const struct pyhs_allocations *a, uint32_t tb)
{
	return tb < a->tbs.size ? a->tbs.data[tb].nframes : 0;
}

void pyhs_allocations_frame(const struct pyhs_allocations *a, uint32_t tb,
			    uint32_t k, const char **file, uint32_t *line)
{
	const struct frame *f = &a->frames.data[a->tbs.data[tb].first + k];
	*file = a->files.data[f->file];
	*line = f->line;
}

/* The group key of a traceback: itself, or its first frame. */
static uint64_t group_key(const struct pyhs_allocations *a, uint32_t tb,
			  bool by_traceback)
{
	if (by_traceback)
		return tb;
	const struct tb *t = &a->tbs.data[tb];
	if (!t->nframes)
		return UINT64_MAX;
	const struct frame *f = &a->frames.data[t->first];
	return ((uint64_t)f->file << 32) | f->line;
}

static int cmp_stat(const void *x, const void *y, void *arg)
{
	const struct pyhs_allocations *sort_a = arg;
	const struct pyhs_allocation_stat *p = x, *q = y;
	if (p->size != q->size)
		return p->size > q->size ? -1 : 1;
	if (p->count != q->count)
		return p->count > q->count ? -1 : 1;
	/* Then by place, for an order that does not depend on addresses. */
	uint32_t n = pyhs_allocations_nframes(sort_a, p->traceback);
	uint32_t m = pyhs_allocations_nframes(sort_a, q->traceback);
	for (uint32_t k = 0; k < n && k < m; k++) {
		const char *f1, *f2;
		uint32_t l1, l2;
		pyhs_allocations_frame(sort_a, p->traceback, k, &f1, &l1);
		pyhs_allocations_frame(sort_a, q->traceback, k, &f2, &l2);
		int c = strcmp(f1, f2);
		if (c)
			return c;
		if (l1 != l2)
			return l1 < l2 ? -1 : 1;
	}
	return n < m ? -1 : n > m;
}

struct pyhs_error *pyhs_allocations_group(const struct pyhs_allocations *a,
					  bool by_traceback,
					  struct pyhs_allocation_stat **ret,
					  size_t *ret_n)
{
	struct pyhs_addr_u32_map groups;
	pyhs_addr_u32_map_init(&groups);
	struct pyhs_allocation_stat *stats = NULL;
	size_t n = 0, cap = 0;
	size_t units = a->summary ? a->tb_stats.size : a->traces.size;
	for (size_t i = 0; i < units; i++) {
		/* A trace, or a restored traceback's totals. */
		struct pyhs_allocation_stat u;
		if (a->summary)
			u = a->tb_stats.data[i];
		else
			u = (struct pyhs_allocation_stat){ a->traces.data[i].traceback,
							  a->traces.data[i].size, 1 };
		bool inserted;
		uint32_t *g = pyhs_addr_u32_map_insert(
			&groups, group_key(a, u.traceback, by_traceback), &inserted);
		if (!g)
			goto nomem;
		if (inserted) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				struct pyhs_allocation_stat *s = realloc(stats, ncap * sizeof(*s));
				if (!s)
					goto nomem;
				stats = s;
				cap = ncap;
			}
			stats[n] = (struct pyhs_allocation_stat){ u.traceback, 0, 0 };
			*g = (uint32_t)n++;
		}
		stats[*g].size += u.size;
		stats[*g].count += u.count;
	}
	pyhs_addr_u32_map_deinit(&groups);
	if (n)
		qsort_r(stats, n, sizeof(*stats), cmp_stat, (void *)a);
	*ret = stats;
	*ret_n = n;
	return NULL;
nomem:
	pyhs_addr_u32_map_deinit(&groups);
	free(stats);
	return &pyhs_enomem;
}

/* ---- memory objects own ---------------------------------------------- */

DEFINE_VECTOR(owner_vector, struct pyhs_region_owner)

/* Sorts v as pyhs_region_owner_cmp orders it, keeping the order of equal
 * ones: a radix sort, least significant digit first (the owner's part or
 * none, then the address 11 bits at a time), with as many again for the
 * moves; false, v as it was, when that cannot be had. Millions of owners
 * take a fraction of what qsort takes. */
#define OWNER_DIGIT_BITS 11
#define OWNER_DIGITS 7 /* the part, then 6 of the address's 64 bits */
static size_t owner_digit(const struct pyhs_region_owner *o, int d)
{
	if (d == 0)
		return o->part == NULL; /* a block before an object */
	return (size_t)(o->addr >> (OWNER_DIGIT_BITS * (d - 1))) &
	       ((1u << OWNER_DIGIT_BITS) - 1);
}

static bool sort_owners(struct pyhs_region_owner *v, size_t n)
{
	enum { NB = 1u << OWNER_DIGIT_BITS };
	struct pyhs_region_owner *tmp = malloc(n * sizeof(*tmp));
	size_t (*count)[NB] = calloc(OWNER_DIGITS, sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < OWNER_DIGITS; d++)
			count[d][owner_digit(&v[i], d)]++;
	struct pyhs_region_owner *src = v, *dst = tmp;
	for (int d = 0; d < OWNER_DIGITS; d++) {
		size_t at = 0;
		bool one = false; /* every owner the same digit: nothing moves */
		for (size_t b = 0; b < NB; b++) {
			size_t c = count[d][b];
			one = one || c == n;
			count[d][b] = at;
			at += c;
		}
		if (one)
			continue;
		for (size_t i = 0; i < n; i++)
			dst[count[d][owner_digit(&src[i], d)]++] = src[i];
		struct pyhs_region_owner *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	free(count);
	return true;
}

struct owners {
	struct owner_vector v;
	const char *type;
	bool nomem;
};

static void add_owner(void *arg, uint64_t addr, const char *part)
{
	struct owners *o = arg;
	struct pyhs_region_owner e = { addr, o->type, part };
	if (addr && !owner_vector_append(&o->v, e))
		o->nomem = true;
}

/* A deque's blocks, as many as its getsizeof() counts, left to right. */
#define DEQUE_BLOCKS_MAX (UINT64_C(1) << 24)
static void deque_blocks(const struct pyhs_heap *h, uint64_t addr, struct owners *o)
{
	const struct pyhs_layout *L = h->L;
	uint64_t block, left, len;
	if (!hrd_off(h, addr, L->deque_leftblock, &block) ||
	    !hrd_off(h, addr, L->deque_leftindex, &left) || !hrd(h, addr + 16, &len) ||
	    left >= DEQUE_BLOCKLEN || len > DEQUE_BLOCKS_MAX * DEQUE_BLOCKLEN)
		return;
	uint64_t n = (left + len + DEQUE_BLOCKLEN) / DEQUE_BLOCKLEN;
	for (uint64_t k = 0; k < n && block; k++) {
		add_owner(o, block, "blocks");
		if (!hrd_off(h, block, L->deque_block_rightlink, &block))
			break;
	}
}

struct pyhs_error *pyhs_heap_region_owners(struct pyhs_heap *h,
					   const struct pyhs_target *t,
					   struct pyhs_region_owner **ret,
					   size_t *ret_n)
{
	const struct pyhs_layout *L = h->L;
	struct owners o = { { 0 }, NULL, false };
	h->t = t;
	for (size_t i = 0; i < h->addr.size && !o.nomem; i++) {
		uint64_t addr = h->addr.data[i];
		uint32_t type = h->type.data[i];
		const struct pyhs_type_info *ti = &h->types.data[type];
		o.type = ti->name ? ti->name : "?";
		add_owner(&o, addr, NULL);
		uint64_t p;
		switch (ti->kind) {
		case K_LIST:
			if (hrd_off(h, addr, L->list_ob_item, &p))
				add_owner(&o, p, "items");
			break;
		case K_BYTEARRAY:
			if (hrd_off(h, addr, L->bytearray_ob_bytes, &p))
				add_owner(&o, p, "bytes");
			break;
		case K_SET:
			if (hrd_off(h, addr, L->set_table, &p))
				add_owner(&o, p, "table");
			break;
		case K_DICT:
		case K_ODICT:
			if (hrd_off(h, addr, L->dict_ma_keys, &p))
				add_owner(&o, p, "keys");
			if (L->dict_ma_values >= 0 && hrd_off(h, addr, L->dict_ma_values, &p))
				add_owner(&o, p, "values");
			break;
		case K_DEQUE:
			deque_blocks(h, addr, &o);
			break;
		default:
			pyhs_owned_blocks(h, type, addr, add_owner, &o);
			break;
		}
	}
	h->t = NULL;
	if (o.nomem) {
		owner_vector_deinit(&o.v);
		return &pyhs_enomem;
	}
	if (o.v.size && !sort_owners(o.v.data, o.v.size))
		qsort(o.v.data, o.v.size, sizeof(*o.v.data), pyhs_region_owner_cmp);
	*ret = o.v.data;
	*ret_n = o.v.size;
	return NULL;
}

/* ---- the allocators' state ------------------------------------------- */

struct pyhs_error *pyhs_memory_state_read(const struct pyhs_target *t,
					  struct pyhs_heap *h,
					  const char *heap_problem,
					  struct pyhs_memory_state **ret)
{
	struct pyhs_memory_state *m = calloc(1, sizeof(*m));
	if (!m)
		return &pyhs_enomem;
	snprintf(m->objects_not_read, sizeof(m->objects_not_read), "%s",
		 heap_problem ? heap_problem : "");
	struct pyhs_region_owner *owners = NULL;
	size_t nowners = 0;
	struct pyhs_error *err = pyhs_pymalloc_read(t, &m->pymalloc);
	if (!err)
		err = pyhs_allocations_read(t, &m->allocations);
	if (!err && h)
		err = pyhs_heap_region_owners(h, t, &owners, &nowners);
	if (!err)
		err = pyhs_regions_read(t, m->pymalloc, h ? owners : NULL, nowners,
					&m->regions);
	free(owners);
	if (err) {
		pyhs_memory_state_destroy(m);
		return err;
	}
	*ret = m;
	return NULL;
}

void pyhs_memory_state_destroy(struct pyhs_memory_state *m)
{
	if (!m)
		return;
	pyhs_pymalloc_destroy(m->pymalloc);
	pyhs_allocations_destroy(m->allocations);
	pyhs_regions_destroy(m->regions);
	free(m);
}

const struct pyhs_memory_state *pyhs_heap_memory(const struct pyhs_heap *h)
{
	return h->memory;
}

void pyhs_heap_set_memory(struct pyhs_heap *h, struct pyhs_memory_state *m)
{
	pyhs_memory_state_destroy(h->memory);
	h->memory = m;
}
