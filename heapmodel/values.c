/* Reading values out of objects: str, int, float, bytes; dict look-ups;
 * previews. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/jobs.h"
#include "heap_internal.h"
#include "lines.h"
#include "walk.h"

static size_t put_utf8(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	} else if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	} else if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | ((c >> 18) & 0x07));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

bool pyhs_str_data_at(const struct pyhs_target *t, const struct pyhs_layout *L,
		      uint64_t addr, uint64_t *data, uint64_t *length,
		      unsigned *kind)
{
	uint64_t len;
	uint32_t state;
	if (L->ascii_length < 0 || L->ascii_state < 0 ||
	    !pyhs_target_read_u64(t, addr + (uint64_t)L->ascii_length, &len) ||
	    !pyhs_target_read(t, addr + (uint64_t)L->ascii_state, &state, 4))
		return false;
	unsigned k = (state >> 2) & 7;
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (k != 1 && k != 2 && k != 4)
		return false;
	if (len > (UINT64_C(1) << 40))
		return false;
	if (compact)
		*data = addr + (uint64_t)(ascii ? L->ascii_size : L->compact_size);
	else if (L->unicode_data < 0 ||
		 !pyhs_target_read_u64(t, addr + (uint64_t)L->unicode_data, data) ||
		 !*data)
		return false;
	*length = len;
	*kind = k;
	return true;
}

bool pyhs_str_data(const struct pyhs_heap *h, uint64_t addr, uint64_t *data,
		   uint64_t *length, unsigned *kind)
{
	return pyhs_str_data_at(h->t, h->L, addr, data, length, kind);
}

bool pyhs_read_str_at(const struct pyhs_target *t, const struct pyhs_layout *L,
		      uint64_t addr, char *buf, size_t n)
{
	uint64_t data, len;
	unsigned kind;
	if (!n || !pyhs_str_data_at(t, L, addr, &data, &len, &kind))
		return false;
	size_t o = 0;
	/* At most n code points can fit in n bytes of UTF-8. */
	uint64_t take = len < n ? len : n;
	const uint8_t *p = pyhs_target_ptr(t, data, (size_t)(take * kind));
	if (p && kind == 1) {
		/* One byte a code point (most strings): each as it is, or
		 * in two bytes from 0x80. */
		for (uint64_t i = 0; i < take; i++) {
			uint8_t c = p[i];
			if (c < 0x80) {
				if (o + 2 > n)
					break;
				buf[o++] = (char)c;
			} else {
				if (o + 3 > n)
					break;
				buf[o++] = (char)(0xc0 | (c >> 6));
				buf[o++] = (char)(0x80 | (c & 0x3f));
			}
		}
		buf[o] = '\0';
		return true;
	}
	for (uint64_t i = 0; i < take; i++) {
		uint32_t c = 0;
		if (p)
			memcpy(&c, p + i * kind, kind);
		else if (!pyhs_target_read(t, data + i * kind, &c, kind))
			return false;
		char tmp[4];
		size_t k = put_utf8(tmp, c);
		if (o + k + 1 > n)
			break;
		memcpy(buf + o, tmp, k);
		o += k;
	}
	buf[o] = '\0';
	return true;
}

bool pyhs_read_str(const struct pyhs_heap *h, uint64_t addr, char *buf,
		   size_t n)
{
	uint64_t type;
	if (!n || !hrd(h, addr + 8, &type))
		return false;
	if (type != h->str_type) {
		/* str subclasses are fine too (looked up without writing to
		 * the heap once it has its index: value texts are read on
		 * several threads) */
		uint32_t ti = h->index ? pyhs_heap_lookup_shared(h, addr) : pyhs_heap_lookup(h, addr);
		if (ti == PYHS_NO_OBJECT ||
		    h->types.data[h->type.data[ti]].kind != K_STR)
			return false;
	}
	return pyhs_read_str_at(h->t, h->L, addr, buf, n);
}

struct find_ctx {
	const struct pyhs_heap *h;
	const char *key;
	size_t key_len; /* SIZE_MAX: key is not ASCII */
	uint64_t value;
};

static bool find_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct find_ctx *c = arg;
	char s[256];
	uint64_t data, len;
	unsigned kind;
	/* An ASCII key's length in code points is its length in bytes: a
	 * string of another length is not it. */
	if (c->key_len != SIZE_MAX &&
	    (!pyhs_str_data(c->h, key, &data, &len, &kind) || len != c->key_len))
		return true;
	if (pyhs_read_str(c->h, key, s, sizeof(s)) && strcmp(s, c->key) == 0) {
		c->value = value;
		return false;
	}
	return true;
}

