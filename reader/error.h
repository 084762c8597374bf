/* Errors returned by every pyheapsnap library: NULL means success. */
#ifndef PYHS_ERROR_H
#define PYHS_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum pyhs_error_code {
	PYHS_ERROR_NOMEM = 1,     /* out of memory */
	PYHS_ERROR_OS,            /* a system call failed; errnum is set */
	PYHS_ERROR_INPUT,         /* input is unreadable, corrupt or truncated */
	PYHS_ERROR_UNSUPPORTED,   /* input is valid but not something we handle */
	PYHS_ERROR_NOT_FOUND,     /* an address, object or symbol does not exist */
	PYHS_ERROR_INVALID,       /* the caller passed a bad argument */
	PYHS_ERROR_FAULT,         /* an address in the target could not be read */
	PYHS_ERROR_CANCELLED,     /* the caller's cancel flag was raised; what was
				   * begun is undone (threads resumed, temporary
				   * files removed) */
};

struct pyhs_error {
	enum pyhs_error_code code;
	int errnum;
	char *message;
};

/* The static out-of-memory error: never freed. */
extern struct pyhs_error pyhs_enomem;

struct pyhs_error *pyhs_error_create(enum pyhs_error_code code,
				     const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like pyhs_error_create, with ": <strerror(errnum)>" appended. */
struct pyhs_error *pyhs_error_os(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefixes an existing error's message with more context; consumes err. */
struct pyhs_error *pyhs_error_wrap(struct pyhs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pyhs_error_destroy(struct pyhs_error *err);

/* Counts one warning in *count and, for the first, formats it into first
 * (size bytes): for results that carry "N warnings, the first: ...". */
void pyhs_warning_count(uint64_t *count, char *first, size_t size,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* n bytes as people read them, for messages and reports: "512 B",
 * "1.5 KiB", ..., "3.0 TiB". Writes buf; returns it. */
const char *pyhs_format_bytes(uint64_t n, char *buf, size_t size);

#endif
