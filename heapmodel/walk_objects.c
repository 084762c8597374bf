/*
 * The walk's readers of objects: dicts, sequences, sets, deques, instances
 * of heap types (slots, __dict__, inline values), sizes and modules.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lines.h"
#include "walk.h"

/* ---- dicts ---- */

static uint64_t usable_fraction(uint64_t n)
{
	return (n << 1) / 3;
}

uint64_t pyhs_dict_keys_size(const struct pyhs_heap *h, uint64_t keys)
{
	const struct pyhs_layout *L = h->L;
	if (h->minor <= 10) {
		uint64_t size;
		if (!hrd_off(h, keys, L->dictkeys_dk_size, &size) ||
		    size > (UINT64_C(1) << 40))
			return 0;
		uint64_t ix = size <= 0xff ? 1 : size <= 0xffff ? 2 :
			      size <= 0xffffffff ? 4 : 8;
		return (uint64_t)L->dictkeys_size + ix * size +
		       24 * usable_fraction(size);
	}
	uint8_t log2 = 0, log2_index = 0, kind = 0;
	if (!pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_size, &log2, 1) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_kind, &kind, 1) ||
	    log2 > 40 || log2_index > 43)
		return 0;
	return (uint64_t)L->dictkeys_size + (UINT64_C(1) << log2_index) +
	       usable_fraction(UINT64_C(1) << log2) * (kind == 0 ? 24 : 16);
}

bool pyhs_dict_foreach(const struct pyhs_heap *h, uint64_t dict,
		       bool (*cb)(void *arg, uint64_t key, uint64_t value,
				  uint64_t i),
		       void *arg, uint64_t *ret_size)
{
	const struct pyhs_layout *L = h->L;
	uint64_t keys, values, type;
	if (!hrd_off(h, dict, L->dict_ma_keys, &keys) || !keys ||
	    !hrd_off(h, dict, L->dict_ma_values, &values) ||
	    !hrd(h, dict + 8, &type))
		return false;
	uint64_t basicsize = 48;
	uint32_t *ti = pyhs_addr_u32_map_search(&h->type_by_addr, type);
	if (ti)
		basicsize = (uint64_t)h->types.data[*ti].basicsize;
	uint64_t nentries, entries, esize, key_off, value_off, dk_refcnt;
	uint64_t size = basicsize;
	if (!hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    !hrd_off(h, keys, L->dictkeys_dk_refcnt, &dk_refcnt))
		return false;
	if (h->minor <= 10) {
		uint64_t dk_size;
		if (!hrd_off(h, keys, L->dictkeys_dk_size, &dk_size) ||
		    !dk_size || (dk_size & (dk_size - 1)) ||
		    dk_size > (UINT64_C(1) << 40) || nentries > dk_size)
			return false;
		uint64_t ix = dk_size <= 0xff ? 1 : dk_size <= 0xffff ? 2 :
			      dk_size <= 0xffffffff ? 4 : 8;
		entries = keys + (uint64_t)L->dictkeys_dk_indices + ix * dk_size;
		esize = 24;
		key_off = 8;
		value_off = 16;
		if (values)
			size += 8 * usable_fraction(dk_size);
	} else {
		uint8_t log2 = 0, log2_index = 0, kind = 0;
		if (!pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_size, &log2, 1) ||
		    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
		    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_kind, &kind, 1) ||
		    log2 > 40 || log2_index > 43 ||
		    nentries > (UINT64_C(1) << log2))
			return false;
		entries = keys + (uint64_t)L->dictkeys_dk_indices + (UINT64_C(1) << log2_index);
		esize = kind == 0 ? 24 : 16;
		key_off = kind == 0 ? 8 : 0;
		value_off = kind == 0 ? 16 : 8;
		if (values) {
			/* Counted even when the values are embedded in the
			 * owning instance (3.13+). */
			uint64_t usable = 0;
			hrd_off(h, keys, L->dictkeys_dk_usable, &usable);
			size += 8 * (nentries + usable);
		}
	}
	/* 3.12+: the shared empty keys are immortal, never counted. */
	if (dk_refcnt == 1)
		size += pyhs_dict_keys_size(h, keys);
	if (ret_size)
		*ret_size = size;
	if (!cb)
		return true;
	uint64_t values_base = values + (uint64_t)(L->dictvalues_values > 0 ? L->dictvalues_values : 0);
	const uint8_t *ents = pyhs_target_ptr(h->t, entries, nentries * esize);
	for (uint64_t i = 0; i < nentries; i++) {
		uint64_t key, value;
		if (ents && !values && i + WALK_PREFETCH < nentries) {
			memcpy(&key, ents + (i + WALK_PREFETCH) * esize + key_off, 8);
			memcpy(&value, ents + (i + WALK_PREFETCH) * esize + value_off, 8);
			pyhs_heap_prefetch(h, key);
			pyhs_heap_prefetch(h, value);
		}
		if (ents) {
			memcpy(&key, ents + i * esize + key_off, 8);
			memcpy(&value, ents + i * esize + value_off, 8);
		} else if (!hrd(h, entries + i * esize + key_off, &key) ||
			   !hrd(h, entries + i * esize + value_off, &value)) {
			return false;
		}
		if (values && !hrd(h, values_base + 8 * i, &value))
			return false;
		if (!key || !value)
			continue;
		if (!cb(arg, key, value, i))
			break;
	}
	return true;
}

