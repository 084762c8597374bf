/*
 * pyheapsnap reader: bytes at addresses of a target (an ELF core file, plain
 * or zstd-compressed), the ELF files it maps, their symbols and build-ids,
 * and the CPython runtime inside it: version, _PyRuntime and the layout of
 * CPython's structures (from DWARF when present, else built-in tables).
 *
 * Library code never prints; every fallible function returns a
 * struct pyhs_error * (NULL on success) and writes its out-parameter `ret`
 * only on success.
 */
#ifndef PYHS_READER_H
#define PYHS_READER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* ---- CPython layouts ---------------------------------------------------- */

struct pyhs_layout {
#define X(field, type, member) int32_t field;
#include "layout_fields.h"
#undef X
};

enum pyhs_layout_source {
	PYHS_LAYOUT_BUILTIN,
	PYHS_LAYOUT_DWARF,
};

/* Number of facts in struct pyhs_layout and their names (for tests). */
size_t pyhs_layout_nfields(void);
const char *pyhs_layout_field_name(size_t i);
const char *pyhs_layout_field_dwarf_type(size_t i);
const char *pyhs_layout_field_dwarf_member(size_t i);
int32_t pyhs_layout_get(const struct pyhs_layout *layout, size_t i);
void pyhs_layout_set(struct pyhs_layout *layout, size_t i, int32_t value);

/* The built-in layout for a PY_VERSION_HEX (major.minor, and patch where a
 * patch release changed a layout). PYHS_ERROR_UNSUPPORTED if none. */
struct pyhs_error *pyhs_layout_builtin(uint32_t version_hex,
				       struct pyhs_layout *ret);
/* The same for a Py_DEBUG build (python3.Xd): its own table where one was
 * measured (3.14, 3.15), else the release build's. */
struct pyhs_error *pyhs_layout_builtin_pydebug(uint32_t version_hex,
					       struct pyhs_layout *ret);

/* The newest CPython minor version this build has a layout for; newer
 * ones are read by their _Py_DebugOffsets laid over this one's layout. */
#define PYHS_NEWEST_MINOR 15

/* The minor version a _Py_DebugOffsets block (the first len bytes of
 * _PyRuntime) says, with its PY_VERSION_HEX in *ret_version (may be NULL);
 * 0 when the bytes are no such block (no "xdebugpy", or not 3.13+). */
unsigned pyhs_debug_offsets_minor(const void *block, size_t len,
				  uint32_t *ret_version);

/* Lays the facts a _Py_DebugOffsets block has over *io (a version newer than
 * PYHS_NEWEST_MINOR is read as that version's block) and sets *ret_n to how
 * many it had: 0, leaving *io alone, when the bytes are no such block.
 * PYHS_ERROR_INPUT, leaving *io alone, when the block is cut short or its
 * values cannot be a CPython layout; the message says which. */
struct pyhs_error *pyhs_layout_debug_offsets(const void *block, size_t len,
					     struct pyhs_layout *io, size_t *ret_n);

/* Reads every fact from the DWARF of an ELF file (the binary itself or its
 * separate debug file). Facts DWARF does not have are -1.
 * PYHS_ERROR_NOT_FOUND if the file has no usable DWARF. */
struct pyhs_error *pyhs_layout_from_dwarf(const char *path,
					  struct pyhs_layout *ret);

/* One fact to read from DWARF: the offset of a member path in the first
 * of the '|'-separated type names that is defined, or with a NULL member
 * its size (the forms of layout_fields.h). */
struct pyhs_dwarf_fact {
	const char *type;
	const char *member;
};
/* Reads nfacts facts from the DWARF of an ELF file into ret[0..nfacts),
 * -1 for those it does not have. PYHS_ERROR_NOT_FOUND if the file has no
 * usable DWARF or none of the types. */
struct pyhs_error *pyhs_dwarf_facts(const char *path,
				    const struct pyhs_dwarf_fact *facts,
				    size_t nfacts, int32_t *ret);

/* ---- Targets ------------------------------------------------------------ */

struct pyhs_target;

#define PYHS_SKIP_RUNTIME_SYMBOL 1u  /* the _PyRuntime symbol */
#define PYHS_SKIP_RUNTIME_SECTION 2u /* the .PyRuntime section */
#define PYHS_SKIP_STATIC_SYMBOLS 4u  /* every symbol .dynsym lacks, as if
				      * stripped and without a debug file */

