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
#include <stdio.h>
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

void pyhs_code_location(const struct pyhs_heap *h, uint64_t code,
			uint64_t instr, bool is_iframe, bool qualname,
			char *name, size_t name_size, char *file,
			size_t file_size, int *line)
{
	const struct pyhs_layout *L = h->L;
	uint64_t v;
	snprintf(name, name_size, "?");
	snprintf(file, file_size, "?");
	if (!(qualname && L->code_qualname >= 0 &&
	      hrd_off(h, code, L->code_qualname, &v) &&
	      pyhs_read_str(h, v, name, name_size)) &&
	    hrd_off(h, code, L->code_name, &v) &&
	    !pyhs_read_str(h, v, name, name_size))
		snprintf(name, name_size, "?");
	if (hrd_off(h, code, L->code_filename, &v) &&
	    !pyhs_read_str(h, v, file, file_size))
		snprintf(file, file_size, "?");
	*line = pyhs_frame_line(h, code, instr, is_iframe);
}

/* Opcodes that tell a frame suspended in a yield from / await. */
#define YIELD_FROM_38 72          /* 3.8 to 3.10: the next instruction */
#define RESUME_311 151            /* 3.11, 3.12: the next instruction, */
#define RESUME_QUICK_311 150      /* oparg >= 2 after a yield from */
#define INSTRUMENTED_RESUME_312 240

/* Frame states of 3.11+ generators (gi_frame_state). 3.11 to 3.14 count
 * from CREATED below 0 to EXECUTING 0, COMPLETED 1, CLEARED 4; 3.15 from
 * CREATED 0: SUSPENDED 1, SUSPENDED_YIELD_FROM 2, its _LOCKED 3,
 * EXECUTING 4, CLEARED 5. */
#define FRAME_SUSPENDED_311 (-1)          /* 3.11, 3.12 */
#define FRAME_SUSPENDED_YIELD_FROM_313 (-1) /* 3.13, 3.14 */
#define FRAME_SUSPENDED_YIELD_FROM_315 2
#define FRAME_SUSPENDED_YIELD_FROM_LOCKED_315 3
#define FRAME_CLEARED_315 5

uint64_t pyhs_old_frame_yf(const struct pyhs_heap *h, uint64_t f,
			   uint64_t code)
{
	const struct pyhs_layout *L = h->L;
	int32_t lasti = -1;
	uint64_t co_code, n;
	if (L->frame_f_lasti < 0 ||
	    !pyhs_target_read(h->t, f + (uint64_t)L->frame_f_lasti, &lasti, 4) ||
	    lasti < 0 || !hrd_off(h, code, L->code_code, &co_code) ||
	    !hrd(h, co_code + 16, &n))
		return 0;
	/* 3.8/3.9 count f_lasti in bytes, 3.10 in code units. */
	uint64_t next = h->minor >= 10 ? ((uint64_t)lasti + 1) * 2 : (uint64_t)lasti + 2;
	uint8_t op;
	if (next >= n || !pyhs_target_read(h->t, co_code + (uint64_t)L->bytes_ob_sval + next, &op, 1) ||
	    op != YIELD_FROM_38)
		return 0;
	uint64_t top = 0, yf = 0;
	if (L->frame_f_stackdepth >= 0) {
		int32_t depth;
		uint64_t vs;
		if (!pyhs_target_read(h->t, f + (uint64_t)L->frame_f_stackdepth, &depth, 4) ||
		    depth <= 0 || !hrd_off(h, f, L->frame_f_valuestack, &vs))
			return 0;
		top = vs + 8 * (uint64_t)depth;
	} else if (!hrd_off(h, f, L->frame_f_stacktop, &top) || !top) {
		return 0; /* running: f_stacktop is NULL */
	}
	return hrd(h, top - 8, &yf) ? yf : 0;
}

bool pyhs_gen_frame(const struct pyhs_heap *h, uint64_t gen,
		    struct pyhs_gen_frame *ret)
{
	const struct pyhs_layout *L = h->L;
	struct pyhs_gen_frame g = { 0 };
	if (h->minor <= 10) {
		uint64_t f = 0;
		int32_t lasti = -1;
		hrd_off(h, gen, L->gen_gi_frame, &f);
		if (!f) {
			g.finished = true;
			if (!hrd_off(h, gen, L->gen_gi_code, &g.code))
				return false;
		} else if (!hrd_off(h, f, L->frame_f_code, &g.code) ||
			   !pyhs_target_read(h->t, f + (uint64_t)L->frame_f_lasti, &lasti, 4)) {
			return false;
		} else {
			g.instr = (uint64_t)(int64_t)lasti;
			g.yf = pyhs_old_frame_yf(h, f, g.code);
		}
		*ret = g;
		return g.code != 0;
	}
	int8_t state;
	uint64_t f = gen + (uint64_t)L->gen_gi_iframe;
	if (!pyhs_target_read(h->t, gen + (uint64_t)L->gen_gi_frame_state, &state, 1))
		return false;
	if (L->gen_gi_code >= 0) {
		if (!hrd_off(h, gen, L->gen_gi_code, &g.code))
			return false;
	} else if (!hrd_off(h, f, L->iframe_code, &g.code)) {
		return false;
	}
	g.code &= ~UINT64_C(3);
	g.is_iframe = true;
	g.finished = h->minor >= 15 ? state >= FRAME_CLEARED_315 : state >= 1;
	if (g.finished || !hrd_off(h, f, L->iframe_instr, &g.instr)) {
		*ret = g;
		return g.code != 0;
	}
	bool in_yf = false;
	if (h->minor <= 12) {
		uint8_t next[2];
		in_yf = state == FRAME_SUSPENDED_311 &&
			pyhs_target_read(h->t, g.instr + 2, next, 2) &&
			(next[0] == RESUME_311 || next[0] == RESUME_QUICK_311 ||
			 (h->minor == 12 && next[0] == INSTRUMENTED_RESUME_312)) &&
			next[1] >= 2;
	} else if (h->minor <= 14) {
		in_yf = state == FRAME_SUSPENDED_YIELD_FROM_313;
	} else {
		in_yf = state == FRAME_SUSPENDED_YIELD_FROM_315 ||
			state == FRAME_SUSPENDED_YIELD_FROM_LOCKED_315;
	}
	if (in_yf) {
		uint64_t base = f + (uint64_t)L->iframe_localsplus, top = 0, v;
		if (h->minor >= 14) {
			hrd_off(h, f, L->iframe_stacktop, &top);
		} else {
			int32_t st;
			if (pyhs_target_read(h->t, f + (uint64_t)L->iframe_stacktop, &st, 4) && st > 0)
				top = base + 8 * (uint64_t)st;
		}
		/* 3.15 leaves a NULL stack reference (a tagged 0) above the
		 * object it awaits. */
		if (h->minor >= 15 && top > base + 8 && hrd(h, top - 8, &v) &&
		    !(v & ~UINT64_C(3)))
			top -= 8;
		if (top > base && hrd(h, top - 8, &v) && (v & 3) != 3)
			g.yf = v & ~UINT64_C(3);
	}
	*ret = g;
	return true;
}
