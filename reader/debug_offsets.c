/*
 * _Py_DebugOffsets: the block of layout facts CPython 3.13+ starts
 * _PyRuntime with ("xdebugpy", PY_VERSION_HEX, free_threaded, then offsets
 * and sizes as uint64_t). Which fact sits where is per version: 3.13, 3.14
 * and 3.15 here (Include/internal/pycore_debug_offsets.h of each, checked
 * against the DWARF of Debian's 3.14.10 and 3.15.2 builds). Versions newer
 * than 3.15 are read as 3.15's block, and the values are checked for
 * plausibility before anything trusts them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "reader.h"

enum { BLOCK_LAYOUTS = 3 };

struct debug_offset {
	uint16_t pos[BLOCK_LAYOUTS]; /* in the 3.13, 3.14, 3.15 block; 0: none */
	size_t field;                /* offsetof(struct pyhs_layout, ...) */
	const char *name;            /* as pycore_debug_offsets.h calls it */
};
#define DO(p13, p14, p15, f, n) \
	{ { p13, p14, p15 }, offsetof(struct pyhs_layout, f), n }
static const struct debug_offset debug_offsets[] = {
	DO(24, 24, 24, rt_size, "runtime_state.size"),
	DO(40, 40, 40, rt_interpreters_head, "runtime_state.interpreters_head"),
	DO(48, 48, 48, interp_size, "interpreter_state.size"),
	DO(64, 64, 64, interp_next, "interpreter_state.next"),
	DO(72, 72, 72, interp_tstate_head, "interpreter_state.threads_head"),
	DO(80, 88, 88, interp_gc, "interpreter_state.gc"),
	DO(88, 96, 96, interp_modules, "interpreter_state.imports_modules"),
	DO(96, 104, 104, interp_sysdict, "interpreter_state.sysdict"),
	DO(104, 112, 112, interp_builtins, "interpreter_state.builtins"),
	DO(152, 176, 176, tstate_size, "thread_state.size"),
	DO(168, 192, 192, tstate_next, "thread_state.next"),
	DO(176, 200, 200, tstate_interp, "thread_state.interp"),
	DO(184, 208, 208, tstate_current_frame, "thread_state.current_frame"),
	DO(192, 216, 240, tstate_thread_id, "thread_state.thread_id"),
	DO(200, 224, 248, tstate_native_thread_id, "thread_state.native_thread_id"),
	DO(224, 248, 312, iframe_size, "interpreter_frame.size"),
	DO(232, 256, 320, iframe_previous, "interpreter_frame.previous"),
	DO(240, 264, 328, iframe_code, "interpreter_frame.executable"),
	DO(248, 272, 336, iframe_instr, "interpreter_frame.instr_ptr"),
	DO(256, 280, 344, iframe_localsplus, "interpreter_frame.localsplus"),
	DO(264, 288, 352, iframe_owner, "interpreter_frame.owner"),
	DO(0, 296, 360, iframe_stacktop, "interpreter_frame.stackpointer"),
	DO(272, 312, 376, code_size, "code_object.size"),
	DO(280, 320, 384, code_filename, "code_object.filename"),
	DO(288, 328, 392, code_name, "code_object.name"),
	DO(296, 336, 400, code_qualname, "code_object.qualname"),
	DO(304, 344, 408, code_linetable, "code_object.linetable"),
	DO(312, 352, 416, code_firstlineno, "code_object.firstlineno"),
	DO(320, 360, 424, code_argcount, "code_object.argcount"),
	DO(328, 368, 432, code_localsplusnames, "code_object.localsplusnames"),
	DO(336, 376, 440, code_localspluskinds, "code_object.localspluskinds"),
	DO(344, 384, 448, code_code_adaptive, "code_object.co_code_adaptive"),
	DO(368, 416, 480, type_size, "type_object.size"),
	DO(376, 424, 488, type_tp_name, "type_object.tp_name"),
	DO(392, 440, 504, type_tp_flags, "type_object.tp_flags"),
	DO(0, 0, 512, type_tp_basicsize, "type_object.tp_basicsize"),
	DO(0, 0, 520, type_tp_dictoffset, "type_object.tp_dictoffset"),
	DO(0, 0, 528, heaptype_size, "heap_type_object.size"),
	DO(0, 0, 536, heaptype_ht_cached_keys, "heap_type_object.ht_cached_keys"),
	DO(408, 456, 552, tuple_ob_item, "tuple_object.ob_item"),
	DO(432, 480, 576, list_ob_item, "list_object.ob_item"),
	DO(0, 504, 600, set_used, "set_object.used"),
	DO(0, 512, 608, set_table, "set_object.table"),
	DO(0, 520, 616, set_mask, "set_object.mask"),
	DO(456, 536, 632, dict_ma_keys, "dict_object.ma_keys"),
	DO(464, 544, 640, dict_ma_values, "dict_object.ma_values"),
	DO(480, 560, 656, float_ob_fval, "float_object.ob_fval"),
	DO(496, 576, 672, long_lv_tag, "long_object.lv_tag"),
	DO(504, 584, 680, long_digit, "long_object.ob_digit"),
	DO(528, 608, 704, bytes_ob_sval, "bytes_object.ob_sval"),
	DO(536, 616, 712, unicode_size, "unicode_object.size"),
	DO(544, 624, 720, ascii_state, "unicode_object.state"),
	DO(552, 632, 728, ascii_length, "unicode_object.length"),
	DO(560, 640, 736, ascii_size, "unicode_object.asciiobject_size"),
	DO(0, 0, 744, compact_size, "unicode_object.compactunicodeobject_size"),
	DO(568, 648, 752, gc_state_size, "gc.size"),
	DO(576, 656, 760, gc_collecting, "gc.collecting"),
	DO(0, 664, 792, gen_size, "gen_object.size"),
	DO(0, 672, 800, gen_gi_name, "gen_object.gi_name"),
	DO(0, 680, 808, gen_gi_iframe, "gen_object.gi_iframe"),
	DO(0, 688, 816, gen_gi_frame_state, "gen_object.gi_frame_state"),
};
#undef DO
#define NOFFSETS (sizeof(debug_offsets) / sizeof(debug_offsets[0]))

