/*
 * Source line numbers from CPython line tables (see lines.h for the units).
 *
 * Three formats:
 *   3.8, 3.9   co_lnotab: (byte delta, line delta) pairs; the line delta is
 *              a signed byte.  An address A has the line reached after every
 *              pair whose cumulative address is <= A.
 *   3.10       co_linetable (PEP 626): (byte delta, line delta) pairs, each
 *              the range [end, end + delta) with line += delta, or no line
 *              when the line delta is -128 (then the line is not changed).
 *              Zero-length ranges only move the line.
 *   3.11+      the location table: entries starting with a byte 1CCCCLLL
 *              (C: a 4-bit code, L: length - 1 in code units), followed by
 *              varints of 6-bit chunks (0x40 = more, little-endian first):
 *                15     no location (line -1, line unchanged)
 *                14     long form: signed varint line delta, then end-line
 *                       delta, column + 1, end column + 1 (varints)
 *                13     no columns: signed varint line delta
 *                10-12  one-line form: line delta code - 10, then 2 bytes
 *                0-9    short form: same line, 1 byte of columns
 *              A signed varint is zigzag-like: (v & 1) ? -(v >> 1) : v >> 1.
 */
#include <limits.h>
#include <stdlib.h>

#include "heap_internal.h"
#include "lines.h"

/* Tables larger than this are treated as corrupt (keeps the line
 * arithmetic far from int64 overflow: each step is below 2^32). */
#define MAX_TABLE (UINT64_C(1) << 30)

static int line_result(int64_t line)
{
	return line < INT_MIN || line > INT_MAX ? -1 : (int)line;
}

/* 3.8/3.9: PyCode_Addr2Line over co_lnotab; offset in bytes. */
static int lnotab_line(int firstlineno, const uint8_t *t, size_t len,
		       uint64_t offset)
{
	int64_t line = firstlineno;
	uint64_t addr = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > offset)
			break;
		line += (int8_t)t[i + 1];
	}
	return line_result(line);
}

/* 3.10: PEP 626 co_linetable; offset in code units, table in bytes. */
static int linetable310_line(int firstlineno, const uint8_t *t, size_t len,
			     uint64_t offset)
{
	/* The table cannot reach past 255 bytes per pair. */
	if (offset > (uint64_t)len * 255)
		return -1;
	uint64_t byte = offset * 2, end = 0;
	int64_t computed = firstlineno;
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint64_t start = end;
		end += t[i];
		int8_t ld = (int8_t)t[i + 1];
		int64_t line = -1;
		if (ld != -128) {
			computed += ld;
			line = computed;
		}
		if (byte >= start && byte < end)
			return line_result(line);
	}
	return -1;
}

/* A varint of the 3.11+ location table at t[*pos], bounded by len; the
 * value wraps to 32 bits as CPython's unsigned int does.  False if it runs
 * off the table, into the next entry, or past six chunks. */
static bool read_varint(const uint8_t *t, size_t len, size_t *pos,
			uint32_t *ret)
{
	uint64_t val = 0;
	for (unsigned shift = 0; shift <= 30; shift += 6) {
		if (*pos >= len || (t[*pos] & 0x80))
			return false;
		uint8_t b = t[(*pos)++];
		val |= (uint64_t)(b & 63) << shift;
		if (!(b & 64)) {
			*ret = (uint32_t)val;
			return true;
		}
	}
	return false;
}

