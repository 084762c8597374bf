/* pyheapsnap gcore: an ELF core file of a live process, taken with the
 * same short pause as every --pid capture, for gdb, pyheapsnap or someone
 * else to read later. */
#include <errno.h>
#include <inttypes.h>

#include "pyheapsnap.h"

static void help(void)
{
	printf("usage: pyheapsnap gcore --pid PID [--no-stop] -o FILE [--json]\n"
	       "       pyheapsnap gcore CORE -o FILE [--json]\n"
	       "\n"
	       "Writes an ELF core file of the live process PID to FILE: the process is\n"
	       "stopped only while its memory and its threads' registers are copied (as\n"
	       "for every --pid), then runs on while the core is written. gdb and every\n"
	       "pyheapsnap verb read FILE as they read a core the kernel wrote. Code and\n"
	       "read-only data of the files the process maps are not copied but named,\n"
	       "as the kernel does: read FILE where those files are (or with --sysroot).\n"
	       "Given a core instead, writes it again (uncompressed, if it was zstd).\n"
	       "FILE is replaced atomically and made readable by its owner only. FILE's\n"
	       "directory is checked for room before the process is stopped.\n"
	       "\n"
	       "Prints the pause, the size written and the threads.\n"
	       "\n"
	       "Options:\n"
	       "      --pid PID          the process to take a core of\n"
	       "      --no-stop          never stop it: copy its memory while it runs\n"
	       "                         (not a consistent view, and no registers)\n"
	       "  -o, --output FILE      the core to write (required)\n"
	       "      --json             print {\"output\", \"pid\", \"pause_ns\", \"bytes\",\n"
	       "                         \"threads\", \"consistent\"} instead of text\n"
	       "  -h, --help             show this help\n");
}

int verb_gcore(int argc, char **argv)
{
	static const struct output_verb verb = {
		"gcore", help, PYHS_OUTPUT_CORE, 1, true,
		"--gen does not apply here: a core holds the whole process", NULL,
	};
	struct input_options o = { 0 };
	const char *output;
	char **args;
	int nargs;
	int r = output_verb_start(&verb, argc, argv, &o, &output, &args, &nargs);
	if (r >= 0)
		return r;
	/* Any process will do: the core is of the process, not of its heap. */
	o.open.no_python = true;
	o.output_ratio = 1; /* the core holds every byte copied */
	struct pyhs_target *t;
	struct pyhs_error *err = NULL;
	if (args[0] == PID_INPUT) {
		r = capture_pid(&o, &t);
	} else {
		err = pyhs_target_open_core(args[0], &o.open, &t);
		r = err ? report_error(err) : 0;
	}
	if (r) {
		output_close(&o);
		return r;
	}
	for (size_t i = 0; i < pyhs_target_nwarnings(t); i++)
		log_error("warning: %s", pyhs_target_warning(t, i));
	int pid = pyhs_target_pid(t);
	uint64_t pause_ns = pyhs_target_pause_ns(t);
	size_t threads = pyhs_target_nthreads(t);
	bool unstopped = pyhs_target_unstopped(t);
	signals_defer(true);
	err = pyhs_gcore_write_output(t, o.output);
	pyhs_target_destroy(t);
	if ((r = output_finish(&o, err)))
		return r;
	uint64_t bytes;
	if ((r = output_size(output, &bytes)))
		return r;
	if (o.json) {
		fputs("{\"output\": ", stdout);
		pyhs_json_string(stdout, output);
		printf(", \"pid\": %d, \"pause_ns\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"threads\": %zu, \"consistent\": %s}\n", pid, pause_ns, bytes,
		       threads, unstopped ? "false" : "true");
	} else {
		char b[32];
		printf("wrote %s: a core of pid %d, %s (%" PRIu64 " bytes), %zu thread%s\n",
		       output, pid, pyhs_format_bytes(bytes, b, sizeof(b)), bytes, threads,
		       threads == 1 ? "" : "s");
		if (unstopped)
			printf("the process was not stopped (--no-stop): the core is not a consistent view and holds no registers\n");
		else if (args[0] == PID_INPUT)
			printf("the process was stopped for %.3f ms\n",
			       (double)pause_ns / 1e6);
	}
	if (fflush(stdout) != 0)
		return report_error(pyhs_error_os(errno, "cannot write to standard output"));
	return EXIT_OK;
}
