/*
 * The walk's frames: frame objects, interpreter frames, generators, the
 * stacks of threads and the names of closure cells.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lines.h"
#include "walk.h"

/* ---- frames ---- */

/* The code object of a frame, validated. */
static bool frame_code(struct walker *w, uint64_t code)
{
	uint64_t type;
	uint32_t ti;
	return code && hrd(w->h, code + 8, &type) &&
	       (ti = pyhs_type_get(w->h, type, &w->err)) != PYHS_NO_OBJECT &&
	       w->h->types.data[ti].kind == K_CODE;
}

/* Local names: ≤3.10 co_varnames + co_cellvars + co_freevars, 3.11+
 * co_localsplusnames. Returns the address of name i, or 0. */
static uint64_t local_name(struct walker *w, uint64_t code, uint64_t i)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t tuple, n;
	if (L->code_localsplusnames >= 0) {
		if (!hrd_off(w->h, code, L->code_localsplusnames, &tuple) ||
		    !hrd(w->h, tuple + 16, &n) || i >= n)
			return 0;
		uint64_t v;
		return hrd(w->h, tuple + (uint64_t)L->tuple_ob_item + 8 * i, &v) ? v : 0;
	}
	int32_t offs[3] = { L->code_varnames, L->code_cellvars, L->code_freevars };
	for (int k = 0; k < 3; k++) {
		if (!hrd_off(w->h, code, offs[k], &tuple) || !hrd(w->h, tuple + 16, &n))
			return 0;
		if (i < n) {
			uint64_t v;
			return hrd(w->h, tuple + (uint64_t)L->tuple_ob_item + 8 * i, &v) ? v : 0;
		}
		i -= n;
	}
	return 0;
}

static uint32_t local_label(struct walker *w, uint64_t code, uint64_t i)
{
	uint64_t name = local_name(w, code, i);
	if (!name)
		return PYHS_LABEL(PYHS_LABEL_INDEX, i);
	uint32_t j = pyhs_heap_add(w->h, name, false, &w->err);
	if (j == PYHS_NO_OBJECT || j > 0x0fffffff)
		return PYHS_LABEL(PYHS_LABEL_INDEX, i);
	return PYHS_LABEL(PYHS_LABEL_LOCAL, j);
}

static uint64_t code_nlocalsplus(struct walker *w, uint64_t code)
{
	const struct pyhs_layout *L = w->h->L;
	int32_t n = 0;
	if (L->code_nlocalsplus >= 0)
		pyhs_target_read(w->h->t, code + (uint64_t)L->code_nlocalsplus, &n, 4);
	return n > 0 ? (uint64_t)n : 0;
}

static uint64_t code_stacksize(struct walker *w, uint64_t code)
{
	int32_t n = 0;
	pyhs_target_read(w->h->t, code + (uint64_t)w->h->L->code_stacksize, &n, 4);
	return n > 0 ? (uint64_t)n : 0;
}

/* A 3.11+ _PyInterpreterFrame's references (f_code, f_funcobj, globals,
 * builtins, locals, frame object, local variables, value stack). yf: the
 * object on top of the stack a generator's frame is suspended awaiting (0
 * if none), whose reference is labelled yf_label. */
static void decode_iframe(struct walker *w, uint64_t f, uint64_t yf,
			  uint32_t yf_label)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t code;
	if (!hrd_off(h, f, L->iframe_code, &code))
		return;
	code &= ~UINT64_C(3);
	if (!frame_code(w, code))
		return;
	walk_edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	int32_t offs[4] = { L->iframe_func, L->iframe_globals, L->iframe_builtins,
			    L->iframe_locals };
	uint32_t ids[4] = { w->id_func, w->id_globals, w->id_builtins, w->id_locals };
	for (int k = 0; k < 4; k++) {
		uint64_t v;
		if (hrd_off(h, f, offs[k], &v) && (v & ~UINT64_C(3)) && (v & 3) != 3)
			walk_edge(w, v & ~UINT64_C(3), PYHS_LABEL(PYHS_LABEL_FIELD, ids[k]));
	}
	uint64_t nlocals = code_nlocalsplus(w, code);
	uint64_t top = nlocals;
	if (h->minor >= 14) {
		uint64_t sp;
		if (hrd_off(h, f, L->iframe_stacktop, &sp) &&
		    sp >= f + (uint64_t)L->iframe_localsplus)
			top = (sp - f - (uint64_t)L->iframe_localsplus) / 8;
	} else {
		int32_t st;
		if (pyhs_target_read(h->t, f + (uint64_t)L->iframe_stacktop, &st, 4) && st >= 0)
			top = (uint64_t)st;
	}
	uint64_t max = nlocals + code_stacksize(w, code);
	if (top > max)
		top = max;
	uint64_t base = f + (uint64_t)L->iframe_localsplus;
	for (uint64_t i = 0; i < top && !w->stop; i++) {
		uint64_t v;
		if (!hrd(h, base + 8 * i, &v))
			break;
		if ((v & 3) == 3)
			continue;
		v &= ~UINT64_C(3);
		if (!v)
			continue;
		if (i < nlocals)
			walk_edge(w, v, local_label(w, code, i));
		else if (yf && v == yf && i + 2 >= top)
			walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, yf_label));
		else
			walk_conservative_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i));
	}
}

