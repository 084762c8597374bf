/* Reading values out of objects: str, int, float, bytes; dict look-ups;
 * previews. */
#include <inttypes.h>
#include <stdio.h>

#include "heap_internal.h"
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

bool pyhs_str_data(const struct pyhs_heap *h, uint64_t addr, uint64_t *data,
		   uint64_t *length, unsigned *kind)
{
	const struct pyhs_layout *L = h->L;
	uint64_t len;
	uint32_t state;
	if (!hrd_off(h, addr, L->ascii_length, &len) ||
	    !pyhs_target_read(h->t, addr + (uint64_t)L->ascii_state, &state, 4))
		return false;
	unsigned k = (state >> 2) & 7;
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (k != 1 && k != 2 && k != 4)
		return false;
	if (len > (UINT64_C(1) << 40))
		return false;
	if (compact)
		*data = addr + (uint64_t)(ascii ? L->ascii_size : L->compact_size);
	else if (!hrd_off(h, addr, L->unicode_data, data) || !*data)
		return false;
	*length = len;
	*kind = k;
	return true;
}

bool pyhs_read_str(const struct pyhs_heap *h, uint64_t addr, char *buf,
		   size_t n)
{
	uint64_t type;
	if (!n || !hrd(h, addr + 8, &type))
		return false;
	if (type != h->str_type) {
		/* str subclasses are fine too */
		uint32_t ti = pyhs_heap_lookup(h, addr);
		if (ti == PYHS_NO_OBJECT ||
		    h->types.data[h->type.data[ti]].kind != K_STR)
			return false;
	}
	uint64_t data, len;
	unsigned kind;
	if (!pyhs_str_data(h, addr, &data, &len, &kind))
		return false;
	size_t o = 0;
	for (uint64_t i = 0; i < len; i++) {
		uint32_t c = 0;
		if (!pyhs_target_read(h->t, data + i * kind, &c, kind))
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

struct find_ctx {
	const struct pyhs_heap *h;
	const char *key;
	uint64_t value;
};

static bool find_cb(void *arg, uint64_t key, uint64_t value, uint64_t i)
{
	struct find_ctx *c = arg;
	char s[256];
	if (pyhs_read_str(c->h, key, s, sizeof(s)) && strcmp(s, c->key) == 0) {
		c->value = value;
		return false;
	}
	return true;
}

uint64_t pyhs_dict_get_str(const struct pyhs_heap *h, uint64_t dict,
			   const char *key)
{
	struct find_ctx c = { h, key, 0 };
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
	int64_t ndigits;
	bool neg;
	if (!hrd(h, addr + 16, &tag))
		return false;
	if (L->long_lv_tag >= 0) {
		ndigits = (int64_t)(tag >> 3);
		neg = (tag & 3) == 2;
	} else {
		int64_t s = (int64_t)tag;
		neg = s < 0;
		ndigits = neg ? -s : s;
	}
	if (ndigits > 2) {
		snprintf(buf, n, "<int of %" PRId64 " digits>", ndigits * 9);
		return true;
	}
	uint64_t v = 0;
	for (int64_t i = ndigits - 1; i >= 0; i--) {
		uint32_t d;
		if (!pyhs_target_read(h->t, addr + (uint64_t)L->long_digit + 4 * (uint64_t)i, &d, 4))
			return false;
		v = (v << 30) | d;
	}
	snprintf(buf, n, "%s%" PRIu64, neg ? "-" : "", v);
	return true;
}

void pyhs_heap_preview(const struct pyhs_heap *h, uint64_t i, char *buf,
		       size_t n)
{
	const struct pyhs_layout *L = h->L;
	uint64_t addr = h->addr.data[i];
	const struct pyhs_type_info *ti = &h->types.data[h->type.data[i]];
	char tmp[256];
	uint64_t v;
	buf[0] = '\0';
	switch (ti->kind) {
	case K_STR:
		if (pyhs_read_str(h, addr, tmp, sizeof(tmp))) {
			char esc[200];
			escape_into(tmp, esc, sizeof(esc) < n - 2 ? sizeof(esc) : n - 2);
			snprintf(buf, n, "'%s'", esc);
		}
		break;
	case K_INT:
		read_int(h, addr, buf, n);
		break;
	case K_FLOAT: {
		double d;
		if (pyhs_target_read(h->t, addr + (uint64_t)L->float_ob_fval, &d, 8))
			snprintf(buf, n, "%.17g", d);
		break;
	}
	case K_BYTES:
		if (hrd(h, addr + 16, &v)) {
			size_t len = v < 60 ? (size_t)v : 60;
			if (pyhs_target_read(h->t, addr + (uint64_t)L->bytes_ob_sval, tmp, len)) {
				tmp[len] = '\0';
				char esc[200];
				escape_into(tmp, esc, sizeof(esc));
				snprintf(buf, n, "b'%s'%s", esc, v > 60 ? "..." : "");
			}
		}
		break;
	case K_LIST:
	case K_TUPLE:
	case K_DEQUE:
		if (hrd(h, addr + 16, &v))
			snprintf(buf, n, "len=%" PRIu64, v);
		break;
	case K_DICT:
	case K_ODICT:
		if (hrd_off(h, addr, L->dict_ma_used, &v))
			snprintf(buf, n, "len=%" PRIu64, v);
		break;
	case K_SET:
		if (hrd_off(h, addr, L->set_used, &v))
			snprintf(buf, n, "len=%" PRIu64, v);
		break;
	case K_TYPE:
		if (h->type.data[i] < h->types.size) {
			uint32_t *t = pyhs_addr_u32_map_search(&h->type_by_addr, addr);
			if (t && h->types.data[*t].name)
				snprintf(buf, n, "<class '%s'>", h->types.data[*t].name);
		}
		break;
	case K_MODULE:
		if (hrd_off(h, addr, L->module_md_dict, &v) && v) {
			uint64_t name = pyhs_dict_get_str(h, v, "__name__");
			if (name && pyhs_read_str(h, name, tmp, sizeof(tmp)))
				snprintf(buf, n, "<module '%s'>", tmp);
		}
		break;
	case K_FUNCTION:
		if (hrd_off(h, addr, L->func_qualname, &v) &&
		    pyhs_read_str(h, v, tmp, sizeof(tmp)))
			snprintf(buf, n, "<function %s>", tmp);
		break;
	case K_CODE:
		if (hrd_off(h, addr, L->code_name, &v) &&
		    pyhs_read_str(h, v, tmp, sizeof(tmp)))
			snprintf(buf, n, "<code %s>", tmp);
		break;
	default:
		break;
	}
}
