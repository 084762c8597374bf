/* The command line: one file per verb, and what they share. */
#ifndef PYHS_CLI_H
#define PYHS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/format.h"
#include "common/jobs.h"
#include "formats.h"
#include "heapmodel.h"
#include "reader.h"

enum {
	EXIT_OK = 0,
	EXIT_GATE = 1,
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,
};

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* one line */
};

/* Progress shown on a terminal's stderr while a heap is read and analysed,
 * once the verb has taken a second (see input_open). */
struct progress {
	bool on;
	bool shown;
	const char *what;
	double began, last;
};

/* Options every verb that reads an input takes. */
struct input_options {
	struct pyhs_open_options open;
	struct pyhs_heap_options heap;
	bool json;
	int gen; /* --gen: -1 for all, else enum pyhs_gen */
	int pid; /* --pid: a live process as the last input, 0 for none */
	bool no_cache; /* --no-cache: read cores, never the cache (cache.c) */
	unsigned jobs; /* -j, --jobs: threads; 0 for the CPUs available */
	/* Set by input_open: the snapshot file it last read, or NULL if it
	 * read a core or a process (a heap from a snapshot keeps the input
	 * and source of what the snapshot was made from). */
	const char *snapshot;
	/* The file a verb writes, made before the input is read
	 * (output_open), or NULL; with an output_ratio, a --pid capture first
	 * checks that its file system has room for the bytes copied /
	 * output_ratio. */
	struct pyhs_output *output;
	unsigned output_ratio;
	/* Set by the verb: input_open also reads tracemalloc's traces of a
	 * core or process into allocations (NULL from a snapshot); the verb
	 * destroys them. */
	bool want_allocations;
	struct pyhs_allocations *allocations;
	/* Set by the verb: input_open also reads the allocators' state of a
	 * core or process (what `memory` says) and keeps it with the heap
	 * (pyhs_heap_memory), reading the core rather than the cache. */
	bool want_memory;
	/* PYHS_ANALYSIS_* for the analysis input_open_analysed makes. */
	unsigned analysis_flags;
	/* Set by the verb: input_open_analysed analyses a snapshot file's
	 * heap again, leaving its index unread (summary answers with the
	 * index damaged); a cache entry's index is read. */
	bool snapshot_unindexed;
	/* Set by the verb: it calls input_close (or cache_finish) before it
	 * frees the heap, so the cache entry of a core read now is written
	 * beside its work (on a thread, with jobs) or after it, not before. */
	bool cache_beside;
	struct cache_write *cache_write; /* that entry, until cache_finish */
	struct progress progress; /* set up by input_open */
};

/* The input a --pid stands for, among a verb's positional arguments. */
extern const char PID_INPUT[];

/* How a verb parses its command line: the shared input options, -h and
 * its own options (handled by option(), which returns 0 to go on or an exit
 * code), then between min_args and max_args positional arguments. */
struct verb_spec {
	const char *name;
	const char *shortopts;          /* the verb's own, without "h" */
	const struct option *longopts;  /* the verb's own, { 0 }-terminated */
	void (*help)(void);
	int (*option)(void *ctx, int opt, const char *arg);
	void *ctx;
	int min_args;
	int max_args;
};
/* Returns -1 when the verb should go on (positional arguments in
 * *ret_args, *ret_nargs), else the exit code to return at once. */
int parse_verb_args(const struct verb_spec *spec, int argc, char **argv,
		    struct input_options *o, char ***ret_args, int *ret_nargs);

/* Whether object i passes the --gen filter. */
static inline bool gen_matches(const struct input_options *o,
			       const struct pyhs_heap *h, uint64_t i)
{
	return o->gen < 0 || (int)pyhs_heap_gen(h, i) == o->gen;
}

/* A positive whole number (-n, --max-objects, ...); false if arg is not. */
bool parse_count(const char *arg, uint64_t *ret);
/* A size: a number with an optional unit, B, KB/MB/GB/TB (powers of
 * 1000), KiB/MiB/GiB/TiB or K/M/G/T (powers of 1024), any case; false if
 * arg is not. */
bool parse_size(const char *arg, double *ret);

