/*
 * The heap walk: objects on the GC lists and everything reachable from them
 * and from the interpreter's roots, decoded type by type. Objects are
 * numbered in discovery order and decoded in number order, so the edges of
 * object i are contiguous and edge_start is monotonic.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "croots.h"
#include "lines.h"
#include "walk.h"

/* Stops the walk with err (the current object's decoding first). */
void walker_fail(struct walker *w, struct pyhs_error *err)
{
	w->err = err;
	w->stop = true;
}

/* ---- edges ---- */

static void add_edge(struct walker *w, uint32_t dst, uint32_t label)
{
	struct pyhs_heap *h = w->h;
	if (h->edge_dst.size >= h->max_edges) {
		if (h->warn_count[PYHS_WARN_CAP]++ == 0)
			pyhs_heap_warn(h, PYHS_WARN_CAP,
				       "stopped at %" PRIu64 " references (raise the cap with --max-edges)",
				       h->max_edges);
		return;
	}
	if (h->prefault && (PYHS_PREFAULT_FULL(&h->edge_dst) || PYHS_PREFAULT_FULL(&h->edge_label)))
		pyhs_prefault_quiesce(h->prefault);
	if (!pyhs_u32_vector_append(&h->edge_dst, dst) ||
	    !pyhs_u32_vector_append(&h->edge_label, label)) {
		walker_fail(w, &pyhs_enomem);
		return;
	}
	PYHS_PREFAULT_ASK(h->prefault, &h->edge_dst);
	PYHS_PREFAULT_ASK(h->prefault, &h->edge_label);
}

/* A reference the type's layout says is an object pointer. */
uint32_t walk_edge(struct walker *w, uint64_t addr, uint32_t label)
{
	if (!addr || w->err)
		return PYHS_NO_OBJECT;
	uint32_t j = pyhs_heap_add(w->h, addr, false, &w->err);
	if (j == PYHS_NO_OBJECT) {
		if (w->err) {
			w->stop = true;
			return j;
		}
		pyhs_heap_warn(w->h, PYHS_WARN_BAD_POINTER,
			       "object 0x%" PRIx64 " refers to 0x%" PRIx64 ", which is not an object",
			       w->cur_addr, addr);
		if (++w->bad > MAX_BAD_REFERENCES && w->bad > w->good) {
			w->stop = true;
			pyhs_heap_warn(w->h, PYHS_WARN_CORRUPT,
				       "object 0x%" PRIx64 " is corrupt: gave up after %" PRIu64 " references that lead nowhere",
				       w->cur_addr, w->bad);
		}
		return j;
	}
	w->good++;
	add_edge(w, j, label);
	return j;
}

bool walk_plausible_pointer(uint64_t v)
{
	return v >= 4096 && !(v & 7) && v <= UINT64_C(0x7fffffffffff);
}

/* A word a verified type says holds an object pointer, or NULL, or a
 * pointer that may be stale (a value stack above its live top): made an
 * object only if the whole of it validates, and no warning if not. */
void walk_unsure_edge(struct walker *w, uint64_t v, uint32_t label)
{
	if (!walk_plausible_pointer(v) || (v >= w->cur_addr && v < w->cur_end) || w->err)
		return;
	uint32_t j = pyhs_heap_add(w->h, v, true, &w->err);
	if (j != PYHS_NO_OBJECT)
		add_edge(w, j, label);
	else if (w->err)
		w->stop = true;
}

/* A word of C memory no type describes: an edge of the current object if,
 * once the walk is over, it is the address of an object. */
void walk_conservative_edge(struct walker *w, uint64_t v, uint32_t label)
{
	if (!walk_plausible_pointer(v) || (v >= w->cur_addr && v < w->cur_end) || w->err)
		return;
	struct pending_ref p = { v, w->cur, label };
	if (!pending_ref_vector_append(&w->pending, p))
		walker_fail(w, &pyhs_enomem);
}

uint32_t walk_field(struct walker *w, uint64_t addr, int32_t off,
		    uint32_t name_id)
{
	uint64_t v;
	if (!hrd_off(w->h, addr, off, &v) || !v)
		return PYHS_NO_OBJECT;
	return walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, name_id));
}

