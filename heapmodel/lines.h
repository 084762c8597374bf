/*
 * Internal: source line numbers of Python frames, from a code object's line
 * table, for CPython 3.8 to 3.14.
 */
#ifndef PYHS_LINES_H
#define PYHS_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pyhs_heap;

/*
 * The source line of the instruction at offset in a code object whose line
 * table (the bytes of co_lnotab or co_linetable) is table[0..len) and whose
 * co_firstlineno is firstlineno; -1 when the table gives the instruction no
 * line, when offset is past the table, or when the table is malformed.  The
 * table is untrusted: nothing past len is read, and the work is bounded by
 * len.
 *
 * What offset counts, per version (minor is the 3.minor of the interpreter):
 *
 *   3.8, 3.9   a BYTE offset into co_code, as PyFrameObject.f_lasti holds
 *              it.  The table is co_lnotab: (byte delta, signed line delta)
 *              pairs.  As in CPython's PyCode_Addr2Line, an offset past the
 *              last entry gets the last line (never -1 for a well-formed
 *              table).
 *   3.10       a CODE-UNIT index into co_code (2-byte units), as
 *              PyFrameObject.f_lasti holds it in 3.10; the table is the PEP
 *              626 co_linetable ((byte delta, signed line delta) pairs, line
 *              delta -128 = no line), whose deltas are in bytes: the lookup
 *              is for byte 2 * offset, as in PyFrame_GetLineNumber.
 *   3.11-3.14  a CODE-UNIT index into the code's instructions (inline cache
 *              entries count: co_code_adaptive[offset]), i.e.
 *              (instruction pointer - co_code_adaptive) / 2.  The table is the
 *              co_linetable location table, whose entries cover code units.
 *
 * Negative offsets (a frame that has not started yet: f_lasti == -1, or
 * prev_instr one unit before the code) are not expressible here: CPython
 * gives such frames co_firstlineno, and so does pyhs_frame_line.
 */
int pyhs_line_for_offset(unsigned minor, int firstlineno, const uint8_t *table,
			 size_t len, uint64_t offset);

/*
 * The current line of a frame running the code object at address code, or
 * -1 when unknown.  h must still have its target (during the walk).
 *
 *   is_iframe false (3.8-3.10): instr is PyFrameObject.f_lasti, an int,
 *     sign-extended to 64 bits (so -1, "not started", is UINT64_MAX); bytes
 *     in 3.8/3.9, code units in 3.10.  f_lineno is not consulted: in 3.8/3.9
 *     it is only kept up to date while tracing, and in 3.10 it is non-zero
 *     only during a trace call, when it equals the f_lasti lookup anyway.
 *   is_iframe true (3.11+): instr is _PyInterpreterFrame.prev_instr
 *     (3.11/3.12: the last instruction started, or, in a frame that made a
 *     Python-to-Python call, the last cache entry of that CALL) or instr_ptr
 *     (3.13+: the instruction executing or about to begin), a pointer into
 *     co_code_adaptive.  Both resolve to the line of the CALL a frame below
 *     the top is waiting in, which is what CPython's f_lineno gives.
 */
int pyhs_frame_line(const struct pyhs_heap *h, uint64_t code,
		    uint64_t instr_ptr_or_lasti, bool is_iframe);

/*
 * Where code is: its name (co_qualname where the version has it and
 * qualname is asked for, else co_name), its co_filename, and the line of
 * instr as pyhs_frame_line takes it (-1 when unknown). "?" for names that
 * cannot be read.
 */
void pyhs_code_location(const struct pyhs_heap *h, uint64_t code,
			uint64_t instr, bool is_iframe, bool qualname,
			char *name, size_t name_size, char *file,
			size_t file_size, int *line);

/*
 * The frame of a generator, coroutine or async generator object, for
 * CPython 3.8 to 3.15: the code it runs, where it is (instr as
 * pyhs_frame_line takes it), whether it has finished, and the object it
 * is suspended in a `yield from` or `await` on (0 if none): what CPython's
 * gi_yieldfrom / cr_await return.
 */
struct pyhs_gen_frame {
	uint64_t code;
	uint64_t instr;
	bool is_iframe;
	bool finished;
	uint64_t yf;
};
bool pyhs_gen_frame(const struct pyhs_heap *h, uint64_t gen,
		    struct pyhs_gen_frame *ret);
/* The object a <=3.10 frame object at f, running code, is suspended in a
 * `yield from` or `await` on, or 0. */
uint64_t pyhs_old_frame_yf(const struct pyhs_heap *h, uint64_t f,
			   uint64_t code);

#endif
