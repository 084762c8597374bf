/* The shared main of the CUnit programs: see unit.h. */
#include "unit.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

static unsigned skips;

void unit_skip(const char *fmt, ...)
{
	va_list ap;
	fputs("\n    skipped: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	skips++;
}

static bool wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++) {
		if (strstr(name, argv[i]))
			return true;
	}
	return false;
}

static void list_cases(FILE *out)
{
	for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext) {
		for (CU_pTest t = s->pTest; t; t = t->pNext)
			fprintf(out, "  %s: %s\n", s->pName, t->pName);
	}
}

/* Marks the cases argv names active and the others not; a suite with no
 * active case is not run at all (so its set-up, a core, is not made).
 * Returns how many are active; an unknown name is reported. */
static int select_cases(int argc, char **argv, bool *unknown)
{
	int active = 0;
	for (int i = 1; i < argc; i++) {
		bool found = false;
		for (CU_pSuite s = CU_get_registry()->pSuite; s && !found; s = s->pNext) {
			for (CU_pTest t = s->pTest; t && !found; t = t->pNext)
				found = strstr(t->pName, argv[i]) != NULL;
		}
		if (!found) {
			fprintf(stderr, "%s: no case is named like '%s'\n", argv[0], argv[i]);
			*unknown = true;
		}
	}
	for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext) {
		int in_suite = 0;
		for (CU_pTest t = s->pTest; t; t = t->pNext) {
			bool on = wanted(t->pName, argc, argv);
			CU_set_test_active(t, on ? CU_TRUE : CU_FALSE);
			if (on && argc > 1)
				printf("running %s: %s\n", s->pName, t->pName);
			in_suite += on;
		}
		CU_set_suite_active(s, in_suite ? CU_TRUE : CU_FALSE);
		active += in_suite;
	}
	return active;
}

int unit_main(int argc, char **argv)
{
	if (!CU_get_registry()) {
		fprintf(stderr, "%s: no CUnit registry\n", argv[0]);
		return 2;
	}
	bool unknown = false;
	int active = select_cases(argc, argv, &unknown);
	if (unknown || !active) {
		fprintf(stderr, "the cases are:\n");
		list_cases(stderr);
		CU_cleanup_registry();
		return 2;
	}
	CU_set_fail_on_inactive(CU_FALSE);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (skips) {
		printf("skipped: %u check(s) could not run here (see the lines above); "
		       "none of the %u cases run failed\n", skips, ran);
		return 77;
	}
	return 0;
}

/* The pyenv root, or NULL. Caller frees. */
static char *pyenv_root(void)
{
	const char *env = getenv("PYENV_ROOT");
	if (env && *env)
		return strdup(env);
	FILE *p = popen("pyenv root 2>/dev/null", "r");
	if (p) {
		char buf[4096];
		char *line = fgets(buf, sizeof(buf), p);
		int status = pclose(p);
		if (line && status == 0) {
			buf[strcspn(buf, "\n")] = '\0';
			if (buf[0])
				return strdup(buf);
		}
	}
	const char *home = getenv("HOME");
	char *path;
	if (!home || asprintf(&path, "%s/.pyenv", home) < 0)
		return NULL;
	return path;
}

char *unit_pyenv_file(unsigned minor, const char *rel, unsigned *micro_ret)
{
	char *root = pyenv_root(), *dirpath;
	if (!root)
		return NULL;
	if (asprintf(&dirpath, "%s/versions", root) < 0) {
		free(root);
		return NULL;
	}
	free(root);
	char *best = NULL;
	unsigned best_micro = 0;
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		unsigned maj, min, mic;
		int len = 0;
		/* Digits only: not 3.13.0t or 3.14-dev. */
		if (sscanf(de->d_name, "%u.%u.%u%n", &maj, &min, &mic, &len) != 3 ||
		    de->d_name[len] != '\0' || maj != 3 || min != minor ||
		    (best && mic <= best_micro))
			continue;
		char *path;
		if (asprintf(&path, "%s/%s/%s", dirpath, de->d_name, rel) < 0)
			break;
		if (access(path, R_OK) == 0) {
			free(best);
			best = path;
			best_micro = mic;
		} else {
			free(path);
		}
	}
	if (dir)
		closedir(dir);
	free(dirpath);
	if (best && micro_ret)
		*micro_ret = best_micro;
	return best;
}