/* ---- one object ---- */

/* Kinds whose decoder scans the whole C struct itself. */
static bool scans_from_header(enum pyhs_kind kind)
{
	return kind == K_FUNCTION || kind == K_CODE || kind == K_MODULE ||
	       kind == K_LRU || kind == K_GEN;
}

static void owned_ref(void *arg, uint64_t target, uint32_t label)
{
	walk_unsure_edge(arg, target, label);
}

static void decode(struct walker *w, uint32_t i)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t addr = h->addr.data[i];
	walk_type_fields(w, &h->types.data[h->type.data[i]]);
	if (w->err)
		return;
	/* A copy: decoding registers new types, which moves the table. */
	const struct pyhs_type_info type_copy = h->types.data[h->type.data[i]];
	const struct pyhs_type_info *ti = &type_copy;
	uint64_t obsize = 0;
	if (ti->itemsize || ti->kind == K_LIST || ti->kind == K_DEQUE)
		hrd(h, addr + 16, &obsize);
	int64_t sobsize = (int64_t)obsize;
	uint64_t absize = pyhs_uabs64(sobsize);
	uint64_t size = (uint64_t)ti->basicsize +
			(ti->itemsize ? (uint64_t)ti->itemsize * absize : 0);
	w->cur = i;
	w->good = w->bad = 0;
	w->stop = w->err != NULL;
	w->cur_addr = addr;
	w->cur_end = addr + ((uint64_t)ti->basicsize > 16 ? (uint64_t)ti->basicsize : 16);
	if (!pyhs_target_ptr(h->t, addr, (size_t)ti->basicsize > 16 ? (size_t)ti->basicsize : 16)) {
		uint8_t probe[8];
		if (!pyhs_target_read(h->t, addr + (uint64_t)ti->basicsize - 8, probe, 8)) {
			h->flags.data[i] |= PYHS_OBJ_UNREADABLE;
			pyhs_heap_warn(h, PYHS_WARN_UNREADABLE,
				       "object 0x%" PRIx64 " (%" PRId64 " bytes) is only partly in the core",
				       addr, ti->basicsize);
		}
	}
	if (ti->heap)
		walk_decode_instance(w, addr, ti, obsize);
	uint64_t v;
	switch (ti->kind) {
	case K_DICT:
		size = walk_decode_dict(w, addr);
		break;
	case K_ODICT: {
		size = walk_decode_dict(w, addr);
		uint64_t fast = 0, used = 0, first = 0;
		hrd_off(h, addr, L->odict_fast_nodes_size, &fast);
		hrd_off(h, addr, L->dict_ma_used, &used);
		/* od_first is the field right after the dict */
		hrd(h, addr + 48, &first);
		size += 8 * fast + (first ? ODICT_NODE_SIZE * used : 0);
		break;
	}
	case K_LIST:
		if (hrd_off(h, addr, L->list_ob_item, &v) && v)
			walk_items(w, v, absize, false);
		hrd_off(h, addr, L->list_allocated, &v);
		size = (uint64_t)ti->basicsize + 8 * v;
		break;
	case K_TUPLE:
		walk_items(w, addr + (uint64_t)L->tuple_ob_item, absize, false);
		break;
	case K_SET:
		size = walk_decode_set(w, addr, ti);
		break;
	case K_STR:
		size = walk_str_size(w, addr);
		break;
	case K_INT:
		size = walk_int_size(w, addr);
		break;
	case K_BYTEARRAY:
		/* 3.15 keeps the buffer in a bytes object (ob_bytes_object),
		 * which bytearray.__sizeof__ counts whole. */
		if (hrd_off(h, addr, L->bytearray_ob_alloc, &v))
			size = (uint64_t)ti->basicsize + v +
			       (L->bytearray_ob_bytes_object >= 0 && v
					? (uint64_t)L->bytes_ob_sval + 1 : 0);
		break;
	case K_FLOAT:
	case K_COMPLEX:
	case K_BYTES:
	case K_OBJECT:
		break;
	case K_TYPE:
		size = walk_decode_type(w, addr);
		break;
	case K_FRAME:
		size = walk_decode_frame(w, addr, ti);
		break;
	case K_GEN:
		size = walk_decode_gen(w, addr, ti);
		break;
	case K_DEQUE:
		size = walk_decode_deque(w, addr, ti);
		break;
	case K_WEAKREF:
		if (hrd_off(h, addr, L->weakref_wr_object, &v) && v)
			walk_unsure_edge(w, v, PYHS_LABEL(PYHS_LABEL_WEAK, 0));
		walk_field(w, addr, L->weakref_wr_callback, w->id_callback);
		break;
	case K_LRU: {
		walk_scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		uint64_t link = 0;
		hrd(h, addr + LRU_ELEM_NEXT, &link);
		/* A corrupt ring must not spin: bound it by the cache's size. */
		uint64_t cache = 0, cached = 0, limit = 1 << 20;
		if (hrd(h, addr + LRU_CACHE, &cache) && cache &&
		    hrd_off(h, cache, L->dict_ma_used, &cached) && cached < limit)
			limit = cached + 1;
		for (uint64_t k = 0; link && link != addr && k < limit && !w->stop; k++) {
			uint64_t key, result;
			if (hrd(h, link + LRU_ELEM_KEY, &key))
				walk_unsure_edge(w, key, PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0));
			if (hrd(h, link + LRU_ELEM_RESULT, &result))
				walk_unsure_edge(w, result, PYHS_LABEL(PYHS_LABEL_ITEM, 0));
			if (!hrd(h, link + LRU_ELEM_NEXT, &link))
				break;
		}
		break;
	}
	case K_MODULE:
		walk_decode_module(w, addr, ti);
		break;
	case K_CODE:
		walk_scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		break;
	case K_FUNCTION:
	case K_OPAQUE:
	default:
		walk_scan(w, ti, addr, 16, (uint64_t)ti->kind_basicsize);
		if (!ti->heap && ti->itemsize == 8 && absize < (1u << 20))
			walk_scan(w, ti, addr, (uint64_t)ti->basicsize,
			     (uint64_t)ti->basicsize + 8 * absize);
		break;
	}
	/* Fields a static subtype adds to a decoded builtin (the factory
	 * of a defaultdict, the fields of an OrderedDict). */
	if (ti->kind != K_OPAQUE && ti->kind != K_OBJECT &&
	    ti->kind_basicsize > ti->base_basicsize && ti->base_basicsize >= 16 &&
	    !scans_from_header(ti->kind))
		walk_scan(w, ti, addr, (uint64_t)ti->base_basicsize,
		     (uint64_t)ti->kind_basicsize);
	struct pyhs_error *err = pyhs_owned_refs(h, h->type.data[i], addr,
						 owned_ref, w);
	if (err)
		walker_fail(w, err);
	bool inexact;
	size = pyhs_size_adjust(h, h->type.data[i], addr, size, &inexact);
	if (inexact)
		h->flags.data[i] |= PYHS_OBJ_SIZE_INEXACT;
	struct pyhs_error *serr = NULL;
	pyhs_heap_set_size(h, i, size + walk_gc_extra(w, ti, addr), &serr);
	if (serr)
		walker_fail(w, serr);
}

