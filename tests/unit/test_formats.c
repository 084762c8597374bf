/*
 * Tests of the formats layer's JSON helpers: string escaping (quotes,
 * backslashes, control characters, UTF-8 passed through when valid and
 * replaced when not) and generations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "formats.h"
#include "common/rank.h"

/* ---- helpers ------------------------------------------------------------ */

/* What pyhs_json_string writes for s. The input is copied to the heap
 * first, so that reading past its terminator is caught by the address
 * sanitizer. Caller frees. */
static char *json_string_of(const char *s)
{
	char *copy = strdup(s);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!copy || !f) {
		free(copy);
		if (f)
			fclose(f);
		free(out);
		return NULL;
	}
	pyhs_json_string(f, copy);
	fclose(f);
	free(copy);
	return out;
}

static char *json_gen_of(enum pyhs_gen gen)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	pyhs_json_gen(f, gen);
	fclose(f);
	return out;
}

/* Checks that s is written as expected (with its quotes). */
#define CHECK_JSON_STRING(s, expected)                                  \
	do {                                                            \
		char *got_ = json_string_of(s);                         \
		CU_ASSERT_PTR_NOT_NULL_FATAL(got_);                     \
		CU_ASSERT_STRING_EQUAL(got_, expected);                 \
		if (strcmp(got_, expected) != 0)                        \
			fprintf(stderr, "\n    got %s, expected %s\n",  \
				got_, expected);                        \
		free(got_);                                             \
	} while (0)

/* ---- pyhs_json_string --------------------------------------------------- */

static void test_plain(void)
{
	CHECK_JSON_STRING("", "\"\"");
	CHECK_JSON_STRING("list", "\"list\"");
	CHECK_JSON_STRING("a b/c ~!", "\"a b/c ~!\"");
}

static void test_quotes_and_backslashes(void)
{
	CHECK_JSON_STRING("\"", "\"\\\"\"");
	CHECK_JSON_STRING("say \"hi\"", "\"say \\\"hi\\\"\"");
	CHECK_JSON_STRING("\\", "\"\\\\\"");
	CHECK_JSON_STRING("C:\\dir\\\"x\"", "\"C:\\\\dir\\\\\\\"x\\\"\"");
	CHECK_JSON_STRING("['key']", "\"['key']\"");
}

static void test_control_characters(void)
{
	CHECK_JSON_STRING("\n", "\"\\u000a\"");
	CHECK_JSON_STRING("a\tb\rc", "\"a\\u0009b\\u000dc\"");
	CHECK_JSON_STRING("\x01\x1f", "\"\\u0001\\u001f\"");
	CHECK_JSON_STRING("\x7f", "\"\\u007f\"");
	CHECK_JSON_STRING("\x1b[0m", "\"\\u001b[0m\"");
	/* Space is the first character that needs nothing. */
	CHECK_JSON_STRING(" ", "\" \"");
}

