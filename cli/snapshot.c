/* pyheapsnap snapshot: save a heap to a snapshot file that every verb reads
 * as it reads the core. */
#include <errno.h>
#include <inttypes.h>

#include "pyheapsnap.h"

#define SNAPSHOT_ROOM_RATIO 16

static void help(void)
{
	printf("usage: pyheapsnap snapshot [OPTIONS] INPUT -o FILE\n"
	       "\n"
	       "Saves the heap in INPUT (an ELF core file, plain or zstd-compressed,\n"
	       "another snapshot, or with --pid a live process) to FILE in pyheapsnap's\n"
	       "own compact format: every object, type, size, refcount, generation,\n"
	       "labelled reference, root, value preview, thread and warning, and the\n"
	       "process's metadata, and what memory says of the allocators. Every verb\n"
	       "reads FILE in place of the core and gives the same answers. FILE is\n"
	       "replaced atomically.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE      the snapshot to write (required)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

int verb_snapshot(int argc, char **argv)
{
	static const struct output_verb verb = {
		"snapshot", help, PYHS_OUTPUT_SNAPSHOT, 1, true,
		"--gen does not apply here: a snapshot keeps every object", NULL,
	};
	struct input_options o = { 0 };
	const char *output;
	char **args;
	int nargs;
	int r = output_verb_start(&verb, argc, argv, &o, &output, &args, &nargs);
	if (r >= 0)
		return r;
	/* A snapshot takes a few bytes per object: far less than the memory
	 * copied, which holds 16 bytes or more per object. */
	o.output_ratio = SNAPSHOT_ROOM_RATIO;
	/* What `memory` says of the core goes with it (a section of its own). */
	o.want_memory = true;
	struct pyhs_heap *h;
	if ((r = input_open(args[0], &o, &h))) {
		output_close(&o);
		return r;
	}
	uint64_t n = pyhs_heap_nobjects(h);
	signals_defer(true);
	struct pyhs_error *err = pyhs_snapshot_write_output(h, o.output);
	pyhs_heap_destroy(h);
	if ((r = output_finish(&o, err)))
		return r;
	uint64_t bytes;
	if ((r = output_size(output, &bytes)))
		return r;
	double per = n ? (double)bytes / (double)n : 0.0;
	if (o.json) {
		fputs("{\"output\": ", stdout);
		pyhs_json_string(stdout, output);
		printf(", \"objects\": %" PRIu64 ", \"bytes_on_disk\": %" PRIu64
		       ", \"bytes_per_object\": %.2f}\n", n, bytes, per);
	} else {
		char b1[32], b2[32];
		printf("wrote %s: %s object%s in %s (%.1f bytes per object)\n", output,
		       fmt_count(n, b1, sizeof(b1)), n == 1 ? "" : "s",
		       pyhs_format_bytes(bytes, b2, sizeof(b2)), per);
	}
	if (fflush(stdout) != 0)
		return report_error(pyhs_error_os(errno, "cannot write to standard output"));
	return EXIT_OK;
}