static bool dict_edge_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct walker *w = arg;
	uint32_t k = walk_edge(w, key, PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0));
	walk_edge(w, value, k == PYHS_NO_OBJECT || k > 0x0fffffff ?
			       PYHS_LABEL(PYHS_LABEL_NONE, 0) :
			       PYHS_LABEL(PYHS_LABEL_DICT_VALUE, k));
	return !w->stop;
}

uint64_t walk_decode_dict(struct walker *w, uint64_t addr)
{
	uint64_t size = 0;
	if (!pyhs_dict_foreach(w->h, addr, dict_edge_cb, w, &size)) {
		pyhs_heap_warn(w->h, PYHS_WARN_UNREADABLE,
			       "dict at 0x%" PRIx64 " is unreadable", addr);
		w->h->flags.data[w->cur] |= PYHS_OBJ_UNREADABLE;
	}
	return size;
}

/* ---- sequences ---- */

void walk_items(struct walker *w, uint64_t base, uint64_t n, bool stackref)
{
	if (n > MAX_CONTAINER_ITEMS)
		n = MAX_CONTAINER_ITEMS;
	const uint8_t *p = pyhs_target_ptr(w->h->t, base, n * 8);
	for (uint64_t i = 0; i < n && !w->stop; i++) {
		uint64_t v;
		if (p && i + WALK_PREFETCH < n) {
			memcpy(&v, p + 8 * (i + WALK_PREFETCH), 8);
			pyhs_heap_prefetch(w->h, stackref ? v & ~UINT64_C(3) : v);
		}
		if (p)
			memcpy(&v, p + 8 * i, 8); /* the bytes need not be aligned */
		else if (!hrd(w->h, base + 8 * i, &v))
			break;
		if (stackref) {
			if ((v & 3) == 3)
				continue;
			v &= ~UINT64_C(3);
		}
		if (v)
			walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i < 0x0fffffff ? i : 0x0fffffff));
	}
}

uint64_t walk_decode_set(struct walker *w, uint64_t addr,
			 const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t mask, table;
	if (!hrd_off(w->h, addr, L->set_mask, &mask) ||
	    !hrd_off(w->h, addr, L->set_table, &table) ||
	    mask > (UINT64_C(1) << 40))
		return (uint64_t)ti->basicsize;
	uint64_t n = mask + 1;
	const uint8_t *p = pyhs_target_ptr(w->h->t, table, n * 16);
	for (uint64_t i = 0; i < n && !w->stop; i++) {
		uint64_t key;
		if (p)
			memcpy(&key, p + 16 * i, 8);
		else if (!hrd(w->h, table + 16 * i, &key))
			break;
		if (key && key != w->h->set_dummy)
			walk_edge(w, key, PYHS_LABEL(PYHS_LABEL_ITEM, 0));
	}
	uint64_t size = (uint64_t)ti->basicsize;
	if (table != addr + (uint64_t)L->set_smalltable)
		size += 16 * n;
	return size;
}

