/* pyheapsnap memory: where the memory goes. pymalloc's arenas and pools,
 * the lines that allocated what tracemalloc traced, and the regions that
 * make up every mapped byte. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

enum { OPT_BY = OPT_VERB_FIRST };

struct memory_options {
	uint64_t top;
	bool by_traceback;
};

static void help(void)
{
	printf("usage: pyheapsnap memory [OPTIONS] INPUT\n"
	       "\n"
	       "Says where the memory of the process in INPUT (a core, --pid, or a snapshot\n"
	       "written from one) goes:\n"
	       "pymalloc's arenas, pools and free blocks per size class, as\n"
	       "sys._debugmallocstats() counts them; when tracemalloc was tracing, the\n"
	       "lines (or tracebacks) that allocated what is still allocated, as\n"
	       "tracemalloc's Snapshot.statistics() gives them.\n"
	       "\n"
	       "Options:\n"
	       "  -n N                   show the N largest of each list (default 10)\n"
	       "      --by line|traceback  group allocations by their most recent line\n"
	       "                         (default) or by their whole traceback\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static int option(void *ctx, int opt, const char *arg)
{
	struct memory_options *m = ctx;
	switch (opt) {
	case OPT_BY:
		if (!strcmp(arg, "line") || !strcmp(arg, "lineno"))
			m->by_traceback = false;
		else if (!strcmp(arg, "traceback"))
			m->by_traceback = true;
		else
			return usage_error("memory", "--by takes line or traceback, not '%s'", arg);
		return 0;
	case 'n':
		if (!parse_count(arg, &m->top))
			return usage_error("memory", "-n takes a positive whole number, not '%s'", arg);
		return 0;
	default:
		return usage_error("memory", "unknown option");
	}
}

static const char *status_name(enum pyhs_pymalloc_status s)
{
	switch (s) {
	case PYHS_PYMALLOC_OK:
		return "ok";
	case PYHS_PYMALLOC_UNUSED:
		return "unused";
	default:
		return "missing";
	}
}

static void print_pymalloc_json(const struct pyhs_pymalloc *p)
{
	printf("\"pymalloc\": {\"status\": \"%s\", \"allocator\": ", status_name(p->status));
	pyhs_json_string(stdout, p->allocator);
	printf(", \"traced\": %s, \"missing\": ", p->traced ? "true" : "false");
	pyhs_json_string(stdout, p->missing);
	printf(", \"pool_size\": %" PRIu64 ", \"arena_size\": %" PRIu64
	       ", \"arenas\": %" PRIu64 ", \"arenas_allocated_total\": %" PRId64
	       ", \"arenas_highwater\": %" PRId64 ", \"free_pools\": %" PRIu64
	       ", \"bytes\": %" PRIu64 ", \"allocated_bytes\": %" PRIu64
	       ", \"free_block_bytes\": %" PRIu64 ", \"free_pool_bytes\": %" PRIu64
	       ", \"pool_header_bytes\": %" PRIu64 ", \"quantization_bytes\": %" PRIu64
	       ", \"alignment_bytes\": %" PRIu64 ", \"size_classes\": [",
	       p->pool_size, p->arena_size, p->arenas, p->arenas_total,
	       p->arenas_highwater, p->free_pools, p->arenas * p->arena_size,
	       p->allocated_bytes, p->available_bytes, p->free_pool_bytes,
	       p->pool_header_bytes, p->quantization_bytes, p->alignment_bytes);
	bool first = true;
	for (size_t k = 0; k < p->nclasses; k++) {
		const struct pyhs_pymalloc_class *c = &p->classes[k];
		if (!c->pools)
			continue;
		printf("%s{\"size\": %" PRIu32 ", \"pools\": %" PRIu64
		       ", \"blocks_in_use\": %" PRIu64 ", \"blocks_free\": %" PRIu64 "}",
		       first ? "" : ", ", c->size, c->pools, c->blocks_in_use,
		       c->blocks_free);
		first = false;
	}
	printf("], \"arena_addresses\": [");
	for (size_t k = 0; k < p->narenas; k++)
		printf("%s%" PRIu64, k ? ", " : "", p->arena_list[k].address);
	printf("], \"warnings\": %" PRIu64 ", \"warning\": ", p->nwarnings);
	pyhs_json_string(stdout, p->warning);
	fputs("}", stdout);
}

static void print_pymalloc_text(const struct pyhs_pymalloc *p)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
	if (p->status == PYHS_PYMALLOC_MISSING) {
		printf("pymalloc: not read: %s\n", p->missing);
		return;
	}
	if (p->status == PYHS_PYMALLOC_UNUSED) {
		printf("pymalloc: holds no arenas: the process did not use it%s%s%s\n",
		       p->allocator[0] ? " (object allocator: " : "",
		       p->allocator, p->allocator[0] ? ")" : "");
		return;
	}
	uint64_t total = p->arenas * p->arena_size;
	printf("pymalloc: %" PRIu64 " arenas of %s, %s", p->arenas,
	       pyhs_format_bytes(p->arena_size, a, sizeof(a)),
	       pyhs_format_bytes(total, b, sizeof(b)));
	if (p->allocator[0] || p->traced)
		printf(" (object allocator: %s%s%s)", p->allocator[0] ? p->allocator : "?",
		       p->traced ? ", traced by tracemalloc" : "", "");
	putchar('\n');
	uint64_t free_bytes = p->available_bytes + p->free_pool_bytes;
	if (free_bytes)
		printf("  %s of %s in pymalloc's arenas are free blocks (%s in pools in use, %s in %" PRIu64
		       " empty pools): an arena is returned only once all its pools are empty\n",
		       pyhs_format_bytes(free_bytes, a, sizeof(a)),
		       pyhs_format_bytes(total, b, sizeof(b)),
		       pyhs_format_bytes(p->available_bytes, c, sizeof(c)),
		       pyhs_format_bytes(p->free_pool_bytes, d, sizeof(d)), p->free_pools);
	printf("  in use %s, pool headers %s, quantization %s, arena alignment %s\n",
	       pyhs_format_bytes(p->allocated_bytes, e, sizeof(e)),
	       pyhs_format_bytes(p->pool_header_bytes, f, sizeof(f)),
	       pyhs_format_bytes(p->quantization_bytes, g, sizeof(g)),
	       pyhs_format_bytes(p->alignment_bytes, a, sizeof(a)));
	printf("\n  class  size   pools  blocks in use  free blocks\n");
	for (size_t k = 0; k < p->nclasses; k++) {
		const struct pyhs_pymalloc_class *cl = &p->classes[k];
		if (!cl->pools)
			continue;
		printf("  %5zu  %4" PRIu32 "  %6" PRIu64 "  %13s  %11s\n", k, cl->size,
		       cl->pools, fmt_count(cl->blocks_in_use, a, sizeof(a)),
		       fmt_count(cl->blocks_free, b, sizeof(b)));
	}
	if (p->nwarnings)
		printf("\n  warnings: %" PRIu64 " (first: %s)\n", p->nwarnings, p->warning);
}

static const char *allocations_status_name(enum pyhs_allocations_status s)
{
	switch (s) {
	case PYHS_ALLOCATIONS_OK:
		return "ok";
	case PYHS_ALLOCATIONS_OFF:
		return "off";
	default:
		return "missing";
	}
}

static void print_frames_json(const struct pyhs_allocations *a, uint32_t tb,
			      uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		const char *file;
		uint32_t line;
		pyhs_allocations_frame(a, tb, k, &file, &line);
		fputs(k ? ", {\"file\": " : "{\"file\": ", stdout);
		pyhs_json_string(stdout, file);
		printf(", \"line\": %" PRIu32 "}", line);
	}
}

static void print_allocations(const struct pyhs_allocations *a,
			      const struct pyhs_allocation_stat *stats, size_t n,
			      const struct memory_options *m, bool json)
{
	enum pyhs_allocations_status st = pyhs_allocations_status(a);
	uint64_t ntraces, bytes;
	pyhs_allocations_totals(a, &ntraces, &bytes);
	size_t shown = n < m->top ? n : (size_t)m->top;
	char b1[32], b2[32];
	if (json) {
		printf("\"allocations\": {\"status\": \"%s\", \"missing\": ",
		       allocations_status_name(st));
		pyhs_json_string(stdout, pyhs_allocations_missing(a));
		printf(", \"max_frames\": %d, \"traces\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"%s\": [", pyhs_allocations_max_frames(a), ntraces, bytes,
		       m->by_traceback ? "by_traceback" : "by_line");
		for (size_t i = 0; i < shown; i++) {
			const struct pyhs_allocation_stat *s = &stats[i];
			uint32_t nf = pyhs_allocations_nframes(a, s->traceback);
			if (i)
				fputs(", ", stdout);
			if (m->by_traceback) {
				printf("{\"size\": %" PRIu64 ", \"count\": %" PRIu64 ", \"frames\": [",
				       s->size, s->count);
				print_frames_json(a, s->traceback, nf);
				fputs("]}", stdout);
			} else {
				const char *file = "<unknown>";
				uint32_t line = 0;
				if (nf)
					pyhs_allocations_frame(a, s->traceback, 0, &file, &line);
				fputs("{\"file\": ", stdout);
				pyhs_json_string(stdout, file);
				printf(", \"line\": %" PRIu32 ", \"size\": %" PRIu64
				       ", \"count\": %" PRIu64 "}", line, s->size, s->count);
			}
		}
		printf("], \"warnings\": %" PRIu64 ", \"warning\": ",
		       pyhs_allocations_nwarnings(a));
		pyhs_json_string(stdout, pyhs_allocations_warning(a));
		fputs("}", stdout);
		return;
	}
	if (st == PYHS_ALLOCATIONS_OFF) {
		printf("\nallocation sites: tracemalloc was not tracing (PYTHONTRACEMALLOC=N or\n"
		       "  tracemalloc.start() records where each block was allocated)\n");
		return;
	}
	if (st == PYHS_ALLOCATIONS_MISSING) {
		printf("\nallocation sites: not read: %s\n", pyhs_allocations_missing(a));
		return;
	}
	printf("\nallocation sites (tracemalloc, up to %d frames): %s traces, %s\n",
	       pyhs_allocations_max_frames(a), fmt_count(ntraces, b1, sizeof(b1)),
	       pyhs_format_bytes(bytes, b2, sizeof(b2)));
	printf("  %10s  %9s  %s\n", "size", "count", m->by_traceback ? "traceback" : "line");
	for (size_t i = 0; i < shown; i++) {
		const struct pyhs_allocation_stat *s = &stats[i];
		uint32_t nf = pyhs_allocations_nframes(a, s->traceback);
		printf("  %10s  %9s", pyhs_format_bytes(s->size, b1, sizeof(b1)),
		       fmt_count(s->count, b2, sizeof(b2)));
		for (uint32_t k = 0; k < (m->by_traceback ? nf : (nf ? 1 : 0)); k++) {
			const char *file;
			uint32_t line;
			pyhs_allocations_frame(a, s->traceback, k, &file, &line);
			printf("%s%s:%" PRIu32 "\n", k ? "                         " : "  ", file, line);
		}
		if (!nf)
			printf("  <unknown>\n");
	}
	if (pyhs_allocations_nwarnings(a))
		printf("  warnings: %" PRIu64 " (first: %s)\n", pyhs_allocations_nwarnings(a),
		       pyhs_allocations_warning(a));
}

static void print_regions(const struct pyhs_regions *r, const struct memory_options *m,
			  bool json)
{
	char b1[32], b2[32], b3[32];
	if (json) {
		printf("\"regions\": [");
		for (size_t i = 0; i < r->n; i++) {
			const struct pyhs_region *g = &r->regions[i];
			printf("%s{\"kind\": \"%s\", \"name\": ", i ? ", " : "", g->kind);
			pyhs_json_string(stdout, g->name);
			printf(", \"bytes\": %" PRIu64 ", \"%s\": %" PRIu64, g->bytes,
			       r->live ? "copied" : "held", g->held);
			if (r->live && g->resident >= 0)
				printf(", \"resident\": %" PRId64 ", \"swapped\": %" PRId64,
				       g->resident, g->swapped);
			printf(", \"ranges\": %" PRIu64 "}", g->pieces);
		}
		printf("], \"mapped_bytes\": %" PRIu64 ", \"glibc\": ", r->mapped_bytes);
		if (r->glibc[0])
			pyhs_json_string(stdout, r->glibc);
		else
			printf("null");
		printf(", \"malloc_in_use\": {\"bytes\": %" PRIu64 ", \"objects\": %" PRIu64
		       ", \"buffers\": %" PRIu64 ", \"other\": %" PRIu64 "}",
		       r->malloc_in_use, r->malloc_objects, r->malloc_buffers,
		       r->malloc_in_use - r->malloc_objects - r->malloc_buffers);
		printf(", \"glibc_layout_known\": %s, \"region_warnings\": %" PRIu64
		       ", \"region_warning\": ", r->glibc_known ? "true" : "false", r->nwarnings);
		pyhs_json_string(stdout, r->warning);
		return;
	}
	uint64_t held = 0;
	for (size_t i = 0; i < r->n; i++)
		held += r->regions[i].held;
	printf("\nregions: %s mapped, %s of it %s\n",
	       pyhs_format_bytes(r->mapped_bytes, b1, sizeof(b1)),
	       pyhs_format_bytes(held, b2, sizeof(b2)),
	       r->live ? "copied from the process" : "held in the core");
	bool uncached = false; /* chunks named "in use or cached" */
	for (size_t i = 0; i < r->n; i++)
		uncached = uncached || !strncmp(r->regions[i].name, "in use or cached", 16);
	if (!r->glibc[0] && uncached)
		printf("  no libc file gave glibc's release: chunks free in its tcache and fastbins are\n"
		       "  not told apart from those in use (\"in use or cached\")\n");
	if (r->glibc[0] && !r->glibc_known)
		printf("  glibc %s is newer than the malloc layouts known (up to 2.%u): chunks free in its\n"
		       "  tcache and fastbins are not told apart from those in use (\"in use or cached\")\n",
		       r->glibc, r->glibc_newest);
	if (r->malloc_in_use) {
		uint64_t explained = r->malloc_objects + r->malloc_buffers;
		char b4[32];
		printf("  glibc malloc: %s in use, %s of it (%.1f %%) objects (%s) and blocks they own (%s)\n",
		       pyhs_format_bytes(r->malloc_in_use, b1, sizeof(b1)),
		       pyhs_format_bytes(explained, b2, sizeof(b2)),
		       100.0 * (double)explained / (double)r->malloc_in_use,
		       pyhs_format_bytes(r->malloc_objects, b3, sizeof(b3)),
		       pyhs_format_bytes(r->malloc_buffers, b4, sizeof(b4)));
	}
	printf("  %-12s %10s %10s%s  %s\n", "kind", "bytes", r->live ? "resident" : "held",
	       r->live ? "    swapped" : "", "what");
	/* Every kind's regions, at most -n of each kind (the rest summed). */
	const char *const *kinds = pyhs_region_kinds;
	for (size_t k = 0; k < PYHS_REGION_NKINDS; k++) {
		uint64_t shown = 0, rest = 0, rest_bytes = 0;
		for (size_t i = 0; i < r->n; i++) {
			const struct pyhs_region *g = &r->regions[i];
			if (strcmp(g->kind, kinds[k]))
				continue;
			if (shown++ >= m->top) {
				rest++;
				rest_bytes += g->bytes;
				continue;
			}
			printf("  %-12s %10s %10s", g->kind, pyhs_format_bytes(g->bytes, b1, sizeof(b1)),
			       r->live ? (g->resident >= 0 ? pyhs_format_bytes((uint64_t)g->resident, b2, sizeof(b2)) : "?")
				       : pyhs_format_bytes(g->held, b2, sizeof(b2)));
			if (r->live)
				printf(" %10s", g->swapped >= 0 ? pyhs_format_bytes((uint64_t)g->swapped, b3, sizeof(b3)) : "?");
			printf("  %s\n", g->name);
		}
		if (rest)
			printf("  %-12s %10s %10s  ... and %" PRIu64 " more\n", kinds[k],
			       pyhs_format_bytes(rest_bytes, b1, sizeof(b1)), "", rest);
	}
	if (r->nwarnings)
		printf("  warnings: %" PRIu64 " (first: %s)\n", r->nwarnings, r->warning);
}

