/*
 * Benchmark of heapmodel/graph.c on a generated heap-like graph:
 *
 *     bench_graph [--nodes N] [--shuffle] [--seed S]
 *
 * The graph (10 million nodes by default, about 3 edges each): a pool of
 * shared objects (types, interned strings, small ints) that reference one
 * another a little; a tree of containers of five under a module-like root;
 * every object pointing at one or two pool objects; back references to
 * grandparents and the tree root (cycles), cross references between
 * subtrees, weak references, and a detached part no root reaches. Nodes are
 * numbered breadth-first, as a heap walk would find them, or in random
 * order with --shuffle (no locality at all).
 *
 * Prints the wall (and CPU) time of dominators, retained sizes, SCC and a
 * shortest path, the peak RSS of the process (getrusage and VmHWM, the
 * larger), and for each phase its peak RSS above what was resident when it
 * started, per node (the phase's auxiliary memory plus its result array,
 * as far as it was touched), measured by resetting the kernel's high-water
 * mark through /proc/self/clear_refs. Numbers, not assertions: read them
 * with the machine's noise in mind (other processes share its two cores).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/error.h"
#include "graph.h"
#include "heapmodel.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Per-node random stream, so that counting and filling agree. */
struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	r->s = mix(r->s);
	return r->s;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return next(r) % n;
}

struct shape {
	uint64_t n, pool, tree_root, detached;
	uint64_t seed;
};

#define FANOUT 5
#define MAX_EDGES 16

/* The edges of logical node v: targets and labels; returns how many. */
static unsigned edges_of(const struct shape *s, uint64_t v, uint64_t *dst,
			 uint32_t *label)
{
	struct rng r = { s->seed ^ (v * UINT64_C(0x100000001b3)) };
	unsigned k = 0;
	const uint64_t first_child_base = s->tree_root + 1;
	uint32_t lab = PYHS_LABEL(PYHS_LABEL_INDEX, 0);
	if (v < s->pool) {
		/* Pool objects: a few references among themselves. */
		unsigned deg = (unsigned)below(&r, 4);
		for (unsigned i = 0; i < deg; i++) {
			dst[k] = below(&r, s->pool);
			label[k++] = PYHS_LABEL(PYHS_LABEL_ATTR, i);
		}
		return k;
	}
	/* Tree children: node c's parent is tree_root + (c - tree_root - 1)
	 * / FANOUT, so v's children are a consecutive run. */
	uint64_t lo = first_child_base + (v - s->tree_root) * FANOUT;
	bool detached = v >= s->n - s->detached;
	for (uint64_t c = lo; c < lo + FANOUT && c < s->n - s->detached; c++) {
		if (!detached) {
			dst[k] = c;
			label[k++] = PYHS_LABEL(PYHS_LABEL_INDEX, c - lo);
		}
	}
	/* Its type and one or two more shared objects. */
	dst[k] = below(&r, 1000);
	label[k++] = PYHS_LABEL(PYHS_LABEL_FIELD, 1);
	uint64_t extra = below(&r, 100);
	if (extra < 60) {
		dst[k] = below(&r, s->pool);
		label[k++] = PYHS_LABEL(PYHS_LABEL_DICT_VALUE, 7);
	}
	if (extra < 15) {
		dst[k] = below(&r, s->pool);
		label[k++] = PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0);
	}
	uint64_t what = below(&r, 1000);
	uint64_t parent = v > s->tree_root ?
		s->tree_root + (v - s->tree_root - 1) / FANOUT : v;
	if (detached) {
		/* A cycle among detached objects. */
		dst[k] = s->n - s->detached + below(&r, s->detached);
		label[k++] = lab;
	} else if (what < 50 && parent > s->tree_root) {
		/* Back to the grandparent: a cycle. */
		dst[k] = s->tree_root + (parent - s->tree_root - 1) / FANOUT;
		label[k++] = PYHS_LABEL(PYHS_LABEL_ATTR, 3);
	} else if (what < 60) {
		/* Back to the module. */
		dst[k] = s->tree_root;
		label[k++] = PYHS_LABEL(PYHS_LABEL_ATTR, 4);
	} else if (what < 80) {
		/* Shared between subtrees. */
		dst[k] = s->tree_root + below(&r, s->n - s->detached - s->tree_root);
		label[k++] = PYHS_LABEL(PYHS_LABEL_DICT_VALUE, 9);
	} else if (what < 90) {
		dst[k] = below(&r, s->n);
		label[k++] = PYHS_LABEL(PYHS_LABEL_WEAK, 0);
	}
	return k;
}