/* Bytes of the block each layout reads: up to its last entry. */
static size_t block_end(unsigned b)
{
	size_t end = 0;
	for (size_t i = 0; i < NOFFSETS; i++)
		if ((size_t)debug_offsets[i].pos[b] + 8 > end)
			end = (size_t)debug_offsets[i].pos[b] + 8;
	return end;
}

/* A member that must lie inside its struct. */
struct within {
	size_t member, size; /* offsetof(struct pyhs_layout, ...) */
	const char *member_name, *size_name;
};
#define W(m, s) { offsetof(struct pyhs_layout, m), offsetof(struct pyhs_layout, s), #m, #s }
static const struct within within[] = {
	W(rt_interpreters_head, rt_size), W(interp_size, rt_size),
	W(interp_next, interp_size), W(interp_tstate_head, interp_size),
	W(interp_gc, interp_size), W(interp_modules, interp_size),
	W(interp_sysdict, interp_size), W(interp_builtins, interp_size),
	W(tstate_next, tstate_size), W(tstate_interp, tstate_size),
	W(tstate_current_frame, tstate_size), W(tstate_thread_id, tstate_size),
	W(tstate_native_thread_id, tstate_size),
	W(iframe_previous, iframe_size), W(iframe_code, iframe_size),
	W(iframe_instr, iframe_size), W(iframe_localsplus, iframe_size),
	W(iframe_owner, iframe_size), W(iframe_stacktop, iframe_size),
	W(code_filename, code_size), W(code_name, code_size),
	W(code_qualname, code_size), W(code_linetable, code_size),
	W(code_firstlineno, code_size), W(code_argcount, code_size),
	W(code_localsplusnames, code_size), W(code_localspluskinds, code_size),
	W(code_code_adaptive, code_size),
	W(type_tp_name, type_size), W(type_tp_flags, type_size),
	W(type_tp_basicsize, type_size), W(type_tp_dictoffset, type_size),
	W(type_size, heaptype_size), W(heaptype_ht_cached_keys, heaptype_size),
	W(ascii_state, ascii_size), W(ascii_length, ascii_size),
	W(ascii_size, compact_size), W(ascii_size, unicode_size),
	W(gc_collecting, gc_state_size),
	W(gen_gi_name, gen_size), W(gen_gi_iframe, gen_size),
	W(gen_gi_frame_state, gen_size),
};
#undef W