struct pyhs_open_options {
	const char *sysroot;   /* prefix for paths named in the core, or NULL */
	const char *exe;       /* the executable, if it moved, or NULL */
	const char *debug_dir; /* NULL: /usr/lib/debug; "" to use none */
	bool no_dwarf;         /* use built-in layouts even if DWARF exists */
	bool no_debuginfod;    /* never ask debuginfod servers for a debug
				* file (else asked, for the file holding
				* _PyRuntime, when $DEBUGINFOD_URLS names
				* some and none is on disk) */
	bool no_python;        /* do not look for CPython: any process or core
				* opens, and the CPython facts stay empty (for
				* writing it out as a core) */
	unsigned runtime_skip;  /* PYHS_SKIP_*: find _PyRuntime and other
				 * statics as if the binary lacked these (for
				 * tests of the ways stripped binaries are
				 * read) */
	uint64_t max_core_size; /* a zstd core may decompress to this many
				 * bytes; 0: PYHS_DEFAULT_MAX_CORE_SIZE */
	/* Live processes only. */
	bool no_stop;           /* read the process while it runs: no ptrace,
				 * no pause, no registers, and a view that is
				 * not consistent (torn reads become warnings) */
	/* Raised asynchronously (a signal handler of the caller's) to stop
	 * an open early: a live capture looks at it while it waits and
	 * between copies and, once it is non-zero, resumes every thread it
	 * stopped and returns PYHS_ERROR_CANCELLED. NULL: never. */
	const volatile sig_atomic_t *cancel;
	/* Called once every check that can be made without stopping the
	 * process has passed, just before it is stopped (or, with no_stop,
	 * read), with the bytes the capture will copy at most: an error
	 * from it ends the open there, with nothing stopped. NULL: none. */
	struct pyhs_error *(*before_stop)(void *ctx, uint64_t bytes);
	void *before_stop_ctx;
};

/* 64 GiB. A compressed core is decompressed into a sparse temporary file
 * ($TMPDIR, else /var/tmp, else /tmp), no further than its headers need. */
#define PYHS_DEFAULT_MAX_CORE_SIZE (UINT64_C(64) << 30)

/* Opens an ELF core file (plain or zstd-compressed) and finds the CPython
 * runtime in it. Errors: PYHS_ERROR_OS (cannot open), PYHS_ERROR_INPUT
 * (not a core, truncated), PYHS_ERROR_UNSUPPORTED (no CPython found, or a
 * version we do not support). */
struct pyhs_error *pyhs_target_open_core(const char *path,
					 const struct pyhs_open_options *opts,
					 struct pyhs_target **ret);
/* Stops every thread of a running process (none with opts->no_stop),
 * copies its memory, resumes it and finds the CPython runtime in the copy
 * (see reader/live.c). What can be checked without stopping it is checked
 * first. Errors: PYHS_ERROR_NOT_FOUND (no such process), PYHS_ERROR_OS (not
 * permitted, with the reason and what to do), PYHS_ERROR_UNSUPPORTED (it
 * maps no CPython runtime; nothing was stopped), PYHS_ERROR_INPUT (it
 * exited, or exited during capture), PYHS_ERROR_INVALID (a thread id, or
 * the caller itself), PYHS_ERROR_CANCELLED (opts->cancel was raised; every
 * thread was resumed), those of opts->before_stop, and those of
 * pyhs_target_open_core once the copy is made. */
struct pyhs_error *pyhs_target_open_pid(int pid,
					const struct pyhs_open_options *opts,
					struct pyhs_target **ret);
void pyhs_target_destroy(struct pyhs_target *t);
/* Gives back the resident pages of the files t maps (the core, the ELF and
 * debug files): they stay mapped, and a later read faults what it touches
 * in again from the page cache. For a caller that has read most of the
 * target and will read little more of it (a heap once walked). */
void pyhs_target_release_pages(const struct pyhs_target *t);
/* When process pid started (/proc/PID/stat: clock ticks since boot), to
 * tell it from a later process given the same pid; false if there is no
 * such process. */
bool pyhs_process_start_time(int pid, uint64_t *ret);

