/*
 * live_probe: reads a running Python process with pyhs_target_open_pid and
 * prints what the tests compare, as one JSON object on stdout.
 *
 *     live_probe [--no-heap] [--no-stop] PID [ADDR ...]
 *     live_probe --core CORE [ADDR ...]
 *
 * Fields: pid, source, pause_ns, open_ns (all of pyhs_target_open_pid),
 * heap_ns, objects, hexversion, version, nthreads, tids, start_time,
 * capture_time, warnings, and "at": for each ADDR (decimal or 0x hex) the
 * object there, {"addr", "found", "type", "refcnt"}. --no-heap stops after
 * the capture (no heap model, no "at"). "digest" is a hash of every
 * object's address, type name, size, refcount, generation, flags and
 * references, so that a live capture can be compared with a core of the
 * same, unchanged, process. --no-stop reads the process without stopping
 * it (pyhs_open_options.no_stop); "consistent" says whether it was stopped.
 *
 * SIGINT, SIGTERM and SIGHUP raise the capture's cancel flag: the capture
 * resumes the process and fails with PYHS_ERROR_CANCELLED, and the probe
 * then dies of the signal (as a caller of the library that handles
 * signals would).
 *
 * On error: {"error": MESSAGE, "code": N} on stdout, the message on stderr,
 * exit status 1.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapmodel.h"
#include "reader.h"

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	       (unsigned long long)ts.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t digest(const struct pyhs_heap *h)
{
	uint64_t d = 0xcbf29ce484222325ull;
	for (uint64_t i = 0; i < pyhs_heap_nobjects(h); i++) {
		uint64_t v[5] = {
			pyhs_heap_addr(h, i), pyhs_heap_size(h, i),
			pyhs_heap_refcnt(h, i), (uint64_t)pyhs_heap_gen(h, i),
			pyhs_heap_flags(h, i),
		};
		d = fnv(d, v, sizeof(v));
		const char *tn = pyhs_heap_type_name(h, pyhs_heap_type_of(h, i));
		d = fnv(d, tn, strlen(tn) + 1);
		uint64_t b, e;
		pyhs_heap_edges(h, i, &b, &e);
		for (uint64_t k = b; k < e; k++) {
			uint64_t dst = pyhs_heap_addr(h, pyhs_heap_edge_dst(h, k));
			uint32_t label = pyhs_heap_edge_label(h, k);
			d = fnv(d, &dst, sizeof(dst));
			d = fnv(d, &label, sizeof(label));
		}
	}
	return d;
}

static volatile sig_atomic_t cancel;

static void on_signal(int sig)
{
	cancel = sig;
}

static int fail(struct pyhs_error *err)
{
	if (err->code == PYHS_ERROR_CANCELLED && cancel) {
		pyhs_error_destroy(err);
		signal(cancel, SIG_DFL);
		raise(cancel);
		return 1;
	}
	printf("{\"error\": ");
	json_str(err->message);
	printf(", \"code\": %d}\n", (int)err->code);
	fprintf(stderr, "live_probe: %s\n", err->message);
	pyhs_error_destroy(err);
	return 1;
}

int main(int argc, char **argv)
{
	int i = 1;
	int heap = 1;
	const char *core = NULL;
	struct pyhs_open_options opts = { 0 };
	for (; i < argc && strcmp(argv[i], "--no-heap") == 0; i++)
		heap = 0;
	for (; i < argc && strcmp(argv[i], "--no-stop") == 0; i++)
		opts.no_stop = true;
	if (i + 1 < argc && strcmp(argv[i], "--core") == 0) {
		core = argv[i + 1];
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: live_probe [--no-heap] PID [ADDR ...]\n"
				"       live_probe --core CORE [ADDR ...]\n");
		return 2;
	}
	int pid = core ? 0 : atoi(argv[i]);
	i++;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	opts.cancel = &cancel;
	struct pyhs_target *t;
	unsigned long long t0 = now_ns();
	struct pyhs_error *err = core ? pyhs_target_open_core(core, &opts, &t) :
					pyhs_target_open_pid(pid, &opts, &t);
	unsigned long long t1 = now_ns();
	if (err)
		return fail(err);
	printf("{\"pid\": %d, \"source\": ", pyhs_target_pid(t));
	json_str(pyhs_target_source(t));
	printf(", \"pause_ns\": %llu, \"open_ns\": %llu, \"consistent\": %s",
	       (unsigned long long)pyhs_target_pause_ns(t), t1 - t0,
	       pyhs_target_unstopped(t) ? "false" : "true");
	printf(", \"start_time\": %llu, \"capture_time\": %llu",
	       (unsigned long long)pyhs_target_start_time(t),
	       (unsigned long long)pyhs_target_capture_time(t));
	printf(", \"executable\": ");
	json_str(pyhs_target_executable(t));
	printf(", \"cmdline\": ");
	json_str(pyhs_target_cmdline(t));
	printf(", \"nthreads\": %zu, \"tids\": [", pyhs_target_nthreads(t));
	for (size_t k = 0; k < pyhs_target_nthreads(t); k++)
		printf("%s%d", k ? ", " : "", pyhs_target_thread_tid(t, k));
	printf("], \"py_version\": %u, \"warnings\": [",
	       (unsigned)pyhs_target_py_version(t));
	for (size_t k = 0; k < pyhs_target_nwarnings(t); k++) {
		printf("%s", k ? ", " : "");
		json_str(pyhs_target_warning(t, k));
	}
	printf("]");
	if (heap) {
		struct pyhs_heap *h;
		unsigned long long t2 = now_ns();
		err = pyhs_heap_build(t, argv[i - 1], NULL, &h);
		unsigned long long t3 = now_ns();
		if (err) {
			printf(", \"heap_error\": ");
			json_str(err->message);
			printf("}\n");
			fprintf(stderr, "live_probe: %s\n", err->message);
			pyhs_error_destroy(err);
			pyhs_target_destroy(t);
			return 1;
		}
		const struct pyhs_heap_meta *meta = pyhs_heap_meta(h);
		printf(", \"heap_ns\": %llu, \"objects\": %llu, \"hexversion\": %u, \"version\": ",
		       t3 - t2, (unsigned long long)pyhs_heap_nobjects(h),
		       (unsigned)meta->hexversion);
		json_str(meta->version);
		printf(", \"edges\": %llu, \"digest\": \"%016llx\"",
		       (unsigned long long)pyhs_heap_nedges(h),
		       (unsigned long long)digest(h));
		printf(", \"at\": [");
		for (int k = i; k < argc; k++) {
			unsigned long long addr = strtoull(argv[k], NULL, 0);
			uint64_t n;
			printf("%s{\"addr\": %llu", k > i ? ", " : "", addr);
			if (pyhs_heap_find(h, addr, &n)) {
				printf(", \"found\": true, \"type\": ");
				json_str(pyhs_heap_type_name(h, pyhs_heap_type_of(h, n)));
				printf(", \"refcnt\": %llu",
				       (unsigned long long)pyhs_heap_refcnt(h, n));
			} else {
				printf(", \"found\": false");
			}
			printf("}");
		}
		printf("]");
		pyhs_heap_destroy(h);
	}
	printf("}\n");
	pyhs_target_destroy(t);
	if (cancel) {
		/* It came after the capture: die of it all the same. */
		signal(cancel, SIG_DFL);
		raise(cancel);
	}
	return 0;
}
