/* Pieces of work on several threads, and how many threads are worth it. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/jobs.h"

struct run {
	pyhs_job_fn *fn;
	void *ctx;
	size_t n;
	const volatile sig_atomic_t *cancel;
	atomic_size_t next;
	pthread_mutex_t lock;
	size_t failed_at;        /* the lowest k whose piece failed, or n */
	struct pyhs_error *err;  /* its error */
};

static void record(struct run *r, size_t k, struct pyhs_error *err)
{
	pthread_mutex_lock(&r->lock);
	if (k < r->failed_at) {
		struct pyhs_error *old = r->err;
		r->err = err;
		r->failed_at = k;
		err = old;
	}
	pthread_mutex_unlock(&r->lock);
	if (err)
		pyhs_error_destroy(err);
}

static void work(struct run *r)
{
	for (;;) {
		if (r->cancel && *r->cancel)
			return;
		size_t k = atomic_fetch_add(&r->next, 1);
		if (k >= r->n)
			return;
		struct pyhs_error *err = r->fn(r->ctx, k);
		if (err)
			record(r, k, err);
	}
}

void pyhs_jobs_block_signals(void)
{
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void *thread_main(void *arg)
{
	pyhs_jobs_block_signals();
	work(arg);
	return NULL;
}

struct pyhs_error *pyhs_jobs_run(unsigned jobs, size_t n, pyhs_job_fn *fn, void *ctx,
				 const volatile sig_atomic_t *cancel)
{
	if (jobs <= 1 || n <= 1) {
		for (size_t k = 0; k < n; k++) {
			if (cancel && *cancel)
				return pyhs_error_create(PYHS_ERROR_CANCELLED, "cancelled");
			struct pyhs_error *err = fn(ctx, k);
			if (err)
				return err;
		}
		return NULL;
	}
	if (jobs > PYHS_JOBS_MAX)
		jobs = PYHS_JOBS_MAX;
	if (jobs > n)
		jobs = (unsigned)n;
	struct run r = { .fn = fn, .ctx = ctx, .n = n, .cancel = cancel, .failed_at = n };
	atomic_init(&r.next, 0);
	pthread_mutex_init(&r.lock, NULL);
	pthread_t threads[PYHS_JOBS_MAX];
	unsigned started = 0;
	for (unsigned t = 1; t < jobs; t++) {
		if (pthread_create(&threads[started], NULL, thread_main, &r) != 0)
			break;
		started++;
	}
	work(&r);
	for (unsigned t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&r.lock);
	if (r.err)
		return r.err;
	if (atomic_load(&r.next) < n)
		return pyhs_error_create(PYHS_ERROR_CANCELLED, "cancelled");
	return NULL;
}

/* ---- one job beside the caller ---- */

struct pyhs_job {
	pyhs_job_fn *fn;
	void *ctx;
	struct pyhs_error *err;
	pthread_t thread;
	bool started;
};

static void *job_main(void *arg)
{
	struct pyhs_job *j = arg;
	pyhs_jobs_block_signals();
	j->err = j->fn(j->ctx, 0);
	return NULL;
}

struct pyhs_job *pyhs_job_start(pyhs_job_fn *fn, void *ctx)
{
	struct pyhs_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->fn = fn;
	j->ctx = ctx;
	j->started = pthread_create(&j->thread, NULL, job_main, j) == 0;
	if (!j->started)
		j->err = fn(ctx, 0);
	return j;
}

struct pyhs_error *pyhs_job_finish(struct pyhs_job *j)
{
	if (j->started)
		pthread_join(j->thread, NULL);
	struct pyhs_error *err = j->err;
	free(j);
	return err;
}

/* ---- how many ---- */

/* CPUs a quota of quota per period gives, rounded up; 0 for none. */
static unsigned quota_cpus(long long quota, long long period)
{
	if (quota <= 0 || period <= 0)
		return 0;
	long long c = (quota + period - 1) / period;
	return c < 1 ? 1 : c > PYHS_JOBS_MAX ? PYHS_JOBS_MAX : (unsigned)c;
}

/* cgroup v2: cpu.max ("max 100000" or "QUOTA PERIOD") of dir. */
static unsigned v2_cpus(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char q[32];
	long long quota = 0, period = 0;
	if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max"))
		quota = strtoll(q, NULL, 10);
	fclose(f);
	return quota_cpus(quota, period);
}

/* cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us of dir. */
static unsigned v1_cpus(const char *dir)
{
	long long v[2] = { 0, 0 };
	static const char *const names[] = { "cpu.cfs_quota_us", "cpu.cfs_period_us" };
	for (int i = 0; i < 2; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu%s/%s", dir, names[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			return 0;
		if (fscanf(f, "%lld", &v[i]) != 1)
			v[i] = 0;
		fclose(f);
	}
	return quota_cpus(v[0], v[1]);
}

/* Whether a v1 hierarchy's controllers ("cpu,cpuacct") include cpu. */
static bool has_cpu(const char *controllers)
{
	for (const char *p = controllers; *p;) {
		size_t len = strcspn(p, ",");
		if (len == 3 && !strncmp(p, "cpu", 3))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* The smallest quota of the process's cgroup and its ancestors; 0 for
 * none. */
static unsigned cgroup_cpus(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	unsigned best = 0;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* "0::/path" (v2), "N:cpu,cpuacct:/path" (v1). */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		bool v2 = c2 == c1 + 1;
		*c2 = '\0';
		if (!v2 && !has_cpu(c1 + 1))
			continue;
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", c2 + 1);
		for (;;) {
			size_t len = strlen(dir);
			if (len == 1)
				dir[0] = '\0'; /* the root: "/sys/fs/cgroup/cpu.max" */
			unsigned c = v2 ? v2_cpus(dir) : v1_cpus(dir);
			if (c && (!best || c < best))
				best = c;
			char *slash = strrchr(dir, '/');
			if (!slash || !dir[0])
				break;
			*slash = '\0';
			if (!dir[0])
				strcpy(dir, "/");
		}
	}
	fclose(f);
	return best;
}

unsigned pyhs_jobs_available(void)
{
	unsigned n = 0;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = (unsigned)CPU_COUNT(&set);
	if (!n)
		n = 1;
	unsigned q = cgroup_cpus();
	if (q && q < n)
		n = q;
	return n > PYHS_JOBS_MAX ? PYHS_JOBS_MAX : n;
}
