/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput over inputs, without
 * libFuzzer, so that the committed corpora (corpora/fuzz/TARGET/) run as
 * ordinary tests with any compiler (and under ASan/UBSan in build-dev):
 *
 *     replay-TARGET DIR|FILE...
 *
 * Every regular file of each directory (not recursively; names starting
 * with '.' and README* are skipped), in name order, and each file named.
 * Each input runs in a child process of its own, so that one crash does
 * not hide the next: the target's LLVMFuzzerInitialize runs once, before.
 * Prints one line per input, "ok NAME (N bytes, S s)" or "FAIL NAME: why"
 * (a signal, e.g. a sanitizer's abort; an exit status, e.g. LeakSanitizer's;
 * or longer than PYHS_FUZZ_REPLAY_TIMEOUT seconds, default 10, 0 for no
 * limit: the slowest seed takes about 1 s under ASan), then
 * "N inputs, N failed". Exit status 0 if none failed; 1 if some did, on a
 * usage error or an empty corpus; 77 (skipped, for meson) when the target
 * says it cannot run here (fuzz_skip_reason, e.g. fuzz_heap's base core
 * needs the python3.11 it was made with).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
const char *fuzz_skip_reason(void) __attribute__((weak));

#define DEFAULT_TIMEOUT 10

static size_t ninputs, nfailed;

static unsigned timeout_seconds(void)
{
	const char *e = getenv("PYHS_FUZZ_REPLAY_TIMEOUT");
	if (!e || !e[0])
		return DEFAULT_TIMEOUT;
	char *end;
	unsigned long v = strtoul(e, &end, 10);
	return *end || v > 86400 ? DEFAULT_TIMEOUT : (unsigned)v;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, malloc'd; NULL (with a message) if it cannot be read. */
static uint8_t *read_all(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, size = 0;
	uint8_t *data = malloc(cap);
	while (data) {
		size += fread(data + size, 1, cap - size, f);
		if (size < cap)
			break;
		cap *= 2;
		uint8_t *d = realloc(data, cap);
		if (!d)
			free(data);
		data = d;
	}
	bool failed = !data || ferror(f);
	fclose(f);
	if (failed) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		free(data);
		return NULL;
	}
	*ret_size = size;
	return data;
}

static void fail(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL %s: ", path);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
	nfailed++;
}

static void run_file(const char *path)
{
	size_t size;
	uint8_t *data = read_all(path, &size);
	ninputs++;
	if (!data) {
		fail(path, "cannot read it");
		return;
	}
	printf("run %s\n", path);
	fflush(stdout);
	fflush(stderr);
	unsigned limit = timeout_seconds();
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		free(data);
		fail(path, "cannot fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* libFuzzer hands the target exactly size bytes. */
		uint8_t *copy = malloc(size ? size : 1);
		if (!copy)
			_exit(2);
		memcpy(copy, data, size);
		free(data);
		alarm(limit);
		LLVMFuzzerTestOneInput(copy, size);
		alarm(0);
		free(copy);
		exit(0); /* atexit handlers, LeakSanitizer */
	}
	free(data);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fail(path, "waitpid: %s", strerror(errno));
			return;
		}
	}
	double secs = now() - t0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fail(path, "no answer within %u s (a hang)", limit);
	else if (WIFSIGNALED(status))
		fail(path, "killed by signal %d (%s) after %.2f s", WTERMSIG(status),
		     strsignal(WTERMSIG(status)), secs);
	else if (WEXITSTATUS(status) != 0)
		fail(path, "exit status %d after %.2f s", WEXITSTATUS(status), secs);
	else
		printf("ok %s (%zu bytes, %.2f s)\n", path, size, secs);
	fflush(stdout);
}

static void run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open directory '%s': %s\n", dir,
			strerror(errno));
		ninputs++;
		nfailed++;
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n; i++) {
		char *path;
		struct stat st;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			nfailed++;
			break;
		}
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			run_file(path);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 1;
	}
	if (fuzz_skip_reason) {
		const char *why = fuzz_skip_reason();
		if (why) {
			printf("skip: %s\n", why);
			return 77;
		}
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_file(argv[i]);
	}
	printf("%zu inputs, %zu failed\n", ninputs, nfailed);
	if (!ninputs) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	return nfailed ? 1 : 0;
}