/* ---- fetching ahead ---- */

/* Objects are decoded in number order, most of them found long before
 * they are decoded: the bytes of the object OBJECT_AHEAD ahead are
 * fetched, and the index slots of the references of the one SLOTS_AHEAD
 * ahead (its bytes fetched by then), so that decoding them waits less on
 * memory. Hints only: what they read changes nothing. */
#define OBJECT_AHEAD 16
#define SLOTS_AHEAD 8
#define AHEAD_BYTES 64

static void fetch_ahead(struct walker *w, uint64_t i)
{
	struct pyhs_heap *h = w->h;
	uint64_t j = i + OBJECT_AHEAD;
	if (j < h->addr.size) {
		struct walk_ahead *a = &w->ahead[j % WALK_AHEAD];
		a->addr = h->addr.data[j];
		a->p = pyhs_target_ptr(h->t, a->addr, AHEAD_BYTES);
		if (a->p) {
			pyhs_prefetch(a->p);
			pyhs_prefetch(a->p + AHEAD_BYTES - 1);
		}
	}
	j = i + SLOTS_AHEAD;
	if (j >= h->addr.size)
		return;
	const struct walk_ahead *a = &w->ahead[j % WALK_AHEAD];
	if (!a->p || a->addr != h->addr.data[j])
		return;
	const struct pyhs_type_info *ti = &h->types.data[h->type.data[j]];
	uint64_t from, to = AHEAD_BYTES;
	if (ti->kind == K_TUPLE) {
		from = (uint64_t)h->L->tuple_ob_item;
	} else if (ti->heap && ti->kind == K_OBJECT) {
		from = (uint64_t)ti->kind_basicsize;
		if ((uint64_t)ti->basicsize < to)
			to = (uint64_t)ti->basicsize;
	} else {
		return;
	}
	for (uint64_t off = from; off + 8 <= to; off += 8) {
		uint64_t v;
		memcpy(&v, a->p + off, 8);
		if (!walk_plausible_pointer(v))
			continue;
		pyhs_heap_prefetch(h, v);
		/* Its header, read if it is a new object. */
		const uint8_t *q = pyhs_target_ptr(h->t, v, 16);
		if (q)
			pyhs_prefetch(q);
	}
}

