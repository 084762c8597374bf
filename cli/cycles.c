/* pyheapsnap cycles: reference cycles, largest first; or the garbage ones. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

enum { OPT_UNREACHABLE = OPT_VERB_FIRST, OPT_MIN_SIZE };

struct cycles_options {
	bool unreachable;
	uint64_t min_size;
	uint64_t n;
	enum output_format format;
};

/* In DOT, the objects of one cycle drawn at most. */
#define DOT_MAX_OBJECTS 200

static void help(void)
{
	printf("usage: pyheapsnap cycles [OPTIONS] INPUT\n"
	       "\n"
	       "Lists reference cycles in the heap of INPUT (strongly connected groups of\n"
	       "more than one object, and objects that refer to themselves), largest\n"
	       "first, with their size and the types in them.\n"
	       "\n"
	       "Options:\n"
	       "      --unreachable      only garbage: the cycles the cyclic collector would\n"
	       "                         free if it ran now (refcounts minus the references\n"
	       "                         among tracked objects, as gc computes it), each\n"
	       "                         with what only it keeps: the objects summary counts\n"
	       "                         as garbage\n"
	       "      --min-size N       only cycles of at least N bytes\n"
	       "  -n N                   cycles to show in text and dot (default 20; JSON\n"
	       "                         lists all)\n"
	       "      --format FORMAT    text (the default), json (as --json) or dot (each\n"
	       "                         cycle a cluster of its objects and references, at\n"
	       "                         most 200 objects each, for Graphviz: dot -Tsvg)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static int option(void *ctx, int opt, const char *arg)
{
	struct cycles_options *c = ctx;
	char *end;
	switch (opt) {
	case OPT_UNREACHABLE:
		c->unreachable = true;
		return 0;
	case OPT_MIN_SIZE:
		c->min_size = strtoull(arg, &end, 10);
		if (*end || arg[0] == '-')
			return usage_error("cycles", "--min-size takes a number of bytes, not '%s'", arg);
		return 0;
	case OPT_FORMAT:
		return parse_output_format("cycles", arg, &c->format);
	case 'n':
		if (!parse_count(arg, &c->n))
			return usage_error("cycles", "-n takes a positive whole number, not '%s'", arg);
		return 0;
	default:
		return usage_error("cycles", "unknown option");
	}
}

struct type_count {
	uint32_t type;
	uint64_t count;
};

static int by_count(const void *x, const void *y)
{
	const struct type_count *a = x, *b = y;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return a->type < b->type ? -1 : a->type > b->type;
}

/* The types of one cycle, most common first; returns how many. */
static size_t cycle_types(const struct pyhs_heap *h, const struct pyhs_cycles *c,
			  uint64_t q, struct type_count *tc, uint64_t *scratch)
{
	size_t nt = 0;
	for (uint64_t k = c->start[q]; k < c->start[q + 1]; k++) {
		uint32_t t = pyhs_heap_type_of(h, c->objects[k]);
		if (scratch[t] == 0) {
			tc[nt].type = t;
			tc[nt].count = 0;
			scratch[t] = ++nt;
		}
		tc[scratch[t] - 1].count++;
	}
	for (size_t i = 0; i < nt; i++)
		scratch[tc[i].type] = 0;
	qsort(tc, nt, sizeof(*tc), by_count);
	return nt;
}

/* Cycle q, the id-th shown, as a cluster: its first DOT_MAX_OBJECTS
 * objects and the references among them. */
static void print_cycle_dot(const struct pyhs_heap *h, const struct pyhs_analysis *a,
			    const struct pyhs_cycles *c, uint64_t q, uint64_t id,
			    uint32_t *drawn, const struct type_count *tc, size_t nt)
{
	uint64_t count = c->start[q + 1] - c->start[q];
	uint64_t end = count > DOT_MAX_OBJECTS ? c->start[q] + DOT_MAX_OBJECTS : c->start[q + 1];
	char label[256], b1[32], b2[32];
	snprintf(label, sizeof(label), "%s, %s objects%s: %s %" PRIu64 "%s",
		 pyhs_format_bytes(c->bytes[q], b1, sizeof(b1)), fmt_count(count, b2, sizeof(b2)),
		 pyhs_analysis_is_garbage(a, c->objects[c->start[q]]) ? " (garbage)" : "",
		 pyhs_heap_type_name(h, tc[0].type), tc[0].count, nt > 1 ? ", ..." : "");
	pyhs_dot_cluster(stdout, id, label);
	for (uint64_t k = c->start[q]; k < end; k++) {
		drawn[c->objects[k]] = (uint32_t)id;
		pyhs_dot_object(h, stdout, c->objects[k], NULL);
	}
	if (end < c->start[q + 1]) {
		snprintf(label, sizeof(label), "+%" PRIu64 " more objects not drawn",
			 c->start[q + 1] - end);
		pyhs_dot_note(stdout, id, label);
	}
	pyhs_dot_cluster_end(stdout);
	for (uint64_t k = c->start[q]; k < end; k++) {
		uint64_t b, e;
		pyhs_heap_edges(h, c->objects[k], &b, &e);
		for (uint64_t j = b; j < e; j++)
			if (drawn[pyhs_heap_edge_dst(h, j)] == id)
				pyhs_dot_edge(h, stdout, c->objects[k], j);
	}
}

int verb_cycles(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "unreachable", no_argument, NULL, OPT_UNREACHABLE },
		{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ 0 },
	};
	struct cycles_options co = { .n = 20 };
	struct verb_spec spec = { "cycles", "n:", longopts, help, option, &co, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	if ((r = resolve_output_format("cycles", &o, &co.format)))
		return r;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	o.analysis_flags = PYHS_ANALYSIS_CYCLES;
	o.cache_beside = true;
	if ((r = input_open_analysed(args[0], &o, &h, &a)))
		return r;
	struct pyhs_cycles *c = NULL;
	struct pyhs_error *err = co.unreachable ? pyhs_analysis_garbage(a, &c) :
						  pyhs_analysis_cycles(a, false, &c);
	if (err) {
		input_close(&o, h, a);
		return report_error(err);
	}
	uint32_t ntypes = pyhs_heap_ntypes(h);
	struct type_count *tc = malloc((ntypes + 1) * sizeof(*tc));
	uint64_t *scratch = calloc(ntypes + 1, sizeof(*scratch));
	/* For dot: which shown cycle (+1) each object is drawn in. */
	uint32_t *drawn = co.format == FORMAT_DOT ?
				  calloc(pyhs_heap_nobjects(h) + 1, sizeof(*drawn)) : NULL;
	if (!tc || !scratch || (co.format == FORMAT_DOT && !drawn)) {
		free(drawn);
		free(tc);
		free(scratch);
		pyhs_cycles_free(c);
		input_close(&o, h, a);
		return report_error(&pyhs_enomem);
	}
	uint64_t shown = 0, total = 0, total_bytes = 0, total_objects = 0;
	char b1[32], b2[32];
	if (o.json)
		fputs("[", stdout);
	else if (co.format == FORMAT_DOT)
		pyhs_dot_begin(stdout, co.unreachable ? "garbage cycles" : "cycles");
	for (uint64_t q = 0; q < c->n; q++) {
		if (c->bytes[q] < co.min_size)
			continue;
		/* --gen: cycles with at least one object of that generation. */
		bool match = o.gen < 0;
		for (uint64_t k = c->start[q]; k < c->start[q + 1] && !match; k++)
			match = gen_matches(&o, h, c->objects[k]);
		if (!match)
			continue;
		total++;
		total_bytes += c->bytes[q];
		total_objects += c->start[q + 1] - c->start[q];
		size_t nt = cycle_types(h, c, q, tc, scratch);
		uint64_t count = c->start[q + 1] - c->start[q];
		if (o.json) {
			fputs(shown++ ? ", {\"objects\": [" : "{\"objects\": [", stdout);
			for (uint64_t k = c->start[q]; k < c->start[q + 1]; k++)
				printf("%s%" PRIu64, k == c->start[q] ? "" : ", ",
				       pyhs_heap_addr(h, c->objects[k]));
			printf("], \"size\": %" PRIu64 ", \"types\": {", c->bytes[q]);
			for (size_t i = 0; i < nt; i++) {
				fputs(i ? ", " : "", stdout);
				pyhs_json_string(stdout, pyhs_heap_type_name(h, tc[i].type));
				printf(": %" PRIu64, tc[i].count);
			}
			printf("}, \"garbage\": %s", pyhs_analysis_is_garbage(a, c->objects[c->start[q]]) ? "true" : "false");
			if (c->ncycle)
				printf(", \"in_cycle\": %" PRIu64, c->ncycle[q]);
			fputs("}", stdout);
			continue;
		}
		if (shown >= co.n)
			continue;
		shown++;
		if (co.format == FORMAT_DOT) {
			print_cycle_dot(h, a, c, q, shown, drawn, tc, nt);
			continue;
		}
		printf("%s, %s object%s:", pyhs_format_bytes(c->bytes[q], b1, sizeof(b1)),
		       fmt_count(count, b2, sizeof(b2)), count == 1 ? "" : "s");
		for (size_t i = 0; i < nt && i < 6; i++)
			printf(" %s %" PRIu64 "%s", pyhs_heap_type_name(h, tc[i].type), tc[i].count,
			       i + 1 < nt && i < 5 ? "," : "");
		if (nt > 6)
			printf(" (+%zu more types)", nt - 6);
		if (c->ncycle && !c->ncycle[q])
			printf("\n  garbage no cycle reaches");
		else if (c->ncycle && c->ncycle[q] != count)
			printf("\n  %" PRIu64 " in the cycle, the rest kept only by it", c->ncycle[q]);
		printf("\n  e.g. 0x%" PRIx64 "%s\n", pyhs_heap_addr(h, c->objects[c->start[q]]),
		       pyhs_analysis_is_garbage(a, c->objects[c->start[q]]) ? " (garbage)" : "");
	}
	if (o.json)
		fputs("]\n", stdout);
	else if (co.format == FORMAT_DOT)
		pyhs_dot_end(stdout);
	else
		printf("%s%" PRIu64 " %scycle%s, %s objects, %s\n", shown ? "\n" : "", total,
		       co.unreachable ? "garbage " : "", total == 1 ? "" : "s",
		       fmt_count(total_objects, b2, sizeof(b2)),
		       pyhs_format_bytes(total_bytes, b1, sizeof(b1)));
	free(tc);
	free(scratch);
	free(drawn);
	pyhs_cycles_free(c);
	input_close(&o, h, a);
	return EXIT_OK;
}