uint64_t walk_decode_deque(struct walker *w, uint64_t addr,
			   const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t block, left, len;
	if (!hrd_off(w->h, addr, L->deque_leftblock, &block) ||
	    !hrd_off(w->h, addr, L->deque_leftindex, &left) ||
	    !hrd(w->h, addr + 16, &len) || left >= DEQUE_BLOCKLEN ||
	    len > MAX_CONTAINER_ITEMS)
		return (uint64_t)ti->basicsize;
	uint64_t idx = left;
	for (uint64_t i = 0; i < len && block && !w->stop; i++) {
		uint64_t v;
		if (!hrd(w->h, block + (uint64_t)L->deque_block_data + 8 * idx, &v))
			break;
		walk_edge(w, v, PYHS_LABEL(PYHS_LABEL_INDEX, i < 0x0fffffff ? i : 0x0fffffff));
		if (++idx == DEQUE_BLOCKLEN) {
			idx = 0;
			if (!hrd_off(w->h, block, L->deque_block_rightlink, &block))
				break;
		}
	}
	uint64_t blocks = (left + len + DEQUE_BLOCKLEN) / DEQUE_BLOCKLEN;
	return (uint64_t)ti->basicsize + blocks * (uint64_t)L->deque_block_size;
}

/* ---- instances of heap types: slots and __dict__ ---- */

struct values_ctx {
	struct walker *w;
	uint64_t values;
	uint64_t n;
};

static bool values_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	(void)value;
	struct values_ctx *c = arg;
	if (i >= c->n)
		return false;
	uint64_t v;
	if (!hrd(c->w->h, c->values + 8 * i, &v) || !v)
		return true;
	uint32_t k = pyhs_heap_add(c->w->h, key, false, &c->w->err);
	walk_edge(c->w, v, k == PYHS_NO_OBJECT || k > 0x0fffffff ?
			      PYHS_LABEL(PYHS_LABEL_NONE, 0) :
			      PYHS_LABEL(PYHS_LABEL_ATTR, k));
	return !c->w->err;
}

/* Attribute values stored outside a dict (3.11+), keyed by the type's
 * shared keys; the keys object's entries name them. */
static void decode_values(struct walker *w, const struct pyhs_type_info *ti,
			  uint64_t values, uint64_t n)
{
	struct pyhs_heap *h = w->h;
	uint64_t keys;
	if (!hrd_off(h, ti->addr, h->L->heaptype_ht_cached_keys, &keys) || !keys)
		return;
	/* Walk the keys through a fake dict view: read the entries. */
	const struct pyhs_layout *L = h->L;
	uint64_t nentries;
	uint8_t log2_index = 0;
	if (!hrd_off(h, keys, L->dictkeys_dk_nentries, &nentries) ||
	    !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes, &log2_index, 1) ||
	    log2_index > 43)
		return;
	if (nentries > n)
		nentries = n;
	uint64_t entries = keys + (uint64_t)L->dictkeys_dk_indices + (UINT64_C(1) << log2_index);
	struct values_ctx c = { w, values, nentries };
	for (uint64_t i = 0; i < nentries && !w->stop; i++) {
		uint64_t key;
		if (!hrd(h, entries + 16 * i, &key))
			break;
		if (key)
			values_cb(&c, key, 0, i);
	}
}

