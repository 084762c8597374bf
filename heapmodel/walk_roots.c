/*
 * The walk's roots: the interpreter's own (sys, sys.modules, builtins, the
 * interned strings), each thread's dict, the names of threads, and 3.14+'s
 * lists of asyncio tasks.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lines.h"
#include "walk.h"

/* ---- roots ---- */

/* The fields of a root, its name interned; false if the walk failed. */
static bool root_info(struct walker *w, enum pyhs_root_kind kind, uint32_t thread,
		      uint32_t frame, const char *name, bool holds_ref,
		      struct pyhs_root_info *ret)
{
	struct pyhs_root_info ri = { kind, thread, frame, PYHS_NO_STRING, holds_ref };
	struct pyhs_error *err;
	if (name && (err = pyhs_heap_intern_string(w->h, name, &ri.name))) {
		walker_fail(w, err);
		return false;
	}
	*ret = ri;
	return true;
}

void walk_root(struct walker *w, uint64_t addr, enum pyhs_root_kind kind,
	       uint32_t thread, uint32_t frame, const char *name, bool holds_ref)
{
	if (!addr || w->err)
		return;
	uint32_t j = pyhs_heap_add(w->h, addr, false, &w->err);
	struct pyhs_root r = { .obj = j };
	if (j == PYHS_NO_OBJECT ||
	    !root_info(w, kind, thread, frame, name, holds_ref, &r.info))
		return;
	if (!pyhs_root_vector_append(&w->h->roots, r))
		walker_fail(w, &pyhs_enomem);
}

void walk_pending_root(struct walker *w, uint64_t addr, enum pyhs_root_kind kind,
		       uint32_t thread, uint32_t frame, const char *name,
		       bool holds_ref)
{
	struct pending_root r = { .addr = addr };
	if (w->err || !root_info(w, kind, thread, frame, name, holds_ref, &r.info))
		return;
	if (!pending_root_vector_append(&w->pending_roots, r))
		walker_fail(w, &pyhs_enomem);
}

/* ---- the interned strings without a symbol ---- */

/* The most entries a dict taken for the interned strings may have. */
#define MAX_INTERNED_ENTRIES (UINT64_C(1) << 24)
#define DATA_CHUNK 4096

struct interned_check {
	const struct pyhs_heap *h;
	uint64_t n;
	bool bad;
};

static bool interned_entry_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct interned_check *c = arg;
	const struct pyhs_heap *h = c->h;
	uint64_t type;
	uint32_t state = 0;
	/* The table maps each interned str to itself; its state's low two
	 * bits (SSTATE_INTERNED_*) say it is interned. */
	if (key != value || !hrd(h, key + 8, &type) || type != h->str_type ||
	    !pyhs_target_read(h->t, key + (uint64_t)h->L->ascii_state, &state, 4) ||
	    !(state & 3)) {
		c->bad = true;
		return false;
	}
	c->n++;
	return true;
}

/* Is the object at addr a dict of the interned strings: an exact dict, not
 * empty, whose every entry maps an interned str to itself? */
static bool looks_interned(const struct pyhs_heap *h, uint64_t addr,
			   uint64_t dict_type)
{
	const struct pyhs_layout *L = h->L;
	uint64_t type, used, values, keys, nentries;
	if (!hrd(h, addr + 8, &type) || type != dict_type ||
	    !hrd_off(h, addr, L->dict_ma_used, &used) || !used ||
	    !hrd_off(h, addr, L->dict_ma_values, &values) || values ||
	    !hrd_off(h, addr, L->dict_ma_keys, &keys) ||
	    !hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    nentries < used || nentries > MAX_INTERNED_ENTRIES)
		return false;
	struct interned_check c = { .h = h };
	return pyhs_dict_foreach(h, addr, interned_entry_cb, &c, NULL) &&
	       !c.bad && c.n == used;
}

/* 3.8 to 3.11 keep the interned strings in a static variable of
 * unicodeobject.c, 'interned', a local symbol that only .symtab or a debug
 * file names. Without them, the table is looked for in the writable data
 * of the file holding _PyRuntime: a word there pointing to a dict that
 * looks_interned(). Exactly one such dict is trusted; none, or several,
 * and the table is not found. */
static uint64_t find_interned_in_data(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	uint64_t dict_type, found = 0, start, end;
	bool ambiguous = false;
	if (!h->str_type || !pyhs_target_symbol(h->t, "PyDict_Type", &dict_type))
		return 0;
	for (size_t i = 0; !ambiguous && pyhs_target_py_data(h->t, i, &start, &end); i++) {
		start &= ~(uint64_t)7;
		for (uint64_t at = start; at < end && !ambiguous; at += DATA_CHUNK) {
			uint64_t buf[DATA_CHUNK / 8];
			size_t n = end - at < DATA_CHUNK ? (size_t)(end - at) : DATA_CHUNK;
			if (!pyhs_target_read(h->t, at, buf, n / 8 * 8))
				continue;
			for (size_t k = 0; k < n / 8 && !ambiguous; k++) {
				uint64_t v = buf[k];
				if (!v || (v & 7) || v == found ||
				    !looks_interned(h, v, dict_type))
					continue;
				if (found)
					ambiguous = true;
				else
					found = v;
			}
		}
	}
	return ambiguous ? 0 : found;
}

