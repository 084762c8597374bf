/*
 * ELF core files of a target (formats.h's pyhs_gcore_write): what a live
 * capture copied, laid out as the Linux kernel lays out a core of an
 * x86-64 process, so that gdb, pyheapsnap and other readers of cores read
 * it.
 *
 *   ELF header      ET_CORE, EM_X86_64, ELFCLASS64, little-endian
 *   program headers PT_NOTE, then one PT_LOAD per mapping in address order:
 *                   p_flags from its permissions, p_memsz its size,
 *                   p_filesz the bytes written (0 for what the files named
 *                   by NT_FILE hold: code, read-only data; the first page
 *                   alone where only the ELF header was copied)
 *   notes ("CORE")  NT_PRPSINFO; per thread, main thread first,
 *                   NT_PRSTATUS (its id, signal, registers) and NT_PRFPREG;
 *                   NT_AUXV; NT_FILE (every mapping of a file: count, page
 *                   size, {start, end, page offset}..., names)
 *   memory          each PT_LOAD's bytes at a page-aligned offset; pages of
 *                   zeros are left as holes (a sparse file, as the kernel
 *                   writes it)
 *
 * More than 65534 program headers use the PN_XNUM extension: the count is
 * in sh_info of the one section header.
 *
 * The file is written beside its destination under a temporary name, with
 * mode 0600 (it holds the process's memory), synced, and renamed over the
 * destination; on any failure the destination is untouched.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "formats.h"
#include "reader.h"

#define PAGE 4096u

_Static_assert(sizeof(struct elf_prstatus) == 336, "x86-64 elf_prstatus");
_Static_assert(sizeof(struct elf_prpsinfo) == 136, "x86-64 elf_prpsinfo");
_Static_assert(sizeof(elf_gregset_t) == PYHS_REGS_SIZE, "x86-64 pr_reg");
_Static_assert(sizeof(elf_fpregset_t) == PYHS_FPREGS_SIZE, "x86-64 NT_PRFPREG");

/* A growing buffer for the notes. */
struct notes {
	uint8_t *data;
	size_t size, cap;
	bool failed;
};

static void notes_reserve(struct notes *n, size_t more)
{
	if (n->failed || n->cap - n->size >= more)
		return;
	size_t cap = n->cap ? n->cap : 4096;
	while (cap - n->size < more) {
		if (cap > SIZE_MAX / 2) {
			n->failed = true;
			return;
		}
		cap *= 2;
	}
	uint8_t *d = realloc(n->data, cap);
	if (!d) {
		n->failed = true;
		return;
	}
	n->data = d;
	n->cap = cap;
}

/* Appends a note of name "CORE": header, name and descriptor, each padded
 * to 4 bytes. desc NULL: desc_size zero bytes, to be filled by the caller
 * (returned). */
static uint8_t *note_add(struct notes *n, uint32_t type, const void *desc,
			 size_t desc_size)
{
	static const char name[8] = "CORE";
	size_t padded = (desc_size + 3) & ~(size_t)3;
	if (desc_size > UINT32_MAX) {
		n->failed = true;
		return NULL;
	}
	notes_reserve(n, sizeof(Elf64_Nhdr) + sizeof(name) + padded);
	if (n->failed)
		return NULL;
	Elf64_Nhdr h = { .n_namesz = 5, .n_descsz = (Elf64_Word)desc_size,
			 .n_type = type };
	uint8_t *p = n->data + n->size;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), name, sizeof(name));
	uint8_t *d = p + sizeof(h) + sizeof(name);
	memset(d, 0, padded);
	if (desc)
		memcpy(d, desc, desc_size);
	n->size += sizeof(h) + sizeof(name) + padded;
	return d;
}

static bool is_file_mapping(const struct pyhs_target_mapping *m)
{
	return m->path[0] == '/';
}

static struct pyhs_error *build_notes(const struct pyhs_target *t,
				      struct notes *n)
{
	struct pyhs_target_process proc;
	pyhs_target_process(t, &proc);

