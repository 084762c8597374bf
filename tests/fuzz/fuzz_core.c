/*
 * Fuzz target: a whole core file (ELF or zstd-compressed) from the input
 * bytes. Opens it as `pyheapsnap` does; when that succeeds, builds the heap
 * and runs every analysis and the export over it.
 *
 * The files a core names in NT_FILE are opened read-only from this machine,
 * so seeds name /usr/bin/python3.11 and its libraries (corpora/fuzz/core/).
 * DWARF is not read (no_dwarf, no debug directory): the layout comes from
 * built-in tables, so that each run is fast and the same on every machine;
 * the DWARF parser reads local debug files, not the core. What the target
 * holds is also written out again as a core (pyhs_gcore_write), into a
 * private temporary directory.
 */
#include "fuzz_common.h"

/* Where pyhs_gcore_write writes: a directory made once, before replay.c
 * forks a child per input, and removed at exit by the process that made
 * it. */
static char gcore_dir[64];
static char gcore_path[96];
static pid_t gcore_owner;

static void remove_gcore_dir(void)
{
	if (getpid() != gcore_owner)
		return;
	unlink(gcore_path);
	rmdir(gcore_dir);
}

static const char *gcore_output(void)
{
	if (!gcore_dir[0]) {
		snprintf(gcore_dir, sizeof(gcore_dir), "/tmp/pyhs-fuzz-XXXXXX");
		if (!mkdtemp(gcore_dir))
			fuzz_die("mkdtemp failed");
		snprintf(gcore_path, sizeof(gcore_path), "%s/out.core", gcore_dir);
		gcore_owner = getpid();
		atexit(remove_gcore_dir);
	}
	return gcore_path;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gcore_output();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_file(data, size);
	struct pyhs_open_options opts = { .no_dwarf = true, .debug_dir = "" };
	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_open_core(path, &opts, &t);
	if (err) {
		fuzz_error(err);
		return 0;
	}
	/* What the reader kept, as gcore and summary read it. */
	for (size_t i = 0; i < pyhs_target_nwarnings(t); i++)
		(void)strlen(pyhs_target_warning(t, i));
	(void)strlen(pyhs_target_executable(t));
	(void)strlen(pyhs_target_cmdline(t));
	(void)strlen(pyhs_target_py_build(t));
	(void)strlen(pyhs_target_py_library(t));
	struct pyhs_target_mapping m;
	for (size_t i = 0; pyhs_target_mapping(t, i, &m); i++)
		(void)strlen(m.path);
	struct pyhs_target_process proc;
	pyhs_target_process(t, &proc);
	err = pyhs_gcore_write(t, gcore_output());
	if (err)
		fuzz_error(err);
	unlink(gcore_path);
	struct pyhs_heap *h;
	err = pyhs_heap_build(t, "fuzz-core", NULL, &h);
	pyhs_target_destroy(t);
	if (err) {
		fuzz_error(err);
		return 0;
	}
	fuzz_exercise_heap(h);
	pyhs_heap_destroy(h);
	return 0;
}
