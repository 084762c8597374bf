/*
 * Task states, coroutine places and closure cells as data, on a heap made
 * by hand (pyhs_heap_assemble) whose value texts say otherwise: the tasks
 * analysis and the label functions must go by the data alone, and a
 * snapshot (format 4) must keep it.
 *
 *   0 _asyncio.Task  value "decoy PENDING"    state CANCELLED; ._coro -> 1
 *   1 coroutine      value "decoy (x.py:9)"   at "outer (real)" /app/real.py:42
 *   2 _asyncio.Task  value "quick PENDING"    state DONE
 *   3 cell           .cell_contents (held) -> 4, a cell label of "held"
 *   4 list           .cell_contents (fake) -> 3, a field whose text only
 *                    reads like a cell's
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "formats.h"

/* Decoder kinds (formats/FORMAT.md, TYPE). */
#define KIND_LIST 3
#define KIND_GEN 15
#define KIND_TASK 23

static struct pyhs_heap *heap;

static void *copy_of(const void *src, size_t n)
{
	void *p = malloc(n);
	return p ? memcpy(p, src, n) : NULL;
}

static const char texts[] = "decoy PENDING\0decoy (x.py:9)\0quick PENDING";

static int setup(void)
{
	static uint64_t addr[] = { 0x1000, 0x2000, 0x3000, 0x4000, 0x5000 };
	static uint32_t type[] = { 0, 1, 0, 2, 3 };
	static uint64_t size[] = { 100, 50, 100, 40, 56 };
	static uint64_t refcnt[] = { 1, 1, 1, 1, 1 };
	static uint8_t gen[] = { 2, 2, 2, 2, 2 };
	static uint8_t flags[5];
	static uint32_t value_off[] = { 0, 14, 29, UINT32_MAX, UINT32_MAX };
	static uint32_t edge_start[] = { 0, 1, 1, 1, 2, 3 };
	static uint32_t edge_dst[] = { 1, 4, 3 };
	static uint32_t edge_label[] = {
		PYHS_LABEL(PYHS_LABEL_FIELD, 0),
		PYHS_LABEL(PYHS_LABEL_CELL, 3),
		PYHS_LABEL(PYHS_LABEL_FIELD, 4),
	};
	static const char *const type_names[] = { "_asyncio.Task", "coroutine", "cell", "list" };
	static const uint8_t type_kinds[] = { KIND_TASK, KIND_GEN, 0, KIND_LIST };
	static const char *const strings[] = {
		"._coro", "outer (real)", "/app/real.py", "held", ".cell_contents (fake)",
	};
	static const struct pyhs_async_info async[] = {
		{ 0, PYHS_TASK_CANCELLED, PYHS_NO_STRING, PYHS_NO_STRING, -1 },
		{ 1, PYHS_TASK_PENDING, 1, 2, 42 },
		{ 2, PYHS_TASK_DONE, PYHS_NO_STRING, PYHS_NO_STRING, -1 },
	};
	struct pyhs_heap_parts p = {
		.columns = { .nobjects = 5, .nedges = 3, .value_text_size = sizeof(texts) },
		.meta = { .source = "core", .input = "test", .executable = "", .cmdline = "",
			  .version = "3.12", .hexversion = 0x030c00f0, .library = "",
			  .layout = "builtin", .debug_file = "" },
		.ntypes = 4, .type_names = type_names, .type_kinds = type_kinds,
		.nstrings = 5, .strings = strings,
		.nasync = 3, .async = async,
	};
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
	    !(p.columns.value_text = copy_of(texts, sizeof(texts))))
		return -1;
	return pyhs_heap_assemble(&p, &heap) ? -1 : 0;
}

static int teardown(void)
{
	pyhs_heap_destroy(heap);
	return 0;
}

/* The tasks of h as the data says, whatever the value texts say. */
static void check_tasks(const struct pyhs_heap *h)
{
	struct pyhs_tasks *t;
	CU_ASSERT_PTR_NULL_FATAL(pyhs_tasks_find(h, &t));
	CU_ASSERT_EQUAL_FATAL(t->n, 2);
	CU_ASSERT_EQUAL(t->tasks[0].obj, 0);
	CU_ASSERT_EQUAL(t->tasks[0].state, PYHS_TASK_CANCELLED);
	CU_ASSERT_EQUAL_FATAL(t->tasks[0].nframes, 1);
	CU_ASSERT_STRING_EQUAL(t->tasks[0].frames[0].function, "outer (real)");
	CU_ASSERT_STRING_EQUAL(t->tasks[0].frames[0].file, "/app/real.py");
	CU_ASSERT_EQUAL(t->tasks[0].frames[0].line, 42);
	CU_ASSERT_FALSE(t->tasks[0].corrupt);
	CU_ASSERT_EQUAL(t->tasks[1].obj, 2);
	CU_ASSERT_EQUAL(t->tasks[1].state, PYHS_TASK_DONE);
	CU_ASSERT_EQUAL(t->nwarnings, 0);
	pyhs_tasks_destroy(t);
}

/* Cells by their label kind alone, rendered as before. */
static void check_cells(const struct pyhs_heap *h)
{
	char buf[128];
	uint32_t cell = pyhs_heap_edge_label(h, 1), fake = pyhs_heap_edge_label(h, 2);
	CU_ASSERT_EQUAL(PYHS_LABEL_KIND(cell), PYHS_LABEL_CELL);
	CU_ASSERT_TRUE(pyhs_heap_format_label(h, cell, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, ".cell_contents (held)");
	CU_ASSERT_TRUE(pyhs_heap_label_cell_variable(h, cell, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "held");
	CU_ASSERT_EQUAL(PYHS_LABEL_KIND(fake), PYHS_LABEL_FIELD);
	CU_ASSERT_FALSE(pyhs_heap_label_cell_variable(h, fake, buf, sizeof(buf)));
	CU_ASSERT_TRUE(pyhs_heap_format_label(h, fake, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, ".cell_contents (fake)");
}

static void test_tasks(void)
{
	check_tasks(heap);
}

static void test_cells(void)
{
	check_cells(heap);
}

/* A snapshot keeps the records and the label kinds. */
static void test_snapshot(void)
{
	char dir[] = "/tmp/pyhs-test-async.XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/h.phs", dir);
	struct pyhs_heap *back = NULL;
	CU_ASSERT_PTR_NULL(pyhs_snapshot_write(heap, path));
	CU_ASSERT_PTR_NULL(pyhs_snapshot_read(path, &back));
	unlink(path);
	rmdir(dir);
	if (!back)
		return;
	CU_ASSERT_EQUAL(pyhs_heap_nasync(back), 3);
	const struct pyhs_async_info *a = pyhs_heap_async(back, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(pyhs_heap_string(back, a->function), "outer (real)");
	CU_ASSERT_EQUAL(a->line, 42);
	CU_ASSERT_PTR_NULL(pyhs_heap_async(back, 3));
	check_tasks(back);
	check_cells(back);
	pyhs_heap_destroy(back);
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("async", setup, teardown);
	if (!s || !CU_add_test(s, "task states from data", test_tasks) ||
	    !CU_add_test(s, "cells by label kind", test_cells) ||
	    !CU_add_test(s, "snapshot round trip", test_snapshot)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
