/*
 * Unlinked temporary files: gone from the file system as soon as they are
 * made, so that nothing is left behind whatever becomes of the process.
 */
#ifndef PYHS_TEMPFILE_H
#define PYHS_TEMPFILE_H

#include <stdbool.h>

/* A file open for reading and writing, already unlinked, in $TMPDIR, else
 * /var/tmp (disk, where /tmp may be memory), else /tmp; its directory in
 * *ret_dir. -1 with errno set if none of them takes one. name names the
 * file where the system cannot make one unnamed (O_TMPFILE). */
int pyhs_temp_open(const char *name, const char **ret_dir);

/* Whether the file open at fd lives in memory (tmpfs, ramfs), where
 * writing memory out to it frees nothing. */
bool pyhs_temp_in_memory(int fd);

#endif
