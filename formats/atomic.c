/* Writing a file atomically: temporary file, fsync, rename, directory sync. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"

/* The directory of path, for the temporary file and the final sync. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

struct pyhs_error *pyhs_atomic_fail(const struct pyhs_atomic_file *f,
				    int errnum)
{
	return pyhs_error_os(errnum ? errnum : EIO, "cannot write %s '%s'",
			     f->what, f->path);
}

struct pyhs_error *pyhs_atomic_create(struct pyhs_atomic_file *f,
				      const char *path, const char *what,
				      mode_t mode)
{
	*f = (struct pyhs_atomic_file){ .fd = -1, .path = path, .what = what };
	size_t len = strlen(path);
	if (!len || path[len - 1] == '/')
		return pyhs_atomic_fail(f, len ? EISDIR : ENOENT);
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return pyhs_error_create(PYHS_ERROR_OS,
					 "cannot write %s '%s': it exists and is not a regular file",
					 what, path);
	if (!(f->dir = dir_of(path)))
		return &pyhs_enomem;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
			((uint64_t)getpid() << 40);
	for (int attempt = 0; attempt < 100; attempt++) {
		seed = seed * UINT64_C(6364136223846793005) +
		       UINT64_C(1442695040888963407);
		if (asprintf(&f->tmp, "%s/.%.200s.%08" PRIx32 ".tmp", f->dir, base,
			     (uint32_t)(seed >> 32)) < 0) {
			f->tmp = NULL;
			pyhs_atomic_abort(f);
			return &pyhs_enomem;
		}
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (f->fd >= 0)
			return NULL;
		int e = errno;
		free(f->tmp);
		f->tmp = NULL;
		if (e != EEXIST) {
			pyhs_atomic_abort(f);
			return pyhs_atomic_fail(f, e);
		}
	}
	pyhs_atomic_abort(f);
	return pyhs_atomic_fail(f, EEXIST);
}

struct pyhs_error *pyhs_atomic_commit(struct pyhs_atomic_file *f)
{
	struct pyhs_error *err = NULL;
	if (fsync(f->fd) != 0) {
		err = pyhs_atomic_fail(f, errno);
		pyhs_atomic_abort(f);
		return err;
	}
	int fd = f->fd;
	f->fd = -1;
	if (close(fd) != 0 || rename(f->tmp, f->path) != 0) {
		err = pyhs_atomic_fail(f, errno);
		pyhs_atomic_abort(f);
		return err;
	}
	free(f->tmp);
	f->tmp = NULL;
	/* The rename itself must reach the disk. */
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
			err = pyhs_atomic_fail(f, errno);
		close(dfd);
	}
	free(f->dir);
	f->dir = NULL;
	return err;
}

void pyhs_atomic_abort(struct pyhs_atomic_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp) {
		unlink(f->tmp);
		free(f->tmp);
		f->tmp = NULL;
	}
	free(f->dir);
	f->dir = NULL;
}
