/* pyheapsnap top: objects, or types, ranked by retained or shallow size. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/rank.h"
#include "pyheapsnap.h"

enum rank { BY_RETAINED, BY_SHALLOW, BY_COUNT };

struct top_options {
	enum rank by;
	bool group_type;
	uint64_t n;
	const char *type;
};

enum { OPT_BY = OPT_VERB_FIRST, OPT_GROUP, OPT_TYPE };

static void help(void)
{
	printf("usage: pyheapsnap top [OPTIONS] INPUT\n"
	       "\n"
	       "Ranks the objects of the heap in INPUT (a core file or a snapshot) by the\n"
	       "memory they keep alive (retained size: what would be freed with them),\n"
	       "or by their own size; with --group type, ranks types.\n"
	       "\n"
	       "Options:\n"
	       "      --by KEY           retained (default), shallow, or count (with\n"
	       "                         --group type)\n"
	       "      --group type       one row per type: count, size, retained size\n"
	       "  -n N                   rows to show (default 20)\n"
	       "      --type T           only objects of type T (e.g. dict, __main__.Leaky;\n"
	       "                         an unqualified class name, Leaky, matches the\n"
	       "                         qualified names that end in it, said on stderr)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static int option(void *ctx, int opt, const char *arg)
{
	struct top_options *t = ctx;
	switch (opt) {
	case OPT_BY:
		if (!strcmp(arg, "retained"))
			t->by = BY_RETAINED;
		else if (!strcmp(arg, "shallow"))
			t->by = BY_SHALLOW;
		else if (!strcmp(arg, "count"))
			t->by = BY_COUNT;
		else
			return usage_error("top", "--by takes retained, shallow or count, not '%s'", arg);
		return 0;
	case OPT_GROUP:
		if (strcmp(arg, "type") != 0)
			return usage_error("top", "--group takes 'type', not '%s'", arg);
		t->group_type = true;
		return 0;
	case OPT_TYPE:
		t->type = arg;
		return 0;
	case 'n':
		if (!parse_count(arg, &t->n))
			return usage_error("top", "-n takes a positive whole number, not '%s'", arg);
		return 0;
	default:
		return usage_error("top", "unknown option");
	}
}

static const uint64_t *sort_key;
static int key_desc(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	if (sort_key[a] != sort_key[b])
		return sort_key[a] < sort_key[b] ? 1 : -1;
	return a < b ? -1 : a > b;
}

/* Which types --type T selects; says on stderr what an unqualified name
 * matched ("UserCard" for "__main__.UserCard"), or that several or no
 * names did. */
static void note_type_match(const char *name, const struct pyhs_heap *h, uint8_t *wanted)
{
	const char *first;
	uint64_t names = pyhs_heap_match_types(h, name, wanted, &first);
	if (names == 0) {
		fprintf(stderr, "top: no type is named '%s'\n", name);
		return;
	}
	if (strcmp(first, name) == 0)
		return;
	if (names == 1) {
		fprintf(stderr, "top: --type %s matched %s\n", name, first);
		return;
	}
	fprintf(stderr, "top: --type %s matched %" PRIu64 " types:", name, names);
	uint32_t nt = pyhs_heap_ntypes(h);
	for (uint32_t k = 0; k < nt; k++)
		if (wanted[k] == 1)
			fprintf(stderr, " %s", pyhs_heap_type_name(h, k));
	fputc('\n', stderr);
}

/* Retained size of each type's instances taken together: an instance
 * inside another instance's dominator subtree adds nothing. */