void walk_decode_instance(struct walker *w, uint64_t addr,
			  const struct pyhs_type_info *ti, uint64_t obsize)
{
	struct pyhs_heap *h = w->h;
	walk_edge(w, ti->addr, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_class));
	/* Fields beyond the static base: slots by name; the words of a C
	 * type made from a spec, scanned. */
	uint64_t end = (uint64_t)ti->basicsize;
	if (end > (uint64_t)ti->kind_basicsize + MAX_SCANNED_BYTES) {
		end = (uint64_t)ti->kind_basicsize + MAX_SCANNED_BYTES;
		walk_scan_capped(w);
	}
	for (uint64_t off = (uint64_t)ti->kind_basicsize & ~UINT64_C(7);
	     off + 8 <= end; off += 8) {
		if ((ti->dictoffset > 0 && off == (uint64_t)ti->dictoffset) ||
		    (ti->weaklistoffset > 0 && off == (uint64_t)ti->weaklistoffset))
			continue;
		uint64_t v;
		if (hrd(h, addr + off, &v))
			walk_scan_word(w, ti, off, v);
	}
	uint64_t dict = 0, values = 0;
	if (h->minor >= 11 && (ti->flags & TPFLAGS_MANAGED_DICT)) {
		uint64_t word = 0;
		hrd(h, addr - 24, &word);
		/* 3.11/3.12 values have a slot for every entry of the type's
		 * shared keys (dk_nentries + dk_usable): no bound beyond the
		 * keys' own entry count is needed. */
		if (h->minor == 11) {
			dict = word;
			hrd(h, addr - 32, &values);
			if (values)
				decode_values(w, ti, values, UINT64_MAX);
		} else if (h->minor == 12) {
			if (word & 1)
				decode_values(w, ti, word + 1, UINT64_MAX);
			else
				dict = word;
		} else {
			/* Valid inline values hold the attributes, whether or
			 * not a dict has been made that shares them. */
			dict = word;
			if (ti->flags & TPFLAGS_INLINE_VALUES) {
				uint64_t v = addr + (uint64_t)ti->basicsize;
				uint8_t hdr[4];
				if (pyhs_target_read(h->t, v, hdr, 4) && hdr[3])
					decode_values(w, ti, v + 8, hdr[0]);
			}
		}
	} else if (ti->dictoffset > 0) {
		hrd(h, addr + (uint64_t)ti->dictoffset, &dict);
	} else if (ti->dictoffset < 0) {
		uint64_t n = pyhs_uabs64((int64_t)obsize);
		uint64_t sz = (uint64_t)ti->basicsize + n * (uint64_t)ti->itemsize;
		sz = (sz + 7) & ~UINT64_C(7);
		hrd(h, addr + sz + (uint64_t)ti->dictoffset, &dict);
	}
	if (dict)
		walk_edge(w, dict, PYHS_LABEL(PYHS_LABEL_FIELD, w->id_dict));
}

/* ---- sizes ---- */

uint64_t walk_str_size(struct walker *w, uint64_t addr)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	uint64_t len = 0;
	uint32_t state = 0;
	hrd_off(h, addr, L->ascii_length, &len);
	pyhs_target_read(h->t, addr + (uint64_t)L->ascii_state, &state, 4);
	unsigned kind = (state >> 2) & 7;
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	uint64_t size;
	if (compact && ascii)
		size = (uint64_t)L->ascii_size + len + 1;
	else if (compact)
		size = (uint64_t)L->compact_size + (len + 1) * kind;
	else {
		size = (uint64_t)L->unicode_size;
		uint64_t data = 0;
		hrd_off(h, addr, L->unicode_data, &data);
		if (data)
			size += (len + 1) * kind;
	}
	if (!(compact && ascii)) {
		uint64_t utf8 = 0, utf8_len = 0, data = 0;
		hrd_off(h, addr, L->compact_utf8, &utf8);
		hrd_off(h, addr, L->compact_utf8_length, &utf8_len);
		if (compact)
			data = addr + (uint64_t)L->compact_size;
		else
			hrd_off(h, addr, L->unicode_data, &data);
		if (utf8 && utf8 != data)
			size += utf8_len + 1;
	}
	if (L->ascii_wstr >= 0) {
		uint64_t wstr = 0, wlen = 0, data = 0;
		hrd_off(h, addr, L->ascii_wstr, &wstr);
		if (compact && ascii) {
			data = addr + (uint64_t)L->ascii_size;
			wlen = len;
		} else {
			hrd_off(h, addr, L->compact_wstr_length, &wlen);
			if (compact)
				data = addr + (uint64_t)L->compact_size;
			else
				hrd_off(h, addr, L->unicode_data, &data);
		}
		/* wstr shares the data when wchar_t has the data's width. */
		if (wstr && !(wstr == data && kind == 4))
			size += (wlen + 1) * 4;
	}
	return size;
}

