/*
 * Tests of the CPython layouts: the built-in tables are complete and
 * plausible, and equal to what the DWARF of the installed interpreters says
 * (pyenv's 3.8 to 3.13 libpython builds, and Debian's /usr/bin/python3.11
 * through its build-id debug file). Interpreters that are not installed are
 * reported as skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "reader.h"

/* ---- helpers ------------------------------------------------------------ */

static void skipped(const char *what)
{
	unit_skip("%s", what);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t hexversion(unsigned minor, unsigned micro)
{
	return (3u << 24) | (minor << 16) | (micro << 8) | 0xf0;
}

/* The index of the fact that gives sizeof() of the same type list, or
 * SIZE_MAX. */
static size_t size_fact(size_t i)
{
	const char *type = pyhs_layout_field_dwarf_type(i);
	for (size_t j = 0; j < pyhs_layout_nfields(); j++) {
		if (!pyhs_layout_field_dwarf_member(j) &&
		    !strcmp(pyhs_layout_field_dwarf_type(j), type))
			return j;
	}
	return SIZE_MAX;
}

/* Compares DWARF and built-in layouts field by field, printing every
 * mismatch. Returns the number of mismatches. */
static size_t compare(const char *label, const struct pyhs_layout *dwarf,
		      const struct pyhs_layout *builtin)
{
	size_t bad = 0;
	for (size_t i = 0; i < pyhs_layout_nfields(); i++) {
		int32_t d = pyhs_layout_get(dwarf, i);
		int32_t b = pyhs_layout_get(builtin, i);
		if (d != b) {
			fprintf(stderr,
				"    %s: %s: DWARF %" PRId32 ", built-in %" PRId32
				"\n",
				label, pyhs_layout_field_name(i), d, b);
			bad++;
		}
	}
	return bad;
}

/* Reads the DWARF of path and compares it with the built-in table of
 * version_hex (of a Py_DEBUG build if pydebug), and returns the DWARF
 * layout in *ret_dwarf (may be NULL). */
static bool check_dwarf_against_builtin_of(const char *label, const char *path,
					   uint32_t version_hex, bool pydebug,
					   struct pyhs_layout *ret_dwarf)
{
	struct pyhs_layout dwarf, builtin;
	double t0 = now();
	struct pyhs_error *err = pyhs_layout_from_dwarf(path, &dwarf);
	double t1 = now();
	if (err) {
		fprintf(stderr, "\n    %s: %s\n", label, err->message);
		pyhs_error_destroy(err);
		CU_FAIL("pyhs_layout_from_dwarf failed");
		return false;
	}
	fprintf(stderr, "\n    %s: DWARF of %s read in %.3f s\n", label,
		path, t1 - t0);
	err = pydebug ? pyhs_layout_builtin_pydebug(version_hex, &builtin)
		      : pyhs_layout_builtin(version_hex, &builtin);
	if (err) {
		fprintf(stderr, "\n    %s: %s\n", label, err->message);
		pyhs_error_destroy(err);
		CU_FAIL("pyhs_layout_builtin failed");
		return false;
	}
	size_t bad = compare(label, &dwarf, &builtin);
	CU_ASSERT_EQUAL(bad, 0);
	if (ret_dwarf)
		*ret_dwarf = dwarf;
	return true;
}

static void check_dwarf_against_builtin(const char *label, const char *path,
					uint32_t version_hex)
{
	check_dwarf_against_builtin_of(label, path, version_hex, false, NULL);
}

/* ---- (a) the built-in tables -------------------------------------------- */

static const struct {
	unsigned minor, micro;
} builtin_versions[] = {
	{ 8, 18 }, { 9, 18 }, { 10, 13 }, { 11, 2 }, { 11, 7 }, { 12, 1 },
	{ 13, 0 }, { 14, 0 }, { 14, 4 }, { 14, 5 }, { 14, 10 }, { 15, 0 }, { 15, 2 },
};

/* Facts that are legitimately at offset 0 in some version: the first
 * member of their struct. Any other 0 is a -1 forgotten. */
static const char *const zero_ok[] = {
	"interp_next",           /* <= 3.12 */
	"gc_enabled",            /* 3.15 */
	"static_type_state_type",
	"cframe_current_frame",  /* 3.12 */
	"iframe_code",           /* 3.12+ */
	"iframe_func",           /* 3.11 */
	"dictkeys_dk_refcnt",
	"dictvalues_values",     /* 3.11, 3.12 */
	"memberdef_name",
	"arena_address",
	"pool_count",
	"hashtable_nentries",    /* 3.9+ */
	"hashtable_nbuckets",    /* 3.8 */
	"trace_size",
	"frame_t_filename",
};

static bool may_be_zero(const char *name)
{
	for (size_t i = 0; i < sizeof(zero_ok) / sizeof(zero_ok[0]); i++) {
		if (!strcmp(zero_ok[i], name))
			return true;
	}
	return false;
}

static void test_builtin_complete(void)
{
	for (size_t v = 0;
	     v < sizeof(builtin_versions) / sizeof(builtin_versions[0]); v++) {
		unsigned minor = builtin_versions[v].minor;
		unsigned micro = builtin_versions[v].micro;
		struct pyhs_layout layout;
		struct pyhs_error *err =
			pyhs_layout_builtin(hexversion(minor, micro), &layout);
		if (err) {
			fprintf(stderr, "\n    3.%u.%u: %s\n", minor, micro,
				err->message);
			pyhs_error_destroy(err);
			CU_FAIL("no built-in layout");
			continue;
		}
		for (size_t i = 0; i < pyhs_layout_nfields(); i++) {
			const char *name = pyhs_layout_field_name(i);
			int32_t value = pyhs_layout_get(&layout, i);
			bool ok = value >= -1;
			if (!pyhs_layout_field_dwarf_member(i)) {
				/* sizeof facts: absent or positive */
				ok = ok && value != 0;
			} else if (value == 0) {
				ok = may_be_zero(name);
			} else if (value > 0) {
				size_t s = size_fact(i);
				int32_t size = s == SIZE_MAX
						       ? -1
						       : pyhs_layout_get(&layout,
									 s);
				/* <= : flexible arrays end the struct */
				ok = size < 0 || value <= size;
			}
			if (!ok)
				fprintf(stderr,
					"\n    3.%u.%u: implausible %s = %" PRId32
					"\n",
					minor, micro, name, value);
			CU_ASSERT(ok);
		}
	}
}

static void test_builtin_facts(void)
{
	/* A few facts the rest of the reader depends on, one per table. */
	static const struct {
		unsigned minor, micro;
		const char *field;
		int32_t value;
	} facts[] = {
		{ 8, 0, "rt_gc", 344 },
		{ 9, 0, "interp_gc", 616 },
		{ 10, 0, "frame_f_localsplus", 352 },
		{ 11, 0, "rt_main_interpreter", 58936 },
		{ 12, 0, "interp_interned", 382936 },
		{ 13, 0, "tstate_current_frame", 72 },
		{ 14, 0, "gc_state_size", 240 },
		{ 14, 4, "interp_sysdict", 7648 },
		{ 14, 5, "gc_state_size", 264 },
		{ 14, 10, "interp_sysdict", 7672 },
		{ 14, 10, "tuple_ob_item", 32 },
		{ 14, 10, "iframe_localsplus", 80 },
	};
	for (size_t f = 0; f < sizeof(facts) / sizeof(facts[0]); f++) {
		struct pyhs_layout layout;
		struct pyhs_error *err = pyhs_layout_builtin(
			hexversion(facts[f].minor, facts[f].micro), &layout);
		CU_ASSERT_PTR_NULL_FATAL(err);
		bool found = false;
		for (size_t i = 0; i < pyhs_layout_nfields(); i++) {
			if (strcmp(pyhs_layout_field_name(i), facts[f].field))
				continue;
			found = true;
			int32_t value = pyhs_layout_get(&layout, i);
			if (value != facts[f].value)
				fprintf(stderr,
					"\n    3.%u.%u: %s = %" PRId32
					", expected %" PRId32 "\n",
					facts[f].minor, facts[f].micro,
					facts[f].field, value, facts[f].value);
			CU_ASSERT_EQUAL(value, facts[f].value);
		}
		CU_ASSERT(found);
	}
}

static void test_builtin_unsupported(void)
{
	static const uint32_t versions[] = {
		0x030712F0, /* 3.7.18 */
		0x031000A1, /* 3.16.0a1 */
		0x020712F0, /* 2.7.18 */
		0x04000000,
		0,
	};
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		struct pyhs_layout layout;
		struct pyhs_error *err =
			pyhs_layout_builtin(versions[v], &layout);
		CU_ASSERT_PTR_NOT_NULL(err);
		if (!err)
			continue;
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_UNSUPPORTED);
		CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "not supported"));
		pyhs_error_destroy(err);
	}
	struct pyhs_layout layout;
	struct pyhs_error *err = pyhs_layout_builtin(0x030712F0, &layout);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err->message,
			       "CPython 3.7 is not supported (3.8 to 3.15 are)");
	pyhs_error_destroy(err);
}

