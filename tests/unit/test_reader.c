/*
 * Tests of the reader layer's building blocks: the segmented address space
 * (reader/memory.c), errors (reader/error.c), the containers every layer
 * uses (common/containers.h), and how pyhs_target_open_core refuses inputs
 * that are not cores.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "symbols.h"
#include "target.h"

/* ---- helpers ------------------------------------------------------------ */

/* Fills buf with bytes first, first + 1, ... (wrapping) so that a byte read
 * back tells which buffer and offset it came from. */
static void fill_pattern(uint8_t *buf, size_t len, uint8_t first)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(first + i);
}

/* Checks that the segments are sorted, non-empty and do not overlap. */
static void check_segments_sorted(const struct pyhs_memory *mem)
{
	for (size_t i = 0; i < mem->segments.size; i++) {
		const struct pyhs_segment *s = &mem->segments.data[i];
		CU_ASSERT(s->start < s->end);
		if (i > 0)
			CU_ASSERT(mem->segments.data[i - 1].end <= s->start);
	}
}

/* ---- memory.c ----------------------------------------------------------- */

#define A_START 0x1000u
#define A_LEN 16u
#define B_START 0x0ff8u
#define B_LEN 32u /* covers A and 8 bytes on either side */
#define C_START 0x2000u
#define C_LEN 16u

struct memory_fixture {
	struct pyhs_memory mem;
	uint8_t a[A_LEN], b[B_LEN], c[C_LEN];
};

/* A at [0x1000, 0x1010), then B at [0xff8, 0x1018) under it, then C at
 * [0x2000, 0x2010) after a gap. */
static void memory_fixture_init(struct memory_fixture *f)
{
	pyhs_memory_init(&f->mem);
	fill_pattern(f->a, sizeof(f->a), 0xa0);
	fill_pattern(f->b, sizeof(f->b), 0x00);
	fill_pattern(f->c, sizeof(f->c), 0xc0);
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f->mem, A_START, A_LEN, f->a));
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f->mem, B_START, B_LEN, f->b));
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f->mem, C_START, C_LEN, f->c));
}

static void test_memory_add_precedence(void)
{
	struct memory_fixture f;
	memory_fixture_init(&f);
	/* B only fills the gaps around A: [B][A][B] then C. */
	CU_ASSERT_EQUAL_FATAL(f.mem.segments.size, 4);
	check_segments_sorted(&f.mem);
	const struct pyhs_segment *s = f.mem.segments.data;
	CU_ASSERT_EQUAL(s[0].start, B_START);
	CU_ASSERT_EQUAL(s[0].end, A_START);
	CU_ASSERT_PTR_EQUAL(s[0].data, f.b);
	CU_ASSERT_EQUAL(s[1].start, A_START);
	CU_ASSERT_EQUAL(s[1].end, A_START + A_LEN);
	CU_ASSERT_PTR_EQUAL(s[1].data, f.a);
	CU_ASSERT_EQUAL(s[2].start, A_START + A_LEN);
	CU_ASSERT_EQUAL(s[2].end, B_START + B_LEN);
	CU_ASSERT_PTR_EQUAL(s[2].data, f.b + (A_START + A_LEN - B_START));
	CU_ASSERT_EQUAL(s[3].start, C_START);
	CU_ASSERT_EQUAL(s[3].end, C_START + C_LEN);

	/* Adding what is already covered, or nothing, changes nothing. */
	uint8_t other[A_LEN] = { 0 };
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f.mem, A_START, A_LEN, other));
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f.mem, 0x5000, 0, other));
	CU_ASSERT_EQUAL(f.mem.segments.size, 4);
	uint8_t byte;
	CU_ASSERT(pyhs_memory_read(&f.mem, A_START, &byte, 1));
	CU_ASSERT_EQUAL(byte, 0xa0);

	/* A wide segment fills every gap: before B, between B and C, after C. */
	static uint8_t wide[0x3000];
	memset(wide, 0xee, sizeof(wide));
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&f.mem, 0, sizeof(wide), wide));
	CU_ASSERT_EQUAL(f.mem.segments.size, 7);
	check_segments_sorted(&f.mem);
	static uint8_t all[0x3000];
	CU_ASSERT(pyhs_memory_read(&f.mem, 0, all, sizeof(all)));
	CU_ASSERT_EQUAL(all[0], 0xee);
	CU_ASSERT_EQUAL(all[B_START], 0x00);
	CU_ASSERT_EQUAL(all[A_START], 0xa0);
	CU_ASSERT_EQUAL(all[A_START + A_LEN], A_START + A_LEN - B_START);
	CU_ASSERT_EQUAL(all[B_START + B_LEN], 0xee);
	CU_ASSERT_EQUAL(all[C_START], 0xc0);
	CU_ASSERT_EQUAL(all[C_START + C_LEN], 0xee);
	pyhs_memory_deinit(&f.mem);
}

