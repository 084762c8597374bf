/* What the verbs share: messages, input options, opening an input. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pyheapsnap.h"

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pyheapsnap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pyheapsnap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (verb)
		fprintf(stderr, "Try 'pyheapsnap %s --help' for more information.\n", verb);
	else
		fprintf(stderr, "Try 'pyheapsnap --help' for more information.\n");
	return EXIT_USAGE;
}

int report_error(struct pyhs_error *err)
{
	int code;
	if (err->code == PYHS_ERROR_CANCELLED) {
		/* The library undid what it began; the signal says the rest. */
		pyhs_error_destroy(err);
		code = signals_exit_status();
		return code ? code : EXIT_INPUT;
	}
	switch (err->code) {
	case PYHS_ERROR_INVALID:
		code = EXIT_USAGE;
		break;
	default:
		code = EXIT_INPUT;
		break;
	}
	log_error("%s", err->message);
	pyhs_error_destroy(err);
	return code;
}

bool parse_size(const char *arg, double *ret)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || v < 0 || !isfinite(v))
		return false;
	static const struct { const char *suffix; double mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 },
		{ "TB", 1e12 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 },
		{ "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
		{ "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 },
		{ "T", 1099511627776.0 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(end, units[i].suffix)) {
			*ret = v * units[i].mult;
			return true;
		}
	}
	return false;
}

bool parse_count(const char *arg, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || v == 0 || arg[0] == '-')
		return false;
	*ret = v;
	return true;
}

/* A size of 1 byte or more (parse_size) that fits in 64 bits, into *ret
 * only if it is one. */
static bool parse_bytes(const char *arg, uint64_t *ret)
{
	double v;
	if (!parse_size(arg, &v) || v < 1 || v >= 18446744073709551615.0)
		return false;
	*ret = (uint64_t)v;
	return true;
}