/* ≤3.10 PyFrameObject. */
static void decode_frame_old(struct walker *w, uint64_t addr,
			     const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	walk_field(w, addr, L->frame_f_back, w->id_back);
	uint64_t code = 0;
	hrd_off(h, addr, L->frame_f_code, &code);
	if (!frame_code(w, code))
		return;
	walk_edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	/* f_builtins, f_globals, f_locals sit between f_code and f_valuestack. */
	for (int32_t off = L->frame_f_code + 8; off < L->frame_f_valuestack; off += 8) {
		uint64_t v;
		if (hrd_off(h, addr, off, &v))
			walk_unsure_edge(w, v, walk_field_label(ti, (uint64_t)off));
	}
	int32_t nlocals = 0;
	pyhs_target_read(h->t, code + (uint64_t)L->code_nlocals, &nlocals, 4);
	uint64_t ncells = 0, nfrees = 0, tuple;
	if (hrd_off(h, code, L->code_cellvars, &tuple))
		hrd(h, tuple + 16, &ncells);
	if (hrd_off(h, code, L->code_freevars, &tuple))
		hrd(h, tuple + 16, &nfrees);
	uint64_t nslots = (uint64_t)(nlocals > 0 ? nlocals : 0) + ncells + nfrees;
	uint64_t base = addr + (uint64_t)L->frame_f_localsplus;
	uint64_t obsize = 0;
	hrd(h, addr + 16, &obsize);
	if (nslots > obsize)
		nslots = obsize;
	for (uint64_t i = 0; i < nslots && !w->stop; i++) {
		uint64_t v;
		if (hrd(h, base + 8 * i, &v) && v)
			walk_edge(w, v, local_label(w, code, i));
	}
	/* The value stack, when the frame is not executing. */
	uint64_t depth = 0, vs;
	if (!hrd_off(h, addr, L->frame_f_valuestack, &vs))
		return;
	if (L->frame_f_stackdepth >= 0) {
		int32_t d;
		if (pyhs_target_read(h->t, addr + (uint64_t)L->frame_f_stackdepth, &d, 4) && d > 0)
			depth = (uint64_t)d;
	} else {
		uint64_t top;
		if (hrd_off(h, addr, L->frame_f_stacktop, &top) && top > vs)
			depth = (top - vs) / 8;
	}
	if (depth > code_stacksize(w, code))
		depth = code_stacksize(w, code);
	uint64_t yf = depth ? pyhs_old_frame_yf(h, addr, code) : 0;
	for (uint64_t i = 0; i < depth && !w->stop; i++) {
		uint64_t v;
		if (!hrd(h, vs + 8 * i, &v) || !v)
			continue;
		if (yf && v == yf && i + 1 == depth)
			walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_f_yieldfrom));
		else
			walk_unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, nslots + i));
	}
}