static int type_retained(const struct pyhs_heap *h, const struct pyhs_analysis *a,
			 uint64_t *ret)
{
	uint64_t n = pyhs_heap_nobjects(h);
	uint32_t nt = pyhs_heap_ntypes(h);
	struct pyhs_domtree *t;
	struct pyhs_error *err = pyhs_domtree_create(a, &t);
	if (err)
		return report_error(err);
	uint32_t *active = calloc(nt ? nt : 1, sizeof(*active));
	uint64_t *stack = malloc((n + 1) * sizeof(*stack));
	if (!active || !stack) {
		free(active);
		free(stack);
		pyhs_domtree_destroy(t);
		return report_error(&pyhs_enomem);
	}
	/* Depth-first over the tree; a node's bit 63 marks its exit. */
	uint64_t top = 0;
	stack[top++] = pyhs_domtree_top(t);
	while (top) {
		uint64_t v = stack[--top];
		if (v >> 63) {
			active[pyhs_heap_type_of(h, v & ~(UINT64_C(1) << 63))]--;
			continue;
		}
		if (v < n) {
			uint32_t ty = pyhs_heap_type_of(h, v);
			if (!active[ty]++)
				ret[ty] += pyhs_analysis_retained(a, v);
			stack[top++] = v | (UINT64_C(1) << 63);
		}
		const uint32_t *c;
		uint64_t nc = pyhs_domtree_children(t, v, &c);
		for (uint64_t k = 0; k < nc; k++)
			stack[top++] = c[k];
	}
	/* Unreachable objects stand alone. */
	for (uint64_t i = 0; i < n; i++)
		if (pyhs_analysis_idom(a, i) == PYHS_DOM_NONE)
			ret[pyhs_heap_type_of(h, i)] += pyhs_heap_size(h, i);
	free(active);
	free(stack);
	pyhs_domtree_destroy(t);
	return 0;
}

static void print_rows_start(bool json)
{
	if (json)
		fputs("[", stdout);
	else
		printf("%-18s %12s %12s  %-24s %-20s %s\n", "address", "size", "retained", "type",
		       "preview", "holder");
}

/* Row q of the objects ranked. */
static void print_row(const struct pyhs_top_row *row, uint64_t q, bool json)
{
	char b1[32], b2[32];
	if (json) {
		printf("%s{\"addr\": %" PRIu64 ", \"holder\": ", q ? ", " : "", row->addr);
		pyhs_json_string(stdout, row->holder);
		fputs(", \"type\": ", stdout);
		pyhs_json_string(stdout, row->type);
		printf(", \"size\": %" PRIu64 ", \"retained\": %" PRIu64 ", \"gen\": ",
		       row->size, row->retained);
		pyhs_json_gen(stdout, row->gen);
		fputs(", \"preview\": ", stdout);
		pyhs_json_string(stdout, row->preview);
		fputs("}", stdout);
	} else {
		printf("0x%-16" PRIx64 " %12s %12s  %-24s %-20.20s %s\n", row->addr,
		       pyhs_format_bytes(row->size, b1, sizeof(b1)),
		       pyhs_format_bytes(row->retained, b2, sizeof(b2)),
		       row->type, row->preview, row->holder);
	}
}

/* top -n N of the whole heap by retained size from the rows a snapshot or
 * a cache entry keeps (pyhs_snapshot_read_top), without reading the heap:
 * true if they were there to print. */
static bool top_from_rows(const char *path, struct input_options *o, uint64_t n)
{
	struct pyhs_snapshot_top *t;
	if (!input_top_rows(path, o, &t))
		return false;
	uint64_t m = n < t->nobjects ? n : t->nobjects;
	if (m > t->nrows) {
		pyhs_snapshot_top_destroy(t);
		return false;
	}
	print_rows_start(o->json);
	for (uint64_t q = 0; q < m; q++)
		print_row(&t->rows[q], q, o->json);
	if (o->json)
		fputs("]\n", stdout);
	pyhs_snapshot_top_destroy(t);
	return true;
}

