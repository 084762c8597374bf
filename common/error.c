#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pyhs_error pyhs_enomem = {
	.code = PYHS_ERROR_NOMEM,
	.message = "out of memory",
};

static struct pyhs_error *error_vcreate(enum pyhs_error_code code, int errnum,
					const char *fmt, va_list ap)
{
	struct pyhs_error *err = malloc(sizeof(*err));
	if (!err)
		return &pyhs_enomem;
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0) {
		free(err);
		return &pyhs_enomem;
	}
	if (errnum) {
		char *full;
		char reason[128];
		pyhs_strerror(errnum, reason, sizeof(reason));
		if (asprintf(&full, "%s: %s", msg, reason) < 0) {
			free(msg);
			free(err);
			return &pyhs_enomem;
		}
		free(msg);
		msg = full;
	}
	err->code = code;
	err->errnum = errnum;
	err->path = NULL;
	err->op = NULL;
	err->address = 0;
	err->message = msg;
	return err;
}

const char *pyhs_strerror(int errnum, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(errnum));
	/* "no such file or directory", as git words it */
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

struct pyhs_error *pyhs_error_create(enum pyhs_error_code code,
				     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct pyhs_error *err = error_vcreate(code, 0, fmt, ap);
	va_end(ap);
	return err;
}

struct pyhs_error *pyhs_error_os(int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct pyhs_error *err = error_vcreate(PYHS_ERROR_OS, errnum, fmt, ap);
	va_end(ap);
	return err;
}

struct pyhs_error *pyhs_error_os_path(int errnum, const char *op,
				      const char *path)
{
	struct pyhs_error *err = pyhs_error_os(errnum, "cannot %s '%s'", op, path);
	if (err == &pyhs_enomem)
		return err;
	if (!(err->path = strdup(path))) {
		pyhs_error_destroy(err);
		return &pyhs_enomem;
	}
	err->op = op;
	return err;
}

struct pyhs_error *pyhs_error_at(enum pyhs_error_code code, uint64_t address,
				 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct pyhs_error *err = error_vcreate(code, 0, fmt, ap);
	va_end(ap);
	if (err != &pyhs_enomem)
		err->address = address;
	return err;
}

struct pyhs_error *pyhs_error_wrap(struct pyhs_error *err, const char *fmt, ...)
{
	if (!err || err == &pyhs_enomem)
		return err;
	va_list ap;
	va_start(ap, fmt);
	char *prefix;
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return err;
	char *full;
	if (asprintf(&full, "%s: %s", prefix, err->message) >= 0) {
		free(err->message);
		err->message = full;
	}
	free(prefix);
	return err;
}

void pyhs_error_destroy(struct pyhs_error *err)
{
	if (!err || err == &pyhs_enomem)
		return;
	free(err->path);
	free(err->message);
	free(err);
}

void pyhs_warning_count(uint64_t *count, char *first, size_t size,
			const char *fmt, ...)
{
	if ((*count)++ || !size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(first, size, fmt, ap);
	va_end(ap);
}
