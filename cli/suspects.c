/* pyheapsnap suspects: what most likely leaks, named by its holder. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

enum { OPT_THRESHOLD = OPT_VERB_FIRST };

struct suspects_options {
	struct pyhs_suspect_options s;
};

static void help(void)
{
	printf("usage: pyheapsnap suspects [OPTIONS] INPUT [INPUT2]\n"
	       "\n"
	       "Leak suspects in INPUT (a core, a snapshot or --pid): single objects and\n"
	       "types whose instances retain more than a share of the heap, each followed\n"
	       "down the dominator tree to where its retained size stops flowing into one\n"
	       "child (the accumulation point), with the holder's name, the count and type\n"
	       "of what accumulates there, one sample path and, when tracemalloc traced\n"
	       "it, where it was allocated; then the objects held only by references no\n"
	       "object explains (C code). With INPUT2 (the same program later), growth\n"
	       "suspects: the holders whose retained size grew most from INPUT to INPUT2.\n"
	       "\n"
	       "Options:\n"
	       "      --threshold P      the share of the heap that makes a suspect, in\n"
	       "                         percent (default 10)\n"
	       "  -n N                   suspects of each kind to show (default 10)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static int option(void *ctx, int opt, const char *arg)
{
	struct suspects_options *so = ctx;
	uint64_t n;
	char *end;
	switch (opt) {
	case OPT_THRESHOLD: {
		double v = strtod(arg, &end);
		if (end == arg || (*end && strcmp(end, "%")) || !isfinite(v) || v <= 0 || v > 100)
			return usage_error("suspects", "--threshold takes a percentage above 0 and at most 100, not '%s'", arg);
		so->s.threshold = v / 100;
		return 0;
	}
	case 'n':
		if (!parse_count(arg, &n))
			return usage_error("suspects", "-n takes a positive number, not '%s'", arg);
		so->s.max = (size_t)n;
		return 0;
	}
	return -1;
}

void heap_view_destroy(struct heap_view *v)
{
	pyhs_suspects_destroy(v->suspects);
	pyhs_holders_destroy(v->holders);
	pyhs_domtree_destroy(v->tree);
	if (v->own_analysis)
		pyhs_analysis_destroy(v->analysis);
	memset(v, 0, sizeof(*v));
}

struct pyhs_error *heap_view_create(const struct pyhs_heap *h, struct pyhs_analysis *a,
				    const struct pyhs_suspect_options *so,
				    struct heap_view *ret)
{
	struct heap_view v = { .heap = h, .analysis = a };
	struct pyhs_error *err = NULL;
	if (!a) {
		err = pyhs_analysis_create(h, &v.analysis);
		v.own_analysis = !err;
	}
	if (!err)
		err = pyhs_domtree_create(v.analysis, &v.tree);
	if (!err)
		err = pyhs_holders_create(h, v.analysis, &v.holders);
	if (!err && so)
		err = pyhs_suspects_find(v.tree, so, &v.suspects);
	if (err) {
		heap_view_destroy(&v);
		return err;
	}
	*ret = v;
	return NULL;
}

static void json_site(const struct pyhs_heap *h, const struct pyhs_allocations *al,
		      uint32_t i, FILE *out)
{
	const char *file;
	uint32_t line;
	if (object_site(h, al, i, &file, &line)) {
		fputs("{\"file\": ", out);
		pyhs_json_string(out, file);
		fprintf(out, ", \"line\": %" PRIu32 "}", line);
	} else {
		fputs("null", out);
	}
}

static const char *kind_name(enum pyhs_suspect_kind k)
{
	switch (k) {
	case PYHS_SUSPECT_OBJECT: return "object";
	case PYHS_SUSPECT_TYPE: return "type";
	case PYHS_SUSPECT_C_HELD: return "c_held";
	case PYHS_SUSPECT_GROWTH: return "growth";
	}
	return "?";
}

static void json_holder(const struct heap_view *v, uint32_t i, FILE *out)
{
	char name[512];
	if (i == UINT32_MAX) {
		fputs("null", out);
		return;
	}
	pyhs_holders_name(v->holders, i, name, sizeof(name));
	pyhs_json_string(out, name);
}

static void json_object(const struct heap_view *v, uint32_t i, FILE *out)
{
	const struct pyhs_heap *h = v->heap;
	if (i == UINT32_MAX) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"addr\": %" PRIu64 ", \"holder\": ", pyhs_heap_addr(h, i));
	json_holder(v, i, out);
	fputs(", \"type\": ", out);
	pyhs_json_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
	fprintf(out, ", \"retained\": %" PRIu64 "}", pyhs_domtree_retained(v->tree, i));
}

void print_suspects_json(const struct heap_view *v, const struct pyhs_suspects *s,
			 const struct pyhs_allocations *al, FILE *out)
{
	const struct pyhs_heap *h = v->heap;
	fprintf(out, "{\"total\": %" PRIu64 ", \"threshold_bytes\": %" PRIu64, s->total, s->min);
	if (s->total_before)
		fprintf(out, ", \"total_before\": %" PRIu64, s->total_before);
	fprintf(out, ", \"c_held_objects\": %zu, \"suspects\": [", s->nc_held);
	for (size_t k = 0; k < s->n; k++) {
		const struct pyhs_suspect *x = &s->s[k];
		fprintf(out, "%s{\"kind\": \"%s\", \"addr\": ", k ? ", " : "", kind_name(x->kind));
		if (x->obj == UINT32_MAX)
			fputs("null", out);
		else
			fprintf(out, "%" PRIu64, pyhs_heap_addr(h, x->obj));
		fputs(", \"holder\": ", out);
		json_holder(v, x->obj, out);
		fputs(", \"type\": ", out);
		pyhs_json_string(out, pyhs_heap_type_name(h, x->type));
		fprintf(out, ", \"retained\": %" PRIu64 ", \"count\": %" PRIu64,
			x->retained, x->count);
		if (x->kind == PYHS_SUSPECT_GROWTH)
			fprintf(out, ", \"before\": %" PRIu64 ", \"growth\": %" PRId64,
				x->before, x->growth);
		fputs(", \"point\": ", out);
		json_object(v, x->point, out);
		fputs(", \"accumulated\": ", out);
		if (x->acc_type != UINT32_MAX && x->acc_count) {
			fputs("{\"type\": ", out);
			pyhs_json_string(out, pyhs_heap_type_name(h, x->acc_type));
			fprintf(out, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"sample\": ",
				x->acc_count, x->acc_bytes);
			json_object(v, x->sample, out);
			fputs(", \"sample_path\": ", out);
			struct pyhs_path p;
			if (x->sample != UINT32_MAX && !pyhs_holders_path(v->holders, x->sample, &p)) {
				print_path_json(h, &p, out);
				free(p.edges);
			} else {
				fputs("null", out);
			}
			fputs("}", out);
		} else {
			fputs("null", out);
		}
		fputs(", \"allocated\": ", out);
		json_site(h, al, x->point, out);
		fputs(", \"sample_allocated\": ", out);
		json_site(h, al, x->sample, out);
		fputs("}", out);
	}
	fputs("]}", out);
}

static void percent(char *buf, size_t n, uint64_t part, uint64_t whole)
{
	snprintf(buf, n, "%.1f %%", whole ? 100.0 * (double)part / (double)whole : 0.0);
}

void print_suspects_text(const struct heap_view *v, const struct pyhs_suspects *s,
			 const struct pyhs_allocations *al, bool large_only, FILE *out)
{
	const struct pyhs_heap *h = v->heap;
	char b1[32], b2[32], pc[32], name[512], pname[512], desc[1024];
	enum pyhs_suspect_kind last = (enum pyhs_suspect_kind)-1;
	size_t shown_c = 0;
	for (size_t k = 0; k < s->n; k++) {
		const struct pyhs_suspect *x = &s->s[k];
		if (large_only && x->kind == PYHS_SUSPECT_C_HELD && x->retained < s->min)
			continue;
		if (x->kind != last) {
			last = x->kind;
			percent(pc, sizeof(pc), s->min, s->total);
			switch (x->kind) {
			case PYHS_SUSPECT_OBJECT:
				fprintf(out, "leak suspects (objects retaining at least %s of %s):\n",
					pc, pyhs_format_bytes(s->total, b1, sizeof(b1)));
				break;
			case PYHS_SUSPECT_TYPE:
				fprintf(out, "types whose instances together retain at least %s:\n", pc);
				break;
			case PYHS_SUSPECT_C_HELD:
				fprintf(out, "held only by C code (references no object or root explains),"
					" %zu object%s, largest first:\n", s->nc_held,
					s->nc_held == 1 ? "" : "s");
				break;
			case PYHS_SUSPECT_GROWTH:
				fprintf(out, "growth suspects (%s -> %s), the holders that grew most:\n",
					pyhs_format_bytes(s->total_before, b1, sizeof(b1)),
					pyhs_format_bytes(s->total, b2, sizeof(b2)));
				break;
			}
		}
		if (x->kind == PYHS_SUSPECT_C_HELD)
			shown_c++;
		if (x->kind == PYHS_SUSPECT_TYPE) {
			percent(pc, sizeof(pc), x->retained, s->total);
			fprintf(out, "  %10s (%s)  %s: %s objects\n",
				pyhs_format_bytes(x->retained, b1, sizeof(b1)), pc,
				pyhs_heap_type_name(h, x->type), fmt_count(x->count, b2, sizeof(b2)));
			if (x->point != UINT32_MAX) {
				pyhs_holders_name(v->holders, x->point, pname, sizeof(pname));
				fprintf(out, "      most in %s (%s 0x%" PRIx64 "): %s of them, %s\n", pname,
					pyhs_heap_type_name(h, pyhs_heap_type_of(h, x->point)),
					pyhs_heap_addr(h, x->point), fmt_count(x->acc_count, b1, sizeof(b1)),
					pyhs_format_bytes(x->acc_bytes, b2, sizeof(b2)));
			}
		} else {
			/* Named by where the memory accumulates; the object
			 * above it (MAT's suspect) said after. */
			uint32_t at = x->point != UINT32_MAX ? x->point : x->obj;
			uint64_t r = x->point != UINT32_MAX ? x->point_retained : x->retained;
			pyhs_holders_name(v->holders, at, name, sizeof(name));
			if (x->kind == PYHS_SUSPECT_GROWTH) {
				char g[32];
				pyhs_format_bytes((uint64_t)x->growth, g, sizeof(g));
				fprintf(out, "  %10s  +%s  %s (%s 0x%" PRIx64 ")\n",
					pyhs_format_bytes(r, b1, sizeof(b1)), g, name,
					pyhs_heap_type_name(h, pyhs_heap_type_of(h, at)),
					pyhs_heap_addr(h, at));
			} else {
				percent(pc, sizeof(pc), r, s->total);
				fprintf(out, "  %10s (%s)  %s (%s 0x%" PRIx64 ")\n",
					pyhs_format_bytes(r, b1, sizeof(b1)), pc, name,
					pyhs_heap_type_name(h, pyhs_heap_type_of(h, at)),
					pyhs_heap_addr(h, at));
			}
			if (at != x->obj) {
				pyhs_holders_name(v->holders, x->obj, pname, sizeof(pname));
				fprintf(out, "      within %s (%s 0x%" PRIx64 ", %s)\n", pname,
					pyhs_heap_type_name(h, x->type), pyhs_heap_addr(h, x->obj),
					pyhs_format_bytes(x->retained, b1, sizeof(b1)));
			}
			if (x->acc_type != UINT32_MAX && x->acc_count)
				fprintf(out, "      accumulates %s %s, %s\n",
					fmt_count(x->acc_count, b1, sizeof(b1)),
					pyhs_heap_type_name(h, x->acc_type),
					pyhs_format_bytes(x->acc_bytes, b2, sizeof(b2)));
		}
		struct pyhs_path p;
		if (x->sample != UINT32_MAX && !pyhs_holders_path(v->holders, x->sample, &p)) {
			describe_path(h, &p, desc, sizeof(desc));
			free(p.edges);
			fprintf(out, "      e.g. %s (%s 0x%" PRIx64 ")\n", desc,
				pyhs_heap_type_name(h, pyhs_heap_type_of(h, x->sample)),
				pyhs_heap_addr(h, x->sample));
		}
		const char *file;
		uint32_t line;
		if (object_site(h, al, x->point, &file, &line))
			fprintf(out, "      allocated at %s:%" PRIu32 "\n", file, line);
		if (object_site(h, al, x->sample, &file, &line))
			fprintf(out, "      %s allocated at %s:%" PRIu32 "\n",
				x->kind == PYHS_SUSPECT_TYPE ? "the largest" : "what accumulates",
				file, line);
	}
	if (shown_c && shown_c < s->nc_held)
		fprintf(out, "  ... and %zu more\n", s->nc_held - shown_c);
	if (!s->n)
		fprintf(out, "no suspects: nothing retains %s of %s\n",
			(percent(pc, sizeof(pc), s->min, s->total), pc),
			pyhs_format_bytes(s->total, b1, sizeof(b1)));
}

