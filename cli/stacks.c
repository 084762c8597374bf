/* pyheapsnap stacks: the Python stack of every thread, with its locals. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

static void help(void)
{
	printf("usage: pyheapsnap stacks [OPTIONS] INPUT\n"
	       "\n"
	       "Prints the Python stack of every thread in INPUT, innermost frame first:\n"
	       "function and file, then each local variable's name, type and value.\n"
	       "\n"
	       "Options:\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static void print_local(const struct pyhs_heap *h, const char *name, uint32_t obj,
			bool json, bool *first)
{
	char preview[128];
	pyhs_heap_preview(h, obj, preview, sizeof(preview));
	if (json) {
		fputs(*first ? "{\"name\": " : ", {\"name\": ", stdout);
		pyhs_json_string(stdout, name);
		printf(", \"addr\": %" PRIu64 ", \"type\": ", pyhs_heap_addr(h, obj));
		pyhs_json_string(stdout, pyhs_heap_type_name(h, pyhs_heap_type_of(h, obj)));
		fputs(", \"preview\": ", stdout);
		pyhs_json_string(stdout, preview);
		fputs("}", stdout);
	} else {
		printf("      %-20s %-24s %s\n", name,
		       pyhs_heap_type_name(h, pyhs_heap_type_of(h, obj)), preview);
	}
	*first = false;
}

int verb_stacks(int argc, char **argv)
{
	struct verb_spec spec = { "stacks", "", NULL, help, NULL, NULL, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h;
	if ((r = input_open(args[0], &o, &h)))
		return r;
	/* Each frame's locals: the roots that are its local variables, and
	 * the local references of the frame objects that are its roots, in
	 * root order. */
	uint64_t nroots = pyhs_heap_nroots(h);
	uint32_t nframes = pyhs_heap_nframes(h);
	uint64_t *start = calloc((size_t)nframes + 1, sizeof(*start));
	uint64_t *by_frame = malloc((nroots ? nroots : 1) * sizeof(*by_frame));
	if (!start || !by_frame) {
		free(start);
		free(by_frame);
		pyhs_heap_destroy(h);
		log_error("out of memory");
		return EXIT_INPUT;
	}
	struct pyhs_root_info ri;
	for (uint64_t r2 = 0; r2 < nroots; r2++) {
		pyhs_heap_root(h, r2, &ri);
		if (ri.frame != PYHS_NO_FRAME)
			start[ri.frame + 1]++;
	}
	for (uint32_t f = 0; f < nframes; f++)
		start[f + 1] += start[f];
	uint64_t *fill = calloc((size_t)nframes + 1, sizeof(*fill));
	if (!fill) {
		free(start);
		free(by_frame);
		pyhs_heap_destroy(h);
		log_error("out of memory");
		return EXIT_INPUT;
	}
	for (uint64_t r2 = 0; r2 < nroots; r2++) {
		pyhs_heap_root(h, r2, &ri);
		if (ri.frame != PYHS_NO_FRAME)
			by_frame[start[ri.frame] + fill[ri.frame]++] = r2;
	}
	free(fill);
	if (o.json)
		fputs("{\"threads\": [", stdout);
	size_t nthreads = pyhs_heap_nthreads(h);
	bool first_thread = true;
	for (size_t k = 0; k < nthreads; k++) {
		const struct pyhs_thread_info *t = pyhs_heap_thread(h, k);
		if (!t->nframes)
			continue;
		const char *tname = pyhs_heap_string_or_null(h, t->name);
		char text[512];
		if (o.json) {
			printf("%s{\"thread\": %zu, \"name\": ", first_thread ? "" : ", ", k);
			if (tname)
				pyhs_json_string(stdout, tname);
			else
				fputs("null", stdout);
			printf(", \"ident\": %" PRIu64 ", \"native_id\": %" PRIu64 ", \"frames\": [",
			       t->ident, t->native_id);
		} else {
			pyhs_heap_describe_thread(h, k, text, sizeof(text));
			printf("%s%s\n", first_thread ? "" : "\n", text);
		}
		first_thread = false;
		for (uint32_t f = t->first_frame; f < t->first_frame + t->nframes; f++) {
			const struct pyhs_frame_info *fi = pyhs_heap_frame(h, f);
			pyhs_heap_describe_frame(h, f, text, sizeof(text));
			if (o.json) {
				fputs(f == t->first_frame ? "{\"frame\": " : ", {\"frame\": ", stdout);
				pyhs_json_string(stdout, text + strlen("frame "));
				fputs(", \"function\": ", stdout);
				pyhs_json_string(stdout, pyhs_heap_string(h, fi->function));
				fputs(", \"file\": ", stdout);
				pyhs_json_string(stdout, pyhs_heap_string(h, fi->file));
				if (fi->line > 0)
					printf(", \"line\": %" PRId32, fi->line);
				else
					fputs(", \"line\": null", stdout);
				printf(", \"depth\": %" PRIu32 ", \"locals\": [", fi->depth);
			} else {
				printf("  %s\n", text + strlen("frame "));
			}
			bool first_local = true;
			for (uint64_t x = start[f]; x < start[f + 1]; x++) {
				uint64_t r2 = by_frame[x];
				uint32_t obj = pyhs_heap_root_object(h, r2);
				pyhs_heap_root(h, r2, &ri);
				if (ri.kind == PYHS_ROOT_FRAME_LOCAL) {
					print_local(h, pyhs_heap_string(h, ri.name), obj, o.json,
						    &first_local);
				} else if (ri.kind == PYHS_ROOT_FRAME) {
					/* A frame or generator object: its locals are its edges. */
					uint64_t b, e;
					pyhs_heap_edges(h, obj, &b, &e);
					for (uint64_t j = b; j < e; j++) {
						uint32_t lab = pyhs_heap_edge_label(h, j);
						if (PYHS_LABEL_KIND(lab) != PYHS_LABEL_LOCAL)
							continue;
						const char *name = pyhs_heap_value(h, PYHS_LABEL_PAYLOAD(lab));
						print_local(h, name ? name : "?", pyhs_heap_edge_dst(h, j),
							    o.json, &first_local);
					}
				}
			}
			if (o.json)
				fputs("]}", stdout);
		}
		if (o.json)
			fputs("]}", stdout);
	}
	if (o.json)
		fputs("]}\n", stdout);
	free(start);
	free(by_frame);
	pyhs_heap_destroy(h);
	return EXIT_OK;
}
