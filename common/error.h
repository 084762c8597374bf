/*
 * Errors returned by every pyheapsnap library: NULL means success. An error
 * carries its message whole, as it is printed, and what a caller may act
 * on as fields (the errno, the file, the address), so that no caller reads
 * them back out of the message.
 */
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
	int errnum;          /* PYHS_ERROR_OS: the errno, else 0 */
	char *path;          /* the file that an operation on failed, or NULL */
	const char *op;      /* with path: what failed ("open", "stat", ...) */
	uint64_t address;    /* the address in the target it is about, or 0 */
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
/* PYHS_ERROR_OS for operation op (a static string such as "open") on
 * path: "cannot OP 'PATH': <strerror(errnum)>", with path and op set. */
struct pyhs_error *pyhs_error_os_path(int errnum, const char *op,
				      const char *path);
/* Like pyhs_error_create, about an address in the target (address set). */
struct pyhs_error *pyhs_error_at(enum pyhs_error_code code, uint64_t address,
				 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* strerror(errnum) as messages word it ("no such file or directory", as
 * git words it), into buf; returns buf. */
const char *pyhs_strerror(int errnum, char *buf, size_t size);
/* Prefixes an existing error's message with more context; consumes err. */
struct pyhs_error *pyhs_error_wrap(struct pyhs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pyhs_error_destroy(struct pyhs_error *err);

/* Counts one warning in *count and, for the first, formats it into first
 * (size bytes): for results that carry "N warnings, the first: ...". */
void pyhs_warning_count(uint64_t *count, char *first, size_t size,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
