/* pyheapsnap export: every object as JSON lines. */
#include <getopt.h>
#include <errno.h>
#include <string.h>

#include "pyheapsnap.h"

static void help(void)
{
	printf("usage: pyheapsnap export [OPTIONS] INPUT --format jsonl\n"
	       "\n"
	       "Writes every object of the heap in INPUT (an ELF core file, plain or\n"
	       "zstd-compressed): a header line, then one JSON object per line with\n"
	       "addr, type, size, refcnt, immortal, gen, refs and edges.\n"
	       "\n"
	       "Options:\n"
	       "      --format FORMAT    jsonl (the only format so far; the default)\n"
	       "  -o, --output FILE      write to FILE instead of standard output\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

int verb_export(int argc, char **argv)
{
	enum { OPT_OUTPUT = OPT_VERB_FIRST };
	static const struct option longopts[] = {
		INPUT_LONG_OPTIONS,
		{ "format", required_argument, NULL, OPT_FORMAT },
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
			fputs("Try 'pyheapsnap export --help' for more information.\n", stderr);
			return EXIT_USAGE;
		}
		if (r > 0)
			continue;
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case OPT_FORMAT:
			if (strcmp(optarg, "jsonl") != 0)
				return usage_error("export", "unknown format '%s' (known: jsonl)", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case ':':
			return usage_error("export", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("export", "no input given");
	if (optind + 1 < argc)
		return usage_error("export", "unexpected argument '%s'", argv[optind + 1]);
	const char *input = argv[optind];
	struct pyhs_heap *h;
	int r = input_open(input, &o, &h);
	if (r)
		return r;
	FILE *out = stdout;
	if (output && !(out = fopen(output, "w"))) {
		struct pyhs_error *err = pyhs_error_os(errno, "cannot create '%s'", output);
		pyhs_heap_destroy(h);
		return report_error(err);
	}
	struct pyhs_error *err = pyhs_export_jsonl(h, out);
	if (out != stdout && fclose(out) != 0 && !err)
		err = pyhs_error_os(errno, "cannot write '%s'", output);
	pyhs_heap_destroy(h);
	return err ? report_error(err) : EXIT_OK;
}
