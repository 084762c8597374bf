/* pyheapsnap show: one object, its references both ways, what keeps it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

#define MAX_LISTED PYHS_VIEW_LISTED

static void help(void)
{
	printf("usage: pyheapsnap show [OPTIONS] INPUT ADDR\n"
	       "\n"
	       "Shows the object at ADDR (0x-hex or decimal): type, size, retained size,\n"
	       "refcount and the references no object explains, generation, a preview of\n"
	       "its value, the objects that refer to it and that it refers to (with their\n"
	       "labels, at most 50 each), its immediate dominator, a path from a root and,\n"
	       "when tracemalloc traced its block, where it was allocated.\n"
	       "\n"
	       "Options:\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static const char *gen_text(enum pyhs_gen g)
{
	static const char *const names[] = { "0", "1", "2", "permanent", "untracked" };
	return names[g];
}

static void json_object_ref(const struct pyhs_heap *h, uint32_t i, uint32_t label,
			    bool first)
{
	char l[160];
	printf("%s{\"addr\": %" PRIu64 ", \"type\": ", first ? "" : ", ", pyhs_heap_addr(h, i));
	pyhs_json_string(stdout, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
	fputs(", \"edge\": ", stdout);
	if (pyhs_heap_format_label(h, label, l, sizeof(l)))
		pyhs_json_string(stdout, l);
	else
		fputs("null", stdout);
	fputs("}", stdout);
}

/* What show prints of object i beyond the heap's own columns: what the
 * analysis says of it (from the analysis or from a snapshot's records). */
struct show_facts {
	const char *holder;
	uint64_t retained, unexplained;
	bool garbage;
	uint32_t dom;
	const struct pyhs_path *paths;
	size_t np;
	/* The object view's references into it (view NULL: the heap is
	 * searched for them). */
	const struct pyhs_object_view *view;
};

static void print_show(const struct pyhs_heap *h, uint64_t i, const struct show_facts *f,
		       const struct input_options *io);

bool input_object_view(const char *path, struct input_options *o, const char *arg,
		       unsigned flags, size_t max_paths, struct pyhs_object_view **ret)
{
	char *end;
	errno = 0;
	unsigned long long addr = strtoull(arg, &end, 0);
	if (errno || end == arg || *end)
		return false;
	struct pyhs_snapshot_view *v;
	if (!input_view(path, o, &v))
		return false;
	struct pyhs_error *err = pyhs_snapshot_view_object(v, addr, flags, max_paths, ret);
	pyhs_snapshot_view_destroy(v);
	if (err) {
		pyhs_error_destroy(err);
		return false;
	}
	return true;
}

/* show from a snapshot's or cache entry's object records: true if it
 * could answer. */
static bool show_from_view(const char *path, struct input_options *o, const char *arg)
{
	struct pyhs_object_view *ov;
	/* The text lists the first references each way; JSON all of them. */
	if (!input_object_view(path, o, arg, PYHS_VIEW_SHOW | (o->json ? 0 : PYHS_VIEW_FIRST), 1,
			       &ov))
		return false;
	struct show_facts f = { ov->holder, ov->retained, ov->unexplained, ov->garbage,
				ov->dom, ov->paths, ov->npaths, o->json ? NULL : ov };
	struct input_options none = { .json = o->json };
	print_show(ov->heap, ov->obj, &f, &none);
	pyhs_object_view_destroy(ov);
	return true;
}