static void test_memory_read(void)
{
	struct memory_fixture f;
	memory_fixture_init(&f);
	/* All of B's range: B's first 8 bytes, A, B's last 8 bytes. */
	uint8_t buf[B_LEN];
	CU_ASSERT_FATAL(pyhs_memory_read(&f.mem, B_START, buf, sizeof(buf)));
	CU_ASSERT_EQUAL(memcmp(buf, f.b, 8), 0);
	CU_ASSERT_EQUAL(memcmp(buf + 8, f.a, A_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(buf + 8 + A_LEN, f.b + 8 + A_LEN, 8), 0);
	/* Within one segment, and straddling one boundary. */
	CU_ASSERT(pyhs_memory_read(&f.mem, A_START + 4, buf, 4));
	CU_ASSERT_EQUAL(memcmp(buf, f.a + 4, 4), 0);
	CU_ASSERT(pyhs_memory_read(&f.mem, A_START - 2, buf, 4));
	CU_ASSERT_EQUAL(buf[0], f.b[6]);
	CU_ASSERT_EQUAL(buf[2], f.a[0]);
	/* The last byte, and nothing at all. */
	CU_ASSERT(pyhs_memory_read(&f.mem, C_START + C_LEN - 1, buf, 1));
	CU_ASSERT_EQUAL(buf[0], f.c[C_LEN - 1]);
	CU_ASSERT(pyhs_memory_read(&f.mem, C_START, buf, 0));

	/* Across the gap between B and C, into it, past the end, before the
	 * start. */
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, B_START + B_LEN - 4, buf, 8));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, B_START + B_LEN, buf, 1));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, C_START - 1, buf, 2));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, C_START + 8, buf, 16));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, C_START + C_LEN, buf, 1));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, B_START - 1, buf, 1));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, 0, buf, 1));
	CU_ASSERT_FALSE(pyhs_memory_read(&f.mem, UINT64_MAX - 1, buf, 1));
	pyhs_memory_deinit(&f.mem);

	/* An empty address space has nothing to read. */
	struct pyhs_memory empty;
	pyhs_memory_init(&empty);
	CU_ASSERT_FALSE(pyhs_memory_read(&empty, 0, buf, 1));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&empty, 0, 1));
	pyhs_memory_deinit(&empty);
}

static void test_memory_top_of_address_space(void)
{
	/* A segment that would wrap past 2^64 ends at UINT64_MAX. */
	struct pyhs_memory mem;
	pyhs_memory_init(&mem);
	uint8_t data[32];
	fill_pattern(data, sizeof(data), 0x10);
	CU_ASSERT_PTR_NULL(pyhs_memory_add(&mem, UINT64_MAX - 15, sizeof(data), data));
	CU_ASSERT_EQUAL_FATAL(mem.segments.size, 1);
	CU_ASSERT_EQUAL(mem.segments.data[0].end, UINT64_MAX);
	/* 15 bytes are addressable: [2^64 - 16, 2^64 - 1). */
	uint8_t buf[16];
	CU_ASSERT(pyhs_memory_read(&mem, UINT64_MAX - 15, buf, 15));
	CU_ASSERT_EQUAL(memcmp(buf, data, 15), 0);
	CU_ASSERT_FALSE(pyhs_memory_read(&mem, UINT64_MAX - 15, buf, 16));
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&mem, UINT64_MAX - 1, 1), data + 14);
	pyhs_memory_deinit(&mem);
}