int verb_suspects(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ 0 },
	};
	struct suspects_options so = { { 0.10, 10 } };
	struct verb_spec spec = { "suspects", "n:", longopts, help, option, &so, 1, 2 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h[2] = { NULL, NULL };
	struct pyhs_allocations *al = NULL;
	struct heap_view v[2] = { { 0 }, { 0 } };
	struct pyhs_suspects *growth = NULL;
	struct pyhs_error *err = NULL;
	int last = nargs - 1;
	for (int k = 0; k < nargs; k++) {
		/* The allocation sites of the input the suspects are of. */
		o.want_allocations = k == last;
		if ((r = input_open(args[k], &o, &h[k])))
			goto out;
	}
	al = o.allocations;
	for (int k = 0; k < nargs && !err; k++)
		err = heap_view_create(h[k], NULL, k == last ? &so.s : NULL, &v[k]);
	if (!err && nargs == 2)
		err = pyhs_suspects_growth(v[0].tree, v[0].holders, v[1].tree, v[1].holders,
					   &so.s, &growth);
	if (err) {
		r = report_error(err);
		goto out;
	}
	if (o.json) {
		fputs("{\"input\": ", stdout);
		pyhs_json_string(stdout, pyhs_heap_meta(h[last])->input);
		fputs(", \"suspects\": ", stdout);
		print_suspects_json(&v[last], v[last].suspects, al, stdout);
		fputs(", \"growth\": ", stdout);
		if (growth)
			print_suspects_json(&v[last], growth, al, stdout);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	} else {
		if (growth) {
			print_suspects_text(&v[last], growth, al, false, stdout);
			fputc('\n', stdout);
		}
		print_suspects_text(&v[last], v[last].suspects, al, false, stdout);
	}
	r = EXIT_OK;
out:
	pyhs_suspects_destroy(growth);
	for (int k = 0; k < 2; k++) {
		heap_view_destroy(&v[k]);
		pyhs_heap_destroy(h[k]);
	}
	pyhs_allocations_destroy(al);
	return r;
}
