/*
 * Tests of the views of a heap on a small heap made by hand (built with
 * pyhs_heap_assemble): the dominator tree to walk (children largest first,
 * retained counts, holder names, merged names), the folded flame graph (its
 * stacks and weights, to the byte), the V8 heap snapshot's counts and the
 * CSV tables' rows; and, on a heap of its own, values too wide for 4 bytes.
 *
 *   0 dict   100 B  the root "sys.modules"
 *   1 list    50 B  0[0] -> 1
 *   2 str     10 B  1[0] -> 2 ("hello")
 *   3 int     20 B  1[1] -> 3 and 4[0] -> 3: dominated by 0 alone
 *   4 tuple   30 B  0[1] -> 4
 *   5 list     7 B  5[0] -> 5: a garbage self-loop no root reaches
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "formats.h"

static struct pyhs_heap *heap;
static struct pyhs_analysis *analysis;
static struct pyhs_domtree *tree;

static void *copy_of(const void *src, size_t n)
{
	void *p = malloc(n);
	return p ? memcpy(p, src, n) : NULL;
}

static int setup(void)
{
	static uint64_t addr[] = { 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000 };
	static uint32_t type[] = { 0, 1, 2, 3, 4, 1 };
	static uint64_t size[] = { 100, 50, 10, 20, 30, 7 };
	static uint64_t refcnt[] = { 1, 1, 1, 2, 1, 1 };
	static uint8_t gen[] = { 2, 2, PYHS_GEN_UNTRACKED, PYHS_GEN_UNTRACKED, 2, 0 };
	static uint8_t flags[6];
	static uint32_t value_off[] = { UINT32_MAX, UINT32_MAX, 0, UINT32_MAX, UINT32_MAX, UINT32_MAX };
	static uint32_t edge_start[] = { 0, 2, 4, 4, 4, 5, 6 };
	static uint32_t edge_dst[] = { 1, 4, 2, 3, 3, 5 };
	static uint32_t edge_label[] = {
		PYHS_LABEL(PYHS_LABEL_INDEX, 0), PYHS_LABEL(PYHS_LABEL_INDEX, 1),
		PYHS_LABEL(PYHS_LABEL_INDEX, 0), PYHS_LABEL(PYHS_LABEL_INDEX, 1),
		PYHS_LABEL(PYHS_LABEL_INDEX, 0), PYHS_LABEL(PYHS_LABEL_INDEX, 0),
	};
	static const char *const type_names[] = { "dict", "list", "str", "int", "tuple" };
	static const uint8_t type_kinds[5];
	static const char *const strings[] = { "" };
	static const uint32_t root_obj[] = { 0 };
	static const struct pyhs_root_info roots[] = {
		{ PYHS_ROOT_SYS_MODULES, PYHS_NO_THREAD, PYHS_NO_FRAME, PYHS_NO_STRING, true },
	};
	struct pyhs_heap_parts p = {
		.columns = {
			.nobjects = 6, .nedges = 6, .value_text_size = 6,
		},
		.meta = { .source = "core", .input = "test", .executable = "", .cmdline = "",
			  .version = "3.11", .library = "", .layout = "builtin", .debug_file = "" },
		.ntypes = 5, .type_names = type_names, .type_kinds = type_kinds,
		.nstrings = 1, .strings = strings,
		.nroots = 1, .root_obj = root_obj, .roots = roots,
	};
	/* The heap takes the columns over: give it copies. */
	if (!(p.columns.addr = copy_of(addr, sizeof(addr))) ||
	    !(p.columns.type = copy_of(type, sizeof(type))) ||
	    !(p.columns.size = copy_of(size, sizeof(size))) ||
	    !(p.columns.refcnt = copy_of(refcnt, sizeof(refcnt))) ||
	    !(p.columns.gen = copy_of(gen, sizeof(gen))) ||
	    !(p.columns.flags = copy_of(flags, sizeof(flags))) ||
	    !(p.columns.value_off = copy_of(value_off, sizeof(value_off))) ||
	    !(p.columns.edge_start = copy_of(edge_start, sizeof(edge_start))) ||
	    !(p.columns.edge_dst = copy_of(edge_dst, sizeof(edge_dst))) ||
	    !(p.columns.edge_label = copy_of(edge_label, sizeof(edge_label))) ||
	    !(p.columns.value_text = copy_of("hello", 6)))
		return -1;
	if (pyhs_heap_assemble(&p, &heap) || pyhs_analysis_create(heap, &analysis) ||
	    pyhs_domtree_create(analysis, &tree))
		return -1;
	return 0;
}

