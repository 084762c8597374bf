/*
 * pyheapsnap formats: exports of a heap (JSON lines), snapshot files, and
 * the JSON writing helpers the command line uses.
 */
#ifndef PYHS_FORMATS_H
#define PYHS_FORMATS_H

#include <signal.h>
#include <stdio.h>

#include "heapmodel.h"

#define PYHS_JSONL_FORMAT "pyheapsnap-jsonl"
#define PYHS_JSONL_VERSION 2

/* Writes the heap as JSON lines: a header object, then one object per line,
 * then one line per root ({"root": LABEL, "object": ADDR, "owned": BOOL}).
 * PYHS_ERROR_OS if writing fails. */
struct pyhs_error *pyhs_export_jsonl(const struct pyhs_heap *h, FILE *out);
/* The same, only objects of generation gen (enum pyhs_gen; -1 for all). */
struct pyhs_error *pyhs_export_jsonl_gen(const struct pyhs_heap *h, int gen,
					 FILE *out);

/* The heap as three CSV tables (RFC 4180, a header row each) in directory
 * dir, made if missing: objects.csv, edges.csv and roots.csv; the man page
 * pyheapsnap-export(1) gives the columns. Each file is written atomically,
 * as a pyhs_output given cancel: once it is raised, the table being written
 * is removed and PYHS_ERROR_CANCELLED returned. */
struct pyhs_error *pyhs_export_csv(const struct pyhs_heap *h, const char *dir,
				   const volatile sig_atomic_t *cancel);

/* A V8 heap snapshot (.heapsnapshot) of the heap, for Chrome DevTools and
 * memlab: a synthetic root whose edges lead to the dominator tree's roots
 * of a, objects as nodes named by type (str objects by value), references
 * as edges named by their labels, weak ones as weak edges. */
struct pyhs_error *pyhs_export_heapsnapshot(const struct pyhs_heap *h,
					    const struct pyhs_analysis *a,
					    FILE *out);

/* Retention flame graphs: one stack per dominator-tree path from the
 * roots, frames named by pyhs_domtree_name (merged), each object's shallow
 * size the weight of its own stack; objects no root reaches stand under an
 * "unreachable" frame, so that the weights add up to every object's bytes.
 * Folded: "frame;frame;frame WEIGHT" lines (flamegraph.pl, inferno).
 * Speedscope: its JSON file format, one sampled profile in bytes. */
struct pyhs_error *pyhs_export_folded(const struct pyhs_heap *h,
				      const struct pyhs_domtree *t, FILE *out);
struct pyhs_error *pyhs_export_speedscope(const struct pyhs_heap *h,
					  const struct pyhs_domtree *t,
					  FILE *out);

/* The HTML report of a heap: one self-contained file (no network, inline
 * script and style) with the summary, the largest retainers and where they
 * are held, the dominator tree as a zoomable icicle (small subtrees grouped
 * by holder name), the largest types, and with growth rows (diff --by
 * path's, largest first) what grew since before_input. */
struct pyhs_report_growth {
	const char *where;   /* "TYPE under HOLDER" */
	int64_t count_delta;
	int64_t bytes_delta;
};
struct pyhs_report {
	const struct pyhs_heap *heap;
	const struct pyhs_analysis *analysis;
	const struct pyhs_domtree *tree;
	const char *before_input;                 /* with growth */
	const struct pyhs_report_growth *growth;  /* NULL: one input */
	size_t ngrowth;
};
struct pyhs_report_stats {
	uint64_t nodes;           /* in the icicle's data */
	uint64_t grouped_objects; /* objects drawn in groups, not one by one */
	uint64_t groups;
};
struct pyhs_error *pyhs_report_write(const struct pyhs_report *rep, FILE *out,
				     struct pyhs_report_stats *ret_stats);

/* Subgraphs as Graphviz DOT, written piece by piece: begin, then objects
 * (nodes "o<hex address>", labelled with type, address, size and preview;
 * attrs, if not NULL, added to the node's attributes), edges (edge e from
 * object src, labelled, dashed if weak), roots (a grey box with an edge to
 * its object), notes, clusters, then end. */
