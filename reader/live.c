/*
 * Live processes: stop every thread with ptrace, copy the memory the reader
 * needs, resume, then read the copy exactly as a core is read.
 *
 * The order of work keeps the pause short:
 *
 *   0. Checks that need no stop: the pid is a process (a thread id, or a
 *      zombie whose threads have all exited, is refused; a zombie leader
 *      whose other threads run, after the main thread called pthread_exit,
 *      is read through one of them), it maps a CPython runtime (a file
 *      named like python, or an executable with _PyRuntime or .PyRuntime),
 *      no other tracer holds it and /proc/PID/mem opens (the kernel's
 *      ptrace access check, Yama's included). Then the caller's
 *      before_stop hook, with the bytes the capture will copy (the cli
 *      checks the output's directory and room there).
 *   1. Before stopping anything: /proc/PID/{stat,status,cmdline,auxv,maps}.
 *      The parts of file mappings that cannot change once the dynamic
 *      loader is done with them are copied now: the first page of each
 *      file (the ELF header and build-id note, which a core holds too) and
 *      RELRO (read-only pages just below a file's data, which hold
 *      relocated pointers), and the [vdso]. Every other mapping to copy
 *      gets memory of its
 *      own, address for address, with pages given in advance where the
 *      process has pages (/proc/PID/pagemap), so that the copy faults
 *      none. The facts a core's NT_PRPSINFO holds are read too.
 *   2. Every thread is seized (PTRACE_SEIZE, no options) and interrupted
 *      (PTRACE_INTERRUPT), re-listing /proc/PID/task until no new thread
 *      appears. /proc/PID/maps is read again, and every readable writable
 *      mapping, every anonymous one and any constant part that changed
 *      since step 1 is copied with process_vm_readv, up to 1024 pieces per
 *      call (in two threads, halves by bytes, when there are over 16 MiB
 *      and two processors), /proc/PID/mem where that fails; pages of
 *      private anonymous memory that are neither present nor swapped out
 *      read as zeros and are not copied. [vvar], [vsyscall] and device mappings are left
 *      out. Each thread's registers are read (PTRACE_GETREGS and
 *      PTRACE_GETFPREGS). Then every thread is detached (PTRACE_DETACH), which
 *      resumes it, with any signal it was stopped for handed back. The
 *      pause runs from the first PTRACE_INTERRUPT to the last
 *      PTRACE_DETACH. The caller's cancel flag is looked at while threads
 *      are awaited and between copies: once raised, every thread is
 *      resumed at once and the open fails with PYHS_ERROR_CANCELLED. This
 *      library touches no signal disposition or mask: the caller handles
 *      signals (cli/signals.c) and raises the flag.
 *      With no_stop nothing is seized: the memory is copied while the
 *      process runs, /proc/PID/maps is read again afterwards, and each
 *      mapping that changed meanwhile is a warning (its bytes may be
 *      torn); there are no registers.
 *   3. After: the files named by the mappings become modules as the NT_FILE
 *      entries of a core do (core.c's pyhs_target_add_module_mapping and
 *      pyhs_target_add_file_bytes), and pyhs_python_find() runs on the copy.
 *      The mappings seen during the stop, the bytes copied, the registers
 *      and the auxiliary vector stay in the target, so that it can be
 *      written out as a core (formats/gcore.c).
 *
 * The target is never written to. Every path out of step 2 detaches every
 * thread; if this process is killed outright, PTRACE_SEIZE semantics make
 * the kernel resume the threads (no SIGSTOP is left behind). A thread that
 * does not stop within 10 s (uninterruptible sleep) is an error, and it
 * stays seized, with its interrupt pending, until this process exits.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "python.h"
#include "symbols.h"
#include "target.h"

_Static_assert(sizeof(struct user_regs_struct) == PYHS_REGS_SIZE,
	       "NT_PRSTATUS's pr_reg is struct user_regs_struct");
_Static_assert(sizeof(struct user_fpregs_struct) == PYHS_FPREGS_SIZE,
	       "NT_PRFPREG is struct user_fpregs_struct");

#define IOV_BATCH 1024            /* UIO_MAXIOV */
#define STOP_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define CAP_SYS_PTRACE_BIT 19
#define PARALLEL_COPY_MIN (16ull << 20) /* bytes: below, one thread */

struct live_map {
	uint64_t start, end;
	uint64_t offset; /* bytes */
	uint64_t inode;
	char perms[5];
	char *path;      /* "" for anonymous memory */
};
DEFINE_VECTOR(live_map_vector, struct live_map)

/* Bytes that were copied. */
struct live_chunk {
	uint64_t start, end;
	const uint8_t *data;
};
DEFINE_VECTOR(live_chunk_vector, struct live_chunk)

struct live_thread {
	int tid;
	int sig;       /* signal to hand back at detach */
	bool stopped;  /* in a ptrace stop we can detach from */
	bool gone;     /* exited (and reaped) */
};
DEFINE_VECTOR(live_thread_vector, struct live_thread)

struct live {
	struct pyhs_target *t;
	int pid;
	int mm_tid;     /* a live thread whose /proc files show the memory:
			 * pid, unless the leader is a zombie */
	int mem_fd;
	int pagemap_fd;
	size_t page;
	struct live_thread_vector threads;
	uint64_t first_stop_ns;
	const volatile sig_atomic_t *cancel;
};

static bool cancelled(const struct live *L)
{
	return L->cancel && *L->cancel;
}

static struct pyhs_error *cancelled_error(int pid)
{
	return pyhs_error_create(PYHS_ERROR_CANCELLED,
				 "the capture of pid %d was cancelled", pid);
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- /proc ---- */

/* Reads a whole /proc file; returns 0 or an errno. *ret is NUL-terminated. */
static int read_proc_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				close(fd);
				return ENOMEM;
			}
			buf = nbuf;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int read_proc(int pid, const char *what, char **ret, size_t *ret_len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return read_proc_file(path, ret, ret_len);
}

/* A "Key:\tvalue" line of /proc/PID/status as a number; -1 if absent. */
static long long status_field(const char *status, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtoll(p + klen + 1, NULL, 0);
	}
	return -1;
}

/* State (field 3) and start time (field 22) from /proc/PID[/task/TID]/stat.
 * Returns 0 or an errno. */
static int read_stat(const char *path, char *state, uint64_t *start_time)
{
	char *buf;
	int e = read_proc_file(path, &buf, NULL);
	if (e)
		return e;
	/* comm may hold spaces and parentheses: fields follow the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ') {
		free(buf);
		return EINVAL;
	}
	p += 2;
	if (state)
		*state = *p;
	if (start_time) {
		*start_time = 0;
		/* p is field 3; field 22 is 19 fields further. */
		for (int field = 3; field < 22 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			*start_time = strtoull(p, NULL, 10);
	}
	free(buf);
	return 0;
}

bool pyhs_process_start_time(int pid, uint64_t *ret)
{
	char path[64];
	uint64_t start;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || read_stat(path, NULL, &start) != 0)
		return false;
	*ret = start;
	return true;
}

static bool is_pseudo_path(const char *path)
{
	return path[0] != '/';
}

static bool is_device_path(const char *path)
{
	return strncmp(path, "/dev/", 5) == 0 &&
	       strncmp(path, "/dev/zero", 9) != 0 &&
	       strncmp(path, "/dev/shm/", 9) != 0;
}

