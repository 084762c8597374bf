/* What the verbs share: messages, input options, opening an input. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pyheapsnap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pyheapsnap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (verb)
		fprintf(stderr, "Try 'pyheapsnap %s --help' for more information.\n", verb);
	else
		fprintf(stderr, "Try 'pyheapsnap --help' for more information.\n");
	return EXIT_USAGE;
}

int report_error(struct pyhs_error *err)
{
	int code;
	switch (err->code) {
	case PYHS_ERROR_INVALID:
		code = EXIT_USAGE;
		break;
	default:
		code = EXIT_INPUT;
		break;
	}
	log_error("%s", err->message);
	pyhs_error_destroy(err);
	return code;
}

static bool parse_count(const char *arg, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || v == 0 || arg[0] == '-')
		return false;
	*ret = v;
	return true;
}

int input_option(struct input_options *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SYSROOT:
		o->open.sysroot = arg;
		return 1;
	case OPT_EXE:
		o->open.exe = arg;
		return 1;
	case OPT_DEBUG_DIR:
		o->open.debug_dir = arg;
		return 1;
	case OPT_NO_DWARF:
		o->open.no_dwarf = true;
		return 1;
	case OPT_JSON:
		o->json = true;
		return 1;
	case OPT_MAX_OBJECTS:
		if (!parse_count(arg, &o->heap.max_objects)) {
			log_error("--max-objects takes a positive whole number, not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_MAX_EDGES:
		if (!parse_count(arg, &o->heap.max_edges)) {
			log_error("--max-edges takes a positive whole number, not '%s'", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int input_open(const char *path, const struct input_options *o,
	       struct pyhs_heap **ret)
{
	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_open_core(path, &o->open, &t);
	if (err) {
		/* Name the input in messages about the input itself. */
		if (err->code == PYHS_ERROR_OS && strstr(err->message, path)) {
			char *m = err->message;
			if (strncmp(m, "cannot open '", 13) == 0) {
				log_error("cannot open core '%s'%s", path,
					  m + 13 + strlen(path) + 1);
				pyhs_error_destroy(err);
				return EXIT_INPUT;
			}
		}
		return report_error(err);
	}
	struct pyhs_heap *h;
	err = pyhs_heap_build(t, path, &o->heap, &h);
	pyhs_target_destroy(t);
	if (err)
		return report_error(pyhs_error_wrap(err, "cannot read the heap in '%s'", path));
	*ret = h;
	return 0;
}

const char *fmt_bytes(unsigned long long n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

const char *fmt_count(unsigned long long n, char *buf, size_t size)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}