static int teardown(void)
{
	pyhs_domtree_destroy(tree);
	pyhs_analysis_destroy(analysis);
	pyhs_heap_destroy(heap);
	return 0;
}

static void test_tree(void)
{
	const uint32_t *c;
	uint64_t top = pyhs_domtree_top(tree);
	CU_ASSERT_EQUAL(top, 6);
	CU_ASSERT_EQUAL(pyhs_domtree_children(tree, top, &c), 1);
	CU_ASSERT_EQUAL(c[0], 0);
	CU_ASSERT_EQUAL(pyhs_domtree_retained(tree, top), 210);
	CU_ASSERT_EQUAL(pyhs_domtree_count(tree, top), 5);
	/* Largest retained first: the list (60), the tuple (30), the int (20). */
	CU_ASSERT_EQUAL_FATAL(pyhs_domtree_children(tree, 0, &c), 3);
	CU_ASSERT_EQUAL(c[0], 1);
	CU_ASSERT_EQUAL(c[1], 4);
	CU_ASSERT_EQUAL(c[2], 3);
	CU_ASSERT_EQUAL(pyhs_domtree_retained(tree, 1), 60);
	CU_ASSERT_EQUAL(pyhs_domtree_count(tree, 1), 2);
	CU_ASSERT_EQUAL(pyhs_domtree_count(tree, 0), 5);
	CU_ASSERT_EQUAL(pyhs_domtree_parent(tree, 0), top);
	CU_ASSERT_EQUAL(pyhs_domtree_parent(tree, 2), 1);
	CU_ASSERT_EQUAL(pyhs_domtree_parent(tree, 5), UINT64_MAX);
	CU_ASSERT_EQUAL(pyhs_domtree_count(tree, 5), 1);
}

static void test_names(void)
{
	char buf[256];
	pyhs_domtree_name(tree, 0, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "sys.modules dict");
	pyhs_domtree_name(tree, 1, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[0] list");
	pyhs_domtree_name(tree, 1, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[*] list");
	/* No reference from its dominator leads straight to the int. */
	pyhs_domtree_name(tree, 3, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "-> int");
	pyhs_domtree_name(tree, 5, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "unreachable list");
}

static char *capture(struct pyhs_error *(*fn)(const struct pyhs_heap *,
					      const struct pyhs_domtree *, FILE *))
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	struct pyhs_error *err = fn(heap, tree, f);
	fclose(f);
	CU_ASSERT_PTR_NULL(err);
	return out;
}

static void test_folded(void)
{
	char *out = capture(pyhs_export_folded);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	const char *want[] = {
		"sys.modules dict 100\n", "sys.modules dict;[*] list 50\n",
		"sys.modules dict;[*] tuple 30\n", "sys.modules dict;-> int 20\n",
		"sys.modules dict;[*] list;[*] str 10\n", "unreachable list 7\n",
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want[i]));
		total += strlen(want[i]);
	}
	CU_ASSERT_EQUAL(strlen(out), total);
	free(out);
}

static void test_speedscope(void)
{
	char *out = capture(pyhs_export_speedscope);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"endValue\":217"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"name\":\"[*] str\"}"));
	free(out);
}

static void test_heapsnapshot(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NULL(pyhs_export_heapsnapshot(heap, analysis, f));
	fclose(f);
	/* 6 objects and the synthetic root; 6 references and one root edge. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"node_count\":7,\"edge_count\":7,"));
	/* The str is a string node (type 2) named by its value. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"hello\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"sys.modules\""));
	/* The root's edge: a property named sys.modules to node 1 (index 7). */
	char *edges = strstr(out, "\"edges\":[");
	CU_ASSERT_PTR_NOT_NULL_FATAL(edges);
	unsigned type, name, to;
	CU_ASSERT_EQUAL(sscanf(edges + 9, "%u,%u,%u", &type, &name, &to), 3);
	CU_ASSERT_EQUAL(type, 2);
	CU_ASSERT_EQUAL(to, 7);
	free(out);
}

/* Sizes and refcounts of 2^32 or more, kept whole in the heap's 4-byte
 * columns through assembly and the analysis: a dict root holding a 5 GiB
 * bytes object (refcount 2^40 + 3, one reference found), which holds an
 * int. */