int verb_show(int argc, char **argv)
{
	struct verb_spec spec = { "show", "", NULL, help, NULL, NULL, 2, 2 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	o.want_allocations = true;
	o.analysis_flags = PYHS_ANALYSIS_PATHS;
	o.cache_beside = true;
	if (show_from_view(args[0], &o, args[1]))
		return EXIT_OK;
	if ((r = input_open_analysed(args[0], &o, &h, &a)))
		return r;
	uint64_t i;
	if ((r = parse_object(h, "show", args[1], &i))) {
		input_close(&o, h, a);
		return r;
	}
	struct pyhs_path *paths = NULL;
	size_t np = 0;
	struct pyhs_holders *hs = NULL;
	char holder[512];
	struct pyhs_error *err = pyhs_holders_create(h, a, &hs);
	if (!err) {
		pyhs_holders_name(hs, i, holder, sizeof(holder));
		err = pyhs_analysis_paths(a, (uint32_t)i, 1, &paths, &np);
		if (err && err->code == PYHS_ERROR_NOT_FOUND) {
			pyhs_error_destroy(err);
			err = NULL;
		}
	}
	if (err) {
		pyhs_holders_destroy(hs);
		input_close(&o, h, a);
		return report_error(err);
	}
	struct show_facts f = { holder, pyhs_analysis_retained(a, i),
				pyhs_analysis_unexplained(a, i), pyhs_analysis_is_garbage(a, i),
				pyhs_analysis_idom(a, i), paths, np, NULL };
	print_show(h, i, &f, &o);
	pyhs_paths_free(paths, np);
	pyhs_holders_destroy(hs);
	input_close(&o, h, a);
	return EXIT_OK;
}

/* One line of "referred to by": reference k of object s. */
static void print_referrer(const struct pyhs_heap *h, uint32_t s, uint64_t k)
{
	char l[160], preview[256];
	if (!pyhs_heap_format_label(h, pyhs_heap_edge_label(h, k), l, sizeof(l)))
		l[0] = '\0';
	pyhs_heap_preview(h, s, preview, sizeof(preview));
	printf("  0x%-14" PRIx64 " %-24s %-22s %s\n", pyhs_heap_addr(h, s),
	       pyhs_heap_type_name(h, pyhs_heap_type_of(h, s)), l, preview);
}

static void print_show(const struct pyhs_heap *h, uint64_t i, const struct show_facts *f,
		       const struct input_options *io)
{
	const struct input_options o = *io;
	const char *holder = f->holder;
	const struct pyhs_path *paths = f->paths;
	size_t np = f->np;
	/* The trace of the block holding the object (GC objects start after
	 * their header, inside the block). */
	uint64_t trace = 0;
	bool traced = o.allocations &&
		      pyhs_allocations_find(o.allocations, pyhs_heap_addr(h, i), &trace);
	struct pyhs_trace tr = { 0 };
	if (traced)
		pyhs_allocations_trace(o.allocations, trace, &tr);
	char preview[256], l[160], b1[32], b2[32], desc[1024];
	pyhs_heap_preview(h, i, preview, sizeof(preview));
	uint64_t addr = pyhs_heap_addr(h, i);
	const char *tn = pyhs_heap_type_name(h, pyhs_heap_type_of(h, i));
	uint32_t dom = f->dom;
	uint64_t b, e, nrefs = 0;
	pyhs_heap_edges(h, i, &b, &e);
	/* Referrers: every edge into the object. */
	uint64_t m = pyhs_heap_nobjects(h), nreferrers = 0;
	if (o.json) {
		printf("{\"addr\": %" PRIu64 ", \"holder\": ", addr);
		pyhs_json_string(stdout, holder);
		fputs(", \"type\": ", stdout);
		pyhs_json_string(stdout, tn);
		printf(", \"size\": %" PRIu64 ", \"size_exact\": %s, \"retained\": %" PRIu64
		       ", \"refcnt\": %" PRIu64
		       ", \"unexplained_refs\": %" PRIu64 ", \"immortal\": %s, \"gen\": ",
		       pyhs_heap_size(h, i),
		       pyhs_heap_flags(h, i) & PYHS_OBJ_SIZE_INEXACT ? "false" : "true",
		       f->retained, pyhs_heap_refcnt(h, i),
		       f->unexplained,
		       pyhs_heap_flags(h, i) & PYHS_OBJ_IMMORTAL ? "true" : "false");
		pyhs_json_gen(stdout, pyhs_heap_gen(h, i));
		fputs(", \"preview\": ", stdout);
		pyhs_json_string(stdout, preview);
		fprintf(stdout, ", \"garbage\": %s, \"dominator\": ",
			f->garbage ? "true" : "false");
		if (dom == PYHS_DOM_ROOT || dom == PYHS_DOM_NONE)
			fputs(dom == PYHS_DOM_ROOT ? "\"root\"" : "null", stdout);
		else
			printf("%" PRIu64, pyhs_heap_addr(h, dom));
		fputs(", \"referents\": [", stdout);
		for (uint64_t k = b; k < e; k++)
			json_object_ref(h, pyhs_heap_edge_dst(h, k), pyhs_heap_edge_label(h, k), k == b);
		fputs("], \"referrers\": [", stdout);
		for (uint64_t s = 0; s < m; s++) {
			uint64_t sb, se;
			pyhs_heap_edges(h, s, &sb, &se);
			for (uint64_t k = sb; k < se; k++)
				if (pyhs_heap_edge_dst(h, k) == i)
					json_object_ref(h, (uint32_t)s, pyhs_heap_edge_label(h, k),
							!nreferrers++);
		}
		/* The roots that are this object. */
		fputs("], \"roots\": [", stdout);
		bool first_root = true;
		for (uint64_t r = 0; r < pyhs_heap_nroots(h); r++) {
			if (pyhs_heap_root_object(h, r) != i)
				continue;
			fputs(first_root ? "{\"root\": " : ", {\"root\": ", stdout);
			pyhs_json_string(stdout, pyhs_heap_root_label(h, r));
			fputs(", \"root_info\": ", stdout);
			print_root_json(h, r, stdout);
			fputs("}", stdout);
			first_root = false;
		}
		fputs("], \"path\": ", stdout);
		if (np)
			print_path_json(h, &paths[0], stdout);
		else
			fputs("null", stdout);
		fputs(", \"allocated\": ", stdout);
		if (traced) {
			printf("{\"block\": %" PRIu64 ", \"size\": %" PRIu64 ", \"frames\": [",
			       tr.addr, tr.size);
			for (uint32_t k = 0; k < pyhs_allocations_nframes(o.allocations, tr.traceback); k++) {
				const char *file;
				uint32_t line;
				pyhs_allocations_frame(o.allocations, tr.traceback, k, &file, &line);
				fputs(k ? ", {\"file\": " : "{\"file\": ", stdout);
				pyhs_json_string(stdout, file);
				printf(", \"line\": %" PRIu32 "}", line);
			}
			fputs("]}", stdout);
		} else {
			fputs("null", stdout);
		}
		fputs("}\n", stdout);
	} else {
		printf("0x%" PRIx64 "  %s  %s\n", addr, tn, preview);
		printf("  held by %s\n", holder);
		printf("  size %s%s, retained %s, refcount %" PRIu64 "%s, generation %s\n",
		       pyhs_format_bytes(pyhs_heap_size(h, i), b1, sizeof(b1)),
		       pyhs_heap_flags(h, i) & PYHS_OBJ_SIZE_INEXACT ?
			       " (its layout's: __sizeof__ not followed)" : "",
		       pyhs_format_bytes(f->retained, b2, sizeof(b2)),
		       pyhs_heap_refcnt(h, i),
		       pyhs_heap_flags(h, i) & PYHS_OBJ_IMMORTAL ? " (immortal)" : "",
		       gen_text(pyhs_heap_gen(h, i)));
		if (f->unexplained)
			printf("  %" PRIu64 " reference%s no object explains (held by C code?)\n",
			       f->unexplained,
			       f->unexplained == 1 ? "" : "s");
		if (f->garbage)
			printf("  garbage: the cyclic collector would free it\n");
		for (uint32_t k = 0; traced && k < pyhs_allocations_nframes(o.allocations, tr.traceback); k++) {
			const char *file;
			uint32_t line;
			pyhs_allocations_frame(o.allocations, tr.traceback, k, &file, &line);
			printf("  %s %s:%" PRIu32 "\n", k ? "         from" : "allocated at", file, line);
		}
		if (dom == PYHS_DOM_ROOT)
			printf("  dominator: the roots (no single object keeps it alive)\n");
		else if (dom == PYHS_DOM_NONE)
			printf("  dominator: none (no root reaches it)\n");
		else
			printf("  dominator: 0x%" PRIx64 " %s\n", pyhs_heap_addr(h, dom),
			       pyhs_heap_type_name(h, pyhs_heap_type_of(h, dom)));
		printf("\nrefers to:\n");
		for (uint64_t k = b; k < e && nrefs < MAX_LISTED; k++, nrefs++) {
			uint32_t d = pyhs_heap_edge_dst(h, k);
			if (!pyhs_heap_format_label(h, pyhs_heap_edge_label(h, k), l, sizeof(l)))
				l[0] = '\0';
			pyhs_heap_preview(h, d, preview, sizeof(preview));
			printf("  %-22s 0x%-14" PRIx64 " %-24s %s\n", l, pyhs_heap_addr(h, d),
			       pyhs_heap_type_name(h, pyhs_heap_type_of(h, d)), preview);
		}
		if (e - b > MAX_LISTED)
			printf("  ... and %" PRIu64 " more\n", e - b - MAX_LISTED);
		printf("\nreferred to by:\n");
		if (f->view) {
			for (size_t q = 0; q < f->view->nlisted; q++)
				print_referrer(h, f->view->referrers[q].obj,
					       f->view->referrers[q].edge);
			nreferrers = f->view->nreferrers;
		} else {
			for (uint64_t s = 0; s < m; s++) {
				uint64_t sb, se;
				pyhs_heap_edges(h, s, &sb, &se);
				for (uint64_t k = sb; k < se; k++)
					if (pyhs_heap_edge_dst(h, k) == i && nreferrers++ < MAX_LISTED)
						print_referrer(h, (uint32_t)s, k);
			}
		}
		if (nreferrers > MAX_LISTED)
			printf("  ... and %" PRIu64 " more\n", nreferrers - MAX_LISTED);
		for (uint64_t r = 0; r < pyhs_heap_nroots(h); r++)
			if (pyhs_heap_root_object(h, r) == i)
				printf("  root: %s\n", pyhs_heap_root_label(h, r));
		if (np) {
			describe_path(h, &paths[0], desc, sizeof(desc));
			printf("\npath: %s\n", desc);
			print_path_steps(h, &paths[0], stdout, "  ");
		} else {
			printf("\npath: no root reaches it\n");
		}
	}
}