void pyhs_dot_begin(FILE *out, const char *name);
void pyhs_dot_object(const struct pyhs_heap *h, FILE *out, uint64_t i, const char *attrs);
void pyhs_dot_edge(const struct pyhs_heap *h, FILE *out, uint64_t src, uint64_t e);
void pyhs_dot_root(const struct pyhs_heap *h, FILE *out, uint64_t id, const char *label,
		   uint64_t obj);
void pyhs_dot_note(FILE *out, uint64_t id, const char *text);
void pyhs_dot_cluster(FILE *out, uint64_t id, const char *label);
void pyhs_dot_cluster_end(FILE *out);
void pyhs_dot_end(FILE *out);

/* Snapshot files: a whole heap in pyheapsnap's own compressed, columnar,
 * checksummed format (formats/FORMAT.md). */
#define PYHS_SNAPSHOT_VERSION 4
#define PYHS_SNAPSHOT_MAGIC_SIZE 8

/* An output file, created before there is anything to write in it (so
 * that a path that cannot be written is found before a live process is
 * stopped) and replaced atomically: a temporary file in the same
 * directory, ".NAME.pyhs-PID-START-XXXXXXXX.tmp", synced, then renamed
 * over the path. Creating one first removes the temporary files in that
 * directory that writers killed outright (SIGKILL) left behind, and counts
 * them (pyhs_output_stale).
 *
 * cancel, when not NULL, is looked at between writes: once it is raised
 * (by the caller's signal handler), the write stops with
 * PYHS_ERROR_CANCELLED and the temporary file is removed. A caller that
 * must exit at once from a signal handler may unlink
 * pyhs_output_temporary() itself (unlink is async-signal-safe). */
struct pyhs_output;
enum pyhs_output_kind {
	PYHS_OUTPUT_SNAPSHOT, /* mode 0666 less the umask */
	PYHS_OUTPUT_CORE,     /* mode 0600 */
	PYHS_OUTPUT_EXPORT,   /* written through pyhs_output_stream; 0666 */
	PYHS_OUTPUT_REPORT,   /* likewise */
	PYHS_OUTPUT_TABLE,    /* likewise */
};
struct pyhs_error *pyhs_output_create(const char *path,
				      enum pyhs_output_kind kind,
				      const volatile sig_atomic_t *cancel,
				      struct pyhs_output **ret);
/* The temporary file's path, NULL once it is renamed or removed. */
const char *pyhs_output_temporary(const struct pyhs_output *o);
/* How many leftover temporary files create removed; *example: the first. */
size_t pyhs_output_stale(const struct pyhs_output *o, const char **example);
/* PYHS_ERROR_OS if the output's file system has less than bytes free. */
struct pyhs_error *pyhs_output_check_room(const struct pyhs_output *o,
					  uint64_t bytes);
/* A stdio stream on the temporary file (the kinds written as text), or
 * NULL (errno set) if one cannot be had; pyhs_output_commit closes it. */
FILE *pyhs_output_stream(struct pyhs_output *o);
/* Closes the stream, syncs and renames the file over its path. On failure
 * (a write through the stream that failed included) the temporary file is
 * removed and path is untouched. */
struct pyhs_error *pyhs_output_commit(struct pyhs_output *o);
/* Removes the temporary file if it was not renamed, and frees o. */
void pyhs_output_destroy(struct pyhs_output *o);
/* The zstd level a snapshot output is compressed at: 0 (the default, the
 * snapshot format's own level) or 1 to 19 (a cache entry's lower one). */
void pyhs_output_set_level(struct pyhs_output *o, int level);
int pyhs_output_level(const struct pyhs_output *o);
/* Whether a snapshot output's large sections are compressed by zstd's
 * worker threads, as many as the heap has jobs (the default), or by the
 * writing thread alone (a cache entry, written beside the answer); each
 * choice gives the same file whatever the jobs. */
void pyhs_output_set_zstd_workers(struct pyhs_output *o, bool workers);
bool pyhs_output_zstd_workers(const struct pyhs_output *o);

/* Writes the heap to a snapshot output (PYHS_OUTPUT_SNAPSHOT) and renames
 * it over its path. PYHS_ERROR_OS if writing fails (path is then
 * untouched), PYHS_ERROR_CANCELLED if cancelled. */