/* An object named on the command line: 0x-hex or decimal address. */
int parse_object(const struct pyhs_heap *h, const char *verb, const char *arg,
		 uint64_t *ret);

/* One line naming where a path holds its object, as a person would:
 * "module __main__ global CACHE ['k12'] .payload". */
void describe_path(const struct pyhs_heap *h, const struct pyhs_path *p,
		   char *buf, size_t n);

/* Long options shared by input-reading verbs; see input.c. */
#define INPUT_LONG_OPTIONS                                        \
	{ "sysroot", required_argument, NULL, OPT_SYSROOT },      \
	{ "exe", required_argument, NULL, OPT_EXE },              \
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },  \
	{ "no-dwarf", no_argument, NULL, OPT_NO_DWARF },          \
	{ "no-debuginfod", no_argument, NULL, OPT_NO_DEBUGINFOD }, \
	{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS }, \
	{ "max-edges", required_argument, NULL, OPT_MAX_EDGES },  \
	{ "max-core-size", required_argument, NULL, OPT_MAX_CORE_SIZE }, \
	{ "json", no_argument, NULL, OPT_JSON },                  \
	{ "gen", required_argument, NULL, OPT_GEN },              \
	{ "pid", required_argument, NULL, OPT_PID },              \
	{ "no-stop", no_argument, NULL, OPT_NO_STOP },            \
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },          \
	{ "spill-above", required_argument, NULL, OPT_SPILL_ABOVE }, \
	{ "no-spill", no_argument, NULL, OPT_NO_SPILL },          \
	{ "jobs", required_argument, NULL, 'j' }

enum {
	OPT_SYSROOT = 0x100,
	OPT_EXE,
	OPT_DEBUG_DIR,
	OPT_NO_DWARF,
	OPT_NO_DEBUGINFOD,
	OPT_MAX_OBJECTS,
	OPT_MAX_EDGES,
	OPT_MAX_CORE_SIZE,
	OPT_JSON,
	OPT_FORMAT,
	OPT_GEN,
	OPT_PID,
	OPT_NO_STOP,
	OPT_NO_CACHE,
	OPT_SPILL_ABOVE,
	OPT_NO_SPILL,
	OPT_VERB_FIRST, /* verbs number their own options from here */
};

#define INPUT_OPTIONS_HELP                                                   \
	"      --json             print JSON instead of text\n"              \
	"      --pid PID          read the live process PID (stopped only while\n" \
	"                         its memory is copied) instead of a file\n"  \
	"      --no-stop          with --pid: read the process while it runs,\n" \
	"                         never stopped (the view is not consistent)\n" \
	"      --gen G            only objects of GC generation G (0, 1, 2,\n" \
	"                         permanent or untracked)\n"                 \
	"      --exe PATH         the executable, if it moved since the core\n" \
	"      --sysroot DIR      look for the core's files under DIR\n"     \
	"      --debug-dir DIR    separate debug info (default /usr/lib/debug;\n" \
	"                         --debug-dir= uses none)\n"                 \
	"      --no-dwarf         use built-in layouts even where DWARF exists\n" \
	"      --no-debuginfod    never ask the debuginfod servers of\n"      \
	"                         $DEBUGINFOD_URLS for a debug file not on disk\n" \
	"      --max-objects N    stop after N objects (default 200000000)\n" \
	"      --max-edges N      stop after N references (default: one per 4\n" \
	"                         bytes of the process's memory, at most\n"  \
	"                         2000000000)\n"                             \
	"      --max-core-size SIZE  decompress a zstd core to at most SIZE\n" \
	"                         (64GiB; 100MB, 2GiB, ...)\n"                \
	"      --no-cache         read the core itself, not the heap the last\n" \
	"                         verb on it left in the cache, and leave none\n" \
	"      --spill-above SIZE keep the columns of a heap read from a core\n" \
	"                         that take SIZE or more (default 16MiB) in an\n" \
	"                         unlinked file in $TMPDIR, not in memory\n" \
	"      --no-spill         keep every heap in memory\n"             \
	"  -j, --jobs N           analyse and write with N threads at work at most\n" \
	"                         (default: the CPUs available); the output is the\n" \
	"                         same\n"

/* Handles one shared option; returns 1 if it was one, 0 if not, -1 after
 * printing a usage error. */