/* Object members past the object header (16 bytes; 24 for a PyVarObject). */
struct past_head {
	size_t member;
	int32_t min;
	const char *name;
};
#define H(m, n) { offsetof(struct pyhs_layout, m), n, #m }
static const struct past_head past_head[] = {
	H(type_tp_name, 24), H(tuple_ob_item, 24), H(list_ob_item, 24),
	H(set_used, 16), H(set_table, 16), H(set_mask, 16),
	H(dict_ma_keys, 16), H(dict_ma_values, 16), H(float_ob_fval, 16),
	H(long_lv_tag, 16), H(long_digit, 16), H(bytes_ob_sval, 24),
	H(ascii_state, 16), H(ascii_length, 16), H(ascii_size, 16),
	H(gen_gi_name, 16), H(gen_gi_iframe, 16), H(gen_gi_frame_state, 16),
	H(code_filename, 24), H(code_name, 24),
};
#undef H

/* Nothing CPython lays out is this large (the biggest, _PyRuntimeState, is
 * a few hundred KiB). */
#define PLAUSIBLE_MAX (16 << 20)

static int32_t *fact(struct pyhs_layout *l, size_t offset)
{
	return (int32_t *)((char *)l + offset);
}

unsigned pyhs_debug_offsets_minor(const void *block, size_t len, uint32_t *ret_version)
{
	const uint8_t *b = block;
	uint64_t version;
	if (len < 24 || memcmp(b, "xdebugpy", 8) != 0)
		return 0;
	memcpy(&version, b + 8, 8);
	unsigned minor = (version >> 16) & 0xff;
	if ((version >> 24) != 3 || (version >> 32) || minor < 13)
		return 0;
	if (ret_version)
		*ret_version = (uint32_t)version;
	return minor;
}

struct pyhs_error *pyhs_layout_debug_offsets(const void *block, size_t len,
					     struct pyhs_layout *io, size_t *ret_n)
{
	uint32_t version;
	unsigned minor = pyhs_debug_offsets_minor(block, len, &version);
	if (!minor) {
		*ret_n = 0;
		return NULL;
	}
	unsigned b = minor == 13 ? 0 : minor == 14 ? 1 : 2;
	if (len < block_end(b))
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "_Py_DebugOffsets of CPython 3.%u is cut short (%zu of %zu bytes)",
					 minor, len, block_end(b));
	struct pyhs_layout l = *io;
	size_t n = 0;
	for (size_t i = 0; i < NOFFSETS; i++) {
		const struct debug_offset *d = &debug_offsets[i];
		uint64_t v;
		if (!d->pos[b])
			continue;
		memcpy(&v, (const uint8_t *)block + d->pos[b], 8);
		if (v > PLAUSIBLE_MAX)
			return pyhs_error_create(PYHS_ERROR_INPUT,
						 "_Py_DebugOffsets is implausible: %s is %llu",
						 d->name, (unsigned long long)v);
		*fact(&l, d->field) = (int32_t)v;
		n++;
	}
	for (size_t i = 0; i < sizeof(within) / sizeof(within[0]); i++) {
		int32_t m = *fact(&l, within[i].member), s = *fact(&l, within[i].size);
		if (m >= 0 && s >= 0 && m >= s)
			return pyhs_error_create(PYHS_ERROR_INPUT,
						 "_Py_DebugOffsets is implausible: %s (%d) is not inside %s (%d)",
						 within[i].member_name, m, within[i].size_name, s);
	}
	for (size_t i = 0; i < sizeof(past_head) / sizeof(past_head[0]); i++) {
		int32_t m = *fact(&l, past_head[i].member);
		if (m >= 0 && m < past_head[i].min)
			return pyhs_error_create(PYHS_ERROR_INPUT,
						 "_Py_DebugOffsets is implausible: %s (%d) is inside the object header",
						 past_head[i].name, m);
	}
	*io = l;
	*ret_n = n;
	return NULL;
}