struct bench_graph {
	struct pyhs_graph g;
	uint32_t *start;
	uint32_t *dst, *label;
	uint64_t *size;
	uint32_t *roots;
	uint64_t nroots;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "bench_graph: out of memory\n");
		exit(1);
	}
	return p;
}

static void generate(struct bench_graph *b, uint64_t n, bool shuffle,
		     uint64_t seed)
{
	struct shape s = {
		.n = n, .pool = n / 100, .seed = seed,
	};
	s.tree_root = s.pool;
	s.detached = n / 50;
	/* perm: logical node -> number */
	uint32_t *perm = NULL;
	if (shuffle) {
		perm = xmalloc(n * sizeof(uint32_t));
		for (uint64_t i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		struct rng r = { seed ^ 0xabcdef };
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = below(&r, i + 1);
			uint32_t x = perm[i];
			perm[i] = perm[j];
			perm[j] = x;
		}
	}
#define NUM(v) (perm ? perm[v] : (uint32_t)(v))
	uint64_t dst[MAX_EDGES];
	uint32_t lab[MAX_EDGES];
	b->start = calloc(n + 1, sizeof(uint32_t));
	if (!b->start)
		exit(1);
	for (uint64_t v = 0; v < n; v++)
		b->start[NUM(v) + 1] = edges_of(&s, v, dst, lab);
	for (uint64_t i = 1; i <= n; i++)
		b->start[i] += b->start[i - 1];
	uint64_t m = b->start[n];
	b->dst = xmalloc(m * sizeof(uint32_t));
	b->label = xmalloc(m * sizeof(uint32_t));
	for (uint64_t v = 0; v < n; v++) {
		unsigned k = edges_of(&s, v, dst, lab);
		uint64_t at = b->start[NUM(v)];
		for (unsigned i = 0; i < k; i++) {
			b->dst[at + i] = NUM(dst[i]);
			b->label[at + i] = lab[i];
		}
	}
	b->size = xmalloc(n * sizeof(uint64_t));
	for (uint64_t v = 0; v < n; v++)
		b->size[NUM(v)] = 16 + mix(v ^ seed) % 200;
	/* Roots: the module, a thousand pool objects, a hundred "frames". */
	b->nroots = 1 + 1000 + 100;
	b->roots = xmalloc(b->nroots * sizeof(uint32_t));
	b->roots[0] = NUM(s.tree_root);
	for (uint64_t i = 0; i < 1000; i++)
		b->roots[1 + i] = NUM(i * (s.pool / 1000));
	for (uint64_t i = 0; i < 100; i++)
		b->roots[1001 + i] = NUM(s.tree_root +
					 mix(i + seed) % (n - s.detached - s.tree_root));
#undef NUM
	free(perm);
	b->g.n = n;
	b->g.start = b->start;
	b->g.dst = b->dst;
	b->g.label = b->label;
}

/* Resident and peak resident KiB from /proc/self/status. */
static bool status_kib(const char *key, uint64_t *ret)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return false;
	char line[256];
	size_t len = strlen(key);
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':') {
			*ret = strtoull(line + len + 1, NULL, 10);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f)
		return false;
	bool ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

struct phase {
	double t0, cpu0;
	uint64_t rss0;
	bool peak_ok;
};

/* The process's peak RSS in KiB: resetting the high-water mark for each
 * phase also resets what getrusage reports, so the peaks seen before each
 * reset are kept here. */
static uint64_t process_peak_kib;

static void note_peak(void)
{
	uint64_t hwm;
	struct rusage ru;
	if (status_kib("VmHWM", &hwm) && hwm > process_peak_kib)
		process_peak_kib = hwm;
	if (getrusage(RUSAGE_SELF, &ru) == 0 &&
	    (uint64_t)ru.ru_maxrss > process_peak_kib)
		process_peak_kib = (uint64_t)ru.ru_maxrss;
}

static void phase_start(struct phase *p)
{
	note_peak();
	p->peak_ok = reset_peak();
	if (!status_kib("VmRSS", &p->rss0))
		p->rss0 = 0;
	p->t0 = now();
	p->cpu0 = cpu_now();
}

static void phase_end(struct phase *p, const char *name, uint64_t n)
{
	double t = now() - p->t0, cpu = cpu_now() - p->cpu0;
	uint64_t hwm = 0;
	if (p->peak_ok && status_kib("VmHWM", &hwm) && hwm >= p->rss0)
		printf("%-16s %7.3f s (cpu %7.3f s)   peak +%7.1f MiB = %5.1f "
		       "bytes/node\n", name, t, cpu,
		       (double)(hwm - p->rss0) / 1024,
		       (double)(hwm - p->rss0) * 1024 / (double)n);
	else
		printf("%-16s %7.3f s (cpu %7.3f s)   (peak per phase not "
		       "measurable here)\n", name, t, cpu);
	fflush(stdout);
}