static void walk_interned(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t v = 0;
	if (L->interp_interned >= 0) {
		if (hrd_off(h, h->interp, L->interp_interned, &v) && v) {
			walk_root(w, v, PYHS_ROOT_INTERNED, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
			return;
		}
	} else if ((pyhs_target_symbol(h->t, "interned", &v) ||
		    pyhs_target_symbol(h->t, "interned.lto_priv.0", &v)) &&
		   hrd(h, v, &v) && v) {
		walk_root(w, v, PYHS_ROOT_INTERNED, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
		return;
	}
	if ((v = find_interned_in_data(w))) {
		walk_root(w, v, PYHS_ROOT_INTERNED, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
		return;
	}
	pyhs_heap_warn(h, PYHS_WARN_MISSING_ROOT,
		       "the interned strings table was not found (no symbol names it in '%s' and no dict in its data holds only interned strings): interned strings nothing else refers to are missing, and references to the others unexplained",
		       pyhs_target_py_library(h->t));
}

void walk_roots(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t v;
	if (hrd_off(h, h->interp, L->interp_sysdict, &v))
		walk_root(w, v, PYHS_ROOT_SYS, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
	if (hrd_off(h, h->interp, L->interp_modules, &v))
		walk_root(w, v, PYHS_ROOT_SYS_MODULES, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
	if (hrd_off(h, h->interp, L->interp_builtins, &v))
		walk_root(w, v, PYHS_ROOT_BUILTINS, PYHS_NO_THREAD, PYHS_NO_FRAME, NULL, true);
	walk_interned(w);
	/* Threads, newest first in the interpreter's list (a set of those
	 * seen tells a list that loops). */
	uint64_t ts = 0;
	hrd_off(h, h->interp, L->interp_tstate_head, &ts);
	struct pyhs_addr_u32_map seen;
	pyhs_addr_u32_map_init(&seen);
	for (size_t k = 0; ts && k < MAX_THREADS && !w->err; k++) {
		struct pyhs_thread th = { .tstate = ts, .info.name = PYHS_NO_STRING };
		hrd_off(h, ts, L->tstate_thread_id, &th.info.ident);
		if (L->tstate_native_thread_id >= 0)
			hrd_off(h, ts, L->tstate_native_thread_id, &th.info.native_id);
		bool inserted;
		if (!pyhs_addr_u32_map_insert(&seen, ts, &inserted)) {
			walker_fail(w, &pyhs_enomem);
			break;
		}
		if (!inserted) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
				       "thread state list loops at 0x%" PRIx64, ts);
			break;
		}
		if (!pyhs_thread_vector_append(&h->threads, th)) {
			walker_fail(w, &pyhs_enomem);
			break;
		}
		if (hrd_off(h, ts, L->tstate_dict, &v))
			walk_root(w, v, PYHS_ROOT_THREAD_DICT, (uint32_t)k, PYHS_NO_FRAME, NULL, true);
		walk_thread_frames(w, ts, k);
		if (!hrd_off(h, ts, L->tstate_next, &ts))
			break;
	}
	pyhs_addr_u32_map_deinit(&seen);
}

/* The value of a small non-negative int object (up to 64 bits). */
static bool read_small_int(const struct pyhs_heap *h, uint64_t addr, uint64_t *ret)
{
	const struct pyhs_layout *L = h->L;
	uint64_t tag, n, v = 0;
	if (!hrd(h, addr + 16, &tag))
		return false;
	if (L->long_lv_tag >= 0) {
		if ((tag & 3) == 2)
			return false;
		n = tag >> 3;
	} else {
		if ((int64_t)tag < 0)
			return false;
		n = tag;
	}
	if (n > 3)
		return false;
	for (uint64_t i = n; i-- > 0;) {
		uint32_t d;
		if (!pyhs_target_read(h->t, addr + (uint64_t)L->long_digit + 4 * i, &d, 4))
			return false;
		v = (v << 30) | d;
	}
	*ret = v;
	return true;
}

/* An attribute of an instance, found among its decoded references: a
 * managed value labelled .name, or an entry of its __dict__. */
static uint64_t instance_attr(struct pyhs_heap *h, uint32_t obj, const char *name,
			      uint32_t dict_id)
{
	char s[128];
	for (uint64_t e = h->edge_start.data[obj]; e < h->edge_start.data[obj + 1]; e++) {
		uint32_t lab = h->edge_label.data[e];
		uint64_t dst = h->addr.data[h->edge_dst.data[e]];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_ATTR &&
		    pyhs_read_str(h, h->addr.data[PYHS_LABEL_PAYLOAD(lab)], s, sizeof(s)) &&
		    !strcmp(s, name))
			return dst;
		if (lab == PYHS_LABEL(PYHS_LABEL_FIELD, dict_id)) {
			uint64_t v = pyhs_dict_get_str(h, dst, name);
			if (v)
				return v;
		}
	}
	return 0;
}

struct thread_match {
	const struct pyhs_heap *h;
	uint64_t ident;
	uint64_t thread;
};

static bool match_ident(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct thread_match *m = arg;
	uint64_t ident;
	if (read_small_int(m->h, key, &ident) && ident == m->ident) {
		m->thread = value;
		return false;
	}
	return true;
}

/* Each thread's name: that of the threading.Thread whose ident the thread
 * state has, from threading._active. */
struct pyhs_error *walk_name_threads(struct pyhs_heap *h)
{
	const struct pyhs_layout *L = h->L;
	uint64_t sysdict, modules, threading, mdict, active;
	uint32_t dict_id;
	struct pyhs_error *err = pyhs_heap_intern_string(h, ".__dict__", &dict_id);
	if (err)
		return err;
	if (!hrd_off(h, h->interp, L->interp_sysdict, &sysdict) || !sysdict ||
	    !(modules = pyhs_dict_get_str(h, sysdict, "modules")) ||
	    !(threading = pyhs_dict_get_str(h, modules, "threading")) ||
	    !hrd_off(h, threading, L->module_md_dict, &mdict) || !mdict ||
	    !(active = pyhs_dict_get_str(h, mdict, "_active")))
		return NULL;
	for (size_t k = 0; k < h->threads.size; k++) {
		struct thread_match m = { h, h->threads.data[k].info.ident, 0 };
		pyhs_dict_foreach(h, active, match_ident, &m, NULL);
		uint32_t obj = m.thread ? pyhs_heap_lookup(h, m.thread) : PYHS_NO_OBJECT;
		if (obj == PYHS_NO_OBJECT)
			continue;
		uint64_t name_addr = instance_attr(h, obj, "_name", dict_id);
		char name[256];
		if (!name_addr || !pyhs_read_str(h, name_addr, name, sizeof(name)))
			continue;
		if ((err = pyhs_heap_intern_string(h, name, &h->threads.data[k].info.name)))
			return err;
	}
	return NULL;
}

#define MAX_LIST_TASKS (UINT64_C(1) << 24)

/* One 3.14+ list of tasks (a circular llist through TaskObj.task_node) as
 * borrowed roots of thread k (PYHS_NO_THREAD: the interpreter's list);
 * label names the list in warnings. */
static void walk_task_list(struct walker *w, uint64_t head, int32_t node_off,
			   uint32_t k_thread, const char *label)
{
	struct pyhs_heap *h = w->h;
	uint64_t node;
	if (!hrd(h, head, &node))
		return;
	for (uint64_t k = 0; node && node != head && !w->err; k++) {
		if (k >= MAX_LIST_TASKS) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT, "%s is too long or loops", label);
			return;
		}
		uint64_t task = node - (uint64_t)node_off;
		if (pyhs_heap_add(h, task, true, &w->err) == PYHS_NO_OBJECT) {
			if (!w->err)
				pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
					       "%s leads to 0x%" PRIx64 ", which is not a task; rest of the list skipped",
					       label, task);
			return;
		}
		walk_root(w, task,
			  k_thread == PYHS_NO_THREAD ? PYHS_ROOT_INTERP_TASKS : PYHS_ROOT_THREAD_TASKS,
			  k_thread, PYHS_NO_FRAME, NULL, false);
		if (!hrd(h, node, &node))
			return;
	}
}

/* 3.14+: the tasks of each thread, and of the threads that have ended. */
void walk_task_lists(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_asyncio_layout *A = &h->asyncio;
	if (A->task_node < 0)
		return;
	char label[64];
	for (size_t k = 0; k < h->threads.size && A->tstate_tasks_head >= 0; k++) {
		snprintf(label, sizeof(label), "thread %zu asyncio task list", k);
		walk_task_list(w, h->threads.data[k].tstate + (uint64_t)A->tstate_tasks_head,
			       A->task_node, (uint32_t)k, label);
	}
	if (A->interp_tasks_head >= 0)
		walk_task_list(w, h->interp + (uint64_t)A->interp_tasks_head, A->task_node,
			       PYHS_NO_THREAD, "interpreter asyncio task list");
}
