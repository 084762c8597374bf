/*
 * A built heap's columns that the analyses read seldom or once in order
 * (addresses, types, sizes, refcounts, generations, flags, value texts),
 * and the offsets of each object's references, kept in an unlinked
 * temporary file on disk, mapped in place of the arrays they were: clean
 * or written-back pages the kernel may drop and read again, as Eclipse
 * MAT keeps its index files, where anonymous memory can only be swapped or
 * lost to the OOM killer. The references themselves stay in memory: the
 * dominators and every search go over them again and again. The
 * analyses' own arrays come from the memory given back. The objects'
 * columns go first, once the walk has found every object, so that the C
 * roots' count of each object's unexplained references is made in the
 * memory they leave; the rest once the heap is built.
 *
 * The mapping is private and writable: a heap is not changed once built,
 * and a page written all the same would be copied, not the file changed.
 * The value texts, written once in place, are laid out in the file
 * itself (a shared mapping of blocks allocated first): their bytes never
 * are anonymous memory, and are not written a second time. Nothing is
 * spilled when the file cannot be made or written, or would be in memory
 * itself (tmpfs): that costs memory, never the heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/tempfile.h"
#include "heap_internal.h"

/* Small enough that the pages one chunk gives back are those the next
 * chunk's file pages are made of (the system's per-CPU lists of free
 * pages): on a virtual machine, pages not touched for a while may have
 * gone back to the host, and writing 8 MiB chunks instead took up to ten
 * times as long. */
#define SPILL_CHUNK ((size_t)1 << 20)

/* The n bytes at data written to fd at off, or as many as *ret_done
 * says. Each chunk's pages are given back once written (whole pages
 * inside data only, which the array is freed after): the file's pages
 * come from the array's, not from fresh memory the system must find
 * first. */
static bool write_all(int fd, char *data, size_t n, uint64_t off, size_t page,
		      size_t *ret_done)
{
	size_t done = 0;
	while (done < n) {
		size_t k = n - done < SPILL_CHUNK ? n - done : SPILL_CHUNK;
		ssize_t w = pwrite(fd, data + done, k, (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*ret_done = done;
			return false;
		}
		uintptr_t from = ((uintptr_t)(data + done) + page - 1) / page * page;
		uintptr_t to = ((uintptr_t)(data + done) + (size_t)w) / page * page;
		if (to > from)
			(void)madvise((void *)from, to - from, MADV_DONTNEED); /* a hint */
		done += (size_t)w;
	}
	*ret_done = done;
	return true;
}

static bool read_all(int fd, char *data, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, data + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* Whether p is one of h's mappings. */
static bool spilled(const struct pyhs_heap *h, const void *p)
{
	for (size_t i = 0; p && i < h->spilled.size; i++)
		if (h->spilled.data[i].p == p)
			return true;
	return false;
}

/* *data's bytes written to f and *data the mapping of them, the array
 * freed; false and *data as it was if not, or with *ret_lost the errno
 * if its bytes could be neither written nor read back. */
static bool spill_array(struct pyhs_heap *h, struct pyhs_spill_file *f, void **data,
			size_t bytes, int *ret_lost)
{
	if (bytes < f->page || !*data || spilled(h, *data))
		return true; /* not worth a mapping, or one already */
	/* Past the largest file the process may write, the system would
	 * send SIGXFSZ, which ends it. */
	if (f->off + bytes > f->max_size)
		return false;
	/* The blocks first, so that a full disk fails before any page is
	 * given back; where that cannot be asked, what was written is read
	 * back if the rest cannot be. */
	int e = fallocate(f->fd, 0, (off_t)f->off, (off_t)bytes);
	if (e < 0 && errno != EOPNOTSUPP)
		return false;
	size_t done;
	if (!write_all(f->fd, *data, bytes, f->off, f->page, &done)) {
		if (!read_all(f->fd, *data, done, f->off))
			*ret_lost = errno ? errno : EIO;
		return false;
	}
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, f->fd, (off_t)f->off);
	if (p == MAP_FAILED) {
		if (!read_all(f->fd, *data, bytes, f->off))
			*ret_lost = errno ? errno : EIO;
		return false;
	}
	struct pyhs_spilled s = { p, bytes };
	if (!pyhs_spilled_vector_append(&h->spilled, s)) {
		memcpy(*data, p, bytes);
		munmap(p, bytes);
		return false;
	}
	free(*data);
	*data = p;
	f->off += (bytes + f->page - 1) / f->page * f->page;
	return true;
}

/* While ok, a column vector v: its data spilled, and then its capacity
 * its size (nothing is appended to a built heap); ok false once one is
 * not. */
#define SPILL(h, f, ok, lost, v) do {						\
	void *d_ = (v)->data;							\
	(ok) = (ok) && spill_array((h), (f), &d_, (v)->size * sizeof(*(v)->data), &(lost)); \
	if (d_ != (void *)(v)->data) {						\
		(v)->data = d_;							\
		(v)->capacity = (v)->size;					\
	}									\
} while (0)

