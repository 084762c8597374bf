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
#define PYHS_JSONL_VERSION 1

/* Writes the heap as JSON lines: a header object, then one object per line.
 * PYHS_ERROR_OS if writing fails. */
struct pyhs_error *pyhs_export_jsonl(const struct pyhs_heap *h, FILE *out);
/* The same, only objects of generation gen (enum pyhs_gen; -1 for all). */
struct pyhs_error *pyhs_export_jsonl_gen(const struct pyhs_heap *h, int gen,
					 FILE *out);

/* Snapshot files: a whole heap in pyheapsnap's own compressed, columnar,
 * checksummed format (formats/FORMAT.md). */
#define PYHS_SNAPSHOT_VERSION 2
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
/* Removes the temporary file if it was not renamed, and frees o. */
void pyhs_output_destroy(struct pyhs_output *o);

/* Writes the heap to a snapshot output (PYHS_OUTPUT_SNAPSHOT) and renames
 * it over its path. PYHS_ERROR_OS if writing fails (path is then
 * untouched), PYHS_ERROR_CANCELLED if cancelled. */
struct pyhs_error *pyhs_snapshot_write_output(const struct pyhs_heap *h,
					      struct pyhs_output *out);
/* The same, creating the output at path. */
struct pyhs_error *pyhs_snapshot_write(const struct pyhs_heap *h,
				       const char *path);

/* Reads a snapshot. The heap's metadata (source, input, ...) is that of
 * what the snapshot was made from. PYHS_ERROR_INPUT, with a message naming
 * the file and what is wrong, if it is truncated, corrupt or of a newer
 * format; PYHS_ERROR_OS if it cannot be opened or read. */
struct pyhs_error *pyhs_snapshot_read(const char *path, struct pyhs_heap **ret);

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

/* XXH64 with seed 0: the checksum snapshot files use. */
uint64_t pyhs_xxh64(const void *data, size_t len);

/* Writes s as a JSON string literal (quoted, escaped; invalid UTF-8 bytes
 * become U+FFFD). */
void pyhs_json_string(FILE *out, const char *s);

/* The name of a generation as JSON: 0, 1, 2, "permanent" or null. */
void pyhs_json_gen(FILE *out, enum pyhs_gen gen);

#endif
