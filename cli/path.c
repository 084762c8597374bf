/* pyheapsnap path: how an object is kept alive, from a root to it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

#define MAX_PATHS 20

enum { OPT_ALL = OPT_VERB_FIRST };

static void help(void)
{
	printf("usage: pyheapsnap path [OPTIONS] INPUT ADDR\n"
	       "\n"
	       "Shows the shortest chain of references from a root (a module global, a\n"
	       "thread's local variable, sys.modules, an object only C code holds, ...)\n"
	       "to the object at ADDR (0x-hex or decimal), each step with its label:\n"
	       "['key'], .attr, [3], local name.\n"
	       "\n"
	       "Options:\n"
	       "      --all              one shortest path from each root that reaches it\n"
	       "                         (at most 20)\n"
	       "      --format FORMAT    text (the default), json (as --json) or dot (the\n"
	       "                         paths as a Graphviz graph: dot -Tsvg)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

struct path_options {
	bool all;
	enum output_format format;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct path_options *po = ctx;
	if (opt == OPT_ALL) {
		po->all = true;
		return 0;
	}
	if (opt == OPT_FORMAT)
		return parse_output_format("path", arg, &po->format);
	return usage_error("path", "unknown option");
}

/* The paths as one graph: each object once, the roots as boxes. */
static int print_paths_dot(const struct pyhs_heap *h, const struct pyhs_path *paths,
			   size_t np, uint64_t target)
{
	uint8_t *seen = calloc(pyhs_heap_nobjects(h), 1);
	if (!seen)
		return report_error(&pyhs_enomem);
	char name[64];
	snprintf(name, sizeof(name), "path to 0x%" PRIx64, pyhs_heap_addr(h, target));
	pyhs_dot_begin(stdout, name);
	pyhs_dot_object(h, stdout, target, "penwidth=2, color=\"#c03030\"");
	seen[target] = 1;
	for (size_t i = 0; i < np; i++) {
		const struct pyhs_path *p = &paths[i];
		uint64_t cur = p->start;
		for (uint64_t k = 0; k <= p->nedges; k++) {
			if (!seen[cur]) {
				seen[cur] = 1;
				pyhs_dot_object(h, stdout, cur, NULL);
			}
			if (k < p->nedges)
				cur = pyhs_heap_edge_dst(h, p->edges[k]);
		}
		pyhs_dot_root(h, stdout, i, p->c_held ? "held by C code" :
				  pyhs_heap_root_label(h, p->root), p->start);
		cur = p->start;
		for (uint64_t k = 0; k < p->nedges; k++) {
			pyhs_dot_edge(h, stdout, cur, p->edges[k]);
			cur = pyhs_heap_edge_dst(h, p->edges[k]);
		}
	}
	if (!np)
		pyhs_dot_note(stdout, 0, "no root reaches it");
	pyhs_dot_end(stdout);
	free(seen);
	return EXIT_OK;
}

void print_path_steps(const struct pyhs_heap *h, const struct pyhs_path *p,
		      FILE *out, const char *indent)
{
	char l[160], preview[96];
	uint32_t cur = p->start;
	pyhs_heap_preview(h, cur, preview, sizeof(preview));
	fprintf(out, "%s%-24s 0x%-14" PRIx64 " %-24s %s\n", indent,
		p->c_held ? "(held by C code)" : pyhs_heap_root_label(h, p->root),
		pyhs_heap_addr(h, cur), pyhs_heap_type_name(h, pyhs_heap_type_of(h, cur)),
		preview);
	for (uint64_t k = 0; k < p->nedges; k++) {
		uint64_t e = p->edges[k];
		cur = pyhs_heap_edge_dst(h, e);
		if (!pyhs_heap_format_label(h, pyhs_heap_edge_label(h, e), l, sizeof(l)))
			snprintf(l, sizeof(l), "->");
		pyhs_heap_preview(h, cur, preview, sizeof(preview));
		fprintf(out, "%s  %-22s 0x%-14" PRIx64 " %-24s %s\n", indent, l,
			pyhs_heap_addr(h, cur),
			pyhs_heap_type_name(h, pyhs_heap_type_of(h, cur)), preview);
	}
}