int input_option(struct input_options *o, int opt, const char *arg);

/* Opens the input (a core, or a snapshot told by its magic number) and
 * builds the heap; prints the error and returns the exit code (EXIT_INPUT)
 * on failure, 0 on success. */
int input_open(const char *path, struct input_options *o,
	       struct pyhs_heap **ret);
/* The same, and the heap's analysis in *ret_a: the one the snapshot's or
 * the cache entry's index holds, else made now (and written in the cache
 * entry the core leaves). */
int input_open_analysed(const char *path, struct input_options *o,
			struct pyhs_heap **ret, struct pyhs_analysis **ret_a);
/* The rows of the largest retainers (pyhs_snapshot_read_top) of the
 * snapshot at path, or of the cache entry of the core at path: true with
 * *ret set if they are there; false if not, or if reading them failed
 * (the full read then says what is wrong). */
bool input_top_rows(const char *path, struct input_options *o, struct pyhs_snapshot_top **ret);
/* The object records (pyhs_snapshot_view_open) of the snapshot at path, or
 * of the cache entry of the core at path (one of a core without traces
 * when o->want_allocations), as input_top_rows reads rows. */
bool input_view(const char *path, struct input_options *o, struct pyhs_snapshot_view **ret);
/* The answer about the object at address arg (pyhs_snapshot_view_object)
 * from those records: false if there are none or they cannot answer (the
 * whole heap is then read, which says what is wrong). show.c. */
bool input_object_view(const char *path, struct input_options *o, const char *arg,
		       unsigned flags, size_t max_paths, struct pyhs_object_view **ret);
/* Two inputs' heaps, and their tracemalloc traces with
 * o->want_allocations (NULL for none), as two input_open would give them,
 * the same messages in the same order; with more than one job and no
 * --pid, the second is read on a thread while the first is. Prints the
 * error and returns the exit code, or 0. */
int input_open_two(const char *paths[2], struct input_options *o,
		   struct pyhs_heap *ret[2], struct pyhs_allocations *ret_al[2]);
/* Frees what input_open_analysed made: a, o's allocations, then h, once
 * the cache entry (o->cache_beside) is written; exits 128 + a signal
 * that came as it was begun. */
void input_close(struct input_options *o, struct pyhs_heap *h, struct pyhs_analysis *a);
/* The cache of heaps read from cores (cache.c). cache_lookup: true with
 * *ret the heap the cache holds for the core at path; else false, with
 * *ret_cache the entry to fill (NULL: no cache for this input). */
bool cache_lookup(const char *path, const struct input_options *o,
		  struct pyhs_cache **ret_cache, struct pyhs_heap **ret,
		  struct pyhs_analysis **ret_a);
/* Whether the core t held tracemalloc traces (which no entry keeps): al,
 * its traces when read already, else read now. */
bool cache_traced(const struct pyhs_allocations *al, const struct pyhs_target *t);
/* Reads $PYHEAPSNAP_CACHE_SIZE (saying once if it is no size): called
 * before the cache is looked in from more than one thread. */
void cache_prepare(void);
/* Stores h (with a in its index; NULL: one is made) in the entry and frees it; a cache that cannot be written gets
 * one line on stderr (once) and the verb goes on. Returns 0, or the exit
 * code of a signal that came as the entry's file was made. */
int cache_store(struct pyhs_cache *c, const struct pyhs_heap *h,
		const struct pyhs_analysis *a, bool traced);
/* The same for a verb with o->cache_beside: with more than one job, the
 * entry's file is created now and written on a thread while the verb
 * goes on; with one, it is written by cache_finish. h and a must not be
 * changed or freed before cache_finish (a NULL: one is made now, freed
 * then; give_a: a is the entry's, freed then too). Returns 0, or the exit
 * code of a signal that came meanwhile. */
int cache_store_beside(struct input_options *o, struct pyhs_cache *c,
		       const struct pyhs_heap *h, struct pyhs_analysis *a, bool give_a,
		       bool traced);
/* Ends what cache_store_beside began (nothing if it began nothing): waits
 * for the entry's thread, or writes the entry now; a cache that cannot be
 * written gets its one line. Returns 0, or the exit code of a signal that
 * came as the entry's file was made (after its line). */