uint64_t walk_decode_frame(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t obsize = 0;
	hrd(h, addr + 16, &obsize);
	if (h->minor <= 10) {
		decode_frame_old(w, addr, ti);
		/* frame.__sizeof__ counts the slots the code needs, not the
		 * ob_size of a reused frame. */
		uint64_t code = 0, ncells = 0, nfrees = 0, tuple;
		int32_t nlocals = 0;
		hrd_off(h, addr, L->frame_f_code, &code);
		if (!frame_code(w, code))
			return (uint64_t)ti->basicsize + 8 * obsize;
		pyhs_target_read(h->t, code + (uint64_t)L->code_nlocals, &nlocals, 4);
		if (hrd_off(h, code, L->code_cellvars, &tuple))
			hrd(h, tuple + 16, &ncells);
		if (hrd_off(h, code, L->code_freevars, &tuple))
			hrd(h, tuple + 16, &nfrees);
		uint64_t extras = code_stacksize(w, code) +
				  (uint64_t)(nlocals > 0 ? nlocals : 0) + ncells + nfrees;
		return (uint64_t)L->frame_size + (extras ? extras - 1 : 0) * 8 -
		       (extras ? 0 : 8);
	}
	walk_field(w, addr, L->frame_f_back, w->id_back);
	uint64_t f;
	if (!hrd_off(h, addr, L->frame_f_frame, &f) || !f)
		return (uint64_t)ti->basicsize;
	uint64_t data = addr + (uint64_t)L->frame_f_frame_data;
	uint64_t code = 0;
	hrd_off(h, f, L->iframe_code, &code);
	code &= ~UINT64_C(3);
	uint64_t size = (uint64_t)L->frame_f_frame_data + (uint64_t)L->iframe_localsplus;
	if (frame_code(w, code))
		size += 8 * (code_nlocalsplus(w, code) + code_stacksize(w, code));
	if (f == data)
		decode_iframe(w, f, 0, 0);
	return size;
}

uint64_t walk_decode_gen(struct walker *w, uint64_t addr,
			 const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	if (h->minor <= 10) {
		walk_scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		return (uint64_t)ti->basicsize;
	}
	/* Fixed fields before the embedded frame. */
	walk_scan(w, ti, addr, 16, (uint64_t)L->gen_gi_iframe);
	int8_t state = 1;
	pyhs_target_read(h->t, addr + (uint64_t)L->gen_gi_frame_state, &state, 1);
	uint64_t f = addr + (uint64_t)L->gen_gi_iframe;
	uint64_t code = 0;
	if (L->gen_gi_code >= 0)
		hrd_off(h, addr, L->gen_gi_code, &code);
	else
		hrd_off(h, f, L->iframe_code, &code);
	code &= ~UINT64_C(3);
	uint64_t size = (uint64_t)L->gen_gi_iframe + (uint64_t)L->iframe_localsplus;
	if (frame_code(w, code))
		size += 8 * (code_nlocalsplus(w, code) + code_stacksize(w, code));
	/* gen_traverse visits the frame until it is cleared (FRAME_CLEARED is 4
	 * in 3.11-3.14, where the states before FRAME_COMPLETED (1) are the live
	 * ones, and 5 in 3.15, whose states count up from FRAME_CREATED (0)),
	 * and from 3.14 on the code object of a cleared one too. */
	if (h->minor >= 15 ? state >= 0 && state < 5 : state < 1) {
		struct pyhs_gen_frame g;
		uint64_t yf = pyhs_gen_frame(h, addr, &g) ? g.yf : 0;
		uint32_t label = ti->addr == w->coro_type ? w->id_cr_await :
				 ti->addr == w->asyncgen_type ? w->id_ag_await :
				 w->id_gi_yieldfrom;
		decode_iframe(w, f, yf, label);
	} else if (h->minor >= 14 && code) {
		walk_edge(w, code, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_code));
	}
	return size;
}

/* Adds the next frame of thread k, whose code object (validated) is at
 * code. instr: f_lasti (<=3.10, sign-extended) or the interpreter frame's
 * prev_instr/instr_ptr (3.11+, is_iframe); see pyhs_frame_line. Returns
 * its frame number, or PYHS_NO_FRAME if the walk failed. */
static uint32_t add_frame(struct walker *w, size_t k, uint64_t code, uint64_t instr,
			  bool is_iframe)
{
	struct pyhs_heap *h = w->h;
	struct pyhs_thread_info *ti = &h->threads.data[k].info;
	char name[128], file[256];
	int line;
	pyhs_code_location(h, code, instr, is_iframe, false, name, sizeof(name),
			   file, sizeof(file), &line);
	struct pyhs_frame_info f = {
		.thread = (uint32_t)k,
		.depth = ti->nframes,
		.line = line > 0 ? line : 0,
		.code = pyhs_heap_add(h, code, false, &w->err),
	};
	struct pyhs_error *err;
	if (w->err)
		return PYHS_NO_FRAME;
	if ((err = pyhs_heap_intern_string(h, name, &f.function)) ||
	    (err = pyhs_heap_intern_string(h, file, &f.file))) {
		walker_fail(w, err);
		return PYHS_NO_FRAME;
	}
	if (!ti->nframes)
		ti->first_frame = (uint32_t)h->frames.size;
	if (!pyhs_frame_vector_append(&h->frames, f)) {
		walker_fail(w, &pyhs_enomem);
		return PYHS_NO_FRAME;
	}
	ti->nframes++;
	return (uint32_t)(h->frames.size - 1);
}

