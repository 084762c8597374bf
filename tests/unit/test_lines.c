/*
 * Tests of heapmodel/lines.c: pyhs_line_for_offset against the lines each
 * installed CPython gives every instruction of a sample of code objects
 * (lines_cases.h, made by gen_lines_cases.py), hand-made tables for the odd
 * corners of each format, and truncated and random tables (run under
 * AddressSanitizer: the tables are copied to buffers of exactly their size).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "lines.h"
#include "lines_cases.h"

static int expected_at(const struct lines_case *c, size_t k)
{
	int line = -1;
	for (size_t j = 0; j < c->nruns && (size_t)c->runs[2 * j] <= k; j++)
		line = c->runs[2 * j + 1];
	return line;
}

/* A copy of n bytes in a buffer of exactly n bytes (1 if n is 0). */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	if (b && n)
		memcpy(b, p, n);
	return b;
}

/* ---- every instruction of real code objects -------------------------------- */

static void test_real_tables(void)
{
	unsigned versions_seen = 0;
	for (size_t i = 0; i < N_LINES_CASES; i++) {
		const struct lines_case *c = &lines_cases[i];
		versions_seen |= 1u << (c->minor & 31);
		uint8_t *t = exact_copy(c->table, c->len);
		CU_ASSERT_FATAL(t != NULL);
		size_t bad = 0;
		for (size_t k = 0; k < c->nlines; k++) {
			int want = expected_at(c, k);
			int got = pyhs_line_for_offset(c->minor, c->firstlineno, t, c->len,
						       (uint64_t)k * c->offset_step);
			if (got != want && bad++ < 5)
				fprintf(stderr, "\n%s %s: offset %zu: line %d, want %d",
					c->version, c->name, k * c->offset_step, got, want);
		}
		CU_ASSERT(bad == 0);
		/* 3.10+: the table ends with the code; 3.8/3.9 (PyCode_Addr2Line)
		 * carry the last line on. */
		if (c->minor >= 10) {
			CU_ASSERT(pyhs_line_for_offset(c->minor, c->firstlineno, t, c->len,
						       c->nlines) == -1);
			CU_ASSERT(pyhs_line_for_offset(c->minor, c->firstlineno, t, c->len,
						       UINT64_MAX) == -1);
		} else {
			int last = pyhs_line_for_offset(c->minor, c->firstlineno, t, c->len,
							UINT64_MAX);
			CU_ASSERT(last == pyhs_line_for_offset(c->minor, c->firstlineno, t,
							       c->len, (uint64_t)c->nlines * 2));
		}
		free(t);
	}
	/* At least one version per table format. */
	CU_ASSERT(versions_seen & ((1u << 8) | (1u << 9)));
	CU_ASSERT(versions_seen & (1u << 10));
	CU_ASSERT(versions_seen & ~((1u << 11) - 1));
}

/* Cut tables: nothing read past the cut; in 3.10+ every answer is the
 * right one or -1 (unknown), never another line. */
static void test_truncated(void)
{
	for (size_t i = 0; i < N_LINES_CASES; i++) {
		const struct lines_case *c = &lines_cases[i];
		size_t step = c->len <= 64 ? 1 : c->len / 64;
		for (size_t cut = 0; cut <= c->len; cut += step) {
			uint8_t *t = exact_copy(c->table, cut);
			CU_ASSERT_FATAL(t != NULL);
			size_t kstep = c->nlines <= 16 ? 1 : c->nlines / 16;
			for (size_t k = 0; k < c->nlines + 2; k += kstep) {
				int got = pyhs_line_for_offset(c->minor, c->firstlineno, t, cut,
							       (uint64_t)k * c->offset_step);
				if (c->minor >= 10 && k < c->nlines)
					CU_ASSERT(got == -1 || got == expected_at(c, k));
			}
			free(t);
		}
	}
}

/* ---- hand-made tables ---------------------------------------------------------- */

static int line(unsigned minor, int first, const uint8_t *table, size_t len,
		uint64_t off)
{
	uint8_t *t = exact_copy(table, len);
	int r = pyhs_line_for_offset(minor, first, t, len, off);
	free(t);
	return r;
}

