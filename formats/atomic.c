/* Writing a file atomically: temporary file, fsync, rename, directory sync. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/format.h"
#include "atomic.h"
#include "formats.h"
#include "reader.h"

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

/* The part of a temporary file's name after the destination's: pid, start
 * time and a random word. */
#define TMP_MARK ".pyhs-"

/* Whether name (a directory entry) is a temporary file of ours whose
 * writer is gone. */
static bool stale_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] != '.' || n < 4 || strcmp(name + n - 4, ".tmp") != 0)
		return false;
	const char *mark = NULL;
	for (const char *p = strstr(name, TMP_MARK); p; p = strstr(p + 1, TMP_MARK))
		mark = p;
	if (!mark)
		return false;
	unsigned long long pid, start;
	unsigned rnd;
	int end = 0;
	if (sscanf(mark + strlen(TMP_MARK), "%llu-%llu-%8x.tmp%n", &pid, &start,
		   &rnd, &end) != 3 || mark[strlen(TMP_MARK) + (size_t)end] ||
	    pid == 0 || pid > INT32_MAX)
		return false;
	uint64_t now;
	return !pyhs_process_start_time((int)pid, &now) || now != start;
}

/* Removes this user's temporary files in f->dir that a writer killed
 * outright left behind. */
static void remove_stale(struct pyhs_atomic_file *f)
{
	DIR *d = opendir(f->dir);
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!stale_name(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    unlinkat(dfd, de->d_name, 0) != 0)
			continue;
		if (!f->stale++ &&
		    asprintf(&f->stale_example, "%s/%s", f->dir, de->d_name) < 0)
			f->stale_example = NULL;
	}
	closedir(d);
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
	const volatile sig_atomic_t *cancel = f->cancel;
	*f = (struct pyhs_atomic_file){ .fd = -1, .path = path, .what = what,
					.cancel = cancel };
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
	remove_stale(f);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	uint64_t start = 0;
	pyhs_process_start_time(getpid(), &start);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
			((uint64_t)getpid() << 40);
	for (int attempt = 0; attempt < 100; attempt++) {
		seed = seed * UINT64_C(6364136223846793005) +
		       UINT64_C(1442695040888963407);
		if (asprintf(&f->tmp, "%s/.%.200s" TMP_MARK "%d-%" PRIu64 "-%08" PRIx32 ".tmp",
			     f->dir, base, (int)getpid(), start,
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

struct pyhs_error *pyhs_atomic_check(const struct pyhs_atomic_file *f)
{
	if (f->cancel && *f->cancel)
		return pyhs_error_create(PYHS_ERROR_CANCELLED,
					 "the writing of %s '%s' was cancelled",
					 f->what, f->path);
	return NULL;
}

struct pyhs_error *pyhs_atomic_commit(struct pyhs_atomic_file *f)
{
	struct pyhs_error *err = pyhs_atomic_check(f);
	if (err || fsync(f->fd) != 0) {
		if (!err)
			err = pyhs_atomic_fail(f, errno);
		pyhs_atomic_abort(f);
		return err;
	}
	int fd = f->fd;
	f->fd = -1;
	/* The last moment to give up: after the rename the file is whole. */
	if (close(fd) != 0 || (err = pyhs_atomic_check(f)) ||
	    rename(f->tmp, f->path) != 0) {
		if (!err)
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

void pyhs_atomic_deinit(struct pyhs_atomic_file *f)
{
	pyhs_atomic_abort(f);
	free(f->stale_example);
	f->stale_example = NULL;
}

/* ---- outputs (formats.h) ---- */

struct pyhs_output {
	struct pyhs_atomic_file af;
	enum pyhs_output_kind kind;
	FILE *stream;
	int level;
	bool no_workers; /* pyhs_output_set_zstd_workers */
};

static const struct {
	const char *what;
	mode_t mode;
} output_kinds[] = {
	[PYHS_OUTPUT_SNAPSHOT] = { "snapshot", 0666 },
	[PYHS_OUTPUT_CORE] = { "core", 0600 },
	[PYHS_OUTPUT_EXPORT] = { "export", 0666 },
	[PYHS_OUTPUT_REPORT] = { "report", 0666 },
	[PYHS_OUTPUT_TABLE] = { "table", 0666 },
};

struct pyhs_error *pyhs_output_create(const char *path,
				      enum pyhs_output_kind kind,
				      const volatile sig_atomic_t *cancel,
				      struct pyhs_output **ret)
{
	struct pyhs_output *o = calloc(1, sizeof(*o));
	if (!o)
		return &pyhs_enomem;
	o->kind = kind;
	o->af.cancel = cancel;
	struct pyhs_error *err = pyhs_atomic_create(&o->af, path,
						    output_kinds[kind].what,
						    output_kinds[kind].mode);
	if (err) {
		pyhs_atomic_deinit(&o->af);
		free(o);
		return err;
	}
	*ret = o;
	return NULL;
}

const char *pyhs_output_temporary(const struct pyhs_output *o)
{
	return o->af.tmp;
}

size_t pyhs_output_stale(const struct pyhs_output *o, const char **example)
{
	if (example)
		*example = o->af.stale_example;
	return o->af.stale;
}

struct pyhs_error *pyhs_output_check_room(const struct pyhs_output *o,
					  uint64_t bytes)
{
	struct statvfs vfs;
	if (fstatvfs(o->af.fd, &vfs) != 0)
		return NULL; /* cannot tell: the write will */
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail >= bytes)
		return NULL;
	char need[32], have[32];
	return pyhs_error_create(PYHS_ERROR_OS,
				 "cannot write %s '%s': it may need about %s and the file system has %s free",
				 o->af.what, o->af.path,
				 pyhs_format_bytes(bytes, need, sizeof(need)),
				 pyhs_format_bytes(avail, have, sizeof(have)));
}

struct pyhs_error *pyhs_output_file(struct pyhs_output *o,
				    enum pyhs_output_kind kind,
				    struct pyhs_atomic_file **ret)
{
	if (!o || o->kind != kind)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "a %s is written to an output made for one",
					 kind == PYHS_OUTPUT_CORE ? "core" : "snapshot");
	*ret = &o->af;
	return NULL;
}

struct pyhs_error *pyhs_output_write_path(
	const char *path, enum pyhs_output_kind kind,
	struct pyhs_error *(*write)(const void *src, struct pyhs_output *out),
	const void *src)
{
	struct pyhs_output *out;
	struct pyhs_error *err = pyhs_output_create(path, kind, NULL, &out);
	if (err)
		return err;
	err = write(src, out);
	pyhs_output_destroy(out);
	return err;
}

FILE *pyhs_output_stream(struct pyhs_output *o)
{
	if (!o->stream && o->af.fd >= 0) {
		int fd = dup(o->af.fd);
		if (fd >= 0 && !(o->stream = fdopen(fd, "w"))) {
			int e = errno;
			close(fd);
			errno = e;
		}
	}
	return o->stream;
}

struct pyhs_error *pyhs_output_commit(struct pyhs_output *o)
{
	if (o->stream) {
		bool bad = ferror(o->stream);
		int e = errno;
		bool closed = fclose(o->stream) == 0;
		o->stream = NULL;
		if (bad || !closed) {
			struct pyhs_error *err = pyhs_atomic_fail(&o->af, bad ? (e ? e : EIO) : errno);
			pyhs_atomic_abort(&o->af);
			return err;
		}
	}
	return pyhs_atomic_commit(&o->af);
}

void pyhs_output_set_level(struct pyhs_output *o, int level)
{
	o->level = level;
}

int pyhs_output_level(const struct pyhs_output *o)
{
	return o->level;
}

void pyhs_output_set_zstd_workers(struct pyhs_output *o, bool workers)
{
	o->no_workers = !workers;
}

bool pyhs_output_zstd_workers(const struct pyhs_output *o)
{
	return !o->no_workers;
}

void pyhs_output_destroy(struct pyhs_output *o)
{
	if (!o)
		return;
	if (o->stream)
		fclose(o->stream);
	pyhs_atomic_deinit(&o->af);
	free(o);
}