/* Memory. These are the hot path: they return false for unreadable memory
 * instead of allocating an error. */
bool pyhs_target_read(const struct pyhs_target *t, uint64_t addr, void *buf,
		      size_t len);
/* A pointer to len readable bytes at addr, or NULL; valid until destroy. */
const void *pyhs_target_ptr(const struct pyhs_target *t, uint64_t addr,
			    size_t len);
static inline bool pyhs_target_read_u64(const struct pyhs_target *t,
					uint64_t addr, uint64_t *ret)
{
	return pyhs_target_read(t, addr, ret, sizeof(*ret));
}

/* Symbols of every mapped ELF file (and its debug file), biased. */
bool pyhs_target_symbol(const struct pyhs_target *t, const char *name,
			uint64_t *ret);
/* A static variable of CPython's, under its own name or as LTO renamed it
 * ("arenas.lto_priv.0"). */
bool pyhs_target_static_symbol(const struct pyhs_target *t, const char *name,
			       uint64_t *ret);

/* Byte offsets in _asyncio's C Future and Task objects (-1: the version has
 * no such field), from the DWARF of the _asyncio module where it has some,
 * else built-in tables per version (hexversion: sys.hexversion when known,
 * else 0 for the version the binary gives, which may lack the patch
 * level). fut_state is a C int: 0 pending, 1 cancelled, 2 finished. */
struct pyhs_asyncio_layout {
	int32_t fut_size, fut_loop, fut_callback0, fut_callbacks, fut_exception,
		fut_result, fut_state, fut_awaited_by;
	int32_t task_size, task_fut_waiter, task_coro, task_name, task_context;
	/* 3.14+: tasks are linked through task_node (a llist_node: next,
	 * prev) from a head in each thread state (_PyThreadStateImpl) and one
	 * in the interpreter state (tasks of threads that have ended). */
	int32_t task_node, tstate_tasks_head, interp_tasks_head;
	char source[8]; /* "dwarf" or "builtin" */
};
struct pyhs_error *pyhs_target_asyncio_layout(const struct pyhs_target *t,
					      uint32_t hexversion,
					      struct pyhs_asyncio_layout *ret);
/* The two sources of it: the built-in table for a PY_VERSION_HEX
 * (PYHS_ERROR_UNSUPPORTED if none), and the DWARF of an ELF file
 * (PYHS_ERROR_NOT_FOUND if it has no TaskObj and FutureObj). */
struct pyhs_error *pyhs_asyncio_layout_builtin(uint32_t version_hex,
					       struct pyhs_asyncio_layout *ret);
struct pyhs_error *pyhs_asyncio_layout_from_dwarf(const char *path,
						  struct pyhs_asyncio_layout *ret);

/* Process facts. */
int pyhs_target_pid(const struct pyhs_target *t);
const char *pyhs_target_executable(const struct pyhs_target *t);
const char *pyhs_target_cmdline(const struct pyhs_target *t);
size_t pyhs_target_nthreads(const struct pyhs_target *t);
/* Kernel thread id of the i-th thread (NT_PRSTATUS order). */
int pyhs_target_thread_tid(const struct pyhs_target *t, size_t i);
int pyhs_target_signal(const struct pyhs_target *t);
const char *pyhs_target_source(const struct pyhs_target *t); /* "core" or "pid" */
/* How long a live process was stopped, in nanoseconds (0 for cores). */
uint64_t pyhs_target_pause_ns(const struct pyhs_target *t);
/* Whether a live process was read while it ran (no_stop): its memory was
 * not copied at one moment, so the view need not be consistent. */
bool pyhs_target_unstopped(const struct pyhs_target *t);
/* When the memory was captured, unix seconds (0 if unknown). */
uint64_t pyhs_target_capture_time(const struct pyhs_target *t);
/* When the process started, clock ticks since boot (0 if unknown). */
uint64_t pyhs_target_start_time(const struct pyhs_target *t);