static void test_metadata(void)
{
	size_t n = pyhs_layout_nfields();
	CU_ASSERT(n > 100);
	CU_ASSERT_EQUAL(n * sizeof(int32_t), sizeof(struct pyhs_layout));
	CU_ASSERT_STRING_EQUAL(pyhs_layout_field_name(0), "rt_size");
	CU_ASSERT_PTR_NULL(pyhs_layout_field_dwarf_member(0));
	CU_ASSERT_PTR_NULL(pyhs_layout_field_name(n));
	struct pyhs_layout layout;
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_PTR_NOT_NULL(pyhs_layout_field_name(i));
		CU_ASSERT_PTR_NOT_NULL(pyhs_layout_field_dwarf_type(i));
		pyhs_layout_set(&layout, i, (int32_t)i);
	}
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(pyhs_layout_get(&layout, i), (int32_t)i);
}

/* ---- (b) pyenv's interpreters ------------------------------------------- */

/* pyenv's libpython3.<minor> (caller frees), or NULL. */
static char *find_pyenv_libpython(unsigned minor, unsigned *micro_ret)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "lib/libpython3.%u.so.1.0", minor);
	return unit_pyenv_file(minor, rel, micro_ret);
}

static void check_pyenv(unsigned minor)
{
	unsigned micro = 0;
	char *lib = find_pyenv_libpython(minor, &micro);
	if (!lib) {
		char msg[64];
		snprintf(msg, sizeof(msg), "CPython 3.%u not installed", minor);
		skipped(msg);
		return;
	}
	char label[32];
	snprintf(label, sizeof(label), "3.%u.%u", minor, micro);
	check_dwarf_against_builtin(label, lib, hexversion(minor, micro));
	free(lib);
}