/* 3.11+: the location table; offset in code units. */
static int loctable_line(int firstlineno, const uint8_t *t, size_t len,
			 uint64_t offset)
{
	/* At most 8 code units per entry, at least one byte per entry. */
	if (offset >= (uint64_t)len * 8)
		return -1;
	uint64_t end = 0;
	int64_t computed = firstlineno;
	size_t pos = 0;
	while (pos < len) {
		uint8_t first = t[pos];
		if (!(first & 0x80))
			return -1; /* not at an entry: corrupt */
		unsigned code = (first >> 3) & 15;
		uint64_t start = end;
		end += (uint64_t)(first & 7) + 1;
		size_t p = pos + 1;
		int64_t line;
		if (code == 15) {
			line = -1;
		} else {
			if (code == 14 || code == 13) {
				uint32_t u;
				if (!read_varint(t, len, &p, &u))
					return -1;
				computed += (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
			} else if (code >= 10) {
				computed += (int64_t)code - 10;
			}
			line = computed;
		}
		if (offset >= start && offset < end)
			return line_result(line);
		/* The next entry: the next byte with the top bit set. */
		pos++;
		while (pos < len && !(t[pos] & 0x80))
			pos++;
	}
	return -1;
}

int pyhs_line_for_offset(unsigned minor, int firstlineno, const uint8_t *table,
			 size_t len, uint64_t offset)
{
	if (!table || (uint64_t)len > MAX_TABLE)
		return -1;
	if (minor <= 9)
		return lnotab_line(firstlineno, table, len, offset);
	if (minor == 10)
		return linetable310_line(firstlineno, table, len, offset);
	return loctable_line(firstlineno, table, len, offset);
}

/* ob_size of a PyVarObject (bytes objects; code objects in 3.11+). */
static bool var_size(const struct pyhs_heap *h, uint64_t obj, uint64_t *ret)
{
	int64_t n;
	if (!pyhs_target_read(h->t, obj + 16, &n, sizeof(n)) || n < 0)
		return false;
	*ret = (uint64_t)n;
	return true;
}

int pyhs_frame_line(const struct pyhs_heap *h, uint64_t code,
		    uint64_t instr_ptr_or_lasti, bool is_iframe)
{
	const struct pyhs_layout *L = h->L;
	if (!code || L->code_linetable < 0 || L->code_firstlineno < 0 ||
	    L->bytes_ob_sval < 0)
		return -1;
	int32_t first;
	if (!pyhs_target_read(h->t, code + (uint64_t)L->code_firstlineno, &first,
			      sizeof(first)))
		return -1;

	uint64_t offset;
	if (is_iframe) {
		if (L->code_code_adaptive < 0)
			return -1;
		uint64_t base = code + (uint64_t)L->code_code_adaptive;
		uint64_t ip = instr_ptr_or_lasti, nunits;
		if (ip < base)
			/* 3.11/3.12 start a frame at prev_instr = code - 1. */
			return base - ip <= 2 ? first : -1;
		if ((ip - base) & 1)
			return -1;
		offset = (ip - base) / 2;
		if (var_size(h, code, &nunits) && offset >= nunits)
			return -1;
	} else {
		int64_t lasti = (int64_t)instr_ptr_or_lasti;
		if (lasti < 0)
			return lasti == -1 ? first : -1;
		offset = (uint64_t)lasti;
		uint64_t co_code, nbytes;
		if (hrd_off(h, code, L->code_code, &co_code) &&
		    var_size(h, co_code, &nbytes) &&
		    (h->minor >= 10 ? offset >= nbytes / 2 : offset >= nbytes))
			return -1;
	}

	uint64_t table, len;
	if (!hrd_off(h, code, L->code_linetable, &table) || !table ||
	    !var_size(h, table, &len) || len > MAX_TABLE)
		return -1;
	if (!len)
		return pyhs_line_for_offset(h->minor, first, (const uint8_t *)"",
					    0, offset);
	uint64_t data = table + (uint64_t)L->bytes_ob_sval;
	const uint8_t *p = pyhs_target_ptr(h->t, data, (size_t)len);
	if (p)
		return pyhs_line_for_offset(h->minor, first, p, (size_t)len, offset);
	uint8_t *buf = malloc((size_t)len);
	if (!buf)
		return -1;
	int line = -1;
	if (pyhs_target_read(h->t, data, buf, (size_t)len))
		line = pyhs_line_for_offset(h->minor, first, buf, (size_t)len, offset);
	free(buf);
	return line;
}
