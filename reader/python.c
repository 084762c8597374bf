/* Finding the CPython runtime in a target: _PyRuntime, version, layout. */
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>

#include "python.h"
#include "symbols.h"
#include "target.h"

struct size_hint {
	uint64_t runtime_size;
	uint32_t version_hex;
};

/* sizeof(_PyRuntimeState) tells 3.8/3.9/3.10 apart when Py_Version (3.11+)
 * is missing and the library name does not say. */
static const struct size_hint runtime_sizes[] = {
	{ 1464, 0x030800f0 },
	{ 656, 0x030900f0 },
	{ 672, 0x030a00f0 },
};

static uint32_t version_from_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	unsigned minor;
	if (sscanf(base, "libpython3.%u", &minor) == 1 ||
	    sscanf(base, "python3.%u", &minor) == 1)
		return 0x03000000u | (minor << 16) | 0xf0;
	return 0;
}

/* The bytes of _Py_DebugOffsets at the start of _PyRuntime (3.13+): as
 * many of the first 1 KiB as the core has, in buf. */
static size_t read_debug_offsets(struct pyhs_target *t, uint8_t *buf, size_t n)
{
	while (n >= 24 && !pyhs_memory_read(&t->mem, t->runtime, buf, n))
		n /= 2;
	return n >= 24 ? n : 0;
}

static void version_text(uint32_t v, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u", v >> 24, (v >> 16) & 0xff);
}

/* 3.16.0a1, 3.15.2: a PY_VERSION_HEX as CPython writes it. */
static void version_full_text(uint32_t v, char *buf, size_t n)
{
	unsigned level = (v >> 4) & 0xf, serial = v & 0xf;
	const char *tag = level == 0xa ? "a" : level == 0xb ? "b" : level == 0xc ? "rc" : "";
	if (*tag)
		snprintf(buf, n, "%u.%u.%u%s%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
			 tag, serial);
	else
		snprintf(buf, n, "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
}

/* 3.13+: the running build's own offsets override built-in tables (which
 * are per minor version and may miss a patch release's change); with DWARF
 * they are a cross-check. A block that cannot be a layout is ignored with a
 * warning, except for a version newer than this build knows without DWARF,
 * which has nothing else to be read by. Free-threaded builds are refused. */
static struct pyhs_error *apply_debug_offsets(struct pyhs_target *t, bool newer)
{
	uint8_t block[1024];
	size_t len = read_debug_offsets(t, block, sizeof(block));
	unsigned minor = pyhs_debug_offsets_minor(block, len, NULL);
	if (!minor)
		return NULL;
	uint64_t free_threaded;
	memcpy(&free_threaded, block + 16, 8);
	if (free_threaded)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "free-threaded CPython 3.%u builds are not supported",
					 minor);
	struct pyhs_layout l = t->layout;
	size_t n;
	struct pyhs_error *err = pyhs_layout_debug_offsets(block, len, &l, &n);
	if (err && newer && t->layout_source != PYHS_LAYOUT_DWARF) {
		char v[32];
		version_full_text(t->py_version, v, sizeof(v));
		return pyhs_error_wrap(err, "CPython %s is newer than this build knows (3.8 to 3.%u) and cannot be read",
				       v, PYHS_NEWEST_MINOR);
	}
	if (err) {
		pyhs_target_warn(t, "%s; using the %s layout", err->message,
				 t->layout_source == PYHS_LAYOUT_DWARF ? "DWARF" : "built-in");
		pyhs_error_destroy(err);
		return NULL;
	}
	if (t->layout_source != PYHS_LAYOUT_DWARF) {
		t->layout = l;
		return NULL;
	}
	size_t mismatches = 0;
	for (size_t i = 0; i < pyhs_layout_nfields(); i++)
		if (pyhs_layout_get(&l, i) != pyhs_layout_get(&t->layout, i))
			mismatches++;
	if (mismatches)
		pyhs_target_warn(t, "%zu layout facts differ between DWARF and _Py_DebugOffsets; using DWARF",
				 mismatches);
	return NULL;
}

static struct pyhs_error *choose_layout(struct pyhs_target *t,
					struct pyhs_module *m, uint32_t builtin_version)
{
	const char *dwarf_path = NULL;
	if (m->debug_path)
		dwarf_path = m->debug_path;
	else if (m->has_debug_info)
		dwarf_path = m->opened_path;
	if (dwarf_path && !t->opts.no_dwarf) {
		struct pyhs_layout l;
		struct pyhs_error *err = pyhs_layout_from_dwarf(dwarf_path, &l);
		if (!err) {
			t->layout = l;
			t->layout_source = PYHS_LAYOUT_DWARF;
			t->dwarf_file = strdup(dwarf_path);
			if (!t->dwarf_file)
				return &pyhs_enomem;
			return NULL;
		}
		if (err == &pyhs_enomem)
			return err;
		pyhs_target_warn(t, "cannot use DWARF of '%s' (%s); using built-in layouts",
				 dwarf_path, err->message);
		pyhs_error_destroy(err);
	}
	t->layout_source = PYHS_LAYOUT_BUILTIN;
	/* Py_DEBUG builds (Py_REF_DEBUG) export _Py_NegativeRefcount. */
	uint64_t addr;
	if (pyhs_target_symbol(t, "_Py_NegativeRefcount", &addr))
		return pyhs_layout_builtin_pydebug(builtin_version, &t->layout);
	return pyhs_layout_builtin(builtin_version, &t->layout);
}

