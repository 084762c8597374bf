/* Finding the CPython runtime in a target: _PyRuntime, version, layout. */
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

struct pyhs_error *pyhs_python_find(struct pyhs_target *t)
{
	struct pyhs_module *m = NULL;
	const struct pyhs_symbol *rt = NULL;
	for (size_t i = 0; i < t->modules.size; i++) {
		rt = pyhs_module_symbol(t, &t->modules.data[i], "_PyRuntime");
		if (rt) {
			m = &t->modules.data[i];
			t->runtime_module = i;
			break;
		}
	}
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
	t->runtime = rt->value + m->bias;

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
			if (runtime_sizes[i].runtime_size == rt->size)
				t->py_version = runtime_sizes[i].version_hex;
	}
	if ((t->py_version >> 24) != 3)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "cannot tell the CPython version of '%s'",
					 m->path);
	struct pyhs_error *err = choose_layout(t, m);
	if (err)
		return err;
	if (t->layout.rt_size > 0 && rt->size &&
	    (uint64_t)t->layout.rt_size != rt->size)
		pyhs_target_warn(t,
				 "sizeof(_PyRuntimeState) is %llu in '%s' but %d in the layout used",
				 (unsigned long long)rt->size, m->path,
				 t->layout.rt_size);
	return validate(t);
}