/* The list head of GC generation g (3: the permanent generation). */
static uint64_t gc_list_head(const struct pyhs_heap *h, uint64_t gc, int g)
{
	const struct pyhs_layout *L = h->L;
	return g < 3 ? gc + (uint64_t)L->gc_generations + (uint64_t)g * (uint64_t)L->gc_generation_size :
		       gc + (uint64_t)L->gc_permanent_generation;
}

/* The nodes of the list at head, first to last, appended to nodes: at
 * most limit of them, ending before the head, at a next pointer that
 * cannot be read or be a node's, or at the first node met twice (Brent's
 * cycle finding), which is appended once more. Each node's next is read
 * here, one cache miss after another, with nothing else to wait for, so
 * that the objects can then be made with their headers and index slots
 * fetched well ahead. The list is read again as far as it goes on from
 * where this stops: it only saves reads. */
static bool chase_gc_list(const struct pyhs_heap *h, uint64_t head, uint64_t limit,
			  struct pyhs_u64_vector *nodes)
{
	uint64_t p;
	if (!hrd(h, head, &p))
		return true;
	p &= ~UINT64_C(3);
	uint64_t tortoise = p, power = 1, lam = 0;
	for (uint64_t k = 0; p != head && k < limit && walk_plausible_pointer(p); k++) {
		if (!pyhs_u64_vector_append(nodes, p))
			return false;
		uint64_t next;
		if (!hrd(h, p, &next))
			break;
		p = next & ~UINT64_C(3);
		if (p == tortoise) {
			/* Met again: the walk of the list stops there. */
			return pyhs_u64_vector_append(nodes, p) != NULL;
		}
		if (++lam == power) {
			tortoise = p;
			power *= 2;
			lam = 0;
		}
	}
	return true;
}

/* How far ahead of its making a node's index slot and header are
 * fetched. */
#define GC_LIST_AHEAD 16

/* The objects of GC generation g's list at head, nodes[0, n) its first
 * nodes as chase_gc_list found them. */