#define PYENV_TEST(minor)                         \
	static void test_pyenv_3_##minor(void)    \
	{                                         \
		check_pyenv(minor);               \
	}
PYENV_TEST(8)
PYENV_TEST(9)
PYENV_TEST(10)
PYENV_TEST(11)
PYENV_TEST(12)
PYENV_TEST(13)

/* ---- (b') _asyncio's Future and Task in pyenv's builds -------------------- */

static const struct {
	const char *name;
	size_t off;
} asyncio_fields[] = {
#define F(f) { #f, offsetof(struct pyhs_asyncio_layout, f) }
	F(fut_size), F(fut_loop), F(fut_callback0), F(fut_callbacks),
	F(fut_exception), F(fut_result), F(fut_state), F(fut_awaited_by),
	F(task_size), F(task_fut_waiter), F(task_coro), F(task_name),
	F(task_context), F(task_node), F(tstate_tasks_head), F(interp_tasks_head),
#undef F
};

static int32_t asyncio_get(const struct pyhs_asyncio_layout *l, size_t i)
{
	return *(const int32_t *)((const char *)l + asyncio_fields[i].off);
}

/* The DWARF of each pyenv 3.8-3.13 _asyncio module against the built-in
 * table of its version: every fact the DWARF has. */
static void test_asyncio_pyenv(void)
{
	size_t checked = 0;
	for (unsigned minor = 8; minor <= 13; minor++) {
		unsigned micro = 0;
		char *lib = find_pyenv_libpython(minor, &micro), *so = NULL;
		if (!lib)
			continue;
		char *slash = strrchr(lib, '/');
		*slash = '\0';
		if (asprintf(&so, "%s/python3.%u/lib-dynload/_asyncio.cpython-3%u-x86_64-linux-gnu.so",
			     lib, minor, minor) < 0)
			so = NULL;
		free(lib);
		if (!so || access(so, R_OK) != 0) {
			free(so);
			continue;
		}
		struct pyhs_asyncio_layout dwarf, builtin;
		struct pyhs_error *err = pyhs_asyncio_layout_from_dwarf(so, &dwarf);
		if (!err)
			err = pyhs_asyncio_layout_builtin(hexversion(minor, micro), &builtin);
		if (err) {
			fprintf(stderr, "\n    %s: %s\n", so, err->message);
			pyhs_error_destroy(err);
			CU_FAIL("asyncio layout");
			free(so);
			continue;
		}
		size_t bad = 0;
		for (size_t i = 0; i < sizeof(asyncio_fields) / sizeof(asyncio_fields[0]); i++) {
			int32_t d = asyncio_get(&dwarf, i), b = asyncio_get(&builtin, i);
			if (d != b) {
				fprintf(stderr, "    3.%u.%u _asyncio: %s: DWARF %" PRId32
					", built-in %" PRId32 "\n", minor, micro,
					asyncio_fields[i].name, d, b);
				bad++;
			}
		}
		CU_ASSERT_EQUAL(bad, 0);
		checked++;
		free(so);
	}
	if (!checked)
		skipped("no pyenv 3.8-3.13 with an _asyncio module");
	else
		fprintf(stderr, "\n    _asyncio of %zu pyenv builds = built-in tables\n", checked);
}