static void test_valid_utf8(void)
{
	/* Every length of sequence, at the edges of its range. */
	CHECK_JSON_STRING("\xc2\x80", "\"\xc2\x80\"");         /* U+0080 */
	CHECK_JSON_STRING("caf\xc3\xa9", "\"caf\xc3\xa9\"");   /* é */
	CHECK_JSON_STRING("\xdf\xbf", "\"\xdf\xbf\"");         /* U+07FF */
	CHECK_JSON_STRING("\xe0\xa0\x80", "\"\xe0\xa0\x80\""); /* U+0800 */
	CHECK_JSON_STRING("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""); /* € */
	CHECK_JSON_STRING("\xed\x9f\xbf", "\"\xed\x9f\xbf\""); /* U+D7FF */
	CHECK_JSON_STRING("\xee\x80\x80", "\"\xee\x80\x80\""); /* U+E000 */
	CHECK_JSON_STRING("\xef\xbf\xbf", "\"\xef\xbf\xbf\""); /* U+FFFF */
	CHECK_JSON_STRING("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000 */
	CHECK_JSON_STRING("\xf0\x9f\x98\x80!", "\"\xf0\x9f\x98\x80!\""); /* 😀 */
	CHECK_JSON_STRING("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	/* Mixed with escapes. */
	CHECK_JSON_STRING("\xc3\xa9\"\n", "\"\xc3\xa9\\\"\\u000a\"");
}

static void test_invalid_bytes(void)
{
	/* Stray continuation bytes and bytes that never start a sequence. */
	CHECK_JSON_STRING("\x80", "\"\\ufffd\"");
	CHECK_JSON_STRING("a\xbf" "b", "\"a\\ufffdb\"");
	CHECK_JSON_STRING("\xfe\xff", "\"\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xf8\x88\x80\x80\x80",
			  "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* A lead byte without enough continuation bytes: each byte is
	 * replaced, and what follows is kept. */
	CHECK_JSON_STRING("\xc3", "\"\\ufffd\"");
	CHECK_JSON_STRING("\xe2\x82", "\"\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xe2\x82" "A", "\"\\ufffd\\ufffdA\"");
	CHECK_JSON_STRING("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xc3" "\"", "\"\\ufffd\\\"\"");
	/* Invalid bytes around a valid character. */
	CHECK_JSON_STRING("\xff\xc3\xa9\xff", "\"\\ufffd\xc3\xa9\\ufffd\"");
}

static void test_overlong_encodings(void)
{
	/* '/' and NUL encoded in two, three and four bytes. */
	CHECK_JSON_STRING("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xc0\x80", "\"\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xc1\xbf", "\"\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_surrogates_and_beyond(void)
{
	/* UTF-16 surrogates are not characters. */
	CHECK_JSON_STRING("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* U+D800 */
	CHECK_JSON_STRING("\xed\xb0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* U+DC00 */
	CHECK_JSON_STRING("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\""); /* U+DFFF */
	/* A surrogate pair encoded as two three-byte sequences (CESU-8). */
	CHECK_JSON_STRING("\xed\xa0\xbd\xed\xb8\x80",
			  "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Past U+10FFFF. */
	CHECK_JSON_STRING("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON_STRING("\xf7\xbf\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

/* ---- pyhs_json_gen ------------------------------------------------------ */

static void test_generations(void)
{
	static const struct {
		enum pyhs_gen gen;
		const char *json;
	} cases[] = {
		{ PYHS_GEN_0, "0" },
		{ PYHS_GEN_1, "1" },
		{ PYHS_GEN_2, "2" },
		{ PYHS_GEN_PERMANENT, "\"permanent\"" },
		{ PYHS_GEN_UNTRACKED, "null" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = json_gen_of(cases[i].gen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_STRING_EQUAL(got, cases[i].json);
		free(got);
	}
}

/* ---- ranking (common/rank.c) -------------------------------------------- */

static uint64_t key_of(void *ctx, uint64_t item)
{
	return ((const uint64_t *)ctx)[item];
}

/* The top items without an array per item are those of a full sort, ties
 * in item order, for any count asked. */
static void test_rank_top_items(void)
{
	enum { M = 1000 };
	static uint64_t key[M], order[M], items[M + 1], keys[M + 1];
	uint64_t x = 88172645463325252u;
	for (uint64_t i = 0; i < M; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		key[i] = x % 37; /* many ties */
		order[i] = i;
	}
	pyhs_rank_top(key, order, M, M);
	static const uint64_t counts[] = { 0, 1, 2, 3, 7, 200, 999, 1000, 1001 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint64_t n = counts[c];
		uint64_t k = pyhs_rank_top_items(M, n, key_of, key, items, keys);
		CU_ASSERT_EQUAL(k, n < M ? n : M);
		for (uint64_t q = 0; q < k; q++) {
			CU_ASSERT_EQUAL(items[q], order[q]);
			CU_ASSERT_EQUAL(keys[q], key[order[q]]);
		}
	}
	CU_ASSERT_EQUAL(pyhs_rank_top_items(0, 5, key_of, key, items, keys), 0);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite strings = CU_add_suite("json string", NULL, NULL);
	CU_pSuite gens = CU_add_suite("json generation", NULL, NULL);
	CU_pSuite rank = CU_add_suite("rank", NULL, NULL);
	if (!strings || !gens || !rank ||
	    !CU_add_test(strings, "plain ASCII", test_plain) ||
	    !CU_add_test(strings, "quotes and backslashes", test_quotes_and_backslashes) ||
	    !CU_add_test(strings, "control characters", test_control_characters) ||
	    !CU_add_test(strings, "valid UTF-8 passes through", test_valid_utf8) ||
	    !CU_add_test(strings, "invalid bytes become U+FFFD", test_invalid_bytes) ||
	    !CU_add_test(strings, "overlong encodings rejected", test_overlong_encodings) ||
	    !CU_add_test(strings, "surrogates and > U+10FFFF rejected",
			 test_surrogates_and_beyond) ||
	    !CU_add_test(gens, "each generation", test_generations) ||
	    !CU_add_test(rank, "top items as a full sort ranks them", test_rank_top_items)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