struct pyhs_error *pyhs_snapshot_write_output(const struct pyhs_heap *h,
					      struct pyhs_output *out);
/* The same, creating the output at path. */
struct pyhs_error *pyhs_snapshot_write(const struct pyhs_heap *h,
				       const char *path);
/* The same with the heap's analysis (a, or one made for the purpose when
 * a is NULL) in the file's index, which pyhs_snapshot_read_analysed reads
 * back in place of analysing the heap again; pyhs_snapshot_write_output
 * is this with a NULL. */
struct pyhs_error *pyhs_snapshot_write_analysed(const struct pyhs_heap *h,
						const struct pyhs_analysis *a,
						struct pyhs_output *out);

/* Reads a snapshot. The heap's metadata (source, input, ...) is that of
 * what the snapshot was made from. PYHS_ERROR_INPUT, with a message naming
 * the file and what is wrong, if it is truncated, corrupt or of a newer
 * format; PYHS_ERROR_OS if it cannot be opened or read. */
struct pyhs_error *pyhs_snapshot_read(const char *path, struct pyhs_heap **ret);
/* The same, and *ret_analysis the analysis the file's index holds (NULL
 * when it has none: a file of an older writer). A damaged index is an
 * error as a damaged section of the heap is (pyhs_snapshot_read checks its
 * checksum too, without decoding it). */
struct pyhs_error *pyhs_snapshot_read_analysed(const char *path, struct pyhs_heap **ret,
					       struct pyhs_analysis **ret_analysis);

/* The largest retainers of a heap as `top` prints them, which snapshots
 * keep for the first PYHS_TOP_ROWS objects by retained size (FORMAT.md,
 * TOPR): so that `top -n N` of the whole heap is answered without reading
 * the rest. Previews and holder names are as pyhs_heap_preview and
 * pyhs_holders_name write them into buffers of PYHS_TOP_PREVIEW and
 * PYHS_TOP_HOLDER bytes. */
#define PYHS_TOP_ROWS 200
#define PYHS_TOP_PREVIEW 128
#define PYHS_TOP_HOLDER 512
struct pyhs_top_row {
	uint64_t addr, size, retained;
	enum pyhs_gen gen;
	const char *type, *preview, *holder;
};
struct pyhs_snapshot_top {
	uint64_t nobjects;          /* in the heap */
	uint64_t nrows;             /* the largest, largest first */
	struct pyhs_top_row *rows;
	/* Of the heap's metadata, what the cache checks: source, input,
	 * executable, library and debug_file ("" when unknown). */
	struct pyhs_heap_meta meta;
	char *strings;              /* what the rows point into */
	char *meta_strings;         /* what meta points into */
};
/* The rows of the snapshot at path, reading only its header, its table,
 * its metadata and that section, after checking the checksum of every
 * section; *ret NULL if it has no such section. Errors as
 * pyhs_snapshot_read's. */
struct pyhs_error *pyhs_snapshot_read_top(const char *path, struct pyhs_snapshot_top **ret);
void pyhs_snapshot_top_destroy(struct pyhs_snapshot_top *t);

/* Answers about one object of a snapshot from its object records (FORMAT.md,
 * RAND), reading only the blocks that hold the objects they name: for
 * show and path, which print the same from them as from the whole heap. */
struct pyhs_snapshot_view;
/* The records of the snapshot at path, after checking every section's
 * checksum: *ret NULL if it has none. Errors as pyhs_snapshot_read's. */
struct pyhs_error *pyhs_snapshot_view_open(const char *path, struct pyhs_snapshot_view **ret);
/* The snapshot's metadata (what the cache checks). */
const struct pyhs_heap_meta *pyhs_snapshot_view_meta(const struct pyhs_snapshot_view *v);
void pyhs_snapshot_view_destroy(struct pyhs_snapshot_view *v);
/* With PYHS_VIEW_SHOW: the object's references both ways, its dominator
 * and its holder name too. */