static void add_gc_list(struct walker *w, int g, uint64_t head, const uint64_t *nodes,
			size_t n)
{
	struct pyhs_heap *h = w->h;
	uint64_t p;
	if (!hrd(h, head, &p)) {
		pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
			       "GC generation %d list head is unreadable", g);
		return;
	}
	p &= ~UINT64_C(3);
	for (uint64_t steps = 0; p != head && !w->err; steps++) {
		if (steps >= MAX_LIST_STEPS) {
			pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
				       "GC generation %d list is too long", g);
			break;
		}
		if (steps + GC_LIST_AHEAD < n) {
			uint64_t q = nodes[steps + GC_LIST_AHEAD] + 16;
			pyhs_heap_prefetch(h, q);
			const uint8_t *b = pyhs_target_ptr(h->t, q - 16, 32);
			if (b)
				pyhs_prefetch(b);
		}
		/* The next node as the chase read it, else read now. */
		uint64_t next = 0;
		bool have_next = steps + 1 < n;
		if (have_next)
			next = nodes[steps + 1];
		else
			have_next = hrd(h, p, &next);
		uint32_t j = pyhs_heap_add(h, p + 16, false, &w->err);
		if (j == PYHS_NO_OBJECT) {
			if (!w->err)
				pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
					       "GC generation %d list leads to 0x%" PRIx64 ", which is not an object; rest of the list skipped",
					       g, p + 16);
			break;
		}
		if (h->gen.data[j] != PYHS_GEN_UNTRACKED) {
			pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
				       "GC generation %d list loops at 0x%" PRIx64 "; rest of the list skipped",
				       g, p + 16);
			break;
		}
		h->gen.data[j] = (uint8_t)g;
		h->gc[g].objects++;
		if (!have_next) {
			pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
				       "GC generation %d list is cut at 0x%" PRIx64, g, p);
			break;
		}
		p = next & ~UINT64_C(3);
	}
}

static void walk_gc_lists(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t gc = h->minor == 8 ? pyhs_target_runtime(h->t) + (uint64_t)L->rt_gc :
				      h->interp + (uint64_t)L->interp_gc;
	h->gc_state = gc;
	int32_t enabled = 0, collecting = 0;
	pyhs_target_read(h->t, gc + (uint64_t)L->gc_enabled, &enabled, 4);
	pyhs_target_read(h->t, gc + (uint64_t)L->gc_collecting, &collecting, 4);
	h->gc_enabled = enabled != 0;
	if (collecting)
		pyhs_heap_warn(h, PYHS_WARN_GC_LIST,
			       "the core was taken during a garbage collection: objects being collected are on lists we cannot see");
	/* The lists chased first: no more nodes than objects can still be
	 * made, one more to meet the cap as making them would. */
	struct pyhs_u64_vector nodes;
	pyhs_u64_vector_init(&nodes);
	size_t start[5] = { 0 };
	uint64_t room = h->max_objects > h->addr.size ? h->max_objects - h->addr.size : 0;
	bool chased = true;
	for (int g = 0; g < 4 && chased; g++) {
		start[g] = nodes.size;
		chased = chase_gc_list(h, gc_list_head(h, gc, g), room + 1, &nodes);
	}
	if (!chased)
		nodes.size = 0; /* out of memory: the lists read as they go */
	for (int g = chased ? 4 : 0; g < 5; g++)
		start[g] = nodes.size;
	/* Most objects a program holds are not on the GC lists (strs, ints,
	 * floats, bytes): the index is made at once to take twice as many
	 * as the lists hold, rather than being rebuilt at each doubling on
	 * the way. A hint: growing fails later if it must. */
	(void)pyhs_heap_index_reserve(h, h->addr.size + 2 * (uint64_t)nodes.size);
	for (int g = 0; g < 4 && !w->err; g++) {
		uint64_t head = gc_list_head(h, gc, g);
		pyhs_target_read(h->t, head + (uint64_t)L->gc_generation_threshold,
				 &h->gc[g].threshold, 4);
		pyhs_target_read(h->t, head + (uint64_t)L->gc_generation_count,
				 &h->gc[g].count, 4);
		add_gc_list(w, g, head, nodes.data + start[g], start[g + 1] - start[g]);
	}
	pyhs_u64_vector_deinit(&nodes);
}

/* ---- conservative references, once every object is known ---- */

/* Makes the pending edges and roots whose words are objects' addresses,
 * and merges the edges into each source's run. edge_start has its final
 * entry. */
