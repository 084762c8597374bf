/* pyheapsnap snapshot: save a heap to a snapshot file that every verb reads
 * as it reads the core. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "pyheapsnap.h"

const char *input_snapshot_path;

static void help(void)
{
	printf("usage: pyheapsnap snapshot [OPTIONS] INPUT -o FILE\n"
	       "\n"
	       "Saves the heap in INPUT (an ELF core file, plain or zstd-compressed, or\n"
	       "another snapshot) to FILE in pyheapsnap's own compressed format: every\n"
	       "object, type, size, refcount, generation, labelled reference, root,\n"
	       "value preview, thread and warning, and the process's metadata. Every\n"
	       "verb reads FILE in place of the core and gives the same answers.\n"
	       "FILE is replaced atomically.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE      the snapshot to write (required)\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

int verb_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
		INPUT_LONG_OPTIONS,
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct input_options o = { 0 };
	const char *output = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		int r = input_option(&o, c, optarg);
		if (r < 0) {
			/* input_option printed the message; point to --help. */
			fputs("Try 'pyheapsnap snapshot --help' for more information.\n", stderr);
			return EXIT_USAGE;
		}
		if (r > 0)
			continue;
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case 'o':
			output = optarg;
			break;
		case ':':
			return usage_error("snapshot", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("snapshot", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("snapshot", "no input given");
	if (optind + 1 < argc)
		return usage_error("snapshot", "unexpected argument '%s'", argv[optind + 1]);
	if (!output)
		return usage_error("snapshot", "no output given (-o FILE)");
	if (!output[0])
		return usage_error("snapshot", "the output file name is empty");
	struct pyhs_heap *h;
	int r = input_open(argv[optind], &o, &h);
	if (r)
		return r;
	uint64_t n = pyhs_heap_nobjects(h);
	struct pyhs_error *err = pyhs_snapshot_write(h, output);
	pyhs_heap_destroy(h);
	if (err)
		return report_error(err);
	struct stat st;
	if (stat(output, &st) != 0)
		return report_error(pyhs_error_os(errno, "cannot read back '%s'", output));
	uint64_t bytes = (uint64_t)st.st_size;
	double per = n ? (double)bytes / (double)n : 0.0;
	if (o.json) {
		fputs("{\"output\": ", stdout);
		pyhs_json_string(stdout, output);
		printf(", \"objects\": %" PRIu64 ", \"bytes_on_disk\": %" PRIu64
		       ", \"bytes_per_object\": %.2f}\n", n, bytes, per);
	} else {
		char b1[32], b2[32];
		printf("wrote %s: %s objects in %s (%.1f bytes per object)\n", output,
		       fmt_count(n, b1, sizeof(b1)), fmt_bytes(bytes, b2, sizeof(b2)), per);
	}
	if (fflush(stdout) != 0)
		return report_error(pyhs_error_os(errno, "cannot write to standard output"));
	return EXIT_OK;
}
