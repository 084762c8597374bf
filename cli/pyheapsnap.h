/* The command line: one file per verb, and what they share. */
#ifndef PYHS_CLI_H
#define PYHS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "formats.h"
#include "heapmodel.h"
#include "reader.h"

enum {
	EXIT_OK = 0,
	EXIT_GATE = 1,
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,
};

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* one line */
};

/* Options every verb that reads an input takes. */
struct input_options {
	struct pyhs_open_options open;
	struct pyhs_heap_options heap;
	bool json;
};

/* Long options shared by input-reading verbs; see input.c. */
#define INPUT_LONG_OPTIONS                                        \
	{ "sysroot", required_argument, NULL, OPT_SYSROOT },      \
	{ "exe", required_argument, NULL, OPT_EXE },              \
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },  \
	{ "no-dwarf", no_argument, NULL, OPT_NO_DWARF },          \
	{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS }, \
	{ "max-edges", required_argument, NULL, OPT_MAX_EDGES },  \
	{ "json", no_argument, NULL, OPT_JSON }

enum {
	OPT_SYSROOT = 0x100,
	OPT_EXE,
	OPT_DEBUG_DIR,
	OPT_NO_DWARF,
	OPT_MAX_OBJECTS,
	OPT_MAX_EDGES,
	OPT_JSON,
	OPT_FORMAT,
	OPT_VERB_FIRST, /* verbs number their own options from here */
};

#define INPUT_OPTIONS_HELP                                                   \
	"      --json             print JSON instead of text\n"              \
	"      --exe PATH         the executable, if it moved since the core\n" \
	"      --sysroot DIR      look for the core's files under DIR\n"     \
	"      --debug-dir DIR    separate debug info (default /usr/lib/debug;\n" \
	"                         an empty or missing DIR uses none)\n"       \
	"      --no-dwarf         use built-in layouts even where DWARF exists\n" \
	"      --max-objects N    stop after N objects (default 200000000)\n" \
	"      --max-edges N      stop after N references (default 2000000000)\n"

/* Handles one shared option; returns 1 if it was one, 0 if not, -1 after
 * printing a usage error. */
int input_option(struct input_options *o, int opt, const char *arg);

/* Opens the input and builds the heap; prints the error and returns the
 * exit code (EXIT_INPUT) on failure, 0 on success. */
int input_open(const char *path, const struct input_options *o,
	       struct pyhs_heap **ret);

/* Messages, git style: "pyheapsnap: <message>". */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, a pointer to --help, and EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An error from a library: worded, and the exit code it deserves. */
int report_error(struct pyhs_error *err);

/* Human-readable byte counts: "12.3 MiB". */
const char *fmt_bytes(unsigned long long n, char *buf, size_t size);
/* Thousands separators: "1,234,567". */
const char *fmt_count(unsigned long long n, char *buf, size_t size);

int verb_summary(int argc, char **argv);
int verb_export(int argc, char **argv);
int verb_demo(int argc, char **argv);

/* Shared by summary and demo. */
int print_summary(struct pyhs_heap *h, bool json, FILE *out);

#endif
