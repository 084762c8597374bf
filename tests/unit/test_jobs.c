/*
 * Tests of common/jobs.c: every piece runs once, the lowest failing
 * piece's error is the one returned, a raised cancel flag stops the run,
 * the threads started block signals while the caller's mask stays as it
 * was, and the CPUs available are at least one; and of common/prefault.c:
 * the pages asked for come in with their bytes kept, and none comes in
 * once the thread is quiesced.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "common/error.h"
#include "common/jobs.h"
#include "common/prefault.h"

#define PIECES 1000

struct counts {
	atomic_int ran[PIECES];
	pthread_t caller;
	atomic_int other_threads;  /* pieces run outside the caller's thread */
	atomic_int unblocked;      /* of those, pieces that saw SIGINT unblocked */
};

static struct pyhs_error *count_piece(void *ctx, size_t k)
{
	struct counts *c = ctx;
	atomic_fetch_add(&c->ran[k], 1);
	if (!pthread_equal(pthread_self(), c->caller)) {
		atomic_fetch_add(&c->other_threads, 1);
		sigset_t now;
		pthread_sigmask(SIG_BLOCK, NULL, &now);
		if (!sigismember(&now, SIGINT) || !sigismember(&now, SIGTERM))
			atomic_fetch_add(&c->unblocked, 1);
	}
	/* Long enough that the other threads take pieces too. */
	volatile unsigned spin = 0;
	for (unsigned i = 0; i < 20000; i++)
		spin = spin + i;
	return spin == 1 ? pyhs_error_create(PYHS_ERROR_INPUT, "never") : NULL;
}