static bool read_ptr(struct pyhs_target *t, uint64_t addr, int32_t off,
		     uint64_t *ret)
{
	if (off < 0)
		return false;
	return pyhs_memory_read(&t->mem, addr + (uint64_t)off, ret, 8);
}

/* interpreter -> thread -> interpreter back-pointers, and a dict sysdict. */
static struct pyhs_error *validate(struct pyhs_target *t)
{
	const struct pyhs_layout *l = &t->layout;
	uint64_t interp, tstate, back, sysdict, type;
	char v[16];
	version_text(t->py_version, v, sizeof(v));
	if (!read_ptr(t, t->runtime, l->rt_interpreters_head, &interp) ||
	    !interp)
		return pyhs_error_at(PYHS_ERROR_UNSUPPORTED, t->runtime,
					 "CPython %s runtime at 0x%llx has no interpreter (not initialised, or memory missing from the core)",
					 v, (unsigned long long)t->runtime);
	if (!read_ptr(t, interp, l->interp_sysdict, &sysdict) || !sysdict ||
	    !read_ptr(t, sysdict, 8, &type))
		return pyhs_error_at(PYHS_ERROR_UNSUPPORTED, interp,
					 "CPython %s interpreter at 0x%llx is unreadable (wrong layout, or memory missing from the core)",
					 v, (unsigned long long)interp);
	uint64_t dict_type;
	if (pyhs_target_symbol(t, "PyDict_Type", &dict_type) && type != dict_type)
		return pyhs_error_at(PYHS_ERROR_UNSUPPORTED, interp,
					 "CPython %s interpreter at 0x%llx does not validate: sys.__dict__ is not a dict",
					 v, (unsigned long long)interp);
	if (read_ptr(t, interp, l->interp_tstate_head, &tstate) && tstate &&
	    (!read_ptr(t, tstate, l->tstate_interp, &back) || back != interp))
		return pyhs_error_at(PYHS_ERROR_UNSUPPORTED, tstate,
					 "CPython %s thread state at 0x%llx does not point back to its interpreter",
					 v, (unsigned long long)tstate);
	return NULL;
}

/* The .PyRuntime section (3.10+) of a module's file: where _PyRuntime is. */
static bool runtime_section(const struct pyhs_module *m, uint64_t *ret_addr,
			    uint64_t *ret_size)
{
	Elf *elf = elf_memory((char *)m->file, m->file_size);
	if (!elf)
		return false;
	size_t shstrndx;
	bool found = false;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;
			if (gelf_getshdr(scn, &sh) &&
			    (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
			    strcmp(name, ".PyRuntime") == 0 && sh.sh_addr) {
				*ret_addr = sh.sh_addr + m->bias;
				*ret_size = sh.sh_size;
				found = true;
			}
		}
	}
	elf_end(elf);
	return found;
}

/* The "xdebugpy" cookie _Py_DebugOffsets starts _PyRuntime with (3.13+),
 * 8-aligned somewhere in the module's memory. */
static bool runtime_cookie(const struct pyhs_target *t, const struct pyhs_module *m,
			   uint64_t *ret_addr)
{
	const struct pyhs_segment_vector *segs = &t->mem.segments;
	for (size_t i = 0; i < segs->size; i++) {
		const struct pyhs_segment *sg = &segs->data[i];
		uint64_t lo = sg->start > m->start ? sg->start : m->start;
		uint64_t hi = sg->end < m->end ? sg->end : m->end;
		if (lo >= hi)
			continue;
		const uint8_t *base = sg->data + (lo - sg->start), *p = base;
		size_t left = (size_t)(hi - lo);
		while (left >= 8) {
			const uint8_t *hit = memmem(p, left, "xdebugpy", 8);
			if (!hit)
				break;
			uint64_t addr = lo + (uint64_t)(hit - base);
			if (!(addr & 7)) {
				*ret_addr = addr;
				return true;
			}
			left -= (size_t)(hit + 1 - p);
			p = hit + 1;
		}
	}
	return false;
}

/* Finds _PyRuntime: its symbol, else (stripped binaries without it in
 * .dynsym, or when told to ignore it) the .PyRuntime section of a Python
 * module, else the _Py_DebugOffsets cookie in a Python module's memory. */
