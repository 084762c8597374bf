/* Errors returned by every pyheapsnap library: NULL means success. */
#ifndef PYHS_ERROR_H
#define PYHS_ERROR_H

#include <stdarg.h>

enum pyhs_error_code {
	PYHS_ERROR_NOMEM = 1,     /* out of memory */
	PYHS_ERROR_OS,            /* a system call failed; errnum is set */
	PYHS_ERROR_INPUT,         /* input is unreadable, corrupt or truncated */
	PYHS_ERROR_UNSUPPORTED,   /* input is valid but not something we handle */
	PYHS_ERROR_NOT_FOUND,     /* an address, object or symbol does not exist */
	PYHS_ERROR_INVALID,       /* the caller passed a bad argument */
	PYHS_ERROR_FAULT,         /* an address in the target could not be read */
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

#endif
