/*
 * Internal: the target object (target.c), what every file of reader/ that
 * reads bytes at addresses builds on. Above it: symbols.c (the ELF files),
 * zcore.c, python.c, then core.c and live.c, which make targets.
 */
#ifndef PYHS_TARGET_H
#define PYHS_TARGET_H

#include "common/containers.h"
#include "memory.h"
#include "reader.h"

/* ---- the files mapped into the target (symbols.c reads them) ---- */

struct pyhs_symbol {
	const char *name; /* points into the module's mapped string table */
	uint64_t value;   /* unbiased st_value */
	uint64_t size;
};
#define PYHS_SYMBOL_HASH(name) pyhs_hash_str(name)
DEFINE_HASH_MAP(pyhs_symbol_map, const char *, struct pyhs_symbol,
		PYHS_SYMBOL_HASH, PYHS_EQ_STR)

struct pyhs_mapped_file {
	void *addr;
	size_t size;
	/* A read-only mapping of a file (pyhs_map_fd), whose pages can be
	 * dropped and read again; false for anonymous memory holding copies
	 * (a live capture). */
	bool file;
};
DEFINE_VECTOR(pyhs_mapped_file_vector, struct pyhs_mapped_file)

struct pyhs_module {
	char *path;           /* as named in the core */
	char *opened_path;    /* what we opened (sysroot, --exe), or NULL */
	uint64_t bias;        /* load bias */
	uint64_t start, end;  /* lowest and highest mapped address */
	bool bias_known;
	const uint8_t *file;  /* the file on disk, mapped, or NULL */
	size_t file_size;
	uint8_t build_id[64];
	size_t build_id_len;
	char *debug_path;     /* separate debug file, or NULL */
	const uint8_t *debug_file;
	size_t debug_file_size;
	bool has_debug_info;  /* .debug_info in the file itself */
	bool symbols_loaded;  /* every table read into symbols */
	struct pyhs_symbol_map symbols;
	/* The file's GNU hash table over .dynsym, for lookups without reading
	 * every symbol (checked once; NULL gnu_hash: none usable). */
	bool hash_checked;
	bool has_symtab;      /* a .symtab too: a miss in .dynsym is not final */
	const uint8_t *gnu_hash, *dynsym, *dynstr;
	size_t gnu_hash_size, ndynsym, dynstr_size;
};
DEFINE_VECTOR(pyhs_module_vector, struct pyhs_module)

DEFINE_VECTOR(pyhs_string_vector, char *)
DEFINE_VECTOR(pyhs_int_vector, int)

/* ---- What a core writer needs (reader.h's pyhs_target_mapping and
 * friends): filled by live.c during a capture, and by core.c from a
 * core's program headers and notes. ---- */

struct pyhs_mapping {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;     /* in the file, bytes */
	char perms[5];       /* "rw-p" */
	char *path;          /* "" for anonymous memory */
};
DEFINE_VECTOR(pyhs_mapping_vector, struct pyhs_mapping)

struct pyhs_thread_state {
	bool has_regs, has_fpregs;
	int signal;
	uint8_t regs[PYHS_REGS_SIZE];
	uint8_t fpregs[PYHS_FPREGS_SIZE];
};
DEFINE_VECTOR(pyhs_thread_state_vector, struct pyhs_thread_state)

struct pyhs_target {
	struct pyhs_memory mem;
	struct pyhs_mapped_file_vector maps; /* munmap'd at destroy */
	struct pyhs_module_vector modules;
	struct pyhs_string_vector warnings;
	struct pyhs_open_options opts;

	int pid;
	int signal;
	char *executable;
	char *cmdline;
	struct pyhs_int_vector tids;
	uint64_t entry;   /* AT_ENTRY */
	uint64_t execfn;  /* AT_EXECFN */

	uint32_t py_version;
	char *py_build;
	size_t runtime_module; /* index into modules */
	uint64_t runtime;
	struct pyhs_layout layout;
	enum pyhs_layout_source layout_source;
	char *dwarf_file;

	/* For writing the target out as a core: empty where unknown. */
	struct pyhs_mapping_vector mappings;      /* in address order */
	struct pyhs_segment_vector captured;      /* the process's own bytes,
						   * sorted, non-overlapping */
	struct pyhs_thread_state_vector thread_states; /* parallel to tids */
	uint8_t *auxv;                            /* NT_AUXV bytes */
	size_t auxv_size;
	struct pyhs_target_process process;       /* NT_PRPSINFO facts */

	/* live.c: a process read with ptrace rather than a core. */
	bool live;
	uint64_t pause_ns;     /* first thread stopped to last resumed */
	bool unstopped;        /* read while it ran (no_stop) */
	uint64_t capture_time; /* unix seconds */
	uint64_t start_time;   /* clock ticks since boot, 0 if unknown */
	char live_root[32];    /* "/proc/PID/root" when used as sysroot */
};

/* Adds a formatted warning (never fails; drops the warning on OOM). */
void pyhs_target_warn(struct pyhs_target *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether libelf is usable: elf_version(EV_CURRENT) called once for the
 * process, whichever thread asks first (target.c). */
bool pyhs_libelf_ready(void);

/* target.c: making targets (core.c, live.c) */
struct pyhs_error *pyhs_target_create(const struct pyhs_open_options *opts,
				      struct pyhs_target **ret);
/* Registers one file mapping [start, end) of name, as an NT_FILE entry
 * does: one module per path, its range widened; at_file_start when the
 * mapping begins at file offset 0 (where the ELF header is). */
struct pyhs_error *pyhs_target_add_module_mapping(struct pyhs_target *t,
						  const char *name,
						  uint64_t start, uint64_t end,
						  bool at_file_start);
/* Backs [start, end) with the loaded file of module name from byte
 * offset on (below anything already in memory); nothing if the file was
 * not loaded. */
struct pyhs_error *pyhs_target_add_file_bytes(struct pyhs_target *t,
					      const char *name, uint64_t start,
					      uint64_t end, uint64_t offset);
/* Maps a regular file read-only; PYHS_ERROR_OS or _INPUT on failure. */
struct pyhs_error *pyhs_map_file(struct pyhs_target *t, const char *path,
				 const uint8_t **ret_data, size_t *ret_size);
/* Maps size bytes of fd read-only until t is destroyed (fd stays open);
 * path names it in the error. */
struct pyhs_error *pyhs_map_fd(struct pyhs_target *t, int fd, size_t size,
			       const char *path, const uint8_t **ret);

#endif
