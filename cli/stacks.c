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

/* Roots are labelled "thread K (NAME) frame FUNC (FILE:LINE)[ local X|
 * .f_code ...]"; the thread's name is there when threading knows it.
 * Returns the length of the frame part, or 0 if the label is not a frame. */
static size_t frame_prefix(const char *label)
{
	const char *frame = strstr(label, " frame ");
	if (strncmp(label, "thread ", 7) != 0 || !frame)
		return 0;
	const char *close = strchr(frame, ')');
	return close ? (size_t)(close - label + 1) : strlen(label);
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
	uint64_t nroots = pyhs_heap_nroots(h);
	const char *cur = NULL;
	size_t cur_len = 0;
	bool first_frame = true, first_local = true, first_thread = true;
	char cur_thread[32] = "";
	if (o.json)
		fputs("{\"threads\": [", stdout);
	for (uint64_t r2 = 0; r2 < nroots; r2++) {
		const char *label = pyhs_heap_root_label(h, r2);
		size_t len = frame_prefix(label);
		if (!len)
			continue;
		/* "thread K": what comes before " frame " (frame_prefix found it). */
		char thread[32];
		size_t tl = (size_t)(strstr(label, " frame ") - label);
		size_t copy = tl < sizeof(thread) - 1 ? tl : sizeof(thread) - 1;
		memcpy(thread, label, copy);
		thread[copy] = '\0';
		bool new_frame = !cur || len != cur_len || strncmp(label, cur, len) != 0;
		if (new_frame) {
			bool new_thread = strcmp(thread, cur_thread) != 0;
			if (o.json) {
				if (cur)
					fputs("]}", stdout);
				if (new_thread) {
					if (!first_thread)
						fputs("]}", stdout);
					/* "thread K (NAME)": the number, and the name if any. */
					char *paren = strchr(thread, '(');
					printf("%s{\"thread\": %lu, \"name\": ", first_thread ? "" : ", ",
					       strtoul(thread + 7, NULL, 10));
					if (paren) {
						char tname[32];
						snprintf(tname, sizeof(tname), "%s", paren + 1);
						char *close = strrchr(tname, ')');
						if (close)
							*close = '\0';
						pyhs_json_string(stdout, tname);
					} else {
						fputs("null", stdout);
					}
					fputs(", \"frames\": [", stdout);
					first_thread = false;
					first_frame = true;
				}
				fputs(first_frame ? "{\"frame\": " : ", {\"frame\": ", stdout);
				char fr[512];
				snprintf(fr, sizeof(fr), "%.*s", (int)(len - tl - 7), label + tl + 7);
				pyhs_json_string(stdout, fr);
				fputs(", \"locals\": [", stdout);
				first_frame = false;
			} else {
				if (new_thread)
					printf("%s%s\n", first_thread ? "" : "\n", thread);
				first_thread = false;
				printf("  %.*s\n", (int)(len - tl - 7), label + tl + 7);
			}
			snprintf(cur_thread, sizeof(cur_thread), "%s", thread);
			cur = label;
			cur_len = len;
			first_local = true;
		}
		uint32_t obj = pyhs_heap_root_object(h, r2);
		const char *rest = label + len;
		if (!strncmp(rest, " local ", 7)) {
			print_local(h, rest + 7, obj, o.json, &first_local);
		} else if (!*rest) {
			/* A frame or generator object: its locals are its edges. */
			uint64_t b, e;
			char l[160];
			pyhs_heap_edges(h, obj, &b, &e);
			for (uint64_t k = b; k < e; k++)
				if (pyhs_heap_format_label(h, pyhs_heap_edge_label(h, k), l, sizeof(l)) &&
				    !strncmp(l, "local ", 6))
					print_local(h, l + 6, pyhs_heap_edge_dst(h, k), o.json,
						    &first_local);
		}
	}
	if (o.json) {
		if (cur)
			fputs("]}]}", stdout);
		fputs("]}\n", stdout);
	}
	pyhs_heap_destroy(h);
	return EXIT_OK;
}