/* ---- (c) Debian's /usr/bin/python3.11 ----------------------------------- */

#define DEBIAN_PYTHON311 "/usr/bin/python3.11"

struct elf_facts {
	char build_id[129]; /* hex */
	uint64_t py_version;
	bool has_py_version;
};

static void read_note_build_id(Elf *elf, struct elf_facts *ret)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nhdr;
		while ((off = gelf_getnote(data, off, &nhdr, &name_off,
					   &desc_off)) > 0) {
			if (nhdr.n_type != NT_GNU_BUILD_ID ||
			    nhdr.n_namesz != 4 ||
			    memcmp((char *)data->d_buf + name_off, "GNU", 4) ||
			    nhdr.n_descsz == 0 || nhdr.n_descsz > 64)
				continue;
			const unsigned char *d =
				(const unsigned char *)data->d_buf + desc_off;
			for (size_t i = 0; i < nhdr.n_descsz; i++)
				sprintf(ret->build_id + 2 * i, "%02x", d[i]);
			return;
		}
	}
}

/* Py_Version from .dynsym, read out of the section that holds it. */
static void read_py_version(Elf *elf, struct elf_facts *ret)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNSYM ||
		    shdr.sh_entsize == 0)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		size_t n = shdr.sh_size / shdr.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym))
				break;
			const char *name =
				elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (!name || strcmp(name, "Py_Version") ||
			    sym.st_size != 8)
				continue;
			Elf_Scn *s = elf_getscn(elf, sym.st_shndx);
			GElf_Shdr sh;
			Elf_Data *d = s ? elf_getdata(s, NULL) : NULL;
			if (!d || !gelf_getshdr(s, &sh) ||
			    sym.st_value < sh.sh_addr ||
			    sym.st_value - sh.sh_addr + 8 > d->d_size)
				return;
			memcpy(&ret->py_version,
			       (char *)d->d_buf + (sym.st_value - sh.sh_addr),
			       8);
			ret->has_py_version = true;
			return;
		}
	}
}

static bool read_elf_facts(const char *path, struct elf_facts *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf) {
		read_note_build_id(elf, ret);
		read_py_version(elf, ret);
		elf_end(elf);
	}
	close(fd);
	return ret->build_id[0] != '\0';
}

static void test_debian_python311(void)
{
	if (access(DEBIAN_PYTHON311, R_OK) != 0) {
		skipped("Debian's " DEBIAN_PYTHON311 " not installed");
		return;
	}
	struct elf_facts facts;
	if (!read_elf_facts(DEBIAN_PYTHON311, &facts)) {
		skipped(DEBIAN_PYTHON311 " has no build-id");
		return;
	}
	char *debug;
	if (asprintf(&debug, "/usr/lib/debug/.build-id/%.2s/%s.debug",
		     facts.build_id, facts.build_id + 2) < 0) {
		CU_FAIL("out of memory");
		return;
	}
	if (access(debug, R_OK) != 0) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "debug file %s of " DEBIAN_PYTHON311
			 " not installed (python3.11-dbg)",
			 debug);
		skipped(msg);
		free(debug);
		return;
	}
	/* Debian 3.11.2 must match the table made from pyenv's 3.11.7. */
	uint32_t version = facts.has_py_version ? (uint32_t)facts.py_version
						: hexversion(11, 0);
	CU_ASSERT_EQUAL(version >> 16, 0x030B);
	char label[64];
	snprintf(label, sizeof(label), "Debian %u.%u.%u", version >> 24,
		 (version >> 16) & 0xff, (version >> 8) & 0xff);
	check_dwarf_against_builtin(label, debug, version);

	/* The stripped executable itself has no DWARF. */
	struct pyhs_layout layout;
	struct pyhs_error *err =
		pyhs_layout_from_dwarf(DEBIAN_PYTHON311, &layout);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err) {
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_NOT_FOUND);
		pyhs_error_destroy(err);
	}
	free(debug);
}

