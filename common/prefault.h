/*
 * Pages of an array faulted in by a thread of their own, ahead of the
 * thread that is about to write them: where a fresh page costs microseconds
 * (the kernel zeroes it, and on a virtual machine may have to ask the host
 * for it first), the writer finds it there. Only hints: what is asked is
 * made resident and writable with its bytes kept (madvise
 * MADV_POPULATE_WRITE), never changed.
 */
#ifndef PYHS_PREFAULT_H
#define PYHS_PREFAULT_H

#include <stddef.h>

struct pyhs_prefault;

/* NULL when the kernel cannot populate pages (before Linux 5.14) or no
 * thread can be started, or out of memory: nothing is faulted in ahead
 * then, and every function below takes NULL and does nothing. */
struct pyhs_prefault *pyhs_prefault_create(void);

/* Asks that the pages holding the n bytes at p be faulted in; returns at
 * once. What cannot be queued is left to the writer. */
void pyhs_prefault_ask(struct pyhs_prefault *pf, void *p, size_t n);

/* Returns once no page asked for so far is being or will be faulted in:
 * before memory asked for is moved or freed (a realloc). */
void pyhs_prefault_quiesce(struct pyhs_prefault *pf);

/* Quiesced, its thread ended and freed. */
void pyhs_prefault_destroy(struct pyhs_prefault *pf);

#endif