static struct pyhs_error *resolve_pending(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	for (size_t k = 0; k < w->pending_roots.size; k++) {
		const struct pending_root *r = &w->pending_roots.data[k];
		uint32_t j = pyhs_heap_lookup(h, r->addr);
		struct pyhs_root root = { j, 0, r->info };
		if (j != PYHS_NO_OBJECT && !pyhs_root_vector_append(&h->roots, root))
			return &pyhs_enomem;
	}
	size_t kept = 0;
	for (size_t k = 0; k < w->pending.size; k++) {
		struct pending_ref p = w->pending.data[k];
		uint32_t j = pyhs_heap_lookup(h, p.addr);
		if (j == PYHS_NO_OBJECT)
			continue;
		p.addr = j;
		w->pending.data[kept++] = p;
	}
	uint64_t nedges = h->edge_dst.size;
	if (nedges + kept > h->max_edges) {
		if (h->warn_count[PYHS_WARN_CAP]++ == 0)
			pyhs_heap_warn(h, PYHS_WARN_CAP,
				       "stopped at %" PRIu64 " references (raise the cap with --max-edges)",
				       h->max_edges);
		kept = nedges < h->max_edges ? (size_t)(h->max_edges - nedges) : 0;
	}
	if (!kept)
		return NULL;
	if (!pyhs_u32_vector_reserve(&h->edge_dst, nedges + kept) ||
	    !pyhs_u32_vector_reserve(&h->edge_label, nedges + kept))
		return &pyhs_enomem;
	h->edge_dst.size = h->edge_label.size = nedges + kept;
	uint32_t *dst = h->edge_dst.data, *lab = h->edge_label.data;
	uint32_t *es = h->edge_start.data;
	uint64_t wpos = nedges + kept;
	size_t p = kept;
	/* From the last object down, each run moves up by the pending edges
	 * of the objects before it; the pending ones go after it. */
	for (uint64_t i = h->addr.size; i-- > 0;) {
		uint64_t start = es[i], end = es[i + 1];
		es[i + 1] = (uint32_t)wpos; /* below max_edges */
		while (p > 0 && w->pending.data[p - 1].src == i) {
			p--;
			wpos--;
			dst[wpos] = (uint32_t)w->pending.data[p].addr;
			lab[wpos] = w->pending.data[p].label;
		}
		for (uint64_t e = end; e-- > start;) {
			wpos--;
			dst[wpos] = dst[e];
			lab[wpos] = lab[e];
		}
	}
	return NULL;
}

/* ---- objects only conservative scanning found ---- */

/* What decoding one object may add, to take back. */
struct walk_mark {
	size_t objects, edges, roots, frames, pending, pending_roots, examples;
	uint64_t warn_count[PYHS_WARN_NKINDS];
};

static void walk_mark(const struct walker *w, struct walk_mark *m)
{
	const struct pyhs_heap *h = w->h;
	*m = (struct walk_mark){ .objects = h->addr.size, .edges = h->edge_dst.size,
				 .roots = h->roots.size, .frames = h->frames.size,
				 .pending = w->pending.size,
				 .pending_roots = w->pending_roots.size,
				 .examples = h->warn_examples.size };
	memcpy(m->warn_count, h->warn_count, sizeof(m->warn_count));
}

static bool walk_warned_since(const struct walker *w, const struct walk_mark *m)
{
	return memcmp(m->warn_count, w->h->warn_count, sizeof(m->warn_count)) != 0;
}

static void walk_take_back(struct walker *w, const struct walk_mark *m)
{
	struct pyhs_heap *h = w->h;
	if (!pyhs_heap_truncate(h, (uint32_t)m->objects))
		walker_fail(w, &pyhs_enomem);
	h->edge_dst.size = h->edge_label.size = m->edges;
	h->roots.size = m->roots;
	h->frames.size = m->frames;
	w->pending.size = m->pending;
	w->pending_roots.size = m->pending_roots;
	while (h->warn_examples.size > m->examples)
		free(h->warn_examples.data[--h->warn_examples.size]);
	memcpy(h->warn_count, m->warn_count, sizeof(h->warn_count));
}

/* Once every object a real reference reaches is decoded, the next
 * candidate no such reference made an object: made the next object and
 * decoded, if its header, type and size validate and its decoding warns
 * of nothing (every reference it holds is an object's); else taken back,
 * with all its decoding added, and counted, never warned of. False when
 * no candidate is left. */