static struct pyhs_module *find_runtime(struct pyhs_target *t, uint64_t *ret_addr,
					uint64_t *ret_size)
{
	for (size_t pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < t->modules.size; i++) {
			struct pyhs_module *m = &t->modules.data[i];
			const struct pyhs_symbol *rt;
			bool found = false;
			if (pass == 0 && !(t->opts.runtime_skip & PYHS_SKIP_RUNTIME_SYMBOL) &&
			    (rt = pyhs_module_symbol(t, m, "_PyRuntime"))) {
				*ret_addr = rt->value + m->bias;
				*ret_size = rt->size;
				found = true;
			} else if (pass == 1 && !(t->opts.runtime_skip & PYHS_SKIP_RUNTIME_SECTION) &&
				   m->file && m->bias_known &&
				   strstr(m->path, "python")) {
				found = runtime_section(m, ret_addr, ret_size);
			} else if (pass == 2 && strstr(m->path, "python")) {
				*ret_size = 0;
				found = runtime_cookie(t, m, ret_addr);
			}
			if (found) {
				t->runtime_module = i;
				return m;
			}
		}
	}
	return NULL;
}

struct pyhs_error *pyhs_python_find(struct pyhs_target *t)
{
	uint64_t rt_size = 0;
	struct pyhs_module *m = find_runtime(t, &t->runtime, &rt_size);
	/* A 3.13+ runtime is found by its cookie even when its binary is
	 * missing, but without the binary's symbols nothing can be read. */
	if (!m || !m->file) {
		bool missing_files = m != NULL;
		for (size_t i = 0; i < t->modules.size; i++)
			if (!t->modules.data[i].file &&
			    strstr(t->modules.data[i].path, "python"))
				missing_files = true;
		if (missing_files)
			return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
						 "no CPython runtime found: the Python binaries the core names are missing or do not match (try --exe or --sysroot)");
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "no CPython runtime found: not a Python process, or its binaries are missing");
	}

	struct pyhs_error *err = pyhs_module_fetch_debug(t, m);
	if (err)
		return err;
	/* The version the process's own _Py_DebugOffsets says (3.13+), else
	 * the binary's Py_Version (3.11+), its name, or its runtime's size. */
	const struct pyhs_symbol *pv = pyhs_module_symbol(t, m, "Py_Version");
	uint8_t block[24];
	uint64_t v64;
	uint32_t v;
	if (pyhs_memory_read(&t->mem, t->runtime, block, sizeof(block)) &&
	    pyhs_debug_offsets_minor(block, sizeof(block), &v)) {
		t->py_version = v;
	} else if (pv && pyhs_memory_read(&t->mem, pv->value + m->bias, &v64, 8)) {
		t->py_version = (uint32_t)v64;
	} else if ((v = version_from_name(m->path))) {
		t->py_version = v;
	} else {
		for (size_t i = 0; i < sizeof(runtime_sizes) / sizeof(runtime_sizes[0]); i++)
			if (runtime_sizes[i].runtime_size == rt_size)
				t->py_version = runtime_sizes[i].version_hex;
	}
	if ((t->py_version >> 24) != 3)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "cannot tell the CPython version of '%s'",
					 m->path);
	/* A version newer than any this build knows is read by its own
	 * _Py_DebugOffsets over the newest layout known (or its DWARF). */
	bool newer = ((t->py_version >> 16) & 0xff) > PYHS_NEWEST_MINOR;
	char full[32];
	version_full_text(t->py_version, full, sizeof(full));
	if (newer && !pyhs_debug_offsets_minor(block, sizeof(block), NULL))
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "CPython %s is newer than this build knows (3.8 to 3.%u) and has no _Py_DebugOffsets to read it by",
					 full, PYHS_NEWEST_MINOR);
	err = choose_layout(t, m, newer ? 0x030000f0u | (PYHS_NEWEST_MINOR << 16)
				      : t->py_version);
	if (!err && (t->py_version >> 16) >= 0x030d)
		err = apply_debug_offsets(t, newer);
	if (err)
		return err;
	if (newer)
		pyhs_target_warn(t, t->layout_source == PYHS_LAYOUT_DWARF
				 ? "CPython %s is newer than this build knows (3.8 to 3.%u); read by its DWARF"
				 : "CPython %s is newer than this build knows (3.8 to 3.%u); read by its _Py_DebugOffsets over the 3.15 layout",
				 full, PYHS_NEWEST_MINOR);
	if (t->layout.rt_size > 0 && rt_size &&
	    (uint64_t)t->layout.rt_size != rt_size)
		pyhs_target_warn(t,
				 "sizeof(_PyRuntimeState) is %llu in '%s' but %d in the layout used",
				 (unsigned long long)rt_size, m->path,
				 t->layout.rt_size);
	return validate(t);
}