int cache_finish(struct input_options *o);
/* Whether the cache entry is being written on a thread beside the verb
 * (cache_store_beside), which then has one core less for itself. */
bool cache_writing(const struct input_options *o);
/* Reads the --pid process: the cancel flag and the signal handlers set
 * up, the room for o->output checked before the stop. Prints the error
 * and returns the exit code, or 0. */
int capture_pid(struct input_options *o, struct pyhs_target **ret);
/* Creates o->output at path (before anything is read, so that a path that
 * cannot be written stops the verb first) and says if it removed the
 * temporary files of killed runs; prints the error and returns the exit
 * code, or 0. */
int output_open(const char *path, enum pyhs_output_kind kind,
		struct input_options *o);
/* After the write (called with signals_defer(true) and its error): frees
 * the output and returns the exit code, 0 if it was written. */
int output_finish(struct input_options *o, struct pyhs_error *err);
/* Calls write(ctx, out) with out the stream of o->output (made by
 * output_open for path, which names it in errors), then commits and
 * finishes it; with no o->output, out is standard output. Prints the error
 * and returns the exit code, or 0. */
int output_write(struct input_options *o, const char *path,
		 struct pyhs_error *(*write)(void *ctx, FILE *out), void *ctx);
/* The size of the file written at path, read back; prints the error and
 * returns the exit code, or 0. */
int output_size(const char *path, uint64_t *ret);
/* Removes an output never written (an error before the write). */
void output_close(struct input_options *o);
/* Opens a core or the --pid process as a target, without building its
 * heap; prints the error and returns EXIT_INPUT on failure, 0 on success. */
int input_open_target(const char *path, struct input_options *o,
		      struct pyhs_target **ret);
/* -o FILE of the verbs that write one: refuses an empty name. */
int output_option(const char *verb, const char *arg, const char **ret);
/* A verb whose only option of its own is -o FILE (snapshot, gcore,
 * report), its inputs the positional arguments. */
struct output_verb {
	const char *name;
	void (*help)(void);
	enum pyhs_output_kind kind;
	int max_args;                  /* inputs: 1 up to this */
	bool required;                 /* -o FILE must be given */
	const char *gen_refusal;       /* the usage error --gen gets */
	const char *json_needs_output; /* that of --json without -o, or NULL */
};
/* Parses its command line and creates o->output (when -o names one)
 * before any input is read. Returns -1 when the verb should go on (the
 * inputs in *ret_args and *ret_nargs, the output's path or NULL in
 * *ret_output), else the exit code to return at once. */
int output_verb_start(const struct output_verb *v, int argc, char **argv,
		      struct input_options *o, const char **ret_output,
		      char ***ret_args, int *ret_nargs);

/* Signals (signals.c): SIGTERM, SIGINT, SIGHUP and SIGPIPE during a
 * capture or a write end it cleanly and exit 128 + the signal.
 * signals_cancel is the flag the libraries are given (the signal number
 * once one came). */
extern volatile sig_atomic_t signals_cancel;
/* Installs the handlers (once); writes_file: the verb writes a file, and
 * the line an interruption prints says that nothing was written. */
void signals_install(bool writes_file);
/* The temporary file to remove if a signal comes outside a deferred call
 * (NULL once there is none). */
void signals_temporary(const char *path);
/* The same for the cache entry being written (cache.c), beside the
 * output's: a copy of its name that stays valid until set to NULL. */
void signals_cache_temporary(const char *path);
/* The file is written: an interruption from now on says only that. */
void signals_written(void);
/* From the start: a file written past RLIMIT_FSIZE (ulimit -f) fails with
 * EFBIG, which is reported and its temporary file removed, rather than
 * SIGXFSZ ending the process; signals_child_defaults gives a child the
 * disposition this process started with. */
void signals_ignore_xfsz(void);
void signals_child_defaults(void);
/* Around a library call given signals_cancel: a signal only raises it. */
void signals_defer(bool on);
/* 0 if no signal came; else prints the line (after removing the temporary
 * file) and returns 128 + the signal. */
int signals_exit_status(void);