#define PYHS_VIEW_SHOW 1u
/* With PYHS_VIEW_SHOW: of the objects at the two ends of its references,
 * only those of its first PYHS_VIEW_LISTED references each way (in the
 * heap's order), as show's text lists them: a list of millions of items
 * is answered from its first records. */
#define PYHS_VIEW_FIRST 2u
#define PYHS_VIEW_LISTED 50
struct pyhs_object_view {
	/* The objects the answer names (the object, the paths' objects; with
	 * PYHS_VIEW_SHOW its referents, referrers and dominator), with every
	 * reference they have (those to objects not in it lead to one more
	 * object, never named), the keys and names their labels name, and
	 * the named roots among them; numbered in the snapshot's order. */
	struct pyhs_heap *heap;
	uint64_t obj;                    /* the object, in heap */
	uint64_t retained, unexplained;  /* as pyhs_analysis_* says */
	bool garbage;
	uint32_t dom;                    /* in heap, or PYHS_DOM_ROOT, PYHS_DOM_NONE */
	char holder[PYHS_TOP_HOLDER];    /* pyhs_holders_name's */
	struct pyhs_path *paths;         /* pyhs_analysis_paths's, in heap */
	size_t npaths;
	/* With PYHS_VIEW_SHOW: the references into the object, how many in
	 * all, and the first of them (PYHS_VIEW_LISTED at most), in the
	 * heap's order: the object in heap each is of, and its number among
	 * heap's references. */
	uint64_t nreferrers;
	struct {
		uint32_t obj;
		uint64_t edge;
	} referrers[PYHS_VIEW_LISTED];
	size_t nlisted;
};
/* The object at addr: PYHS_ERROR_NOT_FOUND if none is; PYHS_ERROR_INPUT
 * if the records are damaged or do not fit the rest of the file (a
 * caller then reads the whole snapshot); max_paths at most 64. */
struct pyhs_error *pyhs_snapshot_view_object(struct pyhs_snapshot_view *v, uint64_t addr,
					     unsigned flags, size_t max_paths,
					     struct pyhs_object_view **ret);
void pyhs_object_view_destroy(struct pyhs_object_view *ov);

/* Whether the file at path is a regular file that starts like a snapshot
 * (the first four bytes of the magic number): the test by which inputs are
 * told apart. */
bool pyhs_snapshot_is(const char *path);
/* The same test on the first n bytes of a file. */
bool pyhs_snapshot_magic_is(const void *head, size_t n);

/* Writes what a target holds (reader.h: its mappings, the bytes copied
 * from the process, each thread's registers, the auxiliary vector) as an
 * x86-64 ELF core file that gdb and pyheapsnap read; the bytes of files
 * the process maps are not copied but named (NT_FILE), as the kernel does.
 * Atomic like pyhs_snapshot_write, mode 0600. PYHS_ERROR_OS, naming path,
 * if writing fails; PYHS_ERROR_UNSUPPORTED if the target keeps nothing to
 * write. See formats/gcore.c. */
struct pyhs_error *pyhs_gcore_write(const struct pyhs_target *t,
				    const char *path);
/* The same, to an output made for it (PYHS_OUTPUT_CORE). */
struct pyhs_error *pyhs_gcore_write_output(const struct pyhs_target *t,
					   struct pyhs_output *out);

/* A cache of heaps read from cores (formats/cache.c): the first verb on a
 * core leaves its heap there as a snapshot, and the next verb on the same
 * core reads that instead. An entry is named by two hashes: its slot (the
 * core's path as given, its device and inode, the options that shape its
 * heap, and this build of pyheapsnap, by its executable's identity) and its
 * state (the core's size, modification and change times, and
 * PYHS_SNAPSHOT_VERSION). An entry is trusted only if it reads as a whole
 * valid snapshot of a core at the same path whose executable, library and
 * debug file have not changed since it was written; any other is removed.
 * Entries are written atomically (pyhs_output_create); storing one removes
 * the other entries of its slot and then the least recently used entries
 * while the directory holds more than its bound. An entry is a snapshot
 * without the allocator state (MEMS; the verbs that read it, memory and
 * snapshot, read the core and leave no entry), compressed at a lower zstd
 * level than a snapshot file. */
