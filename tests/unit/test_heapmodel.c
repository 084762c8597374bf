/*
 * Tests of the heap model on a real heap: a tiny Python program is run
 * under /usr/bin/python3.11 until it aborts, and the core the kernel writes
 * is opened and walked. Checks: object lookup by address, the edge arrays,
 * a known global list and its items, type names, label rendering and the
 * named roots. If the interpreter is not installed or no core is written,
 * every case is skipped (unit_skip: the program exits 77).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "heapmodel.h"

#define PYTHON "/usr/bin/python3.11"
#define MARKER_ITEMS 7

/* The program: a module-level list whose items are easy to recognise. */
static const char program[] =
	"import os\n"
	"MARKER = [\"pyheapsnap-marker-%d\" % i for i in range(7)]\n"
	"os.abort()\n";

static char work_dir[] = "/tmp/pyhs-test-heapmodel.XXXXXX";
static bool work_dir_made;
static char *script_path, *core_path;
static struct pyhs_heap *heap;
static char skip_reason[512];

/* ---- making the core ---------------------------------------------------- */

static char *path_in_work_dir(const char *name)
{
	char *path;
	return asprintf(&path, "%s/%s", work_dir, name) < 0 ? NULL : path;
}

/* Runs the program in work_dir until it aborts; returns its pid, -1 with
 * skip_reason set, or -2 if it did not abort (a failure). */