static void test_lnotab(void)
{
	/* lnotab_notes.txt's example: 0:1 6:2 50:7 350:207 361:208, from
	 * firstlineno 1 (the first pair (0, 0) is implicit). */
	const uint8_t t[] = { 6, 1, 44, 5, 255, 0, 45, 127, 0, 73, 11, 1 };
	for (unsigned minor = 8; minor <= 9; minor++) {
		CU_ASSERT(line(minor, 1, t, sizeof(t), 0) == 1);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 5) == 1);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 6) == 2);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 49) == 2);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 50) == 7);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 349) == 7);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 350) == 207);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 361) == 208);
		CU_ASSERT(line(minor, 1, t, sizeof(t), 100000) == 208);
	}
	/* Negative line deltas (signed since 3.6). */
	const uint8_t neg[] = { 2, 3, 4, (uint8_t)-2, 2, (uint8_t)-128 };
	CU_ASSERT(line(8, 100, neg, sizeof(neg), 0) == 100);
	CU_ASSERT(line(8, 100, neg, sizeof(neg), 2) == 103);
	CU_ASSERT(line(8, 100, neg, sizeof(neg), 6) == 101);
	CU_ASSERT(line(8, 100, neg, sizeof(neg), 8) == -27);
	/* Empty table: everything on the first line; odd length: the last
	 * byte is ignored. */
	CU_ASSERT(line(9, 42, (const uint8_t *)"", 0, 0) == 42);
	CU_ASSERT(line(9, 42, (const uint8_t *)"", 0, 1000) == 42);
	const uint8_t odd[] = { 2, 1, 2 };
	CU_ASSERT(line(9, 42, odd, sizeof(odd), 10) == 43);
	CU_ASSERT(pyhs_line_for_offset(9, 42, NULL, 0, 0) == -1);
}

static void test_linetable_310(void)
{
	/* Offsets are code units, the table's deltas bytes. Ranges:
	 * [0,2) line 11 (+1), [2,2) +2 (skipped, but counts), [2,8) no line,
	 * [8,12) line 12 (-1 after +2 = 12), [12,520) line 12 (255+253). */
	const uint8_t t[] = { 2, 1, 0, 2, 6, (uint8_t)-128, 4, (uint8_t)-1,
			      255, 0, 253, 0 };
	CU_ASSERT(line(10, 10, t, sizeof(t), 0) == 11);
	CU_ASSERT(line(10, 10, t, sizeof(t), 1) == -1);
	CU_ASSERT(line(10, 10, t, sizeof(t), 3) == -1);
	CU_ASSERT(line(10, 10, t, sizeof(t), 4) == 12);
	CU_ASSERT(line(10, 10, t, sizeof(t), 5) == 12);
	CU_ASSERT(line(10, 10, t, sizeof(t), 6) == 12);
	CU_ASSERT(line(10, 10, t, sizeof(t), 259) == 12);
	CU_ASSERT(line(10, 10, t, sizeof(t), 260) == -1);
	CU_ASSERT(line(10, 10, t, sizeof(t), UINT64_MAX / 2 + 1) == -1);
	CU_ASSERT(line(10, 10, (const uint8_t *)"", 0, 0) == -1);
	/* An odd trailing byte is not a pair. */
	const uint8_t odd[] = { 2, 1, 2 };
	CU_ASSERT(line(10, 10, odd, sizeof(odd), 0) == 11);
	CU_ASSERT(line(10, 10, odd, sizeof(odd), 1) == -1);
}

#define ENTRY(code, units) (uint8_t)(0x80 | ((code) << 3) | ((units) - 1))