static void test_memory_ptr(void)
{
	struct memory_fixture f;
	memory_fixture_init(&f);
	/* Inside one segment: a pointer straight into the backing bytes. */
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&f.mem, A_START, A_LEN), f.a);
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&f.mem, A_START + 4, 4), f.a + 4);
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&f.mem, B_START, 8), f.b);
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&f.mem, A_START + A_LEN, 8),
			    f.b + (A_START + A_LEN - B_START));
	CU_ASSERT_PTR_EQUAL(pyhs_memory_ptr(&f.mem, C_START + C_LEN - 1, 1),
			    f.c + C_LEN - 1);
	/* Adjacent segments are readable together but not contiguous: B's
	 * head and A come from different buffers. */
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, B_START, 16));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, A_START, A_LEN + 1));
	/* Gaps and the ends. */
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, B_START + B_LEN, 1));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, C_START - 4, 8));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, C_START + 8, 9));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, C_START + C_LEN, 1));
	CU_ASSERT_PTR_NULL(pyhs_memory_ptr(&f.mem, B_START - 1, 1));
	pyhs_memory_deinit(&f.mem);
}

/* ---- error.c ------------------------------------------------------------ */

static void test_error_create_destroy(void)
{
	struct pyhs_error *err =
		pyhs_error_create(PYHS_ERROR_INPUT, "'%s' is %d bytes short", "core", 42);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_NOT_EQUAL(err, &pyhs_enomem);
	CU_ASSERT_EQUAL(err->code, PYHS_ERROR_INPUT);
	CU_ASSERT_EQUAL(err->errnum, 0);
	CU_ASSERT_STRING_EQUAL(err->message, "'core' is 42 bytes short");
	pyhs_error_destroy(err);
	pyhs_error_destroy(NULL);
}