/* ---- (d) Debian sid's 3.14 and 3.15, release and Py_DEBUG builds -------- */

/* The contents of the .PyRuntime section of an ELF file (the initialised
 * _PyRuntime, which starts with _Py_DebugOffsets), at most max bytes, in
 * buf. Returns the number of bytes, 0 if there is none. */
static size_t read_runtime_section(const char *path, uint8_t *buf, size_t max)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;
			Elf_Data *d;
			if (!gelf_getshdr(scn, &sh) ||
			    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
			    strcmp(name, ".PyRuntime") || !(d = elf_getdata(scn, NULL)) ||
			    !d->d_buf)
				continue;
			n = d->d_size < max ? d->d_size : max;
			memcpy(buf, d->d_buf, n);
			break;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return n;
}

/* The _Py_DebugOffsets a binary carries agree with its DWARF; the same
 * block said to be a newer version is read as the newest block layout,
 * and one with a value no CPython has is refused. */
static void check_debug_offsets(const char *label, const char *exe,
				const struct pyhs_layout *dwarf)
{
	uint8_t block[1024];
	size_t len = read_runtime_section(exe, block, sizeof(block));
	CU_ASSERT_FATAL(len >= 24);
	struct pyhs_layout l = *dwarf;
	size_t n = 0;
	struct pyhs_error *err = pyhs_layout_debug_offsets(block, len, &l, &n);
	if (err) {
		fprintf(stderr, "\n    %s: %s\n", label, err->message);
		pyhs_error_destroy(err);
		CU_FAIL("pyhs_layout_debug_offsets failed");
		return;
	}
	fprintf(stderr, "    %s: %zu facts in _Py_DebugOffsets\n", label, n);
	CU_ASSERT(n >= 40);
	CU_ASSERT_EQUAL(compare(label, &l, dwarf), 0);

	uint32_t version = 0;
	unsigned minor = pyhs_debug_offsets_minor(block, len, &version);
	if (minor == PYHS_NEWEST_MINOR) {
		uint8_t newer[sizeof(block)];
		memcpy(newer, block, len);
		uint64_t v = 0x031000a1; /* 3.16.0a1 */
		memcpy(newer + 8, &v, 8);
		size_t n2 = 0;
		l = *dwarf;
		err = pyhs_layout_debug_offsets(newer, len, &l, &n2);
		CU_ASSERT_PTR_NULL(err);
		pyhs_error_destroy(err);
		CU_ASSERT_EQUAL(n2, n);
		CU_ASSERT_EQUAL(compare(label, &l, dwarf), 0);
	}
	/* Every word after the version and flag set to a value no layout has. */
	uint8_t junk[sizeof(block)];
	memcpy(junk, block, len);
	for (size_t off = 24; off + 8 <= len; off += 8) {
		uint64_t v = 0x4141414141414141u;
		memcpy(junk + off, &v, 8);
	}
	l = *dwarf;
	err = pyhs_layout_debug_offsets(junk, len, &l, &n);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err) {
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_INPUT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "implausible"));
		pyhs_error_destroy(err);
	}
	CU_ASSERT_EQUAL(compare(label, &l, dwarf), 0);
	/* A plausible-looking size with an offset outside it. */
	memcpy(junk, block, len);
	uint64_t tiny = 8;
	memcpy(junk + 176, &tiny, 8); /* thread_state.size in 3.14 and 3.15 */
	err = pyhs_layout_debug_offsets(junk, len, &l, &n);
	CU_ASSERT_PTR_NOT_NULL(err);
	pyhs_error_destroy(err);
}

