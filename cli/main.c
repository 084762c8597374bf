/* pyheapsnap: the verb table and the top-level options. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

static const struct verb verbs[] = {
	{ "summary", verb_summary, "what a heap holds: objects, sizes, generations, largest types" },
	{ "export", verb_export, "the heap for other tools: JSON lines, CSV, V8 heap snapshot, flame graphs" },
	{ "snapshot", verb_snapshot, "save a heap to a compact snapshot file that every verb reads" },
	{ "gcore", verb_gcore, "write an ELF core of a live process, stopped only while it is copied" },
	{ "suspects", verb_suspects, "leak suspects: what retains most, where it accumulates, what grew" },
	{ "top", verb_top, "objects or types ranked by retained or shallow size" },
	{ "path", verb_path, "how an object is kept alive: the path from a root to it" },
	{ "show", verb_show, "one object: sizes, refcount, references both ways, dominator, path" },
	{ "cycles", verb_cycles, "reference cycles, largest first, or the garbage ones" },
	{ "diff", verb_diff, "what grew between two heaps, and who holds it; a gate for CI" },
	{ "memory", verb_memory, "where the memory goes: pymalloc, allocation sites, mapped regions" },
	{ "browse", verb_browse, "the dominator tree in the terminal, like ncdu: descend, sort, find, path" },
	{ "report", verb_report, "one self-contained HTML page: summary, retainers, dominator tree, types" },
	{ "stacks", verb_stacks, "the Python stack of every thread, with local variables" },
	{ "tasks", verb_tasks, "asyncio tasks: what each waits on, who awaits it, what it holds" },
	{ "demo", verb_demo, "run a bundled Python program, take a core of it and summarise it" },
};

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: pyheapsnap VERB [OPTIONS] INPUT\n"
		"\n"
		"Takes a snapshot of a CPython process's object heap from an ELF core file\n"
		"(plain or zstd-compressed) and answers questions about it. CPython 3.8 to\n"
		"3.15, release and debug builds; a newer version is read by its own\n"
		"_Py_DebugOffsets over the 3.15 layout, with a warning.\n"
		"\n"
		"Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -h, --help     show this help (pyheapsnap VERB --help for a verb's)\n"
		"  -V, --version  show the version\n"
		"\n"
		"Exit status: 0 ok, 1 a gate tripped, 2 usage error, 3 unreadable or\n"
		"unsupported input, 128+N interrupted by signal N. See pyheapsnap(1).\n");
}

/* libdebuginfod's limits, unless the user set them: a server that has not
 * answered (or sends under 100 KB a second) for 5 seconds is given up,
 * without the library's two further tries. */
static void debuginfod_defaults(void)
{
	setenv("DEBUGINFOD_TIMEOUT", "5", 0);
	setenv("DEBUGINFOD_RETRY_LIMIT", "0", 0);
}

/*
 * The heap model lives in a few large arrays, one per object column, that
 * grow by doubling while the heap is walked. glibc's malloc raises its mmap
 * threshold to the size of the largest block freed (up to 32 MiB), after
 * which such arrays go to the brk heap: every growth copies the array and
 * leaves the old copy resident behind it (40 MB, a fifth of the peak, on a
 * 2-million-object heap). A fixed threshold keeps each large array in its
 * own mapping: growing it moves pages (mremap) instead of copying them, and
 * freeing it gives its memory back at once.
 */
static void malloc_defaults(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

int main(int argc, char **argv)
{
	malloc_defaults();
	debuginfod_defaults();
	signals_ignore_xfsz();
	if (argc < 2)
		return usage_error(NULL, "no verb given");
	const char *v = argv[1];
	if (strcmp(v, "-h") == 0 || strcmp(v, "--help") == 0 ||
	    strcmp(v, "help") == 0) {
		print_help(stdout);
		return EXIT_OK;
	}
	if (strcmp(v, "-V") == 0 || strcmp(v, "--version") == 0) {
		printf("pyheapsnap %s\n", PYHS_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(v, verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	if (v[0] == '-')
		return usage_error(NULL, "unknown option '%s'", v);
	return usage_error(NULL, "unknown verb '%s'", v);
}
