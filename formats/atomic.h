/* Internal: writing a file atomically, for snapshots and cores. */
#ifndef PYHS_ATOMIC_H
#define PYHS_ATOMIC_H

#include <sys/types.h>

#include "error.h"

/*
 * A temporary file beside the destination (".NAME.XXXXXXXX.tmp" in its
 * directory), then fsync, rename over the destination and a sync of the
 * directory, so the destination is either the old file or the whole new
 * one. what names the kind of file in errors: "cannot write snapshot 'x'".
 */
struct pyhs_atomic_file {
	int fd;            /* write here */
	const char *path;  /* the destination */
	const char *what;
	char *tmp;
	char *dir;
};

/* Refuses an empty path, a directory path, and a destination that exists
 * and is not a regular file (renaming would replace a device or a link). */
struct pyhs_error *pyhs_atomic_create(struct pyhs_atomic_file *f,
				      const char *path, const char *what,
				      mode_t mode);
/* "cannot write WHAT 'PATH': REASON". */
struct pyhs_error *pyhs_atomic_fail(const struct pyhs_atomic_file *f,
				    int errnum);
/* Syncs, closes and renames; on failure the temporary file is removed. */
struct pyhs_error *pyhs_atomic_commit(struct pyhs_atomic_file *f);
/* Closes and removes the temporary file (after a failure). */
void pyhs_atomic_abort(struct pyhs_atomic_file *f);

#endif