/* Where tests/debian_sid.py unpacks sid's interpreters. */
static char *sid_root(void)
{
	const char *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char *path = NULL;
	if (cache && *cache) {
		if (asprintf(&path, "%s/pyheapsnap-tests/sid/root", cache) < 0)
			return NULL;
	} else if (home) {
		if (asprintf(&path, "%s/.cache/pyheapsnap-tests/sid/root", home) < 0)
			return NULL;
	}
	return path;
}

static void check_sid(unsigned minor, bool pydebug)
{
	char *root = sid_root(), *exe = NULL, *debug = NULL;
	char label[64];
	snprintf(label, sizeof(label), "sid 3.%u%s", minor, pydebug ? "d" : "");
	if (!root || asprintf(&exe, "%s/usr/bin/python3.%u%s", root, minor,
			      pydebug ? "d" : "") < 0) {
		CU_FAIL("out of memory");
		free(root);
		return;
	}
	struct elf_facts facts;
	if (access(exe, R_OK) != 0 || !read_elf_facts(exe, &facts)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s not in the cache (tests/debian_sid.py fetch)", exe);
		skipped(msg);
		goto out;
	}
	CU_ASSERT_FATAL(facts.has_py_version);
	CU_ASSERT_EQUAL(facts.py_version >> 16, 0x0300u | minor);
	/* The release build's DWARF is in its debug file; python3.Xd keeps its own. */
	if (!pydebug && asprintf(&debug, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root,
				 facts.build_id, facts.build_id + 2) < 0) {
		CU_FAIL("out of memory");
		goto out;
	}
	struct pyhs_layout dwarf;
	if (check_dwarf_against_builtin_of(label, debug ? debug : exe,
					   (uint32_t)facts.py_version, pydebug, &dwarf))
		check_debug_offsets(label, exe, &dwarf);
out:
	free(debug);
	free(exe);
	free(root);
}

static void test_sid_3_14(void) { check_sid(14, false); }
static void test_sid_3_14d(void) { check_sid(14, true); }
static void test_sid_3_15(void) { check_sid(15, false); }
static void test_sid_3_15d(void) { check_sid(15, true); }

/* ---- errors ------------------------------------------------------------- */

static void expect_error(const char *path, enum pyhs_error_code code)
{
	struct pyhs_layout layout;
	struct pyhs_error *err = pyhs_layout_from_dwarf(path, &layout);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (!err)
		return;
	if (err->code != code)
		fprintf(stderr, "\n    %s: unexpected error %d: %s\n", path,
			(int)err->code, err->message);
	CU_ASSERT_EQUAL(err->code, code);
	pyhs_error_destroy(err);
}

static char *write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/pyhs-test-layout-XXXXXX");
	if (!path)
		return NULL;
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w <= 0) {
			close(fd);
			unlink(path);
			free(path);
			return NULL;
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
	return path;
}

static void test_dwarf_errors(void)
{
	expect_error("/nonexistent/libpython3.11.so.1.0", PYHS_ERROR_OS);

	static const char text[] = "this is not an ELF file\n";
	char *path = write_temp(text, sizeof(text) - 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	expect_error(path, PYHS_ERROR_INPUT);
	unlink(path);
	free(path);

	path = write_temp("\177ELF", 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	expect_error(path, PYHS_ERROR_INPUT);
	unlink(path);
	free(path);

	/* This test program: an ELF file without CPython's types (and, if
	 * built without -g, without DWARF). */
	expect_error("/proc/self/exe", PYHS_ERROR_NOT_FOUND);
}

/* Reads a whole file into memory. */
static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat st;
	void *buf = NULL;
	if (fstat(fileno(f), &st) == 0 && st.st_size > 0) {
		buf = malloc((size_t)st.st_size);
		if (buf && fread(buf, 1, (size_t)st.st_size, f) !=
				   (size_t)st.st_size) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)st.st_size;
	}
	fclose(f);
	return buf;
}

