/*
 * A hint that the bytes at p are wanted soon: their cache line is
 * fetched while other work goes on. It never faults, whatever p is, and
 * changes nothing a program can see but its speed.
 *
 * GCC (12, -O2 and -O3) deletes a __builtin_prefetch whose address is
 * worked out under a condition in a loop, as it does dead code: such a
 * hint was never in the binary. On x86-64 the instruction is written
 * out instead (prefetcht0, what GCC emits for reads and, without
 * -mprfchw, for writes too).
 */
#ifndef PYHS_PREFETCH_H
#define PYHS_PREFETCH_H

static inline void pyhs_prefetch(const void *p)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__asm__ volatile("prefetcht0 (%0)" : : "r"(p));
#else
	__builtin_prefetch(p);
#endif
}

#endif