static void run_counted(unsigned jobs)
{
	struct counts *c = calloc(1, sizeof(*c));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c->caller = pthread_self();
	sigset_t before, after;
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	CU_ASSERT_PTR_NULL(pyhs_jobs_run(jobs, PIECES, count_piece, c, NULL));
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	for (size_t k = 0; k < PIECES; k++)
		CU_ASSERT_EQUAL(atomic_load(&c->ran[k]), 1);
	CU_ASSERT_EQUAL(atomic_load(&c->unblocked), 0);
	if (jobs <= 1)
		CU_ASSERT_EQUAL(atomic_load(&c->other_threads), 0);
	CU_ASSERT_EQUAL(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
	CU_ASSERT_EQUAL(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
	free(c);
}

static void test_one_thread(void) { run_counted(1); }
static void test_four_threads(void) { run_counted(4); }

static struct pyhs_error *failing_piece(void *ctx, size_t k)
{
	(void)ctx;
	if (k % 7 == 3)
		return pyhs_error_create(PYHS_ERROR_INPUT, "piece %zu", k);
	return NULL;
}

static void test_lowest_error(void)
{
	for (unsigned jobs = 1; jobs <= 4; jobs += 3) {
		struct pyhs_error *err = pyhs_jobs_run(jobs, 100, failing_piece, NULL, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(err);
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_INPUT);
		CU_ASSERT_STRING_EQUAL(err->message, "piece 3");
		pyhs_error_destroy(err);
	}
}

static volatile sig_atomic_t cancel;

static struct pyhs_error *cancelling_piece(void *ctx, size_t k)
{
	atomic_int *ran = ctx;
	atomic_fetch_add(ran, 1);
	if (k == 10)
		cancel = 1;
	return NULL;
}

static void test_cancel(void)
{
	for (unsigned jobs = 1; jobs <= 4; jobs += 3) {
		atomic_int ran;
		atomic_init(&ran, 0);
		cancel = 0;
		struct pyhs_error *err = pyhs_jobs_run(jobs, 100000, cancelling_piece, &ran,
						       &cancel);
		CU_ASSERT_PTR_NOT_NULL_FATAL(err);
		CU_ASSERT_EQUAL(err->code, PYHS_ERROR_CANCELLED);
		CU_ASSERT(atomic_load(&ran) < 100000);
		pyhs_error_destroy(err);
	}
}

static void test_available(void)
{
	unsigned n = pyhs_jobs_available();
	CU_ASSERT(n >= 1 && n <= PYHS_JOBS_MAX);
}

/* The resident pages of the n pages at p. */
static size_t resident(void *p, size_t n)
{
	unsigned char vec[n];
	if (mincore(p, n * (size_t)sysconf(_SC_PAGESIZE), vec) < 0)
		return SIZE_MAX;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += vec[i] & 1;
	return k;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A prefaulting thread and n fresh pages of anonymous memory (*ret_p),
 * or NULL (skipped) when the kernel cannot populate pages when asked. */
static struct pyhs_prefault *prefault_and_pages(size_t n, unsigned char **ret_p)
{
	struct pyhs_prefault *pf = pyhs_prefault_create();
	if (!pf) {
		unit_skip("this kernel cannot populate pages when asked (MADV_POPULATE_WRITE)");
		return NULL;
	}
	void *p = mmap(NULL, n * (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		pyhs_prefault_destroy(pf);
		CU_FAIL("cannot map the pages");
		return NULL;
	}
	*ret_p = p;
	return pf;
}

#define FAULT_PAGES 256

static void test_prefault_keeps_bytes(void)
{
	unsigned char *p;
	struct pyhs_prefault *pf = prefault_and_pages(FAULT_PAGES, &p);
	if (!pf)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < 8; i++)
		p[i * page + 7] = (unsigned char)(i + 1);
	CU_ASSERT_EQUAL(resident(p, FAULT_PAGES), 8);
	/* From the middle of a page to the middle of another: every page
	 * holding a byte asked for. */
	pyhs_prefault_ask(pf, p + 100, (FAULT_PAGES - 1) * page);
	size_t k = 0;
	for (int tries = 0; tries < 1000 && (k = resident(p, FAULT_PAGES)) < FAULT_PAGES; tries++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(k, FAULT_PAGES);
	pyhs_prefault_quiesce(pf);
	for (size_t i = 0; i < FAULT_PAGES; i++)
		CU_ASSERT_EQUAL(p[i * page + 7], i < 8 ? i + 1 : 0);
	pyhs_prefault_destroy(pf);
	munmap(p, FAULT_PAGES * page);
}

#define QUIET_PAGES (64 * 1024)

static void test_prefault_quiesce(void)
{
	unsigned char *p;
	struct pyhs_prefault *pf = prefault_and_pages(QUIET_PAGES, &p);
	if (!pf)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* Several asks, the thread stopped while it works on the first. */
	for (size_t i = 0; i < 4; i++)
		pyhs_prefault_ask(pf, p + i * (QUIET_PAGES / 4) * page, QUIET_PAGES / 4 * page);
	sleep_ms(2);
	pyhs_prefault_quiesce(pf);
	size_t before = resident(p, QUIET_PAGES);
	sleep_ms(100);
	size_t after = resident(p, QUIET_PAGES);
	CU_ASSERT_EQUAL(after, before);
	CU_ASSERT(before < QUIET_PAGES);
	/* And the thread still takes asks after it. */
	pyhs_prefault_ask(pf, p, page);
	for (int tries = 0; tries < 1000 && !(p[0] || resident(p, 1)); tries++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(resident(p, 1), 1);
	pyhs_prefault_destroy(pf);
	munmap(p, QUIET_PAGES * page);
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("jobs", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "one thread runs every piece in it", test_one_thread) ||
	    !CU_add_test(s, "four threads run every piece once, signals blocked",
			 test_four_threads) ||
	    !CU_add_test(s, "the lowest failing piece's error", test_lowest_error) ||
	    !CU_add_test(s, "a raised cancel flag stops the run", test_cancel) ||
	    !CU_add_test(s, "CPUs available", test_available) ||
	    !CU_add_test(s, "pages asked for come in, their bytes kept",
			 test_prefault_keeps_bytes) ||
	    !CU_add_test(s, "no page comes in once quiesced", test_prefault_quiesce)) {
		CU_cleanup_registry();
		return 2;
	}
	return unit_main(argc, argv);
}