/* --format of the verbs that print text, JSON or a Graphviz graph. */
enum output_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_DOT };
/* Parses --format's argument: text, json or dot. */
int parse_output_format(const char *verb, const char *arg, enum output_format *ret);
/* Reconciles --json with --format (--json is --format json; --json with
 * another format is a usage error) and sets o->json for json. */
int resolve_output_format(const char *verb, struct input_options *o,
			  enum output_format *format);

/* Messages, git style: "pyheapsnap: <message>". */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, a pointer to --help, and EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An error from a library: worded, and the exit code it deserves. */
int report_error(struct pyhs_error *err);

/* Byte counts: pyhs_format_bytes (common/format.h). */
/* Thousands separators: "1,234,567". */
const char *fmt_count(unsigned long long n, char *buf, size_t size);

int verb_summary(int argc, char **argv);
int verb_export(int argc, char **argv);
int verb_snapshot(int argc, char **argv);
int verb_gcore(int argc, char **argv);
int verb_demo(int argc, char **argv);
/* Shared by path and show. */
void print_path_steps(const struct pyhs_heap *h, const struct pyhs_path *p,
		      FILE *out, const char *indent);
void print_path_json(const struct pyhs_heap *h, const struct pyhs_path *p, FILE *out);
/* Root r as a JSON object: {"kind", "thread", "thread_name", "function",
 * "file", "line", "depth", "name"}, null where the root has none; null
 * for r = UINT64_MAX (no root). */
void print_root_json(const struct pyhs_heap *h, uint64_t r, FILE *out);

int verb_top(int argc, char **argv);
int verb_path(int argc, char **argv);
int verb_cycles(int argc, char **argv);
int verb_show(int argc, char **argv);
int verb_stacks(int argc, char **argv);
int verb_tasks(int argc, char **argv);
int verb_diff(int argc, char **argv);
int verb_memory(int argc, char **argv);
int verb_report(int argc, char **argv);
int verb_browse(int argc, char **argv);

/* What grew from a to b by holder (diff --by path's rows), largest growth
 * first, at most max rows; prints the error and returns its exit code on
 * failure. */
int growth_by_holder(const struct pyhs_heap *a, const struct pyhs_heap *b,
		     const struct input_options *o, size_t max,
		     struct pyhs_report_growth **ret, size_t *ret_n);
void growth_free(struct pyhs_report_growth *g, size_t n);

/* An analysed heap as the verbs that name holders need it (suspects.c):
 * the analysis (given, or made and owned), its dominator tree, holder
 * names and, when asked for, its leak suspects. */
struct heap_view {
	const struct pyhs_heap *heap;
	struct pyhs_analysis *analysis;
	bool own_analysis;
	struct pyhs_domtree *tree;
	struct pyhs_holders *holders;
	struct pyhs_suspects *suspects;
};
struct pyhs_error *heap_view_create(const struct pyhs_heap *h, struct pyhs_analysis *a,
				    const struct pyhs_suspect_options *so,
				    struct heap_view *ret);
void heap_view_destroy(struct heap_view *v);
/* Suspects as text or as one JSON object; al: the allocation sites, or
 * NULL; large_only: C-held objects only when they retain the threshold. */
void print_suspects_text(const struct heap_view *v, const struct pyhs_suspects *s,
			 const struct pyhs_allocations *al, bool large_only, FILE *out);
void print_suspects_json(const struct heap_view *v, const struct pyhs_suspects *s,
			 const struct pyhs_allocations *al, FILE *out);
int verb_suspects(int argc, char **argv);

/* Where tracemalloc saw object i's block allocated: the most recent frame
 * of its trace (sites.c); false when al is NULL or has no trace of it. */
bool object_site(const struct pyhs_heap *h, const struct pyhs_allocations *al,
		 uint64_t i, const char **file, uint32_t *line);
/* A key over that site ("untraced" objects share one), and its words. */
uint64_t site_key(const struct pyhs_heap *h, const struct pyhs_allocations *al, uint64_t i);
void site_name(const struct pyhs_heap *h, const struct pyhs_allocations *al, uint64_t i,
	       char *buf, size_t n);

/* Shared by summary and demo. */
int print_summary(struct pyhs_heap *h, const struct input_options *o, FILE *out);

#endif