static void test_wide_values(void)
{
	static const uint64_t addr[] = { 0x1000, 0x2000, 0x3000 };
	static const uint32_t type[] = { 0, 1, 2 };
	const uint64_t big = UINT64_C(5) << 30, rc = (UINT64_C(1) << 40) + 3;
	const uint64_t size[] = { 100, big, 20 };
	const uint64_t refcnt[] = { 1, rc, 1 };
	static const uint8_t gen[] = { 2, PYHS_GEN_UNTRACKED, PYHS_GEN_UNTRACKED };
	static const uint8_t flags[3];
	static const uint32_t value_off[] = { UINT32_MAX, UINT32_MAX, UINT32_MAX };
	static const uint32_t edge_start[] = { 0, 1, 2, 2 };
	static const uint32_t edge_dst[] = { 1, 2 };
	static const uint32_t edge_label[] = { PYHS_LABEL(PYHS_LABEL_INDEX, 0),
					       PYHS_LABEL(PYHS_LABEL_INDEX, 0) };
	static const char *const type_names[] = { "dict", "bytes", "int" };
	static const uint8_t type_kinds[3];
	static const char *const strings[] = { "" };
	static const uint32_t root_obj[] = { 0 };
	static const struct pyhs_root_info roots[] = {
		{ PYHS_ROOT_SYS_MODULES, PYHS_NO_THREAD, PYHS_NO_FRAME, PYHS_NO_STRING, true },
	};
	struct pyhs_heap_parts p = {
		.columns = { .nobjects = 3, .nedges = 2, .value_text_size = 1 },
		.meta = { .source = "core", .input = "test", .executable = "", .cmdline = "",
			  .version = "3.11", .library = "", .layout = "builtin", .debug_file = "" },
		.ntypes = 3, .type_names = type_names, .type_kinds = type_kinds,
		.nstrings = 1, .strings = strings,
		.nroots = 1, .root_obj = root_obj, .roots = roots,
	};
	CU_ASSERT_FATAL((p.columns.addr = copy_of(addr, sizeof(addr))) &&
			(p.columns.type = copy_of(type, sizeof(type))) &&
			(p.columns.size = copy_of(size, sizeof(size))) &&
			(p.columns.refcnt = copy_of(refcnt, sizeof(refcnt))) &&
			(p.columns.gen = copy_of(gen, sizeof(gen))) &&
			(p.columns.flags = copy_of(flags, sizeof(flags))) &&
			(p.columns.value_off = copy_of(value_off, sizeof(value_off))) &&
			(p.columns.edge_start = copy_of(edge_start, sizeof(edge_start))) &&
			(p.columns.edge_dst = copy_of(edge_dst, sizeof(edge_dst))) &&
			(p.columns.edge_label = copy_of(edge_label, sizeof(edge_label))) &&
			(p.columns.value_text = copy_of("", 1)));
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	CU_ASSERT_PTR_NULL_FATAL(pyhs_heap_assemble(&p, &h));
	CU_ASSERT_EQUAL(pyhs_heap_size(h, 0), 100);
	CU_ASSERT_EQUAL(pyhs_heap_size(h, 1), big);
	CU_ASSERT_EQUAL(pyhs_heap_size(h, 2), 20);
	CU_ASSERT_EQUAL(pyhs_heap_refcnt(h, 1), rc);
	CU_ASSERT_EQUAL(pyhs_heap_refcnt(h, 2), 1);
	CU_ASSERT_PTR_NULL_FATAL(pyhs_analysis_create(h, &a));
	CU_ASSERT_EQUAL(pyhs_analysis_retained(a, 0), 100 + big + 20);
	CU_ASSERT_EQUAL(pyhs_analysis_retained(a, 1), big + 20);
	CU_ASSERT_EQUAL(pyhs_analysis_unexplained(a, 1), rc - 1);
	CU_ASSERT_EQUAL(pyhs_analysis_unexplained(a, 2), 0);
	CU_ASSERT_EQUAL(pyhs_analysis_reachable_bytes(a), 100 + big + 20);
	pyhs_analysis_destroy(a);
	pyhs_heap_destroy(h);
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("views of a small heap", setup, teardown);
	if (!s || !CU_add_test(s, "dominator tree", test_tree) ||
	    !CU_add_test(s, "holder names", test_names) ||
	    !CU_add_test(s, "folded stacks", test_folded) ||
	    !CU_add_test(s, "speedscope", test_speedscope) ||
	    !CU_add_test(s, "heap snapshot", test_heapsnapshot) ||
	    !CU_add_test(s, "sizes and refcounts of 2^32 or more", test_wide_values)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