/* CPython facts. */
uint32_t pyhs_target_py_version(const struct pyhs_target *t); /* PY_VERSION_HEX */
const char *pyhs_target_py_build(const struct pyhs_target *t); /* Py_GetVersion() text, or "" */
const char *pyhs_target_py_library(const struct pyhs_target *t); /* file holding _PyRuntime */
uint64_t pyhs_target_runtime(const struct pyhs_target *t);     /* &_PyRuntime */
/* Bytes of memory the target holds (core segments, copied memory). */
uint64_t pyhs_target_memory_bytes(const struct pyhs_target *t);
const struct pyhs_layout *pyhs_target_layout(const struct pyhs_target *t);
enum pyhs_layout_source pyhs_target_layout_source(const struct pyhs_target *t);
const char *pyhs_target_debug_file(const struct pyhs_target *t); /* or NULL */
/* The i-th writable loadable segment of the file holding _PyRuntime (its
 * .data and .bss, where C statics live), as the target's addresses
 * [*start, *end); false when there is no i-th one, or the file or its
 * load bias is unknown. For finding a static variable that no symbol
 * names (a stripped binary without its debug file). */
bool pyhs_target_py_data(const struct pyhs_target *t, size_t i,
			 uint64_t *start, uint64_t *end);

/* The same for every mapped ELF file: how many there are, and the i-th
 * writable loadable segment of the file-th (with its path as the target
 * names it); false when there is no such segment or the file or its load
 * bias is unknown. */
size_t pyhs_target_nfiles(const struct pyhs_target *t);
bool pyhs_target_file_data(const struct pyhs_target *t, size_t file, size_t i,
			   uint64_t *start, uint64_t *end, const char **path);
/* ---- pymalloc: CPython's small-object allocator --------------------------
 *
 * Its arenas and pools counted as sys._debugmallocstats() counts them: every
 * arena object with an address, every pool carved from it whose count of
 * blocks in use is not zero. The state is read from _PyRuntime's main
 * interpreter (3.12+) or from obmalloc.c's static variables (3.8 to 3.11,
 * found by symbol: .symtab or the debug file). A pool header or arena object
 * that does not add up is counted as a warning and bounded, never followed
 * blindly.
 */

enum pyhs_pymalloc_status {
	PYHS_PYMALLOC_OK,       /* arenas read */
	PYHS_PYMALLOC_UNUSED,   /* pymalloc holds no arenas: objects come from
				 * malloc (PYTHONMALLOC=malloc, or similar) */
	PYHS_PYMALLOC_MISSING,  /* its state cannot be found: see missing */
};

#define PYHS_PYMALLOC_MAX_CLASSES 64

struct pyhs_pymalloc_class {
	uint32_t size;          /* block size in bytes */
	uint64_t pools;         /* pools in use of this size */
	uint64_t blocks_in_use;
	uint64_t blocks_free;   /* in those pools, never carved ones too */
};

struct pyhs_pymalloc_arena {
	uint64_t address;       /* as malloc'd or mmap'd: arena_size bytes */
	uint32_t free_pools;
	uint32_t total_pools;
};

struct pyhs_pymalloc {
	enum pyhs_pymalloc_status status;
	char missing[160];      /* what could not be found (MISSING) */
	/* The object allocator in use, as far as it can be told: "pymalloc",
	 * "malloc", "pymalloc with debug hooks", "mimalloc", ... or "". */
	char allocator[80];
	bool traced;            /* tracemalloc's hooks sit in front of it */
	uint64_t pool_size, arena_size, pool_overhead;
	uint64_t arenas;        /* arena objects with an address */
	/* The counters obmalloc keeps (-1 where unreadable). */
	int64_t arenas_total, arenas_highwater, arenas_current;
	uint64_t free_pools;
	uint64_t allocated_bytes;   /* blocks in use */
	uint64_t available_bytes;   /* free blocks in used pools */
	uint64_t free_pool_bytes;   /* free pools */
	uint64_t pool_header_bytes;
	uint64_t quantization_bytes;
	uint64_t alignment_bytes;   /* lost to arena alignment */
	size_t nclasses;
	struct pyhs_pymalloc_class classes[PYHS_PYMALLOC_MAX_CLASSES];
	size_t narenas;             /* arena list, in arena-object order */
	struct pyhs_pymalloc_arena *arena_list;
	uint64_t nwarnings;
	char warning[200];          /* the first, or "" */
};

/* Reads pymalloc's state; PYHS_ERROR_NOMEM only: what cannot be read is in
 * the result's status, missing and warnings. Free with
 * pyhs_pymalloc_destroy. */
