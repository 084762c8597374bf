/*
 * Finding _PyRuntime without its symbol: the .PyRuntime section (3.10+)
 * and the _Py_DebugOffsets cookie (3.13+) must lead to the same runtime,
 * and the same heap, as the symbol does; and the statics of a stripped
 * binary (the interned strings of 3.8-3.11) are found without theirs.
 * Cores are made at test time from each interpreter; a missing one, or a
 * core the kernel does not write, is a skip (unit_skip).
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapmodel.h"
#include "reader.h"
#include "unit.h"

static char workdir[] = "/tmp/pyheapsnap-runtime-XXXXXX";

/* A core of `python -c 'import os; x = [1, 2]; os.abort()'` in a fresh
 * directory; NULL (and a skip, or a failure if python did not abort) if
 * none can be made. */
static char *make_core(const char *python, const char *name)
{
	char *dir;
	if (asprintf(&dir, "%s/%s", workdir, name) < 0 || mkdir(dir, 0700) < 0) {
		CU_FAIL("cannot make a directory for the core");
		return NULL;
	}
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		setrlimit(RLIMIT_CORE, &rl);
		if (chdir(dir) < 0)
			_exit(126);
		execl(python, python, "-I", "-c", "import os; x = [1, 2]; os.abort()",
		      (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	char *core;
	if (asprintf(&core, "%s/core.%d", dir, (int)pid) < 0)
		core = NULL;
	else if (access(core, R_OK) != 0) {
		free(core);
		if (asprintf(&core, "%s/core", dir) < 0)
			core = NULL;
	}
	free(dir);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fprintf(stderr, "\n    %s did not abort (wait status %d)\n", python, status);
		CU_FAIL("the program did not abort");
		free(core);
		return NULL;
	}
	if (!core || access(core, R_OK) != 0) {
		unit_skip("no core from %s in %s (kernel.core_pattern?)", python, workdir);
		free(core);
		return NULL;
	}
	return core;
}

static void check(const char *python, const char *name, unsigned skip)
{
	if (access(python, X_OK) != 0) {
		unit_skip("%s not installed", python);
		return;
	}
	char *core = make_core(python, name);
	if (!core)
		return;
	struct pyhs_target *a, *b;
	struct pyhs_open_options plain = { 0 }, probe = { .runtime_skip = skip };
	CU_ASSERT_PTR_NULL_FATAL(pyhs_target_open_core(core, &plain, &a));
	struct pyhs_error *err = pyhs_target_open_core(core, &probe, &b);
	if (err)
		printf("\n  %s: %s\n", name, err->message);
	CU_ASSERT_PTR_NULL_FATAL(err);
	CU_ASSERT_EQUAL(pyhs_target_runtime(a), pyhs_target_runtime(b));
	CU_ASSERT_EQUAL(pyhs_target_py_version(a), pyhs_target_py_version(b));
	struct pyhs_heap *ha, *hb;
	CU_ASSERT_PTR_NULL_FATAL(pyhs_heap_build(a, core, NULL, &ha));
	CU_ASSERT_PTR_NULL_FATAL(pyhs_heap_build(b, core, NULL, &hb));
	CU_ASSERT(pyhs_heap_nobjects(ha) > 1000);
	CU_ASSERT_EQUAL(pyhs_heap_nobjects(ha), pyhs_heap_nobjects(hb));
	CU_ASSERT_EQUAL(pyhs_heap_nedges(ha), pyhs_heap_nedges(hb));
	CU_ASSERT_EQUAL(pyhs_heap_nroots(ha), pyhs_heap_nroots(hb));
	CU_ASSERT_EQUAL(pyhs_heap_warning_count(ha, PYHS_WARN_MISSING_ROOT), 0);
	CU_ASSERT_EQUAL(pyhs_heap_warning_count(hb, PYHS_WARN_MISSING_ROOT), 0);
	pyhs_heap_destroy(ha);
	pyhs_heap_destroy(hb);
	pyhs_target_destroy(a);
	pyhs_target_destroy(b);
	free(core);
}

/* The newest pyenv interpreter of a minor version (3.X), or a path that
 * does not exist (so the case says what it skipped). */
static char *pyenv_python(const char *minor)
{
	unsigned m = (unsigned)atoi(minor + 2);
	char rel[32], *found;
	snprintf(rel, sizeof(rel), "bin/python%s", minor);
	found = unit_pyenv_file(m, rel, NULL);
	if (!found && asprintf(&found, "pyenv's python%s", minor) < 0)
		found = NULL;
	return found;
}

/* check() of pyenv's 3.X (minor), its core in the directory what-3.X. */
static void check_pyenv(const char *minor, const char *what, unsigned skip)
{
	char *py = pyenv_python(minor);
	char name[32];
	snprintf(name, sizeof(name), "%s-%s", what, minor);
	check(py, name, skip);
	free(py);
}

static void test_section_debian_311(void)
{
	check("/usr/bin/python3.11", "debian-3.11", PYHS_SKIP_RUNTIME_SYMBOL);
}

static void test_section_pyenv(void)
{
	const char *minors[] = { "3.10", "3.11", "3.12", "3.13" };
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++)
		check_pyenv(minors[i], "section", PYHS_SKIP_RUNTIME_SYMBOL);
}

static void test_cookie_313(void)
{
	check_pyenv("3.13", "cookie", PYHS_SKIP_RUNTIME_SYMBOL | PYHS_SKIP_RUNTIME_SECTION);
}

/* Only .dynsym's symbols: the interned strings' table, a static of
 * unicodeobject.c in 3.8-3.11, is found in the binary's data instead
 * (3.12+ have it in the interpreter state). */
static void test_static_symbols(void)
{
	check("/usr/bin/python3.11", "static-debian-3.11", PYHS_SKIP_STATIC_SYMBOLS);
	const char *minors[] = { "3.8", "3.9", "3.10", "3.11", "3.12", "3.13" };
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++)
		check_pyenv(minors[i], "static", PYHS_SKIP_STATIC_SYMBOLS);
}

/* 3.8 has neither: without its symbol there is nothing to find. */
static void test_nothing_38(void)
{
	char *py = pyenv_python("3.8");
	if (access(py, X_OK) != 0) {
		unit_skip("%s not installed", py);
		free(py);
		return;
	}
	char *core = make_core(py, "nothing-3.8");
	if (!core) {
		free(py);
		return;
	}
	struct pyhs_open_options probe = {
		.runtime_skip = PYHS_SKIP_RUNTIME_SYMBOL | PYHS_SKIP_RUNTIME_SECTION,
	};
	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_open_core(core, &probe, &t);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err) {
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_UNSUPPORTED);
		pyhs_error_destroy(err);
	}
	free(core);
	free(py);
}

int main(int argc, char **argv)
{
	if (!mkdtemp(workdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("runtime", NULL, NULL);
	int status = 2;
	if (s &&
	    CU_add_test(s, "the .PyRuntime section of Debian's python3.11", test_section_debian_311) &&
	    CU_add_test(s, "the .PyRuntime section of pyenv 3.10-3.13", test_section_pyenv) &&
	    CU_add_test(s, "the _Py_DebugOffsets cookie of 3.13", test_cookie_313) &&
	    CU_add_test(s, "3.8 without its symbol is refused", test_nothing_38) &&
	    CU_add_test(s, "statics without .symtab or debug file, 3.8-3.13", test_static_symbols))
		status = unit_main(argc, argv);
	else
		CU_cleanup_registry();
	char *cmd;
	if (asprintf(&cmd, "rm -rf '%s'", workdir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", workdir);
		free(cmd);
	}
	return status;
}