int verb_memory(int argc, char **argv)
{
	struct memory_options m = { .top = 10 };
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ 0 },
	};
	struct verb_spec spec = { "memory", "n:", longopts, help, option, &m, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h = NULL;
	struct pyhs_memory_state *own = NULL;
	const struct pyhs_memory_state *ms;
	struct pyhs_error *err;
	if (args[0] != PID_INPUT && pyhs_snapshot_is(args[0])) {
		/* A snapshot keeps the state read from its core, if it was. */
		if ((err = pyhs_snapshot_read(args[0], &h)))
			return report_error(err);
		if (!(ms = pyhs_heap_memory(h))) {
			log_error("snapshot '%s' keeps no allocator state (an older pyheapsnap wrote it, or wrote the one it was made from): memory needs its core",
				  args[0]);
			pyhs_heap_destroy(h);
			return EXIT_INPUT;
		}
	} else {
		struct pyhs_target *t;
		if ((r = input_open_target(args[0], &o, &t)))
			return r;
		/* The objects, to tell the malloc'd blocks they own from the
		 * rest. */
		char heap_problem[256] = "";
		err = pyhs_heap_build(t, args[0] == PID_INPUT ? "pid" : args[0], &o.heap, &h);
		if (err && err != &pyhs_enomem) {
			snprintf(heap_problem, sizeof(heap_problem), "%s", err->message);
			pyhs_error_destroy(err);
			err = NULL;
			h = NULL;
		}
		if (!err)
			err = pyhs_memory_state_read(t, h, heap_problem, &own);
		pyhs_heap_destroy(h);
		h = NULL;
		pyhs_target_destroy(t);
		if (err)
			return report_error(err);
		ms = own;
	}
	const struct pyhs_pymalloc *p = ms->pymalloc;
	const struct pyhs_allocations *a = ms->allocations;
	const struct pyhs_regions *regions = ms->regions;
	const char *heap_problem = ms->objects_not_read;
	struct pyhs_allocation_stat *stats = NULL;
	size_t nstats = 0;
	if ((err = pyhs_allocations_group(a, m.by_traceback, &stats, &nstats))) {
		pyhs_memory_state_destroy(own);
		pyhs_heap_destroy(h);
		return report_error(err);
	}
	if (o.json) {
		fputs("{", stdout);
		print_pymalloc_json(p);
		fputs(", ", stdout);
		print_allocations(a, stats, nstats, &m, true);
		fputs(", ", stdout);
		print_regions(regions, &m, true);
		fputs(", \"objects_not_read\": ", stdout);
		pyhs_json_string(stdout, heap_problem);
		fputs("}\n", stdout);
	} else {
		print_pymalloc_text(p);
		print_allocations(a, stats, nstats, &m, false);
		print_regions(regions, &m, false);
		if (heap_problem[0])
			printf("  (the objects could not be read, so malloc's blocks are not told apart: %s)\n",
			       heap_problem);
	}
	free(stats);
	pyhs_memory_state_destroy(own);
	pyhs_heap_destroy(h);
	return EXIT_OK;
}