struct pyhs_error *pyhs_pymalloc_read(const struct pyhs_target *t,
				      struct pyhs_pymalloc **ret);
void pyhs_pymalloc_destroy(struct pyhs_pymalloc *p);

/* ---- Regions: every mapped byte, by what it holds ------------------------
 *
 * The target's mappings cut into pieces, each of one kind: pymalloc's
 * arenas (from a pymalloc_read result), glibc malloc's heaps (their chunks
 * walked: in use, free, the top chunk, free in tcache or fastbins) and its
 * mmapped chunks, thread stacks
 * (the mappings threads' stack pointers are in), file-backed mappings by
 * file, mappings without access (guard pages, reserved heap space), and
 * what is left unexplained. The pieces add up to the mappings exactly.
 */
struct pyhs_region {
	const char *kind;  /* "pymalloc", "malloc", "objects", "buffers",
			    * "stack", "file", "no access", "unexplained" */
	char name[256];    /* what in that kind: a file, "in use", "thread TID" */
	uint64_t bytes;    /* mapped */
	uint64_t held;     /* of which a core holds (a live process: copied) */
	int64_t resident;  /* live: pages present, in bytes; -1 if unknown */
	int64_t swapped;   /* live: pages swapped out, in bytes; -1 if unknown */
	uint64_t pieces;   /* how many ranges were added up */
};

struct pyhs_regions {
	size_t n;
	struct pyhs_region *regions; /* largest first */
	uint64_t mapped_bytes;       /* every mapping's length, summed */
	bool live;
	/* libc's release ("2.43"; "" if no libc file gave one) and whether
	 * its malloc layout is one built in; if not, chunks free in its
	 * tcache and fastbins are not told apart from those in use (their
	 * regions say "in use or cached"). */
	char glibc[16];
	bool glibc_known;
	unsigned glibc_newest;       /* the newest minor release known (2.N) */
	/* glibc malloc's chunks in use (mmapped ones too, and with an
	 * unknown layout those cached), and of them the bytes of chunks that
	 * hold objects and blocks objects own. */
	uint64_t malloc_in_use, malloc_objects, malloc_buffers;
	uint64_t nwarnings;
	char warning[200];
};

/* Memory an object owns, for telling malloc's chunks apart: an object
 * itself (part NULL; addr is the object's address, which may lie past a
 * pre-header in its chunk), or a block it owns (part names what the block
 * holds, "items", "data"; addr is the block's start, malloc's pointer).
 * type is the owner's type name. The strings must outlive the call. */
struct pyhs_region_owner {
	uint64_t addr;
	const char *type;
	const char *part;
};

/* pymalloc may be NULL (its arenas are then not told apart). owners, if
 * not NULL, are sorted by address, a block before an object at the same
 * address (pyhs_region_owner_cmp): an in-use malloc chunk (or mmapped
 * chunk) with one of them in its bytes counts as the first's, under kind
 * "buffers" (named "TYPE PART") or "objects" (named TYPE); the others as
 * "in use (other)". Only PYHS_ERROR_NOMEM. */
int pyhs_region_owner_cmp(const void *x, const void *y);
/* The kinds of regions (the strings their kind points to), in the order
 * they are best shown in. */
#define PYHS_REGION_NKINDS 9
extern const char *const pyhs_region_kinds[PYHS_REGION_NKINDS];
struct pyhs_error *pyhs_regions_read(const struct pyhs_target *t,
				     const struct pyhs_pymalloc *pymalloc,
				     const struct pyhs_region_owner *owners,
				     size_t nowners,
				     struct pyhs_regions **ret);
void pyhs_regions_destroy(struct pyhs_regions *r);

/* ---- What a target holds, to write it out again as a core ---------------
 *
 * A live target keeps what its capture saw while the process was stopped:
 * every mapping of /proc/PID/maps, the bytes copied out of the process,
 * each thread's registers, the auxiliary vector and the process facts a
 * core's NT_PRPSINFO note holds. A core target has the same from its
 * program headers (perms 'p' and path "" where no NT_FILE entry names the
 * mapping) and notes. formats/gcore.c writes them as an ELF core. Each of
 * these is empty or zero where the target does not know it.
 */