struct pyhs_cache;
#define PYHS_CACHE_DEFAULT_MAX (UINT64_C(1) << 30)
/* The entry of the core at path read with these options, in dir (NULL:
 * $XDG_CACHE_HOME/pyheapsnap, else $HOME/.cache/pyheapsnap), of at most
 * max_bytes (0: PYHS_CACHE_DEFAULT_MAX). PYHS_ERROR_OS if the core cannot
 * be looked at; PYHS_ERROR_INVALID if it is not a regular file or no
 * directory can be named. Nothing is read or made yet. */
struct pyhs_error *pyhs_cache_open(const char *dir, uint64_t max_bytes,
				   const char *core,
				   const struct pyhs_open_options *open,
				   const struct pyhs_heap_options *heap,
				   struct pyhs_cache **ret);
/* The entry's heap, if one is there to trust (true, *ret set).
 * need_untraced: only an entry of a core that held no tracemalloc traces
 * will do (a verb that reads the traces reads a traced core itself). */
bool pyhs_cache_get(struct pyhs_cache *c, bool need_untraced,
		    struct pyhs_heap **ret);
/* Stores h, the heap just read from the core (traced: it held tracemalloc
 * traces). PYHS_ERROR_OS naming the directory if it cannot be made or
 * written (read-only, full); PYHS_ERROR_INPUT if the core changed while it
 * was read (nothing stored); PYHS_ERROR_CANCELLED. */
struct pyhs_error *pyhs_cache_put(struct pyhs_cache *c, const struct pyhs_heap *h,
				  bool traced, const volatile sig_atomic_t *cancel);
/* The same with the analysis the entry's index holds (*ret_a NULL for an
 * entry without one), and a given to write in the new entry's index (NULL:
 * one is made for it). */
bool pyhs_cache_get_analysed(struct pyhs_cache *c, bool need_untraced,
			     struct pyhs_heap **ret, struct pyhs_analysis **ret_a);
struct pyhs_error *pyhs_cache_put_analysed(struct pyhs_cache *c, const struct pyhs_heap *h,
					   const struct pyhs_analysis *a, bool traced,
					   const volatile sig_atomic_t *cancel);
/* pyhs_cache_put_analysed in two steps, for a caller that writes the entry
 * on another thread: begin makes the directory, checks that the core did
 * not change while it was read and creates the entry's output (its
 * temporary file; pyhs_output_temporary), in the caller's thread; end
 * writes h and a (NULL: one is made) in it, renames it over the entry,
 * tidies the directory and destroys out, and may run on another thread
 * while h and a are read (not changed) elsewhere. Errors as for put. */
struct pyhs_error *pyhs_cache_put_begin(struct pyhs_cache *c, bool traced,
					const volatile sig_atomic_t *cancel,
					struct pyhs_output **ret);
struct pyhs_error *pyhs_cache_put_end(struct pyhs_cache *c, const struct pyhs_heap *h,
				      const struct pyhs_analysis *a, bool traced,
				      struct pyhs_output *out);
/* The rows of the largest retainers the entry keeps (pyhs_snapshot_read_top),
 * if there is an entry to trust that has them (true, *ret set). */
bool pyhs_cache_get_top(struct pyhs_cache *c, struct pyhs_snapshot_top **ret);
/* The object records the entry keeps (pyhs_snapshot_view_open), if there is
 * an entry to trust that has them (true, *ret set); need_untraced as
 * pyhs_cache_get's. */
bool pyhs_cache_get_view(struct pyhs_cache *c, bool need_untraced,
			 struct pyhs_snapshot_view **ret);
const char *pyhs_cache_dir(const struct pyhs_cache *c);
void pyhs_cache_destroy(struct pyhs_cache *c);

/* XXH64 with seed 0: the checksum snapshot files use. */
uint64_t pyhs_xxh64(const void *data, size_t len);

/* Writes s as a JSON string literal (quoted, escaped; invalid UTF-8 bytes
 * become U+FFFD). */
void pyhs_json_string(FILE *out, const char *s);

/* The name of a generation as JSON: 0, 1, 2, "permanent" or null. */
void pyhs_json_gen(FILE *out, enum pyhs_gen gen);

#endif