/* Shared memory whose bytes no file on disk holds. */
static bool is_anonymous_like(const char *path)
{
	if (!path[0] || path[0] == '[')
		return true;
	size_t n = strlen(path);
	return strncmp(path, "/dev/zero", 9) == 0 ||
	       strncmp(path, "/SYSV", 5) == 0 ||
	       strncmp(path, "/memfd:", 7) == 0 ||
	       strncmp(path, "/dev/shm/", 9) == 0 ||
	       (n > 10 && strcmp(path + n - 10, " (deleted)") == 0);
}

static void free_maps(struct live_map_vector *maps)
{
	for (size_t i = 0; i < maps->size; i++)
		free(maps->data[i].path);
	live_map_vector_deinit(maps);
}

/* /proc/PID/maps. Returns 0 or an errno. */
static int read_maps(int pid, struct live_map_vector *ret)
{
	char *buf;
	int e = read_proc(pid, "maps", &buf, NULL);
	if (e)
		return e;
	struct live_map_vector maps;
	live_map_vector_init(&maps);
	char *line = buf;
	while (*line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		unsigned long long start, end, offset, inode;
		unsigned dmaj, dmin;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu%n", &start, &end,
			   perms, &offset, &dmaj, &dmin, &inode, &pos) == 7 &&
		    end > start) {
			const char *path = line + pos;
			while (*path == ' ' || *path == '\t')
				path++;
			struct live_map m = {
				.start = start, .end = end, .offset = offset,
				.inode = inode,
			};
			memcpy(m.perms, perms, 4);
			m.perms[4] = '\0';
			m.path = strdup(path);
			if (!m.path || !live_map_vector_append(&maps, m)) {
				free(m.path);
				free_maps(&maps);
				free(buf);
				return ENOMEM;
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	free(buf);
	*ret = maps;
	return 0;
}

/* What of a mapping the reader needs, and when to copy it. */
enum copy_kind {
	COPY_NONE,
	COPY_PAUSED,   /* may change: only while every thread is stopped */
	COPY_CONSTANT, /* set by the loader, read-only since: any time */
};

static enum copy_kind classify(const struct live_map_vector *maps, size_t i,
			       size_t page, uint64_t *end)
{
	const struct live_map *m = &maps->data[i];
	*end = m->end;
	if (m->perms[0] != 'r')
		return COPY_NONE;
	bool writable = m->perms[1] == 'w';
	bool shared = m->perms[3] == 's';
	if (is_pseudo_path(m->path)) {
		if (strcmp(m->path, "[vvar]") == 0 ||
		    strcmp(m->path, "[vvar_vclock]") == 0 ||
		    strcmp(m->path, "[vsyscall]") == 0)
			return COPY_NONE;
		/* The kernel's code, the same in every process for as long
		 * as the machine runs: a core holds it, and debuggers unwind
		 * through it. */
		if (strcmp(m->path, "[vdso]") == 0)
			return COPY_CONSTANT;
		return COPY_PAUSED; /* "", [heap], [stack], [anon:...] */
	}
	if (is_device_path(m->path))
		return COPY_NONE;
	if (shared)
		return is_anonymous_like(m->path) ? COPY_PAUSED : COPY_NONE;
	if (writable)
		return COPY_PAUSED;
	if (m->perms[2] == 'x')
		return COPY_NONE;
	if (m->offset == 0) {
		/* The ELF header and, as a rule, the build-id note; a core
		 * holds this page too. */
		if (m->end - m->start > page)
			*end = m->start + page;
		return COPY_CONSTANT;
	}
	/* RELRO: read-only pages just below the same file's data. */
	if (i + 1 < maps->size) {
		const struct live_map *n = &maps->data[i + 1];
		if (n->start == m->end && n->perms[0] == 'r' &&
		    n->perms[1] == 'w' && n->perms[3] == 'p' &&
		    n->inode == m->inode && strcmp(n->path, m->path) == 0)
			return COPY_CONSTANT;
	}
	return COPY_NONE;
}

/* ---- threads ---- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

/* Collects what waitpid has for th, without blocking: true if th is now
 * stopped or gone. */
static bool poll_thread(struct live_thread *th)
{
	for (;;) {
		int st;
		pid_t r = waitpid(th->tid, &st, __WALL | WNOHANG);
		if (r == 0)
			return false;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* ECHILD: not ours to wait for any more. */
			th->gone = true;
			th->stopped = false;
			return true;
		}
		if (WIFSTOPPED(st)) {
			th->stopped = true;
			/* A signal-delivery-stop: the signal is handed back
			 * at detach. PTRACE_EVENT_STOP (our interrupt, or a
			 * group-stop) needs nothing. */
			if ((st >> 16) == 0)
				th->sig = WSTOPSIG(st);
			return true;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			th->gone = true;
			th->stopped = false;
			return true;
		}
	}
}

/* Waits until every thread from index first on is stopped or gone,
 * polling them in turn (a dying leader is reported only after the other
 * threads are reaped). false on timeout, or (if cancellable) once the
 * cancel flag is raised. */
static bool wait_all(struct live *L, size_t first, bool cancellable)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	uint64_t nap = 50000;
	for (;;) {
		bool pending = false;
		for (size_t i = first; i < L->threads.size; i++) {
			struct live_thread *th = &L->threads.data[i];
			if (!th->stopped && !th->gone && !poll_thread(th))
				pending = true;
		}
		if (!pending)
			return true;
		if (cancellable && cancelled(L))
			return false;
		uint64_t waited = now_ns(CLOCK_MONOTONIC) - start;
		if (waited > STOP_TIMEOUT_NS)
			return false;
		/* Threads stop within microseconds as a rule: yield for the
		 * first 2 ms (a sleep would add its timer slack to the
		 * pause), then sleep. */
		if (waited < 2000000) {
			sched_yield();
		} else {
			sleep_ns(nap);
			if (nap < 1000000)
				nap *= 2;
		}
	}
}

/* Resumes every thread we seized: PTRACE_DETACH needs a thread in a
 * ptrace stop, so one that is not (never waited for, or woken by
 * SIGKILL) is interrupted and waited for first, and one that exited is
 * reaped. Never fails: what cannot be detached in time is detached by the
 * kernel when this process exits. Returns true if a thread that was
 * stopped could not be detached because it died (the process was killed
 * while we held it). */
static bool resume_all(struct live *L)
{
	bool died = false;
	for (int attempt = 0; attempt < 3; attempt++) {
		bool left = false;
		for (size_t i = 0; i < L->threads.size; i++) {
			struct live_thread *th = &L->threads.data[i];
			if (th->gone)
				continue;
			if (th->stopped) {
				if (ptrace(PTRACE_DETACH, th->tid, 0,
					   (void *)(uintptr_t)th->sig) == 0) {
					th->gone = true; /* no longer ours */
					continue;
				}
				th->stopped = false;
				if (errno != ESRCH) {
					th->gone = true; /* cannot help it */
					continue;
				}
				if (attempt == 0)
					died = true;
			}
			ptrace(PTRACE_INTERRUPT, th->tid, 0, 0);
			left = true;
		}
		if (!left || !wait_all(L, 0, false))
			break;
	}
	L->threads.size = 0;
	return died;
}

