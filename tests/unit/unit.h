/*
 * What the CUnit programs of tests/unit share: running the registered
 * cases, all of them or those named on the command line, and skipping.
 *
 *     test_graph [NAME ...]
 *
 * With no NAME every case runs. With NAMEs only the cases whose name
 * contains one of them (`meson test -C build unit-graph --test-args
 * dominators`); the program says which ran, and a NAME that is in no
 * case's name is a usage error (exit 2) that lists the cases.
 *
 * A case that cannot run here (an interpreter, a core or a file missing)
 * calls unit_skip(): the program then exits 77, meson's "skipped", unless
 * a case failed (exit 1); it never reports a skip as a pass.
 */
#ifndef PYHS_TESTS_UNIT_H
#define PYHS_TESTS_UNIT_H

/* Runs the cases registered in CUnit's registry as argv asks (see above),
 * cleans the registry up and returns the exit status: 0 all passed, 1 a
 * case or a suite's set-up failed, 2 a usage or CUnit error, 77 a case was
 * skipped and none failed. */
int unit_main(int argc, char **argv);

/* Says why the running case cannot run here and counts it as skipped; the
 * case should return without asserting anything more. */
void unit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The file rel (e.g. "bin/python3.12", "lib/libpython3.12.so.1.0") of
 * pyenv's newest 3.<minor>.<micro>, a final release, as tests/pyhs_test.py's
 * pyenv_interpreter() finds it ($PYENV_ROOT, else `pyenv root`, else
 * ~/.pyenv); NULL if there is none. Sets *micro_ret when not NULL. The
 * caller frees the path. */
char *unit_pyenv_file(unsigned minor, const char *rel, unsigned *micro_ret);

#endif /* PYHS_TESTS_UNIT_H */