static void test_error_wrap(void)
{
	struct pyhs_error *err = pyhs_error_create(PYHS_ERROR_FAULT, "cannot read 0x%x", 0x10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	struct pyhs_error *wrapped = pyhs_error_wrap(err, "walking %s", "frames");
	CU_ASSERT_PTR_EQUAL_FATAL(wrapped, err);
	CU_ASSERT_EQUAL(wrapped->code, PYHS_ERROR_FAULT);
	CU_ASSERT_STRING_EQUAL(wrapped->message, "walking frames: cannot read 0x10");
	wrapped = pyhs_error_wrap(wrapped, "in '%s'", "core");
	CU_ASSERT_STRING_EQUAL(wrapped->message, "in 'core': walking frames: cannot read 0x10");
	pyhs_error_destroy(wrapped);
	/* Nothing to wrap. */
	CU_ASSERT_PTR_NULL(pyhs_error_wrap(NULL, "context"));
}

static void test_error_enomem_static(void)
{
	CU_ASSERT_EQUAL(pyhs_enomem.code, PYHS_ERROR_NOMEM);
	CU_ASSERT_STRING_EQUAL(pyhs_enomem.message, "out of memory");
	/* Wrapping leaves it alone; destroying it frees nothing (the address
	 * sanitizer would report a free of a global). */
	struct pyhs_error *err = pyhs_error_wrap(&pyhs_enomem, "building %s", "heap");
	CU_ASSERT_PTR_EQUAL(err, &pyhs_enomem);
	pyhs_error_destroy(err);
	pyhs_error_destroy(&pyhs_enomem);
	CU_ASSERT_EQUAL(pyhs_enomem.code, PYHS_ERROR_NOMEM);
	CU_ASSERT_STRING_EQUAL(pyhs_enomem.message, "out of memory");
}

static void test_error_os(void)
{
	struct pyhs_error *err = pyhs_error_os(ENOENT, "cannot open '%s'", "x.core");
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->code, PYHS_ERROR_OS);
	CU_ASSERT_EQUAL(err->errnum, ENOENT);
	CU_ASSERT_STRING_EQUAL(err->message,
			       "cannot open 'x.core': no such file or directory");
	pyhs_error_destroy(err);

	err = pyhs_error_os(EACCES, "cannot open '%s'", "y");
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err->message, "cannot open 'y': permission denied");
	pyhs_error_destroy(err);

	/* strerror's text, whatever it is, with only its first letter
	 * lowered. */
	err = pyhs_error_os(EIO, "cannot write");
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	char expected[160];
	snprintf(expected, sizeof(expected), "cannot write: %s", strerror(EIO));
	char *reason = expected + strlen("cannot write: ");
	*reason = (char)tolower((unsigned char)*reason); /* "Input/output error" */
	CU_ASSERT_STRING_EQUAL(err->message, expected);
	CU_ASSERT_PTR_NULL(err->path);
	pyhs_error_destroy(err);

	/* What callers act on is in fields, not to be read out of the text. */
	err = pyhs_error_os_path(ENOENT, "open", "x.core");
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->code, PYHS_ERROR_OS);
	CU_ASSERT_EQUAL(err->errnum, ENOENT);
	CU_ASSERT_STRING_EQUAL(err->path, "x.core");
	CU_ASSERT_STRING_EQUAL(err->op, "open");
	CU_ASSERT_STRING_EQUAL(err->message,
			       "cannot open 'x.core': no such file or directory");
	err = pyhs_error_wrap(err, "reading %s", "it");
	CU_ASSERT_STRING_EQUAL(err->path, "x.core");
	pyhs_error_destroy(err);
	err = pyhs_error_at(PYHS_ERROR_FAULT, 0x7f0010, "cannot read 0x%x", 0x7f0010);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->address, 0x7f0010);
	CU_ASSERT_EQUAL(err->errnum, 0);
	CU_ASSERT_STRING_EQUAL(err->message, "cannot read 0x7f0010");
	pyhs_error_destroy(err);
	char buf[64];
	CU_ASSERT_STRING_EQUAL(pyhs_strerror(ENOENT, buf, sizeof(buf)),
			       "no such file or directory");
}

/* ---- containers.h ------------------------------------------------------- */

DEFINE_VECTOR(test_u64_vector, uint64_t)