void print_path_json(const struct pyhs_heap *h, const struct pyhs_path *p, FILE *out)
{
	char l[160], desc[1024];
	describe_path(h, p, desc, sizeof(desc));
	fputs("{\"root\": ", out);
	pyhs_json_string(out, p->c_held ? "held by C code" : pyhs_heap_root_label(h, p->root));
	fputs(", \"root_info\": ", out);
	print_root_json(h, p->c_held ? UINT64_MAX : p->root, out);
	fprintf(out, ", \"c_held\": %s, \"description\": ", p->c_held ? "true" : "false");
	pyhs_json_string(out, desc);
	fprintf(out, ", \"start\": %" PRIu64 ", \"steps\": [", pyhs_heap_addr(h, p->start));
	for (uint64_t k = 0; k < p->nedges; k++) {
		uint64_t e = p->edges[k];
		uint32_t d = pyhs_heap_edge_dst(h, e);
		fputs(k ? ", {\"edge\": " : "{\"edge\": ", out);
		if (pyhs_heap_format_label(h, pyhs_heap_edge_label(h, e), l, sizeof(l)))
			pyhs_json_string(out, l);
		else
			fputs("null", out);
		fprintf(out, ", \"addr\": %" PRIu64 ", \"type\": ", pyhs_heap_addr(h, d));
		pyhs_json_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, d)));
		fputs("}", out);
	}
	fputs("]}", out);
}

/* Prints the paths to target as the format asks. */
static int print_paths(const struct pyhs_heap *h, uint64_t target, bool garbage,
		       const struct pyhs_path *paths, size_t np, const struct path_options *po,
		       bool json)
{
	int r = EXIT_OK;
	if (po->format == FORMAT_DOT) {
		r = print_paths_dot(h, paths, np, target);
	} else if (json) {
		printf("{\"object\": %" PRIu64 ", \"garbage\": %s, \"paths\": [",
		       pyhs_heap_addr(h, target), garbage ? "true" : "false");
		for (size_t i = 0; i < np; i++) {
			fputs(i ? ", " : "", stdout);
			print_path_json(h, &paths[i], stdout);
		}
		fputs("]}\n", stdout);
	} else if (!np) {
		printf("no root reaches 0x%" PRIx64 "%s\n", pyhs_heap_addr(h, target),
		       garbage ? ": it is garbage the cyclic collector would free" : "");
	} else {
		char desc[1024];
		for (size_t i = 0; i < np; i++) {
			describe_path(h, &paths[i], desc, sizeof(desc));
			printf("%s%s\n", i ? "\n" : "", desc);
			print_path_steps(h, &paths[i], stdout, "  ");
		}
	}
	return r;
}

/* path from a snapshot's or cache entry's object records, as show's
 * show_from_view: true if it answered (*ret its exit code). */
static bool path_from_view(const char *path, struct input_options *o, const char *arg,
			   const struct path_options *po, int *ret)
{
	struct pyhs_object_view *ov;
	if (!input_object_view(path, o, arg, 0, po->all ? MAX_PATHS : 1, &ov))
		return false;
	*ret = print_paths(ov->heap, ov->obj, ov->garbage, ov->paths, ov->npaths, po, o->json);
	pyhs_object_view_destroy(ov);
	return true;
}

int verb_path(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ 0 },
	};
	struct path_options po = { 0 };
	struct verb_spec spec = { "path", "", longopts, help, option, &po, 2, 2 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	if ((r = resolve_output_format("path", &o, &po.format)))
		return r;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	o.analysis_flags = PYHS_ANALYSIS_PATHS;
	o.cache_beside = true;
	if (path_from_view(args[0], &o, args[1], &po, &r))
		return r;
	if ((r = input_open_analysed(args[0], &o, &h, &a)))
		return r;
	uint64_t target;
	if ((r = parse_object(h, "path", args[1], &target))) {
		input_close(&o, h, a);
		return r;
	}
	struct pyhs_path *paths = NULL;
	size_t np = 0;
	struct pyhs_error *err =
		pyhs_analysis_paths(a, (uint32_t)target, po.all ? MAX_PATHS : 1, &paths, &np);
	if (err && err->code == PYHS_ERROR_NOT_FOUND) {
		/* Unreachable: garbage, or held by nothing we can see. */
		pyhs_error_destroy(err);
		err = NULL;
	}
	if (err) {
		input_close(&o, h, a);
		return report_error(err);
	}
	r = print_paths(h, target, pyhs_analysis_is_garbage(a, target), paths, np, &po, o.json);
	pyhs_paths_free(paths, np);
	input_close(&o, h, a);
	return r;
}
