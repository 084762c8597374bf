/* pyheapsnap report: the heap as one self-contained HTML page. */
#include <inttypes.h>
#include <string.h>

#include "pyheapsnap.h"

#define NGROWTH 30

static void help(void)
{
	printf("usage: pyheapsnap report [OPTIONS] INPUT [INPUT2] -o FILE\n"
	       "\n"
	       "Writes an HTML report of the heap in INPUT (a core file or a snapshot):\n"
	       "the summary, the largest retainers and where they are held, the dominator\n"
	       "tree as a zoomable icicle by retained size, and the largest types. With\n"
	       "INPUT2, the report is of INPUT2 and also shows what grew since INPUT, by\n"
	       "holder. One file with everything inline (no network, no external scripts\n"
	       "or fonts) that opens from file:// in any browser; subtrees under 1/2000\n"
	       "of the heap are drawn grouped by holder name, so it stays small at any\n"
	       "heap size.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE      write the report to FILE (written whole or not at\n"
	       "                         all; standard output without -o)\n"
	       INPUT_OPTIONS_HELP
	       "                         (with --json, what was written is printed as JSON)\n"
	       "  -h, --help             show this help\n");
}

struct report_job {
	const struct pyhs_report *rep;
	struct pyhs_report_stats *stats;
};

static struct pyhs_error *write_report(void *ctx, FILE *out)
{
	struct report_job *job = ctx;
	return pyhs_report_write(job->rep, out, job->stats);
}

int verb_report(int argc, char **argv)
{
	static const struct output_verb verb = {
		"report", help, PYHS_OUTPUT_REPORT, 2, false,
		"--gen does not apply: the report is of the whole heap",
		"--json prints what was written: name the report with -o FILE",
	};
	struct input_options o = { 0 };
	const char *output;
	char **args;
	int nargs;
	int r = output_verb_start(&verb, argc, argv, &o, &output, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *before = NULL, *h;
	if (nargs == 2 && (r = input_open(args[0], &o, &before))) {
		output_close(&o);
		return r;
	}
	if ((r = input_open(args[nargs - 1], &o, &h))) {
		output_close(&o);
		pyhs_heap_destroy(before);
		return r;
	}
	struct pyhs_report rep = { .heap = h };
	struct pyhs_report_growth *growth = NULL;
	if (before) {
		rep.before_input = pyhs_heap_meta(before)->input;
		r = growth_by_holder(before, h, &o, NGROWTH, &growth, &rep.ngrowth);
		rep.growth = growth;
	}
	struct pyhs_analysis *a = NULL;
	struct pyhs_domtree *t = NULL;
	struct pyhs_error *err = NULL;
	struct pyhs_report_stats stats = { 0 };
	if (!r) {
		err = pyhs_analysis_create(h, &a);
		if (!err)
			err = pyhs_domtree_create(a, &t);
		rep.analysis = a;
		rep.tree = t;
	}
	struct report_job job = { &rep, &stats };
	if (!r && err)
		r = report_error(err);
	if (r)
		output_close(&o);
	else
		r = output_write(&o, output, write_report, &job);
	if (!r && o.json) {
		fputs("{\"output\": ", stdout);
		pyhs_json_string(stdout, output);
		printf(", \"objects\": %" PRIu64 ", \"tree_nodes\": %" PRIu64
		       ", \"grouped_objects\": %" PRIu64 ", \"groups\": %" PRIu64
		       ", \"growth_rows\": %zu}\n", pyhs_heap_nobjects(h), stats.nodes,
		       stats.grouped_objects, stats.groups, rep.ngrowth);
	}
	growth_free(growth, rep.ngrowth);
	pyhs_domtree_destroy(t);
	pyhs_analysis_destroy(a);
	pyhs_heap_destroy(h);
	pyhs_heap_destroy(before);
	return r;
}