/* A thread-owned interpreter frame (3.11+) at f, frame number fr of
 * thread k: its references are roots of the frame. */
static void thread_frame_refs(struct walker *w, uint64_t f, size_t k, uint32_t fr)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint32_t before = (uint32_t)h->edge_dst.size;
	size_t pbefore = w->pending.size;
	uint32_t saved_cur = w->cur;
	uint64_t sa = w->cur_addr, se = w->cur_end;
	w->cur_addr = f;
	w->cur_end = f + (uint64_t)L->iframe_localsplus;
	decode_iframe(w, f, 0, 0);
	for (uint64_t e = before; e < h->edge_dst.size && !w->err; e++) {
		char l[128];
		uint32_t lab = h->edge_label.data[e];
		uint64_t dst = h->addr.data[h->edge_dst.data[e]];
		/* Values are not read yet: name locals here. */
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_LOCAL) {
			if (!pyhs_read_str(h, h->addr.data[PYHS_LABEL_PAYLOAD(lab)], l, sizeof(l)))
				snprintf(l, sizeof(l), "?");
			walk_root(w, dst, PYHS_ROOT_FRAME_LOCAL, (uint32_t)k, fr, l, true);
			continue;
		}
		bool borrowed = lab == PYHS_LABEL(PYHS_LABEL_FIELD, w->id_globals) ||
				lab == PYHS_LABEL(PYHS_LABEL_FIELD, w->id_builtins);
		bool named = pyhs_heap_format_label(h, lab, l, sizeof(l));
		walk_root(w, dst, PYHS_ROOT_FRAME_REF, (uint32_t)k, fr, named ? l : NULL,
			  !borrowed);
	}
	h->edge_dst.size = before;
	h->edge_label.size = before;
	/* Words of its value stack: roots once resolved. */
	for (size_t p = pbefore; p < w->pending.size && !w->err; p++) {
		char l[128];
		if (!pyhs_heap_format_label(h, w->pending.data[p].label, l, sizeof(l)))
			l[0] = '\0';
		walk_pending_root(w, w->pending.data[p].addr, PYHS_ROOT_FRAME_REF,
				  (uint32_t)k, fr, l, false);
	}
	w->pending.size = pbefore;
	w->cur = saved_cur;
	w->cur_addr = sa;
	w->cur_end = se;
}

void walk_thread_frames(struct walker *w, uint64_t tstate, size_t k)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint32_t th = (uint32_t)k;
	uint64_t f = 0;
	if (h->minor <= 10) {
		hrd_off(h, tstate, L->tstate_frame, &f);
		for (int n = 0; f && n < MAX_FRAMES && !w->err; n++) {
			uint64_t code = 0;
			hrd_off(h, f, L->frame_f_code, &code);
			if (!frame_code(w, code))
				break;
			int32_t lasti = -2; /* unreadable: no line */
			if (L->frame_f_lasti >= 0)
				pyhs_target_read(h->t, f + (uint64_t)L->frame_f_lasti,
						 &lasti, sizeof(lasti));
			uint32_t fr = add_frame(w, k, code, (uint64_t)(int64_t)lasti, false);
			walk_root(w, f, PYHS_ROOT_FRAME, th, fr, NULL, false);
			if (!hrd_off(h, f, L->frame_f_back, &f))
				break;
		}
		return;
	}
	if (h->minor <= 12) {
		uint64_t cframe;
		if (!hrd_off(h, tstate, L->tstate_cframe, &cframe) || !cframe ||
		    !hrd_off(h, cframe, L->cframe_current_frame, &f))
			return;
	} else if (!hrd_off(h, tstate, L->tstate_current_frame, &f)) {
		return;
	}
	uint8_t owner_thread = 0, owner_gen = 1, owner_frame_obj = 2;
	uint64_t gen_off = (uint64_t)L->gen_gi_iframe;
	for (int n = 0; f && n < MAX_FRAMES && !w->err; n++) {
		uint8_t owner = 0;
		uint64_t code = 0, fobj = 0;
		pyhs_target_read(h->t, f + (uint64_t)L->iframe_owner, &owner, 1);
		hrd_off(h, f, L->iframe_code, &code);
		code &= ~UINT64_C(3);
		hrd_off(h, f, L->iframe_frame_obj, &fobj);
		/* Frames a C stack owns (3.12+'s entry trampolines) hold
		 * nothing and are not the program's. */
		if ((owner == owner_thread || owner == owner_gen || owner == owner_frame_obj) &&
		    frame_code(w, code)) {
			uint64_t instr = 0;
			hrd_off(h, f, L->iframe_instr, &instr);
			uint32_t fr = add_frame(w, k, code, instr, true);
			if (fr == PYHS_NO_FRAME)
				break;
			if (owner == owner_gen) {
				walk_root(w, f - gen_off, PYHS_ROOT_FRAME, th, fr, NULL, false);
			} else if (owner == owner_frame_obj) {
				walk_root(w, fobj, PYHS_ROOT_FRAME, th, fr, NULL, false);
			} else if (owner == owner_thread) {
				thread_frame_refs(w, f, k, fr);
				if (fobj)
					walk_root(w, fobj, PYHS_ROOT_FRAME, th, fr, NULL, true);
			}
		}
		if (!hrd_off(h, f, L->iframe_previous, &f))
			break;
	}
}