static bool has_cap_sys_ptrace(void)
{
	char *status;
	if (read_proc_file("/proc/self/status", &status, NULL))
		return false;
	bool ok = false;
	const char *p = strstr(status, "\nCapEff:");
	if (p)
		ok = (strtoull(p + 8, NULL, 16) >> CAP_SYS_PTRACE_BIT) & 1;
	free(status);
	return ok;
}

static int read_ptrace_scope(void)
{
	char *buf;
	if (read_proc_file("/proc/sys/kernel/yama/ptrace_scope", &buf, NULL))
		return -1;
	int v = atoi(buf);
	free(buf);
	return v;
}

static struct pyhs_error *eperm_error(struct pyhs_error *err)
{
	if (err != &pyhs_enomem)
		err->errnum = EPERM;
	return err;
}

/* Why we may not attach, and what to do about it, on one line. */
static struct pyhs_error *permission_error(int pid)
{
	char *status = NULL;
	long long tracer = -1, uid = -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_proc_file(path, &status, NULL) == 0) {
		tracer = status_field(status, "TracerPid");
		uid = status_field(status, "Uid");
		free(status);
	}
	if (tracer > 0) {
		char comm[64] = "";
		char *buf;
		if (read_proc(tracer, "comm", &buf, NULL) == 0) {
			snprintf(comm, sizeof(comm), "%s", buf);
			comm[strcspn(comm, "\n")] = '\0';
			free(buf);
		}
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: another tracer is attached (pid %lld%s%s): detach that debugger or tracer, then try again",
			pid, tracer, comm[0] ? ", " : "", comm));
	}
	bool cap = has_cap_sys_ptrace();
	int scope = read_ptrace_scope();
	if (scope == 3)
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: kernel.yama.ptrace_scope is 3, which forbids ptrace until reboot",
			pid));
	if (scope == 2 && !cap)
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: kernel.yama.ptrace_scope is 2, which needs CAP_SYS_PTRACE: run as root",
			pid));
	if (scope == 1 && !cap)
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: kernel.yama.ptrace_scope is 1, which lets only a parent trace its children: run as root, or set kernel.yama.ptrace_scope to 0",
			pid));
	if (!cap && uid == 0)
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: it runs as root, this tool as uid %u without CAP_SYS_PTRACE: run as root",
			pid, (unsigned)getuid()));
	if (!cap && uid > 0 && (uid_t)uid != getuid())
		return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
			"cannot attach to pid %d: operation not permitted: it runs as uid %lld, this tool as uid %u without CAP_SYS_PTRACE: run as uid %lld or as root",
			pid, uid, (unsigned)getuid(), uid));
	return eperm_error(pyhs_error_create(PYHS_ERROR_OS,
		"cannot attach to pid %d: operation not permitted (another tracer attached, kernel.yama.ptrace_scope, missing CAP_SYS_PTRACE, a non-dumpable process or a security module: run as the same user with ptrace_scope 0, or as root)",
		pid));
}

static struct pyhs_error *exited_error(int pid)
{
	return pyhs_error_create(PYHS_ERROR_INPUT,
				 "process %d exited during capture", pid);
}

static bool thread_known(const struct live *L, int tid)
{
	for (size_t i = 0; i < L->threads.size; i++)
		if (L->threads.data[i].tid == tid)
			return true;
	return false;
}

static bool thread_is_zombie(int pid, int tid)
{
	char path[64];
	char state = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	return read_stat(path, &state, NULL) != 0 || state == 'Z' ||
	       state == 'X';
}

/* The next thread id of a /proc/PID/task listing; false at its end. */
static bool next_tid(DIR *dir, int *ret)
{
	struct dirent *de;
	while ((de = readdir(dir))) {
		char *endp;
		long tid = strtol(de->d_name, &endp, 10);
		if (!*endp && tid > 0 && tid <= INT_MAX) {
			*ret = (int)tid;
			return true;
		}
	}
	return false;
}

/* A thread of pid that has not exited, or 0: what a zombie leader (the
 * main thread called pthread_exit) still has running. */
static int live_thread_of(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	int found = 0, tid;
	while (!found && next_tid(dir, &tid))
		if (tid != pid && !thread_is_zombie(pid, tid))
			found = tid;
	closedir(dir);
	return found;
}

/* Seizes and interrupts every thread, re-listing /proc/PID/task until no
 * new one appears. On error the caller resumes what was seized. */
static struct pyhs_error *stop_all(struct live *L)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", L->pid);
	for (;;) {
		DIR *dir = opendir(path);
		if (!dir) {
			if (errno == ENOENT || errno == ESRCH)
				return exited_error(L->pid);
			return pyhs_error_os_path(errno, "list", path);
		}
		size_t first_new = L->threads.size;
		struct pyhs_error *err = NULL;
		int tid;
		while (!err && next_tid(dir, &tid)) {
			if (thread_known(L, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, (pid_t)tid, 0, 0) < 0) {
				int e = errno;
				if (e == ESRCH)
					continue; /* it exited */
				if (e == EPERM &&
				    thread_is_zombie(L->pid, (int)tid))
					continue; /* exited, not yet reaped */
				if (e == EPERM)
					err = permission_error(L->pid);
				else
					err = pyhs_error_os(e, "cannot attach to thread %d of pid %d",
							    tid, L->pid);
				break;
			}
			struct live_thread th = { .tid = (int)tid };
			if (!live_thread_vector_append(&L->threads, th)) {
				/* Cannot record it: let it go at once (a
				 * seized thread that is not stopped runs on
				 * untouched until we exit). */
				ptrace(PTRACE_DETACH, (pid_t)tid, 0, 0);
				err = &pyhs_enomem;
				break;
			}
			if (!L->first_stop_ns)
				L->first_stop_ns = now_ns(CLOCK_MONOTONIC);
			if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, 0, 0) < 0 &&
			    errno != ESRCH) {
				err = pyhs_error_os(errno, "cannot stop thread %d of pid %d",
						    tid, L->pid);
				break;
			}
		}
		closedir(dir);
		if (err)
			return err;
		if (first_new == L->threads.size) {
			/* Nothing new: every thread is stopped. */
			break;
		}
		if (!wait_all(L, first_new, true)) {
			if (cancelled(L))
				return cancelled_error(L->pid);
			char st = 0;
			char p2[64];
			snprintf(p2, sizeof(p2), "/proc/%d/stat", L->pid);
			if (read_stat(p2, &st, NULL) != 0 || st == 'Z' ||
			    st == 'X')
				return exited_error(L->pid);
			return pyhs_error_create(PYHS_ERROR_OS,
						 "some thread of pid %d did not stop within %llu s (in uninterruptible sleep?): try again",
						 L->pid,
						 STOP_TIMEOUT_NS / 1000000000ull);
		}
	}
	size_t alive = 0;
	for (size_t i = 0; i < L->threads.size; i++)
		if (!L->threads.data[i].gone)
			alive++;
	if (!alive)
		return exited_error(L->pid);
	return NULL;
}

/* ---- copying ---- */

struct live_range {
	uint64_t start, end;
};
DEFINE_VECTOR(live_range_vector, struct live_range)

