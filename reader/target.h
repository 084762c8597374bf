/* Internal: the parts of a target shared by the reader's .c files. */
#ifndef PYHS_TARGET_H
#define PYHS_TARGET_H

#include "common/containers.h"
#include "reader.h"

/* ---- memory.c: an address space made of segments ---- */

struct pyhs_segment {
	uint64_t start;
	uint64_t end;        /* exclusive */
	const uint8_t *data; /* bytes for [start, end) */
};
DEFINE_VECTOR(pyhs_segment_vector, struct pyhs_segment)

struct pyhs_memory {
	struct pyhs_segment_vector segments; /* sorted, non-overlapping */
	/* The segment the last lookup found: reads come in runs within one
	 * segment (the heap's arenas), so it is tried first. A hint only,
	 * updated by readers through const pointers. */
	size_t hint;
};

void pyhs_memory_init(struct pyhs_memory *mem);
void pyhs_memory_deinit(struct pyhs_memory *mem);
/* Adds [start, start+len) backed by data, below any segment already added
 * (earlier additions win where they overlap). */
struct pyhs_error *pyhs_memory_add(struct pyhs_memory *mem, uint64_t start,
				   uint64_t len, const uint8_t *data);
bool pyhs_memory_read(const struct pyhs_memory *mem, uint64_t addr, void *buf,
		      size_t len);
const void *pyhs_memory_ptr(const struct pyhs_memory *mem, uint64_t addr,
			    size_t len);

/* ---- symbols.c: ELF files mapped into the target ---- */

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

/* core.c, shared with live.c */
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
/* Sets t->executable: the module holding AT_ENTRY, else AT_EXECFN's
 * string. */
struct pyhs_error *pyhs_target_find_executable(struct pyhs_target *t);

/* symbols.c */
/* Opens, maps and checks the file behind a module, finds its debug file;
 * problems become warnings. Adds its file-backed bytes to memory for the
 * mapping ranges given. */
struct pyhs_error *pyhs_module_load(struct pyhs_target *t,
				    struct pyhs_module *m);
/* The symbol name of m, unbiased, or NULL; t gives the options (NULL:
 * none). */
const struct pyhs_symbol *pyhs_module_symbol(struct pyhs_target *t,
					     struct pyhs_module *m,
					     const char *name);
/* The debug file of the module from debuginfod, where none is on disk,
 * the module has no DWARF of its own, debuginfod is not turned off and
 * $DEBUGINFOD_URLS names servers (else nothing is done: no client, no
 * request). Used only if its build-id matches; a failure other than the
 * servers not having it is a warning. Errors: out of memory only. */
struct pyhs_error *pyhs_module_fetch_debug(struct pyhs_target *t,
					   struct pyhs_module *m);
/* Maps a regular file read-only; PYHS_ERROR_OS or _INPUT on failure. */
struct pyhs_error *pyhs_map_file(struct pyhs_target *t, const char *path,
				 const uint8_t **ret_data, size_t *ret_size);
/* Maps size bytes of fd read-only until t is destroyed (fd stays open);
 * path names it in the error. */
struct pyhs_error *pyhs_map_fd(struct pyhs_target *t, int fd, size_t size,
			       const char *path, const uint8_t **ret);
/* zcore.c: the zstd-compressed core at src, decompressed into a mapped,
 * unlinked temporary file that t unmaps at destroy. */
struct pyhs_error *pyhs_decompress_core(struct pyhs_target *t, const char *path,
					const uint8_t *src, size_t src_size,
					const uint8_t **ret, size_t *ret_size);
/* Whether an ELF image in a buffer has a section of that name with bytes. */
bool pyhs_elf_has_section(const uint8_t *data, size_t size, const char *want);
/* Build-id of an ELF image in a buffer; 0 if none. */
size_t pyhs_elf_build_id(const uint8_t *data, size_t size, uint8_t *out,
			 size_t out_size);

/* debuginfod.c */
/* Whether $DEBUGINFOD_URLS names any server. */
bool pyhs_debuginfod_configured(void);
/* Asks the servers for the debug file of a build-id: the path (malloc'd)
 * of the file in libdebuginfod's cache. NOT_FOUND when no server is named
 * or none has it; OS for the rest (timeouts, refusals). */
struct pyhs_error *pyhs_debuginfod_find(const uint8_t *build_id, size_t len,
					char **ret_path);

/* python.c */
struct pyhs_error *pyhs_python_find(struct pyhs_target *t);

#endif
