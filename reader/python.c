/* Finding the CPython runtime in a target: _PyRuntime, version, layout. */
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>

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

static bool read_debug_offsets_version(struct pyhs_target *t, uint64_t rt,
				       uint32_t *ret)
{
	char cookie[8];
	uint64_t version;
	if (!pyhs_memory_read(&t->mem, rt, cookie, 8) ||
	    memcmp(cookie, "xdebugpy", 8) != 0 ||
	    !pyhs_memory_read(&t->mem, rt + 8, &version, 8))
		return false;
	*ret = (uint32_t)version;
	return true;
}

static void version_text(uint32_t v, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u", v >> 24, (v >> 16) & 0xff);
}

/* Where _Py_DebugOffsets (3.13+, at the start of _PyRuntime) keeps the
 * facts it has, in 3.13 and in 3.14, and which layout fact each is. */
struct debug_offset {
	uint16_t pos13, pos14; /* 0: not in that version's block */
	size_t field;          /* offsetof(struct pyhs_layout, ...) */
};
#define DO(p13, p14, f) { p13, p14, offsetof(struct pyhs_layout, f) }
static const struct debug_offset debug_offsets[] = {
	DO(24, 24, rt_size), DO(40, 40, rt_interpreters_head),
	DO(48, 48, interp_size), DO(64, 64, interp_next),
	DO(72, 72, interp_tstate_head), DO(80, 88, interp_gc),
	DO(88, 96, interp_modules), DO(96, 104, interp_sysdict),
	DO(104, 112, interp_builtins),
	DO(152, 176, tstate_size), DO(168, 192, tstate_next),
	DO(176, 200, tstate_interp), DO(184, 208, tstate_current_frame),
	DO(192, 216, tstate_thread_id), DO(200, 224, tstate_native_thread_id),
	DO(224, 248, iframe_size), DO(232, 256, iframe_previous),
	DO(240, 264, iframe_code), DO(248, 272, iframe_instr),
	DO(256, 280, iframe_localsplus), DO(264, 288, iframe_owner),
	DO(0, 296, iframe_stacktop),
	DO(272, 312, code_size), DO(280, 320, code_filename),
	DO(288, 328, code_name), DO(296, 336, code_qualname),
	DO(304, 344, code_linetable), DO(312, 352, code_firstlineno),
	DO(320, 360, code_argcount), DO(328, 368, code_localsplusnames),
	DO(336, 376, code_localspluskinds), DO(344, 384, code_code_adaptive),
	DO(368, 416, type_size), DO(376, 424, type_tp_name),
	DO(392, 440, type_tp_flags),
	DO(408, 456, tuple_ob_item), DO(432, 480, list_ob_item),
	DO(0, 504, set_used), DO(0, 512, set_table), DO(0, 520, set_mask),
	DO(456, 536, dict_ma_keys), DO(464, 544, dict_ma_values),
	DO(480, 560, float_ob_fval), DO(496, 576, long_lv_tag),
	DO(504, 584, long_digit), DO(528, 608, bytes_ob_sval),
	DO(536, 616, unicode_size), DO(544, 624, ascii_state),
	DO(552, 632, ascii_length), DO(560, 640, ascii_size),
	DO(568, 648, gc_state_size), DO(576, 656, gc_collecting),
	DO(0, 672, gen_gi_name), DO(0, 680, gen_gi_iframe),
	DO(0, 688, gen_gi_frame_state),
};
#undef DO

/* 3.13+: the running build's own offsets override built-in tables (which
 * are per minor version and may miss a patch release's change); with DWARF
 * they are a cross-check. Free-threaded builds are refused. */
static struct pyhs_error *apply_debug_offsets(struct pyhs_target *t)
{
	char cookie[8];
	uint64_t version, free_threaded;
	if (!pyhs_memory_read(&t->mem, t->runtime, cookie, 8) ||
	    memcmp(cookie, "xdebugpy", 8) != 0 ||
	    !pyhs_memory_read(&t->mem, t->runtime + 8, &version, 8) ||
	    !pyhs_memory_read(&t->mem, t->runtime + 16, &free_threaded, 8))
		return NULL;
	unsigned minor = (version >> 16) & 0xff;
	if ((version >> 24) != 3 || minor < 13)
		return NULL;
	if (free_threaded)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "free-threaded CPython 3.%u builds are not supported",
					 minor);
	size_t mismatches = 0;
	for (size_t i = 0; i < sizeof(debug_offsets) / sizeof(debug_offsets[0]); i++) {
		const struct debug_offset *d = &debug_offsets[i];
		uint16_t pos = minor == 13 ? d->pos13 : d->pos14;
		uint64_t v;
		if (!pos || !pyhs_memory_read(&t->mem, t->runtime + pos, &v, 8) ||
		    v > INT32_MAX)
			continue;
		int32_t *f = (int32_t *)((char *)&t->layout + d->field);
		if (*f == (int32_t)v)
			continue;
		if (t->layout_source == PYHS_LAYOUT_DWARF)
			mismatches++;
		else
			*f = (int32_t)v;
	}
	if (mismatches)
		pyhs_target_warn(t, "%zu layout facts differ between DWARF and _Py_DebugOffsets; using DWARF",
				 mismatches);
	return NULL;
}

static struct pyhs_error *choose_layout(struct pyhs_target *t,
					struct pyhs_module *m)
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
	return pyhs_layout_builtin(t->py_version, &t->layout);
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
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "CPython %s runtime at 0x%llx has no interpreter (not initialised, or memory missing from the core)",
					 v, (unsigned long long)t->runtime);
	if (!read_ptr(t, interp, l->interp_sysdict, &sysdict) || !sysdict ||
	    !read_ptr(t, sysdict, 8, &type))
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "CPython %s interpreter at 0x%llx is unreadable (wrong layout, or memory missing from the core)",
					 v, (unsigned long long)interp);
	uint64_t dict_type;
	if (pyhs_target_symbol(t, "PyDict_Type", &dict_type) && type != dict_type)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "CPython %s interpreter at 0x%llx does not validate: sys.__dict__ is not a dict",
					 v, (unsigned long long)interp);
	if (read_ptr(t, interp, l->interp_tstate_head, &tstate) && tstate &&
	    (!read_ptr(t, tstate, l->tstate_interp, &back) || back != interp))
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
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
	if (!m) {
		bool missing_files = false;
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
	const struct pyhs_symbol *pv = pyhs_module_symbol(t, m, "Py_Version");
	uint64_t v64;
	uint32_t v;
	if (pv && pyhs_memory_read(&t->mem, pv->value + m->bias, &v64, 8)) {
		t->py_version = (uint32_t)v64;
	} else if (read_debug_offsets_version(t, t->runtime, &v)) {
		t->py_version = v;
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
	err = choose_layout(t, m);
	if (!err && (t->py_version >> 16) >= 0x030d)
		err = apply_debug_offsets(t);
	if (err)
		return err;
	if (t->layout.rt_size > 0 && rt_size &&
	    (uint64_t)t->layout.rt_size != rt_size)
		pyhs_target_warn(t,
				 "sizeof(_PyRuntimeState) is %llu in '%s' but %d in the layout used",
				 (unsigned long long)rt_size, m->path,
				 t->layout.rt_size);
	return validate(t);
}
