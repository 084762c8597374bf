/* Internal: writing a file atomically, for snapshots and cores. */
#ifndef PYHS_ATOMIC_H
#define PYHS_ATOMIC_H

#include <signal.h>
#include <sys/types.h>

#include "common/error.h"

/*
 * A temporary file beside the destination, then fsync, rename over the
 * destination and a sync of the directory, so the destination is either
 * the old file or the whole new one. what names the kind of file in
 * errors: "cannot write snapshot 'x'".
 *
 * The temporary file is ".NAME.pyhs-PID-START-XXXXXXXX.tmp": the pid and
 * start time (clock ticks since boot) of the process writing it. One
 * killed outright (SIGKILL) leaves it behind; the next pyhs_atomic_create
 * in the same directory removes those of this user whose process is gone
 * (no such pid, or a pid now of a process that started at another time)
 * and counts them.
 */
struct pyhs_atomic_file {
	int fd;            /* write here */
	const char *path;  /* the destination */
	const char *what;
	char *tmp;
	char *dir;
	/* Raised asynchronously to stop the write (see
	 * pyhs_atomic_check); NULL: never. */
	const volatile sig_atomic_t *cancel;
	size_t stale;        /* leftover temporaries removed at create */
	char *stale_example; /* the first one's path, or NULL */
};

/* Refuses an empty path, a directory path, and a destination that exists
 * and is not a regular file (renaming would replace a device or a link). */
struct pyhs_error *pyhs_atomic_create(struct pyhs_atomic_file *f,
				      const char *path, const char *what,
				      mode_t mode);
/* "cannot write WHAT 'PATH': REASON". */
struct pyhs_error *pyhs_atomic_fail(const struct pyhs_atomic_file *f,
				    int errnum);
/* PYHS_ERROR_CANCELLED once f->cancel is raised, else NULL: writers call
 * it between writes, and abort on an error. */
struct pyhs_error *pyhs_atomic_check(const struct pyhs_atomic_file *f);
/* Syncs, closes and renames; on failure (or cancellation before the
 * rename) the temporary file is removed. */
struct pyhs_error *pyhs_atomic_commit(struct pyhs_atomic_file *f);
/* Closes and removes the temporary file (after a failure). */
void pyhs_atomic_abort(struct pyhs_atomic_file *f);
/* Aborts, and frees what create kept (the stale example). */
void pyhs_atomic_deinit(struct pyhs_atomic_file *f);

/* The file of an output (formats.h); PYHS_ERROR_INVALID if it was not
 * made for kind. */
struct pyhs_output;
enum pyhs_output_kind;
struct pyhs_error *pyhs_output_file(struct pyhs_output *o,
				    enum pyhs_output_kind kind,
				    struct pyhs_atomic_file **ret);
/* Creates an output of kind at path, has write fill and commit it, and
 * frees it: what pyhs_snapshot_write and pyhs_gcore_write do. */
struct pyhs_error *pyhs_output_write_path(
	const char *path, enum pyhs_output_kind kind,
	struct pyhs_error *(*write)(const void *src, struct pyhs_output *out),
	const void *src);

#endif
