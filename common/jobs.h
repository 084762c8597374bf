/*
 * Running independent pieces of work on several threads: the analyses of a
 * heap, the chunks of an export, the sections of a snapshot.
 *
 * The threads started here block every asynchronous signal in themselves
 * (pthread_sigmask, inside each thread) and so leave the caller's signal
 * handling as it was: a signal still goes to the caller's thread. They
 * look at the caller's cancel flag between pieces.
 */
#ifndef PYHS_JOBS_H
#define PYHS_JOBS_H

#include <signal.h>
#include <stddef.h>

struct pyhs_error;

/* One piece of work: k in [0, n); NULL on success. */
typedef struct pyhs_error *pyhs_job_fn(void *ctx, size_t k);

/* Runs fn(ctx, k) for every k in [0, n) on at most jobs threads, the
 * caller's among them (jobs 0 or 1: in the caller's thread alone, in
 * order). Pieces run in any order and at once, so fn must write only what
 * piece k owns. Returns the error of the lowest k that failed (the others
 * are destroyed), else PYHS_ERROR_CANCELLED if cancel (when not NULL) was
 * raised before every piece had run, else NULL. A thread that cannot be
 * started only leaves fewer threads to do the work. */
struct pyhs_error *pyhs_jobs_run(unsigned jobs, size_t n, pyhs_job_fn *fn, void *ctx,
				 const volatile sig_atomic_t *cancel);

/* One piece of work on a thread of its own, beside the caller's: started
 * by pyhs_job_start, which runs fn(ctx, 0) on a new thread (signals
 * blocked in it, as above) and returns at once; pyhs_job_finish waits for
 * it, returns its error and frees the job. A thread that cannot be
 * started runs the piece in the caller's thread, before start returns.
 * Start returns NULL (nothing run) only if it is out of memory. */
struct pyhs_job;
struct pyhs_job *pyhs_job_start(pyhs_job_fn *fn, void *ctx);
struct pyhs_error *pyhs_job_finish(struct pyhs_job *job);

/* The threads worth running: the CPUs this process may run on
 * (sched_getaffinity), bounded by its cgroup's CPU quota (cpu.max of
 * cgroup v2, cpu.cfs_quota_us of v1) rounded up; at least 1. */
unsigned pyhs_jobs_available(void);

/* Blocks, in the calling thread alone, every signal but those a fault
 * raises in it: what a thread started by this layer runs first, so that
 * signals stay the business of the thread that started it. */
void pyhs_jobs_block_signals(void);

/* The most threads pyhs_jobs_run starts, whatever it is asked. */
#define PYHS_JOBS_MAX 256

#endif