/* ---- names of closure cells ---- */

/* Names the contents of the cell object cell by the variable whose value
 * it holds (the str object at name), unless it is named already. */
static struct pyhs_error *name_cell(struct walker *w, uint64_t cell_type,
				    uint32_t cell, uint64_t name)
{
	struct pyhs_heap *h = w->h;
	char s[100];
	if (cell == PYHS_NO_OBJECT || h->types.data[h->type.data[cell]].addr != cell_type)
		return NULL;
	uint32_t plain = PYHS_LABEL(PYHS_LABEL_FIELD, w->id_cell_contents);
	for (uint64_t e = h->edge_start.data[cell]; e < h->edge_start.data[cell + 1]; e++) {
		if (h->edge_label.data[e] != plain)
			continue;
		if (!pyhs_read_str(h, name, s, sizeof(s)))
			return NULL;
		uint32_t id;
		struct pyhs_error *err = pyhs_heap_intern_string(h, s, &id);
		if (err)
			return err;
		h->edge_label.data[e] = PYHS_LABEL(PYHS_LABEL_CELL, id);
		break;
	}
	return NULL;
}

static uint64_t tuple_item(const struct pyhs_heap *h, uint64_t tuple, uint64_t i)
{
	uint64_t n, v;
	if (!tuple || !hrd(h, tuple + 16, &n) || i >= n ||
	    !hrd(h, tuple + (uint64_t)h->L->tuple_ob_item + 8 * i, &v))
		return 0;
	return v;
}

/* A function's cells (its __closure__) by its code's free variables. */
static struct pyhs_error *name_closure(struct walker *w, uint64_t cell_type,
				       uint64_t func)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t closure, code, names, kinds = 0, n;
	if (!hrd_off(h, func, L->func_closure, &closure) || !closure ||
	    !hrd_off(h, func, L->func_code, &code) || !code)
		return NULL;
	if (L->code_localsplusnames < 0) {
		if (!hrd_off(h, code, L->code_freevars, &names))
			return NULL;
	} else if (!hrd_off(h, code, L->code_localsplusnames, &names) ||
		   !hrd_off(h, code, L->code_localspluskinds, &kinds) || !kinds) {
		return NULL;
	}
	if (!names || !hrd(h, names + 16, &n) || n > (1u << 16))
		return NULL;
	uint64_t k = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t kind = 0x80; /* CO_FAST_FREE */
		if (kinds && !pyhs_target_read(h->t, kinds + (uint64_t)L->bytes_ob_sval + i, &kind, 1))
			return NULL;
		if (!(kind & 0x80))
			continue;
		uint64_t cell = tuple_item(h, closure, k++);
		uint64_t name = tuple_item(h, names, i);
		if (!cell || !name)
			return NULL;
		struct pyhs_error *err = name_cell(w, cell_type, pyhs_heap_lookup(h, cell), name);
		if (err)
			return err;
	}
	return NULL;
}

/* Cells held by functions (free variables) and by frames (locals). */
struct pyhs_error *walk_name_cells(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	uint64_t cell_type;
	struct pyhs_error *err = NULL;
	if (!pyhs_target_symbol(h->t, "PyCell_Type", &cell_type))
		return NULL;
	for (uint64_t i = 0; i < h->addr.size && !err; i++) {
		if (h->types.data[h->type.data[i]].kind == K_FUNCTION)
			err = name_closure(w, cell_type, h->addr.data[i]);
	}
	for (uint64_t e = 0; e < h->edge_dst.size && !err; e++) {
		uint32_t lab = h->edge_label.data[e];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_LOCAL)
			err = name_cell(w, cell_type, h->edge_dst.data[e],
					h->addr.data[PYHS_LABEL_PAYLOAD(lab)]);
	}
	return err;
}
