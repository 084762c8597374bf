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

struct export_options {
	const char *output;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct export_options *e = ctx;
	switch (opt) {
	case OPT_FORMAT:
		if (strcmp(arg, "jsonl") != 0)
			return usage_error("export", "unknown format '%s' (known: jsonl)", arg);
		return 0;
	case 'o':
		return output_option("export", arg, &e->output);
	default:
		return usage_error("export", "unknown option");
	}
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
	const char *output = e.output;
	struct pyhs_heap *h;
	if ((r = input_open(args[0], &o, &h)))
		return r;
	FILE *out = stdout;
	if (output && !(out = fopen(output, "w"))) {
		struct pyhs_error *err = pyhs_error_os(errno, "cannot create '%s'", output);
		pyhs_heap_destroy(h);
		return report_error(err);
	}
	struct pyhs_error *err = pyhs_export_jsonl_gen(h, o.gen, out);
	if (out != stdout && fclose(out) != 0 && !err)
		err = pyhs_error_os(errno, "cannot write '%s'", output);
	pyhs_heap_destroy(h);
	return err ? report_error(err) : EXIT_OK;
}