/* A piece of the target to read, and where its bytes go. */
struct live_piece {
	uint64_t start, end;
	uint8_t *data;
	size_t map; /* index into the map list it came from */
};
DEFINE_VECTOR(live_piece_vector, struct live_piece)

/* Our memory for one mapping's bytes, address for address, so that the
 * mapping reads as one segment, as in a core. Pages get memory only where
 * bytes are copied; the rest reads as zeros. */
struct live_dest {
	uint64_t start; /* of the mapping it was made for */
	uint8_t *addr;
	size_t size;
	bool used;
};
DEFINE_VECTOR(live_dest_vector, struct live_dest)

/* A mapping copied during the pause and where its bytes are. */
struct live_placed {
	size_t map;
	uint64_t start, end;
	uint8_t *data;
};
DEFINE_VECTOR(live_placed_vector, struct live_placed)

/* Private anonymous memory: a page that is neither present nor swapped
 * out has never been written (or was discarded) and reads as zeros. */
static bool zero_when_absent(const struct live_map *m)
{
	return m->perms[3] == 'p' && (!m->path[0] || m->path[0] == '[');
}

/* Appends the runs of [start, end) whose pages hold data (present or
 * swapped out, per /proc/PID/pagemap; not guard pages). false if pagemap
 * cannot say. */
static bool present_runs(struct live *L, uint64_t start, uint64_t end,
			 struct live_range_vector *runs)
{
	if (L->pagemap_fd < 0)
		return false;
	size_t first = runs->size;
	uint64_t entries[4096];
	bool open_run = false;
	uint64_t addr = start;
	while (addr < end) {
		uint64_t n = (end - addr) / L->page;
		if (n > sizeof(entries) / sizeof(entries[0]))
			n = sizeof(entries) / sizeof(entries[0]);
		ssize_t r = pread(L->pagemap_fd, entries, n * 8,
				  (off_t)(addr / L->page * 8));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 8) {
			runs->size = first;
			return false;
		}
		n = (uint64_t)r / 8;
		for (uint64_t k = 0; k < n; k++, addr += L->page) {
			/* Present or swapped out, and not a guard region
			 * (MADV_GUARD_INSTALL, as glibc 2.42+ guards thread
			 * stacks: its marker reads as swapped, PM_GUARD_REGION
			 * bit 58 on Linux 6.14+, and faults when read). */
			bool data = ((entries[k] >> 62) & 3) && !((entries[k] >> 58) & 1);
			if (data && open_run) {
				runs->data[runs->size - 1].end = addr + L->page;
			} else if (data) {
				struct live_range rr = { addr, addr + L->page };
				if (!live_range_vector_append(runs, rr)) {
					runs->size = first;
					return false;
				}
				open_run = true;
			} else {
				open_run = false;
			}
		}
	}
	return true;
}

/* Gives pages memory now, so that copying into them later faults none. */
static void populate(uint8_t *addr, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(addr, len, MADV_POPULATE_WRITE) == 0)
		return;
#endif
	for (size_t off = 0; off < len; off += 4096)
		((volatile uint8_t *)addr)[off] = 0;
}

