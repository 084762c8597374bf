/* pyheapsnap export: the heap for other tools (JSON lines, CSV tables, V8
 * heap snapshots, flame graphs). */
#include <getopt.h>
#include <errno.h>
#include <string.h>

#include "pyheapsnap.h"

enum format { JSONL, CSV, HEAPSNAPSHOT, SPEEDSCOPE, FOLDED };
static const char *const format_names[] = { "jsonl", "csv", "heapsnapshot", "speedscope", "folded" };

static void help(void)
{
	printf("usage: pyheapsnap export [OPTIONS] INPUT [--format FORMAT] [-o FILE]\n"
	       "\n"
	       "Writes the heap in INPUT (a core file, plain or zstd-compressed, or a\n"
	       "snapshot) for other tools.\n"
	       "\n"
	       "Formats:\n"
	       "  jsonl          a header line, one JSON object per object (addr, type,\n"
	       "                 size, refcnt, immortal, gen, refs, edges), then one per\n"
	       "                 root (root, object, owned); the default\n"
	       "  csv            objects.csv, edges.csv and roots.csv in the directory\n"
	       "                 -o names (made if missing), for DuckDB, pandas, ...\n"
	       "  heapsnapshot   a V8 heap snapshot for Chrome DevTools' Memory panel\n"
	       "                 and memlab (objects named by type, edges by label)\n"
	       "  speedscope     a retention flame graph for speedscope: one stack per\n"
	       "                 dominator-tree path from the roots, in shallow bytes\n"
	       "  folded         the same as folded stacks for flamegraph.pl or inferno\n"
	       "\n"
	       "Options:\n"
	       "      --format FORMAT    jsonl, csv, heapsnapshot, speedscope or folded\n"
	       "  -o, --output FILE      write to FILE instead of standard output (for\n"
	       "                         csv: the directory, required); written whole or\n"
	       "                         not at all\n"
	       INPUT_OPTIONS_HELP
	       "                         (--gen applies to jsonl only)\n"
	       "  -h, --help             show this help\n");
}

struct export_options {
	const char *output;
	enum format format;
	struct pyhs_heap *heap; /* for write_export */
	int gen;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct export_options *e = ctx;
	switch (opt) {
	case OPT_FORMAT:
		for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
			if (!strcmp(arg, format_names[i])) {
				e->format = (enum format)i;
				return 0;
			}
		}
		return usage_error("export", "unknown format '%s' (known: jsonl, csv, heapsnapshot,"
				   " speedscope, folded)", arg);
	case 'o':
		return output_option("export", arg, &e->output);
	default:
		return usage_error("export", "unknown option");
	}
}

static struct pyhs_error *write_export(void *ctx, FILE *out)
{
	const struct export_options *e = ctx;
	struct pyhs_heap *h = e->heap;
	int gen = e->gen;
	if (e->format == JSONL)
		return pyhs_export_jsonl_gen(h, gen, out);
	struct pyhs_analysis *a;
	struct pyhs_error *err = pyhs_analysis_create(h, &a);
	if (err)
		return err;
	if (e->format == HEAPSNAPSHOT) {
		err = pyhs_export_heapsnapshot(h, a, out);
	} else {
		struct pyhs_domtree *t;
		if (!(err = pyhs_domtree_create(a, &t))) {
			err = e->format == FOLDED ? pyhs_export_folded(h, t, out) :
						    pyhs_export_speedscope(h, t, out);
			pyhs_domtree_destroy(t);
		}
	}
	pyhs_analysis_destroy(a);
	return err;
}

/* The three tables, each written atomically; a signal stops the write
 * between tables, and the one being written is removed. */
static int export_csv(const struct pyhs_heap *h, const char *dir)
{
	signals_install(true);
	signals_defer(true);
	struct pyhs_error *err = pyhs_export_csv(h, dir, &signals_cancel);
	if (!err)
		signals_written();
	signals_defer(false);
	return err ? report_error(err) : signals_exit_status();
}

int verb_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	struct export_options e = { 0 };
	struct verb_spec spec = { "export", "o:", longopts, help, option, &e, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	if (o.gen >= 0 && e.format != JSONL)
		return usage_error("export", "--gen applies to --format jsonl only (a graph"
				   " needs every object)");
	if (e.format == CSV && !e.output)
		return usage_error("export", "--format csv writes three tables: name their"
				   " directory with -o DIR");
	/* The output first: a path that cannot be written stops the export
	 * before the input is read. */
	if (e.format != CSV && e.output &&
	    (r = output_open(e.output, PYHS_OUTPUT_EXPORT, &o)))
		return r;
	struct pyhs_heap *h;
	if ((r = input_open(args[0], &o, &h))) {
		output_close(&o);
		return r;
	}
	e.heap = h;
	e.gen = o.gen;
	if (e.format == CSV)
		r = export_csv(h, e.output);
	else
		r = output_write(&o, e.output, write_export, &e);
	pyhs_heap_destroy(h);
	return r;
}