static void check(struct pyhs_error *err, const char *what)
{
	if (err) {
		fprintf(stderr, "bench_graph: %s: %s\n", what, err->message);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t n = 10 * 1000 * 1000, seed = 1;
	bool shuffle = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--shuffle")) {
			shuffle = true;
		} else {
			fprintf(stderr, "usage: bench_graph [--nodes N] "
				"[--shuffle] [--seed S]\n");
			return 2;
		}
	}
	if (n < 10000 || n > PYHS_GRAPH_MAX_NODES) {
		fprintf(stderr, "bench_graph: --nodes must be 10000 or more\n");
		return 2;
	}

	struct bench_graph b;
	double t0 = now();
	generate(&b, n, shuffle, seed);
	uint64_t m = b.start[n], weak = 0;
	for (uint64_t e = 0; e < m; e++)
		weak += PYHS_LABEL_KIND(b.label[e]) == PYHS_LABEL_WEAK;
	printf("graph: %" PRIu64 " nodes, %" PRIu64 " edges (%.2f per node, %"
	       PRIu64 " weak), %s numbering, %" PRIu64 " roots; "
	       "generated in %.2f s\n", n, m, (double)m / (double)n, weak,
	       shuffle ? "random" : "breadth-first", b.nroots, now() - t0);
	printf("graph arrays: %.1f bytes/node (start, dst, label, size)\n",
	       (double)((n + 1) * 8 + m * 8 + n * 8) / (double)n);

	struct phase p;
	uint32_t *idom;
	phase_start(&p);
	check(pyhs_dominators(&b.g, b.roots, b.nroots, &idom), "dominators");
	phase_end(&p, "dominators", n);

	uint64_t *retained, total;
	phase_start(&p);
	check(pyhs_retained_sizes(&b.g, idom, b.size, &retained, &total),
	      "retained sizes");
	phase_end(&p, "retained sizes", n);

	uint64_t reachable = 0, under_root = 0, all = 0;
	uint32_t biggest = 0;
	for (uint64_t v = 0; v < n; v++) {
		all += b.size[v];
		if (idom[v] == PYHS_GRAPH_UNREACHABLE)
			continue;
		reachable++;
		if (idom[v] == PYHS_GRAPH_ROOT)
			under_root++;
		else if (retained[v] > retained[biggest] ||
			 idom[biggest] == PYHS_GRAPH_UNREACHABLE)
			biggest = (uint32_t)v;
	}
	printf("  reachable %" PRIu64 " nodes, %" PRIu64 " of %" PRIu64
	       " bytes; %" PRIu64 " directly under the roots; largest "
	       "retained below them: %" PRIu64 " bytes\n", reachable, total,
	       all, under_root, retained[biggest]);
	free(retained);
	free(idom);

	uint32_t *comp, ncomp;
	phase_start(&p);
	check(pyhs_scc(&b.g, &comp, &ncomp), "scc");
	phase_end(&p, "scc", n);
	uint32_t *count = calloc(ncomp + 1, sizeof(uint32_t));
	if (!count)
		return 1;
	uint64_t cyclic = 0, largest = 0;
	for (uint64_t v = 0; v < n; v++)
		count[comp[v]]++;
	for (uint32_t c = 0; c < ncomp; c++) {
		if (count[c] > 1)
			cyclic++;
		if (count[c] > largest)
			largest = count[c];
	}
	printf("  %" PRIu32 " components, %" PRIu64 " with a cycle, the "
	       "largest of %" PRIu64 " nodes\n", ncomp, cyclic, largest);
	free(count);
	free(comp);

	uint32_t root;
	uint64_t *path, len;
	phase_start(&p);
	struct pyhs_error *err = pyhs_shortest_path(&b.g, b.roots, b.nroots,
						    (uint32_t)(n - n / 50 - 1),
						    &root, &path, &len);
	phase_end(&p, "shortest path", n);
	if (err) {
		printf("  no path: %s\n", err->message);
		pyhs_error_destroy(err);
	} else {
		printf("  %" PRIu64 " edges long\n", len);
		free(path);
	}

	note_peak();
	printf("peak RSS of the process: %.1f MiB (%.1f bytes/node)\n",
	       (double)process_peak_kib / 1024,
	       (double)process_peak_kib * 1024 / (double)n);
	free(b.start);
	free(b.dst);
	free(b.label);
	free(b.size);
	free(b.roots);
	return 0;
}