static bool walk_candidate(struct walker *w)
{
	struct pyhs_heap *h = w->h;
	while (w->next_candidate < w->candidates.size && !w->err) {
		uint64_t v = w->candidates.data[w->next_candidate++];
		if (pyhs_heap_lookup(h, v) != PYHS_NO_OBJECT)
			continue;
		struct walk_mark m;
		walk_mark(w, &m);
		uint32_t j = pyhs_heap_add(h, v, true, &w->err);
		if (j == PYHS_NO_OBJECT)
			continue; /* no object's header: most words are none */
		/* j is i: objects are numbered as they are made. */
		if (!pyhs_heap_append_edge_start(h)) {
			walker_fail(w, &pyhs_enomem);
			return false;
		}
		decode(w, j);
		if (w->err || !walk_warned_since(w, &m))
			return !w->err;
		walk_take_back(w, &m);
		h->candidates_dropped++;
	}
	return false;
}

static struct pyhs_error *intern_ids(struct walker *w)
{
	struct { uint32_t *id; const char *s; } names[] = {
		{ &w->id_class, ".__class__" }, { &w->id_dict, ".__dict__" },
		{ &w->id_mro, ".__mro__" }, { &w->id_bases, ".__bases__" },
		{ &w->id_base, ".__base__" }, { &w->id_name, ".__name__" },
		{ &w->id_qualname, ".__qualname__" }, { &w->id_slots, ".__slots__" },
		{ &w->id_module, ".__module__" }, { &w->id_cache, ".tp_cache" },
		{ &w->id_subclasses, ".__subclasses__" },
		{ &w->id_callback, ".__callback__" }, { &w->id_code, ".f_code" },
		{ &w->id_func, ".f_func" }, { &w->id_globals, ".f_globals" },
		{ &w->id_builtins, ".f_builtins" }, { &w->id_locals, ".f_locals" },
		{ &w->id_back, ".f_back" }, { &w->id_frame, ".frame" },
		{ &w->id_items, ".items" }, { &w->id_values, ".values" },
		{ &w->id_cell_contents, ".cell_contents" },
		{ &w->id_cr_await, ".cr_await" }, { &w->id_ag_await, ".ag_await" },
		{ &w->id_gi_yieldfrom, ".gi_yieldfrom" },
		{ &w->id_f_yieldfrom, ".f_yieldfrom" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct pyhs_error *err = pyhs_heap_intern_string(w->h, names[i].s,
								 names[i].id);
		if (err)
			return err;
	}
	return NULL;
}

/* sys.hexversion, which has the patch level the binary may not. */
static void read_hexversion(struct pyhs_heap *h)
{
	const struct pyhs_layout *L = h->L;
	uint64_t sysdict, word, digit = 0;
	if (!hrd_off(h, h->interp, L->interp_sysdict, &sysdict) || !sysdict)
		return;
	uint64_t hv = pyhs_dict_get_str(h, sysdict, "hexversion");
	if (hv && hrd(h, hv + 16, &word)) {
		uint64_t nd = L->long_lv_tag >= 0 ? word >> 3 : word;
		if (nd == 1 && pyhs_target_read(h->t, hv + (uint64_t)L->long_digit, &digit, 4) &&
		    (digit >> 24) == 3)
			h->meta.hexversion = (uint32_t)digit;
	}
}

struct pyhs_error *pyhs_walk(struct pyhs_heap *h)
{
	struct walker w = { .h = h };
	const struct pyhs_layout *L = h->L;
	struct pyhs_error *err = intern_ids(&w);
	if (err)
		return err;
	pyhs_target_symbol(h->t, "PyCoro_Type", &w.coro_type);
	pyhs_target_symbol(h->t, "PyAsyncGen_Type", &w.asyncgen_type);
	if (!hrd_off(h, pyhs_target_runtime(h->t), L->rt_interpreters_head,
		     &h->interp) || !h->interp)
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "cannot read the interpreter state");
	/* The pages read for symbols and layouts are not needed again. */
	pyhs_target_release_pages(h->t);
	/* The columns grow into pages faulted in beside the walk. */
	if (h->jobs > 1)
		h->prefault = pyhs_prefault_create();
	walk_gc_lists(&w);
	walk_roots(&w);
	pyhs_croots_find(h, &w, &w.err);
	uint64_t v;
	if (!w.err && hrd_off(h, h->interp, L->interp_sysdict, &v) && v) {
		uint64_t s = pyhs_dict_get_str(h, v, "version");
		char buf[256];
		if (s && pyhs_read_str(h, s, buf, sizeof(buf)) &&
		    !(h->meta.version = pyhs_heap_own(h, buf)))
			w.err = &pyhs_enomem;
	}
	read_hexversion(h);
	size_t types_rooted = 0;
	bool task_lists = false;
	for (uint64_t i = 0; !w.err; i++) {
		if (i == h->addr.size) {
			if (!walk_candidate(&w))
				break;
		} else if (!pyhs_heap_append_edge_start(h)) {
			w.err = &pyhs_enomem;
			break;
		} else {
			fetch_ahead(&w, i);
			decode(&w, (uint32_t)i);
		}
		/* Once a task has been met (and with it the layout of
		 * _asyncio), the lists 3.14+ keep tasks on. */
		if (!task_lists && h->asyncio_state == 1) {
			task_lists = true;
			walk_task_lists(&w);
		}
		if ((i & 0xffff) == 0xffff)
			pyhs_heap_progress(h, "walking the heap", i + 1, 0);
		/* Static types met as the type of an object are roots. */
		while (types_rooted < h->types.size && !w.err) {
			const struct pyhs_type_info *ti = &h->types.data[types_rooted++];
			if (!ti->heap) {
				char name[256] = "?";
				uint64_t np;
				if (hrd_off(h, ti->addr, L->type_tp_name, &np))
					pyhs_read_cstr(h, np, name, sizeof(name));
				walk_root(&w, ti->addr, PYHS_ROOT_STATIC_TYPE, PYHS_NO_THREAD,
					  PYHS_NO_FRAME, name, false);
			}
		}
	}
	if (!w.err && !pyhs_heap_append_edge_start(h))
		w.err = &pyhs_enomem;
	/* What follows reallocates the columns without asking. */
	pyhs_prefault_destroy(h->prefault);
	h->prefault = NULL;
	if (!w.err)
		w.err = resolve_pending(&w);
	if (!w.err)
		w.err = walk_name_cells(&w);
	/* Every object is found: their columns spilled (decided on them
	 * alone) before the C roots count references beside them. */
	if (!w.err && pyhs_heap_spillable_bytes(h) >= h->spill_above)
		w.err = pyhs_heap_spill_objects(h);
	pyhs_croots(h, &w, &w.err);
	/* After the C roots, whose count of references left unexplained
	 * takes 4 bytes an object too, for a while. */
	if (!w.err)
		w.err = pyhs_heap_widen(h);
	pending_ref_vector_deinit(&w.pending);
	pending_root_vector_deinit(&w.pending_roots);
	pyhs_u64_vector_deinit(&w.candidates);
	if (w.err)
		return w.err;
	if ((err = walk_name_threads(h)) || (err = pyhs_render_roots(h)))
		return err;
	for (uint64_t i = 0; i < h->addr.size; i++) {
		uint8_t g = h->gen.data[i];
		if (g < 4)
			h->gc[g].bytes += pyhs_u32_column_at(&h->size32, i);
	}
	return NULL;
}

const struct pyhs_asyncio_layout *pyhs_heap_asyncio_layout(struct pyhs_heap *h)
{
	if (h->asyncio_state == 0 && h->t) {
		/* The built-in tables differ between patch releases. */
		if (!h->meta.hexversion && h->interp)
			read_hexversion(h);
		struct pyhs_error *err = pyhs_target_asyncio_layout(h->t, h->meta.hexversion,
								    &h->asyncio);
		h->asyncio_state = err ? -1 : 1;
		if (err) {
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT,
				       "asyncio Future and Task objects are scanned without names: %s",
				       err->message);
			pyhs_error_destroy(err);
		}
	}
	return h->asyncio_state == 1 ? &h->asyncio : NULL;
}
