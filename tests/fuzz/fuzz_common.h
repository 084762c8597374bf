/*
 * What the fuzz targets share: a scratch file that holds each input (the
 * library opens inputs by path), and what every target does with a heap
 * once it has one (every analysis and output the verbs use), so that all of
 * it meets the hostile heap.
 *
 * Included by exactly one .c file per executable (everything is static).
 */
#ifndef PYHS_FUZZ_COMMON_H
#define PYHS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats.h"
#include "heapmodel.h"
#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz harness: %s\n", what);
	abort();
}

/* /dev/null, for the exports: opened once. */
__attribute__((unused)) static FILE *fuzz_devnull(void)
{
	static FILE *f;
	if (!f && !(f = fopen("/dev/null", "w")))
		fuzz_die("cannot open /dev/null");
	return f;
}

/* Writes the input to a memfd (made once, truncated and rewritten each
 * time) and returns a path that opens it. */
__attribute__((unused)) static const char *fuzz_input_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("pyhs-fuzz-input", MFD_CLOEXEC);
		if (fd < 0)
			fuzz_die("memfd_create failed");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		fuzz_die("ftruncate failed");
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
		if (n <= 0)
			fuzz_die("cannot write the input");
		done += (size_t)n;
	}
	return path;
}

/* PYHS_FUZZ_VERBOSE=1 in the environment: say what each input gave. */
static bool fuzz_verbose(void)
{
	static int v = -1;
	if (v < 0) {
		const char *e = getenv("PYHS_FUZZ_VERBOSE");
		v = e && e[0] && strcmp(e, "0") != 0;
	}
	return v;
}

/* Consumes an error: the library must have filled it in. */
static void fuzz_error(struct pyhs_error *err)
{
	if (!err->message || !err->message[0])
		fuzz_die("an error without a message");
	if (fuzz_verbose())
		fprintf(stderr, "  error %d: %s\n", (int)err->code, err->message);
	pyhs_error_destroy(err);
}

/* Everything the verbs do with a heap: export, analyses, paths, cycles,
 * retention keys, previews, values, warnings. */
static void fuzz_exercise_heap(const struct pyhs_heap *h)
{
	char buf[512];
	uint64_t n = pyhs_heap_nobjects(h);
	if (fuzz_verbose()) {
		uint64_t warnings = 0;
		for (int k = 0; k < PYHS_WARN_NKINDS; k++)
			warnings += pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k);
		fprintf(stderr, "  heap: %llu objects, %llu edges, %llu warnings\n",
			(unsigned long long)n,
			(unsigned long long)pyhs_heap_nedges(h),
			(unsigned long long)warnings);
	}
	struct pyhs_error *err = pyhs_export_jsonl(h, fuzz_devnull());
	if (err)
		fuzz_error(err);
	/* A handful of objects spread over the heap. */
	uint64_t picks[6] = { 0, 1, n / 3, n / 2, n - 2, n - 1 };
	for (size_t k = 0; k < 6 && n; k++) {
		uint64_t i = picks[k] < n ? picks[k] : n - 1;
		pyhs_heap_preview(h, i, buf, sizeof(buf));
		const char *v = pyhs_heap_value(h, i);
		if (v)
			(void)strlen(v);
		uint64_t found;
		if (!pyhs_heap_find(h, pyhs_heap_addr(h, i), &found))
			fuzz_die("pyhs_heap_find misses an object of the heap");
	}
	for (size_t k = 0; k < pyhs_heap_nwarning_examples(h); k++)
		(void)strlen(pyhs_heap_warning_example(h, k));

	struct pyhs_analysis *a;
	err = pyhs_analysis_create(h, &a);
	if (err) {
		fuzz_error(err);
	} else {
		uint64_t sum = 0;
		for (uint64_t i = 0; i < n; i++)
			sum += pyhs_analysis_retained(a, i) +
			       pyhs_analysis_unexplained(a, i) +
			       pyhs_analysis_is_garbage(a, i) +
			       pyhs_analysis_idom(a, i);
		(void)sum;
		(void)pyhs_analysis_ngarbage(a);
		(void)pyhs_analysis_reachable_bytes(a);
		for (size_t k = 0; k < 6 && n; k++) {
			uint64_t i = picks[k] < n ? picks[k] : n - 1;
			struct pyhs_path *paths;
			size_t np;
			err = pyhs_analysis_paths(a, (uint32_t)i, 3, &paths, &np);
			if (err) {
				fuzz_error(err);
				continue;
			}
			for (size_t p = 0; p < np; p++) {
				for (uint64_t e = 0; e < paths[p].nedges; e++)
					pyhs_heap_format_label(
						h, pyhs_heap_edge_label(h, paths[p].edges[e]),
						buf, sizeof(buf));
			}
			pyhs_paths_free(paths, np);
		}
		for (int garbage_only = 0; garbage_only < 2; garbage_only++) {
			struct pyhs_cycles *c;
			err = pyhs_analysis_cycles(a, garbage_only, &c);
			if (err)
				fuzz_error(err);
			else
				pyhs_cycles_free(c);
		}
		pyhs_analysis_destroy(a);
	}

	struct pyhs_retention *r;
	err = pyhs_retention_create(h, &r);
	if (err) {
		fuzz_error(err);
	} else {
		for (size_t k = 0; k < 6 && n; k++) {
			uint64_t i = picks[k] < n ? picks[k] : n - 1;
			(void)pyhs_retention_key(r, i);
			pyhs_retention_describe(r, i, buf, sizeof(buf));
		}
		pyhs_retention_destroy(r);
	}
}

#endif
