#include "common/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

int pyhs_temp_open(const char *name, const char **ret_dir)
{
	const char *env = getenv("TMPDIR");
	const char *dirs[] = { env && env[0] ? env : NULL, "/var/tmp", "/tmp" };
	int saved = ENOENT;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/pyheapsnap-%s-XXXXXX", dirs[i], name);
			fd = mkostemp(path, O_CLOEXEC);
			if (fd >= 0)
				unlink(path);
		}
		if (fd >= 0) {
			*ret_dir = dirs[i];
			return fd;
		}
		saved = errno;
	}
	errno = saved;
	return -1;
}

bool pyhs_temp_in_memory(int fd)
{
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		return false;
	return st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC;
}