uint64_t pyhs_dict_get_str(const struct pyhs_heap *h, uint64_t dict,
			   const char *key)
{
	struct find_ctx c = { h, key, strlen(key), 0 };
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p >= 0x80)
			c.key_len = SIZE_MAX; /* not ASCII: compare every key */
	pyhs_dict_foreach(h, dict, find_cb, &c, NULL);
	return c.value;
}

static void escape_into(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (; *s && o + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\'' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (*s && o + 3 < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static bool read_int(const struct pyhs_heap *h, uint64_t addr, char *buf,
		     size_t n)
{
	const struct pyhs_layout *L = h->L;
	uint64_t tag;
	uint64_t ndigits;
	bool neg;
	if (!hrd(h, addr + 16, &tag))
		return false;
	if (L->long_lv_tag >= 0) {
		ndigits = tag >> 3;
		neg = (tag & 3) == 2;
	} else {
		int64_t s = (int64_t)tag;
		neg = s < 0;
		ndigits = pyhs_uabs64(s);
	}
	if (ndigits > 2) {
		snprintf(buf, n, "<int of %" PRIu64 " bits>", ndigits * 30);
		return true;
	}
	uint64_t v = 0;
	for (uint64_t i = ndigits; i-- > 0;) {
		uint32_t d;
		if (!pyhs_target_read(h->t, addr + (uint64_t)L->long_digit + 4 * i, &d, 4))
			return false;
		v = (v << 30) | d;
	}
	/* As "%s%" PRIu64 prints it, truncated to n - 1 bytes. */
	char text[24];
	size_t len = 0, o = 0;
	do {
		text[sizeof(text) - 1 - len++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg && (len > 1 || text[sizeof(text) - 1] != '0'))
		text[sizeof(text) - 1 - len++] = '-';
	for (size_t k = sizeof(text) - len; k < sizeof(text) && o + 1 < n; k++)
		buf[o++] = text[k];
	buf[o] = '\0';
	return true;
}

/* The shortest %g form that reads back as the same double, as repr does. */
static void format_float(double d, char *buf, size_t n)
{
	/* A multiple of 1/16 below 10^10 has at most 14 significant digits,
	 * printed exactly by %.15g, in fixed notation (its fraction, if any,
	 * is 0.0625 or more): written here the same without printf. */
	double m = d * 16;
	if (n >= 32 && d > -1e10 && d < 1e10 && m == (double)(int64_t)m) {
		int64_t q = (int64_t)m;
		uint64_t u = q < 0 ? (uint64_t)-q : (uint64_t)q;
		uint64_t whole = u >> 4, frac = (u & 15) * 625; /* ten-thousandths */
		char text[32];
		size_t o = 0, len = 0;
		if (signbit(d))
			buf[o++] = '-';
		do {
			text[len++] = (char)('0' + whole % 10);
			whole /= 10;
		} while (whole);
		while (len)
			buf[o++] = text[--len];
		buf[o++] = '.';
		if (!frac) {
			buf[o++] = '0';
		} else {
			for (uint64_t div = 1000; frac; div /= 10) {
				buf[o++] = (char)('0' + frac / div);
				frac %= div;
			}
		}
		buf[o] = '\0';
		return;
	}
	/* 15 significant digits always round-trip to the shortest form when
	 * any form that short exists; a few doubles need 16 or 17. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEni"))
		strncat(buf, ".0", n - strlen(buf) - 1);
}

static void bytes_value(const struct pyhs_heap *h, uint64_t addr, char *buf,
			size_t n)
{
	uint64_t len;
	buf[0] = '\0';
	if (!hrd(h, addr + 16, &len))
		return;
	char raw[49];
	size_t take = len < 48 ? (size_t)len : 48;
	if (!pyhs_target_read(h->t, addr + (uint64_t)h->L->bytes_ob_sval, raw, take))
		return;
	raw[take] = '\0';
	size_t o = (size_t)snprintf(buf, n, "b'");
	for (size_t i = 0; i < take && o + 6 < n; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '\'' || c == '\\')
			o += (size_t)snprintf(buf + o, n - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	snprintf(buf + o, n - o, "'%s", len > take ? "..." : "");
}

/* Where 3.8 and 3.9 keep gi_running, 3.10 a frame's f_state. */
#define GEN_GI_RUNNING_39 24
#define FRAME_F_STATE_310 108

/* A generator's, coroutine's or async generator's state as
 * inspect.getgeneratorstate and getcoroutinestate say it (created,
 * running, suspended, closed), or NULL: up to 3.10 from its frame (none
 * once closed; f_lasti -1 before it ran) and gi_running or the frame's
 * f_state, from 3.11 from gi_frame_state. */
static const char *gen_state(const struct pyhs_heap *h, uint64_t addr)
{
	const struct pyhs_layout *L = h->L;
	int8_t s;
	if (h->minor <= 10) {
		uint64_t f;
		int32_t lasti;
		if (!hrd_off(h, addr, L->gen_gi_frame, &f))
			return NULL;
		if (!f)
			return "closed";
		if (!pyhs_target_read(h->t, f + (uint64_t)L->frame_f_lasti, &lasti, 4) ||
		    !pyhs_target_read(h->t, h->minor == 10 ? f + FRAME_F_STATE_310
							   : addr + GEN_GI_RUNNING_39, &s, 1))
			return NULL;
		if (h->minor == 10)
			return s == -2 ? "created" : s == -1 ? "suspended" : s == 0 ? "running"
									: "closed";
		return s ? "running" : lasti == -1 ? "created" : "suspended";
	}
	if (!pyhs_target_read(h->t, addr + (uint64_t)L->gen_gi_frame_state, &s, 1))
		return NULL;
	if (h->minor >= 15) /* created 0, suspended 1 to 3, running 4 */
		return s == 0 ? "created" : s <= 3 ? "suspended" : s == 4 ? "running" : "closed";
	int8_t created = h->minor >= 13 ? -3 : -2;
	return s == created ? "created" : s < 0 ? "suspended" : s == 0 ? "running" : "closed";
}

/* A generator's or coroutine's "QUALNAME (FILE:LINE) STATE", where its
 * frame is suspended ("QUALNAME (FILE) closed" once it has finished). */
static bool gen_value(const struct pyhs_heap *h, uint64_t addr, char *buf, size_t n)
{
	char name[128], file[200];
	int line;
	bool finished;
	if (!pyhs_gen_place(h, addr, name, sizeof(name), file, sizeof(file), &line, &finished))
		return false;
	char at[16] = "";
	if (line > 0)
		snprintf(at, sizeof(at), ":%d", line);
	const char *state = gen_state(h, addr);
	return snprintf(buf, n, "%s (%s%s)%s%s", name, file, at, state ? " " : "",
			state ? state : "") > 0;
}

/* A range of the objects in address order whose value texts are read on
 * a thread: the texts one after another, and the warnings met (given to
 * the heap afterwards in the order of the ranges). */
struct values_part {
	struct pyhs_char_vector text;
	/* PYHS_WARN_CORRUPT messages; NULL for one that could not be made */
	struct pyhs_str_vector warns;
	bool oom;
};

/* A C Future's or Task's state, as the pure-Python classes spell _state. */
static bool future_value(struct pyhs_heap *h, uint64_t addr, char *buf, size_t n,
			 struct values_part *part)
{
	static const char *const states[] = { "PENDING", "CANCELLED", "FINISHED" };
	int32_t state;
	if (!pyhs_future_state_read(h, addr, &state))
		return false;
	if (state < 0 || state > 2) {
		char *msg;
		if (asprintf(&msg, "asyncio future at 0x%" PRIx64 " has state %" PRId32 ", not pending, cancelled or finished",
			     addr, state) < 0)
			msg = NULL;
		if (!pyhs_str_vector_append(&part->warns, msg)) {
			free(msg);
			part->oom = true;
		}
		return false;
	}
	snprintf(buf, n, "%s", states[state]);
	return true;
}

#define TPFLAGS_INLINE_VALUES (UINT64_C(1) << 2)
/* How many str or int attributes an instance's preview shows. */
#define PREVIEW_ATTRS 3
/* PyMethodObject's im_func and im_self, the same in 3.8 to 3.15. */
#define METHOD_IM_FUNC 16
#define METHOD_IM_SELF 24
/* numpy's PyArrayObject_fields (nd, dimensions, descr) and PyArray_Descr
 * (typeobj), the same in numpy 1.x and 2.x. */
#define NDARRAY_ND 24
#define NDARRAY_DIMENSIONS 32
#define NDARRAY_DESCR 56
#define DESCR_TYPEOBJ 16
#define NDARRAY_MAX_DIMS 64

/* s appended at o (below n) to what buf holds, as snprintf(buf + o,
 * n - o, "%s", s) would; where the text ends. */
static size_t text_append(char *buf, size_t n, size_t o, const char *s)
{
	while (*s && o + 1 < n)
		buf[o++] = *s++;
	buf[o] = '\0';
	return o;
}

/* ", name=repr" for an attribute whose value is exactly a str or an int. */
static void attr_text(struct pyhs_heap *h, const char *name, uint64_t value,
		      char *buf, size_t n, unsigned *shown)
{
	uint32_t j = pyhs_heap_lookup_shared(h, value);
	if (*shown >= PREVIEW_ATTRS || j == PYHS_NO_OBJECT)
		return;
	const struct pyhs_type_info *vt = &h->types.data[h->type.data[j]];
	char v[96], esc[100];
	size_t o = strlen(buf);
	if (vt->kind == K_STR && !strcmp(vt->name, "str") && pyhs_read_str(h, value, v, sizeof(v))) {
		escape_into(v, esc, sizeof(esc));
		snprintf(buf + o, n - o, "%s%s='%s'", *shown ? ", " : "", name, esc);
	} else if (vt->kind == K_INT && !strcmp(vt->name, "int") && read_int(h, value, v, sizeof(v))) {
		snprintf(buf + o, n - o, "%s%s=%s", *shown ? ", " : "", name, v);
	} else {
		return;
	}
	(*shown)++;
}

struct attrs_ctx {
	struct pyhs_heap *h;
	char *buf;
	size_t n;
	unsigned shown;
};

static bool attrs_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	(void)i;
	struct attrs_ctx *c = arg;
	char name[64];
	if (pyhs_read_str(c->h, key, name, sizeof(name)))
		attr_text(c->h, name, value, c->buf, c->n, &c->shown);
	return c->shown < PREVIEW_ATTRS;
}

/* 3.13+ inline values (a _PyDictValues after the object's fixed part:
 * capacity, size, embedded, valid, then the values, then the order they
 * were set in, as indices into the class's shared keys), in that order;
 * false if the object has none valid. */
static bool inline_values(struct pyhs_heap *h, uint64_t i, const struct pyhs_type_info *ti,
			  struct attrs_ctx *c)
{
	const struct pyhs_layout *L = h->L;
	uint64_t values = h->addr.data[i] + (uint64_t)ti->basicsize, keys;
	uint8_t head[4], log2_index;
	if (h->minor < 13 || !(ti->flags & TPFLAGS_INLINE_VALUES) ||
	    !pyhs_target_read(h->t, values, head, sizeof(head)) || !head[3] ||
	    head[1] > head[0] || !hrd_off(h, ti->addr, L->heaptype_ht_cached_keys, &keys) ||
	    !keys || !pyhs_target_read(h->t, keys + (uint64_t)L->dictkeys_dk_log2_index_bytes,
				       &log2_index, 1) || log2_index > 43)
		return false;
	uint64_t entries = keys + (uint64_t)L->dictkeys_dk_indices + (UINT64_C(1) << log2_index);
	for (uint8_t k = 0; k < head[1] && c->shown < PREVIEW_ATTRS; k++) {
		uint8_t ix;
		uint64_t key, value;
		if (!pyhs_target_read(h->t, values + 8 + 8 * (uint64_t)head[0] + k, &ix, 1) ||
		    ix >= head[0] || !hrd(h, entries + 16 * (uint64_t)ix, &key) ||
		    !hrd(h, values + 8 + 8 * (uint64_t)ix, &value))
			break;
		if (key && value)
			attrs_cb(c, key, value, k);
	}
	return true;
}

/* An instance of a class defined in Python: "module.Class(a='x', b=2)",
 * its first str and int attributes (in its __dict__'s order, else in its
 * inline values' order). */
static bool instance_value(struct pyhs_heap *h, uint64_t i, const struct pyhs_type_info *ti,
			   char *buf, size_t n)
{
	struct attrs_ctx c = { h, buf, n, 0 };
	text_append(buf, n, text_append(buf, n, 0, ti->name), "(");
	char name[64];
	uint64_t start = h->edge_start.data[i], end = h->edge_start.data[i + 1];
	uint64_t dict = 0;
	for (uint64_t e = start; e < end && !dict; e++) {
		uint32_t lab = h->edge_label.data[e];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_FIELD &&
		    !strcmp(pyhs_heap_string(h, PYHS_LABEL_PAYLOAD(lab)), ".__dict__"))
			dict = h->addr.data[h->edge_dst.data[e]];
	}
	/* A __dict__ has the attributes in the order they were set; 3.13+
	 * inline values keep that order in an array of their own. */
	if (inline_values(h, i, ti, &c))
		dict = 1;
	else if (dict)
		pyhs_dict_foreach(h, dict, attrs_cb, &c, NULL);
	for (uint64_t e = start; e < end && !dict && c.shown < PREVIEW_ATTRS; e++) {
		uint32_t lab = h->edge_label.data[e];
		if (PYHS_LABEL_KIND(lab) == PYHS_LABEL_ATTR &&
		    pyhs_read_str(h, h->addr.data[PYHS_LABEL_PAYLOAD(lab)], name, sizeof(name)))
			attr_text(h, name, h->addr.data[h->edge_dst.data[e]], buf, n, &c.shown);
	}
	text_append(buf, n, strlen(buf), ")");
	return true;
}

/* A bound method: "Class.method of module.Class" (its function's qualname,
 * the type of what it is bound to). */
static bool method_value(struct pyhs_heap *h, uint64_t addr, char *buf, size_t n)
{
	uint64_t func, self, q, tp;
	char name[128];
	if (!hrd(h, addr + METHOD_IM_FUNC, &func) || !hrd(h, addr + METHOD_IM_SELF, &self) ||
	    !hrd_off(h, func, h->L->func_qualname, &q) || !pyhs_read_str(h, q, name, sizeof(name)) ||
	    !hrd(h, self + 8, &tp))
		return false;
	uint32_t *t = pyhs_addr_u32_map_search(&h->type_by_addr, tp);
	snprintf(buf, n, "%s of %s", name, t && h->types.data[*t].name ? h->types.data[*t].name : "?");
	return true;
}

/* A numpy array: "shape=(3, 4) dtype=float64" (the dtype by its scalar
 * type's name). */
static bool ndarray_value(struct pyhs_heap *h, uint64_t addr, char *buf, size_t n)
{
	int32_t nd;
	uint64_t dims, descr, typeobj, np;
	char tname[96] = "?";
	if (!pyhs_target_read(h->t, addr + NDARRAY_ND, &nd, 4) || nd < 0 ||
	    nd > NDARRAY_MAX_DIMS || !hrd(h, addr + NDARRAY_DIMENSIONS, &dims) ||
	    !hrd(h, addr + NDARRAY_DESCR, &descr))
		return false;
	if (hrd(h, descr + DESCR_TYPEOBJ, &typeobj) && hrd_off(h, typeobj, h->L->type_tp_name, &np))
		pyhs_read_cstr(h, np, tname, sizeof(tname));
	const char *dot = strrchr(tname, '.');
	size_t o = (size_t)snprintf(buf, n, "shape=(");
	for (int32_t d = 0; d < nd && o < n; d++) {
		int64_t len;
		if (!pyhs_target_read(h->t, dims + 8 * (uint64_t)d, &len, 8))
			return false;
		o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, d ? ", " : "", len);
	}
	if (o < n)
		snprintf(buf + o, n - o, "%s) dtype=%s", nd == 1 ? "," : "", dot ? dot + 1 : tname);
	return true;
}

/* A Task's "QUALNAME STATE" (its coroutine's qualname), a Future's
 * state. */
static bool task_value(struct pyhs_heap *h, uint64_t addr, bool task, char *buf, size_t n,
		       struct values_part *part)
{
	char state[16], name[128];
	if (!future_value(h, addr, state, sizeof(state), part))
		return false;
	const struct pyhs_asyncio_layout *A = pyhs_heap_asyncio_layout(h);
	uint64_t coro, q;
	if (task && A && A->task_coro >= 0 && hrd(h, addr + (uint64_t)A->task_coro, &coro) &&
	    coro && hrd_off(h, coro, h->L->gen_gi_qualname, &q) &&
	    pyhs_read_str(h, q, name, sizeof(name)))
		snprintf(buf, n, "%s %s", name, state);
	else
		snprintf(buf, n, "%s", state);
	return true;
}

/* How an object's value text is read, by its type (chosen once a type,
 * not once an object). */
enum value_rule {
	VALUE_NONE,    /* no text */
	VALUE_KIND,    /* by the type's kind */
	VALUE_NONETYPE,
	VALUE_BOOL,
	VALUE_METHOD,
	VALUE_NDARRAY,
};

static uint8_t value_rule(const struct pyhs_type_info *ti)
{
	if (strcmp(ti->name, "NoneType") == 0)
		return VALUE_NONETYPE;
	switch (ti->kind) {
	case K_INT:
		return strcmp(ti->name, "bool") == 0 ? VALUE_BOOL : VALUE_KIND;
	case K_STR:
	case K_FLOAT:
	case K_BYTES:
	case K_TYPE:
	case K_MODULE:
	case K_FUNCTION:
	case K_CODE:
	case K_GEN:
	case K_FUTURE:
	case K_TASK:
		return VALUE_KIND;
	case K_OBJECT:
		return ti->heap ? VALUE_KIND : VALUE_NONE;
	default:
		if (!strcmp(ti->name, "method"))
			return VALUE_METHOD;
		if (!strcmp(ti->name, "numpy.ndarray"))
			return VALUE_NDARRAY;
		return VALUE_NONE;
	}
}

/* The value text of object i while the target is still there, by its
 * type's rule. */
static bool object_value(struct pyhs_heap *h, uint64_t i, uint8_t rule, char *buf, size_t n,
			 struct values_part *part)
{
	const struct pyhs_layout *L = h->L;
	uint64_t addr = h->addr.data[i];
	const struct pyhs_type_info *ti = &h->types.data[h->type.data[i]];
	uint64_t v;
	buf[0] = '\0';
	switch (rule) {
	case VALUE_NONE:
		return false;
	case VALUE_NONETYPE:
		snprintf(buf, n, "None");
		return true;
	case VALUE_BOOL: {
		if (!hrd(h, addr + 16, &v))
			return false;
		uint64_t nd = L->long_lv_tag >= 0 ? v >> 3 : v;
		snprintf(buf, n, nd ? "True" : "False");
		return true;
	}
	case VALUE_METHOD:
		return method_value(h, addr, buf, n);
	case VALUE_NDARRAY:
		return ndarray_value(h, addr, buf, n);
	default:
		break;
	}
	switch (ti->kind) {
	case K_STR:
		return pyhs_read_str(h, addr, buf, n);
	case K_INT:
		return read_int(h, addr, buf, n);
	case K_FLOAT: {
		double d;
		if (!pyhs_target_read(h->t, addr + (uint64_t)L->float_ob_fval, &d, 8))
			return false;
		format_float(d, buf, n);
		return true;
	}
	case K_BYTES:
		bytes_value(h, addr, buf, n);
		return buf[0] != '\0';
	case K_TYPE: {
		uint32_t *t = pyhs_addr_u32_map_search(&h->type_by_addr, addr);
		if (!t || !h->types.data[*t].name)
			return false;
		snprintf(buf, n, "%s", h->types.data[*t].name);
		return true;
	}
	case K_MODULE:
		if (hrd_off(h, addr, L->module_md_dict, &v) && v) {
			uint64_t name = pyhs_dict_get_str(h, v, "__name__");
			return name && pyhs_read_str(h, name, buf, n);
		}
		return false;
	case K_FUNCTION:
		return hrd_off(h, addr, L->func_qualname, &v) &&
		       pyhs_read_str(h, v, buf, n);
	case K_CODE:
		if (L->code_qualname >= 0 && hrd_off(h, addr, L->code_qualname, &v) &&
		    pyhs_read_str(h, v, buf, n))
			return true;
		return hrd_off(h, addr, L->code_name, &v) && pyhs_read_str(h, v, buf, n);
	case K_GEN:
		return gen_value(h, addr, buf, n);
	case K_FUTURE:
	case K_TASK:
		return task_value(h, addr, ti->kind == K_TASK, buf, n, part);
	case K_OBJECT:
		return instance_value(h, i, ti, buf, n);
	default:
		return false;
	}
}

/* How many objects (consecutive in address order) a part reads. */
#define PART_OBJECTS 32768

struct values_ctx {
	struct pyhs_heap *h;
	const uint32_t *order;
	const uint8_t *rules; /* by type */
	struct values_part *parts;
};

/* Where part k's objects end in the address order (*ret_begin: start). */
static uint64_t part_range(const struct values_ctx *c, size_t k, uint64_t *ret_begin)
{
	uint64_t n = c->h->addr.size, begin = (uint64_t)k * PART_OBJECTS;
	*ret_begin = begin;
	return n - begin > PART_OBJECTS ? begin + PART_OBJECTS : n;
}

/* Frees what a part holds. */
static void values_part_deinit(struct values_part *part)
{
	pyhs_char_vector_deinit(&part->text);
	for (size_t w = 0; w < part->warns.size; w++)
		free(part->warns.data[w]);
	pyhs_str_vector_deinit(&part->warns);
}

/* Part k's texts read, in address order: each object's text appended to
 * the part's, and its length plus one in value_off (UINT32_MAX for none:
 * the offsets are laid out once every part is read). */
static struct pyhs_error *values_part_read(void *arg, size_t k)
{
	struct values_ctx *c = arg;
	struct pyhs_heap *h = c->h;
	struct values_part *part = &c->parts[k];
	uint64_t begin, end = part_range(c, k, &begin);
	uint32_t *value_off = h->value_off.data;
	for (uint64_t j = begin; j < end; j++) {
		uint32_t i = c->order[j];
		char buf[256];
		value_off[i] = UINT32_MAX;
		if (!object_value(h, i, c->rules[h->type.data[i]], buf, sizeof(buf), part))
			continue;
		size_t len = strlen(buf) + 1;
		if (!pyhs_char_vector_append_n(&part->text, buf, len)) {
			part->oom = true;
			break;
		}
		value_off[i] = (uint32_t)len;
	}
	return part->oom ? &pyhs_enomem : NULL;
}

/* Part k's texts copied to where value_off (laid out) says, in the order
 * they were read. */
static struct pyhs_error *values_part_place(void *arg, size_t k)
{
	struct values_ctx *c = arg;
	struct pyhs_heap *h = c->h;
	struct values_part *part = &c->parts[k];
	uint64_t begin, end = part_range(c, k, &begin);
	const char *src = part->text.data;
	char *text = h->value_text.data;
	for (uint64_t j = begin; j < end; j++) {
		uint32_t off = h->value_off.data[c->order[j]];
		if (off == UINT32_MAX)
			continue;
		char *e = stpcpy(text + off, src);
		src += e - (text + off) + 1;
	}
	pyhs_char_vector_deinit(&part->text);
	return NULL;
}

/* Object i's value text appended to text (offset in *ret, or UINT32_MAX
 * when it has none or the texts are full). */
static bool value_append(struct pyhs_heap *h, uint64_t i, const uint8_t *rules,
			 struct values_part *part, struct pyhs_char_vector *text, uint32_t *ret)
{
	char buf[256];
	uint32_t off = UINT32_MAX;
	if (object_value(h, i, rules[h->type.data[i]], buf, sizeof(buf), part)) {
		size_t len = strlen(buf) + 1;
		if (text->size + len < UINT32_MAX) {
			off = (uint32_t)text->size;
			if (!pyhs_char_vector_append_n(text, buf, len))
				return false;
		}
	}
	*ret = off;
	return true;
}

/* The warnings a part met, given to the heap as they were met. */
static void values_part_warn(struct pyhs_heap *h, struct values_part *part)
{
	for (size_t w = 0; w < part->warns.size; w++) {
		if (part->warns.data[w])
			pyhs_heap_warn(h, PYHS_WARN_CORRUPT, "%s", part->warns.data[w]);
		else
			h->warn_count[PYHS_WARN_CORRUPT]++;
		free(part->warns.data[w]);
	}
	part->warns.size = 0;
}

/* Every value text on one thread, for texts of 4 GiB and more (or when
 * the address order cannot be had): those that do not fit left out as
 * they come, in address order and again in object order. */
static struct pyhs_error *values_build_serial(struct pyhs_heap *h, const uint8_t *rules,
					      uint32_t *order)
{
	uint64_t n = h->addr.size;
	struct values_part part = { 0 };
	struct pyhs_error *err = NULL;
	if (!order) {
		for (uint64_t i = 0; i < n && !err; i++)
			if (!value_append(h, i, rules, &part, &h->value_text, &h->value_off.data[i]) ||
			    part.oom)
				err = &pyhs_enomem;
		values_part_warn(h, &part);
		pyhs_str_vector_deinit(&part.warns);
		return err;
	}
	struct pyhs_char_vector text;
	pyhs_char_vector_init(&text);
	for (uint64_t k = 0; k < n && !err; k++) {
		uint32_t i = order[k];
		if (!value_append(h, i, rules, &part, &text, &h->value_off.data[i]) || part.oom)
			err = &pyhs_enomem;
	}
	values_part_warn(h, &part);
	pyhs_str_vector_deinit(&part.warns);
	/* The core's pages, resident since the walk read them (the passes
	 * since read all over it again), are given back: what reads it from
	 * here on reads a small part. */
	pyhs_target_release_pages(h->t);
	if (!err && !pyhs_char_vector_reserve(&h->value_text, h->value_text.size + text.size))
		err = &pyhs_enomem;
	for (uint64_t i = 0; i < n && !err; i++) {
		uint32_t off = h->value_off.data[i];
		if (off == UINT32_MAX)
			continue;
		size_t len = strlen(text.data + off) + 1;
		h->value_off.data[i] = UINT32_MAX;
		if (h->value_text.size + len < UINT32_MAX) {
			h->value_off.data[i] = (uint32_t)h->value_text.size;
			pyhs_char_vector_append_n(&h->value_text, text.data + off, len);
		}
	}
	pyhs_char_vector_deinit(&text);
	return err;
}

/* Room for total bytes of value texts, those there kept: in the spill
 * file, where the objects' columns went, else in memory. */
static bool values_text_room(struct pyhs_heap *h, uint64_t total)
{
	char *p = total <= SIZE_MAX ? pyhs_heap_spill_map(h, (size_t)total) : NULL;
	if (!p)
		return pyhs_char_vector_reserve(&h->value_text, total);
	if (h->value_text.size)
		memcpy(p, h->value_text.data, h->value_text.size);
	free(h->value_text.data);
	h->value_text.data = p;
	h->value_text.capacity = total;
	return true;
}

struct pyhs_error *pyhs_values_build(struct pyhs_heap *h)
{
	uint64_t n = h->addr.size;
	if (!pyhs_u32_vector_reserve(&h->value_off, n))
		return &pyhs_enomem;
	h->value_off.size = n;
	uint8_t *rules = malloc(h->types.size ? h->types.size : 1);
	if (!rules)
		return &pyhs_enomem;
	bool asyncio_unread = false;
	for (size_t t = 0; t < h->types.size; t++) {
		rules[t] = value_rule(&h->types.data[t]);
		asyncio_unread |= (h->types.data[t].kind == K_FUTURE ||
				   h->types.data[t].kind == K_TASK) && h->asyncio_state == 0;
	}
	/* Each value reads a few bytes of the core, and together they touch
	 * most of its pages: read in address order, in parts (on the heap's
	 * jobs), each into texts of its own, the pages given back as the reads
	 * move on; then the texts laid out in object order, each part's copied
	 * to their places. Whatever the threads, the texts, their offsets and
	 * the warnings are the same as on one. The reads write nothing to the
	 * heap: the address index is there before they start (they look up
	 * without its hot entries), and _asyncio's layout was read with the
	 * types of its futures (else they are read on one thread, which
	 * reads it). */
	uint32_t *order = pyhs_heap_address_order(h);
	if (n)
		pyhs_heap_lookup(h, h->addr.data[0]); /* the index, built */
	struct pyhs_error *err = NULL;
	if (!order || !h->index || asyncio_unread) {
		err = values_build_serial(h, rules, order);
		free(order);
		free(rules);
		return err;
	}
	size_t nparts = (size_t)((n + PART_OBJECTS - 1) / PART_OBJECTS);
	struct values_ctx c = { .h = h, .order = order, .rules = rules };
	c.parts = calloc(nparts ? nparts : 1, sizeof(*c.parts));
	if (!c.parts)
		err = &pyhs_enomem;
	if (!err)
		err = pyhs_jobs_run(h->jobs, nparts, values_part_read, &c, NULL);
	pyhs_target_release_pages(h->t); /* as above */
	uint64_t total = h->value_text.size;
	for (size_t k = 0; k < nparts && !err; k++)
		total += c.parts[k].text.size;
	if (!err && total >= UINT32_MAX) {
		/* Some texts do not fit: left out as one thread would. */
		for (size_t k = 0; k < nparts; k++)
			values_part_deinit(&c.parts[k]);
		err = values_build_serial(h, rules, order);
	} else if (!err) {
		for (size_t k = 0; k < nparts; k++)
			values_part_warn(h, &c.parts[k]);
		if (!values_text_room(h, total)) {
			err = &pyhs_enomem;
		} else {
			/* Offsets in object order, then each part's texts to
			 * theirs. */
			uint64_t pos = h->value_text.size;
			uint32_t *value_off = h->value_off.data;
			for (uint64_t i = 0; i < n; i++) {
				uint32_t len = value_off[i];
				if (len == UINT32_MAX)
					continue;
				value_off[i] = (uint32_t)pos;
				pos += len;
			}
			err = pyhs_jobs_run(h->jobs, nparts, values_part_place, &c, NULL);
			h->value_text.size = total;
		}
	}
	for (size_t k = 0; c.parts && k < nparts; k++)
		values_part_deinit(&c.parts[k]);
	free(c.parts);
	free(order);
	free(rules);
	return err;
}

/* Registers every type object met as an object, so each gets a name. */
struct pyhs_error *pyhs_types_register_objects(struct pyhs_heap *h)
{
	struct pyhs_error *err = NULL;
	for (uint64_t i = 0; i < h->addr.size && !err; i++)
		if (h->types.data[h->type.data[i]].kind == K_TYPE)
			pyhs_type_get(h, h->addr.data[i], &err);
	return err;
}

static uint64_t item_count(const struct pyhs_heap *h, uint64_t i,
			   enum pyhs_label_kind kind)
{
	uint64_t n = 0;
	for (uint64_t e = h->edge_start.data[i]; e < h->edge_start.data[i + 1]; e++)
		if (PYHS_LABEL_KIND(h->edge_label.data[e]) == kind)
			n++;
	return n;
}

void pyhs_heap_preview(const struct pyhs_heap *h, uint64_t i, char *buf,
		       size_t n)
{
	const struct pyhs_type_info *ti = &h->types.data[h->type.data[i]];
	const char *v = pyhs_heap_value(h, i);
	buf[0] = '\0';
	if (!n)
		return;
	switch (ti->kind) {
	case K_STR:
		if (v) {
			char esc[200];
			escape_into(v, esc, sizeof(esc) < n - 2 ? sizeof(esc) : n - 2);
			snprintf(buf, n, "'%s'", esc);
		}
		return;
	case K_TYPE:
		if (v)
			snprintf(buf, n, "<class '%s'>", v);
		return;
	case K_MODULE:
		if (v)
			snprintf(buf, n, "<module '%s'>", v);
		return;
	case K_FUNCTION:
		if (v)
			snprintf(buf, n, "<function %s>", v);
		return;
	case K_CODE:
		if (v)
			snprintf(buf, n, "<code %s>", v);
		return;
	case K_LIST:
	case K_TUPLE:
	case K_DEQUE:
		snprintf(buf, n, "len=%" PRIu64, item_count(h, i, PYHS_LABEL_INDEX));
		return;
	case K_DICT:
	case K_ODICT:
		snprintf(buf, n, "len=%" PRIu64, item_count(h, i, PYHS_LABEL_DICT_VALUE) +
			 item_count(h, i, PYHS_LABEL_NONE));
		return;
	case K_SET:
		snprintf(buf, n, "len=%" PRIu64, item_count(h, i, PYHS_LABEL_ITEM));
		return;
	default:
		if (v)
			snprintf(buf, n, "%s", v);
		return;
	}
}
