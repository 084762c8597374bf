#include "error.h"

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
		snprintf(reason, sizeof(reason), "%s", strerror(errnum));
		/* "no such file or directory", as git words it */
		if (reason[0] >= 'A' && reason[0] <= 'Z' &&
		    !(reason[1] >= 'A' && reason[1] <= 'Z'))
			reason[0] = (char)(reason[0] - 'A' + 'a');
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
	err->message = msg;
	return err;
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
	free(err->message);
	free(err);
}

const char *pyhs_format_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
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