static pid_t run_program(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(skip_reason, sizeof(skip_reason), "cannot fork: %s",
			 strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		if (setrlimit(RLIMIT_CORE, &rl) < 0 && getrlimit(RLIMIT_CORE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
		if (chdir(work_dir) < 0)
			_exit(126);
		/* Run as plainly as possible (meson test sets MALLOC_PERTURB_). */
		unsetenv("MALLOC_PERTURB_");
		unsetenv("MALLOC_CHECK_");
		execl(PYTHON, PYTHON, "-I", script_path, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(skip_reason, sizeof(skip_reason), "waitpid: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fprintf(stderr, "\n    %s did not abort (wait status %d)\n", PYTHON, status);
		return -2;
	}
	return pid;
}

/* The core the kernel wrote for pid: work_dir/core.PID or work_dir/core. */
static char *find_core(pid_t pid)
{
	char name[32];
	snprintf(name, sizeof(name), "core.%d", (int)pid);
	char *path = path_in_work_dir(name);
	if (path && access(path, R_OK) == 0)
		return path;
	free(path);
	path = path_in_work_dir("core");
	if (path && access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static int write_script(void)
{
	script_path = path_in_work_dir("program.py");
	if (!script_path)
		return -1;
	FILE *f = fopen(script_path, "w");
	if (!f)
		return -1;
	fputs(program, f);
	return fclose(f) == 0 ? 0 : -1;
}

/* Makes the core and builds its heap. Returns 0 with heap set, 0 with
 * skip_reason set, or -1 on an error. */
static int make_heap(void)
{
	if (access(PYTHON, X_OK) != 0) {
		snprintf(skip_reason, sizeof(skip_reason), "%s is not installed", PYTHON);
		return 0;
	}
	if (!mkdtemp(work_dir))
		return -1;
	work_dir_made = true;
	if (write_script() < 0)
		return -1;
	pid_t pid = run_program();
	if (pid < 0)
		return pid == -2 ? -1 : 0;
	core_path = find_core(pid);
	if (!core_path) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "%s aborted but no core was written in %s "
			 "(see kernel.core_pattern)", PYTHON, work_dir);
		return 0;
	}
	struct pyhs_target *target;
	struct pyhs_error *err = pyhs_target_open_core(core_path, NULL, &target);
	if (err) {
		fprintf(stderr, "\n    cannot open %s: %s\n", core_path, err->message);
		pyhs_error_destroy(err);
		return -1;
	}
	err = pyhs_heap_build(target, core_path, NULL, &heap);
	/* The heap keeps nothing of the target: every test runs without it
	 * (the address sanitizer catches any use after free). */
	pyhs_target_destroy(target);
	if (err) {
		fprintf(stderr, "\n    cannot build the heap of %s: %s\n", core_path,
			err->message);
		pyhs_error_destroy(err);
		return -1;
	}
	return 0;
}

/* Frees everything and removes the files; safe to call twice. */
static int suite_cleanup(void)
{
	pyhs_heap_destroy(heap);
	heap = NULL;
	if (core_path)
		unlink(core_path);
	if (script_path)
		unlink(script_path);
	free(core_path);
	free(script_path);
	core_path = script_path = NULL;
	if (work_dir_made)
		rmdir(work_dir);
	work_dir_made = false;
	return 0;
}

static int suite_init(void)
{
	if (make_heap() == 0)
		return 0;
	suite_cleanup();
	return -1;
}

/* True if the tests can run; otherwise the case is skipped. */
static bool have_heap(void)
{
	if (heap)
		return true;
	unit_skip("%s", skip_reason);
	return false;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *type_name_of(uint64_t i)
{
	return pyhs_heap_type_name(heap, pyhs_heap_type_of(heap, i));
}

static bool is_type(uint64_t i, const char *name)
{
	return strcmp(type_name_of(i), name) == 0;
}

/* If list object i is MARKER (MARKER_ITEMS str items labelled [k] whose
 * values are 'pyheapsnap-marker-k'), returns true. */
static bool is_marker_list(uint64_t i)
{
	uint64_t begin, end;
	pyhs_heap_edges(heap, i, &begin, &end);
	if (end - begin != MARKER_ITEMS)
		return false;
	for (uint64_t e = begin; e < end; e++) {
		uint32_t label = pyhs_heap_edge_label(heap, e);
		uint32_t dst = pyhs_heap_edge_dst(heap, e);
		if (PYHS_LABEL_KIND(label) != PYHS_LABEL_INDEX ||
		    PYHS_LABEL_PAYLOAD(label) != e - begin || !is_type(dst, "str"))
			return false;
		/* The value is the raw text; the preview quotes it. */
		char value[64], quoted[80], preview[128];
		snprintf(value, sizeof(value), "pyheapsnap-marker-%u",
			 (unsigned)(e - begin));
		snprintf(quoted, sizeof(quoted), "'%s'", value);
		pyhs_heap_preview(heap, dst, preview, sizeof(preview));
		const char *got = pyhs_heap_value(heap, dst);
		if (!got || strcmp(got, value) != 0 || strcmp(preview, quoted) != 0)
			return false;
	}
	return true;
}

/* The object number of MARKER, or UINT64_MAX. */
static uint64_t find_marker(void)
{
	uint64_t n = pyhs_heap_nobjects(heap);
	for (uint64_t i = 0; i < n; i++)
		if (is_type(i, "list") && is_marker_list(i))
			return i;
	return UINT64_MAX;
}

/* ---- tests -------------------------------------------------------------- */

static void test_basics(void)
{
	if (!have_heap())
		return;
	CU_ASSERT(pyhs_heap_nobjects(heap) > 1000);
	CU_ASSERT(pyhs_heap_ntypes(heap) > 10);
	CU_ASSERT(pyhs_heap_nedges(heap) > pyhs_heap_nobjects(heap));
	CU_ASSERT(pyhs_heap_nthreads(heap) >= 1);
	const struct pyhs_heap_meta *meta = pyhs_heap_meta(heap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(meta);
	CU_ASSERT_STRING_EQUAL(meta->source, "core");
	CU_ASSERT_STRING_EQUAL(meta->input, core_path);
	CU_ASSERT_STRING_EQUAL(meta->executable, PYTHON);
	CU_ASSERT_EQUAL(meta->signal, SIGABRT);
	CU_ASSERT(meta->pid > 0);
	CU_ASSERT_EQUAL(strncmp(meta->version, "3.11.", 5), 0);
	CU_ASSERT_EQUAL(meta->hexversion >> 16, 0x030b);
	CU_ASSERT(meta->ntids >= 1);
}

static void test_find(void)
{
	if (!have_heap())
		return;
	uint64_t n = pyhs_heap_nobjects(heap);
	uint64_t found_self = 0, found_inside = 0, first_bad = UINT64_MAX;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t addr = pyhs_heap_addr(heap, i), j = UINT64_MAX;
		if (pyhs_heap_find(heap, addr, &j) && j == i)
			found_self++;
		else if (first_bad == UINT64_MAX)
			first_bad = i;
		if (pyhs_heap_find(heap, addr + 8, &j))
			found_inside++;
	}
	CU_ASSERT_EQUAL(found_self, n);
	if (first_bad != UINT64_MAX)
		fprintf(stderr, "\n    object %llu at 0x%llx not found by address\n",
			(unsigned long long)first_bad,
			(unsigned long long)pyhs_heap_addr(heap, first_bad));
	/* addr + 8 is inside the object header, never another object. */
	CU_ASSERT_EQUAL(found_inside, 0);
	uint64_t j = 12345;
	CU_ASSERT_FALSE(pyhs_heap_find(heap, 0, &j));
	CU_ASSERT_EQUAL(j, 12345);
}

static void test_edges(void)
{
	if (!have_heap())
		return;
	uint64_t n = pyhs_heap_nobjects(heap), nedges = pyhs_heap_nedges(heap);
	uint64_t prev_end = 0, bad_ranges = 0, bad_dst = 0, with_edges = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t begin, end;
		pyhs_heap_edges(heap, i, &begin, &end);
		if (begin > end || begin < prev_end || end > nedges) {
			bad_ranges++;
			continue;
		}
		prev_end = end;
		with_edges += end > begin;
		for (uint64_t e = begin; e < end; e++)
			bad_dst += pyhs_heap_edge_dst(heap, e) >= n;
	}
	CU_ASSERT_EQUAL(bad_ranges, 0);
	CU_ASSERT_EQUAL(bad_dst, 0);
	CU_ASSERT(with_edges > n / 10);
	/* Every edge belongs to some object. */
	CU_ASSERT_EQUAL(prev_end, nedges);
}

static void test_marker_list(void)
{
	if (!have_heap())
		return;
	uint64_t marker = find_marker();
	CU_ASSERT_NOT_EQUAL_FATAL(marker, UINT64_MAX);
	char preview[64];
	pyhs_heap_preview(heap, marker, preview, sizeof(preview));
	CU_ASSERT_STRING_EQUAL(preview, "len=7");
	CU_ASSERT(pyhs_heap_size(heap, marker) >= 56);
	CU_ASSERT(pyhs_heap_refcnt(heap, marker) >= 1);
	/* The module's dict holds it under its name. */
	uint64_t n = pyhs_heap_nobjects(heap), holders = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t begin, end;
		pyhs_heap_edges(heap, i, &begin, &end);
		for (uint64_t e = begin; e < end; e++) {
			if (pyhs_heap_edge_dst(heap, e) != marker)
				continue;
			char label[128];
			CU_ASSERT(pyhs_heap_format_label(heap, pyhs_heap_edge_label(heap, e),
							 label, sizeof(label)));
			if (is_type(i, "dict") && strcmp(label, "['MARKER']") == 0)
				holders++;
		}
	}
	CU_ASSERT_EQUAL(holders, 1);
}

static void test_type_names(void)
{
	if (!have_heap())
		return;
	static const char *const names[] = { "list", "str", "dict", "type", "int",
					     "tuple", "function", "module" };
	size_t count[sizeof(names) / sizeof(names[0])] = { 0 };
	uint64_t n = pyhs_heap_nobjects(heap), unnamed = 0;
	for (uint64_t i = 0; i < n; i++) {
		const char *name = type_name_of(i);
		unnamed += !name || !name[0] || strcmp(name, "?") == 0;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			count[k] += strcmp(name, names[k]) == 0;
	}
	CU_ASSERT_EQUAL(unnamed, 0);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		CU_ASSERT(count[k] > 0);
		if (!count[k])
			fprintf(stderr, "\n    no object of type %s\n", names[k]);
	}
	/* Out of range type numbers have a placeholder name. */
	CU_ASSERT_STRING_EQUAL(pyhs_heap_type_name(heap, pyhs_heap_ntypes(heap)), "?");
}

static void test_labels(void)
{
	if (!have_heap())
		return;
	char buf[128];
	CU_ASSERT(pyhs_heap_format_label(heap, PYHS_LABEL(PYHS_LABEL_INDEX, 3), buf,
					 sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "[3]");
	buf[0] = 'x';
	CU_ASSERT_FALSE(pyhs_heap_format_label(heap, PYHS_LABEL(PYHS_LABEL_NONE, 0),
					       buf, sizeof(buf)));

	/* The labels MARKER's items carry. */
	uint64_t marker = find_marker();
	CU_ASSERT_NOT_EQUAL_FATAL(marker, UINT64_MAX);
	uint64_t begin, end;
	pyhs_heap_edges(heap, marker, &begin, &end);
	CU_ASSERT_FATAL(end - begin == MARKER_ITEMS);
	CU_ASSERT(pyhs_heap_format_label(heap, pyhs_heap_edge_label(heap, begin + 3),
					 buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "[3]");

	/* FIELD labels name a C-level field, such as a type's __mro__. */
	uint64_t nedges = pyhs_heap_nedges(heap), fields = 0, bad = 0;
	bool saw_mro = false;
	for (uint64_t e = 0; e < nedges; e++) {
		uint32_t label = pyhs_heap_edge_label(heap, e);
		if (PYHS_LABEL_KIND(label) != PYHS_LABEL_FIELD)
			continue;
		fields++;
		if (!pyhs_heap_format_label(heap, label, buf, sizeof(buf)) || !buf[0] ||
		    strchr(buf, '?')) {
			bad++;
			continue;
		}
		saw_mro |= strcmp(buf, ".__mro__") == 0;
	}
	CU_ASSERT(fields > 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(saw_mro);
	/* A rendering never overruns a short buffer. */
	char tiny[3] = "xx";
	CU_ASSERT(pyhs_heap_format_label(heap, PYHS_LABEL(PYHS_LABEL_INDEX, 12345), tiny,
					 sizeof(tiny)));
	CU_ASSERT_STRING_EQUAL(tiny, "[1");
}

static void test_roots(void)
{
	if (!have_heap())
		return;
	uint64_t nroots = pyhs_heap_nroots(heap), n = pyhs_heap_nobjects(heap);
	CU_ASSERT_FATAL(nroots > 0);
	bool saw_modules = false, saw_builtins = false;
	uint64_t bad = 0;
	for (uint64_t r = 0; r < nroots; r++) {
		const char *label = pyhs_heap_root_label(heap, r);
		uint32_t obj = pyhs_heap_root_object(heap, r);
		if (!label || !label[0] || obj >= n) {
			bad++;
			continue;
		}
		if (strcmp(label, "sys.modules") == 0) {
			saw_modules = true;
			CU_ASSERT_STRING_EQUAL(type_name_of(obj), "dict");
		} else if (strcmp(label, "builtins") == 0) {
			saw_builtins = true;
			CU_ASSERT_STRING_EQUAL(type_name_of(obj), "dict");
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(saw_modules);
	CU_ASSERT(saw_builtins);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = CU_add_suite("heap of a python3.11 core", suite_init,
				       suite_cleanup);
	if (!suite ||
	    !CU_add_test(suite, "basics", test_basics) ||
	    !CU_add_test(suite, "find by address", test_find) ||
	    !CU_add_test(suite, "edge arrays", test_edges) ||
	    !CU_add_test(suite, "the MARKER list and its items", test_marker_list) ||
	    !CU_add_test(suite, "type names", test_type_names) ||
	    !CU_add_test(suite, "labels", test_labels) ||
	    !CU_add_test(suite, "roots", test_roots)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