	/* NT_PRPSINFO */
	struct elf_prpsinfo ps;
	memset(&ps, 0, sizeof(ps));
	static const char states[] = "RSDTZW";
	const char *st = proc.state ? strchr(states, proc.state) : NULL;
	ps.pr_state = st ? (char)(st - states) : 0;
	ps.pr_sname = proc.state ? proc.state : 'R';
	ps.pr_zomb = proc.state == 'Z';
	ps.pr_nice = (char)proc.nice;
	ps.pr_flag = proc.flags;
	ps.pr_uid = proc.uid;
	ps.pr_gid = proc.gid;
	ps.pr_pid = proc.pid;
	ps.pr_ppid = proc.ppid;
	ps.pr_pgrp = proc.pgrp;
	ps.pr_sid = proc.sid;
	const char *fname = proc.comm;
	if (!fname[0]) {
		const char *exe = pyhs_target_executable(t);
		const char *slash = strrchr(exe, '/');
		fname = slash ? slash + 1 : exe;
	}
	/* NUL-terminated, cut short if need be (ps is zeroed). */
	const char *args = pyhs_target_cmdline(t);
	memcpy(ps.pr_fname, fname,
	       strnlen(fname, sizeof(ps.pr_fname) - 1));
	memcpy(ps.pr_psargs, args, strnlen(args, sizeof(ps.pr_psargs) - 1));
	note_add(n, NT_PRPSINFO, &ps, sizeof(ps));

	/* NT_PRSTATUS and NT_PRFPREG of each thread. */
	size_t nthreads = pyhs_target_nthreads(t);
	for (size_t i = 0; i < nthreads; i++) {
		struct pyhs_thread_registers r;
		if (!pyhs_target_thread_registers(t, i, &r))
			continue;
		struct elf_prstatus pr;
		memset(&pr, 0, sizeof(pr));
		pr.pr_info.si_signo = r.signal;
		pr.pr_cursig = (short)r.signal;
		pr.pr_pid = pyhs_target_thread_tid(t, i);
		pr.pr_ppid = proc.ppid;
		pr.pr_pgrp = proc.pgrp;
		pr.pr_sid = proc.sid;
		if (r.regs)
			memcpy(&pr.pr_reg, r.regs, sizeof(pr.pr_reg));
		pr.pr_fpvalid = r.fpregs != NULL;
		note_add(n, NT_PRSTATUS, &pr, sizeof(pr));
		if (r.fpregs)
			note_add(n, NT_PRFPREG, r.fpregs, PYHS_FPREGS_SIZE);
	}

	/* NT_AUXV */
	size_t auxv_size;
	const void *auxv = pyhs_target_auxv(t, &auxv_size);
	if (auxv && auxv_size)
		note_add(n, NT_AUXV, auxv, auxv_size);

	/* NT_FILE */
	size_t nmaps = pyhs_target_nmappings(t), count = 0, names = 0;
	struct pyhs_target_mapping m;
	for (size_t i = 0; i < nmaps; i++) {
		if (pyhs_target_mapping(t, i, &m) && is_file_mapping(&m)) {
			count++;
			names += strlen(m.path) + 1;
		}
	}
	if (count) {
		uint8_t *d = note_add(n, NT_FILE, NULL,
				      16 + count * 24 + names);
		if (!d)
			return &pyhs_enomem;
		uint64_t head[2] = { count, PAGE };
		memcpy(d, head, sizeof(head));
		uint8_t *e = d + 16, *s = d + 16 + count * 24;
		for (size_t i = 0; i < nmaps; i++) {
			if (!pyhs_target_mapping(t, i, &m) || !is_file_mapping(&m))
				continue;
			uint64_t entry[3] = { m.start, m.end, m.offset / PAGE };
			memcpy(e, entry, sizeof(entry));
			e += sizeof(entry);
			size_t len = strlen(m.path) + 1;
			memcpy(s, m.path, len);
			s += len;
		}
	}
	return n->failed ? &pyhs_enomem : NULL;
}

/* ---- writing ---- */

struct out {
	const char *path;
	int fd;
	const struct pyhs_atomic_file *af;
};