static void spill_close(struct pyhs_heap *h)
{
	/* The mappings keep the file. */
	if (h->spill.open)
		close(h->spill.fd);
	h->spill.open = false;
}

uint64_t pyhs_heap_spillable_bytes(const struct pyhs_heap *h)
{
	return h->addr.size * 8 + h->type.size * 4 + h->size32.v.size * 4 +
	       h->refcnt32.v.size * 4 + h->refcnt8.size + h->gen.size + h->flags.size;
}

struct pyhs_error *pyhs_heap_spill_objects(struct pyhs_heap *h)
{
	const char *dir;
	int fd = pyhs_temp_open("heap", &dir);
	if (fd < 0)
		return NULL;
	if (pyhs_temp_in_memory(fd)) {
		close(fd);
		return NULL;
	}
	long page = sysconf(_SC_PAGESIZE);
	struct rlimit fsize;
	struct pyhs_spill_file *f = &h->spill;
	*f = (struct pyhs_spill_file){ .open = true, .fd = fd, .dir = dir,
				       .page = page > 0 ? (size_t)page : 4096,
				       .max_size = UINT64_MAX };
	if (!getrlimit(RLIMIT_FSIZE, &fsize) && fsize.rlim_cur != RLIM_INFINITY)
		f->max_size = (uint64_t)fsize.rlim_cur;
	bool ok = true;
	int lost = 0;
	SPILL(h, f, ok, lost, &h->addr);
	SPILL(h, f, ok, lost, &h->type);
	SPILL(h, f, ok, lost, &h->size32.v);
	SPILL(h, f, ok, lost, &h->gen);
	SPILL(h, f, ok, lost, &h->flags);
	if (!ok)
		spill_close(h); /* no room: the rest stay */
	if (lost)
		return pyhs_error_os(lost, "cannot read back the heap's columns from a temporary file in '%s'",
				     dir);
	return NULL;
}

void *pyhs_heap_spill_map(struct pyhs_heap *h, size_t bytes)
{
	struct pyhs_spill_file *f = &h->spill;
	if (!f->open || bytes < f->page || f->off + bytes > f->max_size)
		return NULL;
	/* Every block first: a page of a shared mapping the disk has no room
	 * for would be a SIGBUS when written, not an error. */
	if (fallocate(f->fd, 0, (off_t)f->off, (off_t)bytes) < 0)
		return NULL;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)f->off);
	if (p == MAP_FAILED)
		return NULL;
	struct pyhs_spilled s = { p, bytes };
	if (!pyhs_spilled_vector_append(&h->spilled, s)) {
		munmap(p, bytes);
		return NULL;
	}
	f->off += (bytes + f->page - 1) / f->page * f->page;
	return p;
}

struct pyhs_error *pyhs_heap_spill_values(struct pyhs_heap *h)
{
	struct pyhs_spill_file *f = &h->spill;
	if (!f->open)
		return NULL;
	bool ok = true;
	int lost = 0;
	SPILL(h, f, ok, lost, &h->refcnt32.v);
	SPILL(h, f, ok, lost, &h->refcnt8);
	SPILL(h, f, ok, lost, &h->edge_start);
	SPILL(h, f, ok, lost, &h->value_off);
	SPILL(h, f, ok, lost, &h->value_text);
	const char *dir = f->dir;
	spill_close(h);
	if (lost)
		return pyhs_error_os(lost, "cannot read back the heap's refcounts, edges or value texts from a temporary file in '%s'",
				     dir);
	return NULL;
}


/* Whether p is one of h's mappings: unmapped and forgotten if so. */
static bool unspill(struct pyhs_heap *h, void *p)
{
	for (size_t i = 0; p && i < h->spilled.size; i++) {
		if (h->spilled.data[i].p == p) {
			munmap(p, h->spilled.data[i].bytes);
			h->spilled.data[i].p = NULL;
			return true;
		}
	}
	return false;
}

#define UNSPILL(h, v) do {							\
	if (unspill((h), (v)->data)) {						\
		(v)->data = NULL;						\
		(v)->size = (v)->capacity = 0;					\
	}									\
} while (0)

void pyhs_heap_unspill(struct pyhs_heap *h)
{
	UNSPILL(h, &h->addr);
	UNSPILL(h, &h->type);
	UNSPILL(h, &h->size32.v);
	UNSPILL(h, &h->refcnt32.v);
	UNSPILL(h, &h->refcnt8);
	UNSPILL(h, &h->gen);
	UNSPILL(h, &h->flags);
	UNSPILL(h, &h->edge_start);
	UNSPILL(h, &h->value_off);
	UNSPILL(h, &h->value_text);
	pyhs_spilled_vector_deinit(&h->spilled);
	spill_close(h);
}