static void test_vector(void)
{
	struct test_u64_vector v;
	test_u64_vector_init(&v);
	CU_ASSERT_EQUAL(v.size, 0);
	CU_ASSERT_PTR_NULL(v.data);
	bool appended = true;
	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t *slot = test_u64_vector_append(&v, i * i);
		appended &= slot && *slot == i * i;
	}
	CU_ASSERT_FATAL(appended);
	CU_ASSERT_EQUAL(v.size, 1000);
	CU_ASSERT(v.capacity >= 1000);
	bool all_equal = true;
	for (uint64_t i = 0; i < v.size; i++)
		all_equal &= v.data[i] == i * i;
	CU_ASSERT(all_equal);

	/* Appending within the reserved capacity does not move the data. */
	CU_ASSERT_FATAL(test_u64_vector_reserve(&v, 5000));
	CU_ASSERT(v.capacity >= 5000);
	const uint64_t *before = v.data;
	while (v.size < 5000 && test_u64_vector_append(&v, 7))
		;
	CU_ASSERT_EQUAL_FATAL(v.size, 5000);
	CU_ASSERT_PTR_EQUAL(v.data, before);
	/* Reserving less than the capacity is a no-op. */
	size_t cap = v.capacity;
	CU_ASSERT(test_u64_vector_reserve(&v, 10));
	CU_ASSERT_EQUAL(v.capacity, cap);

	const uint64_t more[] = { 1, 2, 3 };
	uint64_t *dst = test_u64_vector_append_n(&v, more, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
	CU_ASSERT_EQUAL(v.size, 5003);
	CU_ASSERT_EQUAL(v.data[5002], 3);

	/* Stealing hands the array over and leaves an empty vector. */
	size_t n = v.size;
	uint64_t *stolen = test_u64_vector_steal(&v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(stolen);
	CU_ASSERT_EQUAL(stolen[0], 0);
	CU_ASSERT_EQUAL(stolen[999], 999 * 999);
	CU_ASSERT_EQUAL(stolen[n - 1], 3);
	CU_ASSERT_PTR_NULL(v.data);
	CU_ASSERT_EQUAL(v.size, 0);
	CU_ASSERT_EQUAL(v.capacity, 0);
	free(stolen);

	/* The vector is usable again, and clear keeps the storage. */
	CU_ASSERT_PTR_NOT_NULL(test_u64_vector_append(&v, 42));
	test_u64_vector_clear(&v);
	CU_ASSERT_EQUAL(v.size, 0);
	CU_ASSERT_PTR_NOT_NULL(v.data);
	test_u64_vector_deinit(&v);
	CU_ASSERT_PTR_NULL(v.data);
}

struct test_entry {
	uint64_t index;   /* which key this is */
	unsigned visits;  /* times iteration reached it */
};
DEFINE_HASH_MAP(test_u64_map, uint64_t, struct test_entry, pyhs_hash_u64,
		PYHS_EQ_SCALAR)

#define MAP_KEYS 100000u

/* Spread-out keys, like object addresses: 16-byte aligned, with high bits. */
static uint64_t map_key(uint64_t i)
{
	return UINT64_C(0x7f0000000000) + i * 48;
}

static void test_hash_map_u64(void)
{
	struct test_u64_map m;
	test_u64_map_init(&m);
	CU_ASSERT_EQUAL(test_u64_map_size(&m), 0);
	CU_ASSERT_PTR_NULL(test_u64_map_search(&m, map_key(0)));
	CU_ASSERT_EQUAL(test_u64_map_first(&m), SIZE_MAX);

	bool all_inserted = true;
	for (uint64_t i = 0; i < MAP_KEYS; i++) {
		bool inserted = false;
		struct test_entry *e = test_u64_map_insert(&m, map_key(i), &inserted);
		if (!e) {
			test_u64_map_deinit(&m);
			CU_FAIL_FATAL("insert failed");
		}
		all_inserted &= inserted;
		*e = (struct test_entry){ .index = i, .visits = 0 };
	}
	CU_ASSERT(all_inserted);
	CU_ASSERT_EQUAL(test_u64_map_size(&m), MAP_KEYS);
	/* It grew, and stays at most three quarters full. */
	CU_ASSERT(m.mask + 1 >= MAP_KEYS * 4 / 3);

	/* Inserting an existing key finds it. */
	bool inserted = true;
	struct test_entry *again = test_u64_map_insert(&m, map_key(1234), &inserted);
	CU_ASSERT_FALSE(inserted);
	CU_ASSERT_PTR_EQUAL(again, test_u64_map_search(&m, map_key(1234)));
	CU_ASSERT_EQUAL(again->index, 1234);
	CU_ASSERT_EQUAL(test_u64_map_size(&m), MAP_KEYS);

	/* Every key is found with its value; keys in between are not. */
	bool all_found = true, none_extra = true;
	for (uint64_t i = 0; i < MAP_KEYS; i++) {
		const struct test_entry *e = test_u64_map_search(&m, map_key(i));
		all_found &= e && e->index == i;
		none_extra &= !test_u64_map_search(&m, map_key(i) + 8);
	}
	CU_ASSERT(all_found);
	CU_ASSERT(none_extra);
	CU_ASSERT_PTR_NULL(test_u64_map_search(&m, map_key(MAP_KEYS)));

	/* Iteration visits every key exactly once. */
	size_t visited = 0;
	for (size_t i = test_u64_map_first(&m); i != SIZE_MAX; i = test_u64_map_next(&m, i)) {
		m.slots[i].value.visits++;
		visited++;
	}
	CU_ASSERT_EQUAL(visited, MAP_KEYS);
	bool each_once = true;
	for (uint64_t i = 0; i < MAP_KEYS; i++) {
		const struct test_entry *e = test_u64_map_search(&m, map_key(i));
		each_once &= e && e->visits == 1;
	}
	CU_ASSERT(each_once);

	test_u64_map_deinit(&m);
	CU_ASSERT_EQUAL(test_u64_map_size(&m), 0);
	CU_ASSERT_PTR_NULL(test_u64_map_search(&m, map_key(0)));
}

DEFINE_HASH_MAP(test_str_map, const char *, int, pyhs_hash_str, PYHS_EQ_STR)

static void test_hash_map_str(void)
{
	static const char *const names[] = { "PyDict_Type", "_PyRuntime", "", "interned" };
	struct test_str_map m;
	test_str_map_init(&m);
	for (int i = 0; i < 4; i++) {
		bool inserted = false;
		int *v = test_str_map_insert(&m, names[i], &inserted);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		CU_ASSERT(inserted);
		*v = i;
	}
	/* Keys compare by content, not by pointer. */
	char key[32];
	snprintf(key, sizeof(key), "_Py%s", "Runtime");
	const int *v = test_str_map_search(&m, key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(*v, 1);
	v = test_str_map_search(&m, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(*v, 2);
	CU_ASSERT_PTR_NULL(test_str_map_search(&m, "PyList_Type"));
	CU_ASSERT_EQUAL(test_str_map_size(&m), 4);
	test_str_map_deinit(&m);
}

/* ---- pyhs_target_open_core on inputs that are not cores ----------------- */

static char test_dir[] = "/tmp/pyhs-test-reader.XXXXXX";
static char *empty_path, *text_path;

static char *make_file(const char *name, const char *contents)
{
	char *path;
	if (asprintf(&path, "%s/%s", test_dir, name) < 0)
		return NULL;
	FILE *f = fopen(path, "w");
	if (!f) {
		free(path);
		return NULL;
	}
	fputs(contents, f);
	if (fclose(f) != 0) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

static int open_core_suite_init(void)
{
	if (!mkdtemp(test_dir))
		return -1;
	empty_path = make_file("empty", "");
	text_path = make_file("notes.txt", "not a core\n");
	return empty_path && text_path ? 0 : -1;
}

static int open_core_suite_cleanup(void)
{
	if (empty_path)
		unlink(empty_path);
	if (text_path)
		unlink(text_path);
	free(empty_path);
	free(text_path);
	rmdir(test_dir);
	return 0;
}

/* Opens path, expects an error of the given code whose message contains
 * needle, and checks the out-parameter was left alone. */
static void expect_open_error(const char *path, enum pyhs_error_code code,
			      const char *needle)
{
	struct pyhs_target *sentinel = (struct pyhs_target *)&sentinel;
	struct pyhs_target *t = sentinel;
	struct pyhs_error *err = pyhs_target_open_core(path, NULL, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_EQUAL(t, sentinel);
	CU_ASSERT_EQUAL(err->code, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->message, needle));
	if (err->code != code || !strstr(err->message, needle))
		fprintf(stderr, "\n    %s: code %d, message '%s'\n", path,
			(int)err->code, err->message);
	pyhs_error_destroy(err);
}

static void test_open_empty(void)
{
	expect_open_error(empty_path, PYHS_ERROR_INPUT, "is empty");
}

static void test_open_not_elf(void)
{
	expect_open_error(text_path, PYHS_ERROR_INPUT, "not an ELF core file");
}

static void test_open_elf_executable(void)
{
	if (access("/bin/true", R_OK) != 0) {
		unit_skip("no /bin/true");
		return;
	}
	expect_open_error("/bin/true", PYHS_ERROR_INPUT, "not a core file");
}

static void test_open_nonexistent(void)
{
	char *path;
	CU_ASSERT_FATAL(asprintf(&path, "%s/no-such-core", test_dir) >= 0);
	struct pyhs_target *t = NULL;
	struct pyhs_error *err = pyhs_target_open_core(path, NULL, &t);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err) {
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_OS);
		CU_ASSERT_EQUAL(err->errnum, ENOENT);
		char expected[512];
		snprintf(expected, sizeof(expected),
			 "cannot open '%s': no such file or directory", path);
		CU_ASSERT_STRING_EQUAL(err->message, expected);
		CU_ASSERT_STRING_EQUAL(err->path ? err->path : "", path);
		CU_ASSERT_STRING_EQUAL(err->op ? err->op : "", "open");
		pyhs_error_destroy(err);
	}
	CU_ASSERT_PTR_NULL(t);
	free(path);
}

static void test_open_directory(void)
{
	expect_open_error(test_dir, PYHS_ERROR_INPUT, "not a regular file");
}

/* ---- symbols.c: lookups by GNU hash against the whole tables ----------- */

static void init_module(struct pyhs_module *m, const uint8_t *data, size_t size)
{
	memset(m, 0, sizeof(*m));
	m->file = data;
	m->file_size = size;
	m->bias_known = true;
	pyhs_symbol_map_init(&m->symbols);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names defined once in one kind of table (SHT_DYNSYM or SHT_SYMTAB),
 * of the kinds symbols.c keeps. */
static size_t table_names(Elf *elf, Elf64_Word type, const char ***ret)
{
	size_t n = 0, cap = 0;
	const char **names = NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			int kind = GELF_ST_TYPE(sym.st_info);
			if (kind != STT_OBJECT && kind != STT_FUNC &&
			    kind != STT_NOTYPE && kind != STT_TLS)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				names = realloc(names, cap * sizeof(*names));
				CU_ASSERT_PTR_NOT_NULL_FATAL(names);
			}
			names[n++] = name;
		}
	}
	/* A name defined twice (symbol versions, statics of two files) has
	 * no one right answer: only names defined once are compared. */
	if (n)
		qsort(names, n, sizeof(*names), compare_names);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || strcmp(names[i], names[i - 1]) != 0) &&
		    (i + 1 == n || strcmp(names[i], names[i + 1]) != 0))
			names[kept++] = names[i];
	*ret = names;
	return kept;
}