/* Where .debug_info is in an ELF image, or false. */
static bool find_debug_info(void *image, size_t len, size_t *off,
			    size_t *size)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	Elf *elf = elf_memory(image, len);
	if (!elf)
		return false;
	size_t shstrndx;
	bool found = false;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr shdr;
			if (!gelf_getshdr(scn, &shdr))
				continue;
			const char *name =
				elf_strptr(elf, shstrndx, shdr.sh_name);
			if (name && !strcmp(name, ".debug_info") &&
			    shdr.sh_type == SHT_PROGBITS &&
			    !(shdr.sh_flags & SHF_COMPRESSED) &&
			    shdr.sh_offset + shdr.sh_size <= len) {
				*off = shdr.sh_offset;
				*size = shdr.sh_size;
				found = true;
			}
		}
	}
	elf_end(elf);
	return found;
}

/* Truncated and damaged copies of a libpython must give errors or
 * layouts, never crashes (this runs under ASan and valgrind too). */
static void test_dwarf_damaged(void)
{
	unsigned micro;
	char *lib = find_pyenv_libpython(8, &micro);
	if (!lib) {
		skipped("CPython 3.8 not installed (damaged-DWARF test)");
		return;
	}
	size_t len = 0;
	unsigned char *image = slurp(lib, &len);
	free(lib);
	CU_ASSERT_PTR_NOT_NULL_FATAL(image);
	size_t off = 0, size = 0;
	if (!find_debug_info(image, len, &off, &size) || size < 65536) {
		free(image);
		skipped("libpython3.8 has no plain .debug_info");
		return;
	}

	/* Cut in the middle of .debug_info: the section headers are gone. */
	char *path = write_temp(image, off + size / 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	expect_error(path, PYHS_ERROR_INPUT);
	unlink(path);
	free(path);

	/* Overwrite pieces of .debug_info with garbage. */
	unsigned seed = 12345;
	for (int round = 0; round < 8; round++) {
		unsigned char *copy = malloc(len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, image, len);
		for (int k = 0; k < 16; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = off + (seed >> 8) % (size - 64);
			for (int b = 0; b < 64; b++) {
				seed = seed * 1103515245u + 12345u;
				copy[at + b] = (unsigned char)(seed >> 16);
			}
		}
		path = write_temp(copy, len);
		free(copy);
		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		struct pyhs_layout layout;
		struct pyhs_error *err = pyhs_layout_from_dwarf(path, &layout);
		if (err) {
			CU_ASSERT(err->code == PYHS_ERROR_INPUT ||
				  err->code == PYHS_ERROR_UNSUPPORTED ||
				  err->code == PYHS_ERROR_NOT_FOUND);
			pyhs_error_destroy(err);
		} else {
			for (size_t i = 0; i < pyhs_layout_nfields(); i++)
				CU_ASSERT(pyhs_layout_get(&layout, i) >= -1);
		}
		unlink(path);
		free(path);
	}
	free(image);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = CU_add_suite("layout", NULL, NULL);
	if (!suite ||
	    !CU_add_test(suite, "field metadata", test_metadata) ||
	    !CU_add_test(suite, "built-in tables complete",
			 test_builtin_complete) ||
	    !CU_add_test(suite, "built-in facts", test_builtin_facts) ||
	    !CU_add_test(suite, "unsupported versions",
			 test_builtin_unsupported) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.8",
			 test_pyenv_3_8) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.9",
			 test_pyenv_3_9) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.10",
			 test_pyenv_3_10) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.11",
			 test_pyenv_3_11) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.12",
			 test_pyenv_3_12) ||
	    !CU_add_test(suite, "DWARF = built-in, pyenv 3.13",
			 test_pyenv_3_13) ||
	    !CU_add_test(suite, "DWARF = built-in, Debian python3.11",
			 test_debian_python311) ||
	    !CU_add_test(suite, "DWARF = built-in = _Py_DebugOffsets, sid 3.14", test_sid_3_14) ||
	    !CU_add_test(suite, "DWARF = built-in = _Py_DebugOffsets, sid 3.14d", test_sid_3_14d) ||
	    !CU_add_test(suite, "DWARF = built-in = _Py_DebugOffsets, sid 3.15", test_sid_3_15) ||
	    !CU_add_test(suite, "DWARF = built-in = _Py_DebugOffsets, sid 3.15d", test_sid_3_15d) ||
	    !CU_add_test(suite, "asyncio DWARF = built-in, pyenv",
			 test_asyncio_pyenv) ||
	    !CU_add_test(suite, "DWARF errors", test_dwarf_errors) ||
	    !CU_add_test(suite, "damaged DWARF", test_dwarf_damaged)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
