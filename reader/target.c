/*
 * The target: the address space of a process (from a core or read live),
 * the files mapped into it, its threads and its warnings. Everything in
 * reader/ that reads bytes at addresses calls into this file; it calls
 * nothing above it (core.c and live.c fill targets, symbols.c and python.c
 * read them).
 */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"

void pyhs_target_warn(struct pyhs_target *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (!pyhs_string_vector_append(&t->warnings, msg))
		free(msg);
}

struct pyhs_error *pyhs_map_file(struct pyhs_target *t, const char *path,
				 const uint8_t **ret_data, size_t *ret_size)
{
	/* O_NONBLOCK: a FIFO or device named in a core must not block the
	 * open; anything but a regular file is refused below anyway. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pyhs_error_os_path(errno, "open", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return pyhs_error_os_path(e, "stat", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "'%s' is not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return pyhs_error_create(PYHS_ERROR_INPUT, "'%s' is empty",
					 path);
	}
	struct pyhs_error *err = pyhs_map_fd(t, fd, (size_t)st.st_size, path, ret_data);
	close(fd);
	if (err)
		return err;
	*ret_size = (size_t)st.st_size;
	return NULL;
}

struct pyhs_error *pyhs_map_fd(struct pyhs_target *t, int fd, size_t size,
			       const char *path, const uint8_t **ret)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return pyhs_error_os_path(errno, "map", path);
	struct pyhs_mapped_file mf = { p, size, true };
	if (!pyhs_mapped_file_vector_append(&t->maps, mf)) {
		munmap(p, size);
		return &pyhs_enomem;
	}
	*ret = p;
	return NULL;
}

static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;
static bool libelf_ok;

static void libelf_init(void)
{
	libelf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

bool pyhs_libelf_ready(void)
{
	pthread_once(&libelf_once, libelf_init);
	return libelf_ok;
}

struct pyhs_error *pyhs_target_create(const struct pyhs_open_options *opts,
				       struct pyhs_target **ret)
{
	struct pyhs_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &pyhs_enomem;
	pyhs_memory_init(&t->mem);
	pyhs_mapped_file_vector_init(&t->maps);
	pyhs_module_vector_init(&t->modules);
	pyhs_string_vector_init(&t->warnings);
	pyhs_int_vector_init(&t->tids);
	pyhs_mapping_vector_init(&t->mappings);
	pyhs_segment_vector_init(&t->captured);
	pyhs_thread_state_vector_init(&t->thread_states);
	if (opts)
		t->opts = *opts;
	t->runtime_module = SIZE_MAX;
	*ret = t;
	return NULL;
}

void pyhs_target_destroy(struct pyhs_target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->modules.size; i++) {
		struct pyhs_module *m = &t->modules.data[i];
		free(m->path);
		free(m->opened_path);
		free(m->debug_path);
		pyhs_symbol_map_deinit(&m->symbols);
	}
	pyhs_module_vector_deinit(&t->modules);
	for (size_t i = 0; i < t->maps.size; i++)
		munmap(t->maps.data[i].addr, t->maps.data[i].size);
	pyhs_mapped_file_vector_deinit(&t->maps);
	for (size_t i = 0; i < t->warnings.size; i++)
		free(t->warnings.data[i]);
	pyhs_string_vector_deinit(&t->warnings);
	pyhs_int_vector_deinit(&t->tids);
	for (size_t i = 0; i < t->mappings.size; i++)
		free(t->mappings.data[i].path);
	pyhs_mapping_vector_deinit(&t->mappings);
	pyhs_segment_vector_deinit(&t->captured);
	pyhs_thread_state_vector_deinit(&t->thread_states);
	free(t->auxv);
	pyhs_memory_deinit(&t->mem);
	free(t->executable);
	free(t->cmdline);
	free(t->py_build);
	free(t->dwarf_file);
	free(t);
}

/* ---- Shared with live.c: modules from a list of file mappings ---- */

struct pyhs_error *pyhs_target_add_module_mapping(struct pyhs_target *t,
						  const char *name,
						  uint64_t start, uint64_t end,
						  bool at_file_start)
{
	/* One module per path; gather its range. */
	struct pyhs_module *m = NULL;
	for (size_t j = 0; j < t->modules.size; j++) {
		if (strcmp(t->modules.data[j].path, name) == 0) {
			m = &t->modules.data[j];
			break;
		}
	}
	if (!m) {
		struct pyhs_module nm = { 0 };
		nm.path = strdup(name);
		if (!nm.path)
			return &pyhs_enomem;
		nm.start = start;
		nm.end = end;
		pyhs_symbol_map_init(&nm.symbols);
		if (!pyhs_module_vector_append(&t->modules, nm)) {
			free(nm.path);
			return &pyhs_enomem;
		}
		m = &t->modules.data[t->modules.size - 1];
	}
	if (start < m->start)
		m->start = start;
	if (end > m->end)
		m->end = end;
	if (at_file_start && !m->bias_known) {
		/* Where the ELF header is mapped; the bias follows once
		 * the file's first PT_LOAD is known. */
		m->bias = start;
	}
	return NULL;
}

struct pyhs_error *pyhs_target_add_file_bytes(struct pyhs_target *t,
					      const char *name, uint64_t start,
					      uint64_t end, uint64_t offset)
{
	for (size_t j = 0; j < t->modules.size; j++) {
		struct pyhs_module *m = &t->modules.data[j];
		if (strcmp(m->path, name) != 0 || !m->file)
			continue;
		if (offset >= m->file_size)
			break;
		uint64_t len = end - start;
		if (len > m->file_size - offset)
			len = m->file_size - offset;
		return pyhs_memory_add(&t->mem, start, len, m->file + offset);
	}
	return NULL;
}

/* ---- accessors ---- */

bool pyhs_target_read(const struct pyhs_target *t, uint64_t addr, void *buf,
		      size_t len)
{
	return pyhs_memory_read(&t->mem, addr, buf, len);
}

const void *pyhs_target_ptr(const struct pyhs_target *t, uint64_t addr,
			    size_t len)
{
	return pyhs_memory_ptr(&t->mem, addr, len);
}

void pyhs_target_release_pages(const struct pyhs_target *t)
{
	/* Only the read-only, private mappings of files, never dirty, so
	 * dropping their pages loses nothing (anonymous copies would be lost).
	 * A failure only keeps them resident. */
	for (size_t i = 0; i < t->maps.size; i++)
		if (t->maps.data[i].file)
			(void)madvise(t->maps.data[i].addr, t->maps.data[i].size,
				      MADV_DONTNEED);
}

uint64_t pyhs_target_memory_bytes(const struct pyhs_target *t)
{
	uint64_t n = 0;
	for (size_t i = 0; i < t->mem.segments.size; i++)
		n += t->mem.segments.data[i].end - t->mem.segments.data[i].start;
	return n;
}

int pyhs_target_pid(const struct pyhs_target *t) { return t->pid; }
const char *pyhs_target_executable(const struct pyhs_target *t)
{
	return t->executable ? t->executable : "";
}
const char *pyhs_target_cmdline(const struct pyhs_target *t)
{
	return t->cmdline ? t->cmdline : "";
}
size_t pyhs_target_nthreads(const struct pyhs_target *t) { return t->tids.size; }
int pyhs_target_thread_tid(const struct pyhs_target *t, size_t i)
{
	return i < t->tids.size ? t->tids.data[i] : 0;
}
int pyhs_target_signal(const struct pyhs_target *t) { return t->signal; }
const char *pyhs_target_source(const struct pyhs_target *t)
{
	return t->live ? "pid" : "core";
}
uint64_t pyhs_target_pause_ns(const struct pyhs_target *t) { return t->pause_ns; }
bool pyhs_target_unstopped(const struct pyhs_target *t) { return t->unstopped; }
uint64_t pyhs_target_capture_time(const struct pyhs_target *t)
{
	return t->capture_time;
}
uint64_t pyhs_target_start_time(const struct pyhs_target *t)
{
	return t->start_time;
}
uint32_t pyhs_target_py_version(const struct pyhs_target *t) { return t->py_version; }
const char *pyhs_target_py_build(const struct pyhs_target *t)
{
	return t->py_build ? t->py_build : "";
}
const char *pyhs_target_py_library(const struct pyhs_target *t)
{
	return t->runtime_module < t->modules.size ?
		       t->modules.data[t->runtime_module].path : "";
}
uint64_t pyhs_target_runtime(const struct pyhs_target *t) { return t->runtime; }
const struct pyhs_layout *pyhs_target_layout(const struct pyhs_target *t)
{
	return &t->layout;
}
enum pyhs_layout_source pyhs_target_layout_source(const struct pyhs_target *t)
{
	return t->layout_source;
}
const char *pyhs_target_debug_file(const struct pyhs_target *t)
{
	return t->dwarf_file;
}
size_t pyhs_target_nwarnings(const struct pyhs_target *t) { return t->warnings.size; }
const char *pyhs_target_warning(const struct pyhs_target *t, size_t i)
{
	return i < t->warnings.size ? t->warnings.data[i] : "";
}

size_t pyhs_target_nmappings(const struct pyhs_target *t)
{
	return t->mappings.size;
}

bool pyhs_target_mapping(const struct pyhs_target *t, size_t i,
			 struct pyhs_target_mapping *ret)
{
	if (i >= t->mappings.size)
		return false;
	const struct pyhs_mapping *m = &t->mappings.data[i];
	ret->start = m->start;
	ret->end = m->end;
	ret->offset = m->offset;
	memcpy(ret->perms, m->perms, sizeof(ret->perms));
	ret->path = m->path;
	return true;
}

size_t pyhs_target_nsegments(const struct pyhs_target *t)
{
	return t->captured.size;
}

bool pyhs_target_segment(const struct pyhs_target *t, size_t i,
			 uint64_t *start, uint64_t *len, const void **data)
{
	if (i >= t->captured.size)
		return false;
	const struct pyhs_segment *s = &t->captured.data[i];
	*start = s->start;
	*len = s->end - s->start;
	*data = s->data;
	return true;
}

bool pyhs_target_thread_registers(const struct pyhs_target *t, size_t i,
				  struct pyhs_thread_registers *ret)
{
	if (i >= t->tids.size)
		return false;
	ret->regs = NULL;
	ret->fpregs = NULL;
	ret->signal = 0;
	if (i < t->thread_states.size) {
		const struct pyhs_thread_state *ts = &t->thread_states.data[i];
		if (ts->has_regs)
			ret->regs = ts->regs;
		if (ts->has_fpregs)
			ret->fpregs = ts->fpregs;
		ret->signal = ts->signal;
	}
	return true;
}

const void *pyhs_target_auxv(const struct pyhs_target *t, size_t *size)
{
	*size = t->auxv ? t->auxv_size : 0;
	return t->auxv;
}

void pyhs_target_process(const struct pyhs_target *t,
			 struct pyhs_target_process *ret)
{
	*ret = t->process;
	if (!ret->pid)
		ret->pid = t->pid;
}
