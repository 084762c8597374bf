/* Debug files from the debuginfod servers $DEBUGINFOD_URLS names, through
 * libdebuginfod: its own cache ($DEBUGINFOD_CACHE_PATH, else
 * $XDG_CACHE_HOME/debuginfod_client, else ~/.cache/debuginfod_client) and
 * its own limits ($DEBUGINFOD_TIMEOUT and the rest), with its progress and
 * verbose messages off: a library does not print. */
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debuginfod.h"

bool pyhs_debuginfod_configured(void)
{
	const char *urls = getenv(DEBUGINFOD_URLS_ENV_VAR);
	return urls && urls[strspn(urls, " \t\n")] != '\0';
}

/* Set so that $DEBUGINFOD_PROGRESS does not install the library's own,
 * which writes to stderr; 0 lets the transfer go on. */
static int quiet_progress(debuginfod_client *c, long done, long total)
{
	(void)c;
	(void)done;
	(void)total;
	return 0;
}

struct pyhs_error *pyhs_debuginfod_find(const uint8_t *build_id, size_t len,
					char **ret_path)
{
	if (!pyhs_debuginfod_configured())
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					 "no debuginfod servers ($%s is not set)",
					 DEBUGINFOD_URLS_ENV_VAR);
	if (!len || len > 64)
		return pyhs_error_create(PYHS_ERROR_INVALID, "no build-id to ask for");
	debuginfod_client *c = debuginfod_begin();
	if (!c)
		return pyhs_error_create(PYHS_ERROR_OS, "debuginfod: cannot start a client");
	debuginfod_set_progressfn(c, quiet_progress);
	debuginfod_set_verbose_fd(c, -1);
	char *path = NULL;
	int fd = debuginfod_find_debuginfo(c, build_id, (int)len, &path);
	debuginfod_end(c);
	if (fd < 0) {
		free(path);
		if (fd == -ENOENT)
			return pyhs_error_create(PYHS_ERROR_NOT_FOUND,
						 "debuginfod: no server has it");
		if (fd == -ENOMEM)
			return &pyhs_enomem;
		return pyhs_error_os(-fd, "debuginfod");
	}
	close(fd); /* the file is mapped by its path, as one on disk is */
	if (!path)
		return pyhs_error_create(PYHS_ERROR_OS, "debuginfod: no path for the file");
	*ret_path = path;
	return NULL;
}