uint64_t walk_int_size(struct walker *w, uint64_t addr)
{
	const struct pyhs_layout *L = w->h->L;
	uint64_t word = 0, n;
	hrd(w->h, addr + 16, &word);
	if (L->long_lv_tag >= 0) {
		n = word >> 3;
	} else {
		int64_t s = (int64_t)word;
		n = pyhs_uabs64(s);
	}
	if (w->h->minor >= 11 && n == 0)
		n = 1;
	return (uint64_t)L->long_digit + 4 * n;
}

uint64_t walk_gc_extra(struct walker *w, const struct pyhs_type_info *ti,
		       uint64_t addr)
{
	unsigned minor = w->h->minor;
	bool is_type_obj = ti->kind == K_TYPE;
	bool static_type_obj = false;
	if (is_type_obj) {
		uint64_t flags = 0;
		hrd_off(w->h, addr, w->h->L->type_tp_flags, &flags);
		static_type_obj = !(flags & TPFLAGS_HEAPTYPE);
	}
	if (!(ti->flags & TPFLAGS_HAVE_GC)) {
		return 0;
	}
	if (minor <= 10)
		return static_type_obj ? 0 : 16;
	if (minor >= 13 && static_type_obj)
		return 0;
	uint64_t extra = 16;
	if (minor == 11 && (ti->flags & TPFLAGS_MANAGED_DICT))
		extra += 16;
	if (minor >= 12 && (ti->flags & (TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF)))
		extra += 16;
	return extra;
}

/* ---- modules ---- */

/* Fields of extension modules' state structs, by the module definition's
 * m_name and version (generated from DWARF). */
static const struct known_field known_state_fields[] = {
#include "known_state_fields.h"
};

/* C arrays a state struct points to, whose entries hold references the
 * module's m_traverse visits, by m_name and version: the pointer at off
 * in the state, entries of entry_size bytes with a reference at ref, the
 * last one's word at 0 NULL (decimal's signal and condition maps of
 * DecCondMap: name, fqname, flag, ex); indirect, entries are pointers to
 * structs with the reference at ref (3.8 and 3.9's atexit callbacks, each
 * an atexit_callback of func, args, kwargs). */
struct state_array {
	const char *m_name;
	uint8_t min_minor, max_minor;
	uint16_t off, entry_size, ref;
	const char *name;
	bool indirect;
};

static const struct state_array state_arrays[] = {
	{ "decimal", 13, 15, 176, 32, 24, "state.signal_map.ex", false },
	{ "decimal", 13, 15, 184, 32, 24, "state.cond_map.ex", false },
	{ "atexit", 8, 9, 0, 8, 0, "state.atexit_callbacks", true },
};

#define MAX_STATE_ARRAY 256

/* A module object: its __dict__ and __name__, and the state of an
 * extension module (md_def->m_size bytes of C memory at md_state), which
 * is scanned conservatively: its words that are objects' addresses are
 * the module's references (its m_traverse visits them) and roots named
 * "module NAME state". */
/* A word of a module's state: an edge of the module (made an object when
 * known says a table describes the word) and a borrowed root. */
static void state_ref(struct walker *w, uint64_t v, uint32_t label,
		      const char *module, bool known)
{
	if (known)
		walk_unsure_edge(w, v, label);
	else
		walk_conservative_edge(w, v, label);
	walk_pending_root(w, v, PYHS_ROOT_MODULE_STATE, PYHS_NO_THREAD, PYHS_NO_FRAME,
			  module, false);
}

