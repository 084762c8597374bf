/* pyheapsnap diff: what grew between two heaps, and who holds it. */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/containers.h"
#include "pyheapsnap.h"

enum diff_by { BY_TYPE, BY_PATH, BY_OBJECT, BY_SITE };
enum { OPT_BY = OPT_VERB_FIRST, OPT_FAIL_IF_GROWTH };

struct diff_options {
	enum diff_by by;
	uint64_t n;
	bool gate;
	bool gate_percent;
	double gate_value; /* bytes, or percent of A's total */
};

static void help(void)
{
	printf("usage: pyheapsnap diff [OPTIONS] A B\n"
	       "\n"
	       "Compares two heaps (cores or snapshots, A before B) and reports what grew:\n"
	       "by type, by where it is held, or object by object.\n"
	       "\n"
	       "Options:\n"
	       "      --by type          count and size deltas per type (the default)\n"
	       "      --by path          growth charged to where it is held: the root and\n"
	       "                         the labels and types down to it, with addresses\n"
	       "                         masked and indices collapsed\n"
	       "      --by object        objects new in B by type (with the largest and\n"
	       "                         its holder), gone from A, and survivors, matched\n"
	       "                         by address, type and value (both inputs must come\n"
	       "                         from the same process)\n"
	       "      --by site          count and size deltas per allocation site (the\n"
	       "                         line tracemalloc saw allocate the object; both\n"
	       "                         inputs traced: cores or --pid, not snapshots)\n"
	       "  -n N                   rows to show in text (default 20; JSON has all)\n"
	       "      --fail-if-growth T exit 1 when the total grows by more than T: a size\n"
	       "                         (100KB, 2MiB, 1048576) or a percentage of A (5%%);\n"
	       "                         the report is printed either way\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

/* "100KB", "2MiB", "1048576", "5%". */
static bool parse_threshold(const char *arg, struct diff_options *d)
{
	char *end;
	double v = strtod(arg, &end);
	if (end != arg && v >= 0 && isfinite(v) && !strcmp(end, "%")) {
		d->gate_percent = true;
		d->gate_value = v;
		return true;
	}
	return parse_size(arg, &d->gate_value);
}

static int option(void *ctx, int opt, const char *arg)
{
	struct diff_options *d = ctx;
	switch (opt) {
	case OPT_BY:
		if (!strcmp(arg, "type"))
			d->by = BY_TYPE;
		else if (!strcmp(arg, "path"))
			d->by = BY_PATH;
		else if (!strcmp(arg, "object"))
			d->by = BY_OBJECT;
		else if (!strcmp(arg, "site"))
			d->by = BY_SITE;
		else
			return usage_error("diff", "--by takes type, path, object or site, not '%s'", arg);
		return 0;
	case OPT_FAIL_IF_GROWTH:
		if (!parse_threshold(arg, d))
			return usage_error("diff", "--fail-if-growth takes a size (100KB, 2MiB) or a percentage (5%%), not '%s'", arg);
		d->gate = true;
		return 0;
	case 'n':
		if (!parse_count(arg, &d->n))
			return usage_error("diff", "-n takes a positive whole number, not '%s'", arg);
		return 0;
	default:
		return usage_error("diff", "unknown option");
	}
}

/* Count and bytes per key, with an object of B (or A) to describe it. */
struct tally {
	int64_t count_a, count_b;
	int64_t bytes_a, bytes_b;
	uint64_t example;  /* object number */
	bool example_in_b;
};
#define HASH_KEY(k) pyhs_hash_u64(k)
DEFINE_HASH_MAP(tally_map, uint64_t, struct tally, HASH_KEY, PYHS_EQ_SCALAR)

struct row {
	uint64_t key;
	struct tally t;
};
DEFINE_VECTOR(row_vector, struct row)

static int by_growth(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	int64_t da = a->t.bytes_b - a->t.bytes_a, db = b->t.bytes_b - b->t.bytes_a;
	if (da != db)
		return da < db ? 1 : -1;
	int64_t ca = a->t.count_b - a->t.count_a, cb = b->t.count_b - b->t.count_a;
	if (ca != cb)
		return ca < cb ? 1 : -1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static struct pyhs_error *tally_add(struct tally_map *m, uint64_t key, bool in_b,
				    uint64_t bytes, uint64_t obj)
{
	bool inserted;
	struct tally *t = tally_map_insert(m, key, &inserted);
	if (!t)
		return &pyhs_enomem;
	if (inserted)
		memset(t, 0, sizeof(*t));
	if (in_b) {
		t->count_b++;
		t->bytes_b += (int64_t)bytes;
		if (!t->example_in_b) {
			t->example = obj;
			t->example_in_b = true;
		}
	} else {
		t->count_a++;
		t->bytes_a += (int64_t)bytes;
		if (t->count_a == 1 && !t->example_in_b)
			t->example = obj;
	}
	return NULL;
}

static uint64_t type_key(const struct pyhs_heap *h, uint64_t i)
{
	return pyhs_hash_str(pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
}

static void print_signed(char *buf, size_t n, int64_t v, bool bytes)
{
	char tmp[32];
	uint64_t a = (uint64_t)(v < 0 ? -v : v);
	if (bytes)
		pyhs_format_bytes(a, tmp, sizeof(tmp));
	else
		fmt_count(a, tmp, sizeof(tmp));
	snprintf(buf, n, "%s%s", v < 0 ? "-" : v > 0 ? "+" : "", tmp);
}

struct totals {
	uint64_t count_a, count_b, bytes_a, bytes_b;
};

/* Rows from both heaps, keyed by type or by retention path. */
static int diff_rows(const struct pyhs_heap *a, const struct pyhs_heap *b,
		     const struct input_options *o, bool by_path,
		     struct pyhs_retention *ra, struct pyhs_retention *rb,
		     struct pyhs_allocations *const *sites, struct row_vector *rows)
{
	struct tally_map m;
	tally_map_init(&m);
	struct pyhs_error *err = NULL;
	for (int side = 0; side < 2 && !err; side++) {
		const struct pyhs_heap *h = side ? b : a;
		struct pyhs_retention *r = side ? rb : ra;
		uint64_t n = pyhs_heap_nobjects(h);
		for (uint64_t i = 0; i < n && !err; i++) {
			if (!gen_matches(o, h, i))
				continue;
			uint64_t key = sites ? site_key(h, sites[side], i) :
				       by_path ? pyhs_retention_key(r, i) : type_key(h, i);
			err = tally_add(&m, key, side, pyhs_heap_size(h, i), i);
		}
	}
	for (size_t k = tally_map_first(&m); k != SIZE_MAX && !err; k = tally_map_next(&m, k)) {
		struct row row = { m.slots[k].key, m.slots[k].value };
		if (row.t.count_a == row.t.count_b && row.t.bytes_a == row.t.bytes_b)
			continue;
		if (!row_vector_append(rows, row))
			err = &pyhs_enomem;
	}
	tally_map_deinit(&m);
	if (err)
		return report_error(err);
	if (rows->size > 1)
		qsort(rows->data, rows->size, sizeof(*rows->data), by_growth);
	return 0;
}

static void row_name(const struct row *r, const struct pyhs_heap *a,
		     const struct pyhs_heap *b, bool by_path,
		     struct pyhs_retention *ra, struct pyhs_retention *rb,
		     char *buf, size_t n)
{
	const struct pyhs_heap *h = r->t.example_in_b ? b : a;
	uint64_t i = r->t.example;
	const char *tn = pyhs_heap_type_name(h, pyhs_heap_type_of(h, i));
	if (!by_path) {
		snprintf(buf, n, "%s", tn);
		return;
	}
	char where[1024];
	pyhs_retention_describe(r->t.example_in_b ? rb : ra, i, where, sizeof(where));
	snprintf(buf, n, "%s under %s", tn, where);
}

int growth_by_holder(const struct pyhs_heap *a, const struct pyhs_heap *b,
		     const struct input_options *o, size_t max,
		     struct pyhs_report_growth **ret, size_t *ret_n)
{
	struct pyhs_retention *ra = NULL, *rb = NULL;
	struct pyhs_error *err = pyhs_retention_create(a, &ra);
	if (!err)
		err = pyhs_retention_create(b, &rb);
	if (err) {
		pyhs_retention_destroy(ra);
		return report_error(err);
	}
	struct row_vector rows;
	row_vector_init(&rows);
	int r = diff_rows(a, b, o, true, ra, rb, NULL, &rows);
	size_t n = rows.size < max ? rows.size : max;
	struct pyhs_report_growth *g = r ? NULL : calloc(n ? n : 1, sizeof(*g));
	if (!r && !g)
		r = report_error(&pyhs_enomem);
	for (size_t k = 0; !r && k < n; k++) {
		char name[2200];
		row_name(&rows.data[k], a, b, true, ra, rb, name, sizeof(name));
		g[k].count_delta = rows.data[k].t.count_b - rows.data[k].t.count_a;
		g[k].bytes_delta = rows.data[k].t.bytes_b - rows.data[k].t.bytes_a;
		if (!(g[k].where = strdup(name))) {
			growth_free(g, k);
			g = NULL;
			r = report_error(&pyhs_enomem);
		}
	}
	row_vector_deinit(&rows);
	pyhs_retention_destroy(ra);
	pyhs_retention_destroy(rb);
	if (!r) {
		*ret = g;
		*ret_n = n;
	}
	return r;
}

void growth_free(struct pyhs_report_growth *g, size_t n)
{
	for (size_t k = 0; g && k < n; k++)
		free((char *)g[k].where);
	free(g);
}

struct new_type {
	uint32_t type;
	uint64_t count, bytes;
	uint64_t example; /* the largest */
};

static int new_type_bytes_desc(const void *x, const void *y)
{
	const struct new_type *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return a->type < b->type ? -1 : a->type > b->type;
}

/* diff --by object's new objects, a row per type, largest first, each
 * with its largest new object and that object's holder; -1 to go on. */
static int print_new_types(const struct pyhs_heap *b, const struct input_options *o,
			   const struct diff_options *d, struct new_type *bt, uint32_t nt)
{
	struct pyhs_analysis *an = NULL;
	struct pyhs_holders *hs = NULL;
	struct pyhs_error *err = pyhs_analysis_create(b, &an);
	if (!err)
		err = pyhs_holders_create(b, an, &hs);
	if (err) {
		pyhs_analysis_destroy(an);
		return report_error(err);
	}
	uint32_t m = 0;
	for (uint32_t k = 0; k < nt; k++) {
		bt[k].type = k;
		if (bt[k].count)
			bt[m++] = bt[k];
	}
	qsort(bt, m, sizeof(*bt), new_type_bytes_desc);
	if (o->json)
		fputs("\"objects\": {\"new\": [", stdout);
	else
		printf("new in B, by type:\n%14s %14s  %-24s %s\n", "count", "size", "type",
		       "largest, and its holder");
	char preview[96], holder[512], b1[32], b2[32];
	for (uint32_t q = 0; q < m && (o->json || q < d->n); q++) {
		const struct new_type *t = &bt[q];
		const char *tn = pyhs_heap_type_name(b, t->type);
		pyhs_heap_preview(b, t->example, preview, sizeof(preview));
		pyhs_holders_name(hs, t->example, holder, sizeof(holder));
		if (o->json) {
			fputs(q ? ", {\"type\": " : "{\"type\": ", stdout);
			pyhs_json_string(stdout, tn);
			printf(", \"count\": %" PRIu64 ", \"size\": %" PRIu64
			       ", \"example\": {\"addr\": %" PRIu64 ", \"holder\": ",
			       t->count, t->bytes, pyhs_heap_addr(b, t->example));
			pyhs_json_string(stdout, holder);
			printf(", \"size\": %" PRIu64 ", \"preview\": ", pyhs_heap_size(b, t->example));
			pyhs_json_string(stdout, preview);
			fputs("}}", stdout);
		} else {
			printf("%14s %14s  %-24s 0x%" PRIx64 " %s  %s\n",
			       fmt_count(t->count, b1, sizeof(b1)),
			       pyhs_format_bytes(t->bytes, b2, sizeof(b2)), tn,
			       pyhs_heap_addr(b, t->example), preview, holder);
		}
	}
	if (!o->json && m > d->n)
		printf("  ... and %" PRIu64 " more types\n", (uint64_t)(m - d->n));
	pyhs_holders_destroy(hs);
	pyhs_analysis_destroy(an);
	return -1;
}

/* diff --by site needs both inputs' traces: -1 to go on, else the exit
 * code after saying which input has none. */
static int check_traced(char **args, struct pyhs_allocations *const *al)
{
	for (int k = 0; k < 2; k++) {
		if (al[k] && pyhs_allocations_status(al[k]) == PYHS_ALLOCATIONS_OK)
			continue;
		log_error("--by site needs tracemalloc's traces, and '%s' has none: %s", args[k],
			  !al[k] ? "a snapshot keeps no traces" :
			  pyhs_allocations_status(al[k]) == PYHS_ALLOCATIONS_OFF ?
			  "tracemalloc was not tracing (run with -X tracemalloc or PYTHONTRACEMALLOC)" :
			  pyhs_allocations_missing(al[k]));
		return EXIT_INPUT;
	}
	return -1;
}

static int diff_by_object(const struct pyhs_heap *a, const struct pyhs_heap *b,
			  const struct input_options *o, const struct diff_options *d)
{
	const struct pyhs_heap_meta *ma = pyhs_heap_meta(a), *mb = pyhs_heap_meta(b);
	if (ma->pid != mb->pid || (ma->start_time && mb->start_time &&
				   ma->start_time != mb->start_time)) {
		log_error("--by object needs both inputs from the same process (pids %d and %d)",
			  ma->pid, mb->pid);
		return EXIT_USAGE;
	}
	uint64_t nb = pyhs_heap_nobjects(b), na = pyhs_heap_nobjects(a);
	uint8_t *matched_a = calloc(na ? na : 1, 1);
	if (!matched_a)
		return report_error(&pyhs_enomem);
	uint64_t new_count = 0, new_bytes = 0, surv = 0, surv_bytes = 0, aged = 0;
	uint64_t gone = 0, gone_bytes = 0;
	/* New objects by type, each type with its largest new object. */
	uint32_t nt = pyhs_heap_ntypes(b);
	struct new_type *bt = calloc(nt ? nt : 1, sizeof(*bt));
	if (!bt) {
		free(matched_a);
		return report_error(&pyhs_enomem);
	}
	for (uint64_t i = 0; i < nb; i++) {
		if (!gen_matches(o, b, i))
			continue;
		uint64_t j;
		const char *tb = pyhs_heap_type_name(b, pyhs_heap_type_of(b, i));
		bool same = pyhs_heap_find(a, pyhs_heap_addr(b, i), &j) &&
			    !strcmp(tb, pyhs_heap_type_name(a, pyhs_heap_type_of(a, j)));
		if (same) {
			const char *va = pyhs_heap_value(a, j), *vb = pyhs_heap_value(b, i);
			same = (!va && !vb) || (va && vb && !strcmp(va, vb));
		}
		if (same) {
			matched_a[j] = 1;
			surv++;
			surv_bytes += pyhs_heap_size(b, i);
			enum pyhs_gen ga = pyhs_heap_gen(a, j), gb = pyhs_heap_gen(b, i);
			if (ga <= PYHS_GEN_2 && gb <= PYHS_GEN_PERMANENT && gb > ga)
				aged++;
			continue;
		}
		new_count++;
		new_bytes += pyhs_heap_size(b, i);
		struct new_type *t = &bt[pyhs_heap_type_of(b, i)];
		if (!t->count || pyhs_heap_size(b, i) > pyhs_heap_size(b, t->example))
			t->example = i;
		t->count++;
		t->bytes += pyhs_heap_size(b, i);
	}
	int r = print_new_types(b, o, d, bt, nt);
	free(bt);
	if (r >= 0) {
		free(matched_a);
		return r;
	}
	for (uint64_t j = 0; j < na; j++) {
		if (matched_a[j] || !gen_matches(o, a, j))
			continue;
		gone++;
		gone_bytes += pyhs_heap_size(a, j);
	}
	free(matched_a);
	char b1[32], b2[32];
	if (o->json) {
		printf("], \"new_count\": %" PRIu64 ", \"new_bytes\": %" PRIu64
		       ", \"gone_count\": %" PRIu64 ", \"gone_bytes\": %" PRIu64
		       ", \"survivors\": %" PRIu64 ", \"survivor_bytes\": %" PRIu64
		       ", \"aged\": %" PRIu64 "}", new_count, new_bytes, gone, gone_bytes,
		       surv, surv_bytes, aged);
	} else {
		printf("\nnew:       %s objects, %s\n", fmt_count(new_count, b1, sizeof(b1)),
		       pyhs_format_bytes(new_bytes, b2, sizeof(b2)));
		printf("gone:      %s objects, %s\n", fmt_count(gone, b1, sizeof(b1)),
		       pyhs_format_bytes(gone_bytes, b2, sizeof(b2)));
		printf("survivors: %s objects, %s; %s moved to an older generation\n",
		       fmt_count(surv, b1, sizeof(b1)), pyhs_format_bytes(surv_bytes, b2, sizeof(b2)),
		       fmt_count(aged, (char[32]){ 0 }, 32));
	}
	return -1;
}

int verb_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ "fail-if-growth", required_argument, NULL, OPT_FAIL_IF_GROWTH },
		{ 0 },
	};
	struct diff_options d = { .by = BY_TYPE, .n = 20 };
	struct verb_spec spec = { "diff", "n:", longopts, help, option, &d, 2, 2 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *a, *b;
	struct pyhs_allocations *al[2] = { NULL, NULL };
	o.want_allocations = d.by == BY_SITE;
	/* The two read at once with jobs. */
	struct pyhs_heap *hs[2];
	if ((r = input_open_two((const char *[2]){ args[0], args[1] }, &o, hs, al)))
		return r;
	a = hs[0];
	b = hs[1];
	if (d.by == BY_SITE && (r = check_traced(args, al)) >= 0) {
		pyhs_allocations_destroy(al[0]);
		pyhs_allocations_destroy(al[1]);
		pyhs_heap_destroy(a);
		pyhs_heap_destroy(b);
		return r;
	}
	struct totals tot = { 0 };
	for (uint64_t i = 0; i < pyhs_heap_nobjects(a); i++)
		if (gen_matches(&o, a, i)) {
			tot.count_a++;
			tot.bytes_a += pyhs_heap_size(a, i);
		}
	for (uint64_t i = 0; i < pyhs_heap_nobjects(b); i++)
		if (gen_matches(&o, b, i)) {
			tot.count_b++;
			tot.bytes_b += pyhs_heap_size(b, i);
		}
	int64_t growth = (int64_t)tot.bytes_b - (int64_t)tot.bytes_a;
	struct pyhs_retention *ra = NULL, *rb = NULL;
	struct row_vector rows;
	row_vector_init(&rows);
	r = -1;
	if (d.by == BY_PATH) {
		struct pyhs_error *err = pyhs_retention_create(a, &ra);
		if (!err)
			err = pyhs_retention_create(b, &rb);
		if (err)
			r = report_error(err);
	}
	if (r < 0 && d.by == BY_OBJECT) {
		if (o.json)
			fputs("{", stdout);
		r = diff_by_object(a, b, &o, &d);
		/* The JSON object goes on with the totals below. */
		if (r < 0 && o.json)
			fputs(", ", stdout);
	} else if (r < 0) {
		r = diff_rows(a, b, &o, d.by == BY_PATH, ra, rb, d.by == BY_SITE ? al : NULL, &rows);
		if (!r)
			r = -1;
	}
	if (r < 0) {
		char name[2200], c1[40], c2[40];
		const char *section = d.by == BY_PATH ? "paths" : d.by == BY_SITE ? "sites" : "types";
		if (d.by != BY_OBJECT) {
			if (o.json)
				printf("{\"%s\": [", section);
			else
				printf("%14s %14s  %s\n", "count", "size", d.by == BY_PATH ? "held by" :
				       d.by == BY_SITE ? "allocated at" : "type");
			/* -n limits the text; JSON has every row. */
			for (size_t k = 0; k < rows.size && (o.json || k < d.n); k++) {
				const struct row *row = &rows.data[k];
				row_name(row, a, b, d.by == BY_PATH, ra, rb, name, sizeof(name));
				if (d.by == BY_SITE)
					site_name(row->t.example_in_b ? b : a, al[row->t.example_in_b],
						  row->t.example, name, sizeof(name));
				int64_t dc = row->t.count_b - row->t.count_a;
				int64_t db = row->t.bytes_b - row->t.bytes_a;
				if (o.json) {
					printf("%s{\"%s\": ", k ? ", " : "", d.by == BY_PATH ? "path" :
					       d.by == BY_SITE ? "site" : "type");
					if (d.by == BY_PATH) {
						char where[1024];
						pyhs_retention_describe(row->t.example_in_b ? rb : ra,
									row->t.example, where, sizeof(where));
						pyhs_json_string(stdout, where);
						fputs(", \"root_info\": ", stdout);
						const struct pyhs_heap *h = row->t.example_in_b ? b : a;
						print_root_json(h, pyhs_retention_root(row->t.example_in_b ? rb : ra,
											 row->t.example), stdout);
						fputs(", \"type\": ", stdout);
						pyhs_json_string(stdout, pyhs_heap_type_name(h, pyhs_heap_type_of(h, row->t.example)));
					} else {
						pyhs_json_string(stdout, name);
					}
					printf(", \"count_delta\": %" PRId64 ", \"size_delta\": %" PRId64
					       ", \"count_a\": %" PRId64 ", \"count_b\": %" PRId64
					       ", \"size_a\": %" PRId64 ", \"size_b\": %" PRId64 "}",
					       dc, db, row->t.count_a, row->t.count_b,
					       row->t.bytes_a, row->t.bytes_b);
				} else {
					print_signed(c1, sizeof(c1), dc, false);
					print_signed(c2, sizeof(c2), db, true);
					printf("%14s %14s  %s\n", c1, c2, name);
				}
			}
			if (o.json)
				fputs("]", stdout);
			else if (rows.size > d.n)
				printf("  ... and %zu more\n", rows.size - d.n);
		}
		double limit = d.gate_percent ? (double)tot.bytes_a * d.gate_value / 100.0 :
						d.gate_value;
		bool tripped = d.gate && (double)growth > limit;
		if (o.json) {
			printf("%s\"total\": {\"count_a\": %" PRIu64 ", \"count_b\": %" PRIu64
			       ", \"size_a\": %" PRIu64 ", \"size_b\": %" PRIu64
			       ", \"count_delta\": %" PRId64 ", \"size_delta\": %" PRId64 "}",
			       d.by == BY_OBJECT ? "" : ", ", tot.count_a, tot.count_b,
			       tot.bytes_a, tot.bytes_b,
			       (int64_t)tot.count_b - (int64_t)tot.count_a, growth);
			if (d.gate)
				printf(", \"gate\": {\"threshold_bytes\": %.0f, \"exceeded\": %s}",
				       limit, tripped ? "true" : "false");
			fputs("}\n", stdout);
		} else {
			print_signed(c1, sizeof(c1), (int64_t)tot.count_b - (int64_t)tot.count_a, false);
			print_signed(c2, sizeof(c2), growth, true);
			printf("\ntotal: %s objects, %s (%s -> %s)\n", c1, c2,
			       pyhs_format_bytes(tot.bytes_a, name, 32), pyhs_format_bytes(tot.bytes_b, name + 32, 32));
			if (d.gate)
				printf("gate: growth %s the threshold of %s\n",
				       tripped ? "exceeds" : "is within",
				       pyhs_format_bytes((uint64_t)limit, name + 64, 32));
		}
		r = tripped ? EXIT_GATE : EXIT_OK;
	}
	row_vector_deinit(&rows);
	pyhs_retention_destroy(ra);
	pyhs_retention_destroy(rb);
	pyhs_allocations_destroy(al[0]);
	pyhs_allocations_destroy(al[1]);
	pyhs_heap_destroy(a);
	pyhs_heap_destroy(b);
	return r;
}
