/*
 * The layout of _asyncio's C Future and Task objects (Modules/_asynciomodule.c
 * FutureObj and TaskObj): from the DWARF of the _asyncio extension module (or
 * of the binary that has it built in) when there is some, else from built-in
 * tables per version.
 *
 * The tables are what the DWARF of pyenv's 3.8.18 to 3.13.0 builds and of
 * Debian's 3.14.0 and 3.15.2 debug files say (for 3.14+, with the heads of
 * the lists of tasks that the thread and interpreter states keep). 3.10 grew fut_exception_tb in a patch
 * release (bpo-45924, 3.10.6): before it, 3.10 has the 3.9 layout.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

/* Each fact: its field in struct pyhs_asyncio_layout, and where DWARF has it. */
#define ASYNCIO_FACTS(X)                                   \
	X(fut_size, "FutureObj", NULL)                     \
	X(fut_loop, "FutureObj", "fut_loop")               \
	X(fut_callback0, "FutureObj", "fut_callback0")     \
	X(fut_callbacks, "FutureObj", "fut_callbacks")     \
	X(fut_exception, "FutureObj", "fut_exception")     \
	X(fut_result, "FutureObj", "fut_result")           \
	X(fut_state, "FutureObj", "fut_state")             \
	X(fut_awaited_by, "FutureObj", "fut_awaited_by")   \
	X(task_size, "TaskObj", NULL)                      \
	X(task_fut_waiter, "TaskObj", "task_fut_waiter")   \
	X(task_coro, "TaskObj", "task_coro")               \
	X(task_name, "TaskObj", "task_name")               \
	X(task_context, "TaskObj", "task_context")                          \
	X(task_node, "TaskObj", "task_node")                                \
	X(tstate_tasks_head, "_PyThreadStateImpl", "asyncio_tasks_head")    \
	X(interp_tasks_head, "PyInterpreterState|_is", "asyncio_tasks_head")

static const struct pyhs_dwarf_fact asyncio_facts[] = {
#define F(field, type, member) { type, member },
	ASYNCIO_FACTS(F)
#undef F
};
#define NFACTS (sizeof(asyncio_facts) / sizeof(asyncio_facts[0]))

static const size_t fact_offsets[] = {
#define F(field, type, member) offsetof(struct pyhs_asyncio_layout, field),
	ASYNCIO_FACTS(F)
#undef F
};

static const struct builtin {
	unsigned minor, micro_min;
	struct pyhs_asyncio_layout l;
} builtins[] = {
	/*         fut: size loop cb0 cbs exc res state awaited_by
	 *         task: size waiter coro name ctx node; thread, interp list head */
	{ 8, 0,  { 104, 16, 24, 40, 48, 56, 72, -1,
		   144, 104, 112, 120, 128, -1, -1, -1, "" } },
	{ 9, 0,  { 144, 16, 24, 40, 48, 56, 80, -1,
		   184, 144, 152, 160, 168, -1, -1, -1, "" } },
	{ 10, 6, { 152, 16, 24, 40, 48, 64, 88, -1,
		   192, 152, 160, 168, 176, -1, -1, -1, "" } },
	{ 10, 0, { 144, 16, 24, 40, 48, 56, 80, -1,
		   184, 144, 152, 160, 168, -1, -1, -1, "" } },
	{ 11, 0, { 128, 16, 24, 40, 48, 64, 88, -1,
		   176, 128, 136, 144, 152, -1, -1, -1, "" } },
	{ 12, 0, { 128, 16, 24, 40, 48, 64, 88, -1,
		   176, 128, 136, 144, 152, -1, -1, -1, "" } },
	{ 13, 0, { 104, 16, 24, 40, 48, 64, 96, -1,
		   144, 112, 120, 128, 136, -1, -1, -1, "" } },
	{ 14, 0, { 112, 16, 24, 40, 48, 64, 104, 96,
		   168, 120, 128, 136, 144, 152, 880, 10880, "" } },
	{ 15, 0, { 112, 16, 24, 40, 48, 64, 104, 96,
		   168, 120, 128, 136, 144, 152, 1048, 10856, "" } },
};

static const struct builtin *find_builtin(uint32_t version)
{
	unsigned minor = (version >> 16) & 0xff;
	unsigned micro = (version >> 8) & 0xff;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (builtins[i].minor == minor && micro >= builtins[i].micro_min)
			return &builtins[i];
	return NULL;
}

static bool is_asyncio_module(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, "_asyncio.", 9) == 0;
}

static const char *module_dwarf(const struct pyhs_module *m)
{
	if (m->debug_path)
		return m->debug_path;
	if (m->has_debug_info)
		return m->opened_path ? m->opened_path : m->path;
	return NULL;
}

struct pyhs_error *pyhs_asyncio_layout_builtin(uint32_t version_hex,
					       struct pyhs_asyncio_layout *ret)
{
	const struct builtin *b = find_builtin(version_hex);
	if (!b)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "no layout of _asyncio's Task for CPython 3.%u",
					 (version_hex >> 16) & 0xff);
	struct pyhs_asyncio_layout l = b->l;
	snprintf(l.source, sizeof(l.source), "builtin");
	*ret = l;
	return NULL;
}

struct pyhs_error *pyhs_asyncio_layout_from_dwarf(const char *path,
						  struct pyhs_asyncio_layout *ret)
{
	int32_t v[NFACTS];
	struct pyhs_error *err = pyhs_dwarf_facts(path, asyncio_facts, NFACTS, v);
	if (err)
		return err;
	struct pyhs_asyncio_layout l;
	for (size_t i = 0; i < NFACTS; i++)
		*(int32_t *)((char *)&l + fact_offsets[i]) = v[i];
	if (l.task_coro < 0 || l.fut_state < 0)
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					 "%s: no TaskObj and FutureObj in the DWARF", path);
	snprintf(l.source, sizeof(l.source), "dwarf");
	*ret = l;
	return NULL;
}

struct pyhs_error *pyhs_target_asyncio_layout(const struct pyhs_target *t,
					      uint32_t hexversion,
					      struct pyhs_asyncio_layout *ret)
{
	uint32_t version = hexversion ? hexversion : t->py_version;
	/* The extension module, else the binary that holds the runtime
	 * (where _asyncio may be built in). */
	const struct pyhs_module *m = NULL;
	for (size_t i = 0; i < t->modules.size && !m; i++)
		if (is_asyncio_module(t->modules.data[i].path))
			m = &t->modules.data[i];
	if (!m && t->runtime_module < t->modules.size)
		m = &t->modules.data[t->runtime_module];
	const char *dwarf = m && !t->opts.no_dwarf ? module_dwarf(m) : NULL;
	if (dwarf) {
		struct pyhs_asyncio_layout l;
		struct pyhs_error *err = pyhs_asyncio_layout_from_dwarf(dwarf, &l);
		if (err == &pyhs_enomem)
			return err;
		if (!err) {
			/* The interpreter's structs may be only declared in
			 * the module's units: the table has their fields. */
			const struct builtin *b = find_builtin(version);
			if (b && l.tstate_tasks_head < 0 && l.task_node >= 0)
				l.tstate_tasks_head = b->l.tstate_tasks_head;
			if (b && l.interp_tasks_head < 0 && l.task_node >= 0)
				l.interp_tasks_head = b->l.interp_tasks_head;
			*ret = l;
			return NULL;
		}
		pyhs_error_destroy(err);
	}
	return pyhs_asyncio_layout_builtin(version, ret);
}