static struct pyhs_error *write_fail(const struct out *o, int e)
{
	return pyhs_error_os(e, "cannot write core '%s'", o->path);
}

static struct pyhs_error *pwrite_all(const struct out *o, const void *buf,
				     size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		struct pyhs_error *err = pyhs_atomic_check(o->af);
		if (err)
			return err;
		/* 64 MiB at a time: a cancellation waits for one at most. */
		size_t chunk = len < (1u << 26) ? len : (1u << 26);
		ssize_t r = pwrite(o->fd, p, chunk, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return write_fail(o, r < 0 ? errno : EIO);
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return NULL;
}

static bool page_is_zero(const uint8_t *p, size_t len)
{
	uint64_t first;
	if (len < sizeof(first)) {
		for (size_t i = 0; i < len; i++)
			if (p[i])
				return false;
		return true;
	}
	memcpy(&first, p, sizeof(first));
	return first == 0 && memcmp(p, p + sizeof(first),
				    len - sizeof(first)) == 0;
}

/* Writes len bytes at off, leaving pages (of the file) that hold only
 * zeros as holes. */
static struct pyhs_error *write_sparse(const struct out *o, const uint8_t *data,
				       uint64_t len, uint64_t off)
{
	uint64_t pos = 0, run = 0; /* run: start of the pending non-zero run */
	bool in_run = false;
	while (pos < len) {
		/* Up to the next page boundary of the file. */
		uint64_t n = PAGE - (off + pos) % PAGE;
		if (n > len - pos)
			n = len - pos;
		bool zero = page_is_zero(data + pos, (size_t)n);
		if (!zero && !in_run) {
			run = pos;
			in_run = true;
		} else if (zero && in_run) {
			struct pyhs_error *err = pwrite_all(o, data + run,
							    (size_t)(pos - run),
							    off + run);
			if (err)
				return err;
			in_run = false;
		}
		pos += n;
	}
	if (in_run)
		return pwrite_all(o, data + run, (size_t)(len - run), off + run);
	return NULL;
}

/* One PT_LOAD: a mapping and the captured segments within it. */
struct load {
	struct pyhs_target_mapping m;
	size_t first_seg, end_seg; /* segments [first_seg, end_seg) */
	uint64_t filesz;
	uint64_t offset;
};

static struct pyhs_error *write_to(const void *t, struct pyhs_output *out)
{
	return pyhs_gcore_write_output(t, out);
}

struct pyhs_error *pyhs_gcore_write(const struct pyhs_target *t,
				    const char *path)
{
	return pyhs_output_write_path(path, PYHS_OUTPUT_CORE, write_to, t);
}

struct pyhs_error *pyhs_gcore_write_output(const struct pyhs_target *t,
					   struct pyhs_output *output)
{
	struct pyhs_atomic_file *af;
	struct pyhs_error *err = pyhs_output_file(output, PYHS_OUTPUT_CORE, &af);
	if (err)
		return err;
	const char *path = af->path;
	struct out o = { .path = path, .fd = af->fd, .af = af };
	size_t nmaps = pyhs_target_nmappings(t);
	size_t nsegs = pyhs_target_nsegments(t);
	if (!nmaps)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "cannot write core '%s': the target keeps no mappings to write",
					 path);

	struct notes n = { 0 };
	struct load *loads = calloc(nmaps, sizeof(*loads));
	if (!loads) {
		err = &pyhs_enomem;
		goto out;
	}
	/* Which captured bytes each mapping holds: both lists are in
	 * address order. */
	size_t s = 0;
	for (size_t i = 0; i < nmaps; i++) {
		struct load *l = &loads[i];
		pyhs_target_mapping(t, i, &l->m);
		uint64_t start, slen;
		const void *data;
		while (s < nsegs && pyhs_target_segment(t, s, &start, &slen, &data) &&
		       start + slen <= l->m.start)
			s++;
		l->first_seg = l->end_seg = s;
		while (s < nsegs && pyhs_target_segment(t, s, &start, &slen, &data) &&
		       start < l->m.end) {
			if (start >= l->m.start && start + slen <= l->m.end &&
			    start + slen - l->m.start > l->filesz)
				l->filesz = start + slen - l->m.start;
			s++;
		}
		l->end_seg = s;
	}

	if ((err = build_notes(t, &n)))
		goto out;

	/* Layout: header, program headers, [section header], notes, memory. */
	size_t phnum = nmaps + 1;
	bool extnum = phnum >= PN_XNUM;
	uint64_t phoff = sizeof(Elf64_Ehdr);
	uint64_t shoff = phoff + (uint64_t)phnum * sizeof(Elf64_Phdr);
	uint64_t notes_off = shoff + (extnum ? sizeof(Elf64_Shdr) : 0);
	uint64_t off = (notes_off + n.size + PAGE - 1) / PAGE * PAGE;
	for (size_t i = 0; i < nmaps; i++) {
		loads[i].offset = off;
		off += (loads[i].filesz + PAGE - 1) / PAGE * PAGE;
	}
	/* It ends with the last byte of memory written (or the notes). */
	uint64_t file_size = notes_off + n.size;
	for (size_t i = 0; i < nmaps; i++)
		if (loads[i].filesz && loads[i].offset + loads[i].filesz > file_size)
			file_size = loads[i].offset + loads[i].filesz;


	size_t head_size = (size_t)notes_off;
	uint8_t *head = calloc(1, head_size);
	if (!head) {
		err = &pyhs_enomem;
		goto out;
	}
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE },
		.e_type = ET_CORE,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_phoff = phoff,
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = extnum ? PN_XNUM : (Elf64_Half)phnum,
	};
	if (extnum) {
		eh.e_shoff = shoff;
		eh.e_shentsize = sizeof(Elf64_Shdr);
		eh.e_shnum = 1;
		Elf64_Shdr sh = { .sh_type = SHT_NULL,
				  .sh_info = (Elf64_Word)phnum };
		memcpy(head + shoff, &sh, sizeof(sh));
	}
	memcpy(head, &eh, sizeof(eh));
	Elf64_Phdr ph = {
		.p_type = PT_NOTE,
		.p_offset = notes_off,
		.p_filesz = n.size,
		.p_align = 4,
	};
	memcpy(head + phoff, &ph, sizeof(ph));
	for (size_t i = 0; i < nmaps; i++) {
		const struct load *l = &loads[i];
		Elf64_Phdr lp = {
			.p_type = PT_LOAD,
			.p_flags = (l->m.perms[0] == 'r' ? PF_R : 0) |
				   (l->m.perms[1] == 'w' ? PF_W : 0) |
				   (l->m.perms[2] == 'x' ? PF_X : 0),
			.p_offset = l->offset,
			.p_vaddr = l->m.start,
			.p_filesz = l->filesz,
			.p_memsz = l->m.end - l->m.start,
			.p_align = PAGE,
		};
		memcpy(head + phoff + (i + 1) * sizeof(Elf64_Phdr), &lp,
		       sizeof(lp));
	}
	err = pwrite_all(&o, head, head_size, 0);
	free(head);
	if (!err)
		err = pwrite_all(&o, n.data, n.size, notes_off);
	for (size_t i = 0; i < nmaps && !err; i++) {
		const struct load *l = &loads[i];
		for (size_t k = l->first_seg; k < l->end_seg && !err; k++) {
			uint64_t start, slen;
			const void *data;
			pyhs_target_segment(t, k, &start, &slen, &data);
			if (start < l->m.start || start + slen > l->m.end)
				continue;
			err = write_sparse(&o, data, slen,
					   l->offset + (start - l->m.start));
		}
	}
	if (err)
		goto out;
	/* Holes at the end count too. */
	if (ftruncate(o.fd, (off_t)file_size) != 0) {
		err = write_fail(&o, errno);
		goto out;
	}
	err = pyhs_atomic_commit(af);
out:
	pyhs_atomic_abort(af); /* nothing left to do after a commit */
	free(n.data);
	free(loads);
	return err;
}