static uint8_t *map_anonymous(size_t size)
{
	void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct pyhs_error *add_hole(struct live_range_vector *holes,
				   uint64_t start, uint64_t end)
{
	if (holes->size && holes->data[holes->size - 1].end == start) {
		holes->data[holes->size - 1].end = end;
		return NULL;
	}
	struct live_range r = { start, end };
	return live_range_vector_append(holes, r) ? NULL : &pyhs_enomem;
}

/* What process_vm_readv could not read of p, from byte done on: read with
 * /proc/PID/mem, page by page past failures; what still fails is a hole. */
static struct pyhs_error *copy_slow(struct live *L, const struct live_piece *p,
				    uint64_t done,
				    struct live_range_vector *holes)
{
	uint64_t len = p->end - p->start, pos = done;
	while (pos < len) {
		ssize_t n = -1;
		if (L->mem_fd >= 0)
			n = pread(L->mem_fd, p->data + pos, len - pos,
				  (off_t)(p->start + pos));
		if (n > 0) {
			pos += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		uint64_t next = ((p->start + pos) / L->page + 1) * L->page -
				p->start;
		if (next > len || L->mem_fd < 0)
			next = len;
		struct pyhs_error *err = add_hole(holes, p->start + pos,
						  p->start + next);
		if (err)
			return err;
		pos = next;
	}
	return NULL;
}

/* Copies every piece with as few process_vm_readv calls as the iovec
 * limit allows; what cannot be read is appended to holes (in address
 * order when the pieces are). */
static struct pyhs_error *copy_run(struct live *L, const struct live_piece *p,
				   size_t npieces, struct live_range_vector *holes)
{
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t i = 0;
	while (i < npieces) {
		if (cancelled(L))
			return cancelled_error(L->pid);
		size_t k = 0;
		uint64_t total = 0;
		while (i + k < npieces && k < IOV_BATCH &&
		       total < (1ull << 40)) {
			size_t len = p[i + k].end - p[i + k].start;
			local[k].iov_base = p[i + k].data;
			local[k].iov_len = len;
			remote[k].iov_base = (void *)(uintptr_t)p[i + k].start;
			remote[k].iov_len = len;
			total += len;
			k++;
		}
		ssize_t got = process_vm_readv(L->mm_tid, local, k, remote, k, 0);
		if (got < 0) {
			if (errno == ESRCH) {
				return exited_error(L->pid);
			}
			if (errno == ENOMEM)
				return &pyhs_enomem;
			got = 0; /* EFAULT, ENOSYS, EPERM: the slow way */
		}
		uint64_t left = (uint64_t)got;
		size_t j = 0;
		for (; j < k; j++) {
			uint64_t len = p[i + j].end - p[i + j].start;
			if (left >= len) {
				left -= len;
				continue;
			}
			/* process_vm_readv stops at the first failure. */
			struct pyhs_error *err = copy_slow(L, &p[i + j], left,
							   holes);
			if (err)
				return err;
			j++;
			break;
		}
		i += j;
	}
	return NULL;
}

/* The second half of a parallel copy. */
struct copy_job {
	struct live *L;
	const struct live_piece *pieces;
	size_t n;
	struct live_range_vector holes;
	struct pyhs_error *err;
};

static void *copy_job_run(void *arg)
{
	struct copy_job *j = arg;
	j->err = copy_run(j->L, j->pieces, j->n, &j->holes);
	return NULL;
}

/* Copies every piece; what cannot be read is appended to holes, in
 * address order when the pieces are. A big copy on a machine of several
 * processors is split in two halves by bytes, the second copied by a
 * thread of its own: the pause is mostly this copy, and two threads make
 * it shorter (and, on a busy machine, get twice the scheduler's share). */
static struct pyhs_error *copy_pieces(struct live *L,
				      const struct live_piece_vector *pieces,
				      struct live_range_vector *holes)
{
	uint64_t total = 0;
	for (size_t i = 0; i < pieces->size; i++)
		total += pieces->data[i].end - pieces->data[i].start;
	if (total < PARALLEL_COPY_MIN || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return copy_run(L, pieces->data, pieces->size, holes);
	/* Where the halves meet: a page boundary inside piece k. */
	uint64_t want = total / 2, seen = 0;
	size_t k = 0;
	while (seen + (pieces->data[k].end - pieces->data[k].start) <= want) {
		seen += pieces->data[k].end - pieces->data[k].start;
		k++;
	}
	const struct live_piece *pk = &pieces->data[k];
	uint64_t cut = (pk->start + (want - seen)) / L->page * L->page;
	if (cut <= pk->start)
		cut = pk->start;
	size_t nsecond = pieces->size - k;
	struct live_piece *second = malloc(nsecond * sizeof(*second));
	if (!second)
		return copy_run(L, pieces->data, pieces->size, holes);
	memcpy(second, pk, nsecond * sizeof(*second));
	second[0].start = cut;
	second[0].data = pk->data + (cut - pk->start);
	struct live_piece head = *pk;
	head.end = cut;
	struct copy_job job = { L, second, nsecond, { 0 }, NULL };
	live_range_vector_init(&job.holes);
	pthread_t th;
	if (pthread_create(&th, NULL, copy_job_run, &job) != 0) {
		free(second);
		return copy_run(L, pieces->data, pieces->size, holes);
	}
	struct pyhs_error *err = copy_run(L, pieces->data, k, holes);
	if (!err && head.end > head.start)
		err = copy_run(L, &head, 1, holes);
	pthread_join(th, NULL);
	free(second);
	if (!err)
		err = job.err;
	else
		pyhs_error_destroy(job.err);
	for (size_t i = 0; !err && i < job.holes.size; i++)
		err = add_hole(holes, job.holes.data[i].start,
			       job.holes.data[i].end);
	live_range_vector_deinit(&job.holes);
	return err;
}

static struct pyhs_error *add_chunk(struct live_chunk_vector *out,
				    uint64_t start, uint64_t end,
				    const uint8_t *data)
{
	if (end <= start)
		return NULL;
	struct live_chunk c = { start, end, data };
	return live_chunk_vector_append(out, c) ? NULL : &pyhs_enomem;
}

/* [start, end) at data, less the holes: chunks. *unreadable: bytes lost. */
static struct pyhs_error *add_chunks(struct live_chunk_vector *out,
				     uint64_t start, uint64_t end,
				     const uint8_t *data,
				     const struct live_range_vector *holes,
				     uint64_t *unreadable)
{
	size_t lo = 0, hi = holes->size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (holes->data[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t cur = start;
	*unreadable = 0;
	for (size_t i = lo; i < holes->size && holes->data[i].start < end; i++) {
		uint64_t hs = holes->data[i].start > cur ? holes->data[i].start : cur;
		uint64_t he = holes->data[i].end < end ? holes->data[i].end : end;
		struct pyhs_error *err = add_chunk(out, cur, hs,
						   data + (cur - start));
		if (err)
			return err;
		*unreadable += he - hs;
		cur = he;
	}
	return add_chunk(out, cur, end, data + (cur - start));
}

static bool same_map(const struct live_map *a, const struct live_map *b)
{
	return a->start == b->start && a->end == b->end &&
	       a->offset == b->offset && a->inode == b->inode &&
	       strcmp(a->perms, b->perms) == 0 && strcmp(a->path, b->path) == 0;
}

/* The mapping of maps that is the same as m, or SIZE_MAX. */
static size_t find_same(const struct live_map_vector *maps,
			const struct live_map *m)
{
	size_t lo = 0, hi = maps->size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (maps->data[mid].start < m->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < maps->size && same_map(&maps->data[lo], m))
		return lo;
	return SIZE_MAX;
}

/* The unused destination made for a mapping that started at start. */
static struct live_dest *find_dest(struct live_dest_vector *dests,
				   uint64_t start)
{
	size_t lo = 0, hi = dests->size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dests->data[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < dests->size && dests->data[lo].start == start &&
	    !dests->data[lo].used)
		return &dests->data[lo];
	return NULL;
}

/* ---- the target ---- */

/* A stopped thread's registers. A thread that vanished (killed meanwhile)
 * has none; the caller finds out that the process died at detach. */
static struct pyhs_error *thread_registers(int tid,
					   struct pyhs_thread_state *ts)
{
	struct user_regs_struct regs;
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
		memcpy(ts->regs, &regs, sizeof(regs));
		ts->has_regs = true;
	} else if (errno != ESRCH) {
		return pyhs_error_os(errno, "cannot read the registers of thread %d",
				     tid);
	}
	struct user_fpregs_struct fpregs;
	if (ptrace(PTRACE_GETFPREGS, tid, 0, &fpregs) == 0) {
		memcpy(ts->fpregs, &fpregs, sizeof(fpregs));
		ts->has_fpregs = true;
	}
	return NULL;
}

static struct pyhs_error *read_cmdline(struct pyhs_target *t, int pid)
{
	char *buf;
	size_t len;
	if (read_proc(pid, "cmdline", &buf, &len) != 0) {
		t->cmdline = strdup("");
		return t->cmdline ? NULL : &pyhs_enomem;
	}
	while (len && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
	t->cmdline = buf;
	return NULL;
}

/* An errno from reading /proc/PID/something before we attach. */
static struct pyhs_error *proc_error(int pid, int e, const char *what)
{
	if (e == ENOENT || e == ESRCH)
		return pyhs_error_create(PYHS_ERROR_NOT_FOUND,
					 "no process with pid %d", pid);
	if (e == EACCES || e == EPERM)
		return permission_error(pid);
	if (e == ENOMEM)
		return &pyhs_enomem;
	return pyhs_error_os(e, "cannot read /proc/%d/%s", pid, what);
}

static struct pyhs_error *read_auxv(struct pyhs_target *t, int pid, int mm_tid)
{
	char *buf;
	size_t len;
	int e = read_proc(mm_tid, "auxv", &buf, &len);
	if (e)
		return proc_error(pid, e, "auxv");
	for (size_t i = 0; i + 16 <= len; i += 16) {
		uint64_t k, v;
		memcpy(&k, buf + i, 8);
		memcpy(&v, buf + i + 8, 8);
		if (k == AT_ENTRY)
			t->entry = v;
		else if (k == AT_EXECFN)
			t->execfn = v;
	}
	/* Kept for NT_AUXV. */
	free(t->auxv);
	t->auxv = (uint8_t *)buf;
	t->auxv_size = len - len % 16;
	return NULL;
}

/* The facts of NT_PRPSINFO, from /proc/PID/stat and status (before the
 * stop: none of them is worth a longer pause). */
static void read_process_facts(struct pyhs_target *t, int pid)
{
	struct pyhs_target_process *p = &t->process;
	p->pid = pid;
	char *buf;
	if (read_proc(pid, "stat", &buf, NULL) == 0) {
		char *open = strchr(buf, '(');
		char *close = strrchr(buf, ')');
		if (open && close && close > open && close[1] == ' ') {
			size_t n = (size_t)(close - open - 1);
			if (n > sizeof(p->comm) - 1)
				n = sizeof(p->comm) - 1;
			memcpy(p->comm, open + 1, n);
			p->comm[n] = '\0';
			/* Fields 3 on: state ppid pgrp session tty_nr tpgid
			 * flags ... (19) nice. */
			char state;
			int ppid, pgrp, sid, tty, tpgid;
			unsigned flags;
			if (sscanf(close + 2, "%c %d %d %d %d %d %u", &state,
				   &ppid, &pgrp, &sid, &tty, &tpgid,
				   &flags) == 7) {
				p->state = state;
				p->ppid = ppid;
				p->pgrp = pgrp;
				p->sid = sid;
				p->flags = flags;
			}
			const char *f = close + 2;
			for (int field = 3; field < 19 && f; field++) {
				f = strchr(f, ' ');
				if (f)
					f++;
			}
			if (f)
				p->nice = atoi(f);
		}
		free(buf);
	}
	if (read_proc(pid, "status", &buf, NULL) == 0) {
		long long uid = status_field(buf, "Uid");
		long long gid = status_field(buf, "Gid");
		p->uid = uid >= 0 ? (unsigned)uid : 0;
		p->gid = gid >= 0 ? (unsigned)gid : 0;
		free(buf);
	}
}

/* A process in another mount namespace (a container) names files as it
 * sees them: read them through /proc/PID/root unless told otherwise. */
static void choose_root(struct pyhs_target *t, int pid)
{
	if (t->opts.sysroot && t->opts.sysroot[0])
		return;
	char root[sizeof(t->live_root)];
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	struct stat ours, theirs;
	if (stat("/", &ours) == 0 && stat(root, &theirs) == 0 &&
	    (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)) {
		memcpy(t->live_root, root, sizeof(root));
		t->opts.sysroot = t->live_root;
	}
}

/* ---- checks before the stop ---- */

/* Whether the ELF file at path has a .PyRuntime section or a _PyRuntime
 * symbol; true too if it cannot be read as ELF (then the copy decides:
 * nothing is refused on a guess). */
static bool file_may_hold_runtime(struct pyhs_target *t, const char *path)
{
	const uint8_t *data;
	size_t size;
	struct pyhs_error *err = pyhs_map_file(t, path, &data, &size);
	if (err) {
		pyhs_error_destroy(err);
		return true;
	}
	if (pyhs_elf_has_section(data, size, ".PyRuntime"))
		return true;
	Elf *elf = elf_memory((char *)data, size);
	if (!elf)
		return true;
	bool found = elf_kind(elf) != ELF_K_ELF;
	Elf_Scn *scn = NULL;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t k = 0; d && k < n && !found; k++) {
			GElf_Sym sym;
			const char *name;
			found = gelf_getsym(d, (int)k, &sym) &&
				(name = elf_strptr(elf, sh.sh_link, sym.st_name)) &&
				strcmp(name, "_PyRuntime") == 0;
		}
	}
	elf_end(elf);
	return found;
}

/* Whether the process maps a CPython runtime, judged from /proc/PID/maps
 * alone: a file named like python (libpython3.11.so, python3.12), or an
 * executable (the file mapping AT_ENTRY) that holds _PyRuntime. */
static struct pyhs_error *check_runtime(struct live *L,
					const struct live_map_vector *maps)
{
	struct pyhs_target *t = L->t;
	const char *exe = NULL;
	for (size_t i = 0; i < maps->size; i++) {
		const struct live_map *m = &maps->data[i];
		if (is_pseudo_path(m->path))
			continue;
		const char *base = strrchr(m->path, '/');
		if (strstr(base ? base + 1 : m->path, "python"))
			return NULL;
		if (t->entry >= m->start && t->entry < m->end)
			exe = m->path;
	}
	if (exe) {
		const char *root = t->opts.sysroot ? t->opts.sysroot : "";
		char *path;
		if (asprintf(&path, "%s%s", root, exe) < 0)
			return &pyhs_enomem;
		bool may = file_may_hold_runtime(t, path);
		free(path);
		if (may)
			return NULL;
	}
	return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
				 "no CPython runtime found: pid %d maps no libpython and its executable%s%s holds no _PyRuntime (nothing was stopped)",
				 L->pid, exe ? " " : "", exe ? exe : "");
}

/* The threads of a process read without stopping it (no registers), and
 * a warning for each mapping that changed while it was copied. */
static struct pyhs_error *unstopped_threads(struct live *L,
					    const struct live_map_vector *maps)
{
	struct pyhs_target *t = L->t;
	t->unstopped = true;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", L->pid);
	DIR *dir = opendir(path);
	if (!dir)
		return exited_error(L->pid);
	struct pyhs_error *err = NULL;
	int tid;
	while (!err && next_tid(dir, &tid)) {
		if (thread_is_zombie(L->pid, tid))
			continue;
		struct pyhs_thread_state ts = { 0 };
		if (!pyhs_int_vector_append(&t->tids, tid) ||
		    !pyhs_thread_state_vector_append(&t->thread_states, ts))
			err = &pyhs_enomem;
		/* The main thread first, as in a core. */
		size_t n = t->tids.size;
		if (!err && tid == L->pid && n > 1) {
			int first = t->tids.data[0];
			t->tids.data[0] = tid;
			t->tids.data[n - 1] = first;
		}
	}
	closedir(dir);
	if (err)
		return err;
	struct live_map_vector after;
	int e = read_maps(L->mm_tid, &after);
	if (e)
		return e == ENOMEM ? &pyhs_enomem : exited_error(L->pid);
	uint64_t end;
	for (size_t i = 0; i < maps->size; i++) {
		const struct live_map *m = &maps->data[i];
		if (classify(maps, i, L->page, &end) != COPY_PAUSED ||
		    find_same(&after, m) != SIZE_MAX)
			continue;
		pyhs_target_warn(t,
				 "the mapping 0x%llx-0x%llx%s%s changed while it was read (--no-stop): its bytes may be torn",
				 (unsigned long long)m->start,
				 (unsigned long long)m->end,
				 m->path[0] ? " " : "", m->path);
	}
	free_maps(&after);
	return NULL;
}

/* Steps 1 and 2: the copy. On return every thread has been resumed. */
static struct pyhs_error *capture(struct live *L,
				  struct live_map_vector *ret_maps,
				  struct live_chunk_vector *chunks)
{
	struct pyhs_target *t = L->t;
	struct live_map_vector before, maps;
	live_map_vector_init(&before);
	live_map_vector_init(&maps);
	struct live_piece_vector constant, pieces;
	live_piece_vector_init(&constant);
	live_piece_vector_init(&pieces);
	struct live_range_vector constant_holes, holes, runs;
	live_range_vector_init(&constant_holes);
	live_range_vector_init(&holes);
	live_range_vector_init(&runs);
	struct live_dest_vector dests, new_dests;
	live_dest_vector_init(&dests);
	live_dest_vector_init(&new_dests);
	struct live_placed_vector placed;
	live_placed_vector_init(&placed);
	struct pyhs_error *err = NULL;
	uint64_t end, unreadable;

	/* 1. Before the stop: the constant parts, and memory to copy the
	 * rest into, given pages where the process has them. */
	int e = read_maps(L->mm_tid, &before);
	if (e) {
		err = proc_error(L->pid, e, "maps");
		goto out;
	}
	if (!before.size) {
		err = pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					"no CPython runtime found: pid %d is a kernel thread, not a Python process",
					L->pid);
		goto out;
	}
	if (!t->opts.no_python && (err = check_runtime(L, &before)))
		goto out;
	uint64_t constant_size = 0;
	for (size_t i = 0; i < before.size; i++) {
		if (classify(&before, i, L->page, &end) != COPY_CONSTANT)
			continue;
		struct live_piece p = { before.data[i].start, end, NULL, i };
		if (!live_piece_vector_append(&constant, p)) {
			err = &pyhs_enomem;
			goto out;
		}
		constant_size += end - p.start;
	}
	if (constant.size) {
		uint8_t *buf = map_anonymous(constant_size);
		struct pyhs_mapped_file mf = { buf, constant_size, false };
		if (!buf || !pyhs_mapped_file_vector_append(&t->maps, mf)) {
			if (buf)
				munmap(buf, constant_size);
			err = &pyhs_enomem;
			goto out;
		}
		for (size_t i = 0; i < constant.size; i++) {
			constant.data[i].data = buf;
			buf += constant.data[i].end - constant.data[i].start;
		}
		err = copy_pieces(L, &constant, &constant_holes);
		if (err)
			goto out;
	}
	uint64_t to_copy = constant_size;
	for (size_t i = 0; i < before.size; i++) {
		if (classify(&before, i, L->page, &end) != COPY_PAUSED)
			continue;
		const struct live_map *m = &before.data[i];
		struct live_dest d = { m->start, map_anonymous(end - m->start),
				       end - m->start, false };
		if (!d.addr || !live_dest_vector_append(&dests, d)) {
			if (d.addr)
				munmap(d.addr, d.size);
			err = &pyhs_enomem;
			goto out;
		}
		runs.size = 0;
		if (zero_when_absent(m) && present_runs(L, m->start, end, &runs)) {
			for (size_t k = 0; k < runs.size; k++) {
				uint64_t n = runs.data[k].end - runs.data[k].start;
				populate(d.addr + (runs.data[k].start - m->start), n);
				to_copy += n;
			}
		} else {
			populate(d.addr, d.size);
			to_copy += d.size;
		}
		if (cancelled(L)) {
			err = cancelled_error(L->pid);
			goto out;
		}
	}
	if (t->opts.before_stop &&
	    (err = t->opts.before_stop(t->opts.before_stop_ctx, to_copy)))
		goto out;
	if (cancelled(L)) {
		err = cancelled_error(L->pid);
		goto out;
	}

	/* 2. Stopped (or, with no_stop, not). */
	if (!t->opts.no_stop && (err = stop_all(L)))
		goto resume;
	/* What we stopped is the process we looked at, not a new one that
	 * was given its pid. */
	char stat_path[64];
	uint64_t start_time = 0;
	snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", L->pid);
	if (read_stat(stat_path, NULL, &start_time) != 0 ||
	    start_time != t->start_time) {
		err = exited_error(L->pid);
		goto resume;
	}
	e = read_maps(L->mm_tid, &maps);
	if (e || maps.size == 0) {
		if (e == ENOMEM) {
			err = &pyhs_enomem;
		} else if (!e || e == ENOENT || e == ESRCH) {
			err = exited_error(L->pid);
		} else {
			err = pyhs_error_os(e, "cannot read /proc/%d/maps",
					    L->pid);
		}
		goto resume;
	}
	for (size_t i = 0; i < maps.size; i++) {
		enum copy_kind kind = classify(&maps, i, L->page, &end);
		const struct live_map *m = &maps.data[i];
		if (kind == COPY_NONE ||
		    (kind == COPY_CONSTANT && find_same(&before, m) != SIZE_MAX))
			continue; /* copied before the stop */
		uint64_t len = end - m->start;
		uint8_t *addr;
		struct live_dest *d = find_dest(&dests, m->start);
		if (d && d->size < len) {
			void *p = mremap(d->addr, d->size, len, MREMAP_MAYMOVE);
			if (p == MAP_FAILED) {
				err = &pyhs_enomem;
				goto resume;
			}
			d->addr = p;
			d->size = len;
		}
		if (d) {
			d->used = true;
			addr = d->addr;
		} else {
			struct live_dest nd = { m->start, map_anonymous(len),
						len, true };
			if (!nd.addr || !live_dest_vector_append(&new_dests, nd)) {
				if (nd.addr)
					munmap(nd.addr, len);
				err = &pyhs_enomem;
				goto resume;
			}
			addr = nd.addr;
		}
		struct live_placed pl = { i, m->start, end, addr };
		if (!live_placed_vector_append(&placed, pl)) {
			err = &pyhs_enomem;
			goto resume;
		}
		runs.size = 0;
		if (kind == COPY_PAUSED && zero_when_absent(m) &&
		    present_runs(L, m->start, end, &runs)) {
			for (size_t k = 0; k < runs.size && !err; k++) {
				struct live_piece p = {
					runs.data[k].start, runs.data[k].end,
					addr + (runs.data[k].start - m->start), i,
				};
				if (!live_piece_vector_append(&pieces, p))
					err = &pyhs_enomem;
			}
		} else {
			struct live_piece p = { m->start, end, addr, i };
			if (!live_piece_vector_append(&pieces, p))
				err = &pyhs_enomem;
		}
		if (err)
			goto resume;
	}
	err = copy_pieces(L, &pieces, &holes);
	t->capture_time = (uint64_t)time(NULL);
	if (!err && t->opts.no_stop)
		err = unstopped_threads(L, &maps);
	/* The threads, main thread first, and their registers (two
	 * system calls each) for a core of the capture. */
	for (size_t pass = 0; pass < 2 && !err; pass++) {
		for (size_t i = 0; i < L->threads.size && !err; i++) {
			const struct live_thread *th = &L->threads.data[i];
			if (th->gone || (th->tid == L->pid) != (pass == 0))
				continue;
			struct pyhs_thread_state ts = { .signal = th->sig };
			err = thread_registers(th->tid, &ts);
			if (!err && (!pyhs_int_vector_append(&t->tids, th->tid) ||
				     !pyhs_thread_state_vector_append(
					     &t->thread_states, ts)))
				err = &pyhs_enomem;
		}
	}

resume:
	if (resume_all(L) && !err) {
		err = exited_error(L->pid);
	}
	if (L->first_stop_ns)
		t->pause_ns = now_ns(CLOCK_MONOTONIC) - L->first_stop_ns;
	if (err)
		goto out;

	for (size_t i = 0; i < placed.size; i++) {
		const struct live_placed *pl = &placed.data[i];
		err = add_chunks(chunks, pl->start, pl->end, pl->data, &holes,
				 &unreadable);
		if (err)
			goto out;
		const char *path = maps.data[pl->map].path;
		if (unreadable)
			pyhs_target_warn(t,
					 "%llu bytes of the mapping 0x%llx-0x%llx%s%s could not be read",
					 (unsigned long long)unreadable,
					 (unsigned long long)pl->start,
					 (unsigned long long)pl->end,
					 path[0] ? " " : "", path);
	}
	/* Constant parts copied before the stop, of mappings that were
	 * still the same during it. */
	for (size_t i = 0; i < constant.size; i++) {
		const struct live_piece *p = &constant.data[i];
		if (find_same(&maps, &before.data[p->map]) == SIZE_MAX)
			continue;
		err = add_chunks(chunks, p->start, p->end, p->data,
				 &constant_holes, &unreadable);
		if (err)
			goto out;
	}
	*ret_maps = maps;
	live_map_vector_init(&maps);

out:
	/* Used destinations become the target's; the others go. */
	for (size_t pass = 0; pass < 2; pass++) {
		struct live_dest_vector *v = pass ? &new_dests : &dests;
		for (size_t i = 0; i < v->size; i++) {
			struct live_dest *d = &v->data[i];
			struct pyhs_mapped_file mf = { d->addr, d->size, false };
			if (d->used && !err &&
			    pyhs_mapped_file_vector_append(&t->maps, mf))
				continue;
			if (d->used && !err)
				err = &pyhs_enomem;
			munmap(d->addr, d->size);
		}
	}
	free_maps(&before);
	free_maps(&maps);
	live_piece_vector_deinit(&constant);
	live_piece_vector_deinit(&pieces);
	live_range_vector_deinit(&constant_holes);
	live_range_vector_deinit(&holes);
	live_range_vector_deinit(&runs);
	live_dest_vector_deinit(&dests);
	live_dest_vector_deinit(&new_dests);
	live_placed_vector_deinit(&placed);
	return err;
}

static int compare_segments(const void *a, const void *b)
{
	const struct pyhs_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Step 3: a target from the copy, as core.c makes one from a core. */
static struct pyhs_error *build(struct live *L,
				const struct live_map_vector *maps,
				const struct live_chunk_vector *chunks)
{
	struct pyhs_target *t = L->t;
	struct pyhs_error *err;
	if (!pyhs_segment_vector_reserve(&t->captured, chunks->size) ||
	    !pyhs_mapping_vector_reserve(&t->mappings, maps->size))
		return &pyhs_enomem;
	for (size_t i = 0; i < chunks->size; i++) {
		const struct live_chunk *c = &chunks->data[i];
		err = pyhs_memory_add(&t->mem, c->start, c->end - c->start,
				      c->data);
		if (err)
			return err;
		struct pyhs_segment seg = { c->start, c->end, c->data };
		pyhs_segment_vector_append(&t->captured, seg);
	}
	if (t->captured.size > 1)
		qsort(t->captured.data, t->captured.size, sizeof(*t->captured.data),
		      compare_segments);
	/* The mappings as they were during the stop, for a core. */
	for (size_t i = 0; i < maps->size; i++) {
		const struct live_map *m = &maps->data[i];
		struct pyhs_mapping pm = { m->start, m->end, m->offset, "",
					   strdup(m->path) };
		memcpy(pm.perms, m->perms, sizeof(pm.perms));
		if (!pm.path)
			return &pyhs_enomem;
		pyhs_mapping_vector_append(&t->mappings, pm);
	}
	for (size_t i = 0; i < maps->size; i++) {
		const struct live_map *m = &maps->data[i];
		if (is_pseudo_path(m->path))
			continue;
		err = pyhs_target_add_module_mapping(t, m->path, m->start,
						     m->end, m->offset == 0);
		if (err)
			return err;
	}
	for (size_t i = 0; i < t->modules.size; i++) {
		err = pyhs_module_load(t, &t->modules.data[i]);
		if (err)
			return err;
	}
	for (size_t i = 0; i < maps->size; i++) {
		const struct live_map *m = &maps->data[i];
		if (is_pseudo_path(m->path) || is_device_path(m->path))
			continue;
		err = pyhs_target_add_file_bytes(t, m->path, m->start, m->end,
						 m->offset);
		if (err)
			return err;
	}
	err = pyhs_target_find_executable(t);
	if (err)
		return err;
	if (!t->executable || !t->executable[0]) {
		char path[64], exe[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/%d/exe", L->pid);
		ssize_t n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			free(t->executable);
			t->executable = strdup(exe);
			if (!t->executable)
				return &pyhs_enomem;
		}
	}
	return NULL;
}

struct pyhs_error *pyhs_target_open_pid(int pid,
					const struct pyhs_open_options *opts,
					struct pyhs_target **ret)
{
	if (pid <= 0)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "%d is not a process id", pid);
	if (pid == getpid())
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "pid %d is this process itself: it cannot stop itself to be read",
					 pid);
	if (!pyhs_libelf_ready())
		return pyhs_error_create(PYHS_ERROR_OS, "libelf is unusable");

	char path[64];
	char state = 0;
	uint64_t start_time = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int e = read_stat(path, &state, &start_time);
	if (e)
		return proc_error(pid, e, "stat");
	int mm_tid = pid;
	if ((state == 'Z' || state == 'X') &&
	    (mm_tid = live_thread_of(pid)) == 0)
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "process %d has exited (a zombie waiting for its parent to reap it): there is nothing to read",
					 pid);
	char *status;
	e = read_proc(pid, "status", &status, NULL);
	if (e)
		return proc_error(pid, e, "status");
	long long tgid = status_field(status, "Tgid");
	long long tracer = status_field(status, "TracerPid");
	free(status);
	if (tgid > 0 && tgid != pid)
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "%d is a thread of process %lld: give the process id %lld",
					 pid, tgid, tgid);
	if (tgid == getpid())
		return pyhs_error_create(PYHS_ERROR_INVALID,
					 "pid %d is a thread of this process: it cannot stop itself to be read",
					 pid);
	if (tracer > 0 && !(opts && opts->no_stop))
		return permission_error(pid);

	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_create(opts, &t);
	if (err)
		return err;
	t->live = true;
	t->pid = pid;
	t->start_time = start_time;

	struct live L = {
		.t = t,
		.pid = pid,
		.mm_tid = mm_tid,
		.mem_fd = -1,
		.pagemap_fd = -1,
		.page = (size_t)sysconf(_SC_PAGESIZE),
		.cancel = t->opts.cancel,
	};
	live_thread_vector_init(&L.threads);
	struct live_map_vector maps;
	live_map_vector_init(&maps);
	struct live_chunk_vector chunks;
	live_chunk_vector_init(&chunks);

	err = read_cmdline(t, mm_tid);
	if (err)
		goto fail;
	err = read_auxv(t, pid, mm_tid);
	if (err)
		goto fail;
	read_process_facts(t, pid);
	choose_root(t, pid);
	/* Opening mem is the kernel's ptrace access check (Yama's too):
	 * what it refuses, PTRACE_SEIZE would. */
	snprintf(path, sizeof(path), "/proc/%d/mem", mm_tid);
	L.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (L.mem_fd < 0 && (errno == EACCES || errno == EPERM)) {
		err = permission_error(pid);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", mm_tid);
	L.pagemap_fd = open(path, O_RDONLY | O_CLOEXEC); /* -1: copy all */

	err = capture(&L, &maps, &chunks);
	if (err)
		goto fail;
	err = build(&L, &maps, &chunks);
	if (err)
		goto fail;
	err = t->opts.no_python ? NULL : pyhs_python_find(t);
	if (err)
		goto fail;
	free_maps(&maps);
	live_chunk_vector_deinit(&chunks);
	live_thread_vector_deinit(&L.threads);
	if (L.mem_fd >= 0)
		close(L.mem_fd);
	if (L.pagemap_fd >= 0)
		close(L.pagemap_fd);
	*ret = t;
	return NULL;

fail:
	free_maps(&maps);
	live_chunk_vector_deinit(&chunks);
	live_thread_vector_deinit(&L.threads);
	if (L.mem_fd >= 0)
		close(L.mem_fd);
	if (L.pagemap_fd >= 0)
		close(L.pagemap_fd);
	pyhs_target_destroy(t);
	return err;
}