int input_option(struct input_options *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SYSROOT:
		o->open.sysroot = arg;
		return 1;
	case OPT_EXE:
		o->open.exe = arg;
		return 1;
	case OPT_DEBUG_DIR:
		o->open.debug_dir = arg;
		return 1;
	case OPT_NO_DWARF:
		o->open.no_dwarf = true;
		return 1;
	case OPT_NO_DEBUGINFOD:
		o->open.no_debuginfod = true;
		return 1;
	case OPT_NO_STOP:
		o->open.no_stop = true;
		return 1;
	case OPT_NO_CACHE:
		o->no_cache = true;
		return 1;
	case OPT_JSON:
		o->json = true;
		return 1;
	case 'j': {
		uint64_t v;
		if (!parse_count(arg, &v) || v > PYHS_JOBS_MAX) {
			log_error("--jobs takes a whole number from 1 to %d, not '%s'",
				  PYHS_JOBS_MAX, arg);
			return -1;
		}
		o->jobs = (unsigned)v;
		return 1;
	}
	case OPT_PID: {
		char *end;
		long v = strtol(arg, &end, 10);
		if (*end || v <= 0 || v > INT32_MAX) {
			log_error("--pid takes a process id, not '%s'", arg);
			return -1;
		}
		o->pid = (int)v;
		return 1;
	}
	case OPT_GEN:
		if (!strcmp(arg, "0") || !strcmp(arg, "1") || !strcmp(arg, "2"))
			o->gen = arg[0] - '0';
		else if (!strcmp(arg, "permanent"))
			o->gen = PYHS_GEN_PERMANENT;
		else if (!strcmp(arg, "untracked"))
			o->gen = PYHS_GEN_UNTRACKED;
		else {
			log_error("--gen takes 0, 1, 2, permanent or untracked, not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_MAX_OBJECTS:
		if (!parse_count(arg, &o->heap.max_objects)) {
			log_error("--max-objects takes a positive whole number, not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_MAX_CORE_SIZE:
		if (!parse_bytes(arg, &o->open.max_core_size)) {
			log_error("--max-core-size takes a size (100MB, 2GiB), not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_SPILL_ABOVE:
		if (!parse_bytes(arg, &o->heap.spill_above)) {
			log_error("--spill-above takes a size (32MiB, 1GB), not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_NO_SPILL:
		o->heap.spill_above = UINT64_MAX;
		return 1;
	case OPT_MAX_EDGES:
		if (!parse_count(arg, &o->heap.max_edges)) {
			log_error("--max-edges takes a positive whole number, not '%s'", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int parse_output_format(const char *verb, const char *arg, enum output_format *ret)
{
	static const char *const names[] = { "text", "json", "dot" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(arg, names[i])) {
			*ret = (enum output_format)i;
			return 0;
		}
	}
	return usage_error(verb, "unknown format '%s' (known: text, json, dot)", arg);
}

int resolve_output_format(const char *verb, struct input_options *o,
			  enum output_format *format)
{
	if (o->json && *format == FORMAT_DOT)
		return usage_error(verb, "--json and --format dot do not go together");
	if (o->json)
		*format = FORMAT_JSON;
	o->json = *format == FORMAT_JSON;
	return 0;
}

const char PID_INPUT[] = "(the --pid process)";

int output_option(const char *verb, const char *arg, const char **ret)
{
	if (!arg[0])
		return usage_error(verb, "the output file name is empty");
	*ret = arg;
	return 0;
}

struct output_verb_ctx {
	const char *name;
	const char **output;
};

static int output_verb_option(void *ctx, int opt, const char *arg)
{
	const struct output_verb_ctx *c = ctx;
	if (opt != 'o')
		return usage_error(c->name, "unknown option");
	return output_option(c->name, arg, c->output);
}

int output_verb_start(const struct output_verb *v, int argc, char **argv,
		      struct input_options *o, const char **ret_output,
		      char ***ret_args, int *ret_nargs)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *output = NULL;
	struct output_verb_ctx ctx = { v->name, &output };
	struct verb_spec spec = { v->name, "o:", longopts, v->help, output_verb_option,
				  &ctx, 1, v->max_args };
	int r = parse_verb_args(&spec, argc, argv, o, ret_args, ret_nargs);
	if (r >= 0)
		return r;
	if (v->required && !output)
		return usage_error(v->name, "no output given (-o FILE)");
	if (o->gen >= 0)
		return usage_error(v->name, "%s", v->gen_refusal);
	if (v->json_needs_output && o->json && !output)
		return usage_error(v->name, "%s", v->json_needs_output);
	/* The output first: a path that cannot be written stops the verb
	 * before any input is read (or a process stopped). */
	if (output && (r = output_open(output, v->kind, o)))
		return r;
	*ret_output = output;
	return -1;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pyhs_progress_fn: one line on stderr, rewritten in place, once the
 * verb has been at it for a second; erased when a step is done. */
static void show_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double t = now_seconds();
	if (!what) {
		if (p->shown)
			fputs("\r\033[K", stderr);
		p->shown = false;
		p->what = NULL;
		return;
	}
	bool changed = what != p->what;
	p->what = what;
	if (t - p->began < 1.0 || (!changed && t - p->last < 0.1))
		return;
	p->last = t;
	char count[32];
	fmt_count(total ? total : done, count, sizeof(count));
	fprintf(stderr, "\rpyheapsnap: %s%s%s%s, %.1f s\033[K", what, done || total ? ": " : "",
		done || total ? count : "", done || total ? " objects" : "", t - p->began);
	p->shown = true;
}

/* before_stop of a capture whose result goes to an output: room for it. */
static struct pyhs_error *output_room(void *ctx, uint64_t bytes)
{
	const struct input_options *o = ctx;
	return pyhs_output_check_room(o->output, bytes / o->output_ratio);
}

int capture_pid(struct input_options *o, struct pyhs_target **ret)
{
	signals_install(o->output != NULL);
	o->open.cancel = &signals_cancel;
	if (o->output && o->output_ratio) {
		o->open.before_stop = output_room;
		o->open.before_stop_ctx = o;
	}
	signals_defer(true);
	struct pyhs_error *err = pyhs_target_open_pid(o->pid, &o->open, ret);
	signals_defer(false);
	if (err)
		return report_error(err);
	int code = signals_exit_status();
	if (code) {
		/* The signal came as the capture ended: it still counts. */
		pyhs_target_destroy(*ret);
		return code;
	}
	return 0;
}

int output_open(const char *path, enum pyhs_output_kind kind,
		struct input_options *o)
{
	signals_install(true);
	/* Deferred until the handler knows the temporary file's name. */
	signals_defer(true);
	struct pyhs_error *err = pyhs_output_create(path, kind, &signals_cancel,
						    &o->output);
	if (!err)
		signals_temporary(pyhs_output_temporary(o->output));
	signals_defer(false);
	if (err)
		return report_error(err);
	int code = signals_exit_status();
	if (code) {
		output_close(o);
		return code;
	}
	const char *example;
	size_t stale = pyhs_output_stale(o->output, &example);
	if (stale)
		log_error("removed %zu temporary file%s that a killed run left behind ('%s'%s)",
			  stale, stale == 1 ? "" : "s", example ? example : "?",
			  stale > 1 ? ", ..." : "");
	return 0;
}

int output_finish(struct input_options *o, struct pyhs_error *err)
{
	signals_temporary(pyhs_output_temporary(o->output));
	if (!err)
		signals_written(); /* the file is whole: say no otherwise */
	signals_defer(false);
	signals_temporary(NULL);
	pyhs_output_destroy(o->output);
	o->output = NULL;
	if (err)
		return report_error(err);
	return signals_exit_status();
}

int output_write(struct input_options *o, const char *path,
		 struct pyhs_error *(*write)(void *ctx, FILE *out), void *ctx)
{
	struct pyhs_error *err;
	if (!o->output) {
		err = write(ctx, stdout);
		return err ? report_error(err) : 0;
	}
	/* A signal during the write removes the temporary file and exits
	 * 128 + the signal (signals.c); during the commit it is held until
	 * the commit is done. */
	FILE *f = pyhs_output_stream(o->output);
	err = f ? write(ctx, f) : pyhs_error_os(errno, "cannot write '%s'", path);
	signals_defer(true);
	if (!err)
		err = pyhs_output_commit(o->output);
	return output_finish(o, err);
}

int output_size(const char *path, uint64_t *ret)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return report_error(pyhs_error_os(errno, "cannot read back '%s'", path));
	*ret = (uint64_t)st.st_size;
	return 0;
}

void output_close(struct input_options *o)
{
	signals_temporary(NULL);
	pyhs_output_destroy(o->output);
	o->output = NULL;
}

/* Opens the core at path; the error, if any, named as open_input says it. */
static struct pyhs_error *open_core(const char *path, const struct input_options *o,
				    struct pyhs_target **ret)
{
	struct pyhs_error *err = pyhs_target_open_core(path, &o->open, ret);
	/* Name the input in messages about the input itself. */
	if (err && err->code == PYHS_ERROR_OS && err->path && err->op &&
	    strcmp(err->op, "open") == 0 && strcmp(err->path, path) == 0) {
		char reason[128];
		struct pyhs_error *named = pyhs_error_create(
			PYHS_ERROR_INPUT, "cannot open core '%s': %s", path,
			pyhs_strerror(err->errnum, reason, sizeof(reason)));
		pyhs_error_destroy(err);
		err = named;
	}
	return err;
}

int input_open_target(const char *path, struct input_options *o,
		      struct pyhs_target **ret)
{
	if (path == PID_INPUT)
		return capture_pid(o, ret);
	struct pyhs_error *err = open_core(path, o, ret);
	return err ? report_error(err) : 0;
}

/* What reading an input left (load_input): its heap, the analysis asked
 * for or the cache entry needs, the cache entry to fill, or the error to
 * report. */
struct loaded {
	const char *path;
	bool want_analysis;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	struct pyhs_cache *cache;
	bool traced;
	const char *snapshot;
	struct pyhs_allocations *allocations;
	struct pyhs_error *err;
};

/* Frees what l holds but its error. */
static void loaded_free(struct loaded *l)
{
	pyhs_analysis_destroy(l->a);
	pyhs_allocations_destroy(l->allocations);
	pyhs_heap_destroy(l->h);
	pyhs_cache_destroy(l->cache);
	l->a = NULL;
	l->allocations = NULL;
	l->h = NULL;
	l->cache = NULL;
}

/* The heap of the target t (named name in the heap) in l, or l->err. */
static void load_target(const struct input_options *o, struct pyhs_target *t,
			const char *name, struct loaded *l)
{
	unsigned jobs = o->jobs ? o->jobs : pyhs_jobs_available();
	struct pyhs_heap_options heap = o->heap;
	heap.jobs = jobs; /* the value texts are read on them */
	struct pyhs_error *err = pyhs_heap_build(t, name, &heap, &l->h);
	if (!err)
		pyhs_heap_set_jobs(l->h, jobs); /* the cache's snapshot is written on them too */
	if (!err && o->want_allocations)
		err = pyhs_allocations_read(t, &l->allocations);
	struct pyhs_memory_state *ms;
	if (!err && o->want_memory && !(err = pyhs_memory_state_read(t, l->h, NULL, &ms)))
		pyhs_heap_set_memory(l->h, ms);
	/* The core is unmapped before the entry is written. */
	l->traced = !err && l->cache && cache_traced(l->allocations, t);
	pyhs_target_destroy(t);
	if (err) {
		loaded_free(l);
		if (l->path == PID_INPUT)
			l->err = pyhs_error_wrap(err, "cannot read the heap of pid %d", o->pid);
		else
			l->err = pyhs_error_wrap(err, "cannot read the heap in '%s'", l->path);
	}
}

/* The work of open_input that prints nothing, for any thread: the heap
 * of the snapshot, cache entry or core at l->path (not the --pid process)
 * in l, with the analysis asked for or the cache entry needs, or l->err.
 * Progress only through o->heap's. */
static void load_input(const struct input_options *o, struct loaded *l)
{
	const char *path = l->path;
	unsigned jobs = o->jobs ? o->jobs : pyhs_jobs_available();
	bool read = false;
	if (pyhs_snapshot_is(path)) {
		/* Options about cores (--exe, --max-objects, ...) do not apply:
		 * a snapshot holds a heap already built. */
		bool index = l->want_analysis && !o->snapshot_unindexed;
		if ((l->err = pyhs_snapshot_read_analysed(path, &l->h, index ? &l->a : NULL)))
			return;
		l->snapshot = path;
		read = true;
	} else if (!o->want_memory &&
		   cache_lookup(path, o, &l->cache, &l->h, l->want_analysis ? &l->a : NULL)) {
		read = true;
	}
	if (read) {
		if (o->heap.progress)
			pyhs_heap_set_progress(l->h, o->heap.progress, o->heap.progress_ctx);
		pyhs_heap_set_jobs(l->h, jobs);
	} else {
		struct pyhs_target *t;
		if ((l->err = open_core(path, o, &t))) {
			loaded_free(l);
			return;
		}
		load_target(o, t, path, l);
		if (l->err)
			return;
	}
	/* The analysis asked for (when no index held it), or the one the
	 * cache entry's index holds, made before the entry is written. */
	if (!l->a && (l->want_analysis || l->cache) &&
	    (l->err = pyhs_analysis_create_with(l->h, o->analysis_flags, &l->a)))
		loaded_free(l);
}

/* The end of open_input, in the verb's thread: the error reported, or the
 * cache entry written (or begun) and the heap in *ret, its analysis in
 * *ret_a when asked for. */
static int finish_input(struct input_options *o, struct loaded *l,
			struct pyhs_heap **ret, struct pyhs_analysis **ret_a)
{
	o->snapshot = l->snapshot;
	if (l->err) {
		struct pyhs_error *err = l->err;
		l->err = NULL;
		loaded_free(l);
		return report_error(err);
	}
	/* An analysis made for the entry alone goes with it. */
	bool entry_owns = !ret_a && l->a;
	if (l->cache) {
		struct pyhs_cache *c = l->cache;
		l->cache = NULL;
		int code;
		if (o->cache_beside) {
			code = cache_store_beside(o, c, l->h, l->a, entry_owns, l->traced);
			if (entry_owns)
				l->a = NULL;
		} else {
			code = cache_store(c, l->h, l->a, l->traced);
		}
		if (code) {
			loaded_free(l);
			return code;
		}
	}
	if (entry_owns) {
		pyhs_analysis_destroy(l->a);
		l->a = NULL;
	}
	o->allocations = l->allocations;
	*ret = l->h;
	if (ret_a)
		*ret_a = l->a;
	return 0;
}

/* Opens the input and builds its heap and, with ret_a, its analysis: the
 * one a snapshot's or cache entry's index holds, else made now (before a
 * cache entry is written, so that the entry holds it). */
static int open_input(const char *path, struct input_options *o,
		      struct pyhs_heap **ret, struct pyhs_analysis **ret_a)
{
	o->snapshot = NULL;
	o->allocations = NULL;
	/* Progress only for a person watching: a terminal, and no --json. */
	o->progress.on = !o->json && isatty(STDERR_FILENO);
	if (!o->progress.began)
		o->progress.began = now_seconds();
	if (o->progress.on) {
		o->heap.progress = show_progress;
		o->heap.progress_ctx = &o->progress;
	}
	struct loaded l = { .path = path, .want_analysis = ret_a != NULL };
	if (path == PID_INPUT) {
		struct pyhs_target *t;
		int r = capture_pid(o, &t);
		if (r)
			return r;
		char name[32];
		snprintf(name, sizeof(name), "pid %d", o->pid);
		load_target(o, t, name, &l);
		if (!l.err && ret_a &&
		    (l.err = pyhs_analysis_create_with(l.h, o->analysis_flags, &l.a)))
			loaded_free(&l);
	} else {
		load_input(o, &l);
	}
	return finish_input(o, &l, ret, ret_a);
}

int input_open(const char *path, struct input_options *o,
	       struct pyhs_heap **ret)
{
	return open_input(path, o, ret, NULL);
}

int input_open_analysed(const char *path, struct input_options *o,
			struct pyhs_heap **ret, struct pyhs_analysis **ret_a)
{
	return open_input(path, o, ret, ret_a);
}

/* The second input of input_open_two, read on a thread. */
struct second_input {
	struct input_options o; /* a copy: no progress, nothing printed */
	struct loaded l;
};

static struct pyhs_error *load_second(void *ctx, size_t k)
{
	(void)k;
	struct second_input *s = ctx;
	load_input(&s->o, &s->l);
	return NULL;
}

int input_open_two(const char *paths[2], struct input_options *o,
		   struct pyhs_heap *ret[2], struct pyhs_allocations *ret_al[2])
{
	unsigned jobs = o->jobs ? o->jobs : pyhs_jobs_available();
	struct pyhs_job *job = NULL;
	struct second_input *s = NULL;
	cache_prepare(); /* its one message, if any, from this thread */
	if (jobs > 1 && paths[0] != PID_INPUT && paths[1] != PID_INPUT &&
	    (s = calloc(1, sizeof(*s)))) {
		s->o = *o;
		s->o.heap.progress = NULL;
		s->o.heap.progress_ctx = NULL;
		s->l.path = paths[1];
		if (!(job = pyhs_job_start(load_second, s))) {
			free(s);
			s = NULL;
		}
	}
	int r = input_open(paths[0], o, &ret[0]);
	ret_al[0] = r ? NULL : o->allocations;
	o->allocations = NULL;
	if (job)
		pyhs_error_destroy(pyhs_job_finish(job)); /* load_second's is NULL */
	if (r) {
		/* As with one job: the second input is not heard of. */
		if (s) {
			pyhs_error_destroy(s->l.err);
			loaded_free(&s->l);
			free(s);
		}
		return r;
	}
	if (s) {
		r = finish_input(o, &s->l, &ret[1], NULL);
		free(s);
	} else {
		r = input_open(paths[1], o, &ret[1]);
	}
	if (r) {
		pyhs_allocations_destroy(ret_al[0]);
		pyhs_heap_destroy(ret[0]);
		return r;
	}
	ret_al[1] = o->allocations;
	o->allocations = NULL;
	return 0;
}

void input_close(struct input_options *o, struct pyhs_heap *h, struct pyhs_analysis *a)
{
	int code = cache_finish(o);
	pyhs_analysis_destroy(a);
	pyhs_allocations_destroy(o->allocations);
	o->allocations = NULL;
	pyhs_heap_destroy(h);
	if (code)
		exit(code);
}

const char *fmt_count(unsigned long long n, char *buf, size_t size)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

int parse_verb_args(const struct verb_spec *spec, int argc, char **argv,
		    struct input_options *o, char ***ret_args, int *ret_nargs)
{
	static const struct option shared[] = {
		INPUT_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
	};
	struct option longopts[64];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		longopts[n++] = shared[i];
	for (const struct option *l = spec->longopts; l && l->name && n < 63; l++)
		longopts[n++] = *l;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	char shortopts[64];
	snprintf(shortopts, sizeof(shortopts), ":hj:%s", spec->shortopts ? spec->shortopts : "");
	o->gen = -1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int r = input_option(o, c, optarg);
		if (r < 0) {
			fprintf(stderr, "Try 'pyheapsnap %s --help' for more information.\n",
				spec->name);
			return EXIT_USAGE;
		}
		if (r > 0)
			continue;
		switch (c) {
		case 'h':
			spec->help();
			return EXIT_OK;
		case ':':
			return usage_error(spec->name, "option '%s' needs an argument",
					   argv[optind - 1]);
		case '?':
			return usage_error(spec->name, "unknown option '%s'", argv[optind - 1]);
		default:
			if (spec->option) {
				r = spec->option(spec->ctx, c, optarg);
				if (r)
					return r;
				break;
			}
			return usage_error(spec->name, "unknown option '%s'", argv[optind - 1]);
		}
	}
	int nargs = argc - optind;
	if (o->pid) {
		/* The live process is the last input: one file fewer. */
		static char *with_pid[64];
		if (spec->min_args < 1 || nargs + 1 > spec->max_args || nargs >= 63) {
			if (spec->min_args < 1)
				return usage_error(spec->name, "--pid does not apply here");
			return usage_error(spec->name, "unexpected argument '%s' (--pid is the input)",
					   argv[argc - 1]);
		}
		for (int i = 0; i < nargs; i++)
			with_pid[i] = argv[optind + i];
		/* Inputs come first among the positional arguments. */
		int ninputs = spec->min_args;
		int at = ninputs - 1 < nargs ? ninputs - 1 : nargs;
		memmove(&with_pid[at + 1], &with_pid[at], (size_t)(nargs - at) * sizeof(char *));
		with_pid[at] = (char *)PID_INPUT;
		nargs++;
		if (nargs < spec->min_args)
			return usage_error(spec->name, "missing argument");
		*ret_args = with_pid;
		*ret_nargs = nargs;
		return -1;
	}
	if (o->open.no_stop)
		return usage_error(spec->name, "--no-stop applies to --pid only");
	if (nargs < spec->min_args)
		return usage_error(spec->name, nargs == 0 ? "no input given" :
				   "missing argument after '%s'", argv[argc - 1]);
	if (nargs > spec->max_args)
		return usage_error(spec->name, "unexpected argument '%s'",
				   argv[optind + spec->max_args]);
	*ret_args = argv + optind;
	*ret_nargs = nargs;
	return -1;
}

int parse_object(const struct pyhs_heap *h, const char *verb, const char *arg,
		 uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long addr = strtoull(arg, &end, 0);
	if (errno || end == arg || *end)
		return usage_error(verb, "'%s' is not an address (give it as 0x7f... or in decimal)", arg);
	if (!pyhs_heap_find(h, addr, ret)) {
		log_error("no object at 0x%llx in '%s'", addr, pyhs_heap_meta(h)->input);
		return EXIT_INPUT;
	}
	return 0;
}

static void json_string_or_null(FILE *out, const char *s)
{
	if (s)
		pyhs_json_string(out, s);
	else
		fputs("null", out);
}

void print_root_json(const struct pyhs_heap *h, uint64_t r, FILE *out)
{
	if (r == UINT64_MAX) {
		fputs("null", out);
		return;
	}
	struct pyhs_root_info ri;
	pyhs_heap_root(h, r, &ri);
	const struct pyhs_frame_info *f =
		ri.frame != PYHS_NO_FRAME ? pyhs_heap_frame(h, ri.frame) : NULL;
	fputs("{\"kind\": ", out);
	pyhs_json_string(out, pyhs_root_kind_name(ri.kind));
	if (ri.thread != PYHS_NO_THREAD) {
		fprintf(out, ", \"thread\": %" PRIu32 ", \"thread_name\": ", ri.thread);
		json_string_or_null(out, pyhs_heap_string_or_null(h, pyhs_heap_thread(h, ri.thread)->name));
	} else {
		fputs(", \"thread\": null, \"thread_name\": null", out);
	}
	fputs(", \"function\": ", out);
	json_string_or_null(out, f ? pyhs_heap_string_or_null(h, f->function) : NULL);
	fputs(", \"file\": ", out);
	json_string_or_null(out, f ? pyhs_heap_string_or_null(h, f->file) : NULL);
	if (f && f->line > 0)
		fprintf(out, ", \"line\": %" PRId32, f->line);
	else
		fputs(", \"line\": null", out);
	if (f)
		fprintf(out, ", \"depth\": %" PRIu32, f->depth);
	else
		fputs(", \"depth\": null", out);
	fputs(", \"name\": ", out);
	json_string_or_null(out, pyhs_heap_string_or_null(h, ri.name));
	fputs("}", out);
}

void describe_path(const struct pyhs_heap *h, const struct pyhs_path *p,
		   char *buf, size_t n)
{
	size_t o = 0;
	uint64_t k = 0;
	buf[0] = '\0';
#define PUT(...) do { if (o < n) o += (size_t)snprintf(buf + o, n - o, __VA_ARGS__); } while (0)
	if (p->c_held) {
		PUT("held by C code: %s 0x%llx",
		    pyhs_heap_type_name(h, pyhs_heap_type_of(h, p->start)),
		    (unsigned long long)pyhs_heap_addr(h, p->start));
	} else {
		k = pyhs_heap_describe_root(h, p->root, p->edges, p->nedges, buf, n);
		o = strlen(buf);
	}
	for (; k < p->nedges; k++) {
		char l[128];
		uint32_t lab = pyhs_heap_edge_label(h, p->edges[k]);
		enum pyhs_label_kind lk = PYHS_LABEL_KIND(lab);
		/* Labels that read as a step by themselves: [k], .a, local x, key,
		 * a field named .a, a cell's .cell_contents (x). */
		bool step = lk == PYHS_LABEL_INDEX || lk == PYHS_LABEL_DICT_VALUE ||
			    lk == PYHS_LABEL_ATTR || lk == PYHS_LABEL_LOCAL ||
			    lk == PYHS_LABEL_DICT_KEY || lk == PYHS_LABEL_CELL ||
			    (lk == PYHS_LABEL_FIELD && pyhs_heap_label_name(h, lab));
		if (pyhs_heap_format_label(h, lab, l, sizeof(l)))
			PUT(" %s%s", step ? "" : "-> ", l);
		else
			PUT(" -> %s", pyhs_heap_type_name(h, pyhs_heap_type_of(h, pyhs_heap_edge_dst(h, p->edges[k]))));
	}
#undef PUT
}
