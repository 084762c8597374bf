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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

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

struct pyhs_open_options {
	const char *sysroot;   /* prefix for paths named in the core, or NULL */
	const char *exe;       /* the executable, if it moved, or NULL */
	const char *debug_dir; /* NULL: /usr/lib/debug; "" to use none */
	bool no_dwarf;         /* use built-in layouts even if DWARF exists */
	bool no_python;        /* do not look for CPython: any process or core
				* opens, and the CPython facts stay empty (for
				* writing it out as a core) */
	unsigned runtime_skip;  /* PYHS_SKIP_RUNTIME_*: find _PyRuntime as if
				 * the binary lacked these (for tests of the
				 * ways stripped binaries are read) */
	uint64_t max_core_size; /* a zstd core may decompress to this many
				 * bytes; 0: PYHS_DEFAULT_MAX_CORE_SIZE */
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
/* Stops every thread of a running process, copies its memory, resumes it
 * and finds the CPython runtime in the copy (see reader/live.c). Errors:
 * PYHS_ERROR_NOT_FOUND (no such process), PYHS_ERROR_OS (not permitted,
 * with the reason and what to do), PYHS_ERROR_INPUT (it exited during
 * capture), PYHS_ERROR_INVALID (a thread id, or the caller itself), and
 * those of pyhs_target_open_core once the copy is made. */
struct pyhs_error *pyhs_target_open_pid(int pid,
					const struct pyhs_open_options *opts,
					struct pyhs_target **ret);
void pyhs_target_destroy(struct pyhs_target *t);

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