void walk_decode_module(struct walker *w, uint64_t addr,
			const struct pyhs_type_info *ti)
{
	struct pyhs_heap *h = w->h;
	const struct pyhs_layout *L = h->L;
	walk_field(w, addr, L->module_md_dict, w->id_dict);
	uint64_t v;
	if (hrd_off(h, addr, L->module_md_name, &v) && v)
		walk_edge(w, v, walk_field_label(ti, (uint64_t)L->module_md_name));
	/* 3.8 to 3.14 have md_def (m_size is the state's size); 3.15 has
	 * md_state_size. */
	bool has_def = L->module_md_state_size < 0;
	uint64_t def = 0, state = 0, msize = 0;
	if ((has_def && (!hrd(h, addr + MODULE_MD_DEF, &def) || !walk_plausible_pointer(def))) ||
	    !hrd_off(h, addr, L->module_md_state, &state))
		return;
	char name[128] = "?";
	if (!hrd_off(h, addr, L->module_md_name, &v) ||
	    !pyhs_read_str(h, v, name, sizeof(name)))
		snprintf(name, sizeof(name), "?");
	struct pyhs_error *err;
	/* A PyModuleDef made an object (multi-phase init) is a C static
	 * whose initial reference is its own. */
	if (has_def)
		walk_pending_root(w, def, PYHS_ROOT_MODULE_DEF, PYHS_NO_THREAD,
				  PYHS_NO_FRAME, name, true);
	if (w->err)
		return;
	bool sized = has_def ? hrd(h, def + MODULEDEF_M_SIZE, &msize)
			     : hrd_off(h, addr, L->module_md_state_size, &msize);
	if (!state || !sized || (int64_t)msize <= 0 || msize >= (1u << 16))
		return;
	/* The fields of a state struct we know are references of a verified
	 * type; the other words are scanned. */
	char def_name[64] = "";
	uint64_t np;
	uint8_t token_is_def = 0;
	if (!has_def && h->minor == 15 &&
	    pyhs_target_read(h->t, addr + MODULE_MD_TOKEN_IS_DEF_315, &token_is_def, 1) &&
	    token_is_def && hrd(h, addr + MODULE_MD_TOKEN_315, &def) && !walk_plausible_pointer(def))
		def = 0;
	if (def && hrd(h, def + MODULEDEF_M_NAME, &np))
		pyhs_read_cstr(h, np, def_name, sizeof(def_name));
	uint64_t sa = w->cur_addr, se = w->cur_end;
	w->cur_addr = state;
	w->cur_end = state + msize;
	for (uint64_t off = 0; off + 8 <= msize && !w->stop; off += 8) {
		if (!hrd(h, state + off, &v) || !walk_plausible_pointer(v) ||
		    (v >= state && v < state + msize))
			continue;
		const char *known = NULL;
		for (size_t k = 0; k < sizeof(known_state_fields) / sizeof(known_state_fields[0]); k++) {
			const struct known_field *f = &known_state_fields[k];
			if (f->off == off && h->minor >= f->min_minor &&
			    h->minor <= f->max_minor && !strcmp(f->tp_name, def_name))
				known = f->name;
		}
		char l[80];
		uint32_t id;
		if (known)
			snprintf(l, sizeof(l), "%s", known);
		else
			snprintf(l, sizeof(l), "state+0x%" PRIx64, off);
		if ((err = pyhs_heap_intern_string(h, l, &id))) {
			walker_fail(w, err);
			break;
		}
		state_ref(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id), name, known != NULL);
	}
	for (size_t k = 0; k < sizeof(state_arrays) / sizeof(state_arrays[0]) && !w->stop; k++) {
		const struct state_array *a = &state_arrays[k];
		uint64_t arr, first;
		uint32_t id;
		if (h->minor < a->min_minor || h->minor > a->max_minor ||
		    strcmp(a->m_name, def_name) || a->off + 8u > msize ||
		    !hrd(h, state + a->off, &arr) || !walk_plausible_pointer(arr))
			continue;
		if ((err = pyhs_heap_intern_string(h, a->name, &id))) {
			walker_fail(w, err);
			break;
		}
		for (uint64_t e = 0; e < MAX_STATE_ARRAY && !w->stop; e++) {
			uint64_t entry = arr + e * a->entry_size;
			if (!hrd(h, entry, &first) || !first ||
			    (a->indirect && (!walk_plausible_pointer(first) ||
					     !hrd(h, (entry = first), &first))) ||
			    !hrd(h, entry + a->ref, &v) || !walk_plausible_pointer(v))
				break;
			state_ref(w, v, PYHS_LABEL(PYHS_LABEL_FIELD, id), name, true);
		}
	}
	w->cur_addr = sa;
	w->cur_end = se;
}