/* A mapping of the process's address space, as /proc/PID/maps shows it. */
struct pyhs_target_mapping {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;     /* where it starts in its file, in bytes */
	char perms[5];       /* "r-xp": read, write, execute, 's'hared or
			      * 'p'rivate */
	const char *path;    /* the file as the process names it, "[heap]",
			      * "[stack]", ..., or "" for anonymous memory;
			      * valid until destroy */
};
size_t pyhs_target_nmappings(const struct pyhs_target *t);
/* The i-th mapping, in address order; false if i is out of range. */
bool pyhs_target_mapping(const struct pyhs_target *t, size_t i,
			 struct pyhs_target_mapping *ret);

/* The bytes taken from the process itself (or held in the core), not
 * those read from the files it maps: segment i is [*start, *start + *len)
 * with its bytes at *data (valid until destroy). In address order, not
 * overlapping, each within one mapping; a mapping not covered reads from
 * its file, or is unreadable. false if i is out of range. */
size_t pyhs_target_nsegments(const struct pyhs_target *t);
bool pyhs_target_segment(const struct pyhs_target *t, size_t i,
			 uint64_t *start, uint64_t *len, const void **data);

/* Registers of the i-th thread (pyhs_target_thread_tid's order), as x86-64
 * Linux lays them out for ptrace and in a core: struct user_regs_struct
 * (NT_PRSTATUS's pr_reg) and struct user_fpregs_struct (NT_PRFPREG). */
#define PYHS_REGS_SIZE 216
#define PYHS_FPREGS_SIZE 512
struct pyhs_thread_registers {
	const void *regs;   /* PYHS_REGS_SIZE bytes, or NULL if unknown */
	const void *fpregs; /* PYHS_FPREGS_SIZE bytes, or NULL if unknown */
	int signal;         /* the signal it was stopped by, 0 if none */
};
/* false if i is out of range; regs and fpregs valid until destroy. */
bool pyhs_target_thread_registers(const struct pyhs_target *t, size_t i,
				  struct pyhs_thread_registers *ret);

/* The C stack of the i-th thread: its stack pointer, the end of the
 * mapping that holds it (the stack is [sp, end)), its thread pointer
 * (fs_base: pthread_self(), what a thread state's thread_id holds) and
 * its general-purpose registers (r15 ... rdi). false if i is out of range
 * or its registers or stack mapping are unknown. */
#define PYHS_STACK_REGISTERS 15
struct pyhs_thread_stack {
	int tid;
	uint64_t sp, end;
	uint64_t fs_base;
	uint64_t general[PYHS_STACK_REGISTERS];
};
bool pyhs_target_thread_stack(const struct pyhs_target *t, size_t i,
			      struct pyhs_thread_stack *ret);

/* The member of the interpreter's or the runtime's state (of CPython
 * 3.minor, whose struct is size bytes) that the byte at offset off is in,
 * as a path of members ("codec_search_path", "codecs.search_path",
 * "atexit.callbacks"), or NULL if the state's layout is not one of the
 * built-in tables' or no member holds that byte (state_fields.c). */
enum pyhs_state { PYHS_STATE_INTERP, PYHS_STATE_RUNTIME };
const char *pyhs_state_field(enum pyhs_state which, unsigned minor, uint64_t size,
			     uint64_t off);
/* The auxiliary vector (/proc/PID/auxv, NT_AUXV): *size bytes of
 * {key, value} pairs of 8 bytes each, or NULL with *size 0. */
const void *pyhs_target_auxv(const struct pyhs_target *t, size_t *size);

/* The process facts of NT_PRPSINFO (its psargs is pyhs_target_cmdline). */
struct pyhs_target_process {
	int pid, ppid, pgrp, sid;
	unsigned uid, gid;
	char state;     /* as /proc/PID/stat's third field ('S', ...), 0 if
			 * unknown */
	int nice;
	uint64_t flags; /* the kernel's task flags */
	char comm[16];  /* the process's name, NUL-terminated */
};
void pyhs_target_process(const struct pyhs_target *t,
			 struct pyhs_target_process *ret);

/* Warnings gathered while opening (missing files, build-id mismatches). */
size_t pyhs_target_nwarnings(const struct pyhs_target *t);
const char *pyhs_target_warning(const struct pyhs_target *t, size_t i);

#endif
