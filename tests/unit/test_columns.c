/*
 * Tests of the heap model's columns by object number (heap.c): the sparse
 * column, built from a 4-byte column or from 8-byte values, read back at
 * every entry, at word boundaries, with values of 4 bytes and more.
 */
#include <stdint.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "heap_internal.h"

/* Entry i of pattern p, for n entries. */
static uint64_t pattern(int p, uint64_t i)
{
	switch (p) {
	case 0:
		return 0;
	case 1:
		return i + 1;
	case 2:
		return i % 7 == 3 ? i * 3 + 1 : 0;
	case 3: /* values of 4 bytes and more, and the column's marker */
		return i % 5 == 0 ? (i % 2 ? UINT32_MAX : (UINT64_C(1) << 40) + i) : 0;
	default:
		return i == 63 || i == 64 || i == 127 ? 9 : 0;
	}
}

static void check(uint64_t n, int p, bool from_column)
{
	uint64_t *values = malloc((n ? n : 1) * sizeof(*values));
	CU_ASSERT_PTR_NOT_NULL_FATAL(values);
	for (uint64_t i = 0; i < n; i++)
		values[i] = pattern(p, i);
	struct pyhs_u32_column col;
	pyhs_u32_column_init(&col);
	if (from_column)
		CU_ASSERT_FATAL(pyhs_u32_column_from(&col, values, n));
	struct pyhs_sparse_column s;
	pyhs_sparse_column_init(&s);
	CU_ASSERT_FATAL(pyhs_sparse_column_from(&s, from_column ? &col : NULL,
						from_column ? NULL : values, n));
	uint64_t bad = 0, nonzero = 0;
	for (uint64_t i = 0; i < n; i++) {
		bad += pyhs_sparse_column_at(&s, i) != values[i];
		nonzero += values[i] != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(s.values.v.size, nonzero);
	pyhs_sparse_column_deinit(&s);
	pyhs_u32_column_deinit(&col);
	free(values);
}

static void test_sparse(void)
{
	static const uint64_t sizes[] = { 0, 1, 63, 64, 65, 128, 129, 1000 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (int p = 0; p < 5; p++)
			for (int c = 0; c < 2; c++)
				check(sizes[k], p, c);
}

static void test_sparse_rebuilt(void)
{
	/* Made again from other values: the first ones are gone. */
	uint64_t a[130] = { 0 }, b[70] = { 0 };
	a[1] = a[129] = 5;
	b[0] = b[69] = 7;
	struct pyhs_sparse_column s;
	pyhs_sparse_column_init(&s);
	CU_ASSERT_FATAL(pyhs_sparse_column_from(&s, NULL, a, 130));
	CU_ASSERT_EQUAL(pyhs_sparse_column_at(&s, 129), 5);
	CU_ASSERT_FATAL(pyhs_sparse_column_from(&s, NULL, b, 70));
	CU_ASSERT_EQUAL(pyhs_sparse_column_at(&s, 0), 7);
	CU_ASSERT_EQUAL(pyhs_sparse_column_at(&s, 1), 0);
	CU_ASSERT_EQUAL(pyhs_sparse_column_at(&s, 69), 7);
	CU_ASSERT_EQUAL(s.values.v.size, 2);
	pyhs_sparse_column_deinit(&s);
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("columns", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "sparse column: every entry, word edges, wide values", test_sparse) ||
	    !CU_add_test(s, "sparse column made again", test_sparse_rebuilt)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