int verb_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ 0 },
	};
	struct top_options t = { .by = BY_RETAINED, .n = 20 };
	struct verb_spec spec = { "top", "n:", longopts, help, option, &t, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	if (t.by == BY_COUNT && !t.group_type)
		return usage_error("top", "--by count ranks types: add --group type");
	if (t.by == BY_RETAINED && !t.group_type && !t.type && o.gen < 0 &&
	    top_from_rows(args[0], &o, t.n))
		return EXIT_OK;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	o.cache_beside = true;
	if ((r = input_open_analysed(args[0], &o, &h, &a)))
		return r;
	struct pyhs_error *err;
	uint64_t n = pyhs_heap_nobjects(h);
	uint32_t nt = pyhs_heap_ntypes(h);
	char b1[32], b2[32], b3[32], preview[PYHS_TOP_PREVIEW];
	uint8_t *wanted = t.type ? calloc(nt + 1, 1) : NULL;
	if (t.type && !wanted) {
		input_close(&o, h, a);
		return report_error(&pyhs_enomem);
	}
	if (t.type)
		note_type_match(t.type, h, wanted);
	if (t.group_type) {
		uint64_t *count = calloc(nt + 1, sizeof(*count));
		uint64_t *bytes = calloc(nt + 1, sizeof(*bytes));
		uint64_t *retained = calloc(nt + 1, sizeof(*retained));
		uint64_t *order = malloc((nt + 1) * sizeof(*order));
		if (!count || !bytes || !retained || !order) {
			r = report_error(&pyhs_enomem);
			goto group_out;
		}
		if ((r = type_retained(h, a, retained)))
			goto group_out;
		for (uint64_t i = 0; i < n; i++) {
			if (!gen_matches(&o, h, i))
				continue;
			count[pyhs_heap_type_of(h, i)]++;
			bytes[pyhs_heap_type_of(h, i)] += pyhs_heap_size(h, i);
		}
		uint64_t m = 0;
		for (uint32_t k = 0; k < nt; k++)
			if (count[k] && (!wanted || wanted[k]))
				order[m++] = k;
		sort_key = t.by == BY_RETAINED ? retained : t.by == BY_SHALLOW ? bytes : count;
		qsort(order, m, sizeof(*order), key_desc);
		if (m > t.n)
			m = t.n;
		if (o.json)
			fputs("[", stdout);
		else
			printf("%14s %14s %14s  %s\n", "count", "size", "retained", "type");
		for (uint64_t q = 0; q < m; q++) {
			uint32_t k = (uint32_t)order[q];
			if (o.json) {
				fputs(q ? ", {\"type\": " : "{\"type\": ", stdout);
				pyhs_json_string(stdout, pyhs_heap_type_name(h, k));
				printf(", \"count\": %" PRIu64 ", \"size\": %" PRIu64
				       ", \"retained\": %" PRIu64 "}", count[k], bytes[k], retained[k]);
			} else {
				printf("%14s %14s %14s  %s\n", fmt_count(count[k], b1, sizeof(b1)),
				       pyhs_format_bytes(bytes[k], b2, sizeof(b2)),
				       pyhs_format_bytes(retained[k], b3, sizeof(b3)),
				       pyhs_heap_type_name(h, k));
			}
		}
		if (o.json)
			fputs("]\n", stdout);
		r = EXIT_OK;
group_out:
		free(count);
		free(bytes);
		free(retained);
		free(order);
	} else {
		uint64_t *order = malloc((n ? n : 1) * sizeof(*order));
		uint64_t *key = malloc((n ? n : 1) * sizeof(*key));
		if (!order || !key) {
			free(order);
			free(key);
			input_close(&o, h, a);
			return report_error(&pyhs_enomem);
		}
		uint64_t m = 0;
		for (uint64_t i = 0; i < n; i++) {
			key[i] = t.by == BY_RETAINED ? pyhs_analysis_retained(a, i) :
						       pyhs_heap_size(h, i);
			if (gen_matches(&o, h, i) &&
			    (!wanted || wanted[pyhs_heap_type_of(h, i)]))
				order[m++] = i;
		}
		m = pyhs_rank_top(key, order, m, t.n);
		struct pyhs_holders *hs;
		err = pyhs_holders_create(h, a, &hs);
		if (err) {
			free(order);
			free(key);
			input_close(&o, h, a);
			return report_error(err);
		}
		char holder[PYHS_TOP_HOLDER];
		print_rows_start(o.json);
		for (uint64_t q = 0; q < m; q++) {
			uint64_t i = order[q];
			pyhs_heap_preview(h, i, preview, sizeof(preview));
			pyhs_holders_name(hs, i, holder, sizeof(holder));
			struct pyhs_top_row row = {
				pyhs_heap_addr(h, i), pyhs_heap_size(h, i),
				pyhs_analysis_retained(a, i), pyhs_heap_gen(h, i),
				pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)), preview, holder,
			};
			print_row(&row, q, o.json);
		}
		if (o.json)
			fputs("]\n", stdout);
		pyhs_holders_destroy(hs);
		free(order);
		free(key);
		r = EXIT_OK;
	}
	free(wanted);
	input_close(&o, h, a);
	return r;
}