static void test_loctable(void)
{
	const uint8_t t[] = {
		ENTRY(13, 1), 0,                 /* [0,1) no columns, +0: 20 */
		ENTRY(5, 2), 0x12,               /* [1,3) short form: 20 */
		ENTRY(11, 1), 4, 9,              /* [3,4) one-line +1: 21 */
		ENTRY(15, 3),                    /* [4,7) no location */
		ENTRY(14, 8), 0x40 | 3, 2, 0, 1, 1, /* [7,15) long: -65 */
		ENTRY(12, 1), 1, 2,              /* [15,16) one-line +2 */
		ENTRY(13, 2), 0x40 | 0, 0x05,    /* [16,18) +((5<<6)>>1) = +160 */
		ENTRY(10, 1), 0, 1,              /* [18,19) one-line +0 */
	};
	/* The long form's line delta: varint 3 | 2 << 6 = 131, odd: -65. */
	for (unsigned minor = 11; minor <= 14; minor++) {
		CU_ASSERT(line(minor, 20, t, sizeof(t), 0) == 20);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 1) == 20);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 2) == 20);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 3) == 21);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 4) == -1);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 6) == -1);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 7) == 21 - 65);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 14) == 21 - 65);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 15) == 21 - 63);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 16) == 21 - 63 + 160);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 17) == 21 - 63 + 160);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 18) == 21 - 63 + 160);
		CU_ASSERT(line(minor, 20, t, sizeof(t), 19) == -1);
		CU_ASSERT(line(minor, 20, t, sizeof(t), UINT64_MAX) == -1);
	}
	/* Corrupt: not starting at an entry; a varint running off the end,
	 * into the next entry, or past six chunks. */
	const uint8_t notentry[] = { 0x12, ENTRY(13, 1), 0 };
	CU_ASSERT(line(11, 1, notentry, sizeof(notentry), 0) == -1);
	const uint8_t runoff[] = { ENTRY(13, 1), 0x40 | 1 };
	CU_ASSERT(line(12, 1, runoff, sizeof(runoff), 0) == -1);
	const uint8_t intonext[] = { ENTRY(14, 1), 0x40, ENTRY(13, 1), 0 };
	CU_ASSERT(line(13, 1, intonext, sizeof(intonext), 0) == -1);
	const uint8_t longvar[] = { ENTRY(13, 1), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
				    0x7f, 0x3f };
	CU_ASSERT(line(13, 1, longvar, sizeof(longvar), 0) == -1);
	/* Six chunks are allowed; the value wraps to 32 bits as in CPython:
	 * 0xfffffffe >> 1 = INT_MAX (even: positive), from 0 -> INT_MAX. */
	const uint8_t six[] = { ENTRY(13, 1), 0x40 | 0x3e, 0x7f, 0x7f, 0x7f, 0x7f,
				0x3f };
	CU_ASSERT(line(13, 0, six, sizeof(six), 0) == 0x7fffffff);
	/* ...and one more overflows int: unknown, not a wrapped line. */
	CU_ASSERT(line(13, 1, six, sizeof(six), 0) == -1);
	/* Trailing junk after the last entry is skipped (bounded). */
	const uint8_t junk[] = { ENTRY(13, 1), 2, 5, 6, 7 };
	CU_ASSERT(line(11, 1, junk, sizeof(junk), 0) == 2);
	CU_ASSERT(line(11, 1, junk, sizeof(junk), 1) == -1);
	CU_ASSERT(line(11, 1, (const uint8_t *)"", 0, 0) == -1);
}

/* ---- random tables ----------------------------------------------------------------- */

static uint64_t rng = 0x1234567;

static uint64_t rnd(void)
{
	uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void test_random(void)
{
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rnd() % 300);
		uint8_t *t = malloc(n ? n : 1);
		CU_ASSERT_FATAL(t != NULL);
		unsigned style = (unsigned)(rnd() % 3);
		for (size_t i = 0; i < n; i++) {
			uint8_t b = (uint8_t)rnd();
			/* Mostly well-formed location tables in one style. */
			if (style == 1 && i % 3 == 0)
				b |= 0x80;
			else if (style == 1)
				b &= 0x7f;
			t[i] = b;
		}
		unsigned minor = 8 + (unsigned)(rnd() % 7);
		int first = (int)(rnd() % 2000) - 1000;
		if (rnd() % 50 == 0)
			first = rnd() & 1 ? 0x7fffffff : -0x7fffffff - 1;
		uint64_t offs[] = { 0, rnd() % 64, rnd() % 2048, rnd(), UINT64_MAX,
				    UINT64_MAX / 2, (uint64_t)n * 8, (uint64_t)n * 128 };
		for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++)
			(void)pyhs_line_for_offset(minor, first, t, n, offs[k]);
		free(t);
	}
	CU_PASS("no crash on random tables");
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite suite = CU_add_suite("lines", NULL, NULL);
	if (!suite ||
	    !CU_add_test(suite, "every instruction of real code objects",
			 test_real_tables) ||
	    !CU_add_test(suite, "truncated tables", test_truncated) ||
	    !CU_add_test(suite, "co_lnotab (3.8, 3.9)", test_lnotab) ||
	    !CU_add_test(suite, "co_linetable (3.10)", test_linetable_310) ||
	    !CU_add_test(suite, "location table (3.11+)", test_loctable) ||
	    !CU_add_test(suite, "random tables", test_random)) {
		CU_cleanup_registry();
		return 1;
	}
	return unit_main(argc, argv);
}