/* Every name of the file's tables is found (or not) with the same value by
 * a module that looks exported names up by hash and one that reads the
 * whole tables; the first reads them only for names .dynsym lacks. */
static void check_symbols_of(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		unit_skip("no %s", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	const uint8_t *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	CU_ASSERT_FATAL(data != MAP_FAILED);
	Elf *elf = elf_memory((char *)data, (size_t)st.st_size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	const char **dyn, **all;
	size_t ndyn = table_names(elf, SHT_DYNSYM, &dyn);
	size_t nall = table_names(elf, SHT_SYMTAB, &all);
	struct pyhs_module hashed, whole;
	init_module(&hashed, data, (size_t)st.st_size);
	init_module(&whole, data, (size_t)st.st_size);
	whole.hash_checked = true; /* as if the file had no .gnu.hash */
	size_t mismatches = 0;
	for (int pass = 0; pass < 2; pass++) {
		const char **names = pass ? all : dyn;
		size_t n = pass ? nall : ndyn;
		for (size_t i = 0; i < n; i++) {
			const struct pyhs_symbol *a = pyhs_module_symbol(NULL, &hashed, names[i]);
			const struct pyhs_symbol *b = pyhs_module_symbol(NULL, &whole, names[i]);
			if (!a || !b || a->value != b->value || a->size != b->size) {
				if (mismatches++ < 5)
					fprintf(stderr, "\n    %s: '%s' differs\n", path, names[i]);
			}
		}
		if (pass == 0) {
			CU_ASSERT(ndyn == 0 || hashed.gnu_hash != NULL);
			CU_ASSERT(!hashed.symbols_loaded); /* all by hash */
		}
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT_PTR_NULL(pyhs_module_symbol(NULL, &hashed, "pyhs_no_such_symbol"));
	CU_ASSERT_PTR_NULL(pyhs_module_symbol(NULL, &whole, "pyhs_no_such_symbol"));
	CU_ASSERT(ndyn > 0);
	fprintf(stderr, "\n    %s: %zu + %zu names\n", path, ndyn, nall);
	pyhs_symbol_map_deinit(&hashed.symbols);
	pyhs_symbol_map_deinit(&whole.symbols);
	free(dyn);
	free(all);
	elf_end(elf);
	munmap((void *)data, (size_t)st.st_size);
}

static void test_symbols_by_hash(void)
{
	elf_version(EV_CURRENT);
	/* Stripped (.dynsym only), a system library, and a libpython with a
	 * .symtab whose static names need the whole tables. */
	check_symbols_of("/usr/bin/python3.11");
	check_symbols_of("/lib/x86_64-linux-gnu/libc.so.6");
	char *lib = unit_pyenv_file(12, "lib/libpython3.12.so.1.0", NULL);
	if (!lib)
		lib = unit_pyenv_file(13, "lib/libpython3.13.so.1.0", NULL);
	if (lib)
		check_symbols_of(lib);
	else
		unit_skip("no pyenv libpython3.12 or 3.13");
	free(lib);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite memory = CU_add_suite("memory", NULL, NULL);
	CU_pSuite errors = CU_add_suite("error", NULL, NULL);
	CU_pSuite containers = CU_add_suite("containers", NULL, NULL);
	CU_pSuite open_core = CU_add_suite("open core", open_core_suite_init,
					   open_core_suite_cleanup);
	CU_pSuite symbols = CU_add_suite("symbols", NULL, NULL);
	if (!memory || !errors || !containers || !open_core || !symbols ||
	    !CU_add_test(symbols, "lookups by GNU hash agree with whole tables",
			 test_symbols_by_hash) ||
	    !CU_add_test(memory, "add: earlier segments win, gaps filled",
			 test_memory_add_precedence) ||
	    !CU_add_test(memory, "read across segments and gaps", test_memory_read) ||
	    !CU_add_test(memory, "top of the address space",
			 test_memory_top_of_address_space) ||
	    !CU_add_test(memory, "ptr within one segment only", test_memory_ptr) ||
	    !CU_add_test(errors, "create and destroy", test_error_create_destroy) ||
	    !CU_add_test(errors, "wrap", test_error_wrap) ||
	    !CU_add_test(errors, "static out-of-memory error", test_error_enomem_static) ||
	    !CU_add_test(errors, "os errors, lowercased", test_error_os) ||
	    !CU_add_test(containers, "vector", test_vector) ||
	    !CU_add_test(containers, "hash map of 100k u64 keys", test_hash_map_u64) ||
	    !CU_add_test(containers, "hash map of strings", test_hash_map_str) ||
	    !CU_add_test(open_core, "empty file", test_open_empty) ||
	    !CU_add_test(open_core, "not ELF", test_open_not_elf) ||
	    !CU_add_test(open_core, "ELF executable", test_open_elf_executable) ||
	    !CU_add_test(open_core, "nonexistent path", test_open_nonexistent) ||
	    !CU_add_test(open_core, "directory", test_open_directory)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
