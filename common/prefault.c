/* Pages faulted in ahead of their writer, on a thread of their own. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/jobs.h"
#include "common/prefault.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Asks waiting; more are dropped. */
#define QUEUE 64
/* Populated a piece at a time, so that quiescing waits for one piece at
 * most. */
#define PIECE ((size_t)1 << 20)

struct range {
	uintptr_t from, to; /* whole pages */
};

struct pyhs_prefault {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct range queue[QUEUE];
	size_t head, count;
	bool busy, stop;
	atomic_bool drop; /* the range being populated: given up */
	size_t page;
};

static void populate(struct pyhs_prefault *pf, struct range r)
{
	while (r.from < r.to && !atomic_load_explicit(&pf->drop, memory_order_relaxed)) {
		size_t n = r.to - r.from < PIECE ? r.to - r.from : PIECE;
		/* A hint: a page that cannot be had is the writer's to fault. */
		if (madvise((void *)r.from, n, MADV_POPULATE_WRITE) < 0 && errno != EINTR)
			return;
		r.from += n;
	}
}

static void *prefault_main(void *arg)
{
	struct pyhs_prefault *pf = arg;
	pyhs_jobs_block_signals();
	pthread_mutex_lock(&pf->lock);
	for (;;) {
		while (!pf->count && !pf->stop)
			pthread_cond_wait(&pf->work, &pf->lock);
		if (pf->stop)
			break;
		struct range r = pf->queue[pf->head];
		pf->head = (pf->head + 1) % QUEUE;
		pf->count--;
		pf->busy = true;
		pthread_mutex_unlock(&pf->lock);
		populate(pf, r);
		pthread_mutex_lock(&pf->lock);
		pf->busy = false;
		pthread_cond_broadcast(&pf->idle);
	}
	pthread_mutex_unlock(&pf->lock);
	return NULL;
}

/* Whether this kernel populates pages when asked. */
static bool can_populate(size_t page)
{
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	bool ok = madvise(p, page, MADV_POPULATE_WRITE) == 0;
	munmap(p, page);
	return ok;
}

struct pyhs_prefault *pyhs_prefault_create(void)
{
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || !can_populate((size_t)page))
		return NULL;
	struct pyhs_prefault *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return NULL;
	pf->page = (size_t)page;
	atomic_init(&pf->drop, false);
	if (pthread_mutex_init(&pf->lock, NULL))
		goto out_free;
	if (pthread_cond_init(&pf->work, NULL))
		goto out_lock;
	if (pthread_cond_init(&pf->idle, NULL))
		goto out_work;
	if (pthread_create(&pf->thread, NULL, prefault_main, pf))
		goto out_idle;
	return pf;
out_idle:
	pthread_cond_destroy(&pf->idle);
out_work:
	pthread_cond_destroy(&pf->work);
out_lock:
	pthread_mutex_destroy(&pf->lock);
out_free:
	free(pf);
	return NULL;
}

void pyhs_prefault_ask(struct pyhs_prefault *pf, void *p, size_t n)
{
	if (!pf || !p || !n)
		return;
	struct range r = { (uintptr_t)p / pf->page * pf->page,
			   ((uintptr_t)p + n + pf->page - 1) / pf->page * pf->page };
	pthread_mutex_lock(&pf->lock);
	if (pf->count < QUEUE) {
		pf->queue[(pf->head + pf->count) % QUEUE] = r;
		pf->count++;
		pthread_cond_signal(&pf->work);
	}
	pthread_mutex_unlock(&pf->lock);
}

void pyhs_prefault_quiesce(struct pyhs_prefault *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	pf->count = 0;
	atomic_store(&pf->drop, true);
	while (pf->busy)
		pthread_cond_wait(&pf->idle, &pf->lock);
	atomic_store(&pf->drop, false);
	pthread_mutex_unlock(&pf->lock);
}

void pyhs_prefault_destroy(struct pyhs_prefault *pf)
{
	if (!pf)
		return;
	pyhs_prefault_quiesce(pf);
	pthread_mutex_lock(&pf->lock);
	pf->stop = true;
	pthread_cond_signal(&pf->work);
	pthread_mutex_unlock(&pf->lock);
	pthread_join(pf->thread, NULL);
	pthread_cond_destroy(&pf->idle);
	pthread_cond_destroy(&pf->work);
	pthread_mutex_destroy(&pf->lock);
	free(pf);
}
